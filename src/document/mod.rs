//! The document: the case being worked on, as a plan saves it and undo reverts it — the
//! structures' recipes and visibility (their one store: the viewer keeps only the meshes it
//! built from them, keyed by id and recipe), markups, catheter paths and saved views — with
//! the study it belongs to, the file it lives in and its undo history.
//!
//! It has one door: a [`Document`] changes only through [`Command`] values ([`Document::apply`]
//! for one undoable step, [`Document::preview`] and [`Document::commit_preview`] for a
//! gesture — a drag, a slider — that ends as one step), and through the outcome of a file job
//! ([`Document::opened`], [`Document::recovered`], [`Document::saved`]). Every change bumps
//! [`Document::revision`], which is what anything derived from the document (meshes, pick
//! indices, autosave) watches. The file work itself ([`files`]) is plain functions the viewer
//! runs as background jobs. Bevy-free: no windows, no egui; no patient identity.

pub mod command;
pub mod files;
pub mod history;

use std::path::{Path, PathBuf};

pub use command::{Command, EditError};
pub use history::History;

use crate::plan::Plan;
use crate::plan::file::{PlanFile, Reference};
use crate::plan::recovery::Recovery;

/// The case being worked on: the plan, its history, the study and file it belongs to.
#[derive(Debug, Clone, Default)]
pub struct Document {
    plan: Plan,
    history: History,
    /// The study the plan belongs to (None until a series is open).
    reference: Option<Reference>,
    /// The file it was opened from or last saved to.
    path: Option<PathBuf>,
    revision: u64,
    /// The gesture in progress: its name (of its first command) and the commands that
    /// return the plan to where it began, newest last.
    gesture: Option<Gesture>,
}

#[derive(Debug, Clone)]
struct Gesture {
    undo: Vec<Command>,
    forward: Vec<Command>,
}

impl Document {
    /// An empty plan for a study (None: no series open yet).
    pub fn for_study(reference: Option<Reference>) -> Document {
        Document {
            reference,
            ..Document::default()
        }
    }

    pub fn plan(&self) -> &Plan {
        &self.plan
    }

    /// Bumped by every change of the plan (commands, undo, redo, open, recovery).
    pub fn revision(&self) -> u64 {
        self.revision
    }

    pub fn reference(&self) -> Option<&Reference> {
        self.reference.as_ref()
    }

    /// The file the plan was opened from or last saved to.
    pub fn path(&self) -> Option<&Path> {
        self.path.as_deref()
    }

    /// Edits not yet saved.
    pub fn dirty(&self) -> bool {
        self.history.edits_since_save > 0
    }

    /// Edits since the last save (autosave writes every tenth).
    pub fn edits_since_save(&self) -> usize {
        self.history.edits_since_save
    }

    pub fn undo_label(&self) -> Option<&str> {
        self.history.undo_label()
    }

    pub fn redo_label(&self) -> Option<&str> {
        self.history.redo_label()
    }

    /// Steps Undo can take.
    pub fn undo_steps(&self) -> usize {
        self.history.undo_len()
    }

    /// A fresh id for a new markup, structure or path (ids are never reused in a plan).
    pub fn new_id(&mut self) -> u64 {
        self.plan.new_id()
    }

    /// Ids up to `id` are taken (handed out ahead of the command that will use them).
    pub fn reserve_through(&mut self, id: u64) {
        self.plan.next_id = self.plan.next_id.max(id);
    }

    /// One undoable step. A gesture in progress is committed first.
    pub fn apply(&mut self, command: Command) -> Result<(), EditError> {
        self.commit_preview();
        self.history.apply(&mut self.plan, command)?;
        self.revision += 1;
        Ok(())
    }

    /// Part of the last step when `merge`, else a new one (see [`History::apply_merged`]).
    pub fn apply_merged(&mut self, command: Command, merge: bool) -> Result<(), EditError> {
        self.commit_preview();
        self.history.apply_merged(&mut self.plan, command, merge)?;
        self.revision += 1;
        Ok(())
    }

    /// Applies a command of a gesture in progress (a point or path stop dragged, a slider
    /// held): the plan shows it, but no step is made until [`Document::commit_preview`].
    pub fn preview(&mut self, command: Command) -> Result<(), EditError> {
        let inverse = self.plan.apply(command.clone())?;
        let g = self.gesture.get_or_insert(Gesture {
            undo: Vec::new(),
            forward: Vec::new(),
        });
        g.undo.push(inverse);
        // A gesture repeats "set" commands on one item: the last of each is the end state.
        g.forward.retain(|c| !c.same_target(&command));
        g.forward.push(command);
        self.revision += 1;
        Ok(())
    }

    /// Whether a gesture is in progress.
    pub fn previewing(&self) -> bool {
        self.gesture.is_some()
    }

    /// Ends the gesture in progress as one undoable step (from where it began to where it
    /// is now, whatever it passed through); false when there was none or it changed nothing.
    pub fn commit_preview(&mut self) -> bool {
        let Some(g) = self.gesture.take() else {
            return false;
        };
        let now = self.plan.clone();
        for inverse in g.undo.into_iter().rev() {
            if self.plan.apply(inverse).is_err() {
                // Cannot happen (each inverse undoes what was just applied); keep what the
                // user sees rather than lose it.
                self.plan = now;
                return false;
            }
        }
        if self.plan == now {
            return false;
        }
        let mut forward = g.forward;
        let step = if forward.len() == 1 {
            forward.remove(0)
        } else {
            let what = forward
                .first()
                .map(|c| c.describe(&self.plan))
                .unwrap_or_default();
            Command::Batch(what, forward)
        };
        if self.history.apply(&mut self.plan, step).is_err() {
            self.plan = now;
            return false;
        }
        self.revision += 1;
        true
    }

    /// Returns to where the gesture in progress began, making no step.
    pub fn cancel_preview(&mut self) {
        let Some(g) = self.gesture.take() else {
            return;
        };
        for inverse in g.undo.into_iter().rev() {
            let _ = self.plan.apply(inverse);
        }
        self.revision += 1;
    }

    /// Undoes the last step; returns what it was.
    pub fn undo(&mut self) -> Option<String> {
        self.commit_preview();
        let what = self.history.undo(&mut self.plan)?;
        self.revision += 1;
        Some(what)
    }

    /// Redoes the last undone step; returns what it was.
    pub fn redo(&mut self) -> Option<String> {
        self.commit_preview();
        let what = self.history.redo(&mut self.plan)?;
        self.revision += 1;
        Some(what)
    }

    /// A new series opened: an empty plan for it, with its default structures as one
    /// unsaved start (not undoable: there is nothing before it).
    pub fn start(
        &mut self,
        reference: Option<Reference>,
        structures: Vec<crate::plan::PlanStructure>,
    ) {
        *self = Document {
            reference,
            revision: self.revision + 1,
            ..Document::default()
        };
        self.plan.structures = structures;
    }

    /// A series' default structures, or a modality's, replace the plan's: not undoable
    /// (there is nothing before them to go back to), not a change the user made.
    pub fn reset_structures(&mut self, structures: Vec<crate::plan::PlanStructure>) {
        self.gesture = None;
        self.plan.structures = structures;
        self.revision += 1;
    }

    /// A path's figures measured again because its lumen changed (its vessel structure was
    /// edited, or a structure made no-go): derived from the plan, so no step of their own;
    /// an undo of the change they follow brings them back the same way. Taken only while
    /// the path still stands on `stops` (entry, waypoints, target) and no gesture is in
    /// progress; false otherwise or when nothing changed. Unsaved, as any change.
    pub fn refresh_path_figures(&mut self, planned: &crate::plan::CatheterPath) -> bool {
        if self.gesture.is_some() {
            return false;
        }
        let Some(path) = self.plan.paths.iter_mut().find(|p| p.id == planned.id) else {
            return false;
        };
        let same_stops = path.stops() == planned.stops();
        let same_figures = path.report == planned.report
            && path.fit == planned.fit
            && path.problem == planned.problem;
        if !same_stops || same_figures {
            return false;
        }
        path.report = planned.report.clone();
        path.fit = planned.fit.clone();
        path.problem = planned.problem.clone();
        self.history.edits_since_save += 1;
        self.revision += 1;
        true
    }

    /// What Save writes now, and the revision it is of (for [`Document::saved`]).
    pub fn to_file(&self) -> Option<(PlanFile, u64)> {
        let reference = self.reference.clone()?;
        Some((PlanFile::new(reference, self.plan.clone()), self.revision))
    }

    /// A save of `revision` to `path` finished: the plan is clean if nothing changed since.
    pub fn saved(&mut self, path: &Path, revision: u64) {
        self.path = Some(path.to_path_buf());
        if self.revision == revision {
            self.history.edits_since_save = 0;
        }
    }

    /// A plan file was read for this study: it replaces the plan (a plan without
    /// structures, as `measure --add-to` writes, keeps the study's own); history starts over.
    pub fn opened(&mut self, file: PlanFile, path: &Path) {
        self.replace(file.plan, Some(path.to_path_buf()), 0);
    }

    /// The plan keeps no file: it was read from a copy that does not last (a case
    /// package's temporary folder), so Save asks where to write it.
    pub fn forget_file(&mut self) {
        self.path = None;
    }

    /// The plan of a session that ended before it was saved: it stays unsaved (Save writes
    /// it where it was saved before, if it was). Refused (false) when it belongs to another
    /// study than this one.
    pub fn recovered(&mut self, r: Recovery) -> bool {
        let ours = self
            .reference
            .as_ref()
            .is_some_and(|open| r.plan.reference.accepts(open));
        if !ours {
            return false;
        }
        self.replace(r.plan.plan, r.saved_as, 1);
        true
    }

    fn replace(&mut self, plan: Plan, path: Option<PathBuf>, unsaved: usize) {
        self.gesture = None;
        let current = std::mem::take(&mut self.plan.structures);
        self.plan = plan;
        if self.plan.structures.is_empty() {
            self.plan.structures = current;
        }
        self.history.clear();
        self.history.edits_since_save = unsaved;
        self.path = path;
        self.revision += 1;
    }
}

#[cfg(test)]
mod tests;
