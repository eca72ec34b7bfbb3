//! The plan's 3D Slicer export (`.mrk.json`) validates against Slicer's own markups schema
//! (v1.0.3, vendored as test data under `tests/data/slicer/` with its licence) and reads
//! back to the same points and values; documents the schema refuses are caught by the same
//! validator (so the validation is not vacuous).

use std::path::Path;

use twinplan::geometry::P;
use twinplan::plan::{Markup, MarkupKind, Plan, slicer};

fn schema() -> jsonschema::Validator {
    let path =
        Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data/slicer/markups-schema-v1.0.3.json");
    let text = std::fs::read(&path).expect("vendored schema");
    let schema: serde_json::Value = serde_json::from_slice(&text).expect("schema is JSON");
    jsonschema::draft7::new(&schema).expect("a valid draft-07 schema")
}

fn plan() -> Plan {
    let mut plan = Plan::default();
    let circle: Vec<P> = (0..16)
        .map(|i| {
            let t = f64::from(i) / 16.0 * std::f64::consts::TAU;
            [12.0 + 6.0 * t.cos(), -30.0 + 6.0 * t.sin(), -210.5]
        })
        .collect();
    let kinds: [(&str, MarkupKind, Vec<P>); 6] = [
        (
            "aortic diameter",
            MarkupKind::Distance,
            vec![[-8.5, 20.0, -250.0], [14.25, 21.5, -250.0]],
        ),
        (
            "iliac angle",
            MarkupKind::Angle,
            vec![
                [-30.0, 0.0, -400.0],
                [0.0, 5.0, -330.0],
                [28.0, 0.0, -402.0],
            ],
        ),
        (
            "renal ostium",
            MarkupKind::Landmark,
            vec![[-35.5, 12.0, -180.0]],
        ),
        (
            "centreline",
            MarkupKind::Curve,
            vec![
                [0.0, 0.0, -100.0],
                [2.0, 5.0, -150.0],
                [-3.0, 7.0, -200.0],
                [0.0, 2.0, -260.0],
            ],
        ),
        ("lumen", MarkupKind::ClosedCurve, circle),
        (
            "neck angulation",
            MarkupKind::LineAngle,
            vec![
                [0.0, 0.0, -180.0],
                [0.0, 3.0, -220.0],
                [0.0, 3.0, -220.0],
                [5.0, 4.0, -260.0],
            ],
        ),
    ];
    for (name, kind, points) in kinds {
        let id = plan.new_id();
        plan.markups.push(Markup {
            id,
            name: name.into(),
            kind,
            points_lps_mm: points,
            colour: [1.0, 0.8, 0.2],
            visible: true,
            locked: kind == MarkupKind::Landmark,
            note: if kind == MarkupKind::Landmark {
                "left renal artery".into()
            } else {
                String::new()
            },
        });
    }
    plan
}

#[test]
fn the_export_is_valid_slicer_markups_and_reads_back_the_same() {
    let validator = schema();
    let plan = plan();
    let doc = slicer::export(&plan);
    let errors: Vec<String> = validator
        .iter_errors(&doc)
        .map(|e| format!("{} at {}", e, e.instance_path()))
        .collect();
    assert!(errors.is_empty(), "{errors:#?}");
    assert_eq!(doc["markups"].as_array().map(Vec::len), Some(7));
    for m in doc["markups"].as_array().expect("markups") {
        assert_eq!(m["coordinateSystem"], "LPS");
        assert_eq!(m["coordinateUnits"], "mm");
    }
    // Written as a file and read back: the same points and the same values.
    let dir = tempfile::tempdir().expect("tmp");
    let file = dir.path().join("case.mrk.json");
    std::fs::write(&file, serde_json::to_vec_pretty(&doc).expect("json")).expect("write");
    let back = slicer::import(&std::fs::read(&file).expect("read")).expect("import");
    assert!(back.skipped.is_empty(), "{:?}", back.skipped);
    for original in plan
        .markups
        .iter()
        .filter(|m| m.kind != MarkupKind::LineAngle)
    {
        let m = back
            .markups
            .iter()
            .find(|m| m.name == original.name)
            .expect("read back");
        assert_eq!(m.kind, original.kind);
        assert_eq!(m.points_lps_mm, original.points_lps_mm, "{}", m.name);
        assert_eq!(m.measurements(), original.measurements(), "{}", m.name);
    }
    // The measured values in the file are the plan's.
    let line = &doc["markups"][0];
    assert_eq!(line["measurements"][0]["name"], "length");
    let length = plan.markups[0].measurements()[0].value;
    assert_eq!(line["measurements"][0]["value"].as_f64(), Some(length));
    let angle = &doc["markups"][1];
    assert_eq!(angle["measurements"][0]["units"], "deg");
}

#[test]
fn the_validator_refuses_what_the_schema_forbids() {
    let validator = schema();
    let mut doc = slicer::export(&plan());
    assert!(validator.is_valid(&doc));
    doc["markups"][0]["type"] = "Ruler".into();
    assert!(!validator.is_valid(&doc), "an unknown markup type passed");
    let mut doc = slicer::export(&plan());
    doc["markups"][0]["controlPoints"][0]["position"] = serde_json::json!([1.0, 2.0]);
    assert!(!validator.is_valid(&doc), "a two-number position passed");
    let mut doc = slicer::export(&plan());
    doc["markups"][0]["coordinateSystem"] = "XYZ".into();
    assert!(
        !validator.is_valid(&doc),
        "an unknown coordinate system passed"
    );
    let doc = serde_json::json!({ "markups": [] });
    assert!(
        !validator.is_valid(&doc),
        "a document without @schema passed"
    );
}

/// A file in the form 3D Slicer 5 writes it (`tests/data/slicer/written-as-slicer-5.mrk.json`:
/// written by hand with every field, default and value format of Slicer 5.6's markups JSON
/// storage, one node per type: a Line in LPS, an Angle in RAS (which Slicer reads as well), a
/// Fiducial, and a Plane twinplan does not read), imported;
/// the values are checked against figures computed by hand from its coordinates.
#[test]
fn a_file_as_slicer_writes_it_imports_with_its_values() {
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/data/slicer/written-as-slicer-5.mrk.json");
    let bytes = std::fs::read(&path).expect("fixture");
    let doc: serde_json::Value = serde_json::from_slice(&bytes).expect("JSON");
    assert!(
        schema().is_valid(&doc),
        "the fixture is a valid Slicer markups file"
    );
    let imported = slicer::import(&bytes).expect("imports");
    assert_eq!(imported.markups.len(), 3, "{:?}", imported.skipped);
    assert_eq!(imported.skipped.len(), 1, "the plane is skipped");
    assert!(
        imported.skipped[0].contains("Plane"),
        "{:?}",
        imported.skipped
    );

    // The line: from (-12.5, 30.25, -402) to (17.5, 70.25, -402) LPS, a 30-40-50 triangle.
    let line = &imported.markups[0];
    assert_eq!(line.kind, MarkupKind::Distance);
    assert_eq!(
        line.points_lps_mm,
        vec![[-12.5, 30.25, -402.0], [17.5, 70.25, -402.0]]
    );
    assert_eq!(line.measurements()[0].value, 50.0);
    assert_eq!(line.label(), "50.0 mm");

    // The angle, in RAS: (10, 20, -300), vertex (0, 20, -300), (0, 20, -290) are in LPS
    // (-10, -20, -300), (0, -20, -300), (0, -20, -290): arms along -x and +z, 90°.
    let angle = &imported.markups[1];
    assert_eq!(angle.kind, MarkupKind::Angle);
    assert_eq!(
        angle.points_lps_mm,
        vec![
            [-10.0, -20.0, -300.0],
            [0.0, -20.0, -300.0],
            [0.0, -20.0, -290.0]
        ]
    );
    assert!((angle.measurements()[0].value - 90.0).abs() < 1e-12);

    // The landmark where Slicer put it.
    let landmark = &imported.markups[2];
    assert_eq!(landmark.kind, MarkupKind::Landmark);
    assert_eq!(landmark.points_lps_mm, vec![[24.0, -3.5, -370.0]]);
}
