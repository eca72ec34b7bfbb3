//! The 3D scene: the camera (driven by `session::camera::OrbitCamera`, rendering into the
//! 3D view's rectangle), a headlight and a soft fill, one mesh entity per structure with its
//! material (opaque or blended), the crosshair through the shared cursor, and the clipping
//! plane (triangles on the far side dropped, recomputed when the cursor moves). This is the
//! one place where core `TriMesh` (f64 mm) becomes a Bevy `Mesh` (f32). No egui here.

use std::collections::HashMap;

use bevy::asset::RenderAssetUsages;
use bevy::camera::{CameraOutputMode, Viewport, visibility::RenderLayers};
use bevy::core_pipeline::tonemapping::Tonemapping;
use bevy::mesh::{Indices, PrimitiveTopology};
use bevy::prelude::*;
use bevy::render::render_resource::BlendState;
use bevy_egui::PrimaryEguiContext;
use nalgebra::{Point3, Vector3};

use super::state::{Workspace, world};
use crate::mesh::TriMesh;
use crate::session::layout::Rect as ViewRect;
use crate::session::section::clipped_indices;

/// Size of the offscreen target when rendering without a window (frame timing).
#[derive(Resource, Default, Clone, Copy)]
pub struct HeadlessSize(pub Option<(u32, u32)>);

/// Where the UI placed the 3D view this frame (logical pixels), or None when hidden.
#[derive(Resource, Default, Clone, Copy, PartialEq)]
pub struct ThreeDRect(pub Option<ViewRect>);

/// The camera that renders the anatomy.
#[derive(Component)]
pub struct AnatomyCamera;

/// A structure's mesh entity.
#[derive(Component)]
pub struct StructureEntity {
    pub id: u64,
    pub revision: u64,
    pub clip: Option<ClipKey>,
}

/// What the clipped index buffer was computed for.
#[derive(Clone, Copy, PartialEq, Debug)]
pub struct ClipKey {
    plane: usize,
    keep_positive: bool,
    depth_mm: f64,
}

/// Set while the renderer still compiles pipelines (shaders compile in the background: until
/// they are ready, meshes and panels are not drawn). Headless screenshots wait for it.
#[derive(Resource, Clone, Default)]
pub struct PipelinesPending(pub std::sync::Arc<std::sync::atomic::AtomicBool>);

impl PipelinesPending {
    pub fn get(&self) -> bool {
        self.0.load(std::sync::atomic::Ordering::Relaxed)
    }
}

fn note_pending_pipelines(
    cache: Res<bevy::render::render_resource::PipelineCache>,
    flag: Res<PipelinesPending>,
) {
    let pending = cache.waiting_pipelines().next().is_some();
    flag.0.store(pending, std::sync::atomic::Ordering::Relaxed);
}

pub struct ScenePlugin;

impl Plugin for ScenePlugin {
    fn finish(&self, app: &mut App) {
        let flag = PipelinesPending(std::sync::Arc::new(std::sync::atomic::AtomicBool::new(
            true,
        )));
        app.insert_resource(flag.clone());
        if let Some(render_app) = app.get_sub_app_mut(bevy::render::RenderApp) {
            render_app
                .insert_resource(flag)
                .add_systems(bevy::render::Render, note_pending_pipelines);
        }
    }

    fn build(&self, app: &mut App) {
        app.init_resource::<ThreeDRect>()
            .init_resource::<HeadlessSize>()
            .insert_resource(ClearColor(Color::srgb(0.055, 0.06, 0.07)))
            .insert_resource(GlobalAmbientLight {
                color: Color::WHITE,
                brightness: 180.0,
                ..default()
            })
            .add_systems(Startup, setup_scene)
            .add_systems(
                PostUpdate,
                (sync_camera, sync_structures, draw_crosshair)
                    .before(bevy::transform::TransformSystems::Propagate),
            );
    }
}

fn setup_scene(mut commands: Commands) {
    // The anatomy camera renders first, into the 3D view's rectangle.
    commands
        .spawn((
            AnatomyCamera,
            Camera3d::default(),
            Camera {
                order: 0,
                ..default()
            },
            Tonemapping::None,
            // Multisampling multiplies the software rasterizer's work; edges are fine without.
            Msaa::Off,
            Transform::from_xyz(0.0, -800.0, 0.0).looking_at(Vec3::ZERO, Vec3::Z),
        ))
        .with_children(|c| {
            // Headlight: from just above-left of the eye, so surfaces facing the viewer are lit.
            c.spawn((
                DirectionalLight {
                    illuminance: 9_000.0,
                    shadow_maps_enabled: false,
                    ..default()
                },
                Transform::from_xyz(-0.3, 0.4, 1.0).looking_at(Vec3::ZERO, Vec3::Y),
            ));
        });
    // Soft fill from the patient's feet and behind, fixed in the scene.
    commands.spawn((
        DirectionalLight {
            illuminance: 2_500.0,
            shadow_maps_enabled: false,
            ..default()
        },
        Transform::from_xyz(0.3, 1.0, -0.6).looking_at(Vec3::ZERO, Vec3::Z),
    ));
}

/// The UI camera: draws egui over the whole window, after the anatomy.
pub fn spawn_ui_camera(mut commands: Commands) {
    commands.spawn((
        PrimaryEguiContext,
        Camera2d,
        Msaa::Off,
        RenderLayers::none(),
        Camera {
            order: 1,
            output_mode: CameraOutputMode::Write {
                blend_state: Some(BlendState::ALPHA_BLENDING),
                clear_color: ClearColorConfig::None,
            },
            clear_color: ClearColorConfig::Custom(Color::NONE),
            ..default()
        },
    ));
}

fn sync_camera(
    ws: Res<Workspace>,
    rect: Res<ThreeDRect>,
    headless: Res<HeadlessSize>,
    windows: Query<&Window>,
    mut cams: Query<(&mut Camera, &mut Transform, &mut Projection), With<AnatomyCamera>>,
) {
    let Ok((mut camera, mut transform, mut projection)) = cams.single_mut() else {
        return;
    };
    let scale = windows
        .iter()
        .next()
        .map(|w| w.scale_factor())
        .unwrap_or(1.0);
    let (pw, ph) = windows
        .iter()
        .next()
        .map(|w| (w.physical_width(), w.physical_height()))
        .or(headless.0)
        .unwrap_or((1, 1));
    if headless.0.is_some() {
        // Offscreen: the whole target is the 3D view.
        camera.is_active = true;
        camera.viewport = None;
    } else {
        match rect.0 {
            // A minimised window has no pixels: nothing to draw (and no viewport to clamp to).
            Some(r) if r.w >= 2.0 && r.h >= 2.0 && pw > 0 && ph > 0 => {
                let x = ((r.x * scale).max(0.0) as u32).min(pw.saturating_sub(1));
                let y = ((r.y * scale).max(0.0) as u32).min(ph.saturating_sub(1));
                let w = ((r.w * scale) as u32).clamp(1, pw - x);
                let h = ((r.h * scale) as u32).clamp(1, ph - y);
                camera.is_active = true;
                let vp = Viewport {
                    physical_position: UVec2::new(x, y),
                    physical_size: UVec2::new(w, h),
                    ..default()
                };
                if camera
                    .viewport
                    .as_ref()
                    .map(|v| (v.physical_position, v.physical_size))
                    != Some((vp.physical_position, vp.physical_size))
                {
                    camera.viewport = Some(vp);
                }
            }
            _ => camera.is_active = false,
        }
    }
    let cam = &ws.camera;
    let eye = cam.eye_mm();
    let q = cam.rotation.quaternion();
    let t = Transform {
        translation: world([eye.x, eye.y, eye.z]),
        rotation: Quat::from_xyzw(q.i as f32, q.j as f32, q.k as f32, q.w as f32),
        ..default()
    };
    if *transform != t {
        *transform = t;
    }
    let (near, far) = cam.near_far_mm();
    if let Projection::Perspective(p) = projection.as_mut() {
        if p.fov != cam.fov_y_rad as f32 || p.near != near as f32 || p.far != far as f32 {
            p.fov = cam.fov_y_rad as f32;
            p.near = near as f32;
            p.far = far as f32;
        }
    } else {
        *projection = Projection::Perspective(PerspectiveProjection {
            fov: cam.fov_y_rad as f32,
            near: near as f32,
            far: far as f32,
            ..default()
        });
    }
}

/// A core mesh as a Bevy mesh (positions f32 in patient mm, normals, u32 indices).
pub fn to_bevy_mesh(mesh: &TriMesh, indices: Option<Vec<u32>>) -> Mesh {
    let positions: Vec<[f32; 3]> = mesh
        .positions_mm
        .iter()
        .map(|p| [p[0] as f32, p[1] as f32, p[2] as f32])
        .collect();
    let indices = indices.unwrap_or_else(|| {
        mesh.indices
            .iter()
            .flat_map(|t| t.iter().copied())
            .collect()
    });
    let mut m = Mesh::new(
        PrimitiveTopology::TriangleList,
        RenderAssetUsages::default(),
    );
    m.insert_attribute(Mesh::ATTRIBUTE_POSITION, positions);
    if mesh.normals.len() == mesh.positions_mm.len() {
        m.insert_attribute(Mesh::ATTRIBUTE_NORMAL, mesh.normals.clone());
    }
    m.insert_indices(Indices::U32(indices));
    m
}

fn material_for(colour: [f32; 3], opacity: f32, clipped: bool) -> StandardMaterial {
    let blend = opacity < 0.999;
    StandardMaterial {
        base_color: Color::srgba(colour[0], colour[1], colour[2], opacity),
        alpha_mode: if blend {
            AlphaMode::Blend
        } else {
            AlphaMode::Opaque
        },
        perceptual_roughness: 0.55,
        reflectance: 0.3,
        // Closed surfaces show only their outsides (half the software rasterizer's work);
        // clipping opens them, and then their insides must shade too.
        double_sided: clipped,
        cull_mode: if clipped {
            None
        } else {
            Some(bevy::render::render_resource::Face::Back)
        },
        ..default()
    }
}

fn clip_key(ws: &Workspace) -> Option<ClipKey> {
    let (plane, keep_positive) = ws.options_3d.clip?;
    let (_, _, n) = plane.axes();
    Some(ClipKey {
        plane: super::state::plane_index(plane),
        keep_positive,
        depth_mm: ws.cursor.point().coords.dot(&n),
    })
}

#[allow(clippy::type_complexity)]
fn sync_structures(
    mut commands: Commands,
    ws: Res<Workspace>,
    mut meshes: ResMut<Assets<Mesh>>,
    mut materials: ResMut<Assets<StandardMaterial>>,
    mut q: Query<(
        Entity,
        &mut StructureEntity,
        &Mesh3d,
        &MeshMaterial3d<StandardMaterial>,
        &mut Visibility,
    )>,
) {
    if !ws.is_changed() {
        return;
    }
    let clip = clip_key(&ws);
    let items: HashMap<u64, &super::state::StructureItem> =
        ws.structures.iter().map(|s| (s.id, s)).collect();
    let mut present = Vec::new();
    for (entity, mut se, mesh3d, mat, mut vis) in &mut q {
        let Some(item) = items.get(&se.id) else {
            commands.entity(entity).despawn();
            continue;
        };
        let Some(built) = &item.built else {
            commands.entity(entity).despawn();
            continue;
        };
        if item.revision != se.revision {
            commands.entity(entity).despawn();
            continue;
        }
        present.push(se.id);
        let want = if item.visible {
            Visibility::Inherited
        } else {
            Visibility::Hidden
        };
        if *vis != want {
            *vis = want;
        }
        if let Some(mut m) = materials.get_mut(&mat.0) {
            let c = &item.recipe.colour;
            let target = material_for(*c, item.recipe.opacity, clip.is_some());
            if m.base_color != target.base_color
                || m.alpha_mode != target.alpha_mode
                || m.cull_mode != target.cull_mode
            {
                *m = target;
            }
        }
        if se.clip != clip {
            if let Some(mut m) = meshes.get_mut(&mesh3d.0) {
                let indices = clipped(&built.mesh, clip);
                m.insert_indices(Indices::U32(indices));
            }
            se.clip = clip;
        }
    }
    for item in &ws.structures {
        if present.contains(&item.id) {
            continue;
        }
        let Some(built) = &item.built else { continue };
        let mesh = to_bevy_mesh(&built.mesh, clip.map(|_| clipped(&built.mesh, clip)));
        commands.spawn((
            StructureEntity {
                id: item.id,
                revision: item.revision,
                clip,
            },
            Mesh3d(meshes.add(mesh)),
            MeshMaterial3d(materials.add(material_for(
                item.recipe.colour,
                item.recipe.opacity,
                clip.is_some(),
            ))),
            Transform::IDENTITY,
            if item.visible {
                Visibility::Inherited
            } else {
                Visibility::Hidden
            },
        ));
    }
}

fn clipped(mesh: &TriMesh, clip: Option<ClipKey>) -> Vec<u32> {
    match clip {
        None => mesh
            .indices
            .iter()
            .flat_map(|t| t.iter().copied())
            .collect(),
        Some(k) => {
            let plane = crate::volume::display::Plane::ALL[k.plane];
            let (_, _, n) = plane.axes();
            let point = Point3::from(n * k.depth_mm);
            clipped_indices(mesh, &point, &Vector3::from(n), k.keep_positive)
        }
    }
}

fn draw_crosshair(ws: Res<Workspace>, mut gizmos: Gizmos) {
    let Some(loaded) = &ws.loaded else { return };
    if !ws.options_3d.show_crosshair {
        return;
    }
    let (lo, hi) = crate::volume::display::bounds_mm(&loaded.volume);
    let c = ws.cursor.position_mm;
    let colours = [
        Color::srgb(0.95, 0.35, 0.3),
        Color::srgb(0.35, 0.85, 0.4),
        Color::srgb(0.95, 0.85, 0.3),
    ];
    for a in 0..3 {
        let mut p0 = c;
        let mut p1 = c;
        p0[a] = lo[a];
        p1[a] = hi[a];
        gizmos.line(world(p0), world(p1), colours[a]);
    }
}
