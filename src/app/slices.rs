//! The MPR slice views: reslicing at the cursor (cached per plane, redone only when the
//! cursor leaves the plane or the volume changes), window/level on the CPU into an egui
//! texture (≈1 ms for 512², measured in benches/README.md), structure outlines from the
//! exact mesh–plane section, the crosshair, orientation letters, position and value
//! read-outs, and the peers' mouse conventions; [`SlicesPlugin`] also shows the slices on
//! their planes in 3D. Emits `UiAction`s; computes through `volume::display` and `session`.

use bevy::prelude::{
    App, Assets, Component, Entity, Image, IntoScheduleConfigs, Mesh, Mesh3d, MeshMaterial3d,
    Plugin, PostUpdate, Query, Res, ResMut, StandardMaterial, Transform, default,
};
use bevy_egui::egui::{self, Color32, Pos2, Sense, Stroke, TextureHandle, TextureOptions};
use nalgebra::Point3;

use super::markups::SliceGeometry;
use super::overlay::{self, Tools};
use super::paint::overlay_text;
use super::scene::{SceneAssets, SceneSync};
use super::state::{Seen, UiAction, ViewState, Workspace, plane_index};
use crate::session::layout::{
    Rect as ViewRect, SliceMapping, SliceViewState, ViewId, WheelSteps, WheelUnit,
};
use crate::session::section::plane_section_here;
use crate::session::{modality, readout};
use crate::volume::display::{Plane, Slice, WindowLevel, reslice_here};

/// The slice views' cache, and the slices shown on their planes in the 3D view.
pub struct SlicesPlugin;

impl Plugin for SlicesPlugin {
    fn build(&self, app: &mut App) {
        app.init_resource::<SliceCache>()
            .add_systems(PostUpdate, slice_planes_3d.in_set(SceneSync));
    }
}

/// One textured quad per slice plane in the 3D view.
#[derive(Component)]
struct SlicePlane {
    plane: usize,
    revision: u64,
}

/// Shows the current slices (as windowed) on their planes in 3D, when asked.
fn slice_planes_3d(
    scene: SceneAssets,
    ws: Res<Workspace>,
    view: Res<ViewState>,
    cache: Res<SliceCache>,
    mut images: ResMut<Assets<Image>>,
    q: Query<(Entity, &SlicePlane)>,
) {
    let SceneAssets {
        mut commands,
        mut meshes,
        mut materials,
        mut redraw,
    } = scene;
    use bevy::asset::RenderAssetUsages;
    use bevy::mesh::{Indices, PrimitiveTopology};
    use bevy::render::render_resource::{Extent3d, TextureDimension, TextureFormat};
    let _slow = super::SlowStep::start("slices in 3D");
    let want = view.options_3d.show_slices && ws.loaded.is_some();
    for (i, plane) in Plane::ALL.into_iter().enumerate() {
        let current = q.iter().find(|(_, p)| p.plane == i);
        let slice = cache.plane(plane).filter(|_| want);
        match (current, slice) {
            (Some((e, _)), None) => {
                commands.entity(e).despawn();
                redraw.request("slices in 3D");
            }
            (Some((_, p)), Some((_, _, rev))) if p.revision == rev => {}
            (current, Some((s, grey, rev))) => {
                redraw.request("slices in 3D");
                if let Some((e, _)) = current {
                    commands.entity(e).despawn();
                }
                let rgba: Vec<u8> = grey.iter().flat_map(|&g| [g, g, g, 255]).collect();
                let image = Image::new(
                    Extent3d {
                        width: s.width as u32,
                        height: s.height as u32,
                        depth_or_array_layers: 1,
                    },
                    TextureDimension::D2,
                    rgba,
                    TextureFormat::Rgba8UnormSrgb,
                    RenderAssetUsages::RENDER_WORLD,
                );
                // Corners of the slice's pixel area in patient mm.
                let (w, h) = (s.width as f64 - 0.5, s.height as f64 - 0.5);
                let corners = [(-0.5, -0.5), (w, -0.5), (w, h), (-0.5, h)].map(|(u, v)| {
                    let p = s.patient_at(u, v);
                    [p.x as f32, p.y as f32, p.z as f32]
                });
                let mut mesh = Mesh::new(
                    PrimitiveTopology::TriangleList,
                    RenderAssetUsages::RENDER_WORLD,
                );
                mesh.insert_attribute(Mesh::ATTRIBUTE_POSITION, corners.to_vec());
                mesh.insert_attribute(
                    Mesh::ATTRIBUTE_UV_0,
                    vec![[0.0f32, 0.0], [1.0, 0.0], [1.0, 1.0], [0.0, 1.0]],
                );
                mesh.insert_attribute(Mesh::ATTRIBUTE_NORMAL, vec![[0.0f32, 0.0, 1.0]; 4]);
                mesh.insert_indices(Indices::U32(vec![0, 1, 2, 0, 2, 3]));
                commands.spawn((
                    SlicePlane {
                        plane: i,
                        revision: rev,
                    },
                    Mesh3d(meshes.add(mesh)),
                    MeshMaterial3d(materials.add(StandardMaterial {
                        base_color_texture: Some(images.add(image)),
                        unlit: true,
                        double_sided: true,
                        cull_mode: None,
                        ..default()
                    })),
                    Transform::IDENTITY,
                ));
            }
            (None, None) => {}
        }
    }
}

/// Colours of the planes (Slicer's: axial red, coronal green, sagittal yellow).
pub fn plane_colour(plane: Plane) -> Color32 {
    match plane {
        Plane::Axial => Color32::from_rgb(230, 80, 70),
        Plane::Coronal => Color32::from_rgb(90, 200, 100),
        Plane::Sagittal => Color32::from_rgb(235, 205, 70),
    }
}

struct Outline {
    id: u64,
    revision: u64,
    segments: Vec<[Point3<f64>; 2]>,
}

struct PlaneCache {
    volume_revision: u64,
    depth_mm: f64,
    slice: Slice,
    window: Option<WindowLevel>,
    /// The windowed pixels (also shown on the plane in 3D) and their revision.
    grey: Vec<u8>,
    revision: u64,
    texture: Option<TextureHandle>,
    outlines: Vec<Outline>,
}

/// Per-plane slices, textures and outlines.
#[derive(bevy::prelude::Resource, Default)]
pub struct SliceCache {
    planes: [Option<PlaneCache>; 3],
    /// Reslices done (for tests and the frame log).
    pub reslices: u64,
    revision: u64,
    /// A plane was resliced for a newly opened volume in this frame (see `refresh`).
    first_slice_this_frame: bool,
}

/// Depth of the cursor along a plane's normal (mm).
pub fn depth_of(view: &ViewState, plane: Plane) -> f64 {
    let (_, _, n) = plane.axes();
    view.cursor.point().coords.dot(&n)
}

/// Slice step along a plane's normal: the voxel spacing projected on it.
pub fn step_mm(ws: &Workspace, plane: Plane) -> f64 {
    ws.loaded
        .as_ref()
        .map_or(1.0, |l| readout::step_mm(&l.volume, plane))
}

/// Slice number (0-based) and count of the cursor's slice on a plane's MPR grid.
pub fn slice_index(ws: &Workspace, view: &ViewState, plane: Plane) -> Option<(usize, usize)> {
    let l = ws.loaded.as_ref()?;
    Some(readout::grid_index(&l.volume, plane, depth_of(view, plane)))
}

impl SliceCache {
    /// The current slice of a plane, its windowed pixels and their revision.
    pub fn plane(&self, plane: Plane) -> Option<(&Slice, &[u8], u64)> {
        self.planes[plane_index(plane)]
            .as_ref()
            .filter(|c| !c.grey.is_empty())
            .map(|c| (&c.slice, c.grey.as_slice(), c.revision))
    }

    /// Call once at the start of each frame's panels.
    pub fn begin_frame(&mut self) {
        self.first_slice_this_frame = false;
    }

    /// Brings a plane's slice, pixels and outlines up to date with the cursor and window.
    /// The first slices of a newly opened volume come one plane per frame: all three at
    /// once held the main thread 50 ms of CPU, over 100 ms of wall time while the first
    /// surfaces are being built.
    pub fn refresh(&mut self, ctx: &egui::Context, ws: &Workspace, view: &ViewState, plane: Plane) {
        let Some(loaded) = &ws.loaded else {
            self.planes[plane_index(plane)] = None;
            return;
        };
        let depth = depth_of(view, plane);
        let new_volume = self.planes[plane_index(plane)]
            .as_ref()
            .is_none_or(|c| c.volume_revision != ws.volume_revision);
        if new_volume {
            if self.first_slice_this_frame {
                // Never show the previous volume's slice meanwhile.
                self.planes[plane_index(plane)] = None;
                ctx.request_repaint();
                return;
            }
            self.first_slice_this_frame = true;
        }
        let slot = &mut self.planes[plane_index(plane)];
        let stale = slot
            .as_ref()
            .is_none_or(|c| c.volume_revision != ws.volume_revision || c.depth_mm != depth);
        if stale {
            let slice = reslice_here(&loaded.volume, plane, &view.cursor.point(), None);
            self.reslices += 1;
            let texture = slot.take().and_then(|c| c.texture);
            *slot = Some(PlaneCache {
                volume_revision: ws.volume_revision,
                depth_mm: depth,
                slice,
                window: None,
                grey: Vec::new(),
                revision: 0,
                texture,
                outlines: Vec::new(),
            });
        }
        let Some(c) = slot.as_mut() else { return };
        if c.window != Some(view.window) || c.texture.is_none() {
            c.grey = c.slice.to_grey(&view.window);
            self.revision += 1;
            c.revision = self.revision;
            let image = egui::ColorImage::from_gray([c.slice.width, c.slice.height], &c.grey);
            match &mut c.texture {
                Some(t) => t.set(image, TextureOptions::LINEAR),
                None => {
                    c.texture = Some(ctx.load_texture(
                        format!("slice-{plane:?}"),
                        image,
                        TextureOptions::LINEAR,
                    ))
                }
            }
            c.window = Some(view.window);
        }
        // Outlines of visible structures on this plane.
        let (_, _, n) = plane.axes();
        let point = view.cursor.point();
        c.outlines.retain(|o| {
            ws.structures
                .iter()
                .any(|s| s.id == o.id && s.revision == o.revision && s.built.is_some())
        });
        for s in &ws.structures {
            let Some(built) = &s.built else { continue };
            if c.outlines
                .iter()
                .any(|o| o.id == s.id && o.revision == s.revision)
            {
                continue;
            }
            c.outlines.push(Outline {
                id: s.id,
                revision: s.revision,
                segments: plane_section_here(&built.mesh, &point, &n),
            });
        }
    }
}

fn to_pos((x, y): (f64, f64)) -> Pos2 {
    Pos2::new(x as f32, y as f32)
}

fn erect(r: ViewRect) -> egui::Rect {
    egui::Rect::from_min_size(Pos2::new(r.x, r.y), egui::vec2(r.w, r.h))
}

/// The texts of a slice view, on a backing above everything: the edge letters, the slice's
/// position, number and window, and what lies under the pointer.
fn slice_texts(
    painter: &egui::Painter,
    seen: Seen,
    plane: Plane,
    r: egui::Rect,
    (slice, map): (&Slice, &SliceMapping),
    hover: Option<Pos2>,
) {
    let Seen { ws, view } = seen;
    let [left, right, top, bottom] = plane.edge_letters();
    let lc = Color32::from_rgb(240, 200, 90);
    let lf = egui::FontId::proportional(16.0);
    for (pos, align, letter) in [
        (
            r.left_center() + egui::vec2(6.0, 0.0),
            egui::Align2::LEFT_CENTER,
            left,
        ),
        (
            r.right_center() - egui::vec2(6.0, 0.0),
            egui::Align2::RIGHT_CENTER,
            right,
        ),
        (
            r.center_top() + egui::vec2(0.0, 6.0),
            egui::Align2::CENTER_TOP,
            top,
        ),
        (
            r.center_bottom() - egui::vec2(0.0, 6.0),
            egui::Align2::CENTER_BOTTOM,
            bottom,
        ),
    ] {
        overlay_text(painter, pos, align, letter, lf.clone(), lc);
    }
    let mono = egui::FontId::monospace(12.0);
    let text_colour = Color32::from_gray(225);
    let volume = ws.loaded.as_ref().map(|l| &l.volume);
    let depth = depth_of(view, plane);
    let mut lines = vec![readout::slice_position(plane, depth, view.coordinates)];
    if let Some(v) = volume {
        lines[0].push_str(&format!("   {}", readout::slice_number(v, plane, depth)));
    }
    lines.push(format!(
        "W {:.0}  L {:.0}  ({})",
        view.window.width, view.window.center, view.window_name
    ));
    overlay_text(
        painter,
        r.left_bottom() + egui::vec2(8.0, -8.0),
        egui::Align2::LEFT_BOTTOM,
        lines.join("\n"),
        mono.clone(),
        text_colour,
    );
    if let (Some(hover), Some(v)) = (hover, volume) {
        let p = map.patient_at_screen(slice, f64::from(hover.x), f64::from(hover.y));
        let mut hover_lines = vec![readout::position(&p, view.coordinates)];
        hover_lines.push(match readout::nearest_voxel(v, &p) {
            Some(([i, j, k], value)) => format!(
                "voxel {i}, {j}, {k}   {}",
                readout::value_text(
                    value,
                    modality::unit(ws.modality()),
                    v.value_scale.slope.fract() == 0.0 && v.value_scale.intercept.fract() == 0.0
                )
            ),
            None => "outside the volume".to_string(),
        });
        overlay_text(
            painter,
            r.right_bottom() + egui::vec2(-8.0, -8.0),
            egui::Align2::RIGHT_BOTTOM,
            hover_lines.join("\n"),
            mono,
            text_colour,
        );
    }
}

/// The wheel over a slice view: a notch is a slice (Ctrl: zoom about the pointer).
fn wheel_input(
    ui: &egui::Ui,
    response: &egui::Response,
    seen: Seen,
    pane: SlicePane,
    (state, map): (SliceViewState, &SliceMapping),
    wheel: &mut WheelSteps,
    actions: &mut Vec<UiAction>,
) {
    let Seen { ws, view } = seen;
    let plane = pane.plane;
    if response.hovered() {
        // Every notch of the frame counts (several arrive together when frames are slow).
        let (mut slices, mut zoom_steps) = (0i64, 0i64);
        ui.input(|i| {
            for e in &i.events {
                if let egui::Event::MouseWheel {
                    unit,
                    delta,
                    modifiers,
                    ..
                } = e
                {
                    let unit = match unit {
                        egui::MouseWheelUnit::Point => WheelUnit::Point,
                        egui::MouseWheelUnit::Line => WheelUnit::Line,
                        egui::MouseWheelUnit::Page => WheelUnit::Page,
                    };
                    let steps = wheel.add(unit, f64::from(delta.y));
                    if modifiers.ctrl || modifiers.command {
                        zoom_steps += steps;
                    } else {
                        slices += steps;
                    }
                }
            }
        });
        if zoom_steps != 0
            && let Some(pos) = response.hover_pos()
        {
            let mut s = state;
            let factor = 1.15f64.powi(zoom_steps.clamp(-20, 20) as i32);
            s.zoom_about(factor, map, f64::from(pos.x), f64::from(pos.y));
            actions.push(UiAction::SetSliceView(plane, s));
        }
        if slices != 0 {
            let mut cur = view.cursor;
            cur.scroll(plane, slices as f64, step_mm(ws, plane));
            actions.push(UiAction::MoveCursor(cur.position_mm));
        }
    }
}

/// Which slice view, and where on screen.
#[derive(Clone, Copy)]
pub struct SlicePane {
    pub plane: Plane,
    pub rect: ViewRect,
}

/// Draws one slice view in `rect` and handles its input. Drawing order: the image, the
/// structure outlines and the crosshair, then every text on a backing above them.
pub fn slice_view(
    ui: &mut egui::Ui,
    seen: Seen,
    cache: &mut SliceCache,
    pane: SlicePane,
    wheel: &mut WheelSteps,
    actions: &mut Vec<UiAction>,
    t: &mut Tools,
) {
    let Seen { ws, view } = seen;
    let SlicePane { plane, rect } = pane;
    let ctx = ui.ctx().clone();
    let r = erect(rect);
    let painter = ui.painter_at(r);
    painter.rect_filled(r, 0.0, Color32::BLACK);
    let id = egui::Id::new(("slice-view", plane_index(plane)));
    let response = ui.interact(r, id, Sense::click_and_drag());
    let view_id = match plane {
        Plane::Axial => ViewId::Axial,
        Plane::Coronal => ViewId::Coronal,
        Plane::Sagittal => ViewId::Sagittal,
    };
    cache.refresh(&ctx, ws, view, plane);
    let title = |painter: &egui::Painter| {
        overlay_text(
            painter,
            r.left_top() + egui::vec2(8.0, 6.0),
            egui::Align2::LEFT_TOP,
            view_id.name(),
            egui::FontId::proportional(14.0),
            plane_colour(plane),
        );
    };
    let Some(c) = cache.planes[plane_index(plane)].as_ref() else {
        title(&painter);
        painter.text(
            r.center(),
            egui::Align2::CENTER_CENTER,
            "No series loaded",
            egui::FontId::proportional(13.0),
            Color32::GRAY,
        );
        return;
    };
    let state: SliceViewState = view.slice_views[plane_index(plane)];
    let map = SliceMapping::for_slice(&c.slice, rect, &state);
    if let Some(t) = &c.texture {
        let img = egui::Rect::from_min_size(
            Pos2::new(map.origin[0] as f32, map.origin[1] as f32),
            egui::vec2(
                (c.slice.width as f64 * map.scale) as f32,
                (c.slice.height as f64 * map.scale) as f32,
            ),
        );
        painter.image(
            t.id(),
            img,
            egui::Rect::from_min_max(Pos2::ZERO, Pos2::new(1.0, 1.0)),
            Color32::WHITE,
        );
    }
    // Structure outlines.
    for o in &c.outlines {
        let Some(s) = ws.structures.iter().find(|s| s.id == o.id && s.visible) else {
            continue;
        };
        let col = s.recipe.colour.map(|x| (x.clamp(0.0, 1.0) * 255.0) as u8);
        let stroke = Stroke::new(1.5, Color32::from_rgb(col[0], col[1], col[2]));
        for seg in &o.segments {
            let a = c.slice.pixel_of(&seg[0]);
            let b = c.slice.pixel_of(&seg[1]);
            painter.line_segment(
                [
                    to_pos(map.screen_of(a.0, a.1)),
                    to_pos(map.screen_of(b.0, b.1)),
                ],
                stroke,
            );
        }
    }
    let geometry = SliceGeometry {
        slice: &c.slice,
        map: &map,
        plane,
        depth_mm: depth_of(view, plane),
        step_mm: step_mm(ws, plane),
    };
    overlay::draw_on_slice(&painter, &t.doc, t.tool, t.paths, &geometry);
    super::edit::draw_on_slice(&painter, t.edit, &t.doc, &geometry, response.hover_pos());
    // Crosshair: the other two planes' lines through the cursor.
    let (cu, cv) = c.slice.pixel_of(&view.cursor.point());
    let cp = to_pos(map.screen_of(cu, cv));
    let (du, _, _) = plane.axes();
    for other in Plane::ALL.into_iter().filter(|p| *p != plane) {
        let (_, _, n) = other.axes();
        // The other plane's trace runs along whichever screen axis it contains.
        let vertical = n.dot(&du).abs() > 0.5;
        let stroke = Stroke::new(1.0, plane_colour(other).gamma_multiply(0.8));
        let gap = 12.0;
        if vertical {
            painter.line_segment(
                [Pos2::new(cp.x, r.top()), Pos2::new(cp.x, cp.y - gap)],
                stroke,
            );
            painter.line_segment(
                [Pos2::new(cp.x, cp.y + gap), Pos2::new(cp.x, r.bottom())],
                stroke,
            );
        } else {
            painter.line_segment(
                [Pos2::new(r.left(), cp.y), Pos2::new(cp.x - gap, cp.y)],
                stroke,
            );
            painter.line_segment(
                [Pos2::new(cp.x + gap, cp.y), Pos2::new(r.right(), cp.y)],
                stroke,
            );
        }
    }

    // Everything written goes on top, on a backing.
    title(&painter);
    slice_texts(
        &painter,
        seen,
        plane,
        r,
        (&c.slice, &map),
        response.hover_pos(),
    );

    // Input.
    if overlay::slice_input(ui, &response, t, &geometry) {
        return;
    }
    let modifiers = ui.input(|i| i.modifiers);
    if response.double_clicked() {
        actions.push(UiAction::ToggleView(view_id));
        return;
    }
    let primary = ui.input(|i| i.pointer.primary_down());
    let secondary = ui.input(|i| i.pointer.secondary_down());
    let middle = ui.input(|i| i.pointer.middle_down());
    let delta = response.drag_delta();
    if response.dragged() && (middle || (primary && modifiers.shift)) {
        let mut s = state;
        s.pan_px[0] += f64::from(delta.x);
        s.pan_px[1] += f64::from(delta.y);
        actions.push(UiAction::SetSliceView(plane, s));
    } else if response.dragged() && secondary {
        let w = view.window.dragged(f64::from(delta.x), f64::from(delta.y));
        actions.push(UiAction::SetWindow("Custom".into(), w));
    } else if (response.clicked() || (response.dragged() && primary))
        && let Some(pos) = response.interact_pointer_pos()
    {
        let p = map.patient_at_screen(&c.slice, f64::from(pos.x), f64::from(pos.y));
        actions.push(UiAction::MoveCursor([p.x, p.y, p.z]));
    }
    wheel_input(ui, &response, seen, pane, (state, &map), wheel, actions);
}
