//! The MPR slice views: reslicing at the cursor (cached per plane, redone only when the
//! cursor leaves the plane or the volume changes), window/level on the CPU into an egui
//! texture (≈1 ms for 512², measured in benches/README.md), structure outlines from the
//! exact mesh–plane section, the crosshair, orientation letters, position and value
//! read-outs, and the peers' mouse conventions. Emits `UiAction`s; computes through
//! `volume::display` and `session`.

use bevy_egui::egui::{self, Color32, Pos2, Sense, Stroke, TextureHandle, TextureOptions};
use nalgebra::Point3;

use super::state::{UiAction, Workspace, plane_index};
use crate::session::layout::{Rect as ViewRect, SliceMapping, SliceViewState, ViewId};
use crate::session::section::plane_section;
use crate::volume::display::{Plane, Slice, WindowLevel, reslice};

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
}

/// Depth of the cursor along a plane's normal (mm).
pub fn depth_of(ws: &Workspace, plane: Plane) -> f64 {
    let (_, _, n) = plane.axes();
    ws.cursor.point().coords.dot(&n)
}

/// Slice step along a plane's normal: the voxel spacing projected on it.
pub fn step_mm(ws: &Workspace, plane: Plane) -> f64 {
    let Some(l) = &ws.loaded else { return 1.0 };
    let g = &l.volume.geometry;
    let (_, _, n) = plane.axes();
    (0..3)
        .map(|a| (g.axis(a).dot(&n)).abs() * g.spacing_mm[a])
        .fold(0.0, f64::max)
        .max(0.1)
}

/// Slice number (0-based) and count of the cursor's slice on a plane.
pub fn slice_index(ws: &Workspace, plane: Plane) -> Option<(usize, usize)> {
    let l = ws.loaded.as_ref()?;
    let (lo, hi) = crate::volume::display::bounds_mm(&l.volume);
    let (_, _, n) = plane.axes();
    let (a, b) = (lo.coords.dot(&n), hi.coords.dot(&n));
    let step = step_mm(ws, plane);
    let count = ((b - a).abs() / step).round() as usize + 1;
    let i = ((depth_of(ws, plane) - a.min(b)) / step).round();
    Some((i.clamp(0.0, (count - 1) as f64) as usize, count))
}

impl SliceCache {
    /// The current slice of a plane, its windowed pixels and their revision.
    pub fn plane(&self, plane: Plane) -> Option<(&Slice, &[u8], u64)> {
        self.planes[plane_index(plane)]
            .as_ref()
            .filter(|c| !c.grey.is_empty())
            .map(|c| (&c.slice, c.grey.as_slice(), c.revision))
    }

    /// Brings a plane's slice, pixels and outlines up to date with the cursor and window.
    pub fn refresh(&mut self, ctx: &egui::Context, ws: &Workspace, plane: Plane) {
        let Some(loaded) = &ws.loaded else {
            self.planes[plane_index(plane)] = None;
            return;
        };
        let depth = depth_of(ws, plane);
        let slot = &mut self.planes[plane_index(plane)];
        let stale = slot
            .as_ref()
            .is_none_or(|c| c.volume_revision != ws.volume_revision || c.depth_mm != depth);
        if stale {
            let slice = reslice(&loaded.volume, plane, &ws.cursor.point(), None);
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
        if c.window != Some(ws.window) || c.texture.is_none() {
            c.grey = c.slice.to_grey(&ws.window);
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
            c.window = Some(ws.window);
        }
        // Outlines of visible structures on this plane.
        let (_, _, n) = plane.axes();
        let point = ws.cursor.point();
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
                segments: plane_section(&built.mesh, &point, &n),
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

/// Draws one slice view in `rect` and handles its input.
pub fn slice_view(
    ui: &mut egui::Ui,
    ws: &Workspace,
    cache: &mut SliceCache,
    plane: Plane,
    rect: ViewRect,
    actions: &mut Vec<UiAction>,
) {
    let ctx = ui.ctx().clone();
    let r = erect(rect);
    let painter = ui.painter_at(r);
    painter.rect_filled(r, 0.0, Color32::BLACK);
    let id = egui::Id::new(("slice-view", plane_index(plane)));
    let response = ui.interact(r, id, Sense::click_and_drag());
    let view = match plane {
        Plane::Axial => ViewId::Axial,
        Plane::Coronal => ViewId::Coronal,
        Plane::Sagittal => ViewId::Sagittal,
    };
    let label_font = egui::FontId::proportional(13.0);
    painter.text(
        r.left_top() + egui::vec2(8.0, 6.0),
        egui::Align2::LEFT_TOP,
        view.name(),
        egui::FontId::proportional(14.0),
        plane_colour(plane),
    );
    cache.refresh(&ctx, ws, plane);
    let Some(c) = cache.planes[plane_index(plane)].as_ref() else {
        painter.text(
            r.center(),
            egui::Align2::CENTER_CENTER,
            "No series loaded",
            label_font,
            Color32::GRAY,
        );
        return;
    };
    let state: SliceViewState = ws.slice_views[plane_index(plane)];
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
    // Crosshair: the other two planes' lines through the cursor.
    let (cu, cv) = c.slice.pixel_of(&ws.cursor.point());
    let cp = to_pos(map.screen_of(cu, cv));
    let others: Vec<Plane> = Plane::ALL.into_iter().filter(|p| *p != plane).collect();
    let (du, _, _) = plane.axes();
    for other in others {
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
    // Orientation letters.
    let [left, right, top, bottom] = plane.edge_letters();
    let lc = Color32::from_rgb(240, 200, 90);
    let lf = egui::FontId::proportional(16.0);
    painter.text(
        r.left_center() + egui::vec2(6.0, 0.0),
        egui::Align2::LEFT_CENTER,
        left,
        lf.clone(),
        lc,
    );
    painter.text(
        r.right_center() - egui::vec2(6.0, 0.0),
        egui::Align2::RIGHT_CENTER,
        right,
        lf.clone(),
        lc,
    );
    painter.text(
        r.center_top() + egui::vec2(0.0, 6.0),
        egui::Align2::CENTER_TOP,
        top,
        lf.clone(),
        lc,
    );
    painter.text(
        r.center_bottom() - egui::vec2(0.0, 6.0),
        egui::Align2::CENTER_BOTTOM,
        bottom,
        lf,
        lc,
    );
    // Read-outs: slice position and number, window, value under the mouse.
    let axis_name = match plane {
        Plane::Axial => "S",
        Plane::Coronal => "P",
        Plane::Sagittal => "L",
    };
    let mut lines = Vec::new();
    if let Some((i, n)) = slice_index(ws, plane) {
        lines.push(format!(
            "{axis_name} {:+.1} mm   slice {}/{}",
            depth_of(ws, plane),
            i + 1,
            n
        ));
    }
    lines.push(format!(
        "W {:.0}  L {:.0}  ({})",
        ws.window.width, ws.window.center, ws.window_name
    ));
    let is_ct = ws
        .loaded
        .as_ref()
        .is_some_and(|l| l.volume.modality.eq_ignore_ascii_case("CT"));
    if let Some(hover) = response.hover_pos() {
        let (u, v) = map.slice_of(f64::from(hover.x), f64::from(hover.y));
        let p = c.slice.patient_at(u, v);
        let value = ws.loaded.as_ref().and_then(|l| {
            let cur = crate::volume::display::Cursor {
                position_mm: [p.x, p.y, p.z],
            };
            cur.value(&l.volume)
        });
        let unit = if is_ct { " HU" } else { "" };
        lines.push(match value {
            Some(v) => format!("({:.1}, {:.1}, {:.1}) mm   {v:.0}{unit}", p.x, p.y, p.z),
            None => format!("({:.1}, {:.1}, {:.1}) mm", p.x, p.y, p.z),
        });
    }
    painter.text(
        r.left_bottom() + egui::vec2(8.0, -8.0),
        egui::Align2::LEFT_BOTTOM,
        lines.join("\n"),
        egui::FontId::monospace(12.0),
        Color32::from_gray(215),
    );

    // Input.
    let modifiers = ui.input(|i| i.modifiers);
    if response.double_clicked() {
        actions.push(UiAction::ToggleView(view));
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
        let w = ws.window.dragged(f64::from(delta.x), f64::from(delta.y));
        actions.push(UiAction::SetWindow("Custom".into(), w));
    } else if (response.clicked() || (response.dragged() && primary))
        && let Some(pos) = response.interact_pointer_pos()
    {
        let (u, v) = map.slice_of(f64::from(pos.x), f64::from(pos.y));
        let p = c.slice.patient_at(u, v);
        actions.push(UiAction::MoveCursor([p.x, p.y, p.z]));
    }
    if response.hovered() {
        let wheel: Vec<(f32, bool)> = ui.input(|i| {
            i.events
                .iter()
                .filter_map(|e| match e {
                    egui::Event::MouseWheel {
                        delta, modifiers, ..
                    } => Some((delta.y, modifiers.ctrl || modifiers.command)),
                    _ => None,
                })
                .collect()
        });
        for (dy, zoom) in wheel {
            if dy == 0.0 {
                continue;
            }
            if zoom {
                if let Some(pos) = response.hover_pos() {
                    let mut s = state;
                    let factor = if dy > 0.0 { 1.15 } else { 1.0 / 1.15 };
                    s.zoom_about(factor, &map, f64::from(pos.x), f64::from(pos.y));
                    actions.push(UiAction::SetSliceView(plane, s));
                }
            } else {
                let mut cur = ws.cursor;
                cur.scroll(plane, f64::from(dy.signum()), step_mm(ws, plane));
                actions.push(UiAction::MoveCursor(cur.position_mm));
            }
        }
    }
}
