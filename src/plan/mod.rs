//! The plan document: what a case's plan saves and global undo reverts — structures as
//! recipes, measurements and landmarks (markups) in patient LPS millimetres, camera
//! bookmarks — with the series it belongs to. Edits are values ([`PlanEdit`]): applying one
//! returns its inverse, so undo is a stack of inverses ([`History`]), bounded, and any
//! sequence of edits can be replayed. Saving and loading (versioned JSON, atomic writes,
//! refusals that leave files untouched) live in [`file`]. Bevy-free: the viewer's plugins
//! adapt these types; nothing here knows about windows, meshes on the GPU or patient
//! identity (a plan never holds a name, ID or birth date).

pub mod file;
pub mod geometry;
pub mod path;
pub mod paths;
pub mod placing;
pub mod recovery;
pub mod slicer;

use serde::{Deserialize, Serialize};

use crate::session::structures::Recipe;
use geometry::{P, Spline, angle_deg, distance_mm, line_angle_deg};
pub use paths::{CatheterPath, PathVessel};

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

/// A change to the plan. [`Plan::apply`] performs it and returns the edit that undoes it.
#[derive(Debug, Clone, PartialEq)]
pub enum PlanEdit {
    AddMarkup(Markup),
    /// A markup put back where it was (the undo of a delete keeps the list's order).
    InsertMarkup(usize, Markup),
    RemoveMarkup(u64),
    /// All points at once: a drag ends as one edit, whatever it passed through.
    SetPoints {
        id: u64,
        points: Vec<P>,
    },
    Rename {
        id: u64,
        name: String,
    },
    SetNote {
        id: u64,
        note: String,
    },
    SetColour {
        id: u64,
        colour: [f32; 3],
    },
    SetVisible {
        id: u64,
        visible: bool,
    },
    SetLocked {
        id: u64,
        locked: bool,
    },
    AddStructure(PlanStructure),
    InsertStructure(usize, PlanStructure),
    RemoveStructure(u64),
    /// A structure's recipe changed (colour, opacity, range, seeds...): the surface follows.
    SetRecipe {
        id: u64,
        recipe: Recipe,
    },
    SetStructureVisible {
        id: u64,
        visible: bool,
    },
    AddBookmark(CameraBookmark),
    InsertBookmark(usize, CameraBookmark),
    RemoveBookmark(String),
    AddPath(CatheterPath),
    InsertPath(usize, CatheterPath),
    RemovePath(u64),
    /// A path replaced whole (points, device, name, figures): undo brings back the old
    /// points with the figures measured through them.
    SetPath(CatheterPath),
    /// Several edits as one step (e.g. a plan imported); undone in reverse order.
    Batch(String, Vec<PlanEdit>),
}

/// Why an edit could not be applied (the plan is unchanged).
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum EditError {
    #[error("no markup {0} in the plan")]
    NoMarkup(u64),
    #[error("no structure {0} in the plan")]
    NoStructure(u64),
    #[error("no camera bookmark named {0:?}")]
    NoBookmark(String),
    #[error("no catheter path {0} in the plan")]
    NoPath(u64),
    #[error("{0} is locked")]
    Locked(String),
    #[error("id {0} is already in the plan")]
    DuplicateId(u64),
    #[error("a camera view named {0:?} exists already")]
    DuplicateBookmark(String),
    #[error("a {kind} takes {needed} point(s), not {given}")]
    WrongPointCount {
        kind: &'static str,
        needed: usize,
        given: usize,
    },
    #[error("a point is not a finite position")]
    NotFinite,
}

impl PlanEdit {
    /// What the Edit menu says ("Undo move distance 1").
    pub fn describe(&self, plan: &Plan) -> String {
        let markup = |id: &u64| {
            plan.markups
                .iter()
                .find(|m| m.id == *id)
                .map_or_else(|| format!("markup {id}"), |m| m.name.clone())
        };
        let structure = |id: &u64| {
            plan.structures
                .iter()
                .find(|s| s.id == *id)
                .map_or_else(|| format!("structure {id}"), |s| s.recipe.name.clone())
        };
        match self {
            PlanEdit::AddMarkup(m) | PlanEdit::InsertMarkup(_, m) => format!("add {}", m.name),
            PlanEdit::RemoveMarkup(id) => format!("delete {}", markup(id)),
            PlanEdit::SetPoints { id, .. } => format!("move {}", markup(id)),
            PlanEdit::Rename { id, .. } => format!("rename {}", markup(id)),
            PlanEdit::SetNote { id, .. } => format!("note on {}", markup(id)),
            PlanEdit::SetColour { id, .. } => format!("colour of {}", markup(id)),
            PlanEdit::SetVisible { id, visible } => {
                format!("{} {}", if *visible { "show" } else { "hide" }, markup(id))
            }
            PlanEdit::SetLocked { id, locked } => {
                format!("{} {}", if *locked { "lock" } else { "unlock" }, markup(id))
            }
            PlanEdit::AddStructure(s) | PlanEdit::InsertStructure(_, s) => {
                format!("add structure {}", s.recipe.name)
            }
            PlanEdit::RemoveStructure(id) => format!("remove {}", structure(id)),
            PlanEdit::SetRecipe { id, .. } => format!("change {}", structure(id)),
            PlanEdit::SetStructureVisible { id, visible } => {
                format!(
                    "{} {}",
                    if *visible { "show" } else { "hide" },
                    structure(id)
                )
            }
            PlanEdit::AddBookmark(b) | PlanEdit::InsertBookmark(_, b) => {
                format!("add view {}", b.name)
            }
            PlanEdit::RemoveBookmark(n) => format!("delete view {n}"),
            PlanEdit::AddPath(p) | PlanEdit::InsertPath(_, p) => format!("add path {}", p.name),
            PlanEdit::RemovePath(id) => format!(
                "delete path {}",
                plan.paths
                    .iter()
                    .find(|p| p.id == *id)
                    .map_or_else(|| id.to_string(), |p| p.name.clone())
            ),
            PlanEdit::SetPath(p) => format!("change path {}", p.name),
            PlanEdit::Batch(what, _) => what.clone(),
        }
    }
}

fn check_points(kind: MarkupKind, points: &[P]) -> Result<(), EditError> {
    if points.iter().flatten().any(|c| !c.is_finite()) {
        return Err(EditError::NotFinite);
    }
    if let Some(n) = kind.points_needed()
        && points.len() != n
    {
        return Err(EditError::WrongPointCount {
            kind: kind.name(),
            needed: n,
            given: points.len(),
        });
    }
    Ok(())
}

impl Plan {
    /// A fresh id for a new markup or structure.
    pub fn new_id(&mut self) -> u64 {
        let used = self
            .markups
            .iter()
            .map(|m| m.id)
            .chain(self.structures.iter().map(|s| s.id))
            .chain(self.paths.iter().map(|p| p.id))
            .max()
            .unwrap_or(0);
        self.next_id = self.next_id.max(used) + 1;
        self.next_id
    }

    pub fn markup(&self, id: u64) -> Option<&Markup> {
        self.markups.iter().find(|m| m.id == id)
    }

    fn markup_mut(&mut self, id: u64) -> Result<&mut Markup, EditError> {
        self.markups
            .iter_mut()
            .find(|m| m.id == id)
            .ok_or(EditError::NoMarkup(id))
    }

    fn structure_mut(&mut self, id: u64) -> Result<&mut PlanStructure, EditError> {
        self.structures
            .iter_mut()
            .find(|s| s.id == id)
            .ok_or(EditError::NoStructure(id))
    }

    fn id_taken(&self, id: u64) -> bool {
        self.markups.iter().any(|m| m.id == id)
            || self.structures.iter().any(|s| s.id == id)
            || self.paths.iter().any(|p| p.id == id)
    }

    /// Applies `edit`; returns the edit that undoes it. On error the plan is unchanged.
    pub fn apply(&mut self, edit: PlanEdit) -> Result<PlanEdit, EditError> {
        Ok(match edit {
            PlanEdit::AddMarkup(m) => {
                let at = self.markups.len();
                self.apply(PlanEdit::InsertMarkup(at, m))?
            }
            PlanEdit::InsertMarkup(at, m) => {
                if self.id_taken(m.id) {
                    return Err(EditError::DuplicateId(m.id));
                }
                if m.points_lps_mm.iter().flatten().any(|c| !c.is_finite()) {
                    return Err(EditError::NotFinite);
                }
                let id = m.id;
                self.next_id = self.next_id.max(id);
                self.markups.insert(at.min(self.markups.len()), m);
                PlanEdit::RemoveMarkup(id)
            }
            PlanEdit::RemoveMarkup(id) => {
                let at = self
                    .markups
                    .iter()
                    .position(|m| m.id == id)
                    .ok_or(EditError::NoMarkup(id))?;
                PlanEdit::InsertMarkup(at, self.markups.remove(at))
            }
            PlanEdit::SetPoints { id, points } => {
                let m = self.markup_mut(id)?;
                if m.locked {
                    return Err(EditError::Locked(m.name.clone()));
                }
                check_points(m.kind, &points)?;
                let before = std::mem::replace(&mut m.points_lps_mm, points);
                PlanEdit::SetPoints { id, points: before }
            }
            PlanEdit::Rename { id, name } => {
                let m = self.markup_mut(id)?;
                let before = std::mem::replace(&mut m.name, name);
                PlanEdit::Rename { id, name: before }
            }
            PlanEdit::SetNote { id, note } => {
                let m = self.markup_mut(id)?;
                let before = std::mem::replace(&mut m.note, note);
                PlanEdit::SetNote { id, note: before }
            }
            PlanEdit::SetColour { id, colour } => {
                let m = self.markup_mut(id)?;
                let before = std::mem::replace(&mut m.colour, colour);
                PlanEdit::SetColour { id, colour: before }
            }
            PlanEdit::SetVisible { id, visible } => {
                let m = self.markup_mut(id)?;
                let before = std::mem::replace(&mut m.visible, visible);
                PlanEdit::SetVisible {
                    id,
                    visible: before,
                }
            }
            PlanEdit::SetLocked { id, locked } => {
                let m = self.markup_mut(id)?;
                let before = std::mem::replace(&mut m.locked, locked);
                PlanEdit::SetLocked { id, locked: before }
            }
            PlanEdit::AddStructure(st) => {
                let at = self.structures.len();
                self.apply(PlanEdit::InsertStructure(at, st))?
            }
            PlanEdit::InsertStructure(at, st) => {
                if self.id_taken(st.id) {
                    return Err(EditError::DuplicateId(st.id));
                }
                let id = st.id;
                self.next_id = self.next_id.max(id);
                self.structures.insert(at.min(self.structures.len()), st);
                PlanEdit::RemoveStructure(id)
            }
            PlanEdit::RemoveStructure(id) => {
                let at = self
                    .structures
                    .iter()
                    .position(|s| s.id == id)
                    .ok_or(EditError::NoStructure(id))?;
                PlanEdit::InsertStructure(at, self.structures.remove(at))
            }
            PlanEdit::SetRecipe { id, recipe } => {
                let s = self.structure_mut(id)?;
                let before = std::mem::replace(&mut s.recipe, recipe);
                PlanEdit::SetRecipe { id, recipe: before }
            }
            PlanEdit::SetStructureVisible { id, visible } => {
                let s = self.structure_mut(id)?;
                let before = std::mem::replace(&mut s.visible, visible);
                PlanEdit::SetStructureVisible {
                    id,
                    visible: before,
                }
            }
            PlanEdit::AddBookmark(b) => {
                let at = self.bookmarks.len();
                self.apply(PlanEdit::InsertBookmark(at, b))?
            }
            PlanEdit::InsertBookmark(at, b) => {
                if self.bookmarks.iter().any(|x| x.name == b.name) {
                    return Err(EditError::DuplicateBookmark(b.name));
                }
                let name = b.name.clone();
                self.bookmarks.insert(at.min(self.bookmarks.len()), b);
                PlanEdit::RemoveBookmark(name)
            }
            PlanEdit::RemoveBookmark(name) => {
                let at = self
                    .bookmarks
                    .iter()
                    .position(|b| b.name == name)
                    .ok_or(EditError::NoBookmark(name))?;
                PlanEdit::InsertBookmark(at, self.bookmarks.remove(at))
            }
            PlanEdit::AddPath(p) => {
                let at = self.paths.len();
                self.apply(PlanEdit::InsertPath(at, p))?
            }
            PlanEdit::InsertPath(at, p) => {
                if self.id_taken(p.id) {
                    return Err(EditError::DuplicateId(p.id));
                }
                if !p.is_finite() {
                    return Err(EditError::NotFinite);
                }
                let id = p.id;
                self.next_id = self.next_id.max(id);
                self.paths.insert(at.min(self.paths.len()), p);
                PlanEdit::RemovePath(id)
            }
            PlanEdit::RemovePath(id) => {
                let at = self
                    .paths
                    .iter()
                    .position(|p| p.id == id)
                    .ok_or(EditError::NoPath(id))?;
                PlanEdit::InsertPath(at, self.paths.remove(at))
            }
            PlanEdit::SetPath(p) => {
                if !p.is_finite() {
                    return Err(EditError::NotFinite);
                }
                let slot = self
                    .paths
                    .iter_mut()
                    .find(|x| x.id == p.id)
                    .ok_or(EditError::NoPath(p.id))?;
                PlanEdit::SetPath(std::mem::replace(slot, p))
            }
            PlanEdit::Batch(what, edits) => {
                let mut inverses = Vec::with_capacity(edits.len());
                for e in edits {
                    match self.apply(e) {
                        Ok(inv) => inverses.push(inv),
                        Err(err) => {
                            // Roll back what was applied: the plan is unchanged on error.
                            for inv in inverses.into_iter().rev() {
                                let _ = self.apply(inv);
                            }
                            return Err(err);
                        }
                    }
                }
                inverses.reverse();
                PlanEdit::Batch(what, inverses)
            }
        })
    }
}

/// Undo and redo stacks of inverse edits, bounded (the oldest steps are forgotten).
#[derive(Debug, Clone)]
pub struct History {
    undo: Vec<(String, PlanEdit)>,
    redo: Vec<(String, PlanEdit)>,
    limit: usize,
    /// Edits made since the last save (for autosave every tenth and "unsaved changes").
    pub edits_since_save: usize,
}

impl Default for History {
    fn default() -> Self {
        History::with_limit(500)
    }
}

impl History {
    pub fn with_limit(limit: usize) -> History {
        History {
            undo: Vec::new(),
            redo: Vec::new(),
            limit: limit.max(1),
            edits_since_save: 0,
        }
    }

    /// Applies `edit` to `plan` as a new step (redo is cleared).
    pub fn apply(&mut self, plan: &mut Plan, edit: PlanEdit) -> Result<(), EditError> {
        let what = edit.describe(plan);
        let inverse = plan.apply(edit)?;
        self.undo.push((what, inverse));
        if self.undo.len() > self.limit {
            self.undo.remove(0);
        }
        self.redo.clear();
        self.edits_since_save += 1;
        Ok(())
    }

    /// Applies `edit` as part of the last step when `merge` (a slider dragged: one drag is
    /// one step, whatever values it passed through), else as a new step. Undo then returns
    /// to the state before the step's first edit.
    pub fn apply_merged(
        &mut self,
        plan: &mut Plan,
        edit: PlanEdit,
        merge: bool,
    ) -> Result<(), EditError> {
        if !merge || self.undo.is_empty() {
            return self.apply(plan, edit);
        }
        plan.apply(edit)?;
        self.redo.clear();
        self.edits_since_save += 1;
        Ok(())
    }

    /// Undoes the last step; returns what it was.
    pub fn undo(&mut self, plan: &mut Plan) -> Option<String> {
        let (what, inverse) = self.undo.pop()?;
        match plan.apply(inverse) {
            Ok(redo) => {
                self.redo.push((what.clone(), redo));
                self.edits_since_save += 1;
                Some(what)
            }
            Err(_) => None,
        }
    }

    /// Redoes the last undone step; returns what it was.
    pub fn redo(&mut self, plan: &mut Plan) -> Option<String> {
        let (what, edit) = self.redo.pop()?;
        match plan.apply(edit) {
            Ok(undo) => {
                self.undo.push((what.clone(), undo));
                self.edits_since_save += 1;
                Some(what)
            }
            Err(_) => None,
        }
    }

    /// What Undo would undo, for the Edit menu.
    pub fn undo_label(&self) -> Option<&str> {
        self.undo.last().map(|(w, _)| w.as_str())
    }

    pub fn redo_label(&self) -> Option<&str> {
        self.redo.last().map(|(w, _)| w.as_str())
    }

    pub fn clear(&mut self) {
        self.undo.clear();
        self.redo.clear();
        self.edits_since_save = 0;
    }
}

#[cfg(test)]
mod tests;
