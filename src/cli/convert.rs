//! `twinplan convert`: one series to NIfTI-1, its LPS geometry written as a RAS sform and
//! qform, atomically. Parsing and printing only; the work is the library's.

use std::path::PathBuf;

use anyhow::{Result, bail};
use twinplan::nifti_io;

use super::{UsageError, open_volume, with_progress};

#[derive(clap::Args, Debug)]
pub struct Args {
    /// DICOM folder or file, or a NIfTI file.
    pub path: PathBuf,
    /// Series to convert: SeriesInstanceUID, UID#n for a split series, or series number.
    /// Not needed when the folder holds one image series.
    #[arg(long)]
    pub series: Option<String>,
    /// Output file, ending in .nii or .nii.gz.
    #[arg(long)]
    pub out: PathBuf,
}

pub fn run(a: Args) -> Result<()> {
    let Args { path, series, out } = a;
    if !nifti_io::is_nifti_path(&out) {
        bail!(UsageError(format!(
            "--out must end in .nii or .nii.gz: {}",
            out.display()
        )));
    }
    let volume = open_volume(&path, series.as_deref())?;
    for w in &volume.warnings {
        tell!("warning: {w}");
    }
    let notes = with_progress("writing", |_| nifti_io::write_nifti(&volume, &out))?;
    super::audit(
        twinplan::audit::Action::ExportImages,
        &volume,
        &path,
        &[("file", &out.display().to_string())],
    );
    for n in &notes {
        tell!("note: {n}");
    }
    let g = &volume.geometry;
    say!(
        "wrote {} ({}x{}x{}, {:.3} x {:.3} x {:.3} mm)",
        out.display(),
        g.dims[0],
        g.dims[1],
        g.dims[2],
        g.spacing_mm[0],
        g.spacing_mm[1],
        g.spacing_mm[2]
    );
    Ok(())
}
