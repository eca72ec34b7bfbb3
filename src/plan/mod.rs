//! The plan document: what a case's plan saves and global undo reverts — structures as
//! recipes, measurements and landmarks (markups) in patient LPS millimetres, camera
//! bookmarks — with the series it belongs to. It changes through commands
//! ([`crate::document::Command`]), which the live document applies and undoes. Saving and loading (versioned JSON, atomic writes,
//! refusals that leave files untouched) live in [`file`]. Bevy-free: the viewer's plugins
//! adapt these types; nothing here knows about windows, meshes on the GPU or patient
//! identity (a plan never holds a name, ID or birth date).

pub mod file;
pub mod paths;
pub mod placing;
pub mod recipe;
pub mod recovery;
pub mod slicer;
pub mod twin;

use serde::{Deserialize, Serialize};

use crate::geometry::{P, Spline, angle_deg, distance_mm, line_angle_deg};
use crate::plan::recipe::Recipe;
pub use paths::{CatheterPath, LumenRecipe, PathVessel};

/// What a markup measures.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum MarkupKind {
    /// Two points: their distance.
    Distance,
    /// Three points, the vertex in the middle: the angle there.
    Angle,
    /// Four points: the angle between the line 1→2 and the line 3→4.
    LineAngle,
    /// One point with a label and a note.
    Landmark,
    /// N points: a smooth open curve (length, maximum curvature).
    Curve,
    /// N points on a slice: a closed contour (area, perimeter), e.g. a lumen outline.
    ClosedCurve,
}

impl MarkupKind {
    /// Points a complete markup of this kind has (None: any number from the minimum).
    pub fn points_needed(self) -> Option<usize> {
        match self {
            MarkupKind::Distance => Some(2),
            MarkupKind::Angle => Some(3),
            MarkupKind::LineAngle => Some(4),
            MarkupKind::Landmark => Some(1),
            MarkupKind::Curve | MarkupKind::ClosedCurve => None,
        }
    }

    /// The fewest points that measure something.
    pub fn min_points(self) -> usize {
        match self {
            MarkupKind::Curve => 2,
            MarkupKind::ClosedCurve => 3,
            k => k.points_needed().unwrap_or(1),
        }
    }

    pub fn name(self) -> &'static str {
        match self {
            MarkupKind::Distance => "distance",
            MarkupKind::Angle => "angle",
            MarkupKind::LineAngle => "line angle",
            MarkupKind::Landmark => "landmark",
            MarkupKind::Curve => "curve",
            MarkupKind::ClosedCurve => "closed curve",
        }
    }
}

/// A measurement or landmark: points in patient LPS mm and how it is shown.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct Markup {
    pub id: u64,
    pub name: String,
    pub kind: MarkupKind,
    pub points_lps_mm: Vec<P>,
    /// Display colour, 0–1 sRGB.
    pub colour: [f32; 3],
    pub visible: bool,
    /// A locked markup's points cannot be moved.
    pub locked: bool,
    #[serde(default)]
    pub note: String,
}

/// One measured value with its unit, for the plan panel, CSV and `plan-info`.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Measurement {
    pub name: &'static str,
    pub value: f64,
    pub unit: &'static str,
}

impl Markup {
    /// What the markup measures (empty while it has too few points).
    pub fn measurements(&self) -> Vec<Measurement> {
        let p = &self.points_lps_mm;
        let m = |name, value, unit| Measurement { name, value, unit };
        if p.len() < self.kind.min_points() {
            return Vec::new();
        }
        match self.kind {
            MarkupKind::Distance => vec![m("length", distance_mm(&p[0], &p[1]), "mm")],
            MarkupKind::Angle => angle_deg(&p[0], &p[1], &p[2])
                .map(|a| vec![m("angle", a, "deg")])
                .unwrap_or_default(),
            MarkupKind::LineAngle => line_angle_deg(&p[0], &p[1], &p[2], &p[3])
                .map(|a| vec![m("angle", a, "deg")])
                .unwrap_or_default(),
            MarkupKind::Landmark => Vec::new(),
            MarkupKind::Curve => {
                let s = Spline::new(p, false);
                let mut out = vec![m("length", s.length_mm(), "mm")];
                if let Some((k, at, _)) = s.max_curvature() {
                    out.push(m("max curvature", k, "1/mm"));
                    out.push(m("max curvature at", at, "mm"));
                }
                out
            }
            MarkupKind::ClosedCurve => {
                let s = Spline::new(p, true);
                let mut out = vec![m("perimeter", s.length_mm(), "mm")];
                if let Some(a) = s.area_mm2() {
                    out.push(m("area", a, "mm2"));
                }
                out
            }
        }
    }

    /// The main value as the panel and labels write it: "42.3 mm", "87.4°".
    pub fn label(&self) -> String {
        match (self.kind, self.measurements().first()) {
            (_, None) => self.name.clone(),
            (MarkupKind::Angle | MarkupKind::LineAngle, Some(v)) => format!("{:.1}°", v.value),
            (MarkupKind::ClosedCurve, _) => {
                let ms = self.measurements();
                match ms.iter().find(|m| m.name == "area") {
                    Some(a) => format!("{:.1} mm²", a.value),
                    None => self.name.clone(),
                }
            }
            (_, Some(v)) => format!("{:.1} mm", v.value),
        }
    }
}

/// A saved camera: where it looks from, what at, which way is up (patient mm).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct CameraBookmark {
    pub name: String,
    pub eye_lps_mm: P,
    pub target_lps_mm: P,
    pub up: P,
}

/// A structure in the plan: how it is made and shown (its surface is rebuilt on load).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct PlanStructure {
    pub id: u64,
    pub recipe: Recipe,
    pub visible: bool,
}

/// The plan of one case: everything undo reverts and a plan file holds.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize, schemars::JsonSchema)]
pub struct Plan {
    #[serde(default)]
    pub structures: Vec<PlanStructure>,
    #[serde(default)]
    pub markups: Vec<Markup>,
    #[serde(default)]
    pub bookmarks: Vec<CameraBookmark>,
    /// Catheter paths (plan file version 2 on).
    #[serde(default)]
    pub paths: Vec<CatheterPath>,
    /// The last id handed out (ids are never reused within a plan).
    #[serde(default)]
    pub next_id: u64,
}

/// One row of a plan listing (`plan-info`, the plan panel, CSV export).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct MarkupSummary {
    pub id: u64,
    pub kind: MarkupKind,
    pub name: String,
    pub measurements: Vec<Measurement>,
    pub points_lps_mm: Vec<P>,
    pub note: String,
}

impl Plan {
    /// Every markup with what it measures.
    pub fn summary(&self) -> Vec<MarkupSummary> {
        self.markups
            .iter()
            .map(|m| MarkupSummary {
                id: m.id,
                kind: m.kind,
                name: m.name.clone(),
                measurements: m.measurements(),
                points_lps_mm: m.points_lps_mm.clone(),
                note: m.note.clone(),
            })
            .collect()
    }

    /// A readable listing, one markup per line.
    pub fn summary_text(&self) -> String {
        let mut out = format!("{} markup(s)\n", self.markups.len());
        for m in &self.markups {
            let values: Vec<String> = m
                .measurements()
                .iter()
                .map(|v| format!("{} {:.2} {}", v.name, v.value, v.unit))
                .collect();
            let points: Vec<String> = m
                .points_lps_mm
                .iter()
                .map(|p| format!("({:.2}, {:.2}, {:.2})", p[0], p[1], p[2]))
                .collect();
            out.push_str(&format!(
                "{} [{}] {}  {}\n",
                m.name,
                m.kind.name(),
                values.join(", "),
                points.join(" ")
            ));
        }
        if !self.paths.is_empty() {
            out.push_str(&format!("{} catheter path(s)\n", self.paths.len()));
        }
        for p in &self.paths {
            let device = p
                .device
                .as_ref()
                .map_or_else(String::new, |d| format!(" with {}", d.name));
            out.push_str(&format!(
                "{} [path, {} waypoint(s){device}] {}\n",
                p.name,
                p.waypoints_lps_mm.len(),
                p.label()
            ));
        }
        out
    }

    /// CSV, one row per measured value (a landmark: one row without a value); points as
    /// `x y z` triples in LPS mm separated by `;`. Text fields are quoted.
    pub fn markups_csv(&self) -> String {
        let quote = |s: &str| format!("\"{}\"", s.replace('"', "\"\""));
        let mut out = String::from("id,kind,name,measurement,value,unit,points_lps_mm\n");
        for m in &self.markups {
            let points: Vec<String> = m
                .points_lps_mm
                .iter()
                .map(|p| format!("{} {} {}", p[0], p[1], p[2]))
                .collect();
            let points = quote(&points.join(";"));
            let ms = m.measurements();
            if ms.is_empty() {
                out.push_str(&format!(
                    "{},{},{},,,,{points}\n",
                    m.id,
                    m.kind.name(),
                    quote(&m.name)
                ));
            }
            for v in ms {
                out.push_str(&format!(
                    "{},{},{},{},{},{},{points}\n",
                    m.id,
                    m.kind.name(),
                    quote(&m.name),
                    v.name,
                    v.value,
                    v.unit
                ));
            }
        }
        out
    }
}

impl Plan {
    /// The id [`Plan::new_id`] would hand out next (nothing is taken).
    pub fn next_free_id(&self) -> u64 {
        let used = self
            .markups
            .iter()
            .map(|m| m.id)
            .chain(self.structures.iter().map(|s| s.id))
            .chain(self.paths.iter().map(|p| p.id))
            .max()
            .unwrap_or(0);
        self.next_id.max(used) + 1
    }

    /// A fresh id for a new markup or structure (taken: it is not handed out again).
    pub fn new_id(&mut self) -> u64 {
        self.next_id = self.next_free_id();
        self.next_id
    }

    pub fn markup(&self, id: u64) -> Option<&Markup> {
        self.markups.iter().find(|m| m.id == id)
    }
}

#[cfg(test)]
pub(crate) mod tests;
