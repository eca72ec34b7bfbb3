//! Folder scan: every file under a path → patients → studies → series stacks.
//!
//! Headers only, read in parallel. A series is split into separate stacks where its images
//! differ in orientation, matrix size, pixel spacing, echo or localizer role, because each
//! stack is a different volume. Files that are not images, or not readable, are listed with
//! a one-line reason; one bad file never stops the scan. No pixel data is read here.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use nalgebra::Vector3;
use rayon::prelude::*;
use serde::Serialize;

use super::header::{ImageHeader, PatientIdentity, read_header};
use crate::progress::Progress;
use crate::volume::Orientation;

/// One 2D image of a stack: a frame of a file.
#[derive(Debug, Clone)]
pub struct FrameRef {
    pub file: Arc<ImageHeader>,
    pub frame: u32,
}

impl FrameRef {
    pub fn info(&self) -> &super::header::FrameInfo {
        // `frames` has one entry per frame by construction in `read_header`.
        &self.file.frames[self.frame as usize]
    }
}

/// One loadable stack of a series: one volume.
#[derive(Debug, Clone)]
pub struct SeriesInfo {
    pub series_uid: String,
    /// 1-based stack number within the series; 1 when the series was not split.
    pub stack: usize,
    /// How many stacks the series was split into.
    pub stack_count: usize,
    pub series_number: Option<i32>,
    pub modality: String,
    pub description: String,
    pub orientation: Orientation,
    pub rows: u16,
    pub columns: u16,
    /// `[column spacing, row spacing]` (i, j) in mm, when known.
    pub pixel_spacing_mm: Option<[f64; 2]>,
    pub localizer: bool,
    /// Frames in file-discovery order; the loader sorts them by position.
    pub frames: Vec<FrameRef>,
    /// Scan-time notes (e.g. duplicate positions), never patient identity.
    pub notes: Vec<String>,
}

impl SeriesInfo {
    /// `UID` or `UID#n` when the series was split into several stacks.
    pub fn id(&self) -> String {
        if self.stack_count > 1 {
            format!("{}#{}", self.series_uid, self.stack)
        } else {
            self.series_uid.clone()
        }
    }

    pub fn slice_count(&self) -> usize {
        self.frames.len()
    }

    pub fn file_count(&self) -> usize {
        let mut paths: Vec<&Path> = self.frames.iter().map(|f| f.file.path.as_path()).collect();
        paths.sort();
        paths.dedup();
        paths.len()
    }
}

#[derive(Debug, Clone)]
pub struct Study {
    pub study_uid: String,
    pub date: String,
    pub description: String,
    pub series: Vec<SeriesInfo>,
}

#[derive(Debug, Clone)]
pub struct Patient {
    pub identity: PatientIdentity,
    pub studies: Vec<Study>,
}

/// A file that was not loaded, and why.
#[derive(Debug, Clone, Serialize)]
pub struct SkippedFile {
    pub path: PathBuf,
    pub reason: String,
}

/// Everything a scan found.
#[derive(Debug, Clone, Default)]
pub struct ScanReport {
    pub patients: Vec<Patient>,
    pub skipped: Vec<SkippedFile>,
    pub files_seen: usize,
    /// See [`Listing`].
    pub repeated_folders: usize,
    pub other_file_systems: usize,
    pub truncated: bool,
}

impl ScanReport {
    /// Sentences about what listing the folder left out (link loops, other file systems,
    /// the file limit), if anything.
    pub fn listing_notes(&self) -> Vec<String> {
        let mut notes = Vec::new();
        if self.repeated_folders > 0 {
            notes.push(format!(
                "{} folder(s) reached again through links were not entered twice",
                self.repeated_folders
            ));
        }
        if self.other_file_systems > 0 {
            notes.push(format!(
                "{} folder(s) on other file systems were left out",
                self.other_file_systems
            ));
        }
        if self.truncated {
            notes.push(format!("listing stopped at {MAX_LISTED_FILES} files"));
        }
        notes
    }

    /// All stacks, in patient → study → series order.
    pub fn series(&self) -> impl Iterator<Item = &SeriesInfo> {
        self.patients
            .iter()
            .flat_map(|p| p.studies.iter())
            .flat_map(|s| s.series.iter())
    }

    /// Finds a stack by `UID`, `UID#n` or series number (a number is ambiguous when several
    /// stacks share it; then `Err` lists them).
    pub fn find(&self, key: &str) -> Result<&SeriesInfo, Vec<String>> {
        let all: Vec<&SeriesInfo> = self.series().collect();
        if let Some(s) = all.iter().find(|s| s.id() == key) {
            return Ok(s);
        }
        let by_uid: Vec<&&SeriesInfo> = all.iter().filter(|s| s.series_uid == key).collect();
        let matches: Vec<&&SeriesInfo> = if !by_uid.is_empty() {
            by_uid
        } else if let Ok(n) = key.parse::<i32>() {
            all.iter().filter(|s| s.series_number == Some(n)).collect()
        } else {
            Vec::new()
        };
        match matches.as_slice() {
            [one] => Ok(one),
            [] => Err(all.iter().map(|s| describe_choice(s)).collect()),
            many => Err(many.iter().map(|s| describe_choice(s)).collect()),
        }
    }
}

/// One line naming a stack, for choice lists in errors. The free-text SeriesDescription
/// is left out (it can hold a patient's name, "SURNAME^Protocol"): `info --phi` shows it.
pub fn describe_choice(s: &SeriesInfo) -> String {
    format!(
        "{} (series {}, {}, {}x{}x{})",
        s.id(),
        s.series_number
            .map(|n| n.to_string())
            .unwrap_or_else(|| "-".into()),
        if s.modality.is_empty() {
            "no modality"
        } else {
            &s.modality
        },
        s.columns,
        s.rows,
        s.slice_count()
    )
}

/// Most files one scan lists; beyond this the folder is not a study (a whole disk).
pub const MAX_LISTED_FILES: usize = 2_000_000;

/// What listing a folder found, besides its files.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Listing {
    pub files: Vec<PathBuf>,
    /// Folders reached a second time (through a symbolic link loop or a second link to
    /// the same folder): not entered again.
    pub repeated_folders: usize,
    /// Folders on another file system than the one opened (mounts, /proc): left out.
    pub other_file_systems: usize,
    /// Whether listing stopped at [`MAX_LISTED_FILES`].
    pub truncated: bool,
}

/// Lists every regular file under `root` (or `root` itself), skipping hidden entries.
/// Symbolic links are followed, but each folder is entered once (a visited set of device
/// and inode), listing stays on `root`'s file system, stops at [`MAX_LISTED_FILES`], and
/// ends within one folder's entries when `progress` is cancelled (an `Interrupted`
/// error). `progress` counts the files listed so far.
pub fn list_files_with(root: &Path, progress: &Progress) -> std::io::Result<Listing> {
    use std::os::unix::fs::MetadataExt;
    let meta = std::fs::metadata(root)?;
    let mut listing = Listing::default();
    if meta.is_file() {
        listing.files.push(root.to_path_buf());
        return Ok(listing);
    }
    let device = meta.dev();
    let mut visited = std::collections::HashSet::new();
    visited.insert((meta.dev(), meta.ino()));
    let mut stack = vec![root.to_path_buf()];
    let cancelled = || std::io::Error::new(std::io::ErrorKind::Interrupted, "cancelled");
    while let Some(dir) = stack.pop() {
        if progress.is_cancelled() {
            return Err(cancelled());
        }
        let Ok(entries) = std::fs::read_dir(&dir) else {
            continue;
        };
        for entry in entries.flatten() {
            if progress.is_cancelled() {
                return Err(cancelled());
            }
            let name = entry.file_name();
            if name.to_string_lossy().starts_with('.') {
                continue;
            }
            let path = entry.path();
            match std::fs::metadata(&path) {
                Ok(m) if m.is_dir() => {
                    if m.dev() != device {
                        listing.other_file_systems += 1;
                    } else if visited.insert((m.dev(), m.ino())) {
                        stack.push(path);
                    } else {
                        listing.repeated_folders += 1;
                    }
                }
                Ok(m) if m.is_file() => {
                    if listing.files.len() >= MAX_LISTED_FILES {
                        listing.truncated = true;
                        stack.clear();
                        break;
                    }
                    listing.files.push(path);
                    progress.inc(1);
                }
                _ => {}
            }
        }
    }
    listing.files.sort();
    Ok(listing)
}

/// [`list_files_with`] without cancellation, files only.
pub fn list_files(root: &Path) -> std::io::Result<Vec<PathBuf>> {
    list_files_with(root, &Progress::new()).map(|l| l.files)
}

/// Scans a folder (recursively) or a single file.
pub fn scan(root: &Path, progress: &Progress) -> std::io::Result<ScanReport> {
    progress.set_total(0);
    let listing = list_files_with(root, progress)?;
    let files = listing.files;
    progress.set_total(files.len() as u64);
    let results: Vec<(PathBuf, Result<ImageHeader, super::header::SkipReason>)> = files
        .into_par_iter()
        .map(|path| {
            let r = if progress.is_cancelled() {
                Err(super::header::SkipReason("scan cancelled".into()))
            } else {
                read_header(&path)
            };
            progress.inc(1);
            (path, r)
        })
        .collect();
    let files_seen = results.len();
    let mut headers = Vec::new();
    let mut skipped = Vec::new();
    for (path, r) in results {
        match r {
            Ok(h) => headers.push(h),
            Err(reason) => {
                tracing::debug!(path = %path.display(), "skipped: {reason}");
                skipped.push(SkippedFile {
                    path,
                    reason: reason.0,
                })
            }
        }
    }
    if progress.is_cancelled() {
        return Err(std::io::Error::new(
            std::io::ErrorKind::Interrupted,
            "cancelled",
        ));
    }
    let mut report = group(headers);
    report.skipped = skipped;
    report.files_seen = files_seen;
    report.repeated_folders = listing.repeated_folders;
    report.other_file_systems = listing.other_file_systems;
    report.truncated = listing.truncated;
    Ok(report)
}

fn round_key(v: f64, step: f64) -> i64 {
    (v / step).round() as i64
}

/// What must be equal for two frames to share a stack.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
struct StackKey {
    orientation: Option<[i64; 6]>,
    rows: u16,
    columns: u16,
    samples: u16,
    spacing: Option<[i64; 2]>,
    echo: Option<i32>,
    localizer: bool,
}

fn stack_key(f: &FrameRef) -> StackKey {
    let info = f.info();
    StackKey {
        orientation: info.orientation.map(|o| o.map(|v| round_key(v, 1e-3))),
        rows: f.file.rows,
        columns: f.file.columns,
        samples: f.file.samples_per_pixel,
        spacing: info.pixel_spacing.map(|s| s.map(|v| round_key(v, 1e-3))),
        echo: f.file.echo_number,
        localizer: f.file.is_localizer(),
    }
}

/// Slice normal of a frame's orientation (row × column), if known.
pub fn frame_normal(info: &super::header::FrameInfo) -> Option<Vector3<f64>> {
    let o = info.orientation?;
    let n = Vector3::new(o[0], o[1], o[2]).cross(&Vector3::new(o[3], o[4], o[5]));
    (n.norm() > 1e-6).then(|| n.normalize())
}

/// Groups headers into patients → studies → series → stacks.
pub fn group(headers: Vec<ImageHeader>) -> ScanReport {
    // series uid → frames
    // Keyed by series number too: files that share a SeriesInstanceUID but not a series
    // number (edited copies, as in dcm_qa_12bit) are different images and must not merge.
    type SeriesKey = (String, String, String, Option<i32>);
    let mut by_series: BTreeMap<SeriesKey, Vec<FrameRef>> = BTreeMap::new();
    let mut identities: BTreeMap<String, PatientIdentity> = BTreeMap::new();
    let mut studies_meta: BTreeMap<String, (String, String)> = BTreeMap::new();
    for h in headers {
        let h = Arc::new(h);
        let patient_key = format!("{}\u{1}{}", h.patient.id, h.patient.name);
        identities
            .entry(patient_key.clone())
            .or_insert_with(|| h.patient.clone());
        studies_meta
            .entry(h.study_uid.clone())
            .or_insert_with(|| (h.study_date.clone(), h.study_description.clone()));
        let series_uid = if h.series_uid.is_empty() {
            // No UID: group by folder so unrelated files do not merge.
            format!(
                "(no uid) {}",
                h.path
                    .parent()
                    .map(|p| p.display().to_string())
                    .unwrap_or_default()
            )
        } else {
            h.series_uid.clone()
        };
        let key = (
            patient_key,
            h.study_uid.clone(),
            series_uid,
            h.series_number,
        );
        let list = by_series.entry(key).or_default();
        for frame in 0..h.number_of_frames {
            list.push(FrameRef {
                file: h.clone(),
                frame,
            });
        }
    }
    let mut patients: BTreeMap<String, BTreeMap<String, Vec<SeriesInfo>>> = BTreeMap::new();
    for ((patient_key, study_uid, series_uid, _), frames) in by_series {
        let stacks = split_stacks(&series_uid, frames);
        patients
            .entry(patient_key)
            .or_default()
            .entry(study_uid)
            .or_default()
            .extend(stacks);
    }
    // Number the stacks of one SeriesInstanceUID consecutively, so `UID#n` stays unique
    // when one UID was split by series number as well.
    for studies in patients.values_mut() {
        for series in studies.values_mut() {
            let mut count: BTreeMap<String, usize> = BTreeMap::new();
            for s in series.iter() {
                *count.entry(s.series_uid.clone()).or_default() += 1;
            }
            let mut next: BTreeMap<String, usize> = BTreeMap::new();
            for s in series.iter_mut() {
                let n = next.entry(s.series_uid.clone()).or_default();
                *n += 1;
                s.stack = *n;
                s.stack_count = count.get(&s.series_uid).copied().unwrap_or(1);
            }
        }
    }
    let patients = patients
        .into_iter()
        .map(|(key, studies)| Patient {
            identity: identities.get(&key).cloned().unwrap_or_default(),
            studies: studies
                .into_iter()
                .map(|(uid, mut series)| {
                    series.sort_by(|a, b| {
                        (a.series_number, &a.series_uid, a.stack).cmp(&(
                            b.series_number,
                            &b.series_uid,
                            b.stack,
                        ))
                    });
                    let (date, description) = studies_meta.get(&uid).cloned().unwrap_or_default();
                    Study {
                        study_uid: uid,
                        date,
                        description,
                        series,
                    }
                })
                .collect(),
        })
        .collect();
    ScanReport {
        patients,
        ..ScanReport::default()
    }
}

fn split_stacks(series_uid: &str, frames: Vec<FrameRef>) -> Vec<SeriesInfo> {
    // The same image twice (a copy, or the same instance in two transfer syntaxes) is one
    // image: keep the first copy met in path order.
    let mut frames = frames;
    frames.sort_by(|a, b| (&a.file.path, a.frame).cmp(&(&b.file.path, b.frame)));
    let before = frames.len();
    let mut seen = std::collections::BTreeSet::new();
    frames.retain(|f| {
        f.file.sop_instance_uid.is_empty()
            || seen.insert((f.file.sop_instance_uid.clone(), f.frame))
    });
    let copies = before - frames.len();
    let mut groups: BTreeMap<StackKey, Vec<FrameRef>> = BTreeMap::new();
    for f in frames {
        groups.entry(stack_key(&f)).or_default().push(f);
    }
    // Repeated positions inside a group (phases, b-values, acquisitions): split into one
    // stack per repetition when every position repeats equally often.
    let mut stacks: Vec<(Vec<FrameRef>, Vec<String>)> = Vec::new();
    for (_, frames) in groups {
        stacks.extend(split_repeats(frames));
    }
    let count = stacks.len();
    stacks
        .into_iter()
        .enumerate()
        .map(|(n, (frames, mut notes))| {
            if copies > 0 {
                notes.push(format!(
                    "{copies} file(s) repeat an image already present (same SOP Instance UID) and were ignored"
                ));
            }
            let first = frames[0].clone();
            let info = first.info();
            let orientation = frame_normal(info)
                .map(|n| Orientation::from_normal(&n))
                .unwrap_or(Orientation::Axial);
            SeriesInfo {
                series_uid: series_uid.to_string(),
                stack: n + 1,
                stack_count: count,
                series_number: first.file.series_number,
                modality: first.file.modality.clone(),
                description: first.file.series_description.clone(),
                orientation,
                rows: first.file.rows,
                columns: first.file.columns,
                pixel_spacing_mm: info.pixel_spacing.map(|s| [s[1], s[0]]),
                localizer: first.file.is_localizer(),
                frames,
                notes,
            }
        })
        .collect()
}

/// Position of a frame along its normal, rounded to 1 µm, for duplicate detection.
fn position_key(f: &FrameRef) -> Option<(i64, i64, i64)> {
    let p = f.info().position?;
    Some((
        round_key(p[0], 1e-3),
        round_key(p[1], 1e-3),
        round_key(p[2], 1e-3),
    ))
}

fn split_repeats(mut frames: Vec<FrameRef>) -> Vec<(Vec<FrameRef>, Vec<String>)> {
    // Stable order: acquisition, then instance number, then frame, so repetitions are met
    // in acquisition order.
    frames.sort_by(|a, b| {
        (
            a.file.acquisition_number,
            a.file.instance_number,
            &a.file.path,
            a.frame,
        )
            .cmp(&(
                b.file.acquisition_number,
                b.file.instance_number,
                &b.file.path,
                b.frame,
            ))
    });
    let mut counts: BTreeMap<(i64, i64, i64), usize> = BTreeMap::new();
    for f in &frames {
        if let Some(k) = position_key(f) {
            *counts.entry(k).or_default() += 1;
        }
    }
    let max = counts.values().copied().max().unwrap_or(1);
    if max <= 1 {
        return vec![(frames, Vec::new())];
    }
    let min = counts.values().copied().min().unwrap_or(1);
    if min == max {
        let mut out: Vec<Vec<FrameRef>> = vec![Vec::new(); max];
        let mut seen: BTreeMap<(i64, i64, i64), usize> = BTreeMap::new();
        for f in frames {
            let k = position_key(&f).unwrap_or_default();
            let n = seen.entry(k).or_default();
            out[*n].push(f);
            *n += 1;
        }
        let note = format!(
            "{max} volumes share the same slice positions (echoes, phases or acquisitions); split into separate stacks"
        );
        return out.into_iter().map(|v| (v, vec![note.clone()])).collect();
    }
    // Uneven repeats: keep the first frame at each position, report the rest.
    let mut seen = std::collections::BTreeSet::new();
    let mut kept = Vec::new();
    let mut dropped = 0usize;
    for f in frames {
        match position_key(&f) {
            Some(k) if !seen.insert(k) => dropped += 1,
            _ => kept.push(f),
        }
    }
    vec![(
        kept,
        vec![format!(
            "{dropped} image(s) duplicate the position of another image and were left out"
        )],
    )]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn listing_survives_link_loops_and_can_be_cancelled() {
        let dir = tempfile::tempdir().expect("tempdir");
        let a = dir.path().join("a");
        std::fs::create_dir_all(a.join("b")).expect("mkdir");
        std::fs::write(a.join("b/x.dcm"), b"not dicom").expect("write");
        // b/up -> a and a/self -> a: two ways back into folders already seen.
        std::os::unix::fs::symlink(&a, a.join("b/up")).expect("link");
        std::os::unix::fs::symlink(&a, a.join("self")).expect("link");
        let l = list_files_with(dir.path(), &Progress::new()).expect("listing ends");
        assert_eq!(l.files, vec![a.join("b/x.dcm")]);
        assert_eq!(l.repeated_folders, 2);
        let report = scan(dir.path(), &Progress::new()).expect("scan");
        assert_eq!((report.files_seen, report.skipped.len()), (1, 1));
        assert_eq!(report.repeated_folders, 2);
        let cancelled = Progress::new();
        cancelled.cancel();
        let e = list_files_with(dir.path(), &cancelled).expect_err("cancelled");
        assert_eq!(e.kind(), std::io::ErrorKind::Interrupted);
        assert!(scan(dir.path(), &cancelled).is_err());
    }
}
