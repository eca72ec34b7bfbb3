//! The prepared volume texture handed to the renderer and put in the scene (`install`):
//! for a large study a half-resolution preview first (every other voxel), then the study's
//! own texture, which `finish_upload` swaps in once the GPU has all of it.
//!
//! Bevy uploads an image's whole data in the render frame that first prepares it: for a
//! 512×512×400 study (200 MB of 16-bit texels) on a software adapter that one frame took
//! 120–150 ms, stalling the UI. Here a large texture is created empty
//! (`Image::new_uninit`), its texels stay in the main world behind an `Arc` that the render
//! world reads ([`SlabUpload`], extracted each frame), and a render system writes
//! [`SLAB_BYTES`] of whole slices per frame with `Queue::write_texture`, counting the slices
//! written in an atomic that the main world watches (and the status bar shows). Bevy only;
//! no egui. What to prepare and how to draw it is `app::volume`'s.
//!
//! [`SLAB_BYTES`]: super::volume::SLAB_BYTES

use std::sync::atomic::Ordering;
use std::time::Instant;

use bevy::asset::RenderAssetUsages;
use bevy::core_pipeline::prepass::DepthPrepass;
use bevy::prelude::*;
use bevy::render::render_asset::RenderAssets;
use bevy::render::render_resource::{
    Extent3d, Origin3d, TexelCopyBufferLayout, TexelCopyTextureInfo, TextureAspect,
    TextureDimension, TextureFormat,
};
use bevy::render::renderer::RenderQueue;
use bevy::render::texture::GpuImage;
use bevy::render::{Extract, ExtractSchedule, Render, RenderApp, RenderSystems};
use bevy::window::RequestRedraw;

use super::jobs::Jobs;
use super::scene::{AnatomyCamera, SceneRedraw};
use super::state::Workspace;
use super::volume::{
    PROGRESSIVE_ABOVE, PendingFull, Prepared, Progressive, SlabUpload, Uploaded, VolumeMaterial,
    VolumeState, VolumeUniform, VolumeView, box_mesh, brick_bytes, extent, linear_clamped,
    lut_image,
};
use super::volume_material::texture_format;
use crate::dvr::bricks::Bricks;
use crate::dvr::fit::TextureVolume;
use crate::session::{Level, Notice};

/// What putting a volume in the scene touches.
#[derive(bevy::ecs::system::SystemParam)]
struct SceneParts<'w, 's> {
    commands: Commands<'w, 's>,
    images: ResMut<'w, Assets<Image>>,
    meshes: ResMut<'w, Assets<Mesh>>,
    materials: ResMut<'w, Assets<VolumeMaterial>>,
    cams: Query<'w, 's, Entity, With<AnatomyCamera>>,
    redraw: ResMut<'w, SceneRedraw>,
}

/// Hands the prepared texture (the preview, then the full one) to the renderer and puts the
/// volume in the scene.
fn install(
    mut ws: ResMut<Workspace>,
    mut jobs: ResMut<Jobs>,
    mut state: ResMut<VolumeState>,
    mut view_settings: ResMut<VolumeView>,
    mut parts: SceneParts,
    progressive: Res<Progressive>,
) {
    let Some(id) = state.job else { return };
    for preview in jobs.take_streamed::<Prepared>(id) {
        if preview.revision == ws.volume_revision && ws.loaded.is_some() {
            hand_over(
                &mut ws,
                &mut state,
                &mut view_settings,
                &mut parts,
                false,
                preview,
            );
        }
    }
    let Some(prepared) = jobs.take::<Prepared>(id) else {
        if !jobs.is_running(id) {
            // Failed or cancelled: the surfaces wait no longer.
            ws.volume_first.release();
            state.job = None;
        }
        return;
    };
    state.job = None;
    if prepared.revision != ws.volume_revision || ws.loaded.is_none() {
        return;
    }
    // With a preview on screen, a large texture goes up a slab per frame.
    let slabs = progressive.0
        && state.uploaded.is_some()
        && prepared.bytes.len() as u64 > PROGRESSIVE_ABOVE;
    hand_over(
        &mut ws,
        &mut state,
        &mut view_settings,
        &mut parts,
        slabs,
        prepared,
    );
}

/// The preset and notice of a prepared texture taken, and the texture uploaded whole and
/// drawn, or (`slabs`) created empty and left to `volume_upload` to fill.
fn hand_over(
    ws: &mut Workspace,
    state: &mut VolumeState,
    view_settings: &mut VolumeView,
    parts: &mut SceneParts,
    slabs: bool,
    prepared: Prepared,
) {
    let _slow = super::SlowStep::start("volume texture handed to the renderer");
    // The surfaces' builds go ahead once the volume is drawn (its pipeline compiled: on
    // two cores they would slow the compilation).
    if state.release_after.is_none() && !ws.volume_first.released() {
        state.release_after = Some(parts.redraw.rendered);
    }
    if view_settings.function.is_none()
        && let Some((key, function)) = prepared.preset
    {
        view_settings.preset = key;
        view_settings.function = Some(function);
    }
    if let Some(text) = prepared.notice {
        ws.notify_about(
            super::state::NoticeScope::Series,
            Notice {
                level: Level::Warning,
                summary: "Volume rendering at reduced resolution".into(),
                details: text,
            },
        );
    }
    let texture = prepared.texture;
    if slabs {
        let mut image = Image::new_uninit(
            extent(texture.dims),
            TextureDimension::D3,
            texture_format(texture.encoding),
            RenderAssetUsages::RENDER_WORLD,
        );
        image.sampler = linear_clamped();
        let image = parts.images.add(image);
        parts.commands.insert_resource(SlabUpload {
            image: image.id(),
            bytes: std::sync::Arc::new(prepared.bytes),
            dims: texture.dims.map(|n| n as u32),
            bytes_per_texel: 2,
            written: std::sync::Arc::new(std::sync::atomic::AtomicU32::new(0)),
            started: Instant::now(),
        });
        state.pending = Some(PendingFull {
            image,
            texture,
            bricks: prepared.bricks,
        });
        return;
    }
    let mut volume_image = Image::new(
        extent(texture.dims),
        TextureDimension::D3,
        prepared.bytes,
        texture_format(texture.encoding),
        RenderAssetUsages::RENDER_WORLD,
    );
    volume_image.sampler = linear_clamped();
    let image = parts.images.add(volume_image);
    put_in_scene(
        state,
        view_settings,
        parts,
        image,
        texture,
        prepared.bricks,
        prepared.full,
    );
}

/// Lets the surfaces' builds start once a render has drawn the volume.
fn release_surfaces(ws: Res<Workspace>, mut state: ResMut<VolumeState>, redraw: Res<SceneRedraw>) {
    if let Some(at) = state.release_after
        && (redraw.rendered > at || ws.volume_first.released())
    {
        ws.volume_first.release();
        state.release_after = None;
    }
}

/// Swaps the full texture in for the preview once every slab of it is written; keeps frames
/// coming while they are.
fn finish_upload(
    mut state: ResMut<VolumeState>,
    view_settings: Res<VolumeView>,
    mut parts: SceneParts,
    upload: Option<Res<SlabUpload>>,
    mut redraws: MessageWriter<RequestRedraw>,
) {
    if state.pending.is_none() {
        return;
    }
    if !upload.as_ref().is_some_and(|u| u.done()) {
        redraws.write(RequestRedraw);
        return;
    }
    parts.commands.remove_resource::<SlabUpload>();
    if let Some(p) = state.pending.take() {
        put_in_scene(
            &mut state,
            &view_settings,
            &mut parts,
            p.image,
            p.texture,
            p.bricks,
            true,
        );
    }
}

/// The volume's box drawn with this texture (replacing what was drawn before).
fn put_in_scene(
    state: &mut VolumeState,
    view_settings: &VolumeView,
    parts: &mut SceneParts,
    volume: Handle<Image>,
    texture: TextureVolume,
    bricks: Bricks,
    full: bool,
) {
    let Some(tf) = view_settings.function.clone() else {
        return;
    };
    if let Some(old) = state.uploaded.take() {
        parts.commands.entity(old.entity).despawn();
    }
    let (lut, _) = lut_image(&tf);
    let lut = parts.images.add(lut);
    let brick_image = Image::new(
        extent(bricks.dims),
        TextureDimension::D3,
        brick_bytes(&bricks, &tf),
        TextureFormat::Rgba32Float,
        RenderAssetUsages::RENDER_WORLD | RenderAssetUsages::MAIN_WORLD,
    );
    let brick_image = parts.images.add(brick_image);
    let material = VolumeMaterial::new(
        VolumeUniform::default(),
        volume,
        texture.encoding,
        lut.clone(),
        brick_image.clone(),
        &mut parts.images,
    );
    let material = parts.materials.add(material);
    let mesh = parts.meshes.add(box_mesh(&texture));
    let entity = parts
        .commands
        .spawn((
            Mesh3d(mesh),
            MeshMaterial3d(material.clone()),
            Transform::IDENTITY,
            bevy::camera::visibility::NoFrustumCulling,
            if view_settings.show {
                Visibility::Inherited
            } else {
                Visibility::Hidden
            },
        ))
        .id();
    for cam in &parts.cams {
        parts.commands.entity(cam).insert(DepthPrepass);
    }
    state.uploaded = Some(Uploaded {
        texture: std::sync::Arc::new(texture),
        bricks,
        entity,
        material,
        lut,
        brick_image,
        written: Some((tf, view_settings.mode)),
        installed: Instant::now(),
        full,
    });
    // The uniform is written by `sync_volume` in this frame.
    state.last_camera = None;
    parts.redraw.request_frames(
        2,
        if full {
            "volume installed"
        } else {
            "volume preview installed"
        },
    );
}

/// Registers the render-world side.
pub struct VolumeUploadPlugin;

impl Plugin for VolumeUploadPlugin {
    fn build(&self, app: &mut App) {
        app.add_systems(
            Update,
            (install, finish_upload, release_surfaces)
                .chain()
                .after(super::volume::prepare)
                .in_set(super::state::Step::Follow),
        );
    }

    fn finish(&self, app: &mut App) {
        if let Some(render_app) = app.get_sub_app_mut(RenderApp) {
            render_app
                .add_systems(ExtractSchedule, extract_upload)
                .add_systems(Render, write_slab.in_set(RenderSystems::PrepareResources));
        }
    }
}

fn extract_upload(mut commands: Commands, upload: Extract<Option<Res<SlabUpload>>>) {
    match upload.as_ref() {
        Some(u) => commands.insert_resource(u.as_ref().clone()),
        None => commands.remove_resource::<SlabUpload>(),
    }
}

/// Writes the next slab once the empty texture exists on the GPU.
fn write_slab(
    upload: Option<Res<SlabUpload>>,
    images: Res<RenderAssets<GpuImage>>,
    queue: Res<RenderQueue>,
) {
    let Some(u) = upload else { return };
    let Some((start, end)) = u.next_slab() else {
        return;
    };
    let Some(gpu) = images.get(u.image) else {
        return;
    };
    let [w, h, _] = u.dims;
    let slice = w as usize * h as usize * u.bytes_per_texel as usize;
    let Some(data) = u.bytes.get(start as usize * slice..end as usize * slice) else {
        tracing::error!("volume upload: the texels do not cover slice {end}");
        u.written.store(u.dims[2], Ordering::Relaxed);
        return;
    };
    queue.write_texture(
        TexelCopyTextureInfo {
            texture: &gpu.texture,
            mip_level: 0,
            origin: Origin3d {
                x: 0,
                y: 0,
                z: start,
            },
            aspect: TextureAspect::All,
        },
        data,
        TexelCopyBufferLayout {
            offset: 0,
            bytes_per_row: Some(w * u.bytes_per_texel),
            rows_per_image: Some(h),
        },
        Extent3d {
            width: w,
            height: h,
            depth_or_array_layers: end - start,
        },
    );
    u.written.store(end, Ordering::Relaxed);
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::app::volume::SLAB_BYTES;
    use std::sync::Arc;
    use std::sync::atomic::AtomicU32;

    #[test]
    fn slabs_cover_every_slice_once_in_order() {
        let u = SlabUpload {
            image: AssetId::default(),
            bytes: Arc::new(Vec::new()),
            dims: [512, 512, 401],
            bytes_per_texel: 2,
            written: Arc::new(AtomicU32::new(0)),
            started: std::time::Instant::now(),
        };
        let per = (SLAB_BYTES / (512 * 512 * 2)) as u32;
        let mut next = 0;
        while let Some((a, b)) = u.next_slab() {
            assert_eq!(a, next);
            assert!(b > a && b - a <= per);
            next = b;
            u.written.store(b, Ordering::Relaxed);
        }
        assert_eq!(next, 401);
        assert!(u.done());
        assert_eq!(u.progress(), 1.0);
        // A slice larger than a slab still goes, one at a time.
        let big = SlabUpload {
            dims: [8192, 8192, 3],
            written: Arc::new(AtomicU32::new(0)),
            ..u.clone()
        };
        assert_eq!(big.next_slab(), Some((0, 1)));
    }
}
