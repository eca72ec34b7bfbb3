//! The 3D scene: the camera (driven by `session::camera::OrbitCamera`, rendering into the
//! 3D view's rectangle), a headlight and a soft fill, one mesh entity per structure with its
//! material (opaque or blended), the crosshair through the shared cursor, and the clipping
//! plane (triangles on the far side dropped, recomputed when the cursor moves). This is the
//! one place where core `TriMesh` (f64 mm) becomes a Bevy `Mesh` (f32).
//!
//! In the window the camera renders into a texture of the 3D view's size, which the UI
//! shows ([`scene_target`] keeps it and hands it to egui), and it renders only in the few
//! frames after something in the scene changed ([`SceneRedraw`]): frames drawn for the
//! panels, a slice or a progress bar then cost no 3D rendering, which on a software
//! rasteriser is most of a frame. No egui here but that texture's registration.

use std::collections::HashMap;

use bevy::asset::RenderAssetUsages;
use bevy::camera::visibility::RenderLayers;
use bevy::core_pipeline::tonemapping::Tonemapping;
use bevy::mesh::{Indices, PrimitiveTopology};
use bevy::prelude::*;
use bevy::render::render_resource::TextureFormat;
use bevy::window::RequestRedraw;
use bevy_egui::{EguiTextureHandle, EguiUserTextures, PrimaryEguiContext};
use nalgebra::{Point3, Vector3};

use super::state::{ViewState, Workspace, world};
use crate::mesh::TriMesh;
use crate::session::layout::Rect as ViewRect;
use crate::session::section::clipped_indices;

mod pipelines;
pub mod transparency;

use pipelines::{NEW_MESH_RETRIES, check_new_meshes, extract_new_meshes, note_pending_pipelines};
pub use pipelines::{NewMeshes, PipelineState, PipelinesPending};

/// Size of the offscreen target when rendering without a window (frame timing).
#[derive(Resource, Default, Clone, Copy)]
pub struct HeadlessSize(pub Option<(u32, u32)>);

/// Where the UI placed the 3D view this frame (logical pixels), or None when hidden.
#[derive(Resource, Default, Clone, Copy, PartialEq)]
pub struct ThreeDRect(pub Option<ViewRect>);

/// Frames the anatomy camera still has to render because the scene changed (systems that
/// change what it shows call [`SceneRedraw::request`]).
#[derive(Resource, Default)]
pub struct SceneRedraw {
    frames: u32,
    /// Frames rendered with every pipeline ready (what is in the texture is on screen).
    pub rendered: u64,
    /// The crosshair as last drawn (gizmos are immediate: a change must trigger a render).
    crosshair: Option<([f64; 3], bool)>,
    active: bool,
    /// Pipelines finished compiling as last seen.
    pipelines_finished: u64,
    /// Where the camera was last placed for the view (in stereo the eyes are moved from
    /// there after, so the component itself is no guide).
    placed: Option<Transform>,
}

impl SceneRedraw {
    /// Renders the next frame (meshes added in this frame are uploaded before it draws).
    pub fn request(&mut self, why: &'static str) {
        self.request_frames(1, why);
    }

    /// Renders the next `n` frames.
    pub fn request_frames(&mut self, n: u32, why: &'static str) {
        tracing::trace!("3D view redrawn: {why}");
        self.frames = self.frames.max(n);
    }

    /// Whether the camera renders in this frame (set after the scene systems ran).
    pub fn active(&self) -> bool {
        self.active
    }
}

/// The texture the 3D view is rendered into in the window, and its egui id.
#[derive(Resource, Default)]
pub struct SceneTexture {
    handle: Option<Handle<Image>>,
    size: (u32, u32),
    pub egui: Option<bevy_egui::egui::TextureId>,
}

impl SceneTexture {
    /// The texture's size, once there is one.
    pub fn size(&self) -> Option<(u32, u32)> {
        self.handle.as_ref().map(|_| self.size)
    }
}

/// Ordering: scene systems that change what the camera sees run in this set; the camera is
/// switched on or off after it.
#[derive(SystemSet, Debug, Clone, PartialEq, Eq, Hash)]
pub struct SceneSync;

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

pub struct ScenePlugin;

impl Plugin for ScenePlugin {
    fn finish(&self, app: &mut App) {
        let flag = PipelinesPending(std::sync::Arc::new(PipelineState {
            waiting: std::sync::atomic::AtomicBool::new(true),
            ..Default::default()
        }));
        app.insert_resource(flag.clone());
        if let Some(render_app) = app.get_sub_app_mut(bevy::render::RenderApp) {
            render_app
                .insert_resource(flag)
                .add_systems(bevy::render::ExtractSchedule, extract_new_meshes)
                .add_systems(
                    bevy::render::Render,
                    (note_pending_pipelines, check_new_meshes)
                        .in_set(bevy::render::RenderSystems::Cleanup),
                );
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
            .init_resource::<SceneRedraw>()
            .init_resource::<NewMeshes>()
            .add_systems(Startup, setup_scene)
            .configure_sets(
                PostUpdate,
                SceneSync.before(bevy::transform::TransformSystems::Propagate),
            )
            .add_systems(
                PostUpdate,
                (
                    (
                        sync_camera,
                        sync_structures,
                        draw_crosshair,
                        transparency::sync_transparency,
                    )
                        .in_set(SceneSync),
                    activate_camera.after(SceneSync),
                ),
            );
    }
}

fn setup_scene(
    mut commands: Commands,
    mut meshes: ResMut<Assets<Mesh>>,
    mut materials: ResMut<Assets<StandardMaterial>>,
) {
    // Pipelines compile while the study loads, not when its first surface arrives (on a
    // software rasteriser that is a second in which the surface would not show): one
    // invisible triangle (zero area) per kind of structure material, with the structures'
    // vertex layout, in front of the camera and never culled.
    let mut prewarm = Mesh::new(
        PrimitiveTopology::TriangleList,
        RenderAssetUsages::RENDER_WORLD,
    );
    prewarm.insert_attribute(Mesh::ATTRIBUTE_POSITION, vec![[0.0f32, 0.0, -10.0]; 3]);
    prewarm.insert_attribute(Mesh::ATTRIBUTE_NORMAL, vec![[0.0f32, 0.0, 1.0]; 3]);
    prewarm.insert_indices(Indices::U32(vec![0, 1, 2]));
    let prewarm = meshes.add(prewarm);
    let kinds = [(1.0, false), (0.5, false), (1.0, true), (0.5, true)];
    let prewarm_materials: Vec<_> = kinds
        .iter()
        .map(|&(opacity, clipped)| materials.add(material_for([0.5; 3], opacity, clipped)))
        .collect();
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
            // Off is also what exact transparency needs.
            Msaa::Off,
            transparency::settings(),
            // Switched to none while the camera idles (see `transparency::set_drawing`).
            RenderLayers::default(),
            Transform::from_xyz(0.0, -800.0, 0.0).looking_at(Vec3::ZERO, Vec3::Z),
        ))
        .with_children(|c| {
            for m in prewarm_materials {
                c.spawn((
                    Mesh3d(prewarm.clone()),
                    MeshMaterial3d(m),
                    Transform::IDENTITY,
                    bevy::camera::visibility::NoFrustumCulling,
                ));
            }
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

/// The UI camera: draws egui over the whole window (the 3D view is a texture in it).
pub fn spawn_ui_camera(mut commands: Commands) {
    commands.spawn((
        PrimaryEguiContext,
        Camera2d,
        Msaa::Off,
        RenderLayers::none(),
        Camera {
            order: 1,
            ..default()
        },
    ));
}

/// Where a Bevy camera stands and looks for an orbit camera (patient mm are world units).
pub fn camera_transform(cam: &crate::session::camera::OrbitCamera) -> Transform {
    let eye = cam.eye_mm();
    let q = cam.rotation.quaternion();
    Transform {
        translation: world([eye.x, eye.y, eye.z]),
        rotation: Quat::from_xyzw(q.i as f32, q.j as f32, q.k as f32, q.w as f32),
        ..default()
    }
}

fn sync_camera(
    view: Res<ViewState>,
    mut redraw: ResMut<SceneRedraw>,
    mut cams: Query<(&mut Camera, &mut Transform, &mut Projection), With<AnatomyCamera>>,
) {
    let Ok((mut camera, mut transform, mut projection)) = cams.single_mut() else {
        return;
    };
    // The whole target is the 3D view: the window's texture has its size, as has the
    // offscreen image of a frame-timing run.
    if camera.viewport.is_some() {
        camera.viewport = None;
    }
    let cam = &view.camera;
    let t = camera_transform(cam);
    // Compared with what was last written, not with the component: in stereo the eyes'
    // placement (`stereo::place_eyes`) moves the camera after this.
    if redraw.placed != Some(t) {
        *transform = t;
        redraw.placed = Some(t);
        redraw.request("camera moved");
    }
    let (near, far) = cam.near_far_mm();
    if let Projection::Perspective(p) = projection.as_mut() {
        if p.fov != cam.fov_y_rad as f32 || p.near != near as f32 || p.far != far as f32 {
            p.fov = cam.fov_y_rad as f32;
            p.near = near as f32;
            p.far = far as f32;
            redraw.request("projection changed");
        }
    } else {
        *projection = Projection::Perspective(PerspectiveProjection {
            fov: cam.fov_y_rad as f32,
            near: near as f32,
            far: far as f32,
            ..default()
        });
        redraw.request("projection set");
    }
}

/// Physical size of the 3D view, or None when it is hidden (or has no pixels: a minimised
/// window).
fn view_size(rect: &ThreeDRect, window: Option<&Window>) -> Option<(u32, u32)> {
    let r = rect.0?;
    let window = window?;
    let scale = window.scale_factor();
    let (pw, ph) = (window.physical_width(), window.physical_height());
    let w = ((r.w * scale).round() as u32).min(pw);
    let h = ((r.h * scale).round() as u32).min(ph);
    (w >= 2 && h >= 2).then_some((w, h))
}

/// What a system that puts things into the 3D scene changes: entities, meshes, materials,
/// and the request for a new render.
#[derive(bevy::ecs::system::SystemParam)]
pub struct SceneAssets<'w, 's> {
    pub commands: Commands<'w, 's>,
    pub meshes: ResMut<'w, Assets<Mesh>>,
    pub materials: ResMut<'w, Assets<StandardMaterial>>,
    pub redraw: ResMut<'w, SceneRedraw>,
}

/// Where the 3D view is on screen: its rectangle in the layout and the window.
#[derive(bevy::ecs::system::SystemParam)]
pub struct ViewArea<'w, 's> {
    pub rect: Res<'w, ThreeDRect>,
    pub windows: Query<'w, 's, &'static Window>,
}

impl ViewArea<'_, '_> {
    fn size(&self) -> Option<(u32, u32)> {
        view_size(&self.rect, self.windows.iter().next())
    }
}

/// Keeps the texture the camera renders the 3D view into at the view's size (a new one when
/// the size changes: egui keeps a binding per texture) and registers it with egui.
pub fn scene_target(
    mut commands: Commands,
    area: ViewArea,
    mut images: ResMut<Assets<Image>>,
    mut target: ResMut<SceneTexture>,
    mut user_textures: ResMut<EguiUserTextures>,
    mut redraw: ResMut<SceneRedraw>,
    cams: Query<Entity, With<AnatomyCamera>>,
) {
    let Some(size) = area.size() else {
        return;
    };
    if target.handle.is_some() && target.size == size {
        return;
    }
    let _slow = super::SlowStep::start("3D view texture");
    let image = Image::new_target_texture(size.0, size.1, TextureFormat::Rgba8UnormSrgb, None);
    let handle = images.add(image);
    if let Some(old) = target.handle.take() {
        user_textures.remove_image(old.id());
    }
    target.egui = Some(user_textures.add_image(EguiTextureHandle::Strong(handle.clone())));
    for e in &cams {
        commands
            .entity(e)
            .insert(bevy::camera::RenderTarget::Image(handle.clone().into()));
    }
    target.handle = Some(handle);
    target.size = size;
    redraw.request("view resized");
}

/// Switches the camera on in the frame after a change and after a pipeline it waited for has
/// compiled (that frame drew without it), off otherwise; asks for that frame at once instead
/// of at the next idle redraw. A camera with exact transparency is never switched off (see
/// [`transparency::idle`]): it idles, drawing nothing over what it drew last.
fn activate_camera(
    mut redraw: ResMut<SceneRedraw>,
    mut new_meshes: ResMut<NewMeshes>,
    pending: Option<Res<PipelinesPending>>,
    headless: Res<HeadlessSize>,
    area: ViewArea,
    mut cams: Query<(&mut Camera, transparency::IdleParts), With<AnatomyCamera>>,
    mut redraws: MessageWriter<RequestRedraw>,
) {
    let Ok((mut camera, idle_parts)) = cams.single_mut() else {
        return;
    };
    let compiling = pending.as_ref().is_some_and(|p| p.get());
    if let Some(p) = &pending
        && p.finished() != redraw.pipelines_finished
    {
        redraw.pipelines_finished = p.finished();
        redraw.request("pipelines compiled");
    }
    let mut waiting_for_report = false;
    if let Some(p) = &pending
        && !new_meshes.entities.is_empty()
    {
        use std::sync::atomic::Ordering::Relaxed;
        if p.0.checked.load(Relaxed) >= new_meshes.generation {
            if p.0.drawable.load(Relaxed) || new_meshes.retries >= NEW_MESH_RETRIES {
                new_meshes.entities.clear();
            } else if compiling {
                // Its pipeline is still being compiled: rendering again now only takes the
                // cores from the compiler (on a software rasteriser each render is most of
                // a second). The render that follows "pipelines compiled" looks again.
                new_meshes.generation += 1;
            } else {
                new_meshes.retries += 1;
                new_meshes.generation += 1;
                redraw.request("a new mesh was not drawn yet");
            }
        } else {
            // The render that carries it runs beside this frame: look again in the next.
            waiting_for_report = true;
        }
    }
    let draw = if headless.0.is_some() {
        true
    } else {
        area.size().is_some() && redraw.frames > 0
    };
    transparency::set_drawing(&mut camera, idle_parts, draw);
    redraw.active = draw;
    if draw && !compiling {
        redraw.rendered += 1;
    }
    // A change made while the view is hidden (one slice shown alone, a minimised window)
    // waits for the view to come back instead of being forgotten.
    if draw && redraw.frames > 0 {
        redraw.frames -= 1;
        if headless.0.is_none() && redraw.frames > 0 {
            redraws.write(RequestRedraw);
        }
    }
    if waiting_for_report && headless.0.is_none() {
        redraws.write(RequestRedraw);
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

fn clip_key(view: &ViewState) -> Option<ClipKey> {
    let (plane, keep_positive) = view.options_3d.clip?;
    let (_, _, n) = plane.axes();
    Some(ClipKey {
        plane: super::state::plane_index(plane),
        keep_positive,
        depth_mm: view.cursor.point().coords.dot(&n),
    })
}

/// A surface whose mesh and material were added this frame; its entity comes next frame.
struct Staged {
    id: u64,
    revision: u64,
    clip: Option<ClipKey>,
    mesh: Handle<Mesh>,
    material: Handle<StandardMaterial>,
}

/// A structure's entity in the scene, with what it shows and whether it is shown.
type StructureParts<'a> = (
    Entity,
    &'a mut StructureEntity,
    &'a Mesh3d,
    &'a MeshMaterial3d<StandardMaterial>,
    &'a mut Visibility,
);

fn sync_structures(
    scene: SceneAssets,
    ws: Res<Workspace>,
    view: Res<ViewState>,
    mut new_meshes: ResMut<NewMeshes>,
    (mut staged, mut last_clip): (Local<Vec<Staged>>, Local<Option<ClipKey>>),
    mut redraws: MessageWriter<RequestRedraw>,
    mut q: Query<StructureParts>,
) {
    let SceneAssets {
        mut commands,
        mut meshes,
        mut materials,
        mut redraw,
    } = scene;
    // Only what is open and the clipping matter here: turning the camera changes nothing.
    let clip = clip_key(&view);
    if !ws.is_changed() && *last_clip == clip && staged.is_empty() {
        return;
    }
    *last_clip = clip;
    let _slow = super::SlowStep::start("structures to the scene");
    let items: HashMap<u64, &super::state::StructureItem> =
        ws.structures.iter().map(|s| (s.id, s)).collect();
    let mut present = Vec::new();
    let mut changed = false;
    let mut spawned = false;
    for (entity, mut se, mesh3d, mat, mut vis) in &mut q {
        let Some(item) = items.get(&se.id) else {
            commands.entity(entity).despawn();
            changed = true;
            continue;
        };
        let Some(built) = &item.built else {
            commands.entity(entity).despawn();
            changed = true;
            continue;
        };
        if item.revision != se.revision {
            commands.entity(entity).despawn();
            changed = true;
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
            changed = true;
        }
        if let Some(mut m) = materials.get_mut(&mat.0) {
            let c = &item.recipe.colour;
            let target = material_for(*c, item.recipe.opacity, clip.is_some());
            if m.base_color != target.base_color
                || m.alpha_mode != target.alpha_mode
                || m.cull_mode != target.cull_mode
            {
                *m = target;
                changed = true;
            }
        }
        if se.clip != clip {
            if let Some(mut m) = meshes.get_mut(&mesh3d.0) {
                let indices = clipped(&built.mesh, clip);
                m.insert_indices(Indices::U32(indices));
            }
            se.clip = clip;
            changed = true;
        }
    }
    // Meshes uploaded in the previous frame get their entity now.
    for st in std::mem::take(&mut *staged) {
        let Some(item) = items.get(&st.id) else {
            continue;
        };
        if item.revision != st.revision || item.built.is_none() || present.contains(&st.id) {
            continue;
        }
        spawned = true;
        present.push(st.id);
        let entity = commands.spawn((
            StructureEntity {
                id: st.id,
                revision: st.revision,
                clip: st.clip,
            },
            Mesh3d(st.mesh),
            MeshMaterial3d(st.material),
            Transform::IDENTITY,
            if item.visible {
                Visibility::Inherited
            } else {
                Visibility::Hidden
            },
        ));
        if item.visible {
            new_meshes.entities.push(entity.id());
        }
    }
    // A new surface's mesh and material go to the render world one frame before its
    // entity: an entity whose mesh is not prepared yet when the renderer first sees it is
    // drawn only a frame later, and that first render of the 3D view (the costliest part of
    // a frame on a software rasteriser) would be spent without it.
    for item in &ws.structures {
        if present.contains(&item.id) {
            continue;
        }
        let Some(built) = &item.built else { continue };
        let mesh = to_bevy_mesh(&built.mesh, clip.map(|_| clipped(&built.mesh, clip)));
        staged.push(Staged {
            id: item.id,
            revision: item.revision,
            clip,
            mesh: meshes.add(mesh),
            material: materials.add(material_for(
                item.recipe.colour,
                item.recipe.opacity,
                clip.is_some(),
            )),
        });
    }
    if !staged.is_empty() {
        redraws.write(RequestRedraw);
    }
    if spawned {
        new_meshes.generation += 1;
        new_meshes.retries = 0;
        redraw.request("structure added");
    } else if changed {
        redraw.request("structures changed");
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

fn draw_crosshair(
    ws: Res<Workspace>,
    view: Res<ViewState>,
    mut redraw: ResMut<SceneRedraw>,
    mut gizmos: Gizmos,
) {
    let shown = ws
        .loaded
        .as_ref()
        .map(|_| (view.cursor.position_mm, view.options_3d.show_crosshair));
    if redraw.crosshair != shown {
        redraw.crosshair = shown;
        redraw.request("crosshair moved");
    }
    let Some(loaded) = &ws.loaded else { return };
    if !view.options_3d.show_crosshair {
        return;
    }
    let (lo, hi) = crate::volume::display::bounds_mm(&loaded.volume);
    let c = view.cursor.position_mm;
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

#[cfg(test)]
mod tests;
