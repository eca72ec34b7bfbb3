//! DICOM in and out: scan folders, load series into volumes, write CT series.
//!
//! `scan` reads headers only and groups images into patients → studies → series stacks;
//! `load` turns one stack into a [`crate::volume::Volume`] with exact LPS geometry; `write`
//! writes a volume as a CT series (the phantom and later exports). Depends on dicom-rs and
//! the `volume` module; never on the viewer. Patient identity stays in
//! [`header::PatientIdentity`] and never enters an error or a log line.

pub mod codestream;
pub mod header;
pub mod info;
pub mod lengths;
pub mod load;
pub mod scan;
pub mod write;

pub use header::{ImageHeader, PatientIdentity};
pub use load::{LoadError, load_path, load_series};
pub use scan::{ScanReport, SeriesInfo, SkippedFile, scan};

use std::path::PathBuf;

/// Errors of the DICOM entry points that combine scanning and loading.
#[derive(Debug, thiserror::Error)]
pub enum DicomError {
    #[error("cannot read ({message}): {path}")]
    Io { message: String, path: PathBuf },
    #[error(
        "no image series found ({skipped} file(s) skipped{})",
        reasons_text(reasons)
    )]
    NoImages {
        skipped: usize,
        /// The commonest reasons files were skipped, with how many each.
        reasons: Vec<(usize, String)>,
    },
    #[error("several image series found; choose one with --series (`twinplan info --phi` shows their descriptions):\n  {}", choices.join("\n  "))]
    Ambiguous { choices: Vec<String> },
    #[error("no series matches '{key}'; the choices are:\n  {}", choices.join("\n  "))]
    NoMatch { key: String, choices: Vec<String> },
    #[error(transparent)]
    Load(#[from] LoadError),
}

/// The `most` commonest skip reasons, commonest first, with their counts.
pub fn common_reasons(skipped: &[SkippedFile], most: usize) -> Vec<(usize, String)> {
    let mut counts: std::collections::BTreeMap<&str, usize> = Default::default();
    for s in skipped {
        *counts.entry(s.reason.as_str()).or_default() += 1;
    }
    let mut v: Vec<(usize, String)> = counts
        .into_iter()
        .map(|(r, n)| (n, r.to_string()))
        .collect();
    v.sort_by(|a, b| b.0.cmp(&a.0).then_with(|| a.1.cmp(&b.1)));
    v.truncate(most);
    v
}

fn reasons_text(reasons: &[(usize, String)]) -> String {
    reasons
        .iter()
        .map(|(n, r)| format!("\n  {n} × {r}"))
        .collect()
}

/// Picks one stack: by selector (UID, `UID#n`, series number), or the only image stack.
/// Localizers do not count when choosing the only stack.
pub fn select_series<'a>(
    report: &'a ScanReport,
    selector: Option<&str>,
) -> Result<&'a SeriesInfo, DicomError> {
    match selector {
        Some(key) => report.find(key).map_err(|choices| DicomError::NoMatch {
            key: key.to_string(),
            choices,
        }),
        None => {
            let all: Vec<&SeriesInfo> = report.series().collect();
            let main: Vec<&SeriesInfo> = all.iter().copied().filter(|s| !s.localizer).collect();
            let pool = if main.is_empty() { &all } else { &main };
            match pool.as_slice() {
                [] => Err(DicomError::NoImages {
                    skipped: report.skipped.len(),
                    reasons: common_reasons(&report.skipped, 3),
                }),
                [one] => Ok(one),
                many => Err(DicomError::Ambiguous {
                    choices: many.iter().map(|s| scan::describe_choice(s)).collect(),
                }),
            }
        }
    }
}
