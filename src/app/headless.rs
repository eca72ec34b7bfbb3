//! Frame timing without a window: the 3D scene (logic + scene plugins, no egui, no winit)
//! rendered into an offscreen image at a given size, after a study and its structures are
//! ready. Used to compare renderers (lavapipe here, a GPU elsewhere) on the same scene;
//! needs a Vulkan driver but no display.

use std::path::PathBuf;
use std::time::{Duration, Instant};

use bevy::camera::RenderTarget;
use bevy::prelude::*;
use bevy::render::render_resource::TextureFormat;
use bevy::window::ExitCondition;

use super::LogicPlugin;
use super::scene::{AnatomyCamera, HeadlessSize, ScenePlugin};
use super::state::{Jobs, UiAction, ViewState, Workspace};

/// What to time.
#[derive(Debug, Clone)]
pub struct FrameBench {
    pub path: PathBuf,
    pub size: (u32, u32),
    pub frames: usize,
    pub max_triangles: Option<usize>,
    /// Time the volume rendering (no surfaces) instead of the surfaces.
    pub volume: Option<super::volume::VolumeChoice>,
    /// Display window instead of the modality's default.
    pub window: Option<crate::volume::display::WindowLevel>,
    /// Frame the study's bounding sphere (as VTK's `ResetCamera` does) instead of the
    /// workstation's tighter framing of its largest side.
    pub fit_sphere: bool,
    /// Translucent surfaces blended in per-pixel depth order (else sorted per structure).
    pub exact_transparency: bool,
    /// How the volume's values go to the GPU.
    pub volume_texture: crate::dvr::fit::Encoding,
}

/// Frame intervals (ms) of the timed frames and the triangles on screen.
#[derive(Debug, Clone)]
pub struct FrameStats {
    pub frames_ms: Vec<f64>,
    pub triangles: usize,
    pub adapter: String,
    /// Volume runs: from handing the texture to the renderer to the first frame drawn with
    /// it (upload, pipeline compilation, first draw), ms.
    pub first_frame_ms: Option<f64>,
    pub texture_bytes: Option<u64>,
    pub texture_dims: Option<[usize; 3]>,
    /// Step along rays, mm.
    pub step_mm: Option<f64>,
}

/// Waits until the GPU has finished what was submitted: a frame is timed to the end of its
/// drawing, not to the hand-over of its commands (lavapipe draws on threads of its own).
fn wait_for_gpu(app: &App) {
    if let Some(device) = app
        .world()
        .get_resource::<bevy::render::renderer::RenderDevice>()
        && let Err(e) = device.poll(wgpu::PollType::wait_indefinitely())
    {
        tracing::warn!("waiting for the GPU: {e}");
    }
}

fn attach_target(
    mut commands: Commands,
    size: Res<HeadlessSize>,
    mut images: ResMut<Assets<Image>>,
    cams: Query<Entity, With<AnatomyCamera>>,
) {
    let Some((w, h)) = size.0 else { return };
    let image = Image::new_target_texture(w, h, TextureFormat::Rgba8UnormSrgb, None);
    let handle = images.add(image);
    for e in &cams {
        commands
            .entity(e)
            .insert(RenderTarget::Image(handle.clone().into()));
    }
}

/// Opens the study, waits for its structures, then times `frames` frames.
pub fn bench_frames(bench: &FrameBench) -> anyhow::Result<FrameStats> {
    super::gpu::require()?;
    let mut app = App::new();
    app.add_plugins(
        DefaultPlugins
            .set(WindowPlugin {
                primary_window: None,
                exit_condition: ExitCondition::DontExit,
                close_when_requested: false,
                ..default()
            })
            .disable::<bevy::winit::WinitPlugin>()
            // Each update renders its own frame, so the time of an update is the frame's.
            .disable::<bevy::render::pipelined_rendering::PipelinedRenderingPlugin>(),
    )
    .add_plugins((
        LogicPlugin,
        ScenePlugin,
        super::volume::VolumePlugin,
        super::volume_upload::VolumeUploadPlugin,
    ))
    .insert_resource(HeadlessSize(Some(bench.size)))
    .add_systems(PostStartup, attach_target);
    app.finish();
    app.cleanup();
    {
        let world = app.world_mut();
        world.resource_mut::<Workspace>().triangle_budget = bench.max_triangles;
        let mut view = world.resource_mut::<ViewState>();
        view.options_3d.show_crosshair = false;
        view.options_3d.exact_transparency = bench.exact_transparency;
        let mut vv = world.resource_mut::<super::volume::VolumeView>();
        vv.show = bench.volume.is_some();
        vv.texels = bench.volume_texture;
        if let Some(choice) = &bench.volume {
            choice.apply(&mut vv);
            // The volume alone: no surfaces are built.
            world.resource_mut::<Workspace>().recipes_override = Some(Vec::new());
        }
        world.write_message(UiAction::Open(bench.path.clone()));
    }
    let start = Instant::now();
    loop {
        app.update();
        let ws = app.world().resource::<Workspace>();
        if ws.loaded.is_some() && app.world().resource::<Jobs>().is_idle() {
            break;
        }
        anyhow::ensure!(
            start.elapsed() < Duration::from_secs(900),
            "the study did not finish loading"
        );
        if let Some(e) = ws
            .notices
            .iter()
            .find(|n| n.notice.level == crate::session::Level::Error)
        {
            anyhow::bail!("{}: {}", e.notice.summary, e.notice.details);
        }
    }
    if let Some(w) = bench.window {
        app.world_mut().resource_mut::<ViewState>().window = w;
    }
    if bench.fit_sphere
        && let Some(loaded) = app.world().resource::<Workspace>().loaded.as_ref()
    {
        let (lo, hi) = crate::volume::display::bounds_mm(&loaded.volume);
        let radius = 0.5 * (hi - lo).norm();
        let mut view = app.world_mut().resource_mut::<ViewState>();
        let fov = view.camera.fov_y_rad;
        view.camera.target_mm = nalgebra::center(&lo, &hi);
        view.camera.distance_mm = radius / (0.5 * fov).sin();
    }
    // The first frame with the volume: upload, pipeline compilation and the draw.
    let first = Instant::now();
    let mut first_frame_ms = None;
    for _ in 0..600 {
        app.update();
        wait_for_gpu(&app);
        let pending = app
            .world()
            .get_resource::<super::scene::PipelinesPending>()
            .is_some_and(|p| p.get());
        let installed = app
            .world()
            .resource::<super::volume::VolumeState>()
            .uploaded
            .is_some();
        if !pending && (bench.volume.is_none() || installed) {
            first_frame_ms = Some(first.elapsed().as_secs_f64() * 1000.0);
            break;
        }
    }
    for _ in 0..10 {
        app.update();
        wait_for_gpu(&app);
    }
    let mut frames_ms = Vec::with_capacity(bench.frames);
    let mut last = Instant::now();
    for i in 0..bench.frames {
        // Turn the camera a little each frame so nothing can be cached.
        app.world_mut()
            .resource_mut::<ViewState>()
            .camera
            .orbit(if i % 2 == 0 { 2.0 } else { -2.0 }, 0.0);
        app.update();
        wait_for_gpu(&app);
        let now = Instant::now();
        frames_ms.push((now - last).as_secs_f64() * 1000.0);
        last = now;
    }
    let ws = app.world().resource::<Workspace>();
    let triangles = ws
        .structures
        .iter()
        .filter_map(|s| s.built.as_ref().map(|b| b.triangles))
        .sum();
    let adapter = app
        .world()
        .get_resource::<bevy::render::renderer::RenderAdapterInfo>()
        .map(|a| format!("{} ({:?})", a.name, a.device_type))
        .unwrap_or_default();
    let vs = app.world().resource::<super::volume::VolumeState>();
    let volume = bench.volume.as_ref().and(vs.uploaded.as_ref());
    let settings = app.world().resource::<super::volume::VolumeView>();
    Ok(FrameStats {
        frames_ms,
        triangles,
        adapter,
        first_frame_ms: bench.volume.as_ref().and(first_frame_ms),
        texture_bytes: volume.map(|u| u.texture.bytes()),
        texture_dims: volume.map(|u| u.texture.dims),
        step_mm: volume.map(|u| u.texture.finest_spacing_mm() * settings.step_fraction),
    })
}
