//! `twinplan plan-info`: a plan file's markups and paths with what they measure, as text,
//! CSV or JSON, and optionally as 3D Slicer markups JSON. Parsing and printing only; the work is the library's.

use std::path::PathBuf;

use anyhow::Result;

#[derive(clap::Args, Debug)]
pub struct Args {
    /// A plan saved by the workstation (.twinplan.json).
    pub file: PathBuf,
    /// Print CSV (one row per measured value).
    #[arg(long, conflicts_with = "json")]
    pub csv: bool,
    /// Print JSON.
    #[arg(long)]
    pub json: bool,
    /// Also write the plan's markups as 3D Slicer markups JSON (.mrk.json) to this file.
    #[arg(long, value_name = "OUT")]
    pub slicer: Option<PathBuf>,
}

pub fn run(a: Args) -> Result<()> {
    let Args {
        file,
        csv,
        json,
        slicer,
    } = a;
    let plan = twinplan::plan::file::read(&file)?;
    if let Some(out) = &slicer {
        let doc = twinplan::plan::slicer::export(&plan.plan);
        twinplan::fsutil::write_atomic(out, &serde_json::to_vec_pretty(&doc)?)
            .map_err(|e| anyhow::anyhow!("cannot write {}: {e}", out.display()))?;
    }
    if csv {
        say_raw!("{}", plan.plan.markups_csv());
    } else if json {
        say!("{}", serde_json::to_string_pretty(&plan.plan.summary())?);
    } else {
        say_raw!("{}", plan.plan.summary_text());
    }
    Ok(())
}
