//! De-identifying files: every DICOM file under a path read (its header decoded; its pixel
//! data, when it is the last element of a little-endian data set, copied as bytes, found
//! by `span`; otherwise the whole file decoded), refused where its pixels may show
//! identity (unless allowed), de-identified (`Deidentifier`) with its file meta's instance
//! UID following, and written atomically into the output folder as `<new SOP Instance
//! UID>.dcm` (a name that carries no identity), with its transfer syntax and pixel data as
//! they were (each file appears whole, by a rename; the caller may flush the file system
//! at the end). Files are done in parallel in the background pool. Files that are not
//! DICOM, or cannot be read, are reported and skipped; nothing is written for them.
//! Depends on `deid`, `dicom::scan` (listing), `fsutil`, `work`.

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
    // rayon's global pool, at normal priority: the work is mostly the kernel's (copying
    // the pixels), and background threads at nice 19 lost the CPU to its writeback.
    let outcomes: Vec<(PathBuf, Outcome)> = files
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
        .collect();

    // Each file appeared whole (a rename). Putting them on disk is the caller's choice
    // (`fsutil::sync_file_system`: one flush for all; a sync per file cost more than the
    // de-identification).
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

/// A de-identified file as it is written: the encoded data set, then (when the pixels are
/// copied as bytes) that many bytes of the input from an offset.
pub struct Encoded {
    pub bytes: Vec<u8>,
    pub copy: Option<(std::fs::File, u64, u64)>,
}

/// De-identifies one file in memory: its new SOP Instance UID and the encoded file (the
/// transfer syntax and pixel data as they were; the file meta cleaned).
pub fn deidentify_file(
    input: &Path,
    d: &Deidentifier,
    allow_burned_in: bool,
) -> Result<(String, Vec<u8>), NotDone> {
    let (sop, mut e) = deidentify_encoded(input, d, allow_burned_in)?;
    if let Some((file, from, len)) = e.copy.take() {
        let at = e.bytes.len();
        e.bytes.resize(at + len as usize, 0);
        read_at(&file, &mut e.bytes[at..], from)
            .map_err(|err| NotDone::Skipped(format!("cannot be read: {}", err.kind())))?;
    }
    Ok((sop, e.bytes))
}

#[cfg(unix)]
fn read_at(file: &std::fs::File, buf: &mut [u8], at: u64) -> std::io::Result<()> {
    std::os::unix::fs::FileExt::read_exact_at(file, buf, at)
}

#[cfg(not(unix))]
fn read_at(_file: &std::fs::File, _buf: &mut [u8], _at: u64) -> std::io::Result<()> {
    Err(std::io::ErrorKind::Unsupported.into())
}

/// The transfer syntaxes whose data set [`span`] can walk: little endian, not deflated.
/// Some(true) explicit VR, Some(false) implicit, None another.
fn walkable(ts: &str) -> Option<bool> {
    match ts.trim_end_matches(['\0', ' ']) {
        "1.2.840.10008.1.2" => Some(false),
        "1.2.840.10008.1.2.2" | "1.2.840.10008.1.2.1.99" | "1.2.840.10008.1.2.4.95" => None,
        _ => Some(true),
    }
}

/// The header read and de-identified; the pixel data, when it is the data set's last
/// element and the file can be walked, copied as bytes (`span`), else the whole file
/// decoded and re-encoded ([`deidentify_decoded`]).
pub fn deidentify_encoded(
    input: &Path,
    d: &Deidentifier,
    allow_burned_in: bool,
) -> Result<(String, Encoded), NotDone> {
    fn unreadable<E>(_: E) -> NotDone {
        NotDone::Skipped("not a DICOM file, or damaged".to_string())
    }
    #[cfg(unix)]
    {
        let file = std::fs::File::open(input).map_err(unreadable)?;
        let len = file.metadata().map_err(unreadable)?.len();
        let mut head = vec![0u8; len.min(1 << 16) as usize];
        read_at(&file, &mut head, 0).map_err(unreadable)?;
        let src = super::span::Source {
            file: &file,
            head: &head,
            len,
        };
        if let Some(start) = super::span::data_set_start(&src) {
            let mut obj = OpenFileOptions::new()
                .read_preamble(ReadPreamble::Auto)
                .read_until(PIXEL_DATA)
                .open_file(input)
                .map_err(unreadable)?;
            // Some(Some(at)): the pixels are the last element, from `at`; Some(None): the
            // walk reached the end without pixels (the header is the whole file).
            let layout = walkable(obj.meta().transfer_syntax())
                .and_then(|explicit| super::span::pixel_data(&src, start, explicit));
            if let Some(pixels) = layout {
                let sop = finish(&mut obj, input, d, allow_burned_in)?;
                let mut bytes = Vec::with_capacity(head.len().min(1 << 16) + 4096);
                obj.write_all(&mut bytes)
                    .map_err(|e| NotDone::Skipped(format!("cannot be written back: {e}")))?;
                let copy = pixels.map(|at| (file, at, len - at));
                return Ok((sop, Encoded { bytes, copy }));
            }
        }
    }
    deidentify_decoded(input, d, allow_burned_in)
        .map(|(sop, bytes)| (sop, Encoded { bytes, copy: None }))
}

/// De-identifies one file decoding all of it, pixels included, and encoding it again: the
/// way for files the byte copy cannot take, and the reference it is tested against.
pub fn deidentify_decoded(
    input: &Path,
    d: &Deidentifier,
    allow_burned_in: bool,
) -> Result<(String, Vec<u8>), NotDone> {
    let mut obj = OpenFileOptions::new()
        .read_preamble(ReadPreamble::Auto)
        .open_file(input)
        .map_err(|_| NotDone::Skipped("not a DICOM file, or damaged".to_string()))?;
    let sop = finish(&mut obj, input, d, allow_burned_in)?;
    // Encoded in memory, written in one go (through the encoder's small buffer each file
    // took some 60 system calls).
    let mut bytes =
        Vec::with_capacity(std::fs::metadata(input).map_or(1 << 20, |m| m.len() as usize + 4096));
    obj.write_all(&mut bytes)
        .map_err(|e| NotDone::Skipped(format!("cannot be written back: {e}")))?;
    Ok((sop, bytes))
}

const PIXEL_DATA: dicom_core::Tag = dicom_core::Tag(0x7FE0, 0x0010);

/// The burned-in check, the profile, the instance UID and the file meta: the object ready
/// to write; its new instance UID.
fn finish(
    obj: &mut dicom_object::DefaultDicomObject,
    input: &Path,
    d: &Deidentifier,
    allow_burned_in: bool,
) -> Result<String, NotDone> {
    // The patient's name, ID and birth date never reach a message: the scrubber learns
    // them before anything about this file (its path included) can be printed.
    let text = |g: u16, e: u16| {
        obj.get(dicom_core::Tag(g, e))
            .and_then(|v| v.to_str().ok())
            .map(|s| s.trim_end_matches(['\0', ' ']).to_string())
            .unwrap_or_default()
    };
    let (name, id, birth) = (
        text(0x0010, 0x0010),
        text(0x0010, 0x0020),
        text(0x0010, 0x0030),
    );
    crate::privacy::remember(&[&name, &id, &birth]);
    if !allow_burned_in && let Some(why) = burned_in(obj) {
        return Err(NotDone::Refused(why));
    }
    d.apply(obj);
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
    Ok(sop)
}

fn one(input: &Path, out: &Path, d: &Deidentifier, allow_burned_in: bool) -> Outcome {
    let (sop, encoded) = match deidentify_encoded(input, d, allow_burned_in) {
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
    if let Err(e) = std::io::Write::write_all(tmp.as_file_mut(), &encoded.bytes) {
        return Outcome::Skipped(format!("cannot be written: {}", e.kind()));
    }
    // The pixels as bytes, file to file (the kernel copies them: copy_file_range).
    if let Some((file, from, len)) = encoded.copy {
        use std::io::{Read, Seek};
        let mut file = file;
        let copied = file
            .seek(std::io::SeekFrom::Start(from))
            .and_then(|_| std::io::copy(&mut (&mut file).take(len), tmp.as_file_mut()));
        match copied {
            Ok(n) if n == len => {}
            Ok(_) => return Outcome::Skipped("it changed while it was read".into()),
            Err(e) => return Outcome::Skipped(format!("cannot be written: {}", e.kind())),
        }
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
