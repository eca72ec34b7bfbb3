//! Stereo in the 3D view (`StereoPlugin`): with a stereo mode chosen, the anatomy camera
//! becomes the left eye and a second camera, the right eye, renders the same scene (surfaces,
//! volume, paths) into a texture of its own; both are moved half the eye separation along
//! the view's right axis and their images shifted (`SubCameraView`, an off-axis pair) so the
//! convergence plane coincides (`dvr::stereo`). The panels compose the two images: red–cyan
//! anaglyph, side by side or top and bottom (`ui::view3d`). Overlays drawn by egui (markup
//! labels) stay in the centre eye's view.

use bevy::camera::SubCameraView;
use bevy::camera::visibility::RenderLayers;
use bevy::core_pipeline::prepass::DepthPrepass;
use bevy::core_pipeline::tonemapping::Tonemapping;
use bevy::prelude::*;
use bevy::render::render_resource::TextureFormat;
use bevy_egui::{EguiTextureHandle, EguiUserTextures};

use super::scene::{AnatomyCamera, SceneRedraw, SceneSync, SceneTexture, camera_transform};
use super::state::ViewState;
use super::volume::VolumeView;
use crate::dvr::stereo::{Eye, Stereo, StereoMode};

/// The right eye's camera.
#[derive(Component)]
pub struct RightEyeCamera;

/// The right eye's texture and its egui id (None while stereo is off).
#[derive(Resource, Default)]
pub struct RightEyeTexture {
    handle: Option<Handle<Image>>,
    size: (u32, u32),
    pub egui: Option<bevy_egui::egui::TextureId>,
}

pub struct StereoPlugin;

impl Plugin for StereoPlugin {
    fn build(&self, app: &mut App) {
        app.init_resource::<RightEyeTexture>().add_systems(
            PostUpdate,
            place_eyes
                .after(SceneSync)
                .before(bevy::transform::TransformSystems::Propagate),
        );
    }
}

/// The eye's transform and sub-view for a centre camera rendering `w × h`.
fn eye_view(
    view: &ViewState,
    stereo: &Stereo,
    eye: Eye,
    w: u32,
    h: u32,
) -> (Transform, SubCameraView) {
    let transform = camera_transform(&stereo.eye_camera(&view.camera, eye));
    // No more than the view's own width either way (a shift that large is no stereo pair
    // anyone can fuse, and keeps the virtual image's size in range).
    let shift =
        (stereo.shift_px(&view.camera, eye, f64::from(h)) as f32).clamp(-(w as f32), w as f32);
    let margin = shift.abs().ceil() + 1.0;
    let sub = SubCameraView {
        full_size: UVec2::new(w.saturating_add(2 * margin as u32), h),
        // A point lands at its virtual x minus the offset: moving the window left by the
        // shift moves the image right by it.
        offset: Vec2::new(margin - shift, 0.0),
        size: UVec2::new(w, h),
    };
    (transform, sub)
}

/// The anatomy camera, which is the left eye in stereo.
type LeftEye = (With<AnatomyCamera>, Without<RightEyeCamera>);

/// Places both eyes (or puts the single camera back), creating or dropping the right eye's
/// camera and texture as the mode changes.
#[allow(clippy::too_many_arguments)]
fn place_eyes(
    mut commands: Commands,
    settings: Res<VolumeView>,
    view: Res<ViewState>,
    scene: Res<SceneTexture>,
    mut right: ResMut<RightEyeTexture>,
    mut images: ResMut<Assets<Image>>,
    mut user_textures: ResMut<EguiUserTextures>,
    mut redraw: ResMut<SceneRedraw>,
    mut left_q: Query<(&mut Camera, &mut Transform, &RenderLayers), LeftEye>,
    mut right_q: Query<
        (
            Entity,
            &mut Camera,
            &mut Transform,
            &mut Projection,
            &mut RenderLayers,
        ),
        With<RightEyeCamera>,
    >,
    headless: Res<super::scene::HeadlessSize>,
) {
    let Ok((mut left_cam, mut left_t, left_layers)) = left_q.single_mut() else {
        return;
    };
    let size = scene.size().or(headless.0);
    if settings.stereo == StereoMode::Off || size.is_none() {
        if left_cam.sub_camera_view.is_some() {
            left_cam.sub_camera_view = None;
            // Back to the centre eye.
            let centre = Stereo {
                separation_mm: 0.0,
                convergence_mm: 1.0,
            };
            *left_t = eye_view(&view, &centre, Eye::Left, 1, 1).0;
            redraw.request("stereo off");
        }
        for (e, ..) in &right_q {
            commands.entity(e).despawn();
        }
        if let Some(old) = right.handle.take() {
            user_textures.remove_image(old.id());
            right.egui = None;
        }
        return;
    }
    let Some((w, h)) = size else { return };
    let stereo = settings
        .stereo_params
        .unwrap_or_else(|| Stereo::defaults(&view.camera));
    // The right eye's texture, at the view's size.
    if right.handle.is_none() || right.size != (w, h) {
        let image = Image::new_target_texture(w, h, TextureFormat::Rgba8UnormSrgb, None);
        let handle = images.add(image);
        if let Some(old) = right.handle.take() {
            user_textures.remove_image(old.id());
        }
        right.egui = Some(user_textures.add_image(EguiTextureHandle::Strong(handle.clone())));
        for (e, ..) in &right_q {
            commands
                .entity(e)
                .insert(bevy::camera::RenderTarget::Image(handle.clone().into()));
        }
        if right_q.is_empty() {
            commands.spawn((
                RightEyeCamera,
                Camera3d::default(),
                Camera {
                    order: -1,
                    ..default()
                },
                Tonemapping::None,
                Msaa::Off,
                DepthPrepass,
                RenderLayers::default(),
                Projection::Perspective(PerspectiveProjection {
                    fov: view.camera.fov_y_rad as f32,
                    ..default()
                }),
                bevy::camera::RenderTarget::Image(handle.clone().into()),
                Transform::default(),
            ));
        }
        right.handle = Some(handle);
        right.size = (w, h);
        redraw.request_frames(2, "stereo on");
    }
    let (lt, lsub) = eye_view(&view, &stereo, Eye::Left, w, h);
    if *left_t != lt {
        *left_t = lt;
    }
    if left_cam.sub_camera_view != Some(lsub) {
        left_cam.sub_camera_view = Some(lsub);
        redraw.request("stereo changed");
    }
    let (rt, rsub) = eye_view(&view, &stereo, Eye::Right, w, h);
    // The right eye draws, idles or is off with the left (`scene::transparency`).
    let (active, clear, layers) = (
        left_cam.is_active,
        left_cam.clear_color,
        left_layers.clone(),
    );
    let (near, far) = view.camera.near_far_mm();
    let projection = PerspectiveProjection {
        fov: view.camera.fov_y_rad as f32,
        near: near as f32,
        far: far as f32,
        ..default()
    };
    for (_, mut cam, mut t, mut p, mut l) in &mut right_q {
        if !matches!(&*p, Projection::Perspective(q) if q.fov == projection.fov && q.near == projection.near && q.far == projection.far)
        {
            *p = Projection::Perspective(projection.clone());
        }
        if *t != rt {
            *t = rt;
        }
        if cam.sub_camera_view != Some(rsub) {
            cam.sub_camera_view = Some(rsub);
        }
        if cam.is_active != active {
            cam.is_active = active;
        }
        if std::mem::discriminant(&cam.clear_color) != std::mem::discriminant(&clear) {
            cam.clear_color = clear;
        }
        if *l != layers {
            *l = layers.clone();
        }
    }
}
