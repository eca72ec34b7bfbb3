//! `twinplan info`: the studies and series of a folder or file (or a NIfTI file's grid),
//! with geometry, warnings and skipped files; patient identity only with `--phi`. Parsing and printing only; the work is the library's.

use std::path::PathBuf;

use anyhow::{Context, Result};
use twinplan::dicom::{self, info::describe};
use twinplan::nifti_io;

use super::with_progress;

#[derive(clap::Args, Debug)]
pub struct Args {
    /// DICOM folder (searched recursively), DICOM file, or NIfTI file.
    pub path: PathBuf,
    /// Print JSON instead of text.
    #[arg(long)]
    pub json: bool,
    /// Show patient name, ID and birth date (hidden by default).
    #[arg(long)]
    pub phi: bool,
}

pub fn run(a: Args) -> Result<()> {
    let Args { path, json, phi } = a;
    twinplan::privacy::reveal(phi);
    if nifti_io::is_nifti_path(&path) {
        // The header alone: a small .nii.gz can unpack to gigabytes.
        let v = nifti_io::read_nifti_header(&path)?;
        let g = &v.geometry;
        let (modality, why) = nifti_modality(&path, g.dims);
        if json {
            let out = serde_json::json!({
                "format": "nifti",
                "dimensions": g.dims,
                "spacing_mm": g.spacing_mm,
                "origin_mm": g.origin_mm,
                "directions": g.directions,
                "orientation": g.orientation().to_string(),
                "value_scale": v.value_scale,
                "modality": modality,
                "modality_evidence": why,
                "warnings": v.warnings.iter().map(|w| w.to_string()).collect::<Vec<_>>(),
            });
            say!("{}", serde_json::to_string_pretty(&out)?);
        } else {
            say!(
                "NIfTI {}x{}x{}  {:.3} x {:.3} x {:.3} mm  {}  origin (LPS) {:.2}, {:.2}, {:.2}",
                g.dims[0],
                g.dims[1],
                g.dims[2],
                g.spacing_mm[0],
                g.spacing_mm[1],
                g.spacing_mm[2],
                g.orientation(),
                g.origin_mm[0],
                g.origin_mm[1],
                g.origin_mm[2]
            );
            say!(
                "  taken as {} ({why})",
                if modality.is_empty() {
                    "unknown: no units, no HU presets"
                } else {
                    &modality
                }
            );
            for w in &v.warnings {
                say!("  warning: {w}");
            }
        }
        return Ok(());
    }
    let report = with_progress("scanning", |p| dicom::scan(&path, p))
        .with_context(|| format!("cannot scan {}", path.display()))?;
    let info = describe(&report, phi);
    if json {
        say!("{}", serde_json::to_string_pretty(&info)?);
    } else {
        say_raw!("{}", info.to_text());
    }
    Ok(())
}

/// The modality the workstation takes a NIfTI file as, and why: its BIDS sidecar's, or,
/// without one, CT when its values look like Hounsfield units (read only when the data is
/// under 1 GiB unpacked), otherwise none.
fn nifti_modality(path: &std::path::Path, dims: [usize; 3]) -> (String, String) {
    use twinplan::session::modality::looks_like_ct;
    use twinplan::volume::histogram::Histogram;
    if let Some(m) = nifti_io::sidecar_modality(path) {
        return (m, "from its BIDS JSON sidecar".into());
    }
    let voxels: usize = dims.iter().product();
    if voxels.saturating_mul(4) > 1 << 30 {
        return (
            String::new(),
            "no sidecar, and too large to read its values here".into(),
        );
    }
    match nifti_io::read_nifti(path) {
        Ok(volume) if looks_like_ct(&Histogram::of(&volume)) => (
            "CT".into(),
            "no sidecar; inferred from its values: whole numbers with air near −1000 and soft \
             tissue near 0, as in Hounsfield units"
                .into(),
        ),
        Ok(_) => (
            String::new(),
            "no sidecar, and its values are not Hounsfield units".into(),
        ),
        Err(e) => (String::new(), format!("its values could not be read: {e}")),
    }
}
