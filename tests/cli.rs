//! The `twinplan` binary as a user runs it: phantom → info → convert, exit codes, `--phi`.

use std::process::Command;

fn twinplan(args: &[&str]) -> (i32, String, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_twinplan"))
        .args(args)
        .output()
        .expect("run twinplan");
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[test]
fn phantom_info_convert_round_trip() {
    let dir = tempfile::tempdir().expect("tempdir");
    let series = dir.path().join("series");
    let s = series.to_str().expect("utf8 path");
    let (code, out, err) = twinplan(&["phantom", "--out", s, "--size", "40x36x30"]);
    assert_eq!(code, 0, "{out}{err}");
    assert!(series.join("ground_truth.json").exists());
    let truth: serde_json::Value =
        serde_json::from_slice(&std::fs::read(series.join("ground_truth.json")).expect("read"))
            .expect("json");
    assert_eq!(truth["coordinate_system"], "LPS");

    let dicom_dir = series.join("dicom");
    let s = dicom_dir.to_str().expect("utf8 path");
    let (code, out, _) = twinplan(&["info", s, "--json"]);
    assert_eq!(code, 0);
    let info: serde_json::Value = serde_json::from_str(&out).expect("info json");
    let series_info = &info["patients"][0]["studies"][0]["series"][0];
    assert_eq!(series_info["dimensions"], serde_json::json!([40, 36, 30]));
    // Spacing as the phantom defines it: 400 mm / 40 columns, slices over 640 mm / 30,
    // the slice spacing measured from the files' positions.
    let spacing: Vec<f64> =
        serde_json::from_value(series_info["spacing_mm"].clone()).expect("spacing");
    assert!((spacing[0] - 10.0).abs() < 1e-9 && (spacing[1] - 10.0).abs() < 1e-9);
    assert!((spacing[2] - 640.0 / 30.0).abs() < 1e-6, "{spacing:?}");
    assert_eq!(series_info["modality"], "CT");
    assert_eq!(info["skipped"], serde_json::json!([]));
    let name = twinplan::phantom::phantom_patient().name;
    assert!(!out.contains(&name), "identity hidden without --phi");
    let (_, text, _) = twinplan(&["info", s, "--phi"]);
    assert!(text.contains(&name), "--phi shows identity");

    let nii = dir.path().join("out.nii.gz");
    let (code, out, err) = twinplan(&["convert", s, "--out", nii.to_str().expect("utf8")]);
    assert_eq!(code, 0, "{out}{err}");
    let back = twinplan::nifti_io::read_nifti(&nii).expect("read nifti");
    let ph = twinplan::phantom::generate(
        &twinplan::phantom::PhantomOptions::default().with_size([40, 36, 30]),
        &twinplan::progress::Progress::new(),
    )
    .expect("phantom");
    assert_eq!(back.voxels, ph.volume.voxels);
    assert!(
        back.geometry.max_corner_distance_mm(&ph.volume.geometry) < 1e-3,
        "float32 NIfTI affine"
    );
}

#[test]
fn exit_codes() {
    let (code, _, _) = twinplan(&["info", "/no/such/folder"]);
    assert_eq!(code, 1, "failure");
    let (code, _, _) = twinplan(&["phantom", "--out", "/tmp/x", "--size", "12x"]);
    assert_eq!(code, 2, "usage");
    let (code, _, err) = twinplan(&["convert", ".", "--out", "volume.raw"]);
    assert_eq!(code, 2, "usage: {err}");
    let (code, out, _) = twinplan(&["--help"]);
    assert_eq!(code, 0);
    for cmd in ["info", "convert", "phantom"] {
        assert!(out.contains(cmd));
        let (code, _, _) = twinplan(&[cmd, "--help"]);
        assert_eq!(code, 0);
    }
}

#[test]
fn ambiguous_folder_lists_choices_and_exits_2() {
    let dir = tempfile::tempdir().expect("tempdir");
    for (sub, size) in [("a", "16x16x8"), ("b", "20x16x8")] {
        let p = dir.path().join(sub);
        let (code, _, _) = twinplan(&[
            "phantom",
            "--out",
            p.to_str().expect("utf8"),
            "--size",
            size,
        ]);
        assert_eq!(code, 0);
    }
    let nii = dir.path().join("x.nii");
    let (code, _, err) = twinplan(&[
        "convert",
        dir.path().to_str().expect("utf8"),
        "--out",
        nii.to_str().expect("utf8"),
    ]);
    assert_eq!(code, 2, "{err}");
    assert!(err.contains("--series"), "{err}");
    assert!(err.matches("2.25.").count() >= 2, "choices listed: {err}");
}

#[test]
fn mesh_command_writes_a_closed_surface_and_reports_timings() {
    let dir = tempfile::tempdir().expect("tempdir");
    let sample = concat!(env!("CARGO_MANIFEST_DIR"), "/sample_data/phantom_cta/dicom");
    let out = dir.path().join("vessels.stl");
    let (code, stdout, err) = twinplan(&[
        "mesh",
        sample,
        "--preset",
        "vessels",
        "--seed",
        "25,15,-150",
        "--smooth",
        "5",
        "--target-triangles",
        "8000",
        "--out",
        out.to_str().expect("utf8"),
        "--timings",
    ]);
    assert_eq!(code, 0, "{err}");
    let t: serde_json::Value = serde_json::from_str(stdout.trim()).expect("one JSON object");
    for key in [
        "triangles",
        "vertices",
        "load_s",
        "segment_s",
        "surface_s",
        "smooth_s",
        "decimate_s",
        "write_s",
    ] {
        assert!(t.get(key).is_some(), "missing {key}");
    }
    assert!(t["triangles"].as_u64().unwrap_or(0) <= 8000);
    let mesh = twinplan::mesh::io::read_mesh(&out).expect("read back");
    assert_eq!(
        mesh.triangle_count() as u64,
        t["triangles"].as_u64().unwrap_or(0)
    );
    assert!(mesh.check().is_watertight());
    let header = std::fs::read(&out).expect("stl");
    let name = twinplan::phantom::phantom_patient().name;
    assert!(
        !String::from_utf8_lossy(&header).contains(&name),
        "no identity in the file"
    );
    // Usage errors.
    let (code, _, _) = twinplan(&["mesh", sample, "--preset", "nonsense", "--out", "x.stl"]);
    assert_eq!(code, 2);
    let (code, _, _) = twinplan(&["mesh", sample, "--iso", "200", "--out", "x.txt"]);
    assert_eq!(code, 2);
}

#[test]
fn help_describes_each_command_once() {
    let (code, out, _) = twinplan(&["--help"]);
    assert_eq!(code, 0);
    let line = |cmd: &str| {
        out.lines()
            .find(|l| l.trim_start().starts_with(&format!("{cmd} ")))
            .unwrap_or_default()
            .to_string()
    };
    // Each subcommand's line, exactly as the command table in the README describes it.
    let expected = [
        (
            "info",
            "List the studies and series in a folder or file, with geometry, warnings and skipped files",
        ),
        (
            "convert",
            "Convert one series to NIfTI (.nii or .nii.gz), with LPS geometry written as RAS sform/qform",
        ),
        (
            "mesh",
            "Segment one structure and write its surface (STL, OBJ or PLY, patient mm)",
        ),
        (
            "render",
            "Open a study in the viewer, wait for its structures, save a PNG screenshot and exit (works under Xvfb; for documentation and CI)",
        ),
        (
            "plan-info",
            "List a plan file's measurements and landmarks (kind, name, value, unit, points)",
        ),
    ];
    for (cmd, about) in expected {
        assert_eq!(line(cmd).trim(), format!("{cmd:<10} {about}"), "{out}");
    }
    for cmd in [
        "frames",
        "measure",
        "plan",
        "phantom",
        "anonymize",
        "pack",
        "unpack",
        "keygen",
        "audit",
        "help",
    ] {
        assert!(!line(cmd).is_empty(), "{cmd} is not listed: {out}");
    }
    // Each listed exactly once.
    let commands: Vec<&str> = out
        .lines()
        .skip_while(|l| !l.starts_with("Commands:"))
        .skip(1)
        .take_while(|l| !l.trim().is_empty())
        .filter_map(|l| l.split_whitespace().next())
        .collect();
    assert_eq!(
        commands,
        [
            "info",
            "convert",
            "mesh",
            "render",
            "frames",
            "measure",
            "plan",
            "plan-info",
            "phantom",
            "anonymize",
            "pack",
            "unpack",
            "keygen",
            "audit",
            "help"
        ]
    );
}

#[test]
fn measure_prints_the_value_and_what_lies_at_each_point() {
    let sample = concat!(env!("CARGO_MANIFEST_DIR"), "/sample_data/phantom_cta/dicom");
    let (code, out, err) =
        twinplan(&["measure", sample, "--distance", "0,0,0", "3,4,12", "--json"]);
    assert_eq!(code, 0, "{err}");
    let v: serde_json::Value = serde_json::from_str(&out).expect("json");
    assert!(
        (v["value"].as_f64().expect("value") - 13.0).abs() < 1e-9,
        "{out}"
    );
    assert_eq!(v["unit"], "mm");
    assert_eq!(v["points"][0]["inside"], true, "{out}");
    assert!(v["points"][0]["value"].is_number(), "{out}");
    // Far outside the 400 × 400 × 640 mm phantom: said, with no value.
    let (code, out, _) = twinplan(&[
        "measure", sample, "--angle", "10,0,0", "0,0,0", "0,0,5000", "--json",
    ]);
    assert_eq!(code, 0);
    let v: serde_json::Value = serde_json::from_str(&out).expect("json");
    assert!(
        (v["value"].as_f64().expect("value") - 90.0).abs() < 1e-9,
        "{out}"
    );
    assert_eq!(v["points"][2]["inside"], false, "{out}");
    assert!(v["points"][2]["value"].is_null(), "{out}");
    // An angle whose vertex is one of its ends is a usage error.
    let (code, _, err) = twinplan(&["measure", sample, "--angle", "0,0,0", "0,0,0", "1,0,0"]);
    assert_eq!(code, 2, "{err}");
}

#[test]
fn measure_adds_to_a_plan_for_its_series_and_refuses_another_series_plan() {
    let sample = concat!(env!("CARGO_MANIFEST_DIR"), "/sample_data/phantom_cta/dicom");
    let dir = tempfile::tempdir().expect("tempdir");
    let plan = dir.path().join("case.twinplan.json");
    let p = plan.to_str().expect("utf8 path");
    // Negative coordinates are values, not options.
    let (code, out, err) = twinplan(&[
        "measure",
        sample,
        "--distance",
        "-10,0,-250",
        "20,0,-250",
        "--add-to",
        p,
        "--name",
        "Aorta",
    ]);
    assert_eq!(code, 0, "{out}{err}");
    let (code, out, err) = twinplan(&[
        "measure", sample, "--angle", "10,0,-5", "0,0,-5", "0,-7,-5", "--add-to", p,
    ]);
    assert_eq!(code, 0, "{out}{err}");
    let (code, out, err) = twinplan(&["plan-info", p, "--json"]);
    assert_eq!(code, 0, "{err}");
    let v: serde_json::Value = serde_json::from_str(&out).expect("json");
    assert_eq!(v[0]["name"], "Aorta");
    assert!((v[0]["measurements"][0]["value"].as_f64().expect("length") - 30.0).abs() < 1e-9);
    assert_eq!(v[1]["name"], "A-1");
    assert!((v[1]["measurements"][0]["value"].as_f64().expect("angle") - 90.0).abs() < 1e-9);
    // The same plan against another series (a smaller phantom): refused, file untouched.
    let other = dir.path().join("other");
    let (code, _, err) = twinplan(&[
        "phantom",
        "--out",
        other.to_str().expect("utf8"),
        "--size",
        "20x20x20",
    ]);
    assert_eq!(code, 0, "{err}");
    let before = std::fs::read(&plan).expect("read");
    let other_dicom = other.join("dicom");
    let (code, _, err) = twinplan(&[
        "measure",
        other_dicom.to_str().expect("utf8"),
        "--distance",
        "0,0,0",
        "1,0,0",
        "--add-to",
        p,
    ]);
    assert_eq!(code, 1, "{err}");
    assert!(err.contains("was made for"), "{err}");
    assert_eq!(std::fs::read(&plan).expect("read"), before);
}

#[test]
fn plan_info_lists_measurements_and_exports_slicer_markups() {
    use twinplan::plan::file::{GeometryFingerprint, PlanFile, Reference};
    use twinplan::plan::{Markup, MarkupKind, Plan};
    let dir = tempfile::tempdir().expect("tempdir");
    let markup = |id, name: &str, kind, points: Vec<[f64; 3]>| Markup {
        id,
        name: name.into(),
        kind,
        points_lps_mm: points,
        colour: [1.0, 0.5, 0.0],
        visible: true,
        locked: false,
        note: String::new(),
    };
    let plan = Plan {
        markups: vec![
            markup(
                1,
                "neck",
                MarkupKind::Distance,
                vec![[0.0, 0.0, 0.0], [3.0, 4.0, 12.0]],
            ),
            markup(
                2,
                "bend",
                MarkupKind::Angle,
                vec![[1.0, 0.0, 0.0], [0.0, 0.0, 0.0], [0.0, 2.0, 0.0]],
            ),
        ],
        next_id: 2,
        ..Plan::default()
    };
    let reference = Reference {
        study_uid: None,
        series_uid: None,
        frame_of_reference_uid: None,
        geometry: GeometryFingerprint {
            dims: [4, 4, 4],
            spacing_mm: [1.0; 3],
            origin_lps_mm: [0.0; 3],
            direction: [[1.0, 0.0, 0.0], [0.0, 1.0, 0.0], [0.0, 0.0, 1.0]],
        },
    };
    let file = dir.path().join("case.twinplan.json");
    twinplan::plan::file::write(&file, &PlanFile::new(reference, plan)).expect("write plan");
    let out_mrk = dir.path().join("case.mrk.json");
    let (code, out, err) = twinplan(&[
        "plan-info",
        file.to_str().expect("utf8"),
        "--csv",
        "--slicer",
        out_mrk.to_str().expect("utf8"),
    ]);
    assert_eq!(code, 0, "{out}{err}");
    // 3-4-12: 13 mm exactly; the right angle 90°.
    assert!(
        out.lines().any(|l| l.contains("neck") && l.contains("13")),
        "{out}"
    );
    assert!(
        out.lines().any(|l| l.contains("bend") && l.contains("90")),
        "{out}"
    );
    let back = twinplan::plan::slicer::import(&std::fs::read(&out_mrk).expect("mrk written"))
        .expect("slicer markups");
    assert_eq!(back.markups.len(), 2);
    assert_eq!(
        back.markups[0].points_lps_mm,
        vec![[0.0, 0.0, 0.0], [3.0, 4.0, 12.0]]
    );
    assert!((back.markups[1].measurements()[0].value - 90.0).abs() < 1e-9);
    // The listing without options, and a plan that is not there.
    let (code, out, _) = twinplan(&["plan-info", file.to_str().expect("utf8")]);
    assert_eq!(code, 0);
    assert!(
        out.contains("length 13.00 mm") && out.contains("angle 90.00 deg"),
        "{out}"
    );
    let missing = dir.path().join("none.twinplan.json");
    let (code, _, err) = twinplan(&["plan-info", missing.to_str().expect("utf8")]);
    assert_ne!(code, 0);
    assert!(err.contains("none.twinplan.json"), "{err}");
}

#[test]
fn the_demo_plan_belongs_to_the_sample_and_matches_its_truth() {
    let root = env!("CARGO_MANIFEST_DIR");
    let plan = format!("{root}/sample_data/phantom_cta/demo.twinplan.json");
    let sample = format!("{root}/sample_data/phantom_cta/dicom");
    let truth: serde_json::Value = serde_json::from_slice(
        &std::fs::read(format!("{root}/sample_data/phantom_cta/ground_truth.json")).expect("read"),
    )
    .expect("json");
    let known = |list: &str, name: &str, key: &str| {
        truth[list]
            .as_array()
            .and_then(|a| a.iter().find(|d| d["name"] == name))
            .and_then(|d| d[key].as_f64())
            .expect("in the truth")
    };
    let (code, out, err) = twinplan(&["plan-info", &plan, "--json"]);
    assert_eq!(code, 0, "{err}");
    let v: serde_json::Value = serde_json::from_str(&out).expect("json");
    let value = |i: usize| v[i]["measurements"][0]["value"].as_f64().expect("value");
    let angle = known("angles", "aortic_bifurcation_angle", "angle_deg");
    let renal = known(
        "distances",
        "bifurcation_to_left_renal_ostium",
        "distance_mm",
    );
    assert!((value(1) - angle).abs() < 1e-6, "{} vs {angle}", value(1));
    assert!((value(2) - renal).abs() < 1e-6, "{} vs {renal}", value(2));
    // It belongs to the sample: adding to a copy of it is accepted.
    let dir = tempfile::tempdir().expect("tempdir");
    let copy = dir.path().join("demo.twinplan.json");
    std::fs::copy(&plan, &copy).expect("copies");
    let (code, _, err) = twinplan(&[
        "measure",
        &sample,
        "--distance",
        "0,0,0",
        "1,0,0",
        "--add-to",
        copy.to_str().expect("utf8"),
    ]);
    assert_eq!(code, 0, "{err}");
}

/// The analytic centreline of the phantom from a point of the right femoral artery to the
/// arch apex: femoral, external and common iliac, then the aorta up to the apex.
fn phantom_access_centreline(entry: [f64; 3]) -> Vec<[f64; 3]> {
    let root = env!("CARGO_MANIFEST_DIR");
    let text = std::fs::read_to_string(format!("{root}/sample_data/phantom_cta/ground_truth.json"))
        .expect("ground truth");
    let g: serde_json::Value = serde_json::from_str(&text).expect("json");
    let point = |v: &serde_json::Value| -> [f64; 3] {
        [0, 1, 2].map(|a| v[a].as_f64().expect("coordinate"))
    };
    let line = |name: &str| -> Vec<[f64; 3]> {
        g["centrelines"]
            .as_array()
            .expect("centrelines")
            .iter()
            .find(|c| c["name"] == name)
            .expect("centreline")["points_mm"]
            .as_array()
            .expect("points")
            .iter()
            .map(point)
            .collect()
    };
    let apex = point(
        &g["landmarks"]
            .as_array()
            .expect("landmarks")
            .iter()
            .find(|l| l["name"] == "aortic_arch_apex")
            .expect("apex")["position_mm"],
    );
    let d = |a: &[f64; 3], b: &[f64; 3]| {
        ((a[0] - b[0]).powi(2) + (a[1] - b[1]).powi(2) + (a[2] - b[2]).powi(2)).sqrt()
    };
    let oriented = |mut p: Vec<[f64; 3]>, from: &[f64; 3]| {
        if d(&p[0], from) > d(&p[p.len() - 1], from) {
            p.reverse();
        }
        p
    };
    let nearest = |p: &[[f64; 3]], q: &[f64; 3]| {
        (0..p.len())
            .min_by(|&a, &b| d(&p[a], q).total_cmp(&d(&p[b], q)))
            .expect("points")
    };
    let femoral = oriented(line("femoral_right"), &entry);
    let mut chain = femoral[nearest(&femoral, &entry)..].to_vec();
    for name in ["external_iliac_right", "common_iliac_right"] {
        let next = oriented(line(name), &chain[chain.len() - 1]);
        chain.extend(next);
    }
    let aorta = oriented(line("aorta"), &chain[chain.len() - 1]);
    chain.extend_from_slice(&aorta[..=nearest(&aorta, &apex)]);
    chain
}

fn phantom_truth() -> twinplan::phantom::GroundTruth {
    let root = env!("CARGO_MANIFEST_DIR");
    serde_json::from_slice(
        &std::fs::read(format!("{root}/sample_data/phantom_cta/ground_truth.json"))
            .expect("ground truth"),
    )
    .expect("ground truth parses")
}

fn point_of(v: &serde_json::Value) -> [f64; 3] {
    [0, 1, 2].map(|a| v[a].as_f64().expect("coordinate"))
}

/// Every analytic centreline point, and whether it lies on a straight stretch: the
/// centreline's radius of curvature (over points 2 mm either side) above `radius_mm`
/// within `margin_mm`, and the point more than `margin_mm` from its branch's ends (where
/// branches meet).
fn straight_truth_points(
    truth: &twinplan::phantom::GroundTruth,
    radius_mm: f64,
    margin_mm: f64,
) -> Vec<([f64; 3], bool)> {
    use nalgebra::Vector3;
    let mut out = Vec::new();
    for c in &truth.centrelines {
        let p: Vec<Vector3<f64>> = c.points_mm.iter().map(|q| Vector3::from(*q)).collect();
        let mut along = vec![0.0];
        for w in p.windows(2) {
            along.push(along[along.len() - 1] + (w[1] - w[0]).norm());
        }
        let total = along[along.len() - 1];
        let curvature: Vec<f64> = (0..p.len())
            .map(|i| {
                if i < 4 || i + 4 >= p.len() {
                    return f64::INFINITY;
                }
                let (a, b, e) = (p[i - 4], p[i], p[i + 4]);
                let area2 = (b - a).cross(&(e - a)).norm();
                2.0 * area2 / ((b - a).norm() * (e - b).norm() * (a - e).norm())
            })
            .collect();
        for i in 0..p.len() {
            let near_end = along[i] < margin_mm || total - along[i] < margin_mm;
            let bent = (0..p.len())
                .filter(|&j| (along[j] - along[i]).abs() <= margin_mm)
                .any(|j| curvature[j] > 1.0 / radius_mm);
            out.push((c.points_mm[i], !near_end && !bent));
        }
    }
    out
}

#[test]
fn plan_finds_the_access_path_of_the_phantom_and_refuses_a_target_outside_it() {
    let root = env!("CARGO_MANIFEST_DIR");
    let sample = format!("{root}/sample_data/phantom_cta/dicom");
    let dir = tempfile::tempdir().expect("tempdir");
    let json = dir.path().join("path.json");
    let entry = [-59.0, -38.0, -600.0];
    let truth = phantom_access_centreline(entry);
    let apex = truth[truth.len() - 1];
    let (code, out, err) = twinplan(&[
        "plan",
        &sample,
        "--from=-59,-38,-600",
        &format!("--to={},{},{}", apex[0], apex[1], apex[2]),
        "--json",
        json.to_str().expect("utf-8"),
    ]);
    assert_eq!(code, 0, "{out}{err}");
    assert!(out.contains("narrowest lumen"), "{out}");
    let r: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&json).expect("written")).expect("json");
    let d = |a: &[f64; 3], b: &[f64; 3]| {
        ((a[0] - b[0]).powi(2) + (a[1] - b[1]).powi(2) + (a[2] - b[2]).powi(2)).sqrt()
    };
    let truth_length: f64 = truth.windows(2).map(|w| d(&w[0], &w[1])).sum();
    let length = r["length_mm"].as_f64().expect("length");
    assert!(
        (length - truth_length).abs() < 0.01 * truth_length,
        "{length} vs {truth_length}"
    );
    let chord = d(&truth[0], &apex);
    let tortuosity = r["tortuosity"].as_f64().expect("tortuosity");
    assert!((tortuosity - truth_length / chord).abs() < 0.02 * truth_length / chord);
    // Every point near the analytic centreline (2 × 2 × 3.2 mm voxels): within a voxel.
    let points: Vec<[f64; 3]> = r["points_lps_mm"]
        .as_array()
        .expect("points")
        .iter()
        .map(|p| [0, 1, 2].map(|a| p[a].as_f64().expect("coordinate")))
        .collect();
    for p in &points {
        let off = truth.iter().map(|q| d(p, q)).fold(f64::INFINITY, f64::min);
        assert!(off < 3.2, "{p:?} is {off} mm from the centreline");
    }
    for key in [
        "min_lumen_diameter_mm",
        "min_lumen_position_lps_mm",
        "min_radius_of_curvature_mm",
        "diameters_mm",
        "load_s",
        "search_s",
    ] {
        assert!(!r[key].is_null(), "{key} missing");
    }
    assert_eq!(
        r["diameters_mm"].as_array().map(Vec::len),
        Some(points.len())
    );
    // On straight stretches (the analytic centreline's radius of curvature over 150 mm
    // within 15 mm, and over 15 mm from where branches meet) within half a voxel (1 mm).
    let truth_file = phantom_truth();
    let straight = straight_truth_points(&truth_file, 150.0, 15.0);
    let mut on_straight = 0;
    for p in &points {
        let (off, is_straight) = straight
            .iter()
            .map(|(q, s)| (d(p, q), *s))
            .min_by(|a, b| a.0.total_cmp(&b.0))
            .expect("truth points");
        if is_straight {
            on_straight += 1;
            assert!(off < 1.0, "{p:?} is {off} mm from a straight centreline");
        }
    }
    assert!(on_straight > points.len() / 2, "{on_straight}");
    // The narrowest lumen on the way is the right common iliac stenosis: its diameter
    // within a voxel (2 mm) and its place within 2 mm.
    let cases = truth_file
        .cases
        .as_ref()
        .expect("schema 2 truth has the cases");
    let narrowest = r["min_lumen_diameter_mm"].as_f64().expect("diameter");
    let at = point_of(&r["min_lumen_position_lps_mm"]);
    assert!(
        (narrowest - cases.stenosis.min_diameter_mm).abs() < 2.0,
        "{narrowest} vs {}",
        cases.stenosis.min_diameter_mm
    );
    assert!(
        d(&at, &cases.stenosis.min_position_mm) < 2.0,
        "{at:?} vs {:?}",
        cases.stenosis.min_position_mm
    );
    // The widest is the infrarenal aneurysm's: within a voxel, at its widest point.
    let widest = r["max_lumen_diameter_mm"].as_f64().expect("diameter");
    let at = point_of(&r["max_lumen_position_lps_mm"]);
    assert!(
        (widest - cases.aneurysm.max_diameter_mm).abs() < 2.0,
        "{widest} vs {}",
        cases.aneurysm.max_diameter_mm
    );
    assert!(d(&at, &cases.aneurysm.max_position_mm) < 5.0, "{at:?}");

    // A target in the belly, far from any artery: exit 1, the nearest vessel point named.
    let (code, _, err) = twinplan(&["plan", &sample, "--from=-59,-38,-600", "--to=60,60,-300"]);
    assert_eq!(code, 1, "{err}");
    assert!(
        err.contains("from the vessel") && err.contains("nearest point"),
        "{err}"
    ); // Coordinates that are not finite numbers are refused before anything is read.
    let (code, _, err) = twinplan(&["plan", &sample, "--from=-59,-38,-600", "--to=inf,0,0"]);
    assert_eq!(code, 2, "{err}");
    assert!(err.contains("finite"), "{err}");
}

/// The points of a `twinplan plan --json` file.
fn path_points(r: &serde_json::Value) -> Vec<[f64; 3]> {
    r["points_lps_mm"]
        .as_array()
        .expect("points")
        .iter()
        .map(point_of)
        .collect()
}

fn distance(a: &[f64; 3], b: &[f64; 3]) -> f64 {
    ((a[0] - b[0]).powi(2) + (a[1] - b[1]).powi(2) + (a[2] - b[2]).powi(2)).sqrt()
}

/// Runs `twinplan plan` on the bundled phantom with `args` and reads its JSON.
fn plan_json(args: &[&str]) -> serde_json::Value {
    let root = env!("CARGO_MANIFEST_DIR");
    let sample = format!("{root}/sample_data/phantom_cta/dicom");
    let dir = tempfile::tempdir().expect("tempdir");
    let json = dir.path().join("path.json");
    let mut all = vec!["plan", sample.as_str()];
    all.extend_from_slice(args);
    all.extend_from_slice(&["--json", json.to_str().expect("utf-8")]);
    let (code, out, err) = twinplan(&all);
    assert_eq!(code, 0, "{out}{err}");
    serde_json::from_str(&std::fs::read_to_string(&json).expect("written")).expect("json")
}

#[test]
fn plan_measures_the_tortuous_iliac_and_reaches_a_renal_artery_through_a_waypoint() {
    let truth = phantom_truth();
    let cases = truth.cases.as_ref().expect("cases");
    let line = |name: &str| {
        truth
            .centrelines
            .iter()
            .find(|c| c.name == name)
            .expect("centreline")
            .points_mm
            .clone()
    };
    let arg = |flag: &str, p: &[f64; 3]| format!("--{flag}={},{},{}", p[0], p[1], p[2]);
    // The whole tortuous left external iliac, groin to iliac bifurcation.
    let iliac = line(&cases.tortuous_iliac.branch);
    let (groin, top) = (iliac[iliac.len() - 1], iliac[0]);
    let r = plan_json(&[&arg("from", &groin), &arg("to", &top)]);
    let t = &cases.tortuous_iliac;
    let tortuosity = r["tortuosity"].as_f64().expect("tortuosity");
    assert!(
        (tortuosity - t.tortuosity).abs() < 0.02 * t.tortuosity,
        "{tortuosity} vs {}",
        t.tortuosity
    );
    let length = r["length_mm"].as_f64().expect("length");
    assert!(
        (length - t.length_mm).abs() < 0.02 * t.length_mm,
        "{length}"
    );
    // Its two bends of 90° or more (120° and 100° arcs of 18 mm), each found where it is,
    // as tight as it is (within 15 %), and turning within 15° of its angle (the bend is
    // counted where the radius is under 50 mm, so its gentle ends are left out).
    assert_eq!(r["bends_over_90"].as_u64(), Some(2), "{}", r["bends"]);
    for known in t.bends.iter().filter(|b| b.angle_deg >= 90.0) {
        let found = r["bends"]
            .as_array()
            .expect("bends")
            .iter()
            .min_by(|a, b| {
                let at = |x: &serde_json::Value| {
                    distance(&point_of(&x["position_lps_mm"]), &known.apex_mm)
                };
                at(a).total_cmp(&at(b))
            })
            .expect("a bend");
        let at = point_of(&found["position_lps_mm"]);
        assert!(
            distance(&at, &known.apex_mm) < 12.0,
            "{at:?} vs {:?}",
            known.apex_mm
        );
        let radius = found["min_radius_mm"].as_f64().expect("radius");
        assert!(
            (radius - known.radius_mm).abs() < 0.15 * known.radius_mm,
            "{radius}"
        );
        let angle = found["angle_deg"].as_f64().expect("angle");
        assert!(
            (angle - known.angle_deg).abs() < 15.0,
            "{angle} vs {}",
            known.angle_deg
        );
    }
    let radius = r["min_radius_of_curvature_mm"]
        .as_f64()
        .expect("a bending path has a radius");
    assert!((radius - t.min_radius_of_curvature_mm).abs() < 0.15 * t.min_radius_of_curvature_mm);

    // From the right femoral artery into the left renal artery, through a waypoint at its
    // ostium: the path passes the waypoint, ends along the renal centreline, and is as long
    // as the centrelines it follows (it cuts across the aorta to the ostium: within 2 %).
    let renal = line("renal_left");
    let ostium = renal[0];
    let target = renal[renal.len() * 2 / 3];
    let entry = [-59.0, -38.0, -600.0];
    let r = plan_json(&[
        &arg("from", &entry),
        &arg("via", &ostium),
        &arg("to", &target),
    ]);
    let points = path_points(&r);
    let passes = points
        .iter()
        .map(|p| distance(p, &ostium))
        .fold(f64::INFINITY, f64::min);
    assert!(passes < 4.0, "{passes} mm from the waypoint");
    let renal_end: f64 = renal
        .windows(2)
        .take(renal.len() * 2 / 3)
        .map(|w| distance(&w[0], &w[1]))
        .sum();
    let mut chain = phantom_access_centreline(entry);
    let aorta = line("aorta");
    let nearest = |p: &[[f64; 3]], q: &[f64; 3]| {
        (0..p.len())
            .min_by(|&a, &b| distance(&p[a], q).total_cmp(&distance(&p[b], q)))
            .expect("points")
    };
    // The access centreline runs up the aorta to the arch: cut it at the ostium's level.
    let up_to = nearest(&chain, &aorta[nearest(&aorta, &ostium)]);
    chain.truncate(up_to + 1);
    let truth_length: f64 = chain
        .windows(2)
        .map(|w| distance(&w[0], &w[1]))
        .sum::<f64>()
        + renal_end;
    let length = r["length_mm"].as_f64().expect("length");
    assert!(
        (length - truth_length).abs() < 0.02 * truth_length,
        "{length} vs {truth_length}"
    );
    let tail: f64 = points[points.len() - 15..]
        .iter()
        .map(|p| {
            renal
                .iter()
                .map(|q| distance(p, q))
                .fold(f64::INFINITY, f64::min)
        })
        .fold(0.0, f64::max);
    assert!(
        tail < 1.5,
        "the path's last 15 mm are {tail} mm from the renal centreline"
    );
}

#[test]
fn plan_checks_a_sheath_and_keeps_left_and_right_access_in_one_plan_file() {
    let root = env!("CARGO_MANIFEST_DIR");
    let sample = format!("{root}/sample_data/phantom_cta/dicom");
    let dir = tempfile::tempdir().expect("tempdir");
    let plan = dir.path().join("access.twinplan.json");
    let plan_arg = plan.to_str().expect("utf-8");
    let apex = "--to=11.6,-1.39,-16.4";
    // A 24 F sheath (outer 8.67 mm) does not fit femoral arteries of 8–9 mm: flagged.
    let (code, out, err) = twinplan(&[
        "plan",
        &sample,
        "--from=-59,-38,-600",
        apex,
        "--device=24F",
        "--plan-out",
        plan_arg,
        "--name",
        "Right transfemoral",
    ]);
    assert_eq!(code, 0, "{out}{err}");
    assert!(out.contains("Introducer sheath 24 F"), "{out}");
    assert!(out.contains("SFAR ≥ 1.05"), "{out}");
    // A 6 F sheath from the left: nothing flagged for its size.
    let (code, out, err) = twinplan(&[
        "plan",
        &sample,
        "--from=74.6,-38.3,-600",
        apex,
        "--device-mm=2.67",
        "--plan-out",
        plan_arg,
    ]);
    assert_eq!(code, 0, "{out}{err}");
    assert!(!out.contains("SFAR ≥"), "{out}");
    let f = twinplan::plan::file::read(&plan).expect("the plan reads back");
    assert_eq!(f.version, twinplan::plan::file::VERSION);
    assert_eq!(f.plan.paths.len(), 2);
    let right = &f.plan.paths[0];
    assert_eq!(right.name, "Right transfemoral");
    assert_eq!(f.plan.paths[1].name, "Path 2");
    let fit = right.fit.as_ref().expect("a fit");
    let report = right.report.as_ref().expect("measures");
    assert!(fit.max_sfar >= 1.05, "{}", fit.max_sfar);
    assert!(
        (fit.max_sfar - fit.device.outer_diameter_mm / report.min_lumen_diameter_mm).abs() < 1e-9
    );
    // Both paths end at the arch; the left one starts 134 mm to the patient's left.
    let left = f.plan.paths[1].report.as_ref().expect("measures");
    assert!((left.length_mm - report.length_mm).abs() < 0.05 * report.length_mm);
    let (code, out, _) = twinplan(&["plan-info", plan_arg]);
    assert_eq!(code, 0);
    assert!(
        out.contains("2 catheter path(s)") && out.contains("Right transfemoral"),
        "{out}"
    );
    // The catalogue lists itself, with or without a study; an unknown device is a usage
    // error, and so is a plan without its points.
    let (code, out, _) = twinplan(&["plan", &sample, "--from=0,0,0", apex, "--device=list"]);
    assert_eq!(code, 0);
    assert!(out.contains("Introducer sheath 14 F"), "{out}");
    let (code, alone, _) = twinplan(&["plan", "--device", "list"]);
    assert_eq!(code, 0);
    assert_eq!(alone, out);
    let (code, _, err) = twinplan(&["plan", &sample, "--from=-59,-38,-600"]);
    assert_eq!(code, 2, "{err}");
    assert!(err.contains("--to X,Y,Z"), "{err}");
    let (code, _, err) = twinplan(&["plan", &sample, "--from=-59,-38,-600", apex, "--device=99Q"]);
    assert_eq!(code, 2, "{err}");
    assert!(err.contains("--device list"), "{err}");
}

/// `plan --lumen-out` writes the lumen the path was planned in on the study's grid, its
/// volume as the JSON states it; the floor raised above the phantom's 6 mm iliac stenosis
/// refuses the path there, naming the passage; the lumen made no-go refuses the entry.
#[test]
fn plan_writes_its_lumen_and_obeys_the_floor_and_no_go_regions() {
    let sample = concat!(env!("CARGO_MANIFEST_DIR"), "/sample_data/phantom_cta/dicom");
    let dir = tempfile::tempdir().expect("tempdir");
    let lumen = dir.path().join("lumen.nii.gz");
    let json = dir.path().join("path.json");
    let (l, j) = (lumen.to_string_lossy(), json.to_string_lossy());
    let route = ["--from=-59,-38,-600", "--to=11.6,-1.39,-16.4"];
    let mut args = vec!["plan", sample];
    args.extend(route);
    args.extend(["--lumen-out", &l, "--json", &j]);
    let (code, out, err) = twinplan(&args);
    assert_eq!(code, 0, "{err}");
    assert!(out.contains("lumen: ") && out.contains(" mL"), "{out}");
    let r: serde_json::Value =
        serde_json::from_slice(&std::fs::read(&json).expect("json")).expect("parses");
    let ml = r["lumen"]["volume_ml"].as_f64().expect("volume");
    assert!((ml - 334.7).abs() < 60.0, "{ml} mL");
    let mask = twinplan::nifti_io::read_nifti(&lumen).expect("the lumen reads back");
    let (study, _) = twinplan::dicom::load_path(
        std::path::Path::new(sample),
        None,
        &twinplan::progress::Progress::new(),
    )
    .expect("the sample");
    assert_eq!(mask.geometry.dims, study.geometry.dims);
    for a in 0..3 {
        assert!((mask.geometry.origin_mm[a] - study.geometry.origin_mm[a]).abs() < 1e-3);
        assert!((mask.geometry.spacing_mm[a] - study.geometry.spacing_mm[a]).abs() < 1e-4);
    }
    let s = mask.geometry.spacing_mm;
    let written = mask.voxels.iter().filter(|v| **v != 0).count() as f64 * s[0] * s[1] * s[2];
    assert!(
        (written / 1000.0 - ml).abs() < 1e-3,
        "{written} mm³ vs {ml} mL"
    );

    // A floor of 6.5 mm: the right iliac stenosis (6 mm; 5.55 mm across at the voxel
    // centre the search sees) is refused, named with its place (z = −422 mm) and distance.
    let mut args = vec!["plan", sample];
    args.extend(route);
    args.extend(["--min-diameter-mm", "6.5"]);
    let (code, _, err) = twinplan(&args);
    assert_eq!(code, 1, "{err}");
    assert!(
        err.contains("narrows to") && err.contains("-42") && err.contains("below the 6.50 mm"),
        "{err}"
    );

    // The lumen itself as a no-go region: the entry lies in it.
    let mut args = vec!["plan", sample];
    args.extend(route);
    args.extend(["--no-go", &l]);
    let (code, _, err) = twinplan(&args);
    assert_eq!(code, 1, "{err}");
    assert!(
        err.contains("entry point lies in the no-go region \"lumen\""),
        "{err}"
    );
}
