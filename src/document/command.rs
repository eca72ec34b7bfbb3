//! Commands: the one way the plan document changes. A [`Command`] is a value; applying it
//! ([`Plan::apply`]) performs it and returns the command that undoes it, or refuses it with
//! the plan untouched ([`EditError`]). Undo, redo, autosave, recovery and (later) the audit
//! trail all record these values. Bevy-free; no I/O.

use crate::geometry::P;
use crate::plan::recipe::Recipe;
use crate::plan::{CameraBookmark, CatheterPath, Markup, MarkupKind, Plan, PlanStructure};

/// A change to the plan. [`Plan::apply`] performs it and returns the edit that undoes it.
#[derive(Debug, Clone, PartialEq)]
pub enum Command {
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
    Batch(String, Vec<Command>),
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

impl Command {
    /// Every kind of command, by name (the property test applies each of them).
    pub const KINDS: [&'static str; 22] = [
        "add_markup",
        "insert_markup",
        "remove_markup",
        "set_points",
        "rename",
        "set_note",
        "set_colour",
        "set_visible",
        "set_locked",
        "add_structure",
        "insert_structure",
        "remove_structure",
        "set_recipe",
        "set_structure_visible",
        "add_bookmark",
        "insert_bookmark",
        "remove_bookmark",
        "add_path",
        "insert_path",
        "remove_path",
        "set_path",
        "batch",
    ];

    /// This command's kind, one of [`Command::KINDS`].
    pub fn kind(&self) -> &'static str {
        match self {
            Command::AddMarkup(_) => "add_markup",
            Command::InsertMarkup(..) => "insert_markup",
            Command::RemoveMarkup(_) => "remove_markup",
            Command::SetPoints { .. } => "set_points",
            Command::Rename { .. } => "rename",
            Command::SetNote { .. } => "set_note",
            Command::SetColour { .. } => "set_colour",
            Command::SetVisible { .. } => "set_visible",
            Command::SetLocked { .. } => "set_locked",
            Command::AddStructure(_) => "add_structure",
            Command::InsertStructure(..) => "insert_structure",
            Command::RemoveStructure(_) => "remove_structure",
            Command::SetRecipe { .. } => "set_recipe",
            Command::SetStructureVisible { .. } => "set_structure_visible",
            Command::AddBookmark(_) => "add_bookmark",
            Command::InsertBookmark(..) => "insert_bookmark",
            Command::RemoveBookmark(_) => "remove_bookmark",
            Command::AddPath(_) => "add_path",
            Command::InsertPath(..) => "insert_path",
            Command::RemovePath(_) => "remove_path",
            Command::SetPath(_) => "set_path",
            Command::Batch(..) => "batch",
        }
    }

    /// Whether two commands set the same whole value of the same item (so the later one
    /// makes the earlier one moot: a gesture keeps only its last).
    pub fn same_target(&self, other: &Command) -> bool {
        use Command::*;
        match (self, other) {
            (SetPoints { id: a, .. }, SetPoints { id: b, .. })
            | (Rename { id: a, .. }, Rename { id: b, .. })
            | (SetNote { id: a, .. }, SetNote { id: b, .. })
            | (SetColour { id: a, .. }, SetColour { id: b, .. })
            | (SetVisible { id: a, .. }, SetVisible { id: b, .. })
            | (SetLocked { id: a, .. }, SetLocked { id: b, .. })
            | (SetRecipe { id: a, .. }, SetRecipe { id: b, .. })
            | (SetStructureVisible { id: a, .. }, SetStructureVisible { id: b, .. }) => a == b,
            (SetPath(a), SetPath(b)) => a.id == b.id,
            _ => false,
        }
    }

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
            Command::AddMarkup(m) | Command::InsertMarkup(_, m) => format!("add {}", m.name),
            Command::RemoveMarkup(id) => format!("delete {}", markup(id)),
            Command::SetPoints { id, .. } => format!("move {}", markup(id)),
            Command::Rename { id, .. } => format!("rename {}", markup(id)),
            Command::SetNote { id, .. } => format!("note on {}", markup(id)),
            Command::SetColour { id, .. } => format!("colour of {}", markup(id)),
            Command::SetVisible { id, visible } => {
                format!("{} {}", if *visible { "show" } else { "hide" }, markup(id))
            }
            Command::SetLocked { id, locked } => {
                format!("{} {}", if *locked { "lock" } else { "unlock" }, markup(id))
            }
            Command::AddStructure(s) | Command::InsertStructure(_, s) => {
                format!("add structure {}", s.recipe.name)
            }
            Command::RemoveStructure(id) => format!("remove {}", structure(id)),
            Command::SetRecipe { id, recipe } => {
                match plan.structures.iter().find(|s| s.id == *id) {
                    Some(before) => recipe_change(&before.recipe, recipe),
                    None => format!("change {}", structure(id)),
                }
            }
            Command::SetStructureVisible { id, visible } => {
                format!(
                    "{} {}",
                    if *visible { "show" } else { "hide" },
                    structure(id)
                )
            }
            Command::AddBookmark(b) | Command::InsertBookmark(_, b) => {
                format!("add view {}", b.name)
            }
            Command::RemoveBookmark(n) => format!("delete view {n}"),
            Command::AddPath(p) | Command::InsertPath(_, p) => format!("add path {}", p.name),
            Command::RemovePath(id) => format!(
                "delete path {}",
                plan.paths
                    .iter()
                    .find(|p| p.id == *id)
                    .map_or_else(|| id.to_string(), |p| p.name.clone())
            ),
            Command::SetPath(p) => match plan.paths.iter().find(|q| q.id == p.id) {
                Some(before) => path_change(before, p),
                None => format!("change path {}", p.name),
            },
            Command::Batch(what, _) => what.clone(),
        }
    }
}

/// What changed from `before` to `after` of one structure's recipe, as the Edit menu says
/// it ("paint on lumen of Path 1", "mark false lumen no-go").
fn recipe_change(
    before: &crate::plan::recipe::Recipe,
    after: &crate::plan::recipe::Recipe,
) -> String {
    let name = &after.name;
    let (eb, ea) = (&before.edits, &after.edits);
    if ea.len() == eb.len() + 1 && ea.starts_with(eb) {
        let edit = ea.last().map_or("edit", |e| e.name());
        format!("{edit} on {name}")
    } else if ea.is_empty() && !eb.is_empty() {
        format!("clear the edits of {name}")
    } else if ea != eb {
        format!("edits of {name}")
    } else if before.no_go != after.no_go {
        if after.no_go {
            format!("mark {name} no-go")
        } else {
            format!("allow paths in {name}")
        }
    } else if before.colour != after.colour {
        format!("colour of {name}")
    } else if before.opacity != after.opacity {
        format!("opacity of {name}")
    } else if before.name != after.name {
        format!("rename {} to {name}", before.name)
    } else {
        format!("change {name}")
    }
}

/// What changed from `before` to `after` of one path, as the Edit menu says it ("move
/// target of Path 1", "device of Path 1: Introducer sheath 14 F").
fn path_change(before: &crate::plan::CatheterPath, after: &crate::plan::CatheterPath) -> String {
    let name = &after.name;
    let (wb, wa) = (&before.waypoints_lps_mm, &after.waypoints_lps_mm);
    if before.name != after.name {
        format!("rename {} to {name}", before.name)
    } else if before.entry_lps_mm != after.entry_lps_mm {
        format!("move entry of {name}")
    } else if before.target_lps_mm != after.target_lps_mm {
        format!("move target of {name}")
    } else if wa.len() > wb.len() {
        format!("add waypoint to {name}")
    } else if wa.len() < wb.len() {
        format!("remove waypoint from {name}")
    } else if let Some(k) = (0..wa.len()).find(|&k| wa[k] != wb[k]) {
        format!("move waypoint {} of {name}", k + 1)
    } else if before.device != after.device {
        let device = after
            .device
            .as_ref()
            .map_or("none".to_string(), |d| d.name.clone());
        format!("device of {name}: {device}")
    } else if before.min_diameter_mm != after.min_diameter_mm {
        let floor = after
            .min_diameter_mm
            .unwrap_or(crate::catheter::GUIDEWIRE_MM);
        format!("floor of {name}: {floor:.2} mm")
    } else if before.visible != after.visible {
        format!("{} {name}", if after.visible { "show" } else { "hide" })
    } else if before.colour != after.colour {
        format!("colour of {name}")
    } else {
        format!("change path {name}")
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
    pub fn apply(&mut self, edit: Command) -> Result<Command, EditError> {
        match edit {
            Command::AddMarkup(_)
            | Command::InsertMarkup(..)
            | Command::RemoveMarkup(_)
            | Command::SetPoints { .. }
            | Command::Rename { .. }
            | Command::SetNote { .. }
            | Command::SetColour { .. }
            | Command::SetVisible { .. }
            | Command::SetLocked { .. } => self.apply_to_markups(edit),
            _ => self.apply_to_the_rest(edit),
        }
    }

    /// The commands on markups.
    fn apply_to_markups(&mut self, edit: Command) -> Result<Command, EditError> {
        Ok(match edit {
            Command::AddMarkup(m) => {
                let at = self.markups.len();
                self.apply(Command::InsertMarkup(at, m))?
            }
            Command::InsertMarkup(at, m) => {
                if self.id_taken(m.id) {
                    return Err(EditError::DuplicateId(m.id));
                }
                if m.points_lps_mm.iter().flatten().any(|c| !c.is_finite()) {
                    return Err(EditError::NotFinite);
                }
                let id = m.id;
                self.next_id = self.next_id.max(id);
                self.markups.insert(at.min(self.markups.len()), m);
                Command::RemoveMarkup(id)
            }
            Command::RemoveMarkup(id) => {
                let at = self
                    .markups
                    .iter()
                    .position(|m| m.id == id)
                    .ok_or(EditError::NoMarkup(id))?;
                Command::InsertMarkup(at, self.markups.remove(at))
            }
            Command::SetPoints { id, points } => {
                let m = self.markup_mut(id)?;
                if m.locked {
                    return Err(EditError::Locked(m.name.clone()));
                }
                check_points(m.kind, &points)?;
                let before = std::mem::replace(&mut m.points_lps_mm, points);
                Command::SetPoints { id, points: before }
            }
            Command::Rename { id, name } => {
                let m = self.markup_mut(id)?;
                let before = std::mem::replace(&mut m.name, name);
                Command::Rename { id, name: before }
            }
            Command::SetNote { id, note } => {
                let m = self.markup_mut(id)?;
                let before = std::mem::replace(&mut m.note, note);
                Command::SetNote { id, note: before }
            }
            Command::SetColour { id, colour } => {
                let m = self.markup_mut(id)?;
                let before = std::mem::replace(&mut m.colour, colour);
                Command::SetColour { id, colour: before }
            }
            Command::SetVisible { id, visible } => {
                let m = self.markup_mut(id)?;
                let before = std::mem::replace(&mut m.visible, visible);
                Command::SetVisible {
                    id,
                    visible: before,
                }
            }
            Command::SetLocked { id, locked } => {
                let m = self.markup_mut(id)?;
                let before = std::mem::replace(&mut m.locked, locked);
                Command::SetLocked { id, locked: before }
            }
            other => self.apply_to_the_rest(other)?,
        })
    }

    /// Structures, bookmarks, paths and batches.
    fn apply_to_the_rest(&mut self, edit: Command) -> Result<Command, EditError> {
        Ok(match edit {
            Command::AddStructure(st) => {
                let at = self.structures.len();
                self.apply(Command::InsertStructure(at, st))?
            }
            Command::InsertStructure(at, st) => {
                if self.id_taken(st.id) {
                    return Err(EditError::DuplicateId(st.id));
                }
                let id = st.id;
                self.next_id = self.next_id.max(id);
                self.structures.insert(at.min(self.structures.len()), st);
                Command::RemoveStructure(id)
            }
            Command::RemoveStructure(id) => {
                let at = self
                    .structures
                    .iter()
                    .position(|s| s.id == id)
                    .ok_or(EditError::NoStructure(id))?;
                Command::InsertStructure(at, self.structures.remove(at))
            }
            Command::SetRecipe { id, recipe } => {
                let s = self.structure_mut(id)?;
                let before = std::mem::replace(&mut s.recipe, recipe);
                Command::SetRecipe { id, recipe: before }
            }
            Command::SetStructureVisible { id, visible } => {
                let s = self.structure_mut(id)?;
                let before = std::mem::replace(&mut s.visible, visible);
                Command::SetStructureVisible {
                    id,
                    visible: before,
                }
            }
            Command::AddBookmark(b) => {
                let at = self.bookmarks.len();
                self.apply(Command::InsertBookmark(at, b))?
            }
            Command::InsertBookmark(at, b) => {
                if self.bookmarks.iter().any(|x| x.name == b.name) {
                    return Err(EditError::DuplicateBookmark(b.name));
                }
                let name = b.name.clone();
                self.bookmarks.insert(at.min(self.bookmarks.len()), b);
                Command::RemoveBookmark(name)
            }
            Command::RemoveBookmark(name) => {
                let at = self
                    .bookmarks
                    .iter()
                    .position(|b| b.name == name)
                    .ok_or(EditError::NoBookmark(name))?;
                Command::InsertBookmark(at, self.bookmarks.remove(at))
            }
            Command::AddPath(p) => {
                let at = self.paths.len();
                self.apply(Command::InsertPath(at, p))?
            }
            Command::InsertPath(at, p) => {
                if self.id_taken(p.id) {
                    return Err(EditError::DuplicateId(p.id));
                }
                if !p.is_finite() {
                    return Err(EditError::NotFinite);
                }
                let id = p.id;
                self.next_id = self.next_id.max(id);
                self.paths.insert(at.min(self.paths.len()), p);
                Command::RemovePath(id)
            }
            Command::RemovePath(id) => {
                let at = self
                    .paths
                    .iter()
                    .position(|p| p.id == id)
                    .ok_or(EditError::NoPath(id))?;
                Command::InsertPath(at, self.paths.remove(at))
            }
            Command::SetPath(p) => {
                if !p.is_finite() {
                    return Err(EditError::NotFinite);
                }
                let slot = self
                    .paths
                    .iter_mut()
                    .find(|x| x.id == p.id)
                    .ok_or(EditError::NoPath(p.id))?;
                Command::SetPath(std::mem::replace(slot, p))
            }
            Command::Batch(what, edits) => {
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
                Command::Batch(what, inverses)
            }
            other => self.apply_to_markups(other)?,
        })
    }
}
