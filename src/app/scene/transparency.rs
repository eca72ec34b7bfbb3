//! Exact transparency in the 3D view: translucent surfaces (a skin over the bones, a lumen
//! over a stent) composited per pixel in depth order, whatever order their triangles and
//! structures are drawn in. Bevy's order-independent transparency (per-pixel fragment lists,
//! sorted and blended by a resolve pass after the transparent pass) is switched on for every
//! 3D camera (the scene's and the right eye's) while [`ThreeDOptions::exact_transparency`]
//! is set; off, translucent structures are sorted as whole objects and blended in triangle
//! order, which shows bands wherever a surface overlaps itself.
//!
//! A camera with exact transparency is not switched off between the frames that draw the
//! scene (the 3D view renders only after a change, to spare the software rasteriser): Bevy
//! forgets the fragment-list buffers and the resolve pipeline of a camera that is off and
//! rebuilds them when it comes back, and a frame drawn before its resolve pipeline is
//! compiled shows no translucent surface at all (and leaves the fragment lists unreset). It
//! idles instead ([`set_drawing`]): it sees no layer and keeps what it drew last (no clear),
//! so an idle frame costs one empty pass over the view.
//!
//! Needs multisampling off (the 3D cameras have it off). The volume rendering joins the
//! fragment lists too (`shaders/volume.wgsl`): each ray adds one fragment at its
//! opacity-weighted depth, so a translucent surface behind the volume is composited behind
//! it. Depends on the view state only; no egui.
//!
//! [`ThreeDOptions::exact_transparency`]: crate::app::state::ThreeDOptions

use bevy::camera::ClearColorConfig;
use bevy::camera::visibility::RenderLayers;
use bevy::core_pipeline::oit::OrderIndependentTransparencySettings;
use bevy::ecs::query::QueryData;
use bevy::prelude::*;

use super::SceneRedraw;
use crate::app::state::ViewState;

/// The settings the 3D cameras get: up to 8 layers a pixel sorted exactly (a clipped skin,
/// the structures inside it and their back faces), room for 6 a pixel on average.
pub fn settings() -> OrderIndependentTransparencySettings {
    OrderIndependentTransparencySettings {
        sorted_fragment_max_count: 8,
        fragments_per_pixel_average: 6.0,
        alpha_threshold: 0.0,
    }
}

/// Adds or removes the order-independent transparency of every 3D camera to follow the
/// view's option (cameras spawned later, such as the right eye's, get it on their first
/// frame).
pub fn sync_transparency(
    view: Res<ViewState>,
    cams: Query<(Entity, Has<OrderIndependentTransparencySettings>), With<Camera3d>>,
    mut commands: Commands,
    mut redraw: ResMut<SceneRedraw>,
) {
    let want = view.options_3d.exact_transparency;
    let mut changed = false;
    for (e, has) in &cams {
        if has != want {
            changed = true;
            if want {
                commands.entity(e).insert(settings());
            } else {
                commands
                    .entity(e)
                    .remove::<OrderIndependentTransparencySettings>();
            }
        }
    }
    if changed {
        redraw.request_frames(2, "transparency mode");
    }
}

/// What [`set_drawing`] needs of a 3D camera besides its `Camera`.
#[derive(QueryData)]
#[query_data(mutable)]
pub struct IdleParts {
    layers: &'static mut RenderLayers,
    exact: Has<OrderIndependentTransparencySettings>,
}

/// Whether a camera's frame draws the scene: a plain camera is switched on or off; one with
/// exact transparency stays on and idles (no layer seen, nothing cleared) when it does not
/// draw.
pub fn set_drawing(camera: &mut Camera, parts: IdlePartsItem<'_, '_>, draw: bool) {
    let IdlePartsItem { mut layers, exact } = parts;
    let on = draw || exact;
    if camera.is_active != on {
        camera.is_active = on;
    }
    let idle = exact && !draw;
    if idle != matches!(camera.clear_color, ClearColorConfig::None) {
        camera.clear_color = if idle {
            ClearColorConfig::None
        } else {
            ClearColorConfig::Default
        };
    }
    let want = if idle {
        RenderLayers::none()
    } else {
        RenderLayers::default()
    };
    if *layers != want {
        *layers = want;
    }
}

/// Whether a camera draws the scene in this frame (on and not idling).
pub fn draws(camera: &Camera, layers: &RenderLayers) -> bool {
    camera.is_active && *layers != RenderLayers::none()
}
