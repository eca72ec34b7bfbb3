//! The viewer's state and logic, without rendering: the [`Workspace`] resource (what is
//! open: the study, the structures' surfaces, notices), the [`ViewState`] (cursor, window,
//! layout, camera, anonymity), the [`UiAction`]s
//! panels emit, and the background [`Jobs`] (open, load, surface): each on a thread of its
//! own whose parallel work runs in `work::pool` (lower priority, apart from the pool the UI
//! uses), with progress, cancel, partial results (a coarse surface first) and the rule that
//! a cancelled job's results are dropped, never installed. Feature plugins (jobs,
//! structures, view; measurements and the scene elsewhere) order their systems by
//! [`Step`]; [`LogicPlugin`] gathers this file's and runs under `MinimalPlugins` in tests.
//! Computation is delegated to `session`; nothing here draws.

use std::path::PathBuf;
use std::sync::Arc;

use bevy::prelude::*;

pub use super::jobs::{Job, JobOutput, Jobs, Partial, Waker};

use crate::plan::recipe::Recipe;
use crate::session::banner::Banner;
use crate::session::camera::{OrbitCamera, StandardView};
use crate::session::layout::{Layout, SliceViewState, ViewId};
use crate::session::open::{self, Catalog, LoadedSeries};
use crate::session::readout::Convention;
use crate::session::structures::{self, Built};
use crate::session::{Level, Notice};
use crate::volume::display::{CT_PRESETS, Cursor, Plane, WindowLevel, bounds_mm};

/// One structure in the Structures panel.
#[derive(Debug, Clone)]
pub struct StructureItem {
    pub id: u64,
    pub recipe: Recipe,
    pub visible: bool,
    pub built: Option<Built>,
    pub error: Option<String>,
    /// Bumped whenever the mesh changes (the scene re-uploads it).
    pub revision: u64,
    /// Created by the modality's defaults (replaced when the modality changes), not by the user.
    pub auto: bool,
    /// `built` is the coarse preview; the full surface is still being made.
    pub preview: bool,
}

/// What a notice is about: it stays while that is open.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NoticeScope {
    /// The workstation itself (a failed open): stays until dismissed.
    App,
    /// The open study (files skipped while scanning it).
    Study,
    /// The loaded series (corrections made while loading it, structures that failed).
    Series,
}

/// A notice in the status bar, with a stable id (dismissing or opening one never hits
/// another when older ones are pruned).
#[derive(Debug, Clone, PartialEq)]
pub struct ShownNotice {
    pub id: u64,
    pub scope: NoticeScope,
    pub notice: Notice,
}

/// How the 3D view is dressed.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct ThreeDOptions {
    pub show_crosshair: bool,
    /// Show the three slices, textured, in the 3D view.
    pub show_slices: bool,
    /// Clip the anatomy at the cursor on this plane (keeping the side the arrow points to).
    pub clip: Option<(Plane, bool)>,
    /// Translucent surfaces composited per pixel in depth order (order-independent
    /// transparency); off, they are sorted as whole objects (faster, banded where a surface
    /// overlaps itself).
    pub exact_transparency: bool,
}

/// What is open: the study and its series, the structures' built surfaces (their recipes
/// are the plan's, in [`super::document::PlanDoc`]), notices and the studies opened lately.
/// How it is looked at is [`ViewState`]'s.
#[derive(Resource)]
pub struct Workspace {
    pub catalog: Option<Catalog>,
    pub loaded: Option<LoadedSeries>,
    pub structures: Vec<StructureItem>,
    pub notices: Vec<ShownNotice>,
    pub recent: Vec<PathBuf>,
    pub landmarks: Vec<(String, [f64; 3])>,
    /// Bumped when a new volume arrives.
    pub volume_revision: u64,
    /// Bumped when the structures are replaced wholesale (a new series' defaults, a change
    /// of modality): the plan takes them as they are, not as an undoable edit.
    pub structures_baseline: u64,
    /// Triangles per structure (None = the default budget).
    pub triangle_budget: Option<usize>,
    /// Structures to create on load instead of the modality's defaults (`render --recipes`).
    pub recipes_override: Option<Vec<Recipe>>,
    /// Held while a newly opened study's volume preview is prepared: its surfaces' builds
    /// wait for it (released by the volume rendering).
    pub volume_first: structures::VolumeFirst,
    next_id: u64,
    next_notice: u64,
}

impl Default for Workspace {
    fn default() -> Self {
        Workspace {
            catalog: None,
            loaded: None,
            structures: Vec::new(),
            notices: Vec::new(),
            recent: Vec::new(),
            landmarks: Vec::new(),
            volume_revision: 0,
            structures_baseline: 0,
            triangle_budget: None,
            recipes_override: None,
            volume_first: structures::VolumeFirst::default(),
            next_id: 1,
            next_notice: 1,
        }
    }
}

/// What the panels read: what is open and how it is looked at.
#[derive(Clone, Copy)]
pub struct Seen<'a> {
    pub ws: &'a Workspace,
    pub view: &'a ViewState,
}

/// How the study is looked at: the shared cursor, window and level, layout, slice views, the
/// 3D camera and how the 3D view is dressed, anonymity and how positions are written. Not
/// part of the plan and not undone (the tool in use is the measurements plugin's
/// `MarkupTool`).
#[derive(Resource, Debug, Clone, PartialEq)]
pub struct ViewState {
    pub cursor: Cursor,
    pub window: WindowLevel,
    pub window_name: String,
    pub anonymous: bool,
    /// How positions are written in the read-outs.
    pub coordinates: Convention,
    pub layout: Layout,
    pub slice_views: [SliceViewState; 3],
    pub camera: OrbitCamera,
    pub view_3d: StandardView,
    pub options_3d: ThreeDOptions,
}

impl Default for ViewState {
    fn default() -> Self {
        ViewState {
            cursor: Cursor {
                position_mm: [0.0; 3],
            },
            window: CT_PRESETS[0].1,
            window_name: CT_PRESETS[0].0.into(),
            anonymous: false,
            coordinates: Convention::default(),
            layout: Layout::FourUp,
            slice_views: [SliceViewState::default(); 3],
            camera: OrbitCamera::framing(
                &nalgebra::Point3::new(-200.0, -200.0, -200.0),
                &nalgebra::Point3::new(200.0, 200.0, 200.0),
                StandardView::Anterior,
            ),
            view_3d: StandardView::Anterior,
            options_3d: ThreeDOptions {
                show_crosshair: true,
                show_slices: false,
                clip: None,
                exact_transparency: true,
            },
        }
    }
}

impl ViewState {
    /// The slice-view state of a plane.
    pub fn slice_view_mut(&mut self, plane: Plane) -> &mut SliceViewState {
        &mut self.slice_views[plane_index(plane)]
    }
}

impl Workspace {
    pub fn banner(&self) -> Option<&Banner> {
        self.loaded.as_ref().map(|l| &l.banner)
    }

    /// Adds a notice about the workstation itself (kept until dismissed).
    pub fn notify(&mut self, notice: Notice) {
        self.notify_about(NoticeScope::App, notice);
    }

    /// Adds a notice that lasts while what it is about stays open.
    pub fn notify_about(&mut self, scope: NoticeScope, notice: Notice) {
        let id = self.next_notice;
        self.next_notice += 1;
        self.notices.push(ShownNotice { id, scope, notice });
        if self.notices.len() > 50 {
            self.notices.remove(0);
        }
    }

    /// Forgets the notices about what is being closed.
    fn drop_notices(&mut self, scopes: &[NoticeScope]) {
        self.notices.retain(|n| !scopes.contains(&n.scope));
    }

    /// The modality the open series is treated as ("" when none is open or unknown).
    pub fn modality(&self) -> &str {
        self.loaded.as_ref().map_or("", |l| l.modality.as_str())
    }

    pub fn is_ct(&self) -> bool {
        self.loaded.as_ref().is_some_and(LoadedSeries::is_ct)
    }

    /// Ids from here on are free for a new structure.
    pub fn next_structure_id(&self) -> u64 {
        self.next_id
    }

    /// New structures take ids above `id` (the plan's markups share the id space).
    pub fn reserve_ids_through(&mut self, id: u64) {
        self.next_id = self.next_id.max(id + 1);
    }

    /// A structure with a given id (put back by undo, or from an opened plan); its surface
    /// is still to be built.
    pub fn insert_structure(&mut self, id: u64, recipe: Recipe, visible: bool) {
        self.reserve_ids_through(id);
        self.structures.push(StructureItem {
            id,
            recipe,
            visible,
            built: None,
            error: None,
            revision: 0,
            auto: false,
            preview: false,
        });
    }

    fn add_structure(&mut self, mut recipe: Recipe) -> u64 {
        if recipe.max_triangles.is_none() {
            recipe.max_triangles = self.triangle_budget;
        }
        let id = self.next_id;
        self.next_id += 1;
        self.structures.push(StructureItem {
            id,
            recipe,
            visible: true,
            built: None,
            error: None,
            revision: 0,
            auto: false,
            preview: false,
        });
        id
    }
}

pub fn plane_index(plane: Plane) -> usize {
    match plane {
        Plane::Axial => 0,
        Plane::Coronal => 1,
        Plane::Sagittal => 2,
    }
}

/// What panels and input ask for; [`apply_actions`] turns them into state changes and jobs.
#[derive(Message, Debug, Clone, PartialEq)]
pub enum UiAction {
    Open(PathBuf),
    LoadSeries(String),
    AddStructure(Recipe),
    Rebuild(u64),
    Remove(u64),
    SetVisible(u64, bool),
    /// A structure's opacity or colour; `true` while the pointer that began the change is
    /// still held (a slider dragged: one undo step).
    SetOpacity(u64, f32, bool),
    SetColour(u64, [f32; 3], bool),
    /// Mark a structure no-go for catheter paths, or no longer.
    SetNoGo(u64, bool),
    Cancel(u64),
    CancelAll,
    /// Dismisses the notice with this id.
    DismissNotice(u64),
    SetAnonymous(bool),
    /// Treat the open series as this modality (units, presets, default structures).
    SetModality(String),
    SetCoordinates(Convention),
    Quit,
    SetLayout(Layout),
    ToggleView(ViewId),
    StandardView(StandardView),
    ResetCamera,
    SetWindow(String, WindowLevel),
    MoveCursor([f64; 3]),
    SetSliceView(Plane, SliceViewState),
    SetOptions3d(ThreeDOptions),
    OrbitCamera(f64, f64),
    PanCamera(f64, f64, f64),
    ZoomCamera(f64),
    /// Slices through the middle of this box (patient mm), the camera framed on it.
    FocusOn([f64; 3], [f64; 3]),
    /// The 3D camera looks from `eye` at `target`, `up` upwards (a saved view).
    LookFrom {
        eye: [f64; 3],
        target: [f64; 3],
        up: [f64; 3],
    },
    /// Opens a plan for the open series (a job of the plan files plugin).
    OpenPlan(PathBuf),
    /// Writes the open series de-identified into this new folder (a job of the case
    /// packages plugin).
    ExportDeidentified(PathBuf),
    /// Saves the plan here (a job of the plan files plugin).
    SavePlan(PathBuf),
    /// The user's answer when a save found another series' plan in the file: replace it
    /// (the path), or not (None).
    ReplaceOtherPlan(Option<PathBuf>),
    /// Adds the markups of a 3D Slicer markups file to the plan (one step).
    ImportMarkups(PathBuf),
    /// Writes the markups as CSV or Slicer JSON.
    ExportMarkups(PathBuf, crate::document::files::Export),
    /// Write the twin as glTF (visible surfaces, markups, paths) to this path.
    ExportScene(PathBuf),
    /// Takes the last session's unsaved plan (offered at start) once its study is open.
    RecoverPlan,
    /// Forgets the last session's unsaved plan.
    DiscardRecovery,
}

/// The order of the viewer's logic in `Update`; each feature plugin puts its systems in
/// these sets.
#[derive(SystemSet, Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Step {
    /// Before any action is applied (ids set aside for what an opened plan adds).
    Prepare,
    /// The panels' and keys' actions applied: each plugin reads the ones it owns.
    Actions,
    /// Background jobs' results installed.
    Results,
    /// What follows what is open: the plan, the 3D cursor.
    Follow,
}

/// What is open and the background jobs: opening, loading, cancelling, notices; job results.
pub struct JobsPlugin;

impl Plugin for JobsPlugin {
    fn build(&self, app: &mut App) {
        app.init_resource::<Workspace>()
            .init_resource::<Jobs>()
            .add_systems(Update, apply_actions.in_set(Step::Actions))
            .add_systems(Update, poll_jobs.in_set(Step::Results));
    }
}

/// The view: cursor, window, layout, slice views, camera; the 3D cursor's entity.
pub struct ViewPlugin;

impl Plugin for ViewPlugin {
    fn build(&self, app: &mut App) {
        app.init_resource::<ViewState>()
            .add_systems(Startup, spawn_crosshair)
            .add_systems(
                Update,
                (
                    apply_view_actions
                        .in_set(Step::Actions)
                        .after(apply_actions),
                    sync_crosshair_marker.in_set(Step::Follow),
                ),
            );
    }
}

/// The 3D cursor: an entity at the shared cursor (patient mm = world units).
#[derive(Component)]
pub struct Crosshair3d;

fn spawn_crosshair(mut commands: Commands) {
    commands.spawn((Crosshair3d, Transform::default()));
}

/// Patient mm (f64) to world units (f32): the scene is laid out in LPS millimetres.
pub fn world(p: [f64; 3]) -> Vec3 {
    Vec3::new(p[0] as f32, p[1] as f32, p[2] as f32)
}

fn sync_crosshair_marker(view: Res<ViewState>, mut q: Query<&mut Transform, With<Crosshair3d>>) {
    if view.is_changed() {
        for mut t in &mut q {
            t.translation = world(view.cursor.position_mm);
        }
    }
}

/// Starts one structure's build; structures started with the same `batch` show all their
/// previews before any builds its full surface.
fn start_build_in(jobs: &mut Jobs, ws: &Workspace, id: u64, batch: &structures::PreviewsFirst) {
    let (Some(loaded), Some(item)) = (&ws.loaded, ws.structures.iter().find(|s| s.id == id)) else {
        return;
    };
    let volume = Arc::clone(&loaded.volume);
    let recipe = item.recipe.clone();
    let ticket = batch.ticket();
    let volume_first = ws.volume_first.clone();
    // Not pooled: the build waits for the batch's previews between its stages.
    jobs.spawn_with(
        format!("Surfacing {}", recipe.name),
        Some(id),
        false,
        move |p, partial| {
            volume_first.wait(p);
            let preview = |b: Built| partial.send(JobOutput::Preview(id, b));
            JobOutput::Built(
                id,
                structures::build_previews_first(&volume, &recipe, p, &preview, ticket),
            )
        },
    );
}

/// Starts building structure `id`'s surface (its coarse preview first on large volumes).
pub fn start_build(jobs: &mut Jobs, ws: &Workspace, id: u64) {
    start_build_in(jobs, ws, id, &structures::PreviewsFirst::new());
}

/// Records the opening in the audit trail (in the loading job: the trail is synced to
/// disk); a trail that cannot be written becomes a notice with the series.
fn audit_opened(loaded: &mut LoadedSeries, source: &std::path::Path) {
    if let Some(why) = crate::audit::record_study(
        crate::audit::Action::OpenStudy,
        &loaded.volume,
        source,
        &[],
        "",
    ) {
        loaded.notices.push(Notice::new(
            Level::Warning,
            "Not recorded in the audit trail",
            why,
        ));
    }
}

/// The study's actions: open, load, cancel, notices, modality, quit.
pub fn apply_actions(
    mut actions: MessageReader<UiAction>,
    mut ws: ResMut<Workspace>,
    mut view: ResMut<ViewState>,
    mut jobs: ResMut<Jobs>,
    mut exit: MessageWriter<AppExit>,
) {
    let _slow = super::SlowStep::start("actions");
    for action in actions.read() {
        match action.clone() {
            // A case package is opened by its own feature (`package`): passphrase first.
            UiAction::Open(path) if crate::package::is_package_path(&path) => {}
            UiAction::Open(path) => {
                jobs.spawn_load("Opening study", move |p, _| {
                    let mut result = open::open_path(&path, p);
                    if let Ok((_, loaded)) = result.as_mut() {
                        audit_opened(loaded, &path);
                    }
                    JobOutput::Opened(path.clone(), result)
                });
            }
            UiAction::LoadSeries(key) => {
                if let Some(catalog) = ws.catalog.clone() {
                    jobs.spawn_load("Loading series", move |p, _| {
                        let mut result = open::load_entry(&catalog, &key, p);
                        if let Ok(loaded) = result.as_mut() {
                            audit_opened(loaded, &catalog.source);
                        }
                        JobOutput::Loaded(result)
                    });
                }
            }
            UiAction::Cancel(job) => {
                if let Some(j) = jobs.running.iter().find(|j| j.id == job) {
                    j.progress.cancel();
                }
            }
            UiAction::CancelAll => jobs.running.iter().for_each(|j| j.progress.cancel()),
            UiAction::DismissNotice(id) => ws.notices.retain(|n| n.id != id),
            UiAction::SetModality(m) => set_modality(&mut ws, &mut view, &mut jobs, &m),
            UiAction::Quit => {
                jobs.running.iter().for_each(|j| j.progress.cancel());
                exit.write(AppExit::Success);
            }
            _ => {}
        }
    }
}

/// The view's actions.
fn apply_view_actions(
    mut actions: MessageReader<UiAction>,
    mut ws: ResMut<Workspace>,
    mut view: ResMut<ViewState>,
) {
    for action in actions.read() {
        match action.clone() {
            UiAction::SetAnonymous(a) => view.anonymous = a,
            UiAction::SetCoordinates(c) => view.coordinates = c,
            UiAction::SetLayout(l) => view.layout = l,
            UiAction::ToggleView(v) => view.layout = view.layout.toggled(v),
            UiAction::StandardView(v) => {
                view.view_3d = v;
                view.camera.set_view(v);
            }
            UiAction::ResetCamera => {
                let v = view.view_3d;
                view.camera.reset(v);
            }
            UiAction::SetWindow(name, w) => {
                view.window = w;
                view.window_name = name;
            }
            UiAction::MoveCursor(p) => {
                let cursor = Cursor { position_mm: p };
                view.cursor = match &ws.loaded {
                    Some(l) => cursor.clamped(&l.volume).snapped(&l.volume),
                    None => cursor,
                };
            }
            UiAction::SetSliceView(plane, s) => *view.slice_view_mut(plane) = s,
            UiAction::SetOptions3d(o) => view.options_3d = o,
            UiAction::OrbitCamera(dx, dy) => view.camera.orbit(dx, dy),
            UiAction::PanCamera(dx, dy, h) => view.camera.pan(dx, dy, h),
            UiAction::ZoomCamera(f) => view.camera.zoom(f),
            UiAction::FocusOn(lo, hi) => focus_on(&ws, &mut view, lo, hi),
            UiAction::LookFrom { eye, target, up } => {
                let p = nalgebra::Point3::from;
                if view.camera.look(&p(eye), &p(target), &up.into()).is_none() {
                    ws.notify(Notice::new(
                        Level::Warning,
                        "That saved view cannot be shown",
                        "Its eye and target coincide or its up direction is along the line of \
                         sight (an edited plan file?).",
                    ));
                }
            }
            _ => {}
        }
    }
}

/// Moves the cursor to the middle of a box (the slices go through it) and frames the box
/// in 3D, looking from where the camera looks now; a point gets a 60 mm field around it.
fn focus_on(ws: &Workspace, view: &mut ViewState, lo: [f64; 3], hi: [f64; 3]) {
    let centre = [0, 1, 2].map(|a| (lo[a] + hi[a]) * 0.5);
    let cursor = Cursor {
        position_mm: centre,
    };
    view.cursor = match &ws.loaded {
        Some(l) => cursor.clamped(&l.volume),
        None => cursor,
    };
    let size = (0..3)
        .map(|a| hi[a] - lo[a])
        .fold(0.0f64, f64::max)
        .max(60.0);
    view.camera.target_mm = nalgebra::Point3::from(centre);
    view.camera.distance_mm = size * 0.6 / (view.camera.fov_y_rad * 0.5).sin();
}

/// Installs a freshly loaded series: cursor to its centre, window by modality, camera
/// framing its bounds, default structures queued. Notices of the previous series go.
fn install(ws: &mut Workspace, view: &mut ViewState, jobs: &mut Jobs, loaded: LoadedSeries) {
    for s in &ws.structures {
        jobs.cancel_structure(s.id);
    }
    ws.structures.clear();
    ws.drop_notices(&[NoticeScope::Series]);
    let volume = Arc::clone(&loaded.volume);
    view.cursor = Cursor::centred(&volume);
    let (name, window) = loaded.default_window();
    view.window = window;
    view.window_name = name;
    let (lo, hi) = bounds_mm(&volume);
    view.camera = OrbitCamera::framing(&lo, &hi, view.view_3d);
    view.slice_views = [SliceViewState::default(); 3];
    for n in loaded.notices.clone() {
        ws.notify_about(NoticeScope::Series, n);
    }
    ws.loaded = Some(loaded);
    ws.volume_revision += 1;
    ws.structures_baseline += 1;
    ws.volume_first = structures::VolumeFirst::held();
    add_default_structures(ws, jobs);
}

/// Queues the open series' default structures (by its modality).
fn add_default_structures(ws: &mut Workspace, jobs: &mut Jobs) {
    let Some(loaded) = &ws.loaded else { return };
    let recipes = match &ws.recipes_override {
        Some(r) => r.clone(),
        None => structures::default_recipes(
            &loaded.volume,
            &loaded.modality,
            loaded.contrast_peak_hu(),
            &ws.landmarks,
        ),
    };
    let batch = structures::PreviewsFirst::new();
    for recipe in recipes {
        let id = ws.add_structure(recipe);
        if let Some(s) = ws.structures.iter_mut().find(|s| s.id == id) {
            s.auto = true;
        }
        start_build_in(jobs, ws, id, &batch);
    }
}

/// The user says what the series is: units, window, presets and default structures follow
/// (structures the user added stay).
fn set_modality(ws: &mut Workspace, view: &mut ViewState, jobs: &mut Jobs, modality: &str) {
    let Some(loaded) = ws.loaded.as_mut() else {
        return;
    };
    if loaded.modality.eq_ignore_ascii_case(modality.trim()) {
        return;
    }
    loaded.set_modality(modality);
    let (name, window) = loaded.default_window();
    let shown = loaded.modality.clone();
    view.window = window;
    view.window_name = name;
    let auto: Vec<u64> = ws
        .structures
        .iter()
        .filter(|s| s.auto)
        .map(|s| s.id)
        .collect();
    for id in &auto {
        jobs.cancel_structure(*id);
    }
    ws.structures.retain(|s| !s.auto);
    ws.structures_baseline += 1;
    add_default_structures(ws, jobs);
    ws.notify_about(
        NoticeScope::Series,
        Notice::new(
            Level::Info,
            format!(
                "Shown as {}",
                if shown.is_empty() {
                    "unknown modality"
                } else {
                    &shown
                }
            ),
            "The modality was changed in the Series panel: units, window presets and default \
             structures follow it.",
        ),
    );
}

pub fn poll_jobs(mut ws: ResMut<Workspace>, mut view: ResMut<ViewState>, mut jobs: ResMut<Jobs>) {
    let _slow = super::SlowStep::start("job results");
    let (outputs, failed) = jobs.receive();
    for (label, structure) in failed {
        ws.notify(Notice::new(
            Level::Error,
            format!("{label} failed"),
            "The background task ended without a result (an internal error); \
             the rest of the workstation is unaffected.",
        ));
        if let Some(s) = structure
            && let Some(item) = ws.structures.iter_mut().find(|x| x.id == s)
        {
            item.error = Some("the background task failed".into());
        }
    }
    for (cancelled, out) in outputs {
        // A cancelled job's results are dropped, whatever they are: the user (or a newer
        // job) has moved on.
        if cancelled {
            continue;
        }
        match out {
            JobOutput::Opened(path, result) => match result {
                Ok((catalog, loaded)) => {
                    ws.landmarks = open::study_landmarks(&path);
                    ws.drop_notices(&[NoticeScope::Study, NoticeScope::Series]);
                    if let Some(n) = catalog.skipped_notice() {
                        ws.notify_about(NoticeScope::Study, n);
                    }
                    crate::session::prefs::remember(&mut ws.recent, &path);
                    ws.catalog = Some(catalog);
                    install(&mut ws, &mut view, &mut jobs, loaded);
                }
                Err(e) => ws.notify(Notice::new(Level::Error, "Could not open", e.to_string())),
            },
            JobOutput::Loaded(result) => match result {
                Ok(loaded) => install(&mut ws, &mut view, &mut jobs, loaded),
                Err(e) => ws.notify(Notice::new(
                    Level::Error,
                    "Could not load the series",
                    e.to_string(),
                )),
            },
            JobOutput::Preview(id, built) => {
                // A surface being made again stays on screen until its replacement is
                // done: a coarse preview (of an edited lumen, a few triangles) never
                // takes the place of a full surface.
                if let Some(item) = ws
                    .structures
                    .iter_mut()
                    .find(|s| s.id == id)
                    .filter(|s| s.built.is_none() || s.preview)
                {
                    item.built = Some(built);
                    item.preview = true;
                    item.revision += 1;
                }
            }
            // Only partial results get here (final ones land for their feature above).
            JobOutput::Other(_) | JobOutput::Ended => {}
            JobOutput::Built(id, result) => {
                let Some(item) = ws.structures.iter_mut().find(|s| s.id == id) else {
                    continue;
                };
                match result {
                    Ok(built) => {
                        tracing::info!(
                            "structure {} built: {} triangles, {:.1} mL, {:.2} s",
                            item.recipe.name,
                            built.triangles,
                            built.volume_ml,
                            built.seconds
                        );
                        item.built = Some(built);
                        item.preview = false;
                        item.error = None;
                        item.revision += 1;
                    }
                    Err(e) => {
                        let name = item.recipe.name.clone();
                        tracing::warn!("structure {name} not built: {e}");
                        item.error = Some(e.to_string());
                        ws.notify_about(
                            NoticeScope::Series,
                            Notice::new(
                                Level::Warning,
                                format!("Structure {name} not built"),
                                e.to_string(),
                            ),
                        );
                    }
                }
            }
        }
    }
}
