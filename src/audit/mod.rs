//! The audit trail: an append-only log, one JSON object a line (`audit.jsonl` in the user's
//! data folder), of what was done with patient data — a study opened, a plan saved, an
//! export, a de-identification, a package made or opened, a screenshot — with the time, the
//! action, the tool's version and the objects by salted name (never a patient's name, ID or
//! a UID in clear: [`Installation::object_name`]).
//!
//! Tamper evidence: each entry carries its number, the SHA-256 of the previous line's bytes
//! and an ed25519 signature (the installation's key) over its own bytes; `audit.head` holds
//! the number and hash of the last entry, signed, so a removed last entry shows too.
//! [`verify`] names the first entry that was edited, deleted, moved or inserted. Because
//! each signature covers the previous line's hash, a valid signature on entry n vouches for
//! every byte of entries 1…n; so `verify` walks the hash chain (cheap) and checks signatures
//! by bisection along the part the chain holds together (a handful per log): a forger
//! without the key cannot make a signature valid after one that is not.
//!
//! Appends hold an exclusive lock (`audit.lock`), so processes writing at once keep one
//! chain; each entry is one `write` of a whole line, synced before the head is replaced
//! (atomically). A crash mid-append leaves at most a partial last line: `verify` reports it
//! as that lost entry and the entries before it as sound, and the next append cuts it off.
//!
//! What this does not protect against: someone holding the installation's key file (same
//! user account) can rewrite the whole trail; deleting the log and its head together leaves
//! nothing to compare with. `verify FILE` on a log from another installation checks it
//! against the key its first entry names, which only says the log is self-consistent.
//! No UI; depends on `fsutil` and on `volume` (what names a study).

pub mod installation;

use std::io::{Read, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};

use ed25519_dalek::{Signature, Signer, Verifier, VerifyingKey};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

pub use installation::{Installation, data_dir, hex, unhex};

pub const LOG: &str = "audit.jsonl";
const HEAD: &str = "audit.head";
const LOCK: &str = "audit.lock";
/// No entry is longer (the tail is read back in one piece when appending).
const MAX_LINE: usize = 16 << 10;
/// The largest trail `verify` reads (some four million entries).
const MAX_LOG_BYTES: u64 = 1 << 30;
/// The hash before the first entry.
const GENESIS: &str = "0000000000000000000000000000000000000000000000000000000000000000";

/// What was done.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Action {
    OpenStudy,
    SavePlan,
    ExportMesh,
    ExportScene,
    Screenshot,
    Anonymize,
    ExportImages,
    Pack,
    Unpack,
    OpenPackage,
}

/// An entry as written (the signature is appended after these fields).
#[derive(Serialize)]
struct Unsigned<'a> {
    seq: u64,
    time: &'a str,
    action: Action,
    tool: &'a str,
    /// Kind → salted name (studies, series, files).
    objects: &'a std::collections::BTreeMap<String, String>,
    /// What else an auditor needs, free of identity (counts, options).
    #[serde(skip_serializing_if = "str::is_empty")]
    detail: &'a str,
    prev: &'a str,
    /// The verifying key, in the first entry.
    #[serde(skip_serializing_if = "Option::is_none")]
    key: Option<&'a str>,
}

/// An entry as read back.
#[derive(Debug, Clone, Deserialize, Serialize)]
pub struct Entry {
    pub seq: u64,
    pub time: String,
    pub action: Action,
    pub tool: String,
    #[serde(default)]
    pub objects: std::collections::BTreeMap<String, String>,
    #[serde(default)]
    pub detail: String,
    pub prev: String,
    #[serde(default)]
    pub key: Option<String>,
    pub sig: String,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
struct Head {
    entries: u64,
    last: String,
    sig: String,
}

fn head_message(entries: u64, last: &str) -> Vec<u8> {
    format!("twinplan-audit-head\n{entries}\n{last}").into_bytes()
}

fn sha(bytes: &[u8]) -> String {
    hex(&Sha256::digest(bytes))
}

#[derive(Debug, thiserror::Error)]
pub enum AuditError {
    #[error("the audit trail in {dir} cannot be written: {why}")]
    Io { dir: String, why: String },
    #[error(transparent)]
    Installation(#[from] installation::InstallationError),
    #[error("the audit trail's last entry is damaged ({0}); run `twinplan audit verify`")]
    Damaged(String),
}

/// The trail of one data folder.
pub struct Trail {
    dir: PathBuf,
    installation: Installation,
}

impl Trail {
    /// The trail in `dir` (created with its key on first use).
    pub fn open(dir: &Path) -> Result<Trail, AuditError> {
        Ok(Trail {
            dir: dir.to_path_buf(),
            installation: Installation::load_or_create(dir)?,
        })
    }

    /// The user's trail (`data_dir()`), or None where there is no data folder.
    pub fn user() -> Option<Result<Trail, AuditError>> {
        data_dir().map(|d| Trail::open(&d))
    }

    pub fn log_path(&self) -> PathBuf {
        self.dir.join(LOG)
    }

    pub fn installation(&self) -> &Installation {
        &self.installation
    }

    /// The salted name of an object (see [`Installation::object_name`]).
    pub fn name(&self, kind: &str, value: &str) -> String {
        self.installation.object_name(kind, value)
    }

    /// Appends one entry; returns its number. `objects` are (kind, value) pairs, named in the
    /// trail by their salted hash only.
    pub fn append(
        &self,
        action: Action,
        objects: &[(&str, &str)],
        detail: &str,
    ) -> Result<u64, AuditError> {
        let io = |e: std::io::Error| AuditError::Io {
            dir: self.dir.display().to_string(),
            why: e.kind().to_string(),
        };
        let lock = std::fs::OpenOptions::new()
            .create(true)
            .truncate(false)
            .write(true)
            .open(self.dir.join(LOCK))
            .map_err(io)?;
        lock.lock().map_err(io)?;
        let mut log = std::fs::OpenOptions::new()
            .create(true)
            .read(true)
            .append(true)
            .open(self.log_path())
            .map_err(io)?;
        let (seq, prev) = last_entry(&mut log).map_err(|e| match e {
            Tail::Io(e) => io(e),
            Tail::Damaged(why) => AuditError::Damaged(why),
        })?;
        let objects: std::collections::BTreeMap<String, String> = objects
            .iter()
            .map(|(k, v)| ((*k).to_string(), self.name(k, v)))
            .collect();
        let key = (seq == 0).then(|| hex(self.installation.verifying_key().as_bytes()));
        let time = installation::utc_now();
        let tool = format!("twinplan {}", env!("CARGO_PKG_VERSION"));
        let detail: String = detail.chars().take(2000).collect();
        let unsigned = Unsigned {
            seq: seq + 1,
            time: &time,
            action,
            tool: &tool,
            objects: &objects,
            detail: &detail,
            prev: &prev,
            key: key.as_deref(),
        };
        let mut line = serde_json::to_vec(&unsigned).map_err(|e| AuditError::Io {
            dir: self.dir.display().to_string(),
            why: e.to_string(),
        })?;
        let sig = self.installation.signing_key().sign(&line);
        // `{...}` becomes `{...,"sig":"…"}`: the signed bytes are the line without it.
        line.pop();
        line.extend_from_slice(format!(",\"sig\":\"{}\"}}", hex(&sig.to_bytes())).as_bytes());
        let hash = sha(&line);
        line.push(b'\n');
        log.write_all(&line).map_err(io)?;
        log.sync_data().map_err(io)?;
        let head = Head {
            entries: seq + 1,
            sig: hex(&self
                .installation
                .signing_key()
                .sign(&head_message(seq + 1, &hash))
                .to_bytes()),
            last: hash,
        };
        let text = serde_json::to_vec(&head).map_err(|e| AuditError::Io {
            dir: self.dir.display().to_string(),
            why: e.to_string(),
        })?;
        crate::fsutil::write_atomic(&self.dir.join(HEAD), &text).map_err(io)?;
        drop(lock);
        Ok(seq + 1)
    }

    /// Verifies this installation's own trail against its key and head.
    pub fn verify(&self) -> Result<Verified, Broken> {
        verify_file(
            &self.log_path(),
            Some(&self.dir.join(HEAD)),
            Some(self.installation.verifying_key()),
        )
    }
}

enum Tail {
    Io(std::io::Error),
    Damaged(String),
}

/// The last whole entry's number and line hash (0 and the genesis hash for an empty log);
/// a partial last line (a crash mid-append) is cut off first.
fn last_entry(log: &mut std::fs::File) -> Result<(u64, String), Tail> {
    let len = log.seek(SeekFrom::End(0)).map_err(Tail::Io)?;
    if len == 0 {
        return Ok((0, GENESIS.to_string()));
    }
    let start = len.saturating_sub(2 * MAX_LINE as u64 + 2);
    log.seek(SeekFrom::Start(start)).map_err(Tail::Io)?;
    let mut tail = Vec::new();
    log.read_to_end(&mut tail).map_err(Tail::Io)?;
    let mut whole = tail.len();
    if tail.last() != Some(&b'\n') {
        // The writer stopped mid-line: that entry is lost; cut it off.
        whole = tail.iter().rposition(|&b| b == b'\n').map_or(0, |p| p + 1);
        if whole == 0 && start > 0 {
            // Longer than any entry: not a torn append; left for `verify` to report.
            return Err(Tail::Damaged(
                "its last line is longer than an entry can be".into(),
            ));
        }
        log.set_len(start + whole as u64).map_err(Tail::Io)?;
        tracing::warn!("audit trail: an incomplete last entry (a crash while writing) was removed");
        if start + whole as u64 == 0 {
            return Ok((0, GENESIS.to_string()));
        }
    }
    let body = &tail[..whole - 1];
    let from = body.iter().rposition(|&b| b == b'\n').map_or(0, |p| p + 1);
    if from == 0 && start > 0 {
        return Err(Tail::Damaged(
            "its last line is longer than an entry can be".into(),
        ));
    }
    let line = &body[from..];
    let entry: Entry = serde_json::from_slice(line)
        .map_err(|_| Tail::Damaged("its last line is not an entry".into()))?;
    Ok((entry.seq, sha(line)))
}

/// A trail that verified.
#[derive(Debug, Clone, PartialEq)]
pub struct Verified {
    pub entries: u64,
    /// A partial last line (a crash mid-append lost that entry).
    pub incomplete_tail: bool,
    /// What the head file says about the end of the log.
    pub end: End,
    /// The key the signatures were checked against (hex).
    pub key: String,
}

#[derive(Debug, Clone, PartialEq)]
pub enum End {
    /// The head names the last entry.
    Confirmed,
    /// The head names the entry before the last: a crash between writing the entry and the
    /// head (the last entry's own signature and chain still hold).
    HeadOneBehind,
    /// No head file to compare with: entries removed from the end would not show.
    Unchecked,
}

/// The first entry (1-based, as numbered in the log; `line` is the file's line) that does
/// not verify, and why.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[error("entry {entry} (line {line}): {why}")]
pub struct Broken {
    pub entry: u64,
    pub line: usize,
    pub why: String,
}

/// Verifies a trail: the hash chain, every entry's number, the signatures and the head.
/// `key`: the key the trail must be signed with (None: the one its first entry names).
pub fn verify_file(
    log: &Path,
    head: Option<&Path>,
    key: Option<VerifyingKey>,
) -> Result<Verified, Broken> {
    let unreadable = |why: String| Broken {
        entry: 1,
        line: 1,
        why,
    };
    // A FIFO or a device would never end: regular files of a trail's size only.
    crate::fsutil::regular_file(log, "an audit trail", MAX_LOG_BYTES)
        .map_err(|e| unreadable(e.to_string()))?;
    let bytes =
        std::fs::read(log).map_err(|e| unreadable(format!("cannot read the log: {}", e.kind())))?;
    let head = head.and_then(|h| std::fs::read(h).ok());
    verify_bytes(&bytes, head.as_deref(), key)
}

/// [`verify_file`] on the log's bytes and the head file's (None: no head).
pub fn verify_bytes(
    bytes: &[u8],
    head: Option<&[u8]>,
    key: Option<VerifyingKey>,
) -> Result<Verified, Broken> {
    let broken = |entry: u64, why: String| Broken {
        entry,
        line: entry as usize,
        why,
    };
    let mut lines: Vec<&[u8]> = bytes.split(|&b| b == b'\n').collect();
    // After the last newline: nothing, or a partial entry a crash left.
    let incomplete_tail = lines.last().is_some_and(|l| !l.is_empty());
    lines.pop();
    // The chain: numbers and previous hashes; the first line whose own bytes cannot be
    // right is named (see `chain`).
    let mut entries = Vec::with_capacity(lines.len());
    let mut chain_break: Option<Broken> = None;
    let mut prev_hash = GENESIS.to_string();
    for (i, line) in lines.iter().enumerate() {
        let n = i as u64 + 1;
        let Ok(entry) = serde_json::from_slice::<Entry>(line) else {
            chain_break = Some(broken(n, "not an audit entry (edited or damaged)".into()));
            break;
        };
        if entry.seq != n {
            let why = if entry.seq > n {
                format!(
                    "missing: the line holds entry {} (entries removed or moved)",
                    entry.seq
                )
            } else {
                format!(
                    "out of place: the line holds entry {} (entries inserted or moved)",
                    entry.seq
                )
            };
            chain_break = Some(broken(n, why));
            break;
        }
        if entry.prev != prev_hash {
            // Either this line's record of the previous one, or the previous line, changed:
            // if this entry's signature holds, it is the previous line.
            chain_break = Some(
                if n > 1 && signed(line, &entry, key_of(key, &entries, &entry)) {
                    broken(
                        n - 1,
                        "edited (the next entry's hash of it no longer matches)".into(),
                    )
                } else {
                    broken(
                        n,
                        "does not follow the entry before it (edited or inserted)".into(),
                    )
                },
            );
            break;
        }
        prev_hash = sha(line);
        entries.push(entry);
    }
    // The key: the caller's, or the first entry's.
    let key = match key {
        Some(k) => k,
        None => match entries
            .first()
            .and_then(|e| e.key.as_deref())
            .and_then(parse_key)
        {
            Some(k) => k,
            None if entries.is_empty() && chain_break.is_none() => {
                return Ok(Verified {
                    entries: 0,
                    incomplete_tail,
                    end: End::Unchecked,
                    key: String::new(),
                });
            }
            None => return Err(broken(1, "names no valid signing key".into())),
        },
    };
    // Signatures along the part the chain holds together: the first that fails.
    let ok = |i: usize| signed(lines[i], &entries[i], Some(key));
    let n = entries.len();
    let mut sig_break = None;
    if n > 0 && !ok(n - 1) {
        let (mut lo, mut hi) = (0usize, n - 1); // the first failure is in lo..=hi
        while lo < hi {
            let mid = (lo + hi) / 2;
            if ok(mid) {
                lo = mid + 1;
            } else {
                hi = mid;
            }
        }
        sig_break = Some(broken(
            lo as u64 + 1,
            "its signature does not hold (edited, or signed with another key)".into(),
        ));
    }
    let first = [chain_break, sig_break]
        .into_iter()
        .flatten()
        .min_by_key(|b| b.entry);
    if let Some(b) = first {
        return Err(b);
    }
    // The end of the log against the head.
    let end = match head {
        None => End::Unchecked,
        Some(text) => {
            let head: Head = serde_json::from_slice(text)
                .map_err(|_| broken(n as u64 + 1, "the head file is damaged".into()))?;
            let sig_ok = unhex(&head.sig)
                .and_then(|b| <[u8; 64]>::try_from(b).ok())
                .is_some_and(|b| {
                    key.verify(
                        &head_message(head.entries, &head.last),
                        &Signature::from_bytes(&b),
                    )
                    .is_ok()
                });
            if !sig_ok {
                return Err(broken(
                    n as u64 + 1,
                    "the head's signature does not hold".into(),
                ));
            }
            let hash_of = |k: u64| (k >= 1 && k as usize <= n).then(|| sha(lines[k as usize - 1]));
            if head.entries == n as u64 && hash_of(head.entries).as_deref() == Some(&head.last) {
                End::Confirmed
            } else if head.entries + 1 == n as u64
                && (head.entries == 0 || hash_of(head.entries).as_deref() == Some(&head.last))
            {
                End::HeadOneBehind
            } else if head.entries > n as u64 {
                return Err(broken(
                    n as u64 + 1,
                    format!(
                        "missing: the head records {} entries, the log ends at {n}",
                        head.entries
                    ),
                ));
            } else {
                return Err(broken(
                    head.entries.min(n as u64).max(1),
                    "does not match the head's record of the last entry".into(),
                ));
            }
        }
    };
    Ok(Verified {
        entries: n as u64,
        incomplete_tail,
        end,
        key: hex(key.as_bytes()),
    })
}

fn parse_key(text: &str) -> Option<VerifyingKey> {
    let bytes: [u8; 32] = unhex(text)?.try_into().ok()?;
    VerifyingKey::from_bytes(&bytes).ok()
}

fn key_of(given: Option<VerifyingKey>, entries: &[Entry], this: &Entry) -> Option<VerifyingKey> {
    given.or_else(|| {
        entries
            .first()
            .unwrap_or(this)
            .key
            .as_deref()
            .and_then(parse_key)
    })
}

/// Whether `line`'s signature holds: over its bytes without the trailing `,"sig":"…"`.
fn signed(line: &[u8], entry: &Entry, key: Option<VerifyingKey>) -> bool {
    let Some(key) = key else { return false };
    let suffix = format!(",\"sig\":\"{}\"}}", entry.sig);
    let Some(body) = line.strip_suffix(suffix.as_bytes()) else {
        return false;
    };
    let Some(sig) = unhex(&entry.sig).and_then(|b| <[u8; 64]>::try_from(b).ok()) else {
        return false;
    };
    let mut message = body.to_vec();
    message.push(b'}');
    key.verify(&message, &Signature::from_bytes(&sig)).is_ok()
}

/// Reads the entries of a log (whole lines that parse), for `audit show`.
pub fn read_entries(log: &Path) -> std::io::Result<Vec<Entry>> {
    let bytes = std::fs::read(log)?;
    Ok(bytes
        .split(|&b| b == b'\n')
        .filter_map(|l| serde_json::from_slice(l).ok())
        .collect())
}

/// Records an action in the user's trail; a trail that cannot be written is reported as a
/// warning (the action itself has happened and is not undone), and the returned text says
/// why for the caller to show.
pub fn record(action: Action, objects: &[(&str, &str)], detail: &str) -> Option<String> {
    let result = match Trail::user() {
        None => return Some("no data folder for the audit trail".into()),
        Some(t) => t.and_then(|t| t.append(action, objects, detail)),
    };
    match result {
        Ok(_) => None,
        Err(e) => {
            tracing::warn!("{e}");
            Some(e.to_string())
        }
    }
}

/// Records that a file was written (a plan, an export, a screenshot), named by its salted
/// path; a trail that cannot be written is logged as a warning.
pub fn record_written(action: Action, file: &Path) {
    let file = file.display().to_string();
    if let Some(why) = record(action, &[("file", file.as_str())], "") {
        tracing::warn!("{action:?} done, not recorded in the audit trail: {why}");
    }
}

/// Records an action on a study: its study and series by UID (by where it was read from
/// when it has none: NIfTI), plus `extra` objects (an output file…), all by salted name.
pub fn record_study(
    action: Action,
    volume: &crate::volume::Volume,
    source: &Path,
    extra: &[(&str, &str)],
    detail: &str,
) -> Option<String> {
    let place = std::fs::canonicalize(source)
        .unwrap_or_else(|_| source.to_path_buf())
        .display()
        .to_string();
    let study = volume.study_uid.clone().unwrap_or_else(|| place.clone());
    let series = volume.series_uid.clone().unwrap_or(place);
    let mut objects = vec![("study", study.as_str()), ("series", series.as_str())];
    objects.extend_from_slice(extra);
    record(action, &objects, detail)
}

#[cfg(test)]
mod tests;
