//! 3D Slicer markups JSON (`.mrk.json`, markups schema v1.0.3): the plan's markups written
//! so that a colleague opens them in Slicer, and Slicer's markups read back as plan markups.
//! Written in LPS millimetres, with each markup's measured values; read in LPS or RAS, mm or
//! µm. Slicer's kinds map one to one — Fiducial (one landmark per point), Line (distance),
//! Angle, Curve, ClosedCurve — except the angle between two lines, which Slicer has no
//! markup for: it is written as its two lines. Pure data conversion on `serde_json` values:
//! no files, no UI.

use serde_json::{Value, json};

use super::{Markup, MarkupKind, Plan};
use crate::geometry::P;

/// The schema the export declares (and validates against, in the tests).
pub const SCHEMA_URL: &str = "https://raw.githubusercontent.com/slicer/slicer/master/Modules/Loadable/Markups/Resources/Schema/markups-schema-v1.0.3.json#";

/// Most markups, and most points in one markup, an import accepts.
pub const MAX_MARKUPS: usize = 10_000;
pub const MAX_POINTS: usize = 100_000;

/// Slicer's type name for a kind (None: the kind is written as something else).
fn slicer_type(kind: MarkupKind) -> Option<&'static str> {
    match kind {
        MarkupKind::Landmark => Some("Fiducial"),
        MarkupKind::Distance => Some("Line"),
        MarkupKind::Angle => Some("Angle"),
        MarkupKind::Curve => Some("Curve"),
        MarkupKind::ClosedCurve => Some("ClosedCurve"),
        MarkupKind::LineAngle => None,
    }
}

fn control_points(
    points: &[P],
    locked: bool,
    label: impl Fn(usize) -> String,
    note: &str,
) -> Value {
    Value::Array(
        points
            .iter()
            .enumerate()
            .map(|(i, p)| {
                json!({
                    "id": (i + 1).to_string(),
                    "label": label(i),
                    "description": note,
                    "associatedNodeID": "",
                    "position": [p[0], p[1], p[2]],
                    "orientation": [-1.0, -0.0, -0.0, -0.0, -1.0, -0.0, 0.0, 0.0, 1.0],
                    "selected": true,
                    "locked": locked,
                    "visibility": true,
                    "positionStatus": "defined",
                })
            })
            .collect(),
    )
}

fn one_markup(m: &Markup, slicer: &str, name: &str, points: &[P]) -> Value {
    let measurements: Vec<Value> = if points.len() == m.points_lps_mm.len() {
        m.measurements()
            .iter()
            .filter(|v| v.name != "max curvature at")
            .map(|v| {
                json!({
                    "name": v.name,
                    "enabled": true,
                    "value": v.value,
                    "units": v.unit,
                    "printFormat": if v.unit == "deg" { "%3.1f%s" } else { "%-#4.4g%s" },
                })
            })
            .collect()
    } else {
        // One line of a line angle: its own length.
        vec![json!({
            "name": "length",
            "enabled": true,
            "value": crate::geometry::distance_mm(&points[0], &points[1]),
            "units": "mm",
            "printFormat": "%-#4.4g%s",
        })]
    };
    let base = name.to_string();
    json!({
        "type": slicer,
        "coordinateSystem": "LPS",
        "coordinateUnits": "mm",
        "locked": m.locked,
        "fixedNumberOfControlPoints": false,
        "labelFormat": "%N-%d",
        "lastUsedControlPointNumber": points.len(),
        "name": name,
        "controlPoints": control_points(points, m.locked, |i| {
            if m.kind == MarkupKind::Landmark { base.clone() } else { format!("{base}-{}", i + 1) }
        }, &m.note),
        "measurements": measurements,
        "display": {
            "visibility": m.visible,
            "opacity": 1.0,
            "color": m.colour.map(f64::from),
            "selectedColor": m.colour.map(f64::from),
            "propertiesLabelVisibility": true,
            "pointLabelsVisibility": m.kind == MarkupKind::Landmark,
            "textScale": 3.0,
            "glyphType": "Sphere3D",
            "glyphScale": 1.0,
            "glyphSize": 5.0,
            "useGlyphScale": true,
            "sliceProjection": false,
            "lineThickness": 0.2,
            "snapMode": "toVisibleSurface",
        },
    })
}

/// The plan's markups as one Slicer markups document (every markup, shown or not).
pub fn export(plan: &Plan) -> Value {
    let mut markups = Vec::new();
    for m in &plan.markups {
        if m.points_lps_mm.is_empty() {
            continue;
        }
        match slicer_type(m.kind) {
            Some(t) => markups.push(one_markup(m, t, &m.name, &m.points_lps_mm)),
            None => {
                for (n, pair) in m.points_lps_mm.chunks_exact(2).enumerate() {
                    let name = format!("{} (line {})", m.name, n + 1);
                    markups.push(one_markup(m, "Line", &name, pair));
                }
            }
        }
    }
    json!({ "@schema": SCHEMA_URL, "markups": markups })
}

/// Markups read from a Slicer file (ids 0: the plan hands out ids when they are added),
/// and what was left out, with why.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Imported {
    pub markups: Vec<Markup>,
    pub skipped: Vec<String>,
}

#[derive(Debug, thiserror::Error, PartialEq)]
pub enum SlicerError {
    #[error("not JSON: {0}")]
    NotJson(String),
    #[error("not a 3D Slicer markups file (no \"markups\" list)")]
    NotMarkups,
    #[error("the file holds {0} markups, more than the {MAX_MARKUPS} accepted")]
    TooMany(usize),
}

/// Reads a Slicer markups document (any 1.0.x schema).
pub fn import(bytes: &[u8]) -> Result<Imported, SlicerError> {
    let doc: Value =
        serde_json::from_slice(bytes).map_err(|e| SlicerError::NotJson(e.to_string()))?;
    let list = doc
        .get("markups")
        .and_then(Value::as_array)
        .ok_or(SlicerError::NotMarkups)?;
    if list.len() > MAX_MARKUPS {
        return Err(SlicerError::TooMany(list.len()));
    }
    let mut out = Imported::default();
    for (n, item) in list.iter().enumerate() {
        match import_one(item, &mut out.markups) {
            Ok(()) => {}
            Err(why) => {
                let name = item.get("name").and_then(Value::as_str).unwrap_or("");
                out.skipped
                    .push(format!("markup {} {name:?}: {why}", n + 1));
            }
        }
    }
    Ok(out)
}

fn import_one(item: &Value, out: &mut Vec<Markup>) -> Result<(), String> {
    let kind = match item.get("type").and_then(Value::as_str) {
        Some("Fiducial") => MarkupKind::Landmark,
        Some("Line") => MarkupKind::Distance,
        Some("Angle") => MarkupKind::Angle,
        Some("Curve") => MarkupKind::Curve,
        Some("ClosedCurve") => MarkupKind::ClosedCurve,
        Some(other) => {
            return Err(format!(
                "type {other:?} is not read (only Fiducial, Line, Angle, Curve, ClosedCurve)"
            ));
        }
        None => return Err("no type".into()),
    };
    let ras = match item.get("coordinateSystem").and_then(Value::as_str) {
        None | Some("LPS") => false,
        Some("RAS") => true,
        Some(other) => return Err(format!("coordinate system {other:?} is unknown")),
    };
    let units = match item.get("coordinateUnits") {
        None => Some("mm"),
        Some(Value::String(s)) => Some(s.as_str()),
        Some(Value::Array(code)) => code.first().and_then(Value::as_str),
        Some(_) => None,
    };
    let scale = match units {
        Some("mm") => 1.0,
        Some("um") => 1e-3,
        other => return Err(format!("coordinate units {other:?} are unknown")),
    };
    let name = item
        .get("name")
        .and_then(Value::as_str)
        .unwrap_or(kind.name())
        .to_string();
    let locked = item.get("locked").and_then(Value::as_bool).unwrap_or(false);
    let display = item.get("display");
    let visible = display
        .and_then(|d| d.get("visibility"))
        .and_then(Value::as_bool)
        .unwrap_or(true);
    let colour = display
        .and_then(|d| d.get("color"))
        .and_then(Value::as_array)
        .filter(|c| c.len() == 3)
        .and_then(|c| {
            let v: Vec<f32> = c
                .iter()
                .filter_map(Value::as_f64)
                .filter(|x| (0.0..=1.0).contains(x))
                .map(|x| x as f32)
                .collect();
            (v.len() == 3).then(|| [v[0], v[1], v[2]])
        })
        .unwrap_or([0.4, 1.0, 1.0]);
    let points = item
        .get("controlPoints")
        .and_then(Value::as_array)
        .map(Vec::as_slice)
        .unwrap_or(&[]);
    if points.len() > MAX_POINTS {
        return Err(format!(
            "{} control points, more than the {MAX_POINTS} accepted",
            points.len()
        ));
    }
    let mut defined = Vec::new();
    for p in points {
        if p.get("positionStatus").and_then(Value::as_str) == Some("undefined") {
            continue;
        }
        let Some(xyz) = p
            .get("position")
            .and_then(Value::as_array)
            .filter(|a| a.len() == 3)
        else {
            continue;
        };
        let v: Vec<f64> = xyz.iter().filter_map(Value::as_f64).collect();
        if v.len() != 3 || v.iter().any(|x| !x.is_finite()) {
            return Err("a control point's position is not three finite numbers".into());
        }
        let flip = if ras { -1.0 } else { 1.0 };
        let position = [v[0] * scale * flip, v[1] * scale * flip, v[2] * scale];
        let label = p
            .get("label")
            .and_then(Value::as_str)
            .unwrap_or("")
            .to_string();
        let note = p
            .get("description")
            .and_then(Value::as_str)
            .unwrap_or("")
            .to_string();
        defined.push((position, label, note));
    }
    let markup = |name: String, points: Vec<P>, note: String| Markup {
        id: 0,
        name,
        kind,
        points_lps_mm: points,
        colour,
        visible,
        locked,
        note,
    };
    if kind == MarkupKind::Landmark {
        if defined.is_empty() {
            return Err("no defined control point".into());
        }
        let single = defined.len() == 1;
        for (i, (p, label, note)) in defined.into_iter().enumerate() {
            let name = match (label.is_empty(), single) {
                (false, _) => label,
                (true, true) => name.clone(),
                (true, false) => format!("{name}-{}", i + 1),
            };
            out.push(markup(name, vec![p], note));
        }
        return Ok(());
    }
    let count = defined.len();
    let fits = match kind.points_needed() {
        Some(n) => count == n,
        None => count >= kind.min_points(),
    };
    if !fits {
        return Err(format!(
            "{count} defined control points, a {} needs {}",
            kind.name(),
            match kind.points_needed() {
                Some(n) => n.to_string(),
                None => format!("at least {}", kind.min_points()),
            }
        ));
    }
    let note = defined.first().map(|d| d.2.clone()).unwrap_or_default();
    out.push(markup(
        name,
        defined.into_iter().map(|d| d.0).collect(),
        note,
    ));
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn plan() -> Plan {
        let mk = |id, name: &str, kind, points: Vec<P>| Markup {
            id,
            name: name.into(),
            kind,
            points_lps_mm: points,
            colour: [0.9, 0.3, 0.1],
            visible: id != 3,
            locked: id == 2,
            note: if kind == MarkupKind::Landmark {
                "ostium".into()
            } else {
                String::new()
            },
        };
        Plan {
            markups: vec![
                mk(
                    1,
                    "aorta",
                    MarkupKind::Distance,
                    vec![[1.0, 2.0, 3.0], [11.5, -2.0, 3.25]],
                ),
                mk(
                    2,
                    "bend",
                    MarkupKind::Angle,
                    vec![[0.0, 0.0, 0.0], [10.0, 0.0, 0.0], [10.0, 10.0, 5.0]],
                ),
                mk(
                    3,
                    "renal",
                    MarkupKind::Landmark,
                    vec![[-20.0, 30.5, -100.125]],
                ),
                mk(
                    4,
                    "path",
                    MarkupKind::Curve,
                    vec![
                        [0.0, 0.0, 0.0],
                        [10.0, 5.0, 0.0],
                        [20.0, 0.0, 2.0],
                        [30.0, -5.0, 4.0],
                    ],
                ),
                mk(
                    5,
                    "lumen",
                    MarkupKind::ClosedCurve,
                    (0..12)
                        .map(|i| {
                            let t = i as f64 / 12.0 * std::f64::consts::TAU;
                            [5.0 * t.cos(), 5.0 * t.sin(), -40.0]
                        })
                        .collect(),
                ),
                mk(
                    6,
                    "axes",
                    MarkupKind::LineAngle,
                    vec![[0.0; 3], [1.0, 0.0, 0.0], [0.0, 0.0, 0.0], [1.0, 1.0, 0.0]],
                ),
            ],
            ..Plan::default()
        }
    }

    #[test]
    fn export_then_import_gives_the_same_points_and_values() {
        let p = plan();
        let doc = export(&p);
        assert_eq!(
            doc["markups"].as_array().map(Vec::len),
            Some(7),
            "a line angle is two lines"
        );
        let back = import(&serde_json::to_vec(&doc).expect("json")).expect("import");
        assert!(back.skipped.is_empty(), "{:?}", back.skipped);
        for original in p.markups.iter().filter(|m| m.kind != MarkupKind::LineAngle) {
            let m = back
                .markups
                .iter()
                .find(|m| m.name == original.name)
                .expect("re-imported");
            assert_eq!(m.kind, original.kind);
            assert_eq!(m.points_lps_mm, original.points_lps_mm, "{}", m.name);
            assert_eq!(m.measurements(), original.measurements(), "{}", m.name);
            assert_eq!(
                (m.visible, m.locked, m.colour),
                (original.visible, original.locked, original.colour)
            );
            assert_eq!(m.note, original.note);
        }
        // The exported values are the plan's own.
        let line = &doc["markups"][0];
        assert_eq!(line["type"], "Line");
        assert_eq!(
            line["measurements"][0]["value"].as_f64(),
            Some(p.markups[0].measurements()[0].value)
        );
        // The line angle's two lines keep their points.
        let lines: Vec<&Markup> = back
            .markups
            .iter()
            .filter(|m| m.name.starts_with("axes (line"))
            .collect();
        assert_eq!(lines.len(), 2);
        assert_eq!(
            lines[1].points_lps_mm,
            p.markups[5].points_lps_mm[2..4].to_vec()
        );
    }

    #[test]
    fn ras_and_micrometres_are_converted_and_odd_markups_skipped() {
        let doc = json!({
            "@schema": SCHEMA_URL,
            "markups": [
                { "type": "Fiducial", "coordinateSystem": "RAS", "coordinateUnits": "um",
                  "controlPoints": [
                      { "label": "F-1", "position": [1000.0, -2000.0, 3000.0] },
                      { "label": "F-2", "position": [0.0, 0.0, 0.0], "positionStatus": "undefined" },
                      { "label": "F-3", "position": [-500.0, 500.0, 0.0] } ] },
                { "type": "Line", "controlPoints": [ { "position": [0, 0, 0] } ] },
                { "type": "ROI", "name": "box" },
                { "type": "Angle", "coordinateUnits": ["mm", "UCUM", "millimeter"],
                  "controlPoints": [ { "position": [1, 0, 0] }, { "position": [0, 0, 0] }, { "position": [0, 1, 0] } ] },
            ]
        });
        let got = import(&serde_json::to_vec(&doc).expect("json")).expect("import");
        let names: Vec<&str> = got.markups.iter().map(|m| m.name.as_str()).collect();
        assert_eq!(names, ["F-1", "F-3", "angle"]);
        assert_eq!(got.markups[0].points_lps_mm, vec![[-1.0, 2.0, 3.0]]);
        assert_eq!(got.markups[1].points_lps_mm, vec![[0.5, -0.5, 0.0]]);
        assert!((got.markups[2].measurements()[0].value - 90.0).abs() < 1e-9);
        assert_eq!(got.skipped.len(), 2, "{:?}", got.skipped);
        assert!(
            got.skipped[0].contains("a distance needs 2"),
            "{:?}",
            got.skipped
        );
        assert!(got.skipped[1].contains("\"ROI\""), "{:?}", got.skipped);
        assert_eq!(import(b"{\"a\": 1}"), Err(SlicerError::NotMarkups));
        assert!(matches!(
            import(b"{\"markups\": ["),
            Err(SlicerError::NotJson(_))
        ));
        // Out of f64's range: refused by the parser, never turned into infinity.
        let huge = br#"{"markups":[{"type":"Line","controlPoints":[{"position":[0,0,0]},{"position":[1e400,0,0]}]}]}"#;
        assert!(matches!(import(huge), Err(SlicerError::NotJson(_))));
    }
}
