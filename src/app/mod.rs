//! The viewer: Bevy + egui workstation over the core. [`run`] opens a window with the
//! four-up layout (axial, 3D, coronal, sagittal), the patient banner, series browser,
//! structures panel and status bar, and the bundled sample or a given path; with a
//! [`RenderRequest`] it waits for the study and its structures, saves a screenshot and
//! exits (`twinplan render`, usable in CI under Xvfb).
//!
//! Plugins, one per feature, ordered by `state::Step`: `state::LogicPlugin` gathers the
//! jobs (what is open, background work), structures and view plugins and runs under
//! `MinimalPlugins`; `markups::MeasurementsPlugin` (the plan document, its undo and files);
//! `scene::ScenePlugin` (3D); `slices::SlicesPlugin` (slice cache, slices in 3D);
//! `persist::PersistPlugin` (preferences, recovery copy); `edit::EditPlugin` (the structure
//! editor's tools); [`UiPlugin`] (egui panels, frame
//! log, screenshots, render mode). The plan is `document::PlanDoc`; how it is looked at is
//! `state::ViewState`; what is open is `state::Workspace`.
//! This module and its children are the only code that may use Bevy or egui.

pub mod document;
pub mod edit;
pub mod file_dialog;
pub mod frame_log;
pub mod gpu;
pub mod headless;
pub mod jobs;
pub mod markups;
pub mod overlay;
pub mod package;
pub mod paint;
pub mod paths;
pub mod persist;
pub mod scene;
pub mod slices;
pub mod state;
pub mod stereo;
pub mod structures;
pub mod ui;
pub mod volume;
pub mod volume_crop;
pub mod volume_material;
pub mod volume_panel;
pub mod volume_upload;

use std::path::PathBuf;
use std::sync::{Mutex, OnceLock};
use std::time::{Duration, Instant};

use bevy::prelude::*;
use bevy::render::view::screenshot::{Screenshot, save_to_disk};
use bevy::window::{FileDragAndDrop, PresentMode, WindowResolution};
use bevy_egui::{EguiContexts, EguiGlobalSettings, EguiPlugin, EguiPrimaryContextPass, egui};

use crate::session::camera::StandardView;
use crate::session::layout::{Layout, ViewId};
use scene::{ScenePlugin, SceneSync, SceneTexture, ThreeDRect};
use slices::SliceCache;
use state::{Jobs, UiAction, ViewState, Workspace};
use ui::{JobLine, UiState};

static LAUNCH: OnceLock<Instant> = OnceLock::new();

/// Call first thing in `main` so launch-to-first-frame is measured from process start.
pub fn mark_launch() {
    let _ = LAUNCH.set(Instant::now());
}

fn since_launch() -> Duration {
    LAUNCH.get_or_init(Instant::now).elapsed()
}

/// Logs a main-thread step that took longer than a frame should (debug level): the frame
/// log says when the UI stalled, this says where.
pub(crate) struct SlowStep(&'static str, Instant);

impl SlowStep {
    pub(crate) fn start(name: &'static str) -> SlowStep {
        SlowStep(name, Instant::now())
    }
}

impl Drop for SlowStep {
    fn drop(&mut self) {
        let ms = self.1.elapsed().as_secs_f64() * 1000.0;
        if ms > 20.0 {
            tracing::debug!("main thread: {} took {ms:.1} ms", self.0);
        }
    }
}

/// A headless screenshot: open, wait for every structure, save, exit.
#[derive(Debug, Clone)]
pub struct RenderRequest {
    pub out: PathBuf,
    /// Structures to show (by name); None = all.
    pub structures: Option<Vec<String>>,
    pub view: StandardView,
    pub layout: Layout,
    /// Views only, no panels.
    pub bare: bool,
    pub anonymous: bool,
    /// Show the slices textured in 3D.
    pub slices: bool,
    /// Structures to build instead of the modality's defaults.
    pub recipes: Option<Vec<crate::plan::recipe::Recipe>>,
    /// How the read-outs write positions.
    pub coordinates: crate::session::readout::Convention,
    /// Go to the plan's markup of this name, or look from its saved view of this name,
    /// before the screenshot.
    pub focus: Option<String>,
    /// The volume rendering: what it shows (None = no volume, surfaces only).
    pub volume: Option<volume::VolumeChoice>,
    /// Stereo pair in the 3D view.
    pub stereo: crate::dvr::stereo::StereoMode,
    /// Eye separation and convergence (None = the defaults for the view).
    pub stereo_params: Option<crate::dvr::stereo::Stereo>,
    /// Crop box of the volume (fractions along its i, j, k axes: low corner, high corner).
    pub crop: Option<[[f64; 3]; 2]>,
    /// Display window instead of the modality's default.
    pub window: Option<crate::volume::display::WindowLevel>,
    /// Translucent surfaces blended in per-pixel depth order (else sorted per structure).
    pub exact_transparency: bool,
    /// How the volume's values go to the GPU.
    pub volume_texture: crate::dvr::fit::Encoding,
}

/// How to start the viewer.
#[derive(Debug, Clone)]
pub struct ViewerOptions {
    /// Folder or file to open; None = the bundled sample.
    pub path: Option<PathBuf>,
    pub size: (u32, u32),
    pub render: Option<RenderRequest>,
    /// Write every frame's duration (ms) here at exit (CSV), for the responsiveness figures.
    pub frame_log: Option<PathBuf>,
    /// Open this second path once the first study is ready (load-while-interacting runs).
    pub then_open: Option<PathBuf>,
    /// Triangles kept per structure (None = `plan::recipe::TRIANGLE_BUDGET`).
    pub max_triangles: Option<usize>,
    /// A plan to open with the study.
    pub plan: Option<PathBuf>,
}

#[derive(Resource)]
struct Options(ViewerOptions);

/// Runs the viewer's logic (no rendering), usable with `MinimalPlugins`: the study and its
/// jobs, the plan document and its files, the structures, the view.
pub struct LogicPlugin;

impl Plugin for LogicPlugin {
    fn build(&self, app: &mut App) {
        app.add_message::<UiAction>()
            .add_message::<AppExit>()
            .configure_sets(
                Update,
                (
                    state::Step::Prepare,
                    state::Step::Actions,
                    state::Step::Results,
                    state::Step::Follow,
                )
                    .chain(),
            )
            .add_plugins((
                state::JobsPlugin,
                state::ViewPlugin,
                document::PlanFilesPlugin,
                structures::StructuresPlugin,
                edit::EditPlugin,
            ));
    }
}

/// egui panels, slice views and input; screenshots; file drops; frame log; render mode.
pub struct UiPlugin;

impl Plugin for UiPlugin {
    fn build(&self, app: &mut App) {
        app.add_plugins((EguiPlugin::default(), frame_log::FrameLogPlugin))
            .init_resource::<UiState>()
            .init_resource::<SceneTexture>()
            .init_resource::<volume_panel::VolumePanelState>()
            .add_systems(
                Startup,
                (configure_egui, scene::spawn_ui_camera, wake_on_results),
            )
            .add_systems(EguiPrimaryContextPass, ui_system)
            .add_systems(
                PreUpdate,
                drop_unchanged_modifiers
                    .after(bevy_egui::EguiPreUpdateSet::ProcessInput)
                    .before(bevy_egui::EguiPreUpdateSet::BeginPass),
            )
            .add_systems(
                Update,
                (
                    file_drop,
                    screenshots,
                    render_mode,
                    render_window,
                    update_mode,
                    lower_rasteriser,
                ),
            )
            .add_systems(PostUpdate, scene::scene_target.in_set(SceneSync));
    }
}

fn configure_egui(mut settings: ResMut<EguiGlobalSettings>) {
    settings.auto_create_primary_context = false;
}

/// bevy_egui hands egui the keyboard modifiers as an event in every frame, changed or not,
/// and egui asks for another frame whenever a frame had events: the window then redrew
/// continuously with nothing happening (14 frames a second, each one the software
/// rasteriser's work taken from the surfaces being built). Only real changes pass.
fn drop_unchanged_modifiers(
    mut inputs: Query<&mut bevy_egui::EguiInput>,
    mut last: Local<Option<egui::Modifiers>>,
) {
    for mut input in &mut inputs {
        let before = *last;
        input.0.events.retain(|e| match e {
            egui::Event::ModifiersChanged(m) => {
                let changed = before != Some(*m);
                *last = Some(*m);
                changed
            }
            _ => true,
        });
    }
}

/// Background jobs wake the event loop when they hand something over, so a result is
/// installed (and drawn) at once rather than at the next idle redraw.
fn wake_on_results(proxy: Option<Res<bevy::winit::EventLoopProxyWrapper>>, mut jobs: ResMut<Jobs>) {
    if let Some(proxy) = proxy {
        let proxy = Mutex::new((**proxy).clone());
        jobs.waker = Some(std::sync::Arc::new(move || {
            if let Ok(p) = proxy.lock() {
                let _ = p.send_event(bevy::winit::WinitUserEvent::WakeUp);
            }
        }));
    }
}

/// Starts the workstation (blocks until the window closes).
pub fn run(options: ViewerOptions) -> anyhow::Result<()> {
    // Bevy panics without a graphics adapter: ask first, and say plainly what is missing.
    let adapter = gpu::require()?;
    if options.render.is_some() {
        println!("adapter: {adapter}");
    }
    let path = match &options.path {
        Some(p) => p.clone(),
        None => crate::session::open::sample_path().ok_or_else(|| {
            anyhow::anyhow!("the bundled sample (sample_data/phantom_cta/dicom) was not found; pass a folder or file")
        })?,
    };
    let (w, h) = options.size;
    let mut app = App::new();
    app.add_plugins(DefaultPlugins.set(WindowPlugin {
        primary_window: Some(Window {
            title: "twinplan".into(),
            resolution: WindowResolution::new(w, h).with_scale_factor_override(1.0),
            present_mode: PresentMode::AutoVsync,
            ..default()
        }),
        ..default()
    }))
    .add_plugins((
        LogicPlugin,
        ScenePlugin,
        volume::VolumePlugin,
        volume_upload::VolumeUploadPlugin,
        stereo::StereoPlugin,
        slices::SlicesPlugin,
        UiPlugin,
        markups::MeasurementsPlugin,
        paths::PathsPlugin,
        package::PackagePlugin,
    ));
    // The viewer shows a large volume at half resolution first; a render waits for the full.
    app.insert_resource(volume::Progressive(options.render.is_none()));
    // An interactive session reads and keeps the user's preferences and the recovery copy
    // of an unsaved plan; renders and frame-log runs leave them alone.
    if options.render.is_none()
        && options.frame_log.is_none()
        && let Some(dir) = crate::session::prefs::config_dir()
    {
        app.add_plugins(persist::PersistPlugin { dir });
    }
    main_schedules_on_main_thread(&mut app);
    {
        let world = app.world_mut();
        world.resource_mut::<document::PendingPlan>().file = options.plan.clone();
        world.resource_mut::<Workspace>().triangle_budget = options.max_triangles;
        if let Some(r) = &options.render {
            world.resource_mut::<Workspace>().recipes_override = r.recipes.clone();
            let mut view = world.resource_mut::<ViewState>();
            view.view_3d = r.view;
            view.layout = r.layout;
            view.anonymous = r.anonymous;
            // A bare render is the anatomy alone: no crosshair over it.
            view.options_3d.show_crosshair = !r.bare;
            view.options_3d.show_slices = r.slices;
            view.options_3d.exact_transparency = r.exact_transparency;
            view.coordinates = r.coordinates;
            world.resource_mut::<UiState>().bare = r.bare;
            let mut vv = world.resource_mut::<volume::VolumeView>();
            vv.show = r.volume.is_some();
            vv.texels = r.volume_texture;
            if let Some(choice) = &r.volume {
                choice.apply(&mut vv);
            }
            vv.stereo = r.stereo;
            vv.stereo_params = r.stereo_params;
            if let Some(crop) = r.crop {
                vv.crop = crop;
            }
        }
        world.write_message(UiAction::Open(path));
    }
    app.insert_resource(Options(options));
    let exit = app.run();
    match exit {
        AppExit::Success => Ok(()),
        AppExit::Error(code) => Err(anyhow::anyhow!("viewer exited with status {code}")),
    }
}

/// Runs every schedule of the main world on the main thread itself, one system after the
/// other. Bevy's multi-threaded executor hands systems to its task-pool thread and the main
/// thread then waits for that thread, which on 2 cores shares the CPU with the software
/// rasteriser and the background builds: `perf sched` showed it runnable, not running, for
/// up to 268 ms while the main thread, idle, waited (frames of 102-506 ms). Our systems
/// take a few milliseconds together; running them in parallel gained nothing there.
/// The render world keeps its own executor on its own thread.
fn main_schedules_on_main_thread(app: &mut App) {
    use bevy::ecs::schedule::{Schedules, SingleThreadedExecutor};
    let mut schedules = app.world_mut().resource_mut::<Schedules>();
    for (_, schedule) in schedules.iter_mut() {
        schedule.set_executor(SingleThreadedExecutor::new());
    }
}

/// What the panels read and keep between frames.
#[derive(bevy::ecs::system::SystemParam)]
struct Panels<'w> {
    ws: Res<'w, Workspace>,
    view: Res<'w, ViewState>,
    jobs: Res<'w, Jobs>,
    cache: ResMut<'w, SliceCache>,
    st: ResMut<'w, UiState>,
    rect: ResMut<'w, ThreeDRect>,
    scene_texture: Res<'w, SceneTexture>,
    right_eye: Res<'w, stereo::RightEyeTexture>,
    upload: Option<Res<'w, volume::SlabUpload>>,
}

/// What the panels' tools change: the document and the two tools' state.
#[derive(bevy::ecs::system::SystemParam)]
struct ToolState<'w> {
    doc: ResMut<'w, document::PlanDoc>,
    edits: ResMut<'w, document::DocEdits>,
    tool: ResMut<'w, markups::MarkupTool>,
    paths: ResMut<'w, paths::PathUi>,
    edit: ResMut<'w, edit::EditTool>,
    volume: ResMut<'w, volume::VolumeView>,
    volume_panel: ResMut<'w, volume_panel::VolumePanelState>,
}

fn ui_system(
    mut contexts: EguiContexts,
    panels: Panels,
    tools: ToolState,
    mut actions: MessageWriter<UiAction>,
    mut styled: Local<bool>,
) -> Result {
    let Panels {
        ws,
        view,
        jobs,
        mut cache,
        mut st,
        mut rect,
        scene_texture,
        right_eye,
        upload,
    } = panels;
    let ToolState {
        mut doc,
        mut edits,
        mut tool,
        mut paths,
        mut edit,
        mut volume,
        mut volume_panel,
    } = tools;
    let _slow = SlowStep::start("panels and slice views");
    let ctx = contexts.ctx_mut()?;
    if !*styled {
        ui::style(ctx);
        *styled = true;
    }
    let mut lines: Vec<JobLine> = jobs
        .running
        .iter()
        .map(|j| {
            let (done, total) = j.progress.get();
            JobLine {
                id: j.id,
                label: j.label.clone(),
                fraction: (total > 0).then(|| (done as f32 / total as f32).clamp(0.0, 1.0)),
                seconds: j.started.elapsed().as_secs_f64(),
            }
        })
        .collect();
    // The volume's full texture going up a slab per frame (the preview is on screen).
    if let Some(u) = upload.as_ref().filter(|u| !u.done()) {
        lines.push(JobLine {
            id: JobLine::NOT_A_JOB,
            label: "Volume: full resolution to the GPU".into(),
            fraction: Some(u.progress()),
            seconds: u.started.elapsed().as_secs_f64(),
        });
    }
    st.scene_texture = scene_texture.egui;
    st.stereo = (volume.stereo, right_eye.egui);
    let mut out = Vec::new();
    let mut tools = overlay::Tools {
        doc: document::DocWriter::new(&doc, &mut edits),
        tool: &mut tool,
        paths: &mut paths,
        edit: &mut edit,
        volume: &mut volume,
        volume_panel: &mut volume_panel,
    };
    let seen = state::Seen {
        ws: &ws,
        view: &view,
    };
    let three_d = ui::workstation_ui(ctx, seen, &lines, &mut cache, &mut st, &mut out, &mut tools);
    // What the panels asked of the document, applied now that the pass is over; the next
    // frame, drawn at once, shows it.
    if !edits.is_empty() {
        doc.take(&mut edits);
        ctx.request_repaint();
    }
    if rect.0 != three_d {
        rect.0 = three_d;
    }
    for a in out {
        actions.write(a);
    }
    if tracing::enabled!(tracing::Level::TRACE) {
        tracing::trace!("egui repaint causes: {:?}", ctx.repaint_causes());
    }
    // No repaint request while jobs run: the idle redraw (twice a second) updates their
    // progress, and results wake the loop themselves (`wake_on_results`).
    Ok(())
}

fn file_drop(mut drops: MessageReader<FileDragAndDrop>, mut actions: MessageWriter<UiAction>) {
    for d in drops.read() {
        if let FileDragAndDrop::DroppedFile { path_buf, .. } = d {
            actions.write(UiAction::Open(path_buf.clone()));
        }
    }
}

fn screenshot_name() -> PathBuf {
    let secs = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0);
    PathBuf::from(format!("twinplan-screenshot-{secs}.png"))
}

fn screenshots(mut commands: Commands, mut st: ResMut<UiState>, mut jobs: ResMut<state::Jobs>) {
    if st.screenshot_requested {
        st.screenshot_requested = false;
        let path = screenshot_name();
        commands
            .spawn(Screenshot::primary_window())
            .observe(save_to_disk(path.clone()));
        // The trail is synced to disk: not in a frame.
        let recorded = path.clone();
        jobs.spawn("recording the screenshot", None, move |_, _| {
            crate::audit::record_written(crate::audit::Action::Screenshot, &recorded);
            jobs::JobOutput::Ended
        });
        st.last_screenshot = Some(path);
    }
}

/// On a software rasteriser (Mesa's llvmpipe, whose worker threads start with the render
/// device), lowers those threads a little below the window's (`work::lower_threads_named`),
/// looking for them in the first frames; on a GPU there are none and it stops looking.
fn lower_rasteriser(mut looked: Local<u32>) {
    if *looked >= 10 {
        return;
    }
    *looked += 1;
    let n = crate::work::lower_threads_named("llvmpipe-", crate::work::RASTERISER_NICE);
    if n > 0 {
        tracing::info!(
            "software rasteriser: {n} thread(s) at nice {}",
            crate::work::RASTERISER_NICE
        );
        *looked = u32::MAX;
    }
}

/// Frames follow input at once in every mode. Without input, a screenshot run draws
/// continuously; otherwise the window redraws twice a second (progress, results arriving):
/// on a software rasteriser a frame costs both cores for a good part of that, and drawing
/// unchanged frames flat out left the surfaces the user waits for a tenth of the machine.
fn update_mode(options: Res<Options>, mut settings: ResMut<bevy::winit::WinitSettings>) {
    use bevy::winit::UpdateMode;
    let want = if options.0.render.is_some() {
        UpdateMode::Continuous
    } else {
        UpdateMode::reactive(Duration::from_millis(500))
    };
    if settings.focused_mode != want {
        settings.focused_mode = want;
        settings.unfocused_mode = want;
    }
}

#[derive(Default)]
enum RenderPhase {
    #[default]
    Waiting,
    /// Frames still to draw before the screenshot (and when settling began).
    Settling(u32, Instant),
    Saving(Instant),
}

/// `render --window`: the window asked for, once the series is in (its default replaced).
fn render_window(
    options: Res<Options>,
    ws: Res<Workspace>,
    mut view: ResMut<ViewState>,
    mut done: Local<u64>,
) {
    let Some(w) = options.0.render.as_ref().and_then(|r| r.window) else {
        return;
    };
    if ws.loaded.is_some() && *done != ws.volume_revision {
        *done = ws.volume_revision;
        view.window = w;
        view.window_name = "custom".into();
    }
}

fn render_mode(
    mut commands: Commands,
    options: Res<Options>,
    (ws, jobs, log, pending): (
        Res<Workspace>,
        Res<Jobs>,
        Res<frame_log::FrameLog>,
        Option<Res<scene::PipelinesPending>>,
    ),
    mut phase: Local<RenderPhase>,
    mut exit: MessageWriter<AppExit>,
    mut filtered: Local<bool>,
    (doc, mut tool, plan_pending, mut actions): (
        Res<document::PlanDoc>,
        ResMut<markups::MarkupTool>,
        Res<document::PendingPlan>,
        MessageWriter<UiAction>,
    ),
) {
    let frame_log_only = options.0.render.is_none() && options.0.frame_log.is_some();
    let Some(req) = &options.0.render else {
        // Frame-log runs without a render request end once all work is done and settled.
        if frame_log_only
            && ws.loaded.is_some()
            && jobs.is_idle()
            && log.second_opened == options.0.then_open.is_some()
        {
            match *phase {
                RenderPhase::Waiting => *phase = RenderPhase::Settling(10, Instant::now()),
                RenderPhase::Settling(0, _) => {
                    frame_log::write_frame_log(&log, &options.0);
                    exit.write(AppExit::Success);
                }
                RenderPhase::Settling(n, t) => *phase = RenderPhase::Settling(n - 1, t),
                RenderPhase::Saving(_) => {}
            }
        }
        return;
    };
    let ready = ws.loaded.is_some() && jobs.is_idle();
    match &mut *phase {
        RenderPhase::Waiting => {
            if since_launch() > Duration::from_secs(600) {
                tracing::error!("render: the study did not finish loading in time");
                exit.write(AppExit::error());
            }
            if ready && options.0.plan.is_some() && plan_pending.is_empty() {
                if doc.path().is_none() {
                    let why = doc.message.as_ref().map_or("", |(_, m)| m.as_str());
                    tracing::error!("render: the plan was not opened: {why}");
                    exit.write(AppExit::error());
                    return;
                }
                if let Some(name) = &req.focus
                    && !*filtered
                {
                    match doc
                        .plan()
                        .markups
                        .iter()
                        .find(|m| m.name.eq_ignore_ascii_case(name))
                    {
                        Some(m) => {
                            if let Some((lo, hi)) = crate::plan::placing::bounds(m) {
                                actions.write(UiAction::FocusOn(lo, hi));
                            }
                            tool.selected = Some(m.id);
                        }
                        None => match doc
                            .plan()
                            .bookmarks
                            .iter()
                            .find(|b| b.name.eq_ignore_ascii_case(name))
                        {
                            Some(b) => {
                                actions.write(UiAction::LookFrom {
                                    eye: b.eye_lps_mm,
                                    target: b.target_lps_mm,
                                    up: b.up,
                                });
                            }
                            None => {
                                tracing::error!(
                                    "render: the plan has no markup or saved view named {name:?}"
                                );
                                exit.write(AppExit::error());
                                return;
                            }
                        },
                    }
                }
            }
            if ready {
                if !*filtered {
                    if let Some(names) = &req.structures {
                        // Through the document, the structures' one store.
                        for s in &ws.structures {
                            let shown =
                                names.iter().any(|n| n.eq_ignore_ascii_case(&s.recipe.name));
                            if shown != s.visible {
                                actions.write(UiAction::SetVisible(s.id, shown));
                            }
                        }
                    }
                    *filtered = true;
                }
                *phase = RenderPhase::Settling(10, Instant::now());
            }
        }
        RenderPhase::Settling(n, since) => {
            // Ten frames drawn with every pipeline compiled: shaders compile in the
            // background, and until they are ready (seconds on a loaded machine) frames show
            // nothing but the clear colour.
            let compiling = pending.as_ref().is_some_and(|p| p.get());
            if compiling && since.elapsed() < Duration::from_secs(300) {
                *n = 10;
            } else if *n == 0 {
                let _ = std::fs::remove_file(&req.out);
                commands
                    .spawn(Screenshot::primary_window())
                    .observe(save_to_disk(req.out.clone()));
                *phase = RenderPhase::Saving(Instant::now());
            } else {
                *n = n.saturating_sub(1);
            }
        }
        RenderPhase::Saving(since) => {
            let written = std::fs::metadata(&req.out)
                .map(|m| m.len() > 0)
                .unwrap_or(false);
            if written {
                // Give the encoder a moment to finish the file.
                if since.elapsed() > Duration::from_millis(300) {
                    frame_log::write_frame_log(&log, &options.0);
                    exit.write(AppExit::Success);
                }
            } else if since.elapsed() > Duration::from_secs(60) {
                tracing::error!("render: screenshot was not written");
                exit.write(AppExit::error());
            }
        }
    }
}

/// Parses a layout name: `four-up`, `axial`, `coronal`, `sagittal`, `3d`.
pub fn parse_layout(name: &str) -> Option<Layout> {
    match name.to_ascii_lowercase().as_str() {
        "four-up" | "fourup" | "4up" => Some(Layout::FourUp),
        other => ViewId::from_name(other).map(Layout::Single),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn modifiers_reach_egui_only_when_they_change() {
        use egui::{Event, Modifiers};
        let mut world = World::new();
        let input = world.spawn(bevy_egui::EguiInput::default()).id();
        // A registered system keeps its `Local` from frame to frame, as in the app.
        let system = world.register_system(drop_unchanged_modifiers);
        let mut frame = |events: Vec<Event>| -> Vec<Event> {
            if let Some(mut i) = world.get_mut::<bevy_egui::EguiInput>(input) {
                i.0.events = events;
            }
            world.run_system(system).expect("runs");
            world
                .get::<bevy_egui::EguiInput>(input)
                .map(|i| i.0.events.clone())
                .unwrap_or_default()
        };
        let none = Event::ModifiersChanged(Modifiers::NONE);
        let ctrl = Event::ModifiersChanged(Modifiers::CTRL);
        assert_eq!(
            frame(vec![none.clone()]),
            vec![none.clone()],
            "first state passes"
        );
        // What bevy_egui sends every frame: with nothing else, egui sees no event at all
        // (and so asks for no further frame).
        assert_eq!(frame(vec![none.clone()]), vec![]);
        assert_eq!(frame(vec![none.clone()]), vec![]);
        assert_eq!(
            frame(vec![ctrl.clone()]),
            vec![ctrl.clone()],
            "a change passes"
        );
        let moved = Event::PointerMoved(egui::pos2(3.0, 4.0));
        assert_eq!(
            frame(vec![moved.clone(), ctrl]),
            vec![moved],
            "other events stay"
        );
        assert_eq!(frame(vec![none.clone()]), vec![none]);
    }
}
