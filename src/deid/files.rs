//! De-identifying files: every DICOM file under a path read whole, refused where its pixels
//! may show identity (unless allowed), de-identified (`Deidentifier`) with its file meta's
//! instance UID following, and written atomically into the output folder as
//! `<new SOP Instance UID>.dcm` (a name that carries no identity), with its transfer syntax
//! and pixel data as they were (each file appears whole, by a rename; the file system is
//! flushed once at the end). Files are done in parallel in the background pool. Files
//! that are not DICOM, or cannot be read, are reported and skipped; nothing is written for
//! them. Depends on `deid`, `dicom::scan` (listing), `fsutil`, `work`.

use std::path::{Path, PathBuf};

use dicom_object::OpenFileOptions;
use dicom_object::file::ReadPreamble;
use rayon::prelude::*;

use super::{Deidentifier, burned_in};
use crate::progress::Progress;

/// What a run did.
#[derive(Debug, Default)]
pub struct Report {
    /// Input file → output file.
    pub written: Vec<(PathBuf, PathBuf)>,
    /// Files refused because their pixels may carry identity, and why.
    pub refused: Vec<(PathBuf, String)>,
    /// Files that are not DICOM or could not be read or written, and why.
    pub skipped: Vec<(PathBuf, String)>,
}

enum Outcome {
    Written(PathBuf),
    Refused(String),
    Skipped(String),
}

/// De-identifies every DICOM file under `input` into `out` (created if needed).
pub fn anonymize_tree(
    input: &Path,
    out: &Path,
    d: &Deidentifier,
    allow_burned_in: bool,
    progress: &Progress,
) -> std::io::Result<Report> {
    let files = crate::dicom::scan::list_files(input)?;
    anonymize_files(&files, out, d, allow_burned_in, progress)
}

/// De-identifies these files (one series, say) into `out` (created if needed).
pub fn anonymize_files(
    files: &[PathBuf],
    out: &Path,
    d: &Deidentifier,
    allow_burned_in: bool,
    progress: &Progress,
) -> std::io::Result<Report> {
    std::fs::create_dir_all(out)?;
    progress.set_total(files.len() as u64);
    let outcomes: Vec<(PathBuf, Outcome)> = crate::work::run(|| {
        files
            .par_iter()
            .map(|f| {
                let o = if progress.is_cancelled() {
                    Outcome::Skipped("cancelled".into())
                } else {
                    one(f, out, d, allow_burned_in)
                };
                progress.inc(1);
                (f.clone(), o)
            })
            .collect()
    });
    // Each file appeared whole (a rename); one flush of the folder's file system at the
    // end puts them all on disk (a sync per file cost more than the de-identification).
    crate::fsutil::sync_file_system(out);
    let mut report = Report::default();
    for (f, o) in outcomes {
        match o {
            Outcome::Written(p) => report.written.push((f, p)),
            Outcome::Refused(why) => report.refused.push((f, why)),
            Outcome::Skipped(why) => report.skipped.push((f, why)),
        }
    }
    Ok(report)
}

/// Why a file was not de-identified.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum NotDone {
    /// Its pixels may show identity (and that was not allowed): the reason.
    Refused(String),
    /// Not DICOM, or it cannot be read or encoded: the reason.
    Skipped(String),
}

/// De-identifies one file in memory: its new SOP Instance UID and the encoded file (the
/// transfer syntax and pixel data as they were; the file meta cleaned).
pub fn deidentify_file(
    input: &Path,
    d: &Deidentifier,
    allow_burned_in: bool,
) -> Result<(String, Vec<u8>), NotDone> {
    let mut obj = OpenFileOptions::new()
        .read_preamble(ReadPreamble::Auto)
        .open_file(input)
        .map_err(|_| NotDone::Skipped("not a DICOM file, or damaged".into()))?;
    if !allow_burned_in && let Some(why) = burned_in(&obj) {
        return Err(NotDone::Refused(why));
    }
    d.apply(&mut obj);
    let sop = obj
        .get(dicom_core::Tag(0x0008, 0x0018))
        .and_then(|e| e.to_str().ok())
        .map(|s| s.trim_end_matches(['\0', ' ']).to_string())
        .filter(|s| !s.is_empty())
        // No instance UID: a name from the file's place, hashed like a UID.
        .unwrap_or_else(|| d.new_uid(&input.display().to_string()));
    // An empty or missing instance UID gets the generated one, so header and meta agree.
    obj.put(dicom_core::DataElement::new(
        dicom_core::Tag(0x0008, 0x0018),
        dicom_core::VR::UI,
        dicom_core::value::PrimitiveValue::from(sop.as_str()),
    ));
    // The file meta: the instance UID follows; the application entity titles (a station's
    // or a hospital's name) and private information go.
    obj.update_meta(|m| {
        m.media_storage_sop_instance_uid = sop.clone();
        m.source_application_entity_title = None;
        m.sending_application_entity_title = None;
        m.receiving_application_entity_title = None;
        m.private_information_creator_uid = None;
        m.private_information = None;
    });
    // Encoded in memory, written in one go (through the encoder's small buffer each file
    // took some 60 system calls).
    let mut bytes =
        Vec::with_capacity(std::fs::metadata(input).map_or(1 << 20, |m| m.len() as usize + 4096));
    obj.write_all(&mut bytes)
        .map_err(|e| NotDone::Skipped(format!("cannot be written back: {e}")))?;
    Ok((sop, bytes))
}

fn one(input: &Path, out: &Path, d: &Deidentifier, allow_burned_in: bool) -> Outcome {
    let (sop, bytes) = match deidentify_file(input, d, allow_burned_in) {
        Ok(done) => done,
        Err(NotDone::Refused(why)) => return Outcome::Refused(why),
        Err(NotDone::Skipped(why)) => return Outcome::Skipped(why),
    };
    let target = out.join(format!("{sop}.dcm"));
    let mut tmp = match tempfile::NamedTempFile::new_in(out) {
        Ok(t) => t,
        Err(e) => {
            return Outcome::Skipped(format!("cannot write in the output folder: {}", e.kind()));
        }
    };
    if let Err(e) = std::io::Write::write_all(tmp.as_file_mut(), &bytes) {
        return Outcome::Skipped(format!("cannot be written: {}", e.kind()));
    }
    // Two inputs with one instance UID (copies of a file) are both kept, never overwritten.
    let mut tmp = tmp;
    for n in 1..=1000u32 {
        let name = if n == 1 {
            target.clone()
        } else {
            out.join(format!("{sop}-{n}.dcm"))
        };
        match tmp.persist_noclobber(&name) {
            Ok(_) => return Outcome::Written(name),
            Err(e) if e.error.kind() == std::io::ErrorKind::AlreadyExists => tmp = e.file,
            Err(e) => return Outcome::Skipped(format!("cannot be written: {}", e.error.kind())),
        }
    }
    Outcome::Skipped("a thousand files share its instance UID".into())
}
