//! The plan files feature of the workstation: the document as a Bevy resource ([`PlanDoc`],
//! a [`crate::document::Document`] with the series it was started for and the last file
//! command's outcome) and the file work on it — open, save, import 3D Slicer markups,
//! export CSV or Slicer JSON, the plan asked for on the command line and the recovery copy
//! taken back — each a job of [`Jobs`] (listed in the status bar, errors as notices), never
//! file I/O in a frame. The document changes only through its commands and the outcomes of
//! these jobs. No patient identity is read or written here.

use std::ops::Deref;
use std::path::{Path, PathBuf};

use bevy::prelude::*;

use super::jobs::Jobs;
use super::state::{Step, UiAction, Workspace};
use crate::document::files::{self, Export};
use crate::document::{Command, Document};
use crate::geometry::P;
use crate::plan::file::{PlanFile, Reference};
use crate::plan::recovery::Recovery;
use crate::plan::{CatheterPath, Markup, PlanStructure};
use crate::session::banner::Banner;
use crate::session::{Level, Notice};

/// The plan being worked on: what Save writes and Undo reverts. Read it through `Deref`
/// ([`Document`]'s accessors); change it only through the methods here, which are commands.
#[derive(Resource, Default)]
pub struct PlanDoc {
    doc: Document,
    /// The volume revision the plan belongs to (a new series starts a new plan).
    pub volume_revision: u64,
    /// The last file command's outcome, shown in the plan panel.
    pub message: Option<(bool, String)>,
    /// File jobs in progress: job id and what it does.
    files: Vec<(u64, FileJob)>,
    /// Imported markups of which some are already in the plan (same name and kind),
    /// waiting for the user: replace those, or keep both.
    pub pending_import: Option<PendingImport>,
    /// A plan file of another series that a save found where it was to write, waiting for
    /// the user's yes (nothing was written).
    pub confirm_replace: Option<PathBuf>,
}

/// Imported markups waiting for the user's answer, and which are already in the plan.
#[derive(Debug, Clone)]
pub struct PendingImport {
    markups: Vec<Markup>,
    skipped: Vec<String>,
    /// For each imported markup, the id of the plan's markup of its name and kind.
    same: Vec<Option<u64>>,
}

impl PendingImport {
    /// How many of the imported markups are already in the plan, and how many there are.
    pub fn counts(&self) -> (usize, usize) {
        (self.same.iter().flatten().count(), self.markups.len())
    }
}

/// What to do with imported markups already in the plan.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ImportChoice {
    /// The plan's markups of the same name and kind give way to the imported ones.
    Replace,
    /// Both stay; the imported ones are named "… (imported)".
    KeepBoth,
    Cancel,
}

/// What a file job of the plan does (and what its result means).
#[derive(Debug, Clone)]
enum FileJob {
    Open(PathBuf),
    Save(PathBuf),
    Import,
    Export(PathBuf),
}

/// What a file job hands back.
type Opened = Result<PlanFile, String>;
type Saved = Result<(u64, files::Saved), String>;
type Imported = Result<(Vec<Markup>, Vec<String>), String>;
type Exported = Result<(), String>;

impl Deref for PlanDoc {
    type Target = Document;
    fn deref(&self) -> &Document {
        &self.doc
    }
}

impl PlanDoc {
    /// See [`Document::forget_file`].
    pub fn forget_file(&mut self) {
        self.doc.forget_file();
    }

    /// One undoable step; an error is kept as the panel's message.
    pub fn edit(&mut self, edit: Command) -> bool {
        match self.doc.apply(edit) {
            Ok(()) => true,
            Err(e) => {
                self.message = Some((false, e.to_string()));
                false
            }
        }
    }

    /// Part of the last step when `merge` (see [`Document::apply_merged`]).
    pub fn edit_merged(&mut self, edit: Command, merge: bool) -> bool {
        match self.doc.apply_merged(edit, merge) {
            Ok(()) => true,
            Err(e) => {
                self.message = Some((false, e.to_string()));
                false
            }
        }
    }

    /// Applies what the panels asked for in this frame, in order: the one place their
    /// commands reach the document.
    pub fn take(&mut self, edits: &mut DocEdits) {
        for a in std::mem::take(&mut edits.actions) {
            match a {
                DocAction::Apply(c) => {
                    self.edit(c);
                }
                DocAction::Preview(c) => {
                    self.preview(c);
                }
                DocAction::EndGesture => {
                    self.end_gesture();
                }
                DocAction::Undo => {
                    self.undo();
                }
                DocAction::Redo => {
                    self.redo();
                }
                DocAction::Reserve(id) => self.doc.reserve_through(id),
                DocAction::Refresh(path) => {
                    self.doc.refresh_path_figures(&path);
                }
                DocAction::ResolveImport(choice) => self.resolve_import(choice),
            }
        }
    }

    /// A command of a gesture in progress (no step until [`PlanDoc::end_gesture`]).
    pub fn preview(&mut self, edit: Command) -> bool {
        self.doc.preview(edit).is_ok()
    }

    /// Ends the gesture in progress as one undoable step.
    pub fn end_gesture(&mut self) -> bool {
        self.doc.commit_preview()
    }

    pub fn undo(&mut self) -> Option<String> {
        self.doc.undo()
    }

    pub fn redo(&mut self) -> Option<String> {
        self.doc.redo()
    }

    /// A fresh id for a new markup, structure or path.
    pub fn new_id(&mut self) -> u64 {
        self.doc.new_id()
    }

    /// Returns to where the gesture in progress began (Escape during a drag).
    pub fn cancel_gesture(&mut self) {
        self.doc.cancel_preview();
    }

    /// A new series is open: an empty plan for it with these structures (no undo step).
    pub fn start(&mut self, reference: Option<Reference>, volume_revision: u64) {
        self.doc.start(reference, Vec::new());
        self.volume_revision = volume_revision;
        self.message = None;
        self.pending_import = None;
    }

    /// The series' default structures, or a modality's, replace the plan's (no undo step:
    /// there is nothing before them to go back to).
    pub fn reset_structures(&mut self, structures: Vec<PlanStructure>) {
        self.doc.reset_structures(structures);
    }

    /// Takes back the plan of a session that ended before it was saved.
    pub fn recover(&mut self, r: Recovery) -> bool {
        let n = r.plan.plan.markups.len();
        if self.doc.recovered(r) {
            self.message = Some((
                true,
                format!(
                    "{n} markup(s) recovered from the last session: save the plan to keep them"
                ),
            ));
            true
        } else {
            self.message = Some((
                false,
                "the recovered measurements belong to another series than the one opened".into(),
            ));
            false
        }
    }

    /// File work still running.
    pub fn file_jobs(&self) -> usize {
        self.files.len()
    }

    /// Starts saving the plan to `path`.
    pub fn start_save(&mut self, jobs: &mut Jobs, path: &Path, replace_other: bool) {
        let Some((f, revision)) = self.doc.to_file() else {
            self.message = Some((false, "no series is open".into()));
            return;
        };
        self.confirm_replace = None;
        let p = path.to_path_buf();
        let id = jobs.task("saving the plan", move |_| -> Saved {
            let saved = files::save(&p, &f, replace_other)?;
            if saved == files::Saved::Written {
                crate::audit::record_written(crate::audit::Action::SavePlan, &p);
            }
            Ok((revision, saved))
        });
        self.files.push((id, FileJob::Save(path.to_path_buf())));
    }

    /// Starts opening the plan at `path` for the open series.
    pub fn start_open(&mut self, jobs: &mut Jobs, path: &Path) {
        let Some(reference) = self.doc.reference().cloned() else {
            self.message = Some((false, "open a series before its plan".into()));
            return;
        };
        let p = path.to_path_buf();
        let id = jobs.task("opening a plan", move |_| -> Opened {
            files::open(&p, &reference)
        });
        self.files.push((id, FileJob::Open(path.to_path_buf())));
    }

    /// Starts importing the markups of a 3D Slicer markups file (one step when they land).
    pub fn start_import(&mut self, jobs: &mut Jobs, path: &Path) {
        let p = path.to_path_buf();
        let id = jobs.task("importing Slicer markups", move |_| -> Imported {
            files::import_slicer(&p)
        });
        self.files.push((id, FileJob::Import));
    }

    /// Starts writing the markups as CSV or 3D Slicer markups JSON.
    pub fn start_export(&mut self, jobs: &mut Jobs, path: &Path, what: Export) {
        let plan = self.doc.plan().clone();
        let p = path.to_path_buf();
        let id = jobs.task("exporting markups", move |_| -> Exported {
            files::export(&p, &plan, what)
        });
        self.files.push((id, FileJob::Export(path.to_path_buf())));
    }

    /// Starts writing the twin as glTF: the visible built surfaces, the plan's visible
    /// markups and paths; recorded in the audit trail once written.
    pub fn start_export_scene(&mut self, jobs: &mut Jobs, ws: &Workspace, path: &Path) {
        let surfaces: Vec<_> = ws
            .structures
            .iter()
            .filter(|s| s.visible)
            .filter_map(|s| {
                let built = s.built.as_ref()?;
                Some((
                    s.recipe.name.clone(),
                    std::sync::Arc::clone(&built.mesh),
                    s.recipe.colour,
                    s.recipe.opacity,
                ))
            })
            .collect();
        let plan = self.doc.plan().clone();
        let p = path.to_path_buf();
        let id = jobs.task("exporting the twin (glTF)", move |_| -> Exported {
            files::export_scene(&p, &surfaces, &plan)?;
            crate::audit::record_written(crate::audit::Action::ExportScene, &p);
            Ok(())
        });
        self.files.push((id, FileJob::Export(path.to_path_buf())));
    }

    /// Takes the file jobs that landed; returns the notices their failures make.
    fn land(&mut self, jobs: &mut Jobs) -> Vec<Notice> {
        let mut notices = Vec::new();
        let pending = std::mem::take(&mut self.files);
        for (id, job) in pending {
            let outcome = match &job {
                FileJob::Save(path) => jobs.take::<Saved>(id).map(|r| {
                    r.map(|(revision, saved)| match saved {
                        files::Saved::Written => {
                            self.doc.saved(path, revision);
                            format!("plan saved to {}", path.display())
                        }
                        files::Saved::OtherSeries => {
                            self.confirm_replace = Some(path.clone());
                            "not saved: that file holds another series' plan".to_string()
                        }
                    })
                }),
                FileJob::Open(path) => jobs.take::<Opened>(id).map(|r| {
                    r.map(|f| {
                        self.doc.opened(f, path);
                        format!(
                            "plan opened: {} markup(s) from {}",
                            self.doc.plan().markups.len(),
                            path.display()
                        )
                    })
                }),
                FileJob::Import => jobs
                    .take::<Imported>(id)
                    .map(|r| r.and_then(|(markups, skipped)| self.import(markups, &skipped))),
                FileJob::Export(path) => jobs
                    .take::<Exported>(id)
                    .map(|r| r.map(|()| format!("written {}", path.display()))),
            };
            match outcome {
                Some(Ok(text)) => self.message = Some((true, text)),
                Some(Err(e)) => {
                    let title = match &job {
                        FileJob::Open(_) => "The plan was not opened",
                        FileJob::Save(_) => "The plan was not saved",
                        FileJob::Import => "The markups were not imported",
                        FileJob::Export(_) => "The export was not written",
                    };
                    notices.push(Notice::new(Level::Error, title, e.clone()));
                    self.message = Some((false, e));
                }
                None if jobs.is_running(id) => self.files.push((id, job)),
                // Cancelled from the status bar: nothing happened.
                None => {}
            }
        }
        notices
    }

    /// Adds imported markups as one step; when some are already in the plan (same name
    /// and kind: the same file imported again), asks first ([`PlanDoc::resolve_import`]).
    fn import(&mut self, markups: Vec<Markup>, skipped: &[String]) -> Result<String, String> {
        let same: Vec<Option<u64>> = markups
            .iter()
            .map(|m| {
                self.doc
                    .plan()
                    .markups
                    .iter()
                    .find(|o| o.name == m.name && o.kind == m.kind)
                    .map(|o| o.id)
            })
            .collect();
        let pending = PendingImport {
            markups,
            skipped: skipped.to_vec(),
            same,
        };
        let (already, n) = pending.counts();
        if already > 0 {
            self.pending_import = Some(pending);
            return Ok(format!(
                "{already} of the {n} imported markup(s) are already in the plan: replace them or keep both?"
            ));
        }
        self.add_imported(pending, ImportChoice::KeepBoth)
    }

    /// The user's answer about imported markups already in the plan.
    pub fn resolve_import(&mut self, choice: ImportChoice) {
        let Some(pending) = self.pending_import.take() else {
            return;
        };
        self.message = Some(match self.add_imported(pending, choice) {
            Ok(text) => (true, text),
            Err(e) => (false, e),
        });
    }

    /// The imported markups into the plan as one step, as `choice` says.
    fn add_imported(&mut self, p: PendingImport, choice: ImportChoice) -> Result<String, String> {
        if choice == ImportChoice::Cancel {
            return Ok("import cancelled: the plan is as it was".into());
        }
        let n = p.markups.len();
        let mut edits = Vec::new();
        let mut replaced = 0;
        for (mut m, same) in p.markups.into_iter().zip(p.same) {
            match (same, choice) {
                (Some(old), ImportChoice::Replace) => {
                    edits.push(Command::RemoveMarkup(old));
                    replaced += 1;
                }
                (Some(_), _) => m.name = format!("{} (imported)", m.name),
                (None, _) => {}
            }
            m.id = self.doc.new_id();
            edits.push(Command::AddMarkup(m));
        }
        let what = if replaced > 0 {
            format!("import {n} Slicer markup(s), replacing {replaced}")
        } else {
            format!("import {n} Slicer markup(s)")
        };
        self.doc
            .apply(Command::Batch(what.clone(), edits))
            .map_err(|e| e.to_string())?;
        let skipped = if p.skipped.is_empty() {
            String::new()
        } else {
            format!("; skipped: {}", p.skipped.join(", "))
        };
        Ok(format!("{n} markup(s) imported{skipped}"))
    }
}

/// What the panels, keys and tools asked of the document during a frame, in order; applied
/// in one place when the frame's UI pass is over ([`PlanDoc::take`]).
#[derive(Resource, Default)]
pub struct DocEdits {
    actions: Vec<DocAction>,
    /// The next id to hand out ahead of its command (ids are never handed out twice).
    next_id: u64,
}

#[derive(Debug, Clone)]
enum DocAction {
    Apply(Command),
    Preview(Command),
    EndGesture,
    Undo,
    Redo,
    Reserve(u64),
    Refresh(Box<CatheterPath>),
    ResolveImport(ImportChoice),
}

impl DocEdits {
    /// Whether nothing was asked.
    pub fn is_empty(&self) -> bool {
        self.actions.is_empty()
    }
}

/// What the panels get of the document: they read it and send it commands, which are applied
/// when the frame's UI pass is over; they never change it themselves.
pub struct DocWriter<'a> {
    doc: &'a PlanDoc,
    out: &'a mut DocEdits,
}

impl Deref for DocWriter<'_> {
    type Target = PlanDoc;
    fn deref(&self) -> &PlanDoc {
        self.doc
    }
}

impl<'a> DocWriter<'a> {
    pub fn new(doc: &'a PlanDoc, out: &'a mut DocEdits) -> DocWriter<'a> {
        DocWriter { doc, out }
    }

    /// One undoable step (sent).
    pub fn edit(&mut self, edit: Command) {
        self.out.actions.push(DocAction::Apply(edit));
    }

    /// A command of a gesture in progress (sent; no step until the gesture ends).
    pub fn preview(&mut self, edit: Command) {
        self.out.actions.push(DocAction::Preview(edit));
    }

    /// Ends the gesture in progress as one step.
    pub fn end_gesture(&mut self) {
        self.out.actions.push(DocAction::EndGesture);
    }

    pub fn undo(&mut self) {
        self.out.actions.push(DocAction::Undo);
    }

    pub fn redo(&mut self) {
        self.out.actions.push(DocAction::Redo);
    }

    /// A fresh id for a new markup, structure or path, taken at once.
    pub fn new_id(&mut self) -> u64 {
        let id = self.doc.plan().next_free_id().max(self.out.next_id);
        self.out.next_id = id + 1;
        self.out.actions.push(DocAction::Reserve(id));
        id
    }

    /// Moves one point while it is dragged (a gesture: the drag's end is one step).
    pub fn drag_to(&mut self, id: u64, index: usize, p: P) {
        let Some(m) = self.doc.plan().markup(id) else {
            return;
        };
        let mut points = m.points_lps_mm.clone();
        if let Some(q) = points.get_mut(index) {
            *q = p;
            self.preview(Command::SetPoints { id, points });
        }
    }

    /// Ends a point's drag: one undoable step, whatever it passed through.
    pub fn end_drag(&mut self) {
        self.end_gesture();
    }

    /// Shows a path as it is re-planned while one of its stops is dragged (a gesture).
    pub fn preview_path(&mut self, path: CatheterPath) {
        self.preview(Command::SetPath(path));
    }

    /// Ends a path's drag: one undoable step, whatever it passed through.
    pub fn end_path_drag(&mut self) {
        self.end_gesture();
    }

    /// The user's answer about imported markups already in the plan (sent).
    pub fn resolve_import(&mut self, choice: ImportChoice) {
        self.out.actions.push(DocAction::ResolveImport(choice));
    }

    /// A path's figures measured again in its changed lumen (no step; see
    /// [`crate::document::Document::refresh_path_figures`]).
    pub fn refresh_path(&mut self, path: CatheterPath) {
        self.out.actions.push(DocAction::Refresh(Box::new(path)));
    }
}

/// A plan to open once a series newer than `after_volume` is on screen: a file (`--plan`)
/// or the recovery copy of the last session.
#[derive(Resource, Default)]
pub struct PendingPlan {
    pub file: Option<PathBuf>,
    pub recovered: Option<Box<Recovery>>,
    pub after_volume: u64,
}

impl PendingPlan {
    pub fn is_empty(&self) -> bool {
        self.file.is_none() && self.recovered.is_none()
    }
}

/// The plan files plugin: the document resource and its file jobs.
pub struct PlanFilesPlugin;

impl Plugin for PlanFilesPlugin {
    fn build(&self, app: &mut App) {
        app.init_resource::<PlanDoc>()
            .init_resource::<DocEdits>()
            .init_resource::<PendingPlan>()
            .add_systems(
                Update,
                (start_on_new_series, file_actions, land_files)
                    .chain()
                    .in_set(Step::Follow),
            );
    }
}

/// A new series starts a new plan for it (the markups of the last one are said to be
/// closed, and where they are saved if they are).
pub fn start_on_new_series(mut ws: ResMut<Workspace>, mut doc: ResMut<PlanDoc>) {
    if ws.loaded.is_none() || doc.volume_revision == ws.volume_revision {
        return;
    }
    let reference = ws.loaded.as_ref().map(|l| Reference::of(&l.volume));
    if !doc.plan().markups.is_empty() {
        let n = doc.plan().markups.len();
        let saved = match doc.path() {
            Some(p) if !doc.dirty() => format!("; they are saved in {}", p.display()),
            _ => String::new(),
        };
        ws.notify(Notice::new(
            Level::Warning,
            "Measurements closed with the previous series",
            format!(
                "{n} markup(s) belonged to the previous series and are no longer shown{saved}."
            ),
        ));
    }
    let revision = ws.volume_revision;
    doc.start(reference, revision);
}

/// The menus' file commands become jobs; the plan asked for at start opens once its series
/// is there.
fn file_actions(
    mut actions: MessageReader<UiAction>,
    ws: Res<Workspace>,
    mut doc: ResMut<PlanDoc>,
    mut jobs: ResMut<Jobs>,
    mut pending: ResMut<PendingPlan>,
) {
    for a in actions.read() {
        match a {
            UiAction::OpenPlan(path) => doc.start_open(&mut jobs, path),
            UiAction::SavePlan(path) => doc.start_save(&mut jobs, path, false),
            UiAction::ReplaceOtherPlan(Some(path)) => doc.start_save(&mut jobs, path, true),
            UiAction::ReplaceOtherPlan(None) => doc.confirm_replace = None,
            UiAction::ImportMarkups(path) => doc.start_import(&mut jobs, path),
            UiAction::ExportMarkups(path, what) => doc.start_export(&mut jobs, path, *what),
            UiAction::ExportScene(path) => doc.start_export_scene(&mut jobs, &ws, path),
            _ => {}
        }
    }
    if ws.loaded.is_some()
        && doc.volume_revision == ws.volume_revision
        && !pending.is_empty()
        && ws.volume_revision > pending.after_volume
    {
        match (pending.file.take(), pending.recovered.take()) {
            (Some(path), _) => doc.start_open(&mut jobs, &path),
            (None, Some(r)) => {
                doc.recover(*r);
            }
            (None, None) => {}
        }
    }
}

/// File jobs that landed change the document (or say why not, as a notice).
fn land_files(mut ws: ResMut<Workspace>, mut doc: ResMut<PlanDoc>, mut jobs: ResMut<Jobs>) {
    if doc.files.is_empty() {
        return;
    }
    for n in doc.land(&mut jobs) {
        ws.notify(n);
    }
}

/// What the save dialog writes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SaveWhat {
    Plan,
    Csv,
    Slicer,
    /// The twin as glTF (the visible surfaces, markups and paths).
    Scene,
    /// The open series de-identified, into a new folder (the case packages feature).
    Deidentified,
}

impl SaveWhat {
    /// The export it is (None: the plan itself).
    pub fn export(self) -> Option<Export> {
        match self {
            SaveWhat::Plan | SaveWhat::Scene | SaveWhat::Deidentified => None,
            SaveWhat::Csv => Some(Export::Csv),
            SaveWhat::Slicer => Some(Export::Slicer),
        }
    }

    /// The action that writes it to `path`.
    pub fn action(self, path: PathBuf) -> UiAction {
        match (self, self.export()) {
            (SaveWhat::Scene, _) => UiAction::ExportScene(path),
            (SaveWhat::Deidentified, _) => UiAction::ExportDeidentified(path),
            (_, None) => UiAction::SavePlan(path),
            (_, Some(e)) => UiAction::ExportMarkups(path, e),
        }
    }
}

/// Where the save dialog starts: beside the plan, else the working folder; a plan never
/// saved is named after the study (its modality and series, never the patient).
pub fn default_path(doc: &PlanDoc, what: SaveWhat, banner: Option<&Banner>) -> PathBuf {
    let dir = doc
        .path()
        .and_then(|p| p.parent())
        .filter(|p| !p.as_os_str().is_empty())
        .map(Path::to_path_buf)
        .unwrap_or_else(|| std::env::current_dir().unwrap_or_default());
    let stem = banner.map_or_else(|| "plan".to_string(), Banner::plan_stem);
    dir.join(match what {
        SaveWhat::Plan => format!("{stem}.twinplan.json"),
        SaveWhat::Csv => format!("{stem}-measurements.csv"),
        SaveWhat::Slicer => format!("{stem}-measurements.mrk.json"),
        SaveWhat::Scene => format!("{stem}-twin.glb"),
        SaveWhat::Deidentified => format!("{stem}-deidentified"),
    })
}
