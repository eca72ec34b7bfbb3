//! The plan's overlay over the views: markups and catheter paths drawn together over a
//! slice or the 3D view, and the pointer's input there shared out (a path's stop grabbed
//! first, then a markup's point, then a click that places one). It sits above both tools
//! (`markups`, `paths`), which do not know each other's views. egui only; changes the
//! document through its commands.

use bevy_egui::egui::{self, Color32, Pos2};

use super::document::{DocWriter, PlanDoc};
use super::edit::{self, EditTool};
use super::markups::{
    MarkupTool, SliceGeometry, draw_all, placing_clicks, point_drag, slice_range_mm,
};
use super::paint::overlay_text;
use super::paths::{self, PathUi};
use super::state::{ViewState, Workspace};
use crate::geometry::P;
use crate::plan::placing;

/// What the overlay's input changes: the document, the measuring tool, the catheter tool.
pub struct Tools<'a> {
    pub doc: DocWriter<'a>,
    pub tool: &'a mut MarkupTool,
    pub paths: &'a mut PathUi,
    pub edit: &'a mut EditTool,
    pub volume: &'a mut super::volume::VolumeView,
    pub volume_panel: &'a mut super::volume_panel::VolumePanelState,
}

/// Markups (and the one being placed) over a slice view.
pub fn draw_on_slice(
    painter: &egui::Painter,
    doc: &PlanDoc,
    tool: &MarkupTool,
    pui: &PathUi,
    g: &SliceGeometry,
) {
    let SliceGeometry {
        slice,
        map,
        plane,
        depth_mm,
        step_mm,
    } = *g;
    let (_, _, n) = plane.axes();
    let range = slice_range_mm(step_mm);
    let dist = |p: &P| nalgebra::Vector3::from(*p).dot(&n) - depth_mm;
    let at = |p: &P| {
        let (u, v) = slice.pixel_of(&nalgebra::Point3::from(*p));
        let (x, y) = map.screen_of(u, v);
        Some((
            Pos2::new(x as f32, y as f32),
            placing::slice_opacity(dist(p), range),
        ))
    };
    let seg = |a: &P, b: &P| {
        let (da, db) = (dist(a), dist(b));
        if da * db <= 0.0 {
            1.0
        } else {
            placing::slice_opacity(da.abs().min(db.abs()), range)
        }
    };
    draw_all(painter, doc, tool, &at, &seg);
    paths::draw(painter, doc, pui, &at, &seg, false);
}

/// Input on a slice view for the measuring tool; true when it took the input (the view then
/// does not move the cursor or toggle its size).
pub fn slice_input(
    ui: &egui::Ui,
    response: &egui::Response,
    t: &mut Tools,
    g: &SliceGeometry,
) -> bool {
    let Tools {
        doc,
        tool,
        paths: pui,
        edit: et,
        ..
    } = t;
    let SliceGeometry {
        slice,
        map,
        plane,
        depth_mm,
        step_mm,
    } = *g;
    let patient = |pos: Pos2| {
        let p = map.patient_at_screen(slice, f64::from(pos.x), f64::from(pos.y));
        [p.x, p.y, p.z]
    };
    if let Some(h) = response.hover_pos() {
        tool.hover = Some(patient(h));
    }
    let (_, _, n) = plane.axes();
    let range = slice_range_mm(step_mm);
    let screen = |p: &P| {
        let d = nalgebra::Vector3::from(*p).dot(&n) - depth_mm;
        if placing::slice_opacity(d, range) <= 0.0 {
            return None;
        }
        let (u, v) = slice.pixel_of(&nalgebra::Point3::from(*p));
        Some(map.screen_of(u, v))
    };
    if tool.placing.is_none() && tool.drag.is_none() && edit::slice_input(ui, response, doc, et, g)
    {
        return true;
    }
    (tool.placing.is_none()
        && tool.drag.is_none()
        && paths::stop_drag(ui, response, doc, pui, &screen, &|pos, _| {
            Some(patient(pos))
        }))
        || point_drag(ui, response, doc, tool, &screen, &|pos| Some(patient(pos)))
        || placing_clicks(response, doc, tool, &|pos| Some(patient(pos)))
}

/// Markups over the 3D view (on top of every surface, translucent or not).
pub fn draw_on_3d(
    painter: &egui::Painter,
    view: &ViewState,
    doc: &PlanDoc,
    tool: &MarkupTool,
    pui: &PathUi,
    r: egui::Rect,
) {
    let cam = &view.camera;
    let (w, h) = (f64::from(r.width()), f64::from(r.height()));
    let at = |p: &P| {
        cam.pixel(&nalgebra::Point3::from(*p), w, h)
            .map(|(x, y)| (r.min + egui::vec2(x as f32, y as f32), 1.0))
    };
    let seg = |_: &P, _: &P| 1.0;
    draw_all(painter, doc, tool, &at, &seg);
    paths::draw(painter, doc, pui, &at, &seg, true);
    if tool.placing.is_some()
        && let Some(note) = &tool.pick_note
    {
        overlay_text(
            painter,
            r.center_bottom() - egui::vec2(0.0, 10.0),
            egui::Align2::CENTER_BOTTOM,
            note,
            egui::FontId::proportional(13.0),
            Color32::from_rgb(240, 200, 90),
        );
    }
}

/// Input on the 3D view for the measuring tool: clicks land on the surface under the
/// pointer, points are dragged along the surfaces. True when it took the input.
pub fn input_3d(
    ui: &egui::Ui,
    response: &egui::Response,
    ws: &Workspace,
    view: &ViewState,
    t: &mut Tools,
    r: egui::Rect,
) -> bool {
    let Tools {
        doc,
        tool,
        paths: pui,
        edit: et,
        ..
    } = t;
    let cam = view.camera;
    let (w, h) = (f64::from(r.width()), f64::from(r.height()));
    let picks = std::mem::take(&mut tool.picks);
    let hit = |pos: Pos2| {
        let (o, d) = cam.ray(f64::from(pos.x - r.min.x), f64::from(pos.y - r.min.y), w, h);
        picks.cast(ws, view, [o.x, o.y, o.z], [d.x, d.y, d.z])
    };
    if tool.placing.is_some() || tool.drag.is_some() || pui.drag.is_some() {
        tool.hover = response.hover_pos().and_then(hit);
    }
    let screen = |p: &P| {
        cam.pixel(&nalgebra::Point3::from(*p), w, h)
            .map(|(x, y)| (x + f64::from(r.min.x), y + f64::from(r.min.y)))
    };
    // A path's stop keeps its depth as it is dragged (not onto the skin in front of it).
    let at_depth = |pos: Pos2, grabbed: &P| {
        cam.at_depth_of(
            &nalgebra::Point3::from(*grabbed),
            f64::from(pos.x - r.min.x),
            f64::from(pos.y - r.min.y),
            w,
            h,
        )
        .map(|q| [q.x, q.y, q.z])
    };
    if tool.placing.is_none()
        && tool.drag.is_none()
        && edit::input_3d(ui, response, view, doc, et, r)
    {
        return true;
    }
    let took = (tool.placing.is_none()
        && tool.drag.is_none()
        && paths::stop_drag(ui, response, doc, pui, &screen, &at_depth))
        || point_drag(ui, response, doc, tool, &screen, &hit)
        || placing_clicks(response, doc, tool, &hit);
    tool.picks = picks;
    if let Some(pointer) = response.hover_pos() {
        let on_screen = |p: &P| screen(p).map(|(x, y)| Pos2::new(x as f32, y as f32));
        paths::hover_in_view(doc, pui, pointer, &on_screen);
    }
    took
}
