//! What makes this installation's audit trail its own: a random secret (the salt of every
//! object named in the trail, and of the de-identifier's UID remapping) and an ed25519
//! signing key, created together on first use in the user's data folder and never sent
//! anywhere. Also the trail's clock (UTC, RFC 3339). No UI; depends on nothing of the app.

use std::path::{Path, PathBuf};

use ed25519_dalek::{SigningKey, VerifyingKey};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

/// The data folder: `TWINPLAN_DATA_DIR`, else the platform's (`~/.local/share/twinplan`).
pub fn data_dir() -> Option<PathBuf> {
    if let Some(d) = std::env::var_os("TWINPLAN_DATA_DIR").filter(|d| !d.is_empty()) {
        return Some(PathBuf::from(d));
    }
    directories::ProjectDirs::from("org", "twinplan", "twinplan").map(|p| p.data_dir().into())
}

const FILE: &str = "installation.key";

/// The installation's secret and signing key.
pub struct Installation {
    secret: [u8; 32],
    key: SigningKey,
}

#[derive(Serialize, Deserialize)]
struct Stored {
    /// What the file is, for a person who finds it.
    about: String,
    secret: String,
    signing_key: String,
}

#[derive(Debug, thiserror::Error)]
pub enum InstallationError {
    #[error("cannot use the installation's key in {dir}: {why}")]
    Io { dir: String, why: String },
    #[error("the installation's key file {0} is damaged; move it aside to start a new trail")]
    Damaged(String),
}

impl Installation {
    /// Reads the installation's key from `dir`, creating it (and `dir`) on first use. Two
    /// processes starting at once end with the same key: the file appears whole or not at all.
    pub fn load_or_create(dir: &Path) -> Result<Installation, InstallationError> {
        let io = |e: std::io::Error| InstallationError::Io {
            dir: dir.display().to_string(),
            why: e.kind().to_string(),
        };
        let path = dir.join(FILE);
        match std::fs::read(&path) {
            Ok(bytes) => return Installation::parse(&bytes, &path),
            Err(e) if e.kind() != std::io::ErrorKind::NotFound => return Err(io(e)),
            Err(_) => {}
        }
        std::fs::create_dir_all(dir).map_err(io)?;
        let mut seed = [0u8; 64];
        getrandom::fill(&mut seed).map_err(|e| InstallationError::Io {
            dir: dir.display().to_string(),
            why: format!("no random numbers from the system: {e}"),
        })?;
        let stored = Stored {
            about: "twinplan: this installation's audit-trail signing key and salt. Keep it \
                    private; without it the trail can no longer be extended under the same key."
                .into(),
            secret: hex(&seed[..32]),
            signing_key: hex(&seed[32..]),
        };
        let text = serde_json::to_vec_pretty(&stored).map_err(|e| InstallationError::Io {
            dir: dir.display().to_string(),
            why: e.to_string(),
        })?;
        let mut tmp = tempfile::NamedTempFile::new_in(dir).map_err(io)?;
        std::io::Write::write_all(&mut tmp, &text).map_err(io)?;
        tmp.as_file().sync_all().map_err(io)?;
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            std::fs::set_permissions(tmp.path(), std::fs::Permissions::from_mode(0o600))
                .map_err(io)?;
        }
        match tmp.persist_noclobber(&path) {
            Ok(_) => Installation::parse(&text, &path),
            // Another process made it first: use theirs.
            Err(e) if e.error.kind() == std::io::ErrorKind::AlreadyExists => {
                let bytes = std::fs::read(&path).map_err(io)?;
                Installation::parse(&bytes, &path)
            }
            Err(e) => Err(io(e.error)),
        }
    }

    fn parse(bytes: &[u8], path: &Path) -> Result<Installation, InstallationError> {
        let damaged = || InstallationError::Damaged(path.display().to_string());
        let stored: Stored = serde_json::from_slice(bytes).map_err(|_| damaged())?;
        let secret: [u8; 32] = unhex(&stored.secret)
            .and_then(|v| v.try_into().ok())
            .ok_or_else(damaged)?;
        let seed: [u8; 32] = unhex(&stored.signing_key)
            .and_then(|v| v.try_into().ok())
            .ok_or_else(damaged)?;
        Ok(Installation {
            secret,
            key: SigningKey::from_bytes(&seed),
        })
    }

    pub fn signing_key(&self) -> &SigningKey {
        &self.key
    }

    pub fn verifying_key(&self) -> VerifyingKey {
        self.key.verifying_key()
    }

    /// The name an object has in the trail: `kind` and value hashed with the installation's
    /// secret (SHA-256, first 128 bits in hex). The same object always gets the same name
    /// here and a different one on every other installation; the name tells nothing of the
    /// value without the secret.
    pub fn object_name(&self, kind: &str, value: &str) -> String {
        let mut h = Sha256::new();
        h.update(b"twinplan-audit-object\0");
        h.update(self.secret);
        h.update(kind.as_bytes());
        h.update([0]);
        h.update(value.as_bytes());
        hex(&h.finalize()[..16])
    }

    /// A keyed digest for other uses of the secret (the de-identifier's UID remapping): a
    /// different `purpose` gives unrelated values.
    pub fn keyed_digest(&self, purpose: &str, value: &[u8]) -> [u8; 32] {
        let mut h = Sha256::new();
        h.update(b"twinplan-keyed\0");
        h.update(self.secret);
        h.update(purpose.as_bytes());
        h.update([0]);
        h.update(value);
        h.finalize().into()
    }
}

pub fn hex(bytes: &[u8]) -> String {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    let mut s = String::with_capacity(bytes.len() * 2);
    for b in bytes {
        s.push(DIGITS[usize::from(b >> 4)] as char);
        s.push(DIGITS[usize::from(b & 15)] as char);
    }
    s
}

pub fn unhex(text: &str) -> Option<Vec<u8>> {
    let digit = |c: u8| match c {
        b'0'..=b'9' => Some(c - b'0'),
        b'a'..=b'f' => Some(c - b'a' + 10),
        _ => None,
    };
    let b = text.as_bytes();
    if !b.len().is_multiple_of(2) {
        return None;
    }
    b.chunks(2)
        .map(|p| Some(digit(p[0])? << 4 | digit(p[1])?))
        .collect()
}

/// Now in UTC as RFC 3339 with milliseconds (`2026-12-06T23:40:01.123Z`).
pub fn utc_now() -> String {
    let since = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap_or_default();
    utc(since.as_secs() as i64, since.subsec_millis())
}

/// Seconds since 1970 in UTC as RFC 3339 (the civil date from the day count: the proleptic
/// Gregorian calendar in 400-year eras).
pub fn utc(secs: i64, millis: u32) -> String {
    let days = secs.div_euclid(86_400);
    let rem = secs.rem_euclid(86_400);
    let (year, month, day) = civil_from_days(days);
    format!(
        "{year:04}-{month:02}-{day:02}T{:02}:{:02}:{:02}.{millis:03}Z",
        rem / 3600,
        rem % 3600 / 60,
        rem % 60
    )
}

/// The civil date (year, month, day) of a day count since 1970-01-01, on the proleptic
/// Gregorian calendar in 400-year eras (also the de-identifier's date shifting).
pub fn civil_from_days(days: i64) -> (i64, i64, i64) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1_460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    (yoe + era * 400 + i64::from(m <= 2), m, d)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn utc_dates_match_known_instants() {
        assert_eq!(utc(0, 0), "1970-01-01T00:00:00.000Z");
        // 2000-02-29 (a leap day in a century year divisible by 400).
        assert_eq!(utc(951_782_400, 5), "2000-02-29T00:00:00.005Z");
        assert_eq!(utc(1_796_600_401, 123), "2026-12-06T23:40:01.123Z");
        assert_eq!(utc(-1, 0), "1969-12-31T23:59:59.000Z");
        assert_eq!(utc(4_107_542_400, 0), "2100-03-01T00:00:00.000Z");
    }

    #[test]
    fn hex_round_trips_and_refuses_junk() {
        let b = [0u8, 1, 0xab, 0xff];
        assert_eq!(hex(&b), "0001abff");
        assert_eq!(unhex("0001abff"), Some(b.to_vec()));
        assert_eq!(unhex("0g"), None);
        assert_eq!(unhex("abc"), None);
        assert_eq!(unhex("AB"), None);
    }

    #[test]
    fn the_key_is_made_once_and_names_are_salted() {
        let dir = tempfile::tempdir().expect("tempdir");
        let a = Installation::load_or_create(dir.path()).expect("created");
        let b = Installation::load_or_create(dir.path()).expect("read back");
        assert_eq!(a.verifying_key(), b.verifying_key());
        let uid = "1.2.840.113619.2.55.3.604688119";
        assert_eq!(a.object_name("study", uid), b.object_name("study", uid));
        assert_ne!(a.object_name("study", uid), a.object_name("series", uid));
        assert!(!a.object_name("study", uid).contains("113619"));
        let other = tempfile::tempdir().expect("tempdir");
        let c = Installation::load_or_create(other.path()).expect("created");
        assert_ne!(a.object_name("study", uid), c.object_name("study", uid));
        assert_ne!(a.verifying_key(), c.verifying_key());
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(dir.path().join(FILE))
                .expect("exists")
                .permissions()
                .mode();
            assert_eq!(mode & 0o077, 0, "only the user reads the key");
        }
        std::fs::write(dir.path().join(FILE), b"{}").expect("spoiled");
        assert!(matches!(
            Installation::load_or_create(dir.path()),
            Err(InstallationError::Damaged(_))
        ));
    }
}
