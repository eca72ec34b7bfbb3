//! `twinplan phantom`: writes the synthetic CTA phantom (a CT series and its analytic
//! ground truth). Parsing and printing only; the work is the library's.

use std::path::PathBuf;

use anyhow::{Context, Result};
use twinplan::dicom;
use twinplan::phantom::{self, PhantomOptions};

use super::args::parse_size;
use super::with_progress;

#[derive(clap::Args, Debug)]
pub struct Args {
    /// Output folder (created if needed).
    #[arg(long)]
    pub out: PathBuf,
    /// Grid size NXxNYxNZ (the field of view is fixed: 400 mm wide, 640 mm tall).
    #[arg(long, default_value = "256x256x256", value_parser = parse_size)]
    pub size: [usize; 3],
    /// Noise standard deviation in HU.
    #[arg(long, default_value_t = 12.0)]
    pub noise: f64,
    /// Noise seed.
    #[arg(long, default_value_t = 1)]
    pub seed: u64,
}

pub fn run(a: Args) -> Result<()> {
    let Args {
        out,
        size,
        noise,
        seed,
    } = a;
    let options = PhantomOptions {
        size,
        noise_hu: noise,
        seed,
    };
    let ph = with_progress("phantom", |p| phantom::generate(&options, p))?;
    let write_options = dicom::write::CtSeriesOptions::default()
        .with_patient(phantom::phantom_patient())
        .with_series_description("CTA phantom arterial")
        .with_uid_seed(format!(
            "twinplan-phantom-{}x{}x{}-{seed}",
            size[0], size[1], size[2]
        ));
    let files = with_progress("writing", |p| {
        dicom::write::write_ct_series(
            &ph.volume,
            &out.join("dicom"),
            &write_options,
            &|k| format!("IM{:05}.dcm", k + 1),
            p,
        )
    })?;
    let truth = serde_json::to_vec_pretty(&ph.truth)?;
    twinplan::fsutil::write_atomic(&out.join("ground_truth.json"), &truth)
        .with_context(|| format!("cannot write {}", out.join("ground_truth.json").display()))?;
    say!(
        "wrote {} DICOM files to {}/dicom and the ground truth to ground_truth.json beside it",
        files.len(),
        out.display()
    );
    Ok(())
}
