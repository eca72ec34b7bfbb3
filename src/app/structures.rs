//! The structures feature: the plan's structures (recipes and visibility, their one store)
//! changed by the panel through commands, and the workspace's built surfaces following
//! them. A panel's structure action becomes a document command (an opacity slider or a
//! colour picker dragged is one step, whatever values it passed through); when the document
//! changes (the panel, undo, redo, an opened plan), the built surfaces follow one way:
//! added, removed, shown, recoloured, and rebuilt only when a recipe's shape changed. A new
//! series' default structures (or a modality's) start the plan's list as they are, with no
//! undo step. Builds are jobs of [`Jobs`]; no drawing here.

use bevy::prelude::*;

use super::document::PlanDoc;
use super::jobs::Jobs;
use super::state::{Step, UiAction, Workspace, start_build};
use crate::document::Command;
use crate::plan::PlanStructure;
use crate::plan::recipe::Recipe;

/// Registers the structure commands and the surfaces that follow the plan.
pub struct StructuresPlugin;

impl Plugin for StructuresPlugin {
    fn build(&self, app: &mut App) {
        app.init_resource::<StructureSync>().add_systems(
            Update,
            (
                reserve_structure_ids.in_set(Step::Prepare),
                structure_commands.in_set(Step::Actions),
                structures_follow_plan
                    .in_set(Step::Follow)
                    .after(super::document::start_on_new_series),
            ),
        );
    }
}

/// What the built surfaces last followed: the series' defaults (volume revision and
/// baseline) and the document's revision; the structure whose recipe the last command set,
/// with the revision it left (a slider's next value merges into that step).
#[derive(Resource, Default)]
pub struct StructureSync {
    baseline: Option<(u64, u64)>,
    revision: u64,
    last_recipe: Option<(u64, u64)>,
}

/// Markups and structures share one id space: a structure added by the panels takes an id
/// above every markup's.
fn reserve_structure_ids(mut ws: ResMut<Workspace>, doc: Res<PlanDoc>) {
    if ws.next_structure_id() <= doc.plan().next_id {
        ws.reserve_ids_through(doc.plan().next_id);
    }
}

fn snapshot(ws: &Workspace) -> Vec<PlanStructure> {
    ws.structures
        .iter()
        .map(|s| PlanStructure {
            id: s.id,
            recipe: s.recipe.clone(),
            visible: s.visible,
        })
        .collect()
}

/// Whether going from recipe `a` to `b` changes the surface (not only how it is shown).
fn reshapes(a: &Recipe, b: &Recipe) -> bool {
    a.source != b.source
        || a.seeds_mm != b.seeds_mm
        || a.max_triangles != b.max_triangles
        || a.edits != b.edits
}

/// The panel's structure actions as commands on the document (Rebuild is no change of the
/// document: the surface is made again from the same recipe).
fn structure_commands(
    mut actions: MessageReader<UiAction>,
    mut ws: ResMut<Workspace>,
    mut jobs: ResMut<Jobs>,
    mut doc: ResMut<PlanDoc>,
    mut sync: ResMut<StructureSync>,
) {
    for action in actions.read() {
        let recipe_of = |id: u64| {
            doc.plan()
                .structures
                .iter()
                .find(|s| s.id == id)
                .map(|s| s.recipe.clone())
        };
        match action.clone() {
            UiAction::AddStructure(mut recipe) => {
                if recipe.max_triangles.is_none() {
                    recipe.max_triangles = ws.triangle_budget;
                }
                let id = doc.new_id();
                ws.reserve_ids_through(id);
                doc.edit(Command::AddStructure(PlanStructure {
                    id,
                    recipe,
                    visible: true,
                }));
            }
            UiAction::Rebuild(id) => {
                jobs.cancel_structure(id);
                start_build(&mut jobs, &ws, id);
            }
            UiAction::Remove(id) => {
                doc.edit(Command::RemoveStructure(id));
            }
            UiAction::SetVisible(id, visible) => {
                doc.edit(Command::SetStructureVisible { id, visible });
            }
            UiAction::SetOpacity(id, o, continuing) => {
                if let Some(mut recipe) = recipe_of(id) {
                    recipe.opacity = o.clamp(0.02, 1.0);
                    set_recipe(&mut doc, &mut sync, id, recipe, continuing);
                }
            }
            UiAction::SetNoGo(id, no_go) => {
                if let Some(mut recipe) = recipe_of(id) {
                    recipe.no_go = no_go;
                    set_recipe(&mut doc, &mut sync, id, recipe, false);
                }
            }
            UiAction::SetColour(id, c, continuing) => {
                if let Some(mut recipe) = recipe_of(id) {
                    recipe.colour = c;
                    set_recipe(&mut doc, &mut sync, id, recipe, continuing);
                }
            }
            _ => {}
        }
    }
}

/// A recipe set from a slider or colour picker: while the pointer that began the change is
/// still held (`continuing`) and nothing else changed the plan since, it joins the last step.
fn set_recipe(
    doc: &mut PlanDoc,
    sync: &mut StructureSync,
    id: u64,
    recipe: Recipe,
    continuing: bool,
) {
    let merge = continuing && sync.last_recipe == Some((id, doc.revision()));
    if doc.edit_merged(Command::SetRecipe { id, recipe }, merge) {
        sync.last_recipe = Some((id, doc.revision()));
    }
}

/// The built surfaces follow the plan's structures one way; a new series' (or modality's)
/// defaults start the plan's list, with no undo step.
fn structures_follow_plan(
    mut ws: ResMut<Workspace>,
    mut jobs: ResMut<Jobs>,
    mut doc: ResMut<PlanDoc>,
    mut sync: ResMut<StructureSync>,
) {
    if ws.loaded.is_none() || doc.volume_revision != ws.volume_revision {
        return;
    }
    let baseline = (ws.volume_revision, ws.structures_baseline);
    if sync.baseline != Some(baseline) {
        sync.baseline = Some(baseline);
        doc.reset_structures(snapshot(&ws));
        sync.revision = doc.revision();
        return;
    }
    if doc.revision() == sync.revision {
        return;
    }
    sync.revision = doc.revision();
    if doc.plan().structures == snapshot(&ws) {
        return;
    }
    {
        let target = doc.plan().structures.clone();
        let gone: Vec<u64> = ws
            .structures
            .iter()
            .filter(|s| !target.iter().any(|t| t.id == s.id))
            .map(|s| s.id)
            .collect();
        for id in gone {
            jobs.cancel_structure(id);
            ws.structures.retain(|s| s.id != id);
        }
        for t in &target {
            match ws.structures.iter_mut().find(|s| s.id == t.id) {
                None => {
                    ws.insert_structure(t.id, t.recipe.clone(), t.visible);
                    start_build(&mut jobs, &ws, t.id);
                }
                Some(s) => {
                    s.visible = t.visible;
                    if s.recipe != t.recipe {
                        let rebuild = reshapes(&s.recipe, &t.recipe);
                        s.recipe = t.recipe.clone();
                        if rebuild {
                            jobs.cancel_structure(t.id);
                            start_build(&mut jobs, &ws, t.id);
                        }
                    }
                }
            }
        }
        // The panels list structures in the plan's order.
        let order: Vec<u64> = target.iter().map(|t| t.id).collect();
        ws.structures.sort_by_key(|s| {
            order
                .iter()
                .position(|&id| id == s.id)
                .unwrap_or(usize::MAX)
        });
    }
}
