//! The plan file: a self-describing, versioned JSON document (`"schema": "twinplan-plan"`,
//! `"version"`, coordinate system LPS, units mm) naming the study, series and frame of
//! reference it belongs to and fingerprinting the volume's geometry (for NIfTI inputs,
//! which carry no UIDs), followed by the plan. Writes are atomic (temporary file in the
//! same folder, fsync, rename, folder fsync): a crash leaves the old plan or the new one,
//! never a mix. Reading never writes: a corrupt, truncated, foreign or newer plan is
//! refused with a message and the file is left as it was. No patient identity is written
//! (none is in the types). Depends on the plan types and std/serde only.

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use super::Plan;
use crate::volume::Volume;

/// The schema id every plan file carries.
pub const SCHEMA: &str = "twinplan-plan";
/// The version this build writes; every older one still loads. 2 added catheter paths
/// (`plan.paths`): a version 1 plan reads as one without paths. 3 added a structure's hand
/// edits (`recipe.edits`): an older plan's structures have none, and an older twinplan
/// refuses a version 3 plan rather than drop its edits on saving. 4 added brush strokes and
/// scissors among the edits and a structure marked no-go for paths (`recipe.no_go`): a
/// version 3 structure is not one.
pub const VERSION: u32 = 4;

/// The volume geometry a plan was made on: dimensions, spacing, origin and direction
/// cosines (columns of the voxel-to-patient matrix), patient LPS mm.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct GeometryFingerprint {
    pub dims: [usize; 3],
    pub spacing_mm: [f64; 3],
    pub origin_lps_mm: [f64; 3],
    pub direction: [[f64; 3]; 3],
}

impl GeometryFingerprint {
    pub fn of(volume: &Volume) -> GeometryFingerprint {
        let g = &volume.geometry;
        GeometryFingerprint {
            dims: g.dims,
            spacing_mm: g.spacing_mm,
            origin_lps_mm: g.origin_mm,
            direction: g.directions,
        }
    }

    /// Same grid within a micrometre and a millionth of a direction cosine.
    pub fn matches(&self, other: &GeometryFingerprint) -> bool {
        let close =
            |a: &[f64], b: &[f64], tol: f64| a.iter().zip(b).all(|(x, y)| (x - y).abs() <= tol);
        self.dims == other.dims
            && close(&self.spacing_mm, &other.spacing_mm, 1e-3)
            && close(&self.origin_lps_mm, &other.origin_lps_mm, 1e-3)
            && close(
                self.direction.as_flattened(),
                other.direction.as_flattened(),
                1e-6,
            )
    }

    fn describe(&self) -> String {
        format!(
            "{}×{}×{} voxels of {:.3}×{:.3}×{:.3} mm at ({:.1}, {:.1}, {:.1})",
            self.dims[0],
            self.dims[1],
            self.dims[2],
            self.spacing_mm[0],
            self.spacing_mm[1],
            self.spacing_mm[2],
            self.origin_lps_mm[0],
            self.origin_lps_mm[1],
            self.origin_lps_mm[2]
        )
    }
}

/// What a plan belongs to. UIDs are DICOM identifiers of the study and series, not of the
/// patient; a NIfTI input has none and is matched by its geometry.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct Reference {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub study_uid: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub series_uid: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub frame_of_reference_uid: Option<String>,
    pub geometry: GeometryFingerprint,
}

impl Reference {
    /// The reference of an open volume: its study, series and frame-of-reference UIDs
    /// (those it has) and its grid.
    pub fn of(volume: &Volume) -> Reference {
        Reference {
            study_uid: volume.study_uid.clone(),
            series_uid: volume.series_uid.clone(),
            frame_of_reference_uid: volume.frame_of_reference_uid.clone(),
            geometry: GeometryFingerprint::of(volume),
        }
    }

    /// Whether a plan made for `self` applies to the series `open`: the same series UID
    /// when both have one (a re-export keeps it), else the same grid.
    pub fn accepts(&self, open: &Reference) -> bool {
        match (&self.series_uid, &open.series_uid) {
            (Some(a), Some(b)) => a == b,
            _ => self.geometry.matches(&open.geometry),
        }
    }

    fn describe(&self) -> String {
        match &self.series_uid {
            Some(uid) => format!("series {uid}"),
            None => format!("a volume of {}", self.geometry.describe()),
        }
    }
}

/// The file as written.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct PlanFile {
    pub schema: String,
    #[schemars(range(min = 1))]
    pub version: u32,
    pub coordinate_system: String,
    pub units: String,
    pub reference: Reference,
    pub plan: Plan,
}

impl PlanFile {
    pub fn new(reference: Reference, plan: Plan) -> PlanFile {
        PlanFile {
            schema: SCHEMA.into(),
            version: VERSION,
            coordinate_system: "LPS".into(),
            units: "mm".into(),
            reference,
            plan,
        }
    }
}

/// Why a plan file was not read (the file is left untouched) or not written.
#[derive(Debug, thiserror::Error)]
pub enum PlanFileError {
    #[error("cannot read the plan ({kind}): {path}")]
    Io {
        kind: std::io::ErrorKind,
        path: PathBuf,
    },
    #[error("the plan file is damaged or cut off (line {line}, column {column}: {detail}): {path}")]
    Corrupt {
        line: usize,
        column: usize,
        detail: String,
        path: PathBuf,
    },
    #[error("not a twinplan plan (schema {found:?}): {path}")]
    NotAPlan { found: String, path: PathBuf },
    #[error(
        "the plan was written by a newer twinplan (plan version {found}; this one reads up to \
         {VERSION}): {path}"
    )]
    Newer { found: u32, path: PathBuf },
    #[error("the plan uses {found} coordinates, not LPS millimetres: {path}")]
    Coordinates { found: String, path: PathBuf },
    #[error("the plan was made for {planned}, but {open} is open: {path}")]
    OtherSeries {
        planned: String,
        open: String,
        path: PathBuf,
    },
    #[error("cannot write the plan ({kind}): {path}")]
    Write {
        kind: std::io::ErrorKind,
        path: PathBuf,
    },
    #[error("the plan holds what no plan can ({count} problem(s)): {path}\n  {}", problems.join("\n  "))]
    Invalid {
        count: usize,
        problems: Vec<String>,
        path: PathBuf,
    },
    #[error("{0}")]
    NotAFile(#[from] crate::fsutil::NotAFile),
    #[error(
        "the plan is being changed by another twinplan process (still locked after {seconds} s): {path}"
    )]
    Locked { seconds: u64, path: PathBuf },
}

/// Largest plan file read (bytes): a plan of 10,000 markups is about 4 MB.
pub const MAX_PLAN_BYTES: u64 = 32 << 20;
/// Most markups, paths, bookmarks and structures a plan may hold, each.
pub const MAX_ITEMS: usize = 10_000;
/// Most points one markup or one path's report may hold.
pub const MAX_POINTS: usize = 100_000;
/// Largest |coordinate| a plan may hold (mm): 100 m, beyond any scanner.
pub const MAX_COORDINATE_MM: f64 = 1e5;

/// What is wrong with a plan's content (each item names where): the checks a plan read
/// from a file must pass before anything measures, draws or exports it.
pub fn problems(plan: &Plan) -> Vec<String> {
    let mut out = Vec::new();
    let ok_point = |p: &[f64; 3]| p.iter().all(|c| c.abs() <= MAX_COORDINATE_MM);
    let bad_points = |points: &[[f64; 3]]| points.iter().position(|p| !ok_point(p));
    for (what, n) in [
        ("markups", plan.markups.len()),
        ("paths", plan.paths.len()),
        ("bookmarks", plan.bookmarks.len()),
        ("structures", plan.structures.len()),
    ] {
        if n > MAX_ITEMS {
            out.push(format!("plan.{what}: {n} entries, more than {MAX_ITEMS}"));
        }
    }
    let mut ids = std::collections::HashSet::new();
    for (n, m) in plan.markups.iter().enumerate() {
        let at = format!("plan.markups[{n}] ({:?})", m.name);
        let count = m.points_lps_mm.len();
        match m.kind.points_needed() {
            Some(k) if count != k => out.push(format!(
                "{at}: a {} has {k} point(s), this one has {count}",
                m.kind.name()
            )),
            None if count < m.kind.min_points() || count > MAX_POINTS => out.push(format!(
                "{at}: a {} has {} to {MAX_POINTS} points, this one has {count}",
                m.kind.name(),
                m.kind.min_points()
            )),
            _ => {}
        }
        if let Some(p) = bad_points(&m.points_lps_mm) {
            out.push(format!(
                "{at}: point {} is not a finite coordinate within ±{MAX_COORDINATE_MM} mm",
                p + 1
            ));
        }
        if !m.colour.iter().all(|c| c.is_finite()) {
            out.push(format!("{at}: its colour is not a number"));
        }
        if !ids.insert(m.id) {
            out.push(format!("{at}: id {} is used twice", m.id));
        }
    }
    for (n, b) in plan.bookmarks.iter().enumerate() {
        let at = format!("plan.bookmarks[{n}] ({:?})", b.name);
        if !(ok_point(&b.eye_lps_mm)
            && ok_point(&b.target_lps_mm)
            && b.up.iter().all(|c| c.is_finite()))
        {
            out.push(format!(
                "{at}: a position is not a finite coordinate within ±{MAX_COORDINATE_MM} mm"
            ));
        } else if b.eye_lps_mm == b.target_lps_mm {
            out.push(format!("{at}: the eye is at the target"));
        }
    }
    for (n, p) in plan.paths.iter().enumerate() {
        let at = format!("plan.paths[{n}] ({:?})", p.name);
        let stops: Vec<[f64; 3]> = std::iter::once(p.entry_lps_mm)
            .chain(p.waypoints_lps_mm.iter().copied())
            .chain(std::iter::once(p.target_lps_mm))
            .collect();
        if stops.len() > MAX_POINTS {
            out.push(format!("{at}: more than {MAX_POINTS} waypoints"));
        }
        if let Some(k) = bad_points(&stops) {
            out.push(format!(
                "{at}: stop {} is not a finite coordinate within ±{MAX_COORDINATE_MM} mm",
                k + 1
            ));
        }
        if let Some(d) = &p.device {
            if !(d.outer_diameter_mm > 0.0 && d.outer_diameter_mm <= 100.0) {
                out.push(format!(
                    "{at}: the device's outer diameter {} mm is not within 0–100 mm",
                    d.outer_diameter_mm
                ));
            }
            if let Some(r) = d.min_bend_radius_mm
                && !(r > 0.0 && r.is_finite())
            {
                out.push(format!(
                    "{at}: the device's bend radius {r} mm is not positive"
                ));
            }
        }
        if let Some(r) = &p.report
            && (!r.is_consistent() || r.points_lps_mm.len() > MAX_POINTS)
        {
            out.push(format!(
                "{at}: its saved report's lists do not hold one finite value per point (re-plan it)"
            ));
        }
        if !ids.insert(p.id) {
            out.push(format!("{at}: id {} is used twice", p.id));
        }
    }
    out
}

/// The plan file's JSON Schema (draft 2020-12), generated from the types above: what
/// `docs/schemas/plan.schema.json` ships (a test fails when that file is stale). It says
/// the shape; [`problems`] checks what a schema cannot (points per kind, ids).
pub fn json_schema() -> serde_json::Value {
    serde_json::to_value(schemars::schema_for!(PlanFile)).unwrap_or(serde_json::Value::Null)
}

/// Reads and checks a plan file (any version up to [`VERSION`]); nothing is written.
pub fn read(path: &Path) -> Result<PlanFile, PlanFileError> {
    // A FIFO blocks and /dev/zero never ends: regular files of a plan's size only.
    crate::fsutil::regular_file(path, "a plan file", MAX_PLAN_BYTES)?;
    let bytes = std::fs::read(path).map_err(|e| PlanFileError::Io {
        kind: e.kind(),
        path: path.to_path_buf(),
    })?;
    parse(&bytes, path)
}

/// Parses a plan file's bytes (`path` only names it in errors).
pub fn parse(bytes: &[u8], path: &Path) -> Result<PlanFile, PlanFileError> {
    let corrupt = |e: serde_json::Error| PlanFileError::Corrupt {
        line: e.line(),
        column: e.column(),
        detail: e.to_string(),
        path: path.to_path_buf(),
    };
    let value: serde_json::Value = serde_json::from_slice(bytes).map_err(corrupt)?;
    let schema = value
        .get("schema")
        .and_then(|s| s.as_str())
        .unwrap_or_default();
    if schema != SCHEMA {
        return Err(PlanFileError::NotAPlan {
            found: schema.to_string(),
            path: path.to_path_buf(),
        });
    }
    let version = value
        .get("version")
        .and_then(|v| v.as_u64())
        .and_then(|v| u32::try_from(v).ok())
        .unwrap_or(0);
    if version == 0 {
        return Err(PlanFileError::Corrupt {
            line: 1,
            column: 1,
            detail: format!("\"version\" must be a plan version from 1 to {VERSION}"),
            path: path.to_path_buf(),
        });
    }
    if version > VERSION {
        return Err(PlanFileError::Newer {
            found: version,
            path: path.to_path_buf(),
        });
    }
    let value = upgrade(value, version);
    let file: PlanFile = serde_json::from_value(value).map_err(corrupt)?;
    if file.coordinate_system != "LPS" || file.units != "mm" {
        return Err(PlanFileError::Coordinates {
            found: format!("{} {}", file.coordinate_system, file.units),
            path: path.to_path_buf(),
        });
    }
    let problems = problems(&file.plan);
    if !problems.is_empty() {
        return Err(PlanFileError::Invalid {
            count: problems.len(),
            problems: problems.into_iter().take(20).collect(),
            path: path.to_path_buf(),
        });
    }
    Ok(file)
}

/// Brings an older version's document to the current one: every version adds its step
/// here, so every file ever written stays readable (a fixture of each version is under
/// `tests/plans/`). 1 → 2 only added `plan.paths`, which defaults to none; 2 → 3 only
/// `recipe.edits`, likewise; 3 → 4 only new edit kinds and `recipe.no_go` (default false).
fn upgrade(value: serde_json::Value, _from: u32) -> serde_json::Value {
    value
}

/// Reads a plan and checks it belongs to the open series.
pub fn read_for(path: &Path, open: &Reference) -> Result<PlanFile, PlanFileError> {
    let file = read(path)?;
    if !file.reference.accepts(open) {
        return Err(PlanFileError::OtherSeries {
            planned: file.reference.describe(),
            open: open.describe(),
            path: path.to_path_buf(),
        });
    }
    Ok(file)
}

/// Holds a plan's lock (an advisory lock on `.NAME.lock` beside it) until dropped:
/// read-modify-write by several processes at once (`measure --add-to` run in parallel)
/// lost markups without it.
#[derive(Debug)]
pub struct PlanLock {
    _file: std::fs::File,
}

/// How long [`lock`] waits for another process to finish with the plan.
pub const LOCK_WAIT_S: u64 = 30;

/// Takes the plan's lock, waiting up to [`LOCK_WAIT_S`] seconds for another process that
/// holds it (`on_wait` is called once, to say so).
pub fn lock(path: &Path, on_wait: impl FnOnce()) -> Result<PlanLock, PlanFileError> {
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_else(|| "plan".into());
    let lock_path = crate::fsutil::folder_of(path).join(format!(".{name}.lock"));
    let werr = |e: std::io::Error| PlanFileError::Write {
        kind: e.kind(),
        path: lock_path.clone(),
    };
    let file = std::fs::OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .open(&lock_path)
        .map_err(werr)?;
    let start = std::time::Instant::now();
    let mut on_wait = Some(on_wait);
    loop {
        match file.try_lock() {
            Ok(()) => return Ok(PlanLock { _file: file }),
            Err(std::fs::TryLockError::WouldBlock) => {
                if let Some(f) = on_wait.take() {
                    f();
                }
                if start.elapsed().as_secs() >= LOCK_WAIT_S {
                    return Err(PlanFileError::Locked {
                        seconds: LOCK_WAIT_S,
                        path: path.to_path_buf(),
                    });
                }
                std::thread::sleep(std::time::Duration::from_millis(20));
            }
            Err(std::fs::TryLockError::Error(e)) => return Err(werr(e)),
        }
    }
}

/// Writes a plan atomically: the old file or the new one is always there, whole. The
/// caller holds the plan's [`lock`] when it read the plan it changed.
pub fn write(path: &Path, file: &PlanFile) -> Result<(), PlanFileError> {
    let werr = |e: std::io::Error| PlanFileError::Write {
        kind: e.kind(),
        path: path.to_path_buf(),
    };
    let bytes = encode(file).map_err(|e| werr(std::io::Error::other(e.to_string())))?;
    crate::fsutil::write_atomic(path, &bytes).map_err(werr)
}

/// The bytes of a plan file. Always the current version, whatever version it was read
/// as: an older twinplan must refuse it rather than drop what it does not know on saving.
pub fn encode(file: &PlanFile) -> Result<Vec<u8>, serde_json::Error> {
    let current = PlanFile {
        version: VERSION,
        ..file.clone()
    };
    let mut bytes = serde_json::to_vec_pretty(&current)?;
    bytes.push(b'\n');
    Ok(bytes)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::plan::{Markup, MarkupKind};
    use crate::volume::Geometry;

    fn volume(seed: f64) -> Volume {
        let g = Geometry::axis_aligned([40, 30, 20], [0.7, 0.7, 2.5], [-12.0 + seed, 5.0, 100.0]);
        Volume::new(ndarray::Array3::zeros((20, 30, 40)), g).expect("shape")
    }

    fn sample(reference: Reference) -> PlanFile {
        let mut plan = Plan::default();
        let id = plan.new_id();
        plan.markups.push(Markup {
            id,
            name: "aortic diameter".into(),
            kind: MarkupKind::Distance,
            points_lps_mm: vec![[1.25, -3.5, 100.125], [22.0, -3.5, 100.125]],
            colour: [0.9, 0.8, 0.2],
            visible: true,
            locked: false,
            note: "at the renal arteries".into(),
        });
        PlanFile::new(reference, plan)
    }

    #[test]
    fn impossible_content_is_named_where_it_is() {
        let good = sample(Reference::of(&volume(0.0)));
        assert!(problems(&good.plan).is_empty());
        let mut bad = good.clone();
        bad.plan.markups[0].points_lps_mm.push([0.0; 3]);
        let mut far = good.plan.markups[0].clone();
        far.id = 7;
        far.points_lps_mm[1] = [1e308, 0.0, 0.0];
        bad.plan.markups.push(far);
        let mut path = crate::plan::CatheterPath::through(
            8,
            "P".into(),
            crate::plan::PathVessel::Structure { id: 1 },
            &[[0.0; 3], [0.0, 0.0, 50.0]],
            [1.0; 3],
        );
        path.device = Some(crate::catheter::Device::custom(-1.0, Some(0.0)));
        bad.plan.paths.push(path);
        let found = problems(&bad.plan);
        let all = found.join("\n");
        assert_eq!(found.len(), 4, "{all}");
        assert!(all.contains(
            "plan.markups[0] (\"aortic diameter\"): a distance has 2 point(s), this one has 3"
        ));
        assert!(all.contains("plan.markups[1]") && all.contains("point 2 is not a finite"));
        assert!(all.contains("outer diameter -1 mm") && all.contains("bend radius 0 mm"));
        // Read from a file: refused, nothing written.
        let dir = tempfile::tempdir().expect("tempdir");
        let p = dir.path().join("bad.twinplan.json");
        let bytes = serde_json::to_vec(&bad).expect("json");
        std::fs::write(&p, &bytes).expect("write");
        assert!(matches!(
            read(&p),
            Err(PlanFileError::Invalid { count: 4, .. })
        ));
        assert_eq!(std::fs::read(&p).expect("read"), bytes);
        let mut zero = serde_json::to_value(&good).expect("json");
        zero["version"] = serde_json::json!(0);
        std::fs::write(&p, serde_json::to_vec(&zero).expect("json")).expect("write");
        assert!(read(&p).is_err_and(|e| e.to_string().contains("version")));
    }

    #[test]
    fn a_plan_round_trips_exactly_and_refuses_what_is_not_its_own() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("case.twinplan.json");
        let v = volume(0.0);
        let reference = Reference {
            study_uid: None,
            series_uid: None,
            frame_of_reference_uid: None,
            geometry: GeometryFingerprint::of(&v),
        };
        let file = sample(reference.clone());
        write(&path, &file).expect("write");
        assert_eq!(read_for(&path, &reference).expect("read"), file);
        let text = std::fs::read_to_string(&path).expect("text");
        assert!(text.contains("\"schema\": \"twinplan-plan\"") && text.contains("\"LPS\""));

        // Another grid (moved by 3 mm): refused, naming both.
        let other = Reference {
            geometry: GeometryFingerprint::of(&volume(3.0)),
            ..reference.clone()
        };
        let e = read_for(&path, &other).expect_err("foreign");
        let msg = e.to_string();
        assert!(msg.contains("-12.0") && msg.contains("-9.0"), "{msg}");
        // A series UID decides when both sides have one.
        let planned = Reference {
            series_uid: Some("1.2.3.4".into()),
            ..reference.clone()
        };
        let open = Reference {
            series_uid: Some("1.2.3.5".into()),
            ..reference
        };
        assert!(!planned.accepts(&open) && planned.accepts(&planned.clone()));
    }

    #[test]
    fn damaged_newer_and_foreign_files_are_refused_and_left_as_they_were() {
        let dir = tempfile::tempdir().expect("tempdir");
        let v = volume(0.0);
        let reference = Reference {
            study_uid: Some("1.2".into()),
            series_uid: Some("1.2.3".into()),
            frame_of_reference_uid: None,
            geometry: GeometryFingerprint::of(&v),
        };
        let good = serde_json::to_vec_pretty(&sample(reference)).expect("json");
        let newer = String::from_utf8(good.clone())
            .expect("utf8")
            .replace(&format!("\"version\": {VERSION}"), "\"version\": 7");
        let cases: Vec<(&str, Vec<u8>, &str)> = vec![
            (
                "truncated",
                good[..good.len() / 2].to_vec(),
                "damaged or cut off",
            ),
            ("empty", Vec::new(), "damaged or cut off"),
            ("garbage", b"\x00\xff{{{".to_vec(), "damaged or cut off"),
            ("newer", newer.into_bytes(), "plan version 7"),
            (
                "foreign",
                b"{\"schema\": \"slicer\", \"version\": 1}".to_vec(),
                "not a twinplan plan",
            ),
        ];
        for (name, bytes, said) in cases {
            let p = dir.path().join(name);
            std::fs::write(&p, &bytes).expect("write");
            let e = read(&p).expect_err(name);
            assert!(e.to_string().contains(said), "{name}: {e}");
            assert_eq!(
                std::fs::read(&p).expect("read"),
                bytes,
                "{name} was changed"
            );
        }
    }
}
