//! Encrypted case packages (`CASE.twinplan`): a case's plan, its surfaces and optionally its
//! de-identified images, with the sender's purpose-of-use and consent statement, in one
//! file encrypted with age (a passphrase through scrypt, or recipients' X25519 public
//! keys). Inside the encryption is a tar archive: `manifest.json` first (format, tool,
//! time, the statement, and every file's name, size and SHA-256), then the files in the
//! manifest's order. Reading checks everything before anything is kept: age authenticates
//! every 64 KiB chunk and the end of the stream (a changed byte, a cut file or a wrong
//! key is refused), each file must be the manifest's next one with its size and digest,
//! and names are plain relative paths under `plan`, `surfaces/` or `images/` (nothing
//! can be written outside the output folder). [`unpack`] writes into a temporary folder
//! beside the output and renames it into place only when the whole package held, so a
//! refused package writes nothing. What goes into a case is [`case`]. No viewer, no
//! printing; depends on `fsutil` and `audit::installation` (the time) only.

use std::io::{BufReader, Read, Write};
use std::path::{Path, PathBuf};

use age::secrecy::SecretString;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

pub mod case;

/// The package's file extension.
pub const EXTENSION: &str = "twinplan";
/// The plan's name inside a package.
pub const PLAN: &str = "plan.twinplan.json";
const MANIFEST: &str = "manifest.json";
const FORMAT: &str = "twinplan-case-package";
const VERSION: u32 = 1;
/// What a manifest may declare: a hostile package cannot make us hold more than this.
const MAX_MANIFEST_BYTES: u64 = 16 << 20;
const MAX_FILE_BYTES: u64 = 4 << 30;
const MAX_FILES: usize = 200_000;
/// The largest package file read (a regular file; a FIFO or device is refused).
const MAX_PACKAGE_BYTES: u64 = 1 << 40;

/// Why the case is shared.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Purpose {
    Teaching,
    SecondOpinion,
    Rehearsal,
}

impl Purpose {
    pub const ALL: [Purpose; 3] = [
        Purpose::Teaching,
        Purpose::SecondOpinion,
        Purpose::Rehearsal,
    ];

    pub fn name(self) -> &'static str {
        match self {
            Purpose::Teaching => "teaching",
            Purpose::SecondOpinion => "second opinion",
            Purpose::Rehearsal => "rehearsal",
        }
    }

    /// Parses `teaching`, `second-opinion` (or `second_opinion`, `second opinion`),
    /// `rehearsal`.
    pub fn parse(s: &str) -> Option<Purpose> {
        let s = s.trim().to_ascii_lowercase().replace(['-', '_'], " ");
        Purpose::ALL.into_iter().find(|p| p.name() == s)
    }
}

/// The sender's statement: why the case is shared and whether the patient consented.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Consent {
    pub purpose: Purpose,
    /// Whether the patient's consent to this use was obtained.
    pub consent_obtained: bool,
    /// Who obtained it, or who decided none was needed (a clinician, not the patient).
    pub recorded_by: String,
    /// Anything else the receiver must know (an ethics approval number…).
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub note: String,
}

impl Consent {
    /// Whether the statement can be shipped: someone named, short plain text.
    pub fn check(&self) -> Result<(), String> {
        let plain = |s: &str| !s.chars().any(|c| c.is_control() && c != '\n');
        if self.recorded_by.trim().is_empty() {
            return Err("the consent statement must say who recorded it".into());
        }
        if self.recorded_by.chars().count() > 200 || self.note.chars().count() > 4000 {
            return Err(
                "the consent statement is too long (200 characters for who, 4000 for the note)"
                    .into(),
            );
        }
        if !plain(&self.recorded_by) || !plain(&self.note) {
            return Err("the consent statement holds control characters".into());
        }
        Ok(())
    }

    /// The statement as shown before a package opens.
    pub fn statement(&self) -> String {
        let mut s = format!(
            "Purpose of use: {}\nPatient consent obtained: {}\nRecorded by: {}",
            self.purpose.name(),
            if self.consent_obtained { "yes" } else { "NO" },
            self.recorded_by.trim()
        );
        if !self.note.trim().is_empty() {
            s.push_str("\nNote: ");
            s.push_str(self.note.trim());
        }
        s
    }
}

/// One file of a package.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FileEntry {
    pub name: String,
    pub bytes: u64,
    pub sha256: String,
}

/// What a package declares about itself (the first entry, inside the encryption).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Manifest {
    pub format: String,
    pub version: u32,
    /// The tool that made it.
    pub tool: String,
    /// When it was made (UTC).
    pub created: String,
    pub consent: Consent,
    pub files: Vec<FileEntry>,
}

impl Manifest {
    /// The number of images (de-identified DICOM files) it carries.
    pub fn images(&self) -> usize {
        self.files
            .iter()
            .filter(|f| f.name.starts_with("images/"))
            .count()
    }

    /// The number of surfaces it carries.
    pub fn surfaces(&self) -> usize {
        self.files
            .iter()
            .filter(|f| f.name.starts_with("surfaces/"))
            .count()
    }

    /// Whether it carries a plan.
    pub fn has_plan(&self) -> bool {
        self.files.iter().any(|f| f.name == PLAN)
    }

    /// What the audit trail records of it, free of identity: purpose, consent, counts.
    pub fn audit_detail(&self) -> String {
        format!(
            "purpose {}, consent {}, {} surface(s), {} image(s)",
            self.consent.purpose.name(),
            if self.consent.consent_obtained {
                "yes"
            } else {
                "no"
            },
            self.surfaces(),
            self.images()
        )
    }
}

/// Who may open a package.
pub enum Lock {
    /// Anyone with this passphrase (scrypt, tuned to about a second on this machine, or
    /// to `2^work_factor` when given).
    Passphrase {
        passphrase: SecretString,
        work_factor: Option<u8>,
    },
    /// The holders of these X25519 identities (`age1…` public keys).
    Recipients(Vec<age::x25519::Recipient>),
}

/// What opens a package.
pub enum Key {
    Passphrase(SecretString),
    Identities(Vec<age::x25519::Identity>),
}

/// Why a package was not written or not opened.
#[derive(Debug, thiserror::Error)]
pub enum PackageError {
    #[error(
        "wrong passphrase (or the package's header was changed): it did not open, nothing was written"
    )]
    WrongPassphrase,
    #[error(
        "none of the given keys opens this package (it was sealed for other recipients), nothing was written"
    )]
    NotForTheseKeys,
    #[error("this package is sealed with a passphrase: give the passphrase, not a key file")]
    NeedsPassphrase,
    #[error("this package is sealed for recipients' keys: give an identity file, not a passphrase")]
    NeedsIdentity,
    #[error("not a twinplan case package (not an age-encrypted file)")]
    NotAPackage,
    #[error("the package is damaged or was changed ({0}); nothing was written")]
    Damaged(String),
    #[error(
        "the package's passphrase needs more work than this machine allows (2^{required} against 2^{allowed})"
    )]
    TooCostly { required: u8, allowed: u8 },
    #[error("{0}")]
    Invalid(String),
    #[error("{what}: {kind}")]
    Io {
        what: String,
        kind: std::io::ErrorKind,
    },
}

fn io(what: impl Into<String>) -> impl FnOnce(std::io::Error) -> PackageError {
    let what = what.into();
    move |e| PackageError::Io {
        what,
        kind: e.kind(),
    }
}

/// A name a package may hold: `plan.twinplan.json`, or `surfaces/NAME` / `images/NAME`
/// with NAME of letters, digits, `.`, `-`, `_` (not starting with a dot).
pub fn valid_name(name: &str) -> bool {
    let plain = |s: &str| {
        !s.is_empty()
            && s.len() <= 128
            && !s.starts_with('.')
            && s.bytes()
                .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'-' | b'_'))
    };
    match name.split_once('/') {
        None => name == PLAN,
        Some((dir, file)) => matches!(dir, "surfaces" | "images") && plain(file),
    }
}

fn sha256_hex(bytes: &[u8]) -> String {
    crate::audit::installation::hex(&Sha256::digest(bytes))
}

/// Seals `files` (name → bytes; names as [`valid_name`]) with the statement into `out`,
/// atomically (a temporary file beside it, renamed into place when whole).
pub fn seal(
    out: &Path,
    consent: &Consent,
    files: &[(String, Vec<u8>)],
    lock: &Lock,
) -> Result<Manifest, PackageError> {
    consent.check().map_err(PackageError::Invalid)?;
    if let Some((bad, _)) = files.iter().find(|(n, _)| !valid_name(n)) {
        return Err(PackageError::Invalid(format!(
            "a package cannot hold a file named {bad:?}"
        )));
    }
    let mut seen = std::collections::HashSet::new();
    if let Some((twice, _)) = files.iter().find(|(n, _)| !seen.insert(n.as_str())) {
        return Err(PackageError::Invalid(format!("{twice} is given twice")));
    }
    let manifest = Manifest {
        format: FORMAT.into(),
        version: VERSION,
        tool: format!("twinplan {}", env!("CARGO_PKG_VERSION")),
        created: crate::audit::installation::utc_now(),
        consent: consent.clone(),
        files: files
            .iter()
            .map(|(name, bytes)| FileEntry {
                name: name.clone(),
                bytes: bytes.len() as u64,
                sha256: sha256_hex(bytes),
            })
            .collect(),
    };
    let manifest_bytes = serde_json::to_vec_pretty(&manifest)
        .map_err(|e| PackageError::Invalid(format!("manifest: {e}")))?;
    let encryptor = match lock {
        Lock::Passphrase {
            passphrase,
            work_factor,
        } => {
            let mut r = age::scrypt::Recipient::new(passphrase.clone());
            if let Some(n) = work_factor {
                r.set_work_factor((*n).clamp(1, 40));
            }
            age::Encryptor::with_recipients(std::iter::once(&r as &dyn age::Recipient))
        }
        Lock::Recipients(rs) => {
            age::Encryptor::with_recipients(rs.iter().map(|r| r as &dyn age::Recipient))
        }
    }
    .map_err(|e| PackageError::Invalid(format!("cannot seal: {e}")))?;
    let folder = crate::fsutil::folder_of(out);
    let tmp = tempfile::Builder::new()
        .prefix(".twinplan-package-")
        .tempfile_in(folder)
        .map_err(io(format!("cannot write in {}", folder.display())))?;
    let writing = io(format!("cannot write {}", out.display()));
    let sealed = (|| -> std::io::Result<tempfile::NamedTempFile> {
        let stream = encryptor.wrap_output(std::io::BufWriter::with_capacity(1 << 20, tmp))?;
        let mut tar = tar::Builder::new(stream);
        let mut add = |name: &str, bytes: &[u8]| {
            let mut h = tar::Header::new_ustar();
            h.set_size(bytes.len() as u64);
            h.set_mode(0o600);
            h.set_mtime(0);
            h.set_entry_type(tar::EntryType::Regular);
            tar.append_data(&mut h, name, bytes)
        };
        add(MANIFEST, &manifest_bytes)?;
        for (name, bytes) in files {
            add(name, bytes)?;
        }
        let stream = tar.into_inner()?;
        let mut buffered = stream.finish()?;
        buffered.flush()?;
        buffered.into_inner().map_err(|e| e.into_error())
    })()
    .map_err(writing)?;
    crate::fsutil::persist(sealed, out).map_err(io(format!("cannot write {}", out.display())))?;
    Ok(manifest)
}

/// Whether `path` names a package (by its extension; a plan file is `.twinplan.json`).
pub fn is_package_path(path: &Path) -> bool {
    path.extension()
        .is_some_and(|e| e.eq_ignore_ascii_case(EXTENSION))
}

/// Opens the age layer: the decrypted stream of the tar archive.
fn decrypt(
    path: &Path,
    key: &Key,
) -> Result<age::stream::StreamReader<BufReader<std::fs::File>>, PackageError> {
    crate::fsutil::regular_file(path, "case package", MAX_PACKAGE_BYTES)
        .map_err(|e| PackageError::Invalid(e.to_string()))?;
    let file = std::fs::File::open(path).map_err(io(format!("cannot read {}", path.display())))?;
    let decryptor = match age::Decryptor::new_buffered(BufReader::with_capacity(1 << 20, file)) {
        Ok(d) => d,
        Err(age::DecryptError::InvalidHeader | age::DecryptError::UnknownFormat) => {
            return Err(PackageError::NotAPackage);
        }
        Err(age::DecryptError::Io(e)) if e.kind() == std::io::ErrorKind::UnexpectedEof => {
            return Err(PackageError::Damaged("it ends inside its header".into()));
        }
        Err(e) => return Err(decrypt_error(e, key)),
    };
    let result = match key {
        Key::Passphrase(p) => {
            if !decryptor.is_scrypt() {
                return Err(PackageError::NeedsIdentity);
            }
            let identity = age::scrypt::Identity::new(p.clone());
            decryptor.decrypt(std::iter::once(&identity as &dyn age::Identity))
        }
        Key::Identities(ids) => {
            if decryptor.is_scrypt() {
                return Err(PackageError::NeedsPassphrase);
            }
            decryptor.decrypt(ids.iter().map(|i| i as &dyn age::Identity))
        }
    };
    result.map_err(|e| decrypt_error(e, key))
}

fn decrypt_error(e: age::DecryptError, key: &Key) -> PackageError {
    use age::DecryptError as E;
    match e {
        E::NoMatchingKeys | E::KeyDecryptionFailed | E::DecryptionFailed => match key {
            // scrypt: a wrong passphrase fails to unwrap the file key.
            Key::Passphrase(_) => PackageError::WrongPassphrase,
            Key::Identities(_) => PackageError::NotForTheseKeys,
        },
        E::InvalidMac => PackageError::Damaged("its header does not authenticate".into()),
        E::InvalidHeader | E::UnknownFormat => PackageError::NotAPackage,
        E::ExcessiveWork { required, target } => PackageError::TooCostly {
            required,
            allowed: target,
        },
        E::Io(e) => stream_error(e),
    }
}

/// An I/O error while reading the decrypted stream: age reports a chunk that does not
/// authenticate (a changed byte) and a stream cut before its last chunk as such.
fn stream_error(e: std::io::Error) -> PackageError {
    match e.kind() {
        std::io::ErrorKind::InvalidData | std::io::ErrorKind::UnexpectedEof => {
            PackageError::Damaged(e.to_string())
        }
        kind => PackageError::Io {
            what: "cannot read the package".into(),
            kind,
        },
    }
}

/// Reads a whole package, checking each file against the manifest, and hands each file
/// to `each` in order (`each` may keep it; nothing is final until this returns Ok: a later
/// file or the end of the stream can still fail).
pub fn read(
    path: &Path,
    key: &Key,
    mut each: impl FnMut(&FileEntry, Vec<u8>) -> Result<(), PackageError>,
) -> Result<Manifest, PackageError> {
    let stream = decrypt(path, key)?;
    let mut archive = tar::Archive::new(stream);
    let mut entries = archive.entries().map_err(stream_error)?;
    let mut next = |limit: u64| -> Result<Option<(String, Vec<u8>)>, PackageError> {
        let Some(entry) = entries.next() else {
            return Ok(None);
        };
        let mut entry = entry.map_err(stream_error)?;
        if entry.header().entry_type() != tar::EntryType::Regular {
            return Err(PackageError::Invalid(
                "the package holds something other than files".into(),
            ));
        }
        let name = entry
            .path_bytes()
            .iter()
            .map(|&b| b as char)
            .collect::<String>();
        let size = entry.size();
        if size > limit {
            return Err(PackageError::Invalid(format!(
                "{name:?} is larger than a package may hold"
            )));
        }
        // Grown as the bytes arrive (authenticated chunk by chunk), not reserved from what a
        // header claims: anyone with a recipient's public key can write a package.
        let mut bytes = Vec::with_capacity(size.min(1 << 24) as usize);
        entry
            .by_ref()
            .take(limit + 1)
            .read_to_end(&mut bytes)
            .map_err(stream_error)?;
        Ok(Some((name, bytes)))
    };
    let (name, bytes) = next(MAX_MANIFEST_BYTES)?
        .ok_or_else(|| PackageError::Damaged("it holds nothing".into()))?;
    if name != MANIFEST {
        return Err(PackageError::Invalid("the package has no manifest".into()));
    }
    let manifest: Manifest = serde_json::from_slice(&bytes)
        .map_err(|e| PackageError::Invalid(format!("its manifest cannot be read: {e}")))?;
    if manifest.format != FORMAT {
        return Err(PackageError::NotAPackage);
    }
    if manifest.version > VERSION {
        return Err(PackageError::Invalid(format!(
            "package version {} is newer than this twinplan reads ({VERSION}): update twinplan",
            manifest.version
        )));
    }
    if manifest.files.len() > MAX_FILES {
        return Err(PackageError::Invalid(
            "the package lists too many files".into(),
        ));
    }
    if let Some(bad) = manifest.files.iter().find(|f| !valid_name(&f.name)) {
        return Err(PackageError::Invalid(format!(
            "the package names a file {:?}, which it may not",
            bad.name
        )));
    }
    let mut names = std::collections::HashSet::new();
    if manifest
        .files
        .iter()
        .any(|f| !names.insert(f.name.as_str()))
    {
        return Err(PackageError::Invalid(
            "the package lists a file twice".into(),
        ));
    }
    for listed in &manifest.files {
        let Some((name, bytes)) = next(listed.bytes.min(MAX_FILE_BYTES))? else {
            return Err(PackageError::Damaged(format!(
                "{} is missing (the package ends early)",
                listed.name
            )));
        };
        if name != listed.name || bytes.len() as u64 != listed.bytes {
            return Err(PackageError::Damaged(format!(
                "{name} is not what the manifest lists next ({})",
                listed.name
            )));
        }
        if sha256_hex(&bytes) != listed.sha256 {
            return Err(PackageError::Damaged(format!(
                "{name} does not match its digest"
            )));
        }
        each(listed, bytes)?;
    }
    if next(0)?.is_some() {
        return Err(PackageError::Damaged(
            "it holds files its manifest does not list".into(),
        ));
    }
    // Read to the very end: age authenticates the last chunk as the last, so a package
    // cut after the archive's end is refused too.
    std::io::copy(&mut archive.into_inner(), &mut std::io::sink()).map_err(stream_error)?;
    Ok(manifest)
}

/// Unpacks a package into `out` (which must not exist, or be an empty folder): the plan,
/// `surfaces/`, `images/`, plus `consent.txt` (the statement) and `manifest.json`. Written
/// into a temporary folder beside `out` and renamed into place only when the whole package
/// held; on any error nothing is left.
pub fn unpack(path: &Path, key: &Key, out: &Path) -> Result<Manifest, PackageError> {
    if out.exists() {
        let empty = std::fs::read_dir(out).is_ok_and(|mut d| d.next().is_none());
        if !empty {
            return Err(PackageError::Invalid(format!(
                "{} exists and is not an empty folder",
                out.display()
            )));
        }
    }
    let parent = crate::fsutil::folder_of(out);
    std::fs::create_dir_all(parent).map_err(io(format!("cannot create {}", parent.display())))?;
    let tmp = tempfile::Builder::new()
        .prefix(".twinplan-unpack-")
        .tempdir_in(parent)
        .map_err(io(format!("cannot write in {}", parent.display())))?;
    let manifest = unpack_into(path, key, tmp.path())?;
    if out.exists() {
        std::fs::remove_dir(out).map_err(io(format!("cannot replace {}", out.display())))?;
    }
    let kept = tmp.keep();
    if let Err(e) = std::fs::rename(&kept, out) {
        let _ = std::fs::remove_dir_all(&kept);
        return Err(io(format!("cannot create {}", out.display()))(e));
    }
    if let Ok(d) = std::fs::File::open(parent) {
        let _ = d.sync_all();
    }
    Ok(manifest)
}

/// Unpacks into a new private temporary folder (mode 0700, removed when the returned guard
/// drops; left-overs of ended processes are removed first): how the viewer opens a package.
pub fn unpack_private(
    path: &Path,
    key: &Key,
) -> Result<(Manifest, tempfile::TempDir), PackageError> {
    remove_stale_private();
    let dir = tempfile::Builder::new()
        .prefix(&format!("{PRIVATE_PREFIX}{}-", std::process::id()))
        .tempdir()
        .map_err(io("cannot create a temporary folder"))?;
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(dir.path(), std::fs::Permissions::from_mode(0o700))
            .map_err(io("cannot protect the temporary folder"))?;
    }
    let manifest = unpack_into(path, key, dir.path())?;
    Ok((manifest, dir))
}

/// The name of [`unpack_private`]'s folders: then the process id, `-`, random letters.
const PRIVATE_PREFIX: &str = "twinplan-case-";

/// Removes the unpacked cases of viewers that ended without cleaning up (killed, crashed):
/// folders of [`unpack_private`] in the temporary folder whose process no longer runs.
pub fn remove_stale_private() {
    let Ok(entries) = std::fs::read_dir(std::env::temp_dir()) else {
        return;
    };
    for entry in entries.flatten() {
        let name = entry.file_name();
        let Some(pid) = name
            .to_str()
            .and_then(|n| n.strip_prefix(PRIVATE_PREFIX))
            .and_then(|rest| rest.split('-').next())
            .and_then(|p| p.parse::<u32>().ok())
        else {
            continue;
        };
        let is_dir = entry
            .file_type()
            .is_ok_and(|t| t.is_dir() && !t.is_symlink());
        if is_dir && pid != std::process::id() && !crate::fsutil::process_alive(pid) {
            let _ = std::fs::remove_dir_all(entry.path());
        }
    }
}

fn unpack_into(path: &Path, key: &Key, dir: &Path) -> Result<Manifest, PackageError> {
    let mut folders = std::collections::HashSet::new();
    let manifest = read(path, key, |entry, bytes| {
        let target = dir.join(&entry.name);
        let folder = crate::fsutil::folder_of(&target).to_path_buf();
        if folders.insert(folder.clone()) {
            std::fs::create_dir_all(&folder)
                .map_err(io(format!("cannot create {}", folder.display())))?;
        }
        write_new(&target, &bytes)
    })?;
    let listing = serde_json::to_vec_pretty(&manifest)
        .map_err(|e| PackageError::Invalid(format!("manifest: {e}")))?;
    write_new(&dir.join(MANIFEST), &listing)?;
    let statement = format!(
        "{}\nPackaged: {} by {}\n",
        manifest.consent.statement(),
        manifest.created,
        manifest.tool
    );
    write_new(&dir.join("consent.txt"), statement.as_bytes())?;
    // Every file on disk before the folder is renamed into place.
    crate::fsutil::sync_file_system(dir);
    Ok(manifest)
}

fn write_new(target: &Path, bytes: &[u8]) -> Result<(), PackageError> {
    let mut f = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .open(target)
        .map_err(io(format!("cannot write {}", target.display())))?;
    f.write_all(bytes)
        .map_err(io(format!("cannot write {}", target.display())))
}

/// Reads an identity file (age's format: `AGE-SECRET-KEY-1…` lines, `#` comments).
pub fn read_identities(path: &Path) -> Result<Vec<age::x25519::Identity>, PackageError> {
    crate::fsutil::regular_file(path, "identity file", 1 << 20)
        .map_err(|e| PackageError::Invalid(e.to_string()))?;
    let text =
        std::fs::read_to_string(path).map_err(io(format!("cannot read {}", path.display())))?;
    let ids: Vec<age::x25519::Identity> = text
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty() && !l.starts_with('#'))
        .map(|l| l.parse::<age::x25519::Identity>())
        .collect::<Result<_, _>>()
        .map_err(|_| {
            PackageError::Invalid(format!(
                "{} is not an age identity file (AGE-SECRET-KEY-1… lines)",
                path.display()
            ))
        })?;
    if ids.is_empty() {
        return Err(PackageError::Invalid(format!(
            "{} holds no identity",
            path.display()
        )));
    }
    Ok(ids)
}

/// Parses a recipient (`age1…`).
pub fn parse_recipient(s: &str) -> Result<age::x25519::Recipient, String> {
    s.trim()
        .parse::<age::x25519::Recipient>()
        .map_err(|_| format!("{s:?} is not an age public key (age1…)"))
}

/// A new identity: its file text (secret; written 0600 by the caller) and its public key.
pub fn new_identity() -> (SecretString, String) {
    use age::secrecy::ExposeSecret;
    let id = age::x25519::Identity::generate();
    let public = id.to_public().to_string();
    let text = format!(
        "# twinplan case-package identity, created {}\n# public key: {public}\n{}\n",
        crate::audit::installation::utc_now(),
        id.to_string().expose_secret()
    );
    (SecretString::from(text), public)
}

/// Where [`unpack`] put things.
pub fn plan_path(dir: &Path) -> PathBuf {
    dir.join(PLAN)
}

#[cfg(test)]
mod tests;
