//! The user's preferences and where the workstation keeps its own files: recent studies and
//! plans, window size, last layout, the Anonymous default — one JSON file in the user's
//! config folder (`directories`: `~/.config/twinplan` on Linux; `TWINPLAN_CONFIG_DIR`
//! overrides it, for tests and portable installs), written atomically. A damaged file is
//! ignored with a warning and the defaults are used; it is replaced at the next change.
//! Bevy-free; the viewer decides when to read and write.

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use super::layout::Layout;
use crate::fsutil::write_atomic;

/// How many recent studies and plans are kept.
pub const RECENT: usize = 10;

const FILE: &str = "preferences.json";

#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct Prefs {
    #[serde(default)]
    pub recent_studies: Vec<PathBuf>,
    #[serde(default)]
    pub recent_plans: Vec<PathBuf>,
    /// Window size (logical pixels) when it was last closed.
    #[serde(default)]
    pub window_size: Option<(u32, u32)>,
    #[serde(default)]
    pub layout: Option<Layout>,
    /// Start in Anonymous mode.
    #[serde(default)]
    pub anonymous: bool,
}

/// The folder for preferences and the recovery copy of an unsaved plan.
pub fn config_dir() -> Option<PathBuf> {
    if let Some(d) = std::env::var_os("TWINPLAN_CONFIG_DIR").filter(|d| !d.is_empty()) {
        return Some(PathBuf::from(d));
    }
    directories::ProjectDirs::from("org", "twinplan", "twinplan").map(|p| p.config_dir().into())
}

/// Puts `path` first in a recent list (once), keeping [`RECENT`] entries.
pub fn remember(list: &mut Vec<PathBuf>, path: &Path) {
    list.retain(|p| p != path);
    list.insert(0, path.to_path_buf());
    list.truncate(RECENT);
}

/// Reads the preferences in `dir`: the defaults when there are none; the defaults and a
/// warning (for a notice) when the file cannot be read or parsed.
pub fn load(dir: &Path) -> (Prefs, Option<String>) {
    let path = dir.join(FILE);
    let bytes = match std::fs::read(&path) {
        Ok(b) => b,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return (Prefs::default(), None),
        Err(e) => {
            return (
                Prefs::default(),
                Some(format!(
                    "{} could not be read ({}); defaults used",
                    path.display(),
                    e.kind()
                )),
            );
        }
    };
    match serde_json::from_slice::<Prefs>(&bytes) {
        Ok(mut p) => {
            p.recent_studies.truncate(RECENT);
            p.recent_plans.truncate(RECENT);
            p.window_size = p
                .window_size
                .filter(|&(w, h)| (320..=16384).contains(&w) && (240..=16384).contains(&h));
            (p, None)
        }
        Err(e) => (
            Prefs::default(),
            Some(format!(
                "{} is damaged (line {}, column {}); defaults used, and it is rewritten at the next change",
                path.display(),
                e.line(),
                e.column()
            )),
        ),
    }
}

/// Writes the preferences into `dir` (created if needed), atomically.
pub fn save(dir: &Path, prefs: &Prefs) -> std::io::Result<()> {
    std::fs::create_dir_all(dir)?;
    let bytes = serde_json::to_vec_pretty(prefs).map_err(std::io::Error::other)?;
    write_atomic(&dir.join(FILE), &bytes)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::session::layout::ViewId;

    #[test]
    fn preferences_round_trip_and_a_damaged_file_gives_defaults_and_a_warning() {
        let dir = tempfile::tempdir().expect("tempdir");
        assert_eq!(load(dir.path()), (Prefs::default(), None), "none yet");
        let mut p = Prefs::default();
        for k in 0..15 {
            remember(&mut p.recent_studies, Path::new(&format!("/data/study{k}")));
        }
        remember(&mut p.recent_studies, Path::new("/data/study3"));
        assert_eq!(p.recent_studies.len(), RECENT);
        assert_eq!(p.recent_studies[0], Path::new("/data/study3"));
        assert_eq!(
            p.recent_studies
                .iter()
                .filter(|s| s.ends_with("study3"))
                .count(),
            1
        );
        p.window_size = Some((1280, 800));
        p.layout = Some(Layout::Single(ViewId::Coronal));
        p.anonymous = true;
        save(dir.path(), &p).expect("saves");
        assert_eq!(load(dir.path()), (p, None));

        std::fs::write(dir.path().join(FILE), b"{\"recent_studies\": [").expect("writes");
        let (got, warning) = load(dir.path());
        assert_eq!(got, Prefs::default());
        assert!(warning.expect("warned").contains("damaged"));
        // A window size from a broken file is not obeyed.
        std::fs::write(dir.path().join(FILE), b"{\"window_size\": [0, 99999]}").expect("writes");
        assert_eq!(load(dir.path()).0.window_size, None);
    }
}
