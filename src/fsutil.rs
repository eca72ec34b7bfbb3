//! Small file-system helpers shared by writers: temporary files that cannot be hijacked,
//! atomic replace of a file's content, the clean-up of temporaries a killed run left, and
//! opening only regular files for reading. No knowledge of formats; std and `tempfile` only.

use std::io::Write;
use std::path::{Path, PathBuf};

/// Every temporary file a writer makes starts with this (after an optional dot), then the
/// writing process's id, a dash and random characters: `twinplan-partial-<pid>-<random>`.
pub const PARTIAL_PREFIX: &str = "twinplan-partial-";

/// The folder a file is written in (`.` for a bare name).
pub fn folder_of(path: &Path) -> &Path {
    path.parent()
        .filter(|p| !p.as_os_str().is_empty())
        .unwrap_or(Path::new("."))
}

/// A new, empty temporary file in `dir`, created exclusively (`O_EXCL`: never through a
/// link planted at its name) under a random name that ends in `suffix`; removed when
/// dropped unless persisted. Temporaries of killed runs in `dir` are removed first.
pub fn partial_file(
    dir: &Path,
    hidden: bool,
    suffix: &str,
) -> std::io::Result<tempfile::NamedTempFile> {
    remove_stale_partials(dir);
    let prefix = format!(
        "{}{PARTIAL_PREFIX}{}-",
        if hidden { "." } else { "" },
        std::process::id()
    );
    tempfile::Builder::new()
        .prefix(&prefix)
        .suffix(suffix)
        .rand_bytes(12)
        .tempfile_in(dir)
}

/// Moves a finished temporary file (synced first) to `path` and syncs the folder, so
/// readers — and the disk after a crash — see either the old content or the new.
pub fn persist(tmp: tempfile::NamedTempFile, path: &Path) -> std::io::Result<()> {
    tmp.as_file().sync_all()?;
    tmp.persist(path).map_err(|e| e.error)?;
    // The rename itself reaches the disk with the folder's entry (where the platform
    // lets a folder be opened and synced; elsewhere the rename is still atomic).
    if let Ok(d) = std::fs::File::open(folder_of(path)) {
        let _ = d.sync_all();
    }
    Ok(())
}

/// Writes `bytes` to `path` through a temporary file in the same folder, then renames it
/// into place ([`persist`]). On any error the temporary is removed and `path` is unchanged.
pub fn write_atomic(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    let mut tmp = partial_file(folder_of(path), true, ".partial")?;
    tmp.write_all(bytes)?;
    tmp.flush()?;
    persist(tmp, path)
}

/// Removes the temporaries that writers killed before they finished left in `dir`: regular
/// files named after [`PARTIAL_PREFIX`] whose process no longer runs. Links and other
/// processes' live temporaries are left alone; errors are ignored (best effort).
pub fn remove_stale_partials(dir: &Path) {
    // Once per folder and process: a series export writes hundreds of files into one
    // folder, and listing it before each would be quadratic work for nothing new.
    static SWEPT: std::sync::Mutex<Vec<PathBuf>> = std::sync::Mutex::new(Vec::new());
    if let Ok(mut swept) = SWEPT.lock() {
        if swept.iter().any(|d| d == dir) {
            return;
        }
        swept.push(dir.to_path_buf());
    }
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    for entry in entries.flatten() {
        let name = entry.file_name();
        let Some(name) = name.to_str() else { continue };
        let Some(rest) = name
            .strip_prefix('.')
            .unwrap_or(name)
            .strip_prefix(PARTIAL_PREFIX)
        else {
            continue;
        };
        let Some(pid) = rest.split('-').next().and_then(|p| p.parse::<u32>().ok()) else {
            continue;
        };
        if pid == std::process::id() || process_alive(pid) {
            continue;
        }
        let is_file = entry
            .file_type()
            .map(|t| t.is_file() && !t.is_symlink())
            .unwrap_or(false);
        if is_file {
            let _ = std::fs::remove_file(entry.path());
        }
    }
}

/// Flushes the file system holding `dir` (Linux: `syncfs`, one call for many files just
/// written; elsewhere the folder itself). Best effort.
pub fn sync_file_system(dir: &Path) {
    let Ok(d) = std::fs::File::open(dir) else {
        return;
    };
    #[cfg(target_os = "linux")]
    {
        use std::os::fd::AsRawFd;
        // SAFETY: syncfs takes an open descriptor and touches no memory of ours.
        unsafe {
            libc::syncfs(d.as_raw_fd());
        }
    }
    let _ = d.sync_all();
}

/// Whether the process `pid` still runs (unknown platforms: always yes).
#[cfg(unix)]
pub fn process_alive(pid: u32) -> bool {
    let Ok(pid) = libc::pid_t::try_from(pid) else {
        return true;
    };
    // SAFETY: signal 0 sends nothing; it only asks whether the process exists.
    let r = unsafe { libc::kill(pid, 0) };
    r == 0 || std::io::Error::last_os_error().raw_os_error() == Some(libc::EPERM)
}

#[cfg(not(unix))]
pub fn process_alive(_pid: u32) -> bool {
    true // unknown: never remove another run's file
}

/// Why a path given to read is refused before it is opened.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum NotAFile {
    #[error("not a regular file (a FIFO, device or socket would block or never end): {0}")]
    Special(PathBuf),
    #[error("is a folder, not a file: {0}")]
    Folder(PathBuf),
    #[error("cannot read ({1}): {0}")]
    Io(PathBuf, String),
    #[error("larger ({size} bytes) than {what} may be ({limit} bytes): {path}")]
    TooLarge {
        path: PathBuf,
        what: &'static str,
        size: u64,
        limit: u64,
    },
}

/// Checks that `path` is a regular file (after links) of at most `limit` bytes, before
/// anything opens it: opening a FIFO blocks, and `/dev/zero` never ends.
pub fn regular_file(path: &Path, what: &'static str, limit: u64) -> Result<u64, NotAFile> {
    let meta = std::fs::metadata(path)
        .map_err(|e| NotAFile::Io(path.to_path_buf(), e.kind().to_string()))?;
    if meta.is_dir() {
        return Err(NotAFile::Folder(path.to_path_buf()));
    }
    if !meta.is_file() {
        return Err(NotAFile::Special(path.to_path_buf()));
    }
    if meta.len() > limit {
        return Err(NotAFile::TooLarge {
            path: path.to_path_buf(),
            what,
            size: meta.len(),
            limit,
        });
    }
    Ok(meta.len())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn replaces_content_and_leaves_no_temp() {
        let dir = tempfile::tempdir().expect("tempdir");
        let p = dir.path().join("plan.json");
        write_atomic(&p, b"one").expect("write");
        write_atomic(&p, b"two").expect("write");
        assert_eq!(std::fs::read(&p).expect("read"), b"two");
        assert_eq!(std::fs::read_dir(dir.path()).expect("ls").count(), 1);
    }

    #[cfg(unix)]
    #[test]
    fn a_killed_runs_temporary_is_removed_and_a_planted_link_is_not_followed() {
        let dir = tempfile::tempdir().expect("tempdir");
        // A dead process's partial file (pid 1 is alive; use one that cannot be a process).
        let stale = dir
            .path()
            .join(format!(".{PARTIAL_PREFIX}4194305-abcdef.partial"));
        std::fs::write(&stale, b"left by kill -9").expect("write");
        // A live process's (our parent test runner's pid 1: init) is kept.
        let live = dir.path().join(format!("{PARTIAL_PREFIX}1-abcdef.nii"));
        std::fs::write(&live, b"live").expect("write");
        // A link planted under a stale-looking name is not followed, only left.
        let target = dir.path().join("target.txt");
        std::fs::write(&target, b"precious").expect("write");
        let link = dir
            .path()
            .join(format!(".{PARTIAL_PREFIX}4194306-xyz.partial"));
        std::os::unix::fs::symlink(&target, &link).expect("link");
        write_atomic(&dir.path().join("plan.json"), b"new").expect("write");
        assert!(!stale.exists(), "stale temporary removed");
        assert!(live.exists(), "a live process's temporary kept");
        assert_eq!(std::fs::read(&target).expect("read"), b"precious");
        assert!(
            link.symlink_metadata().is_ok(),
            "the link itself left alone"
        );
    }

    #[cfg(unix)]
    #[test]
    fn special_files_and_folders_are_refused_before_opening() {
        let dir = tempfile::tempdir().expect("tempdir");
        let fifo = dir.path().join("plan.twinplan.json");
        let c = std::ffi::CString::new(fifo.to_string_lossy().as_bytes()).expect("path");
        // SAFETY: a valid NUL-terminated path.
        assert_eq!(unsafe { libc::mkfifo(c.as_ptr(), 0o600) }, 0);
        assert!(matches!(
            regular_file(&fifo, "a plan", 10),
            Err(NotAFile::Special(_))
        ));
        assert!(matches!(
            regular_file(Path::new("/dev/zero"), "a plan", 10),
            Err(NotAFile::Special(_))
        ));
        assert!(matches!(
            regular_file(dir.path(), "a plan", 10),
            Err(NotAFile::Folder(_))
        ));
        let big = dir.path().join("big");
        std::fs::write(&big, [0u8; 11]).expect("write");
        assert!(matches!(
            regular_file(&big, "a plan", 10),
            Err(NotAFile::TooLarge { size: 11, .. })
        ));
        assert_eq!(regular_file(&big, "a plan", 11), Ok(11));
    }
}
