//! The recovery copy of a plan with unsaved edits: the viewer writes it (atomically) every
//! 60 s and at every tenth edit while there are unsaved edits, and removes it when the plan
//! is saved or the window closes normally. One found at the next start therefore means the
//! last session ended without either (a crash, a kill, a power cut), and the viewer offers
//! it back with the study it belongs to. The copy holds the plan file as `plan::file`
//! writes it (no patient name, ID or birth date) and the study's path, kept as locally as
//! the recent-studies list. Bevy-free.

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use super::file::PlanFile;
use crate::fsutil::write_atomic;

const FILE: &str = "recovery.twinplan-recovery.json";
const SCHEMA: &str = "twinplan-recovery";

/// Autosave period while there are unsaved edits.
pub const EVERY_S: f64 = 60.0;
/// Autosave after this many edits since the last copy.
pub const EVERY_EDITS: usize = 10;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Recovery {
    pub schema: String,
    /// The study (folder or file) that was open.
    pub study: PathBuf,
    /// When the copy was written, seconds since 1970 (UTC).
    pub written_unix_s: u64,
    /// Where the plan was last saved, if it ever was.
    #[serde(default)]
    pub saved_as: Option<PathBuf>,
    pub plan: PlanFile,
}

impl Recovery {
    pub fn new(study: &Path, saved_as: Option<&Path>, plan: PlanFile) -> Recovery {
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_secs());
        Recovery {
            schema: SCHEMA.into(),
            study: study.to_path_buf(),
            written_unix_s: now,
            saved_as: saved_as.map(Path::to_path_buf),
            plan,
        }
    }
}

pub fn path_in(dir: &Path) -> PathBuf {
    dir.join(FILE)
}

/// Writes the recovery copy into `dir` (created if needed).
pub fn write(dir: &Path, r: &Recovery) -> std::io::Result<()> {
    std::fs::create_dir_all(dir)?;
    let bytes = serde_json::to_vec(r).map_err(std::io::Error::other)?;
    write_atomic(&path_in(dir), &bytes)
}

/// The recovery copy in `dir`: None when there is none; an error (the file is left for the
/// user to look at) when it cannot be read.
pub fn read(dir: &Path) -> Option<Result<Recovery, String>> {
    let path = path_in(dir);
    let bytes = match std::fs::read(&path) {
        Ok(b) => b,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return None,
        Err(e) => return Some(Err(format!("{}: {}", path.display(), e.kind()))),
    };
    Some(
        serde_json::from_slice::<Recovery>(&bytes)
            .map_err(|e| format!("{} is damaged: {e}", path.display()))
            .and_then(|r| {
                if r.schema == SCHEMA {
                    Ok(r)
                } else {
                    Err(format!(
                        "{} is not a twinplan recovery file",
                        path.display()
                    ))
                }
            }),
    )
}

/// Removes the recovery copy (the plan was saved, or the session ended normally).
pub fn clear(dir: &Path) {
    let _ = std::fs::remove_file(path_in(dir));
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::document::Command;
    use crate::plan::file::{GeometryFingerprint, Reference};
    use crate::plan::{Markup, MarkupKind, Plan};

    #[test]
    fn a_recovery_copy_round_trips_and_is_gone_once_cleared() {
        let dir = tempfile::tempdir().expect("tempdir");
        assert!(read(dir.path()).is_none());
        let mut plan = Plan::default();
        let id = plan.new_id();
        plan.apply(Command::AddMarkup(Markup {
            id,
            name: "D-1".into(),
            kind: MarkupKind::Distance,
            points_lps_mm: vec![[0.0; 3], [1.0, 2.0, 3.0]],
            colour: [1.0, 0.85, 0.2],
            visible: true,
            locked: false,
            note: String::new(),
        }))
        .expect("adds");
        let reference = Reference {
            study_uid: None,
            series_uid: Some("1.2.3".into()),
            frame_of_reference_uid: None,
            geometry: GeometryFingerprint {
                dims: [2, 3, 4],
                spacing_mm: [1.0; 3],
                origin_lps_mm: [0.0; 3],
                direction: [[1.0, 0.0, 0.0], [0.0, 1.0, 0.0], [0.0, 0.0, 1.0]],
            },
        };
        let r = Recovery::new(
            Path::new("/data/case"),
            None,
            PlanFile::new(reference, plan),
        );
        write(&dir.path().join("sub"), &r).expect("writes");
        assert_eq!(read(&dir.path().join("sub")), Some(Ok(r)));
        clear(&dir.path().join("sub"));
        assert!(read(&dir.path().join("sub")).is_none());
        std::fs::write(path_in(dir.path()), b"{\"schema\":").expect("writes");
        assert!(matches!(read(dir.path()), Some(Err(_))));
    }
}
