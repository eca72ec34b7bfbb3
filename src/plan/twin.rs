//! A plan's visible markups and catheter paths as parts of the glTF twin
//! (`mesh::gltf`): landmarks as named points; distances, angles, curves and contours as
//! named polylines through their points (an angle between two lines as its two lines);
//! planned paths as polylines along the smoothed path. Depends on `plan` and `mesh::gltf`.

use super::{MarkupKind, Plan};
use crate::mesh::gltf::{Landmark, Polyline};

/// The plan's visible markups and planned paths.
pub fn parts(plan: &Plan) -> (Vec<Polyline>, Vec<Landmark>) {
    let mut lines = Vec::new();
    let mut landmarks = Vec::new();
    let line = |name: String, points: &[[f64; 3]], colour: [f32; 3], closed: bool| Polyline {
        name,
        points_lps_mm: points.to_vec(),
        colour,
        closed,
    };
    for m in plan.markups.iter().filter(|m| m.visible) {
        let points = &m.points_lps_mm;
        match m.kind {
            MarkupKind::Landmark => {
                if let Some(&p) = points.first() {
                    landmarks.push(Landmark {
                        name: m.name.clone(),
                        position_lps_mm: p,
                        colour: m.colour,
                    });
                }
            }
            MarkupKind::LineAngle if points.len() >= 4 => {
                lines.push(line(
                    format!("{} (line 1)", m.name),
                    &points[..2],
                    m.colour,
                    false,
                ));
                lines.push(line(
                    format!("{} (line 2)", m.name),
                    &points[2..4],
                    m.colour,
                    false,
                ));
            }
            MarkupKind::ClosedCurve => lines.push(line(m.name.clone(), points, m.colour, true)),
            _ => lines.push(line(m.name.clone(), points, m.colour, false)),
        }
    }
    for p in plan.paths.iter().filter(|p| p.visible) {
        if let Some(report) = &p.report {
            lines.push(line(p.name.clone(), &report.points_lps_mm, p.colour, false));
        }
    }
    (lines, landmarks)
}
