//! The study itself in the 3D view (`VolumePlugin`): GPU ray casting of the study's 3D
//! texture (`shaders/volume.wgsl`) through a transfer function, or as MIP / MinIP, fused with
//! the opaque surfaces (rays stop at the depth prepass), cropped by a box and clipped at the
//! cursor like the surfaces. The texture and its brick grid are prepared in a background job
//! as soon as a series is loaded (`dvr::fit`, `dvr::bricks`: within the adapter's limits,
//! with a notice where the study had to be reduced), so the volume is on screen before any
//! surface is built. While the camera moves, rays take longer steps; full quality returns
//! once it rests. What the user chose lives in [`VolumeView`]; the panel is `volume_panel`.
//! The transfer-function math is in `dvr`; nothing here but the Bevy side.

use std::sync::Arc;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::{Duration, Instant};

use bevy::asset::RenderAssetUsages;
use bevy::mesh::{Indices, PrimitiveTopology};
use bevy::prelude::*;
use bevy::render::render_resource::{Extent3d, TextureDimension, TextureFormat};
use bevy::window::RequestRedraw;
use nalgebra::{Matrix4, Point3, Vector3, Vector4};

use super::jobs::Jobs;
use super::scene::{SceneRedraw, SceneSync};
use super::state::{Step, ViewState, Workspace};
use crate::dvr::bricks::{BRICK, Bricks};
use crate::dvr::fit::{Encoding, Limits, TextureVolume, fit};
use crate::dvr::stereo::StereoMode;
use crate::dvr::{Mode, TransferFunction};
use crate::volume::display::Plane;

use super::volume_material::SHADER;
pub use super::volume_material::{VolumeMaterial, VolumeUniform};

/// Step factor while the camera moves; full steps return this long after it stops.
const MOVING_STEP_FACTOR: f64 = 2.5;
const REST: Duration = Duration::from_millis(250);

/// What the user chose for the volume rendering.
#[derive(Resource, Debug, Clone, PartialEq)]
pub struct VolumeView {
    pub show: bool,
    pub mode: Mode,
    /// The preset the function came from (its key).
    pub preset: String,
    /// The transfer function in real units, as edited (None until a study is prepared).
    pub function: Option<TransferFunction>,
    /// Crop box as fractions of the volume along its i, j, k axes.
    pub crop: [[f64; 3]; 2],
    /// Thick slab: only this thickness (mm) about the cursor, across this MPR plane.
    pub slab: Option<(Plane, f64)>,
    /// Step along rays, as a fraction of the finest voxel spacing (½ = Slicer's "normal").
    pub step_fraction: f64,
    /// Per-pixel start offset against wood-grain.
    pub jitter: bool,
    /// How the study's values are held on the GPU (16-bit floats or the stored integers).
    pub texels: Encoding,
    pub stereo: StereoMode,
    /// Eye separation and convergence (mm); None = the defaults for the current camera.
    pub stereo_params: Option<crate::dvr::stereo::Stereo>,
}

impl Default for VolumeView {
    fn default() -> Self {
        VolumeView {
            show: true,
            mode: Mode::Composite,
            preset: String::new(),
            function: None,
            crop: [[0.0; 3], [1.0; 3]],
            slab: None,
            step_fraction: 0.5,
            jitter: true,
            texels: Encoding::default(),
            stereo: StereoMode::Off,
            stereo_params: None,
        }
    }
}

/// What `--volume` asks for: a preset (composite) or a projection with the default preset.
#[derive(Debug, Clone, PartialEq)]
pub enum VolumeChoice {
    Preset(String),
    Projection(Mode),
}

impl VolumeChoice {
    /// Reads `--volume`: `mip`, `minip`, or a preset's key (shipped or the user's).
    pub fn parse(text: &str) -> Result<VolumeChoice, String> {
        let t = text.trim().to_ascii_lowercase();
        match t.as_str() {
            "mip" => return Ok(VolumeChoice::Projection(Mode::Mip)),
            "minip" => return Ok(VolumeChoice::Projection(Mode::Minip)),
            _ => {}
        }
        let mut keys: Vec<String> = crate::dvr::bundled().into_iter().map(|p| p.key).collect();
        if let Some(dir) = crate::session::prefs::config_dir() {
            keys.extend(crate::dvr::user_presets(&dir).0.into_iter().map(|p| p.key));
        }
        if keys.contains(&t) {
            Ok(VolumeChoice::Preset(t))
        } else {
            Err(format!(
                "unknown volume rendering {text:?}; choose mip, minip or a preset: {}",
                keys.join(", ")
            ))
        }
    }

    /// Sets the view to it (the preset's function is resolved when the study is ready).
    pub fn apply(&self, v: &mut VolumeView) {
        match self {
            VolumeChoice::Preset(key) => {
                v.preset = key.clone();
                v.mode = Mode::Composite;
            }
            VolumeChoice::Projection(mode) => v.mode = *mode,
        }
    }
}

/// Every preset: shipped ones, then the user's.
pub fn all_presets() -> Vec<crate::dvr::Preset> {
    let mut all = crate::dvr::bundled();
    if let Some(dir) = crate::session::prefs::config_dir() {
        all.extend(crate::dvr::user_presets(&dir).0);
    }
    all
}

impl VolumeView {
    /// Chooses a shipped or saved preset; its relative points are resolved on `histogram`.
    pub fn apply_preset(
        &mut self,
        preset: &crate::dvr::Preset,
        histogram: &crate::volume::histogram::Histogram,
    ) {
        self.preset = preset.key.clone();
        self.function = Some(preset.function.resolved(histogram));
        self.mode = Mode::Composite;
    }
}

/// What the uploaded volume is: its grid and the textures the material reads.
pub struct Uploaded {
    pub texture: std::sync::Arc<TextureVolume>,
    pub bricks: Bricks,
    pub entity: Entity,
    pub material: Handle<VolumeMaterial>,
    pub lut: Handle<Image>,
    pub brick_image: Handle<Image>,
    /// The function the LUT and brick visibility were written for.
    pub(super) written: Option<(TransferFunction, Mode)>,
    /// When the texture was handed to the renderer (for the first-frame time).
    pub installed: Instant,
    /// The study's own texture (false: the half-resolution preview shown while it uploads).
    pub full: bool,
}

/// The full-resolution texture being written a slab per frame, and what it is drawn with
/// once complete.
pub struct PendingFull {
    pub(super) image: Handle<Image>,
    pub(super) texture: TextureVolume,
    pub(super) bricks: Bricks,
}

/// Bytes `volume_upload` writes per frame (whole slices; at least one).
pub const SLAB_BYTES: usize = 24 << 20;

/// A texture being written: its image (created empty), the texels in the image's layout
/// (x fastest, then y, then z), its size, and how many slices are on the GPU so far.
#[derive(Resource, Clone)]
pub struct SlabUpload {
    pub image: AssetId<Image>,
    pub bytes: Arc<Vec<u8>>,
    /// Width, height, depth in texels.
    pub dims: [u32; 3],
    pub bytes_per_texel: u32,
    pub written: Arc<AtomicU32>,
    pub started: Instant,
}

impl SlabUpload {
    /// Fraction of the slices written.
    pub fn progress(&self) -> f32 {
        self.written.load(Ordering::Relaxed) as f32 / self.dims[2].max(1) as f32
    }

    pub fn done(&self) -> bool {
        self.written.load(Ordering::Relaxed) >= self.dims[2]
    }

    /// The slices `[start, end)` the next write takes.
    pub(super) fn next_slab(&self) -> Option<(u32, u32)> {
        let start = self.written.load(Ordering::Relaxed);
        let [w, h, d] = self.dims;
        if start >= d {
            return None;
        }
        let slice = (w as usize * h as usize * self.bytes_per_texel as usize).max(1);
        let n = (SLAB_BYTES / slice).max(1) as u32;
        Some((start, (start + n).min(d)))
    }
}

/// Whether a large volume is shown as a preview first and its texture written a slab per
/// frame (the interactive viewer), or uploaded whole before it is drawn (screenshots and
/// frame timing, which must show and time the full resolution).
#[derive(Resource, Default, Clone, Copy)]
pub struct Progressive(pub bool);

/// Textures above this size are previewed at half resolution and written a slab per frame.
pub(super) const PROGRESSIVE_ABOVE: u64 = 96 << 20;

/// The volume's preparation and what is on the GPU.
#[derive(Resource, Default)]
pub struct VolumeState {
    /// The `Workspace::volume_revision` prepared or being prepared, and in which encoding.
    revision: u64,
    encoding: Encoding,
    pub(super) job: Option<u64>,
    pub uploaded: Option<Uploaded>,
    /// The full texture still being written (the preview is `uploaded` meanwhile).
    pub(super) pending: Option<PendingFull>,
    /// The camera as last seen, and when it last moved.
    pub(super) last_camera: Option<crate::session::camera::OrbitCamera>,
    moved: Option<Instant>,
    /// The 3D view's render count when the volume went into the scene: the surfaces' builds
    /// are released once a later render has drawn it (`Workspace::volume_first`).
    pub(super) release_after: Option<u64>,
}

impl VolumeState {
    /// Bytes the volume texture takes on the GPU.
    pub fn texture_bytes(&self) -> Option<u64> {
        self.uploaded.as_ref().map(|u| u.texture.bytes())
    }
}

pub struct VolumePlugin;

impl Plugin for VolumePlugin {
    fn build(&self, app: &mut App) {
        app.add_plugins(MaterialPlugin::<VolumeMaterial>::default())
            .init_resource::<VolumeView>()
            .init_resource::<VolumeState>()
            .init_resource::<Progressive>()
            .add_systems(Update, prepare.in_set(Step::Follow))
            .add_systems(PostUpdate, sync_volume.in_set(SceneSync));
        // Developers may point this at a copy of the shader to try changes without a
        // rebuild; the compiled-in source is used otherwise.
        let source = std::env::var_os("TWINPLAN_DEV_VOLUME_SHADER")
            .and_then(|p| std::fs::read_to_string(p).ok())
            .map_or(
                std::borrow::Cow::Borrowed(include_str!("../../shaders/volume.wgsl")),
                std::borrow::Cow::Owned,
            );
        let shader = Shader::from_wgsl(source, "shaders/volume.wgsl");
        if let Some(mut shaders) = app.world_mut().get_resource_mut::<Assets<Shader>>()
            && shaders.insert(&SHADER, shader).is_err()
        {
            tracing::error!("the volume shader could not be registered");
        }
    }
}

/// What the background job hands over.
pub(super) struct Prepared {
    pub(super) revision: u64,
    /// The texture's grid (its texels moved into `bytes`).
    pub(super) texture: TextureVolume,
    /// The texels as the image's bytes, made here rather than on the main thread.
    pub(super) bytes: Vec<u8>,
    pub(super) bricks: Bricks,
    pub(super) notice: Option<String>,
    /// The transfer function to start with: the preset's key and its function in real units.
    pub(super) preset: Option<(String, TransferFunction)>,
    /// The study's own texture, not the half-resolution preview.
    pub(super) full: bool,
}

/// The adapter's limits for the volume texture.
fn limits(device: Option<&bevy::render::renderer::RenderDevice>) -> Limits {
    let max_side = device.map_or(2048, |d| d.limits().max_texture_dimension_3d);
    // wgpu states no memory size: the budget is the default, or less where the adapter's
    // largest buffer is smaller (software and integrated adapters).
    let max_bytes = device.map_or(Limits::DEFAULT_BYTES, |d| {
        d.limits().max_buffer_size.min(Limits::DEFAULT_BYTES)
    });
    Limits {
        max_side,
        max_bytes,
    }
}

/// Starts preparing the texture when a series is loaded; forgets the volume when it closes.
pub(super) fn prepare(
    mut commands: Commands,
    (ws, settings): (Res<Workspace>, Res<VolumeView>),
    mut jobs: ResMut<Jobs>,
    mut state: ResMut<VolumeState>,
    (device, progressive): (
        Option<Res<bevy::render::renderer::RenderDevice>>,
        Res<Progressive>,
    ),
) {
    let Some(loaded) = ws.loaded.as_ref() else {
        if let Some(u) = state.uploaded.take() {
            commands.entity(u.entity).despawn();
        }
        state.pending = None;
        commands.remove_resource::<SlabUpload>();
        state.revision = 0;
        return;
    };
    if state.revision == ws.volume_revision && state.encoding == settings.texels {
        return;
    }
    state.revision = ws.volume_revision;
    state.encoding = settings.texels;
    let encoding = settings.texels;
    if let Some(u) = state.uploaded.take() {
        commands.entity(u.entity).despawn();
    }
    state.pending = None;
    state.release_after = None;
    commands.remove_resource::<SlabUpload>();
    if let Some(old) = state.job.take() {
        jobs.cancel(old);
    }
    let volume = loaded.volume.clone();
    let histogram = loaded.histogram.clone();
    let default = crate::dvr::default_key(loaded.is_ct());
    let wanted = if settings.preset.is_empty() {
        default.to_string()
    } else {
        settings.preset.clone()
    };
    let revision = ws.volume_revision;
    let limits = limits(device.as_deref());
    let study_bytes = volume.geometry.dims.iter().product::<usize>() as u64 * 2;
    let preview = progressive.0
        && study_bytes > PROGRESSIVE_ABOVE
        && study_bytes <= limits.max_bytes
        && volume
            .geometry
            .dims
            .iter()
            .all(|&n| n as u32 <= limits.max_side);
    // Surfaces wait only for a preview that is to be shown.
    if !(preview && settings.show) {
        ws.volume_first.release();
    }
    // Volume first: on a thread of its own rather than in the background pool, where it
    // would queue behind the surfaces being built (a head CT's bone surface kept it waiting
    // 8 s); its parallel loops run in rayon's global pool, which the surfaces do not use.
    state.job = Some(jobs.spawn_with(
        "Preparing the volume rendering",
        None,
        false,
        move |p, partial| {
            // The preset asked for (or the modality's default), the user's presets read here
            // rather than on the main thread, resolved on the series' histogram.
            let presets = all_presets();
            let preset = presets
                .iter()
                .find(|p| p.key == wanted)
                .or_else(|| presets.iter().find(|p| p.key == default))
                .map(|p| (p.key.clone(), p.function.resolved(&histogram)));
            if preview {
                // Every other voxel (an eighth of the texels, read without averaging) first,
                // on screen at once.
                let started = Instant::now();
                let mut texture = crate::dvr::fit::preview(&volume, 2, encoding);
                let read = started.elapsed();
                let bricks = Bricks::of_study_every(&volume, 2, encoding);
                let bricked = started.elapsed();
                let bytes = bytemuck::cast_slice(&texture.texels).to_vec();
                texture.texels = Vec::new();
                let ms = |d: Duration| d.as_secs_f64() * 1000.0;
                tracing::info!(
                    "volume preview prepared: {:?} texels in {:.0} ms (read {:.0} ms, bricks \
                     {:.0} ms, bytes {:.0} ms)",
                    texture.dims,
                    ms(started.elapsed()),
                    ms(read),
                    ms(bricked - read),
                    ms(started.elapsed() - bricked)
                );
                partial.send(super::jobs::JobOutput::Other(Box::new(Prepared {
                    revision,
                    texture,
                    bytes,
                    bricks,
                    notice: None,
                    preset: preset.clone(),
                    full: false,
                })));
            }
            if p.is_cancelled() {
                return super::jobs::JobOutput::Ended;
            }
            let started = Instant::now();
            let mut texture = fit(&volume, &limits, encoding);
            let fitted = started.elapsed();
            let bytes = bytemuck::cast_slice(&texture.texels).to_vec();
            let bricks = if texture.factor == 1 {
                Bricks::of_study(&volume, encoding)
            } else {
                Bricks::of(&texture)
            };
            let notice = texture.notice(volume.geometry.dims, &limits);
            texture.texels = Vec::new();
            tracing::info!(
                "volume texture prepared: {:?} texels in {:.0} ms (bricks and bytes {:.0} ms more)",
                texture.dims,
                fitted.as_secs_f64() * 1000.0,
                (started.elapsed() - fitted).as_secs_f64() * 1000.0
            );
            super::jobs::JobOutput::Other(Box::new(Prepared {
                revision,
                texture,
                bytes,
                bricks,
                notice,
                preset,
                full: true,
            }))
        },
    ));
}

/// The bounding box of the texture's grid as a closed mesh in patient mm, faces wound
/// outwards whatever the grid's handedness.
pub(super) fn box_mesh(t: &TextureVolume) -> Mesh {
    let m = t.patient_from_voxel;
    let [nx, ny, nz] = t.dims.map(|n| n as f64 - 0.5);
    let corner = |c: usize| {
        let v = Vector4::new(
            if c & 1 == 0 { -0.5 } else { nx },
            if c & 2 == 0 { -0.5 } else { ny },
            if c & 4 == 0 { -0.5 } else { nz },
            1.0,
        );
        let p = m * v;
        Point3::new(p.x, p.y, p.z)
    };
    let corners: Vec<Point3<f64>> = (0..8).map(corner).collect();
    let centre = corners.iter().fold(Vector3::zeros(), |a, p| a + p.coords) / 8.0;
    // Each face as two triangles of corner indices; flipped where the grid's handedness
    // turns them inwards.
    let faces: [[usize; 4]; 6] = [
        [0, 2, 6, 4],
        [1, 5, 7, 3],
        [0, 4, 5, 1],
        [2, 3, 7, 6],
        [0, 1, 3, 2],
        [4, 6, 7, 5],
    ];
    let mut indices = Vec::with_capacity(36);
    for f in faces {
        let (a, b, c) = (corners[f[0]], corners[f[1]], corners[f[2]]);
        let normal = (b - a).cross(&(c - a));
        let outwards = normal.dot(&(a.coords - centre)) > 0.0;
        let tri = |x: usize, y: usize, z: usize| {
            if outwards {
                [f[x], f[y], f[z]]
            } else {
                [f[x], f[z], f[y]]
            }
        };
        for t in [tri(0, 1, 2), tri(0, 2, 3)] {
            indices.extend(t.iter().map(|&i| i as u32));
        }
    }
    let positions: Vec<[f32; 3]> = corners
        .iter()
        .map(|p| [p.x as f32, p.y as f32, p.z as f32])
        .collect();
    let mut mesh = Mesh::new(
        PrimitiveTopology::TriangleList,
        RenderAssetUsages::RENDER_WORLD,
    );
    mesh.insert_attribute(Mesh::ATTRIBUTE_POSITION, positions);
    mesh.insert_attribute(Mesh::ATTRIBUTE_NORMAL, vec![[0.0f32, 0.0, 1.0]; 8]);
    mesh.insert_indices(Indices::U32(indices));
    mesh
}

pub(super) fn lut_image(tf: &TransferFunction) -> (Image, (f64, f64)) {
    let lut = tf.lut();
    let bytes: Vec<u8> = lut
        .rgba
        .iter()
        .flat_map(|c| c.map(|v| half::f16::from_f32(v).to_bits()))
        .flat_map(u16::to_le_bytes)
        .collect();
    let mut image = Image::new(
        Extent3d {
            width: lut.rgba.len() as u32,
            height: 1,
            depth_or_array_layers: 1,
        },
        TextureDimension::D2,
        bytes,
        TextureFormat::Rgba16Float,
        RenderAssetUsages::RENDER_WORLD | RenderAssetUsages::MAIN_WORLD,
    );
    image.sampler = linear_clamped();
    (image, (lut.lo, lut.hi))
}

pub(super) fn linear_clamped() -> bevy::image::ImageSampler {
    use bevy::image::{ImageAddressMode, ImageFilterMode, ImageSampler, ImageSamplerDescriptor};
    ImageSampler::Descriptor(ImageSamplerDescriptor {
        address_mode_u: ImageAddressMode::ClampToEdge,
        address_mode_v: ImageAddressMode::ClampToEdge,
        address_mode_w: ImageAddressMode::ClampToEdge,
        mag_filter: ImageFilterMode::Linear,
        min_filter: ImageFilterMode::Linear,
        mipmap_filter: ImageFilterMode::Nearest,
        ..default()
    })
}

pub(super) fn brick_bytes(bricks: &Bricks, tf: &TransferFunction) -> Vec<u8> {
    bricks
        .texels(&tf.lut())
        .iter()
        .flat_map(|t| t.iter().flat_map(|v| v.to_le_bytes()))
        .collect()
}

pub(super) fn extent(d: [usize; 3]) -> Extent3d {
    Extent3d {
        width: d[0] as u32,
        height: d[1] as u32,
        depth_or_array_layers: d[2] as u32,
    }
}

/// A half-space kept where `n·p ≥ offset` (patient mm) as the shader's plane in voxel space.
fn plane_in_voxels(patient_from_voxel: &Matrix4<f64>, n: Vector3<f64>, offset: f64) -> Vec4 {
    // n·(A x + b) − offset = (Aᵀ n)·x + (n·b − offset).
    let a = patient_from_voxel.fixed_view::<3, 3>(0, 0);
    let b = patient_from_voxel.fixed_view::<3, 1>(0, 3);
    let nv = a.transpose() * n;
    let w = n.dot(&b) - offset;
    Vec4::new(nv.x as f32, nv.y as f32, nv.z as f32, w as f32)
}

/// Always kept.
const NO_PLANE: Vec4 = Vec4::new(0.0, 0.0, 0.0, 1.0);

/// The shader's uniform for the current settings.
pub fn uniform(
    t: &TextureVolume,
    bricks: &Bricks,
    settings: &VolumeView,
    tf: &TransferFunction,
    view: &ViewState,
    step_factor: f64,
) -> VolumeUniform {
    let voxel_from_world = t
        .patient_from_voxel
        .try_inverse()
        .unwrap_or_else(Matrix4::identity);
    let cols: Vec<f32> = voxel_from_world.iter().map(|&v| v as f32).collect();
    let dims = t.dims.map(|n| n as f64);
    let lo: [f64; 3] =
        std::array::from_fn(|a| -0.5 + settings.crop[0][a].clamp(0.0, 1.0) * dims[a]);
    let hi: [f64; 3] =
        std::array::from_fn(|a| -0.5 + settings.crop[1][a].clamp(0.0, 1.0) * dims[a]);
    let cursor = view.cursor.point();
    let plane0 = match view.options_3d.clip {
        Some((plane, keep_positive)) => {
            let (_, _, n) = plane.axes();
            let n = if keep_positive { n } else { -n };
            plane_in_voxels(&t.patient_from_voxel, n, n.dot(&cursor.coords))
        }
        None => NO_PLANE,
    };
    // A slab is two half-spaces: the far one here, the near one in plane0 when no clip.
    let (plane0, plane1) = match settings.slab {
        Some((plane, thickness)) => {
            let (_, _, n) = plane.axes();
            let half = 0.5 * thickness.max(0.1);
            let c = n.dot(&cursor.coords);
            let far = plane_in_voxels(&t.patient_from_voxel, -n, -(c + half));
            let near = plane_in_voxels(&t.patient_from_voxel, n, c - half);
            if plane0 == NO_PLANE {
                (near, far)
            } else {
                // Clip and slab together: the slab's far side, and the clip.
                (plane0, far)
            }
        }
        None => (plane0, NO_PLANE),
    };
    let w = view.window.width.max(1.0);
    let window_lo = view.window.center - 0.5 - (w - 1.0) / 2.0;
    let window_hi = view.window.center - 0.5 + (w - 1.0) / 2.0;
    let (lut_lo, lut_hi) = tf.range();
    let step = t.finest_spacing_mm() * settings.step_fraction.clamp(0.1, 2.0) * step_factor;
    let v4 = |a: [f64; 3], w: f64| Vec4::new(a[0] as f32, a[1] as f32, a[2] as f32, w as f32);
    VolumeUniform {
        voxel_from_world: Mat4::from_cols_slice(&cols),
        dims: v4(dims, BRICK as f64),
        brick_dims: v4(bricks.dims.map(|n| n as f64), 0.0),
        box_lo: v4(lo, 0.0),
        box_hi: v4(hi, 0.0),
        plane0,
        plane1,
        lut_range: Vec4::new(lut_lo as f32, lut_hi as f32, 0.0, 0.0),
        window: Vec4::new(window_lo as f32, window_hi as f32, 0.0, 0.0),
        params: Vec4::new(
            step as f32,
            1.0,
            if tf.shading { 1.0 } else { 0.0 },
            if settings.jitter { 1.0 } else { 0.0 },
        ),
        mode: Vec4::new(
            settings.mode.code() as f32,
            t.scale.slope as f32,
            t.scale.intercept as f32,
            0.0,
        ),
    }
}

/// Keeps the material, lookup table, brick visibility and visibility in step with the
/// settings, the window, the cursor's clip and the camera's motion.
#[allow(clippy::too_many_arguments)]
fn sync_volume(
    settings: Res<VolumeView>,
    view: Res<ViewState>,
    mut state: ResMut<VolumeState>,
    mut materials: ResMut<Assets<VolumeMaterial>>,
    mut images: ResMut<Assets<Image>>,
    mut vis: Query<&mut Visibility>,
    mut redraw: ResMut<SceneRedraw>,
    mut redraws: MessageWriter<RequestRedraw>,
    headless: Res<super::scene::HeadlessSize>,
) {
    let state = &mut *state;
    let Some(up) = state.uploaded.as_mut() else {
        return;
    };
    let Some(tf) = settings.function.as_ref() else {
        return;
    };
    if let Ok(mut v) = vis.get_mut(up.entity) {
        let want = if settings.show {
            Visibility::Inherited
        } else {
            Visibility::Hidden
        };
        if *v != want {
            *v = want;
            redraw.request("volume shown or hidden");
        }
    }
    if !settings.show {
        return;
    }
    // Coarser steps while the camera moves (not in frame timing, which measures the
    // quality a user sees at rest).
    let now = Instant::now();
    if state.last_camera.is_some_and(|c| c != view.camera) && headless.0.is_none() {
        state.moved = Some(now);
    }
    state.last_camera = Some(view.camera);
    let moving = state.moved.is_some_and(|t| now - t < REST);
    if state.moved.is_some() && !moving {
        state.moved = None;
        redraw.request("camera rests: full quality");
    } else if moving {
        redraws.write(RequestRedraw);
    }
    let step_factor = if moving { MOVING_STEP_FACTOR } else { 1.0 };
    if up
        .written
        .as_ref()
        .is_none_or(|(f, m)| f != tf || *m != settings.mode)
    {
        let (lut, _) = lut_image(tf);
        if let Some(mut img) = images.get_mut(&up.lut) {
            *img = lut;
        }
        if let Some(mut img) = images.get_mut(&up.brick_image) {
            img.data = Some(brick_bytes(&up.bricks, tf));
        }
        up.written = Some((tf.clone(), settings.mode));
        redraw.request("transfer function changed");
    }
    let u = uniform(&up.texture, &up.bricks, &settings, tf, &view, step_factor);
    if materials.get(&up.material).is_some_and(|m| m.uniform != u)
        && let Some(mut m) = materials.get_mut(&up.material)
    {
        m.uniform = u;
        redraw.request("volume settings changed");
    }
}
