//! `twinplan anonymize`: every DICOM file under a path de-identified with the PS3.15 Basic
//! Application Level Confidentiality Profile into an output folder (`twinplan::deid`), UIDs
//! remapped with this installation's secret so series stay linked across runs; files whose
//! pixels may show identity are refused unless `--allow-burned-in`; `--series` takes one
//! series; the profile's options keep dates moved, patient characteristics, device
//! identity. Recorded in the audit trail. Parsing and printing only; the work is the
//! library's.

use std::path::PathBuf;

use anyhow::Result;

use twinplan::deid::Retain;

use super::{UsageError, with_progress};

#[derive(clap::Args, Debug)]
pub struct Args {
    /// A DICOM folder (searched recursively) or file.
    pub path: PathBuf,
    /// The folder the de-identified files are written into (created if needed).
    #[arg(long)]
    pub out: PathBuf,
    /// Only this series (UID, UID#n or series number, as `info` lists them), not every
    /// file under PATH.
    #[arg(long)]
    pub series: Option<String>,
    /// Keep the patient's age, sex, size, weight, smoking and pregnancy status, ethnic
    /// group (PS3.15's Retain Patient Characteristics Option).
    #[arg(long)]
    pub keep_patient_characteristics: bool,
    /// Keep the scanner's identity: station name, serial numbers, device UIDs,
    /// calibration dates (PS3.15's Retain Device Identity Option).
    #[arg(long)]
    pub keep_device: bool,
    /// Flush the output's file system before exiting, so the files are on the disk, not
    /// only in its cache, when the command returns (before unplugging a drive).
    #[arg(long)]
    pub sync: bool,
    /// Keep dates, moved by this many days (the same for every file, so intervals between
    /// studies hold; -36500 to 36500): PS3.15's Retain Longitudinal Temporal Information
    /// with Modified Dates option. Times are kept.
    #[arg(long, allow_hyphen_values = true, value_parser = clap::value_parser!(i64).range(-36500..=36500))]
    pub keep_dates_shifted: Option<i64>,
    /// Patient's Name to write instead of the dummy.
    #[arg(long)]
    pub new_name: Option<String>,
    /// Patient ID to write instead of the dummy.
    #[arg(long)]
    pub new_id: Option<String>,
    /// Also de-identify files whose pixels may show identity (Burned In Annotation YES,
    /// ultrasound, photographs, secondary captures, documents): their pixels are NOT
    /// cleaned, only their headers.
    #[arg(long)]
    pub allow_burned_in: bool,
}

pub fn run(a: Args) -> Result<()> {
    let Args {
        path,
        out,
        new_name,
        new_id,
        allow_burned_in,
        keep_dates_shifted,
        series,
        keep_patient_characteristics,
        keep_device,
        sync,
    } = a;
    if !path.exists() {
        anyhow::bail!(UsageError(format!("{} does not exist", path.display())));
    }
    if out.exists() && std::fs::read_dir(&out).is_ok_and(|mut d| d.next().is_some()) {
        anyhow::bail!(UsageError(format!(
            "{} is not empty: give a new or empty folder for the de-identified files",
            out.display()
        )));
    }
    let trail = twinplan::audit::Trail::user()
        .ok_or_else(|| anyhow::anyhow!("no data folder for the installation's secret"))??;
    let key = trail
        .installation()
        .keyed_digest("deid-uid", b"twinplan UID remapping");
    let d = twinplan::deid::Deidentifier::new(
        key,
        twinplan::deid::Options {
            new_name,
            new_id,
            shift_days: keep_dates_shifted,
            retain: [
                (keep_patient_characteristics, Retain::PatientCharacteristics),
                (keep_device, Retain::DeviceIdentity),
            ]
            .into_iter()
            .filter_map(|(on, o)| on.then_some(o))
            .collect(),
        },
    );
    let report = match &series {
        None => with_progress("anonymizing", |p| {
            twinplan::deid::files::anonymize_tree(&path, &out, &d, allow_burned_in, p)
        })?,
        Some(key) => {
            let scan = with_progress("scanning", |p| twinplan::dicom::scan::scan(&path, p))
                .map_err(|e| anyhow::anyhow!("cannot read {}: {}", path.display(), e.kind()))?;
            let chosen = twinplan::dicom::select_series(&scan, Some(key))?;
            let mut files: Vec<PathBuf> =
                chosen.frames.iter().map(|f| f.file.path.clone()).collect();
            files.sort();
            files.dedup();
            with_progress("anonymizing", |p| {
                twinplan::deid::files::anonymize_files(&files, &out, &d, allow_burned_in, p)
            })?
        }
    };
    if sync {
        twinplan::fsutil::sync_file_system(&out);
    }
    let mut detail = format!(
        "{} written, {} refused, {} skipped",
        report.written.len(),
        report.refused.len(),
        report.skipped.len()
    );
    for (on, what) in [
        (series.is_some(), "one series"),
        (keep_dates_shifted.is_some(), "dates moved"),
        (keep_patient_characteristics, "patient characteristics kept"),
        (keep_device, "device identity kept"),
    ] {
        if on {
            detail.push_str(", ");
            detail.push_str(what);
        }
    }
    if let Some(why) = twinplan::audit::record(
        twinplan::audit::Action::Anonymize,
        &[
            ("source", path.display().to_string().as_str()),
            ("output", out.display().to_string().as_str()),
        ],
        &detail,
    ) {
        tell!("warning: not recorded in the audit trail: {why}");
    }
    for (f, why) in &report.refused {
        tell!(
            "refused {}: {why} (--allow-burned-in to de-identify its header anyway)",
            f.display()
        );
    }
    for (f, why) in &report.skipped {
        tell!("skipped {}: {why}", f.display());
    }
    say!(
        "de-identified {} file(s) into {} ({} refused, {} skipped)",
        report.written.len(),
        out.display(),
        report.refused.len(),
        report.skipped.len()
    );
    if report.written.is_empty() {
        anyhow::bail!("nothing was de-identified");
    }
    Ok(())
}
