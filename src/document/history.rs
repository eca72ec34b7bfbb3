//! The undo history: bounded stacks of inverse commands with what each step was called,
//! and how many edits were made since the plan was last saved. Bevy-free; no I/O.

use super::command::{Command, EditError};
use crate::plan::Plan;

/// Undo and redo stacks of inverse edits, bounded (the oldest steps are forgotten).
#[derive(Debug, Clone)]
pub struct History {
    undo: Vec<(String, Command)>,
    redo: Vec<(String, Command)>,
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
    pub fn apply(&mut self, plan: &mut Plan, edit: Command) -> Result<(), EditError> {
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
        edit: Command,
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

    /// Steps Undo can take.
    pub fn undo_len(&self) -> usize {
        self.undo.len()
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
