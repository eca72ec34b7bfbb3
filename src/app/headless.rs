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
}

/// Frame intervals (ms) of the timed frames and the triangles on screen.
#[derive(Debug, Clone)]
pub struct FrameStats {
    pub frames_ms: Vec<f64>,
    pub triangles: usize,
    pub adapter: String,
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
            .disable::<bevy::winit::WinitPlugin>(),
    )
    .add_plugins((LogicPlugin, ScenePlugin))
    .insert_resource(HeadlessSize(Some(bench.size)))
    .add_systems(PostStartup, attach_target);
    app.finish();
    app.cleanup();
    {
        let world = app.world_mut();
        world.resource_mut::<Workspace>().triangle_budget = bench.max_triangles;
        world.resource_mut::<ViewState>().options_3d.show_crosshair = false;
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
    for _ in 0..20 {
        app.update();
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
    Ok(FrameStats {
        frames_ms,
        triangles,
        adapter,
    })
}
