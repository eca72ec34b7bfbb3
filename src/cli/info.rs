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
        if json {
            let out = serde_json::json!({
                "format": "nifti",
                "dimensions": g.dims,
                "spacing_mm": g.spacing_mm,
                "origin_mm": g.origin_mm,
                "directions": g.directions,
                "orientation": g.orientation().to_string(),
                "value_scale": v.value_scale,
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
