//! The document's file work, as plain functions the viewer runs as background jobs (never
//! in a frame): save a plan (atomically, under the plan file's advisory lock, as the CLI
//! does), open one for the study, import 3D Slicer markups, export CSV or Slicer JSON. Each
//! returns a value the document then takes in one place ([`super::Document::opened`],
//! [`super::Document::saved`], an import as one [`super::Command::Batch`]). Errors are one
//! line with the path last; no patient identity is read or written.

use std::path::Path;

use crate::fsutil::write_atomic;
use crate::plan::file::{self, PlanFile, Reference};
use crate::plan::{Markup, Plan, slicer};

/// What an export writes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Export {
    /// The markups as CSV (one row per measured value).
    Csv,
    /// The markups as 3D Slicer markups JSON.
    Slicer,
}

/// What a save did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Saved {
    Written,
    /// Nothing: `path` holds the plan of another series, and replacing it was not asked.
    OtherSeries,
}

/// Writes `f` to `path` (atomically; waits for another writer's lock). A plan of another
/// series already there is replaced only when `replace_other` (the user was asked).
pub fn save(path: &Path, f: &PlanFile, replace_other: bool) -> Result<Saved, String> {
    let _lock = file::lock(path, || {}).map_err(|e| e.to_string())?;
    if !replace_other
        && path.is_file()
        && file::read(path).is_ok_and(|there| !there.reference.accepts(&f.reference))
    {
        return Ok(Saved::OtherSeries);
    }
    file::write(path, f).map_err(|e| e.to_string())?;
    Ok(Saved::Written)
}

/// Reads the plan at `path` for the study `open` (another study's plan, a newer version or
/// a damaged file is refused).
pub fn open(path: &Path, open: &Reference) -> Result<PlanFile, String> {
    file::read_for(path, open).map_err(|e| e.to_string())
}

/// The markups of a 3D Slicer markups file (ids not yet given), and what was skipped.
pub fn import_slicer(path: &Path) -> Result<(Vec<Markup>, Vec<String>), String> {
    // A FIFO or a device would never end: regular files of a plan's size only.
    crate::fsutil::regular_file(path, "a markups file", file::MAX_PLAN_BYTES)
        .map_err(|e| e.to_string())?;
    let bytes = std::fs::read(path).map_err(|e| format!("{}: {}", path.display(), e.kind()))?;
    let imported = slicer::import(&bytes).map_err(|e| e.to_string())?;
    Ok((imported.markups, imported.skipped))
}

/// Writes the twin as glTF binary (atomically): the surfaces given (name, mesh, colour,
/// opacity) and the plan's visible markups and planned paths (`plan::twin`).
pub fn export_scene(
    path: &Path,
    surfaces: &[(String, std::sync::Arc<crate::mesh::TriMesh>, [f32; 3], f32)],
    plan: &Plan,
) -> Result<(), String> {
    let (lines, landmarks) = crate::plan::twin::parts(plan);
    let twin = crate::mesh::gltf::Twin {
        surfaces: surfaces
            .iter()
            .map(|(name, mesh, colour, opacity)| crate::mesh::gltf::Surface {
                name: name.clone(),
                mesh,
                colour: *colour,
                opacity: *opacity,
            })
            .collect(),
        lines,
        landmarks,
    };
    let bytes = crate::mesh::gltf::to_glb(&twin).map_err(|e| e.to_string())?;
    write_atomic(path, &bytes).map_err(|e| format!("{}: {}", path.display(), e.kind()))
}

/// Writes the plan's markups as CSV or Slicer JSON (atomically).
pub fn export(path: &Path, plan: &Plan, what: Export) -> Result<(), String> {
    let bytes = match what {
        Export::Csv => plan.markups_csv().into_bytes(),
        Export::Slicer => {
            serde_json::to_vec_pretty(&slicer::export(plan)).map_err(|e| e.to_string())?
        }
    };
    write_atomic(path, &bytes).map_err(|e| format!("{}: {}", path.display(), e.kind()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::plan::MarkupKind;

    fn volume(x_mm: f64) -> crate::volume::Volume {
        use nalgebra::Vector3;
        let g = crate::volume::Geometry::new(
            [40, 30, 20],
            [1.0, 1.0, 2.0],
            [x_mm, 0.0, 0.0],
            Vector3::x(),
            Vector3::y(),
            Vector3::z(),
        );
        crate::volume::Volume::new(ndarray::Array3::zeros((20, 30, 40)), g).unwrap()
    }

    fn reference() -> Reference {
        Reference::of(&volume(0.0))
    }

    #[test]
    fn a_saved_plan_opens_for_its_study_and_an_export_reads_back() {
        let dir = tempfile::tempdir().unwrap();
        let mut doc = super::super::Document::for_study(Some(reference()));
        let id = doc.new_id();
        doc.apply(super::super::Command::AddMarkup(Markup {
            id,
            name: "d".into(),
            kind: MarkupKind::Distance,
            points_lps_mm: vec![[0.0; 3], [3.0, 4.0, 0.0]],
            colour: [1.0; 3],
            visible: true,
            locked: false,
            note: String::new(),
        }))
        .unwrap();
        let (f, rev) = doc.to_file().unwrap();
        let path = dir.path().join("p.twinplan.json");
        assert_eq!(save(&path, &f, false), Ok(Saved::Written));
        doc.saved(&path, rev);
        assert!(!doc.dirty());
        let back = open(&path, &reference()).unwrap();
        assert_eq!(back.plan, *doc.plan());
        let csv = dir.path().join("m.csv");
        export(&csv, doc.plan(), Export::Csv).unwrap();
        assert!(std::fs::read_to_string(&csv).unwrap().contains("5"));
        let mrk = dir.path().join("m.mrk.json");
        export(&mrk, doc.plan(), Export::Slicer).unwrap();
        let (markups, skipped) = import_slicer(&mrk).unwrap();
        assert_eq!(markups.len(), 1);
        assert!(skipped.is_empty());
        assert_eq!(
            markups[0].points_lps_mm,
            doc.plan().markups[0].points_lps_mm
        );
        // Another study's reference refuses the plan.
        assert!(open(&path, &Reference::of(&volume(50.0))).is_err());
        assert!(
            import_slicer(dir.path()).is_err(),
            "a folder is not a markups file"
        );
        // Another study's plan saved over this one's file: not without being asked.
        let other = PlanFile::new(Reference::of(&volume(50.0)), Plan::default());
        let before = std::fs::read(&path).unwrap();
        assert_eq!(save(&path, &other, false), Ok(Saved::OtherSeries));
        assert_eq!(std::fs::read(&path).unwrap(), before, "untouched");
        assert_eq!(save(&path, &other, true), Ok(Saved::Written));
        assert!(open(&path, &reference()).is_err(), "replaced");
    }
}
