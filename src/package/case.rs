//! What a case package carries, gathered from an open study and its plan: the plan with
//! its study, series and frame-of-reference UIDs replaced exactly as the de-identifier
//! replaces them in the images (so the packed plan opens with the packed images, and the
//! package names no original UID); every structure of the plan rebuilt from its recipe
//! and written as binary STL in patient mm; and, when asked, the series' files
//! de-identified with the Basic Profile (`deid`). Images that may show identity in their
//! pixels are refused unless allowed, and then the whole case is refused: a package never
//! silently misses part of its series. Depends on `deid`, `plan`, `session::structures`,
//! `mesh::io`; no I/O beyond reading the series.

use std::path::{Path, PathBuf};

use rayon::prelude::*;

use crate::deid::Deidentifier;
use crate::deid::files::{NotDone, deidentify_file};
use crate::plan::file::PlanFile;
use crate::plan::recipe::Recipe;
use crate::progress::Progress;
use crate::volume::Volume;

/// One image de-identified (its new instance UID and bytes), or its place and why not.
type Deidentified = Result<(String, Vec<u8>), (usize, NotDone)>;

/// The files of a case, ready for [`super::seal`].
#[derive(Debug, Default)]
pub struct Case {
    pub files: Vec<(String, Vec<u8>)>,
    /// Structures whose surface could not be built (empty at the recipe's values), by name.
    pub not_built: Vec<String>,
}

/// The plan as it travels: its reference UIDs replaced like the images'.
pub fn plan_for_package(plan: &PlanFile, d: &Deidentifier) -> PlanFile {
    let mut p = plan.clone();
    let remap = |u: &mut Option<String>| {
        if let Some(uid) = u.as_mut() {
            *uid = d.new_uid(uid);
        }
    };
    remap(&mut p.reference.study_uid);
    remap(&mut p.reference.series_uid);
    remap(&mut p.reference.frame_of_reference_uid);
    p
}

/// A file name from a structure's name: letters, digits, `-` and `_` only.
fn slug(name: &str) -> String {
    let s: String = name
        .chars()
        .map(|c| if c.is_ascii_alphanumeric() { c } else { '_' })
        .take(60)
        .collect();
    let s = s.trim_matches('_').to_string();
    if s.is_empty() { "structure".into() } else { s }
}

/// The structures a case's surfaces are made from: the plan's, or, when it has none, the
/// ones the viewer shows for the series by default (by modality; vessels from the study's
/// aortic-root landmark when `source` lists one).
pub fn recipes(volume: &Volume, plan: &PlanFile, source: &Path) -> Vec<(u64, Recipe)> {
    if !plan.plan.structures.is_empty() {
        return plan
            .plan
            .structures
            .iter()
            .map(|s| (s.id, s.recipe.clone()))
            .collect();
    }
    use crate::session::modality;
    let histogram = crate::volume::histogram::Histogram::of(volume);
    // A volume without a modality (NIfTI) is CT when its values look like HU, as in the
    // viewer.
    let m = if volume.modality.trim().is_empty() && modality::looks_like_ct(&histogram) {
        "CT".to_string()
    } else {
        volume.modality.clone()
    };
    let peak = if modality::is_ct(&m) {
        modality::contrast_peak_hu(&histogram)
    } else {
        None
    };
    let landmarks = crate::session::open::study_landmarks(source);
    crate::session::structures::default_recipes(volume, &m, peak, &landmarks)
        .into_iter()
        .zip(1..)
        .map(|(r, i)| (i, r))
        .collect()
}

/// Gathers the case. `series_files`: the DICOM files of the open series (empty for a
/// NIfTI volume, which cannot carry images); `source`: where the study was opened from.
#[allow(clippy::too_many_arguments)]
pub fn gather(
    volume: &Volume,
    source: &Path,
    series_files: &[PathBuf],
    plan: &PlanFile,
    d: &Deidentifier,
    with_images: bool,
    allow_burned_in: bool,
    progress: &Progress,
) -> Result<Case, String> {
    if with_images && series_files.is_empty() {
        return Err(
            "images can be packaged from a DICOM series only (this volume has no DICOM files)"
                .into(),
        );
    }
    let mut case = Case::default();
    let packed = plan_for_package(plan, d);
    let plan_bytes = crate::plan::file::encode(&packed)
        .map_err(|e| format!("the plan cannot be written: {e}"))?;
    case.files.push((super::PLAN.to_string(), plan_bytes));
    let structures = recipes(volume, plan, source);
    progress
        .set_total((structures.len() + if with_images { series_files.len() } else { 0 }) as u64);
    for (id, recipe) in &structures {
        if progress.is_cancelled() {
            return Err("cancelled".into());
        }
        // The structure's own progress is not this bar's: it counts structures.
        match crate::session::structures::build(volume, recipe, &Progress::new()) {
            Ok(built) => case.files.push((
                format!("surfaces/{id}-{}.stl", slug(&recipe.name)),
                crate::mesh::io::encode_stl(&built.mesh),
            )),
            Err(e) => case.not_built.push(format!("{} ({e})", recipe.name)),
        }
        progress.inc(1);
    }
    if with_images {
        let mut unique: Vec<&PathBuf> = series_files.iter().collect();
        unique.sort();
        unique.dedup();
        let done: Vec<Deidentified> = crate::work::run(|| {
            unique
                .par_iter()
                .enumerate()
                .map(|(i, f)| {
                    let r = if progress.is_cancelled() {
                        Err((i, NotDone::Skipped("cancelled".into())))
                    } else {
                        deidentify_file(f, d, allow_burned_in).map_err(|e| (i, e))
                    };
                    progress.inc(1);
                    r
                })
                .collect()
        });
        let mut names = std::collections::HashSet::new();
        for r in done {
            match r {
                Ok((sop, bytes)) => {
                    let mut name = format!("images/{sop}.dcm");
                    let mut n = 1;
                    while !names.insert(name.clone()) {
                        n += 1;
                        name = format!("images/{sop}-{n}.dcm");
                    }
                    case.files.push((name, bytes));
                }
                Err((i, NotDone::Refused(why))) => {
                    return Err(format!(
                        "image {} of the series may show identity in its pixels ({why}); nothing was packaged",
                        i + 1
                    ));
                }
                Err((i, NotDone::Skipped(why))) => {
                    return Err(format!(
                        "image {} of the series cannot be de-identified ({why}); nothing was packaged",
                        i + 1
                    ));
                }
            }
        }
    }
    Ok(case)
}
