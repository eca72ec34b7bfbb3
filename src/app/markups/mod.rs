//! The measurements feature of the workstation. The plan document is a resource of its own
//! ([`PlanDoc`]: markups, the undo history, the file it lives in), apart from the view
//! state of the tool ([`MarkupTool`]: the placement in progress, the point being dragged,
//! the pointer's position; never saved, never undone). Clicks place points on a slice
//! (through the view's plane) or on a surface in 3D (exact ray–triangle hits on the
//! surfaces' BVHs, built off the main thread, [`PickIndex`]); points are dragged in either.
//! Markups are drawn with egui over both kinds of view: on top of any surface, labels crisp,
//! and moving one needs no new 3D render. The plan panel, the Edit menu's undo and the
//! plan's file commands are here too. Geometry comes from `plan::placing`; the file format
//! from `plan::file` and `plan::slicer`. No patient identity is read or written here.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use bevy::prelude::*;
use bevy_egui::egui::{self, Color32, Pos2, RichText, Stroke};

use super::document::{DocWriter, ImportChoice, PendingPlan, PlanDoc, SaveWhat, default_path};
use super::file_dialog::FileDialog;
use super::paint::OVERLAY_BACKING;
use super::state::{Jobs, Step, UiAction, ViewState, Workspace};
use crate::document::Command;
use crate::geometry::P;
use crate::mesh::TriMesh;
use crate::mesh::pick::Bvh;
use crate::plan::placing::{self, Placement};
use crate::plan::recovery::Recovery;
use crate::plan::{Markup, MarkupKind};
use crate::session::layout::SliceMapping;
use crate::volume::display::{Plane, Slice};

mod panel;
pub use panel::*;

/// A point being dragged: which, and the markup's points when the drag began.
#[derive(Debug, Clone, PartialEq)]
pub struct Drag {
    pub id: u64,
    pub index: usize,
    pub before: Vec<P>,
}

/// The measuring tool's view state.
#[derive(Resource, Default)]
pub struct MarkupTool {
    /// The tool in use and the points placed so far.
    pub placing: Option<Placement>,
    /// Where the pointer is, in patient mm, when it is over a slice or a surface.
    pub hover: Option<P>,
    pub drag: Option<Drag>,
    /// The markup last placed, dragged or picked in the panel.
    pub selected: Option<u64>,
    /// The markup whose name is being edited, and the text so far.
    pub renaming: Option<(u64, String)>,
    /// The save dialog and what it writes.
    pub saving: Option<(SaveWhat, FileDialog)>,
    /// The open dialog for a plan or Slicer markups file, and whether it imports.
    pub opening: Option<(bool, FileDialog)>,
    pub picks: PickIndex,
    /// Why the last 3D click placed nothing.
    pub pick_note: Option<String>,
    /// The last session's unsaved plan, offered back at start.
    pub offered_recovery: Option<Box<Recovery>>,
    /// Plans opened or saved lately (from the preferences), for File ▸ Open recent plan.
    pub recent_plans: Vec<PathBuf>,
    /// The curve being placed is a catheter path's stops (entry, waypoints, target).
    pub path_stops: bool,
    /// A path's stops, placed and waiting for the catheter tool to plan them.
    pub stops_done: Option<Vec<P>>,
    /// The series the tool's state belongs to (a new one drops it).
    volume_revision: u64,
}

impl MarkupTool {
    pub fn start(&mut self, kind: MarkupKind) {
        self.placing = Some(Placement::new(kind));
        self.pick_note = None;
    }

    /// Escape: drops the points in progress; a second Escape leaves the tool.
    pub fn escape(&mut self) {
        match &mut self.placing {
            Some(p) if !p.points.is_empty() => p.points.clear(),
            _ => self.placing = None,
        }
    }

    /// A clicked point; a complete markup is added to the plan (the tool stays, ready for
    /// the next one).
    pub fn place(&mut self, doc: &mut DocWriter, p: P) {
        let Some(pl) = &mut self.placing else { return };
        if pl.add(p) {
            self.finish(doc);
        }
    }

    /// Finishes the placement in progress (a curve on Enter or double-click).
    pub fn finish(&mut self, doc: &mut DocWriter) {
        let Some(pl) = &self.placing else { return };
        // The path tool places its stops as a curve's points; they are planned, not kept.
        if self.path_stops && pl.kind == MarkupKind::Curve {
            if pl.points.len() >= 2 {
                self.stops_done = Some(pl.points.clone());
                self.placing = None;
                self.path_stops = false;
            }
            return;
        }
        let id = if pl.can_finish() { doc.new_id() } else { 0 };
        if let Some(m) = pl.finish_as(doc.plan(), id) {
            // Sent; applied when the frame's panels are done (a refused one selects nothing).
            doc.edit(Command::AddMarkup(m));
            self.selected = Some(id);
            self.placing = Some(Placement::new(pl.kind));
        }
    }
}

/// A surface and its BVH, as the indexing thread hands them back.
type IndexedMesh = (Arc<TriMesh>, Bvh);

/// One BVH per built structure for picking in 3D, built on a background thread (0.3 s per
/// million triangles) when a surface arrives; each build is a job of the viewer's one
/// background mechanism ([`Jobs::task`]): listed, cancellable, dropped when its surface
/// changes before it lands.
#[derive(Default)]
pub struct PickIndex {
    ready: HashMap<u64, (u64, Arc<TriMesh>, Arc<Bvh>)>,
    /// Structure id → (surface revision, job id).
    pending: HashMap<u64, (u64, u64)>,
}

impl PickIndex {
    /// Starts BVHs for new surfaces, takes finished ones, forgets removed ones. A coarse
    /// preview is indexed only with `previews_too` (a tool in use): otherwise its index
    /// would be built, on a 2-core machine, against the full surface that soon replaces it.
    pub fn update(&mut self, ws: &Workspace, jobs: &mut Jobs, previews_too: bool) {
        let live: HashMap<u64, (u64, &Arc<TriMesh>, &str)> = ws
            .structures
            .iter()
            .filter(|s| previews_too || !s.preview)
            .filter_map(|s| {
                let b = s.built.as_ref()?;
                Some((s.id, (s.revision, &b.mesh, s.recipe.name.as_str())))
            })
            .collect();
        self.ready
            .retain(|id, (rev, _, _)| live.get(id).is_some_and(|(r, _, _)| r == rev));
        self.pending.retain(|id, (rev, job)| {
            let keep = live.get(id).is_some_and(|(r, _, _)| r == rev);
            if !keep {
                jobs.cancel(*job);
            }
            keep
        });
        let mut done = Vec::new();
        for (id, (rev, job)) in &self.pending {
            if let Some((mesh, bvh)) = jobs.take::<IndexedMesh>(*job) {
                self.ready.insert(*id, (*rev, mesh, Arc::new(bvh)));
                done.push(*id);
            } else if !jobs.is_running(*job) {
                // Failed or cancelled from the status bar: tried again on the next update.
                done.push(*id);
            }
        }
        for id in done {
            self.pending.remove(&id);
        }
        for (id, (rev, mesh, name)) in live {
            if self.ready.contains_key(&id) || self.pending.contains_key(&id) {
                continue;
            }
            let mesh = Arc::clone(mesh);
            let job = jobs.task(format!("indexing {name} for picking"), move |_| {
                let bvh = Bvh::build(&mesh);
                (mesh, bvh)
            });
            self.pending.insert(id, (rev, job));
        }
    }

    /// Surfaces still being indexed.
    pub fn pending(&self) -> usize {
        self.pending.len()
    }

    /// The first visible surface point on the ray; opaque surfaces win over translucent ones
    /// in front of them (a click on bone seen through the skin lands on the bone). Points
    /// on the clipped-away side of the 3D view's clipping plane are not hit.
    pub fn cast(&self, ws: &Workspace, view: &ViewState, origin: P, direction: P) -> Option<P> {
        let clip = view.options_3d.clip.map(|(plane, keep_positive)| {
            let (_, _, n) = plane.axes();
            (n, view.cursor.point().coords.dot(&n), keep_positive)
        });
        let mut best: Option<(bool, f64, P)> = None;
        for s in ws.structures.iter().filter(|s| s.visible) {
            let Some((rev, mesh, bvh)) = self.ready.get(&s.id) else {
                continue;
            };
            if *rev != s.revision {
                continue;
            }
            let Some(hit) = bvh.cast(mesh, origin, direction) else {
                continue;
            };
            if let Some((n, depth, keep_positive)) = clip {
                let d = nalgebra::Vector3::from(hit.point_mm).dot(&n) - depth;
                if (d >= 0.0) != keep_positive {
                    continue;
                }
            }
            let key = (s.recipe.opacity < 0.99, hit.t);
            if best.is_none_or(|(t, d, _)| key < (t, d)) {
                best = Some((key.0, key.1, hit.point_mm));
            }
        }
        best.map(|(_, _, p)| p)
    }
}

/// The measurements plugin: the document, the tool and the pick index.
pub struct MeasurementsPlugin;

impl Plugin for MeasurementsPlugin {
    fn build(&self, app: &mut App) {
        app.init_resource::<MarkupTool>().add_systems(
            Update,
            ((follow_series, plan_actions).chain().in_set(Step::Follow),),
        );
    }
}

/// A new series drops the tool's state; surfaces get their pick index.
fn follow_series(ws: Res<Workspace>, mut tool: ResMut<MarkupTool>, mut jobs: ResMut<Jobs>) {
    if ws.loaded.is_none() {
        return;
    }
    if tool.volume_revision != ws.volume_revision {
        tool.volume_revision = ws.volume_revision;
        tool.placing = None;
        tool.drag = None;
        tool.selected = None;
    }
    let placing = tool.placing.is_some();
    if ws.is_changed() || tool.picks.pending() > 0 || placing {
        tool.picks.update(&ws, &mut jobs, placing);
    }
}

/// File commands that come from the menus as actions.
fn plan_actions(
    mut actions: MessageReader<UiAction>,
    ws: Res<Workspace>,
    mut tool: ResMut<MarkupTool>,
    mut pending: ResMut<PendingPlan>,
) {
    for a in actions.read() {
        match a {
            UiAction::RecoverPlan => {
                if let Some(r) = tool.offered_recovery.take() {
                    pending.recovered = Some(r);
                    pending.after_volume = ws.volume_revision;
                }
            }
            UiAction::DiscardRecovery => {
                tool.offered_recovery = None;
                if let Some(dir) = crate::session::prefs::config_dir() {
                    crate::plan::recovery::clear(&dir);
                }
            }
            _ => {}
        }
    }
}

fn colour32(c: [f32; 3], alpha: f32) -> Color32 {
    let b = |x: f32| (x.clamp(0.0, 1.0) * 255.0).round() as u8;
    Color32::from_rgb(b(c[0]), b(c[1]), b(c[2])).gamma_multiply(alpha.clamp(0.0, 1.0))
}

fn label_text(m: &Markup, live: bool) -> String {
    let value = m.label();
    if live || m.name.is_empty() {
        value
    } else if m.kind == MarkupKind::Landmark || value == m.name {
        m.name.clone()
    } else {
        format!("{}  {}", m.name, value)
    }
}

/// Draws one markup: polylines, points as dots, the label beside its anchor (offset so it
/// never covers the point). `at` maps a patient point to the screen with an opacity (None:
/// not drawn there); `segment_alpha` gives a segment's opacity from its two ends.
fn draw_markup(
    painter: &egui::Painter,
    m: &Markup,
    at: &dyn Fn(&P) -> Option<(Pos2, f32)>,
    segment_alpha: &dyn Fn(&P, &P) -> f32,
    selected: bool,
    live: bool,
    labels: &mut Labels,
) {
    let width = if selected { 2.5 } else { 1.8 };
    for line in placing::polylines(m) {
        for w in line.windows(2) {
            let alpha = segment_alpha(&w[0], &w[1]);
            if alpha <= 0.0 {
                continue;
            }
            if let (Some((a, _)), Some((b, _))) = (at(&w[0]), at(&w[1])) {
                // A dark edge under the colour keeps the line readable on white bone.
                painter.line_segment(
                    [a, b],
                    Stroke::new(
                        width + 2.0,
                        Color32::from_black_alpha((140.0 * alpha) as u8),
                    ),
                );
                painter.line_segment([a, b], Stroke::new(width, colour32(m.colour, alpha)));
            }
        }
    }
    let mut shown = false;
    for p in &m.points_lps_mm {
        if let Some((q, alpha)) = at(p)
            && alpha > 0.0
        {
            shown = true;
            let r = if selected { 5.0 } else { 4.0 };
            labels.taken.push(egui::Rect::from_center_size(
                q,
                egui::vec2(2.0 * r + 4.0, 2.0 * r + 4.0),
            ));
            painter.circle(
                q,
                r,
                colour32(m.colour, alpha),
                Stroke::new(1.5, Color32::from_black_alpha((200.0 * alpha) as u8)),
            );
        }
    }
    if !shown && placing::polylines(m).is_empty() {
        return;
    }
    if let Some(anchor) = placing::label_anchor(m)
        && let Some((q, alpha)) = at(&anchor)
        && (alpha > 0.0 || shown)
    {
        labels
            .wanted
            .push((q, label_text(m, live), colour32(m.colour, alpha.max(0.5))));
    }
}

/// Every visible markup and the one being placed (its live value), then their labels.
pub(super) fn draw_all(
    painter: &egui::Painter,
    doc: &PlanDoc,
    tool: &MarkupTool,
    at: &dyn Fn(&P) -> Option<(Pos2, f32)>,
    seg: &dyn Fn(&P, &P) -> f32,
) {
    let mut labels = Labels::default();
    for m in doc.plan().markups.iter().filter(|m| m.visible) {
        let selected = tool.selected == Some(m.id);
        draw_markup(painter, m, at, seg, selected, false, &mut labels);
    }
    if let Some(pl) = &tool.placing {
        let live = pl.preview(tool.hover);
        draw_markup(painter, &live, at, seg, true, true, &mut labels);
    }
    labels.draw(painter);
}

/// Labels of one view: placed after every line and point is drawn, each beside its anchor
/// where it covers no point and no other label (up-right first, then down-right, up-left,
/// down-left, then further down), on a dark backing.
#[derive(Default)]
struct Labels {
    taken: Vec<egui::Rect>,
    wanted: Vec<(Pos2, String, Color32)>,
}

impl Labels {
    fn draw(mut self, painter: &egui::Painter) {
        let font = egui::FontId::proportional(13.5);
        for (q, text, colour) in std::mem::take(&mut self.wanted) {
            if !painter.clip_rect().contains(q) {
                continue;
            }
            let galley = painter.layout_no_wrap(text, font.clone(), colour);
            let size = galley.size() + egui::vec2(8.0, 4.0);
            let corners = [
                (egui::vec2(10.0, -10.0), egui::Align2::LEFT_BOTTOM),
                (egui::vec2(10.0, 10.0), egui::Align2::LEFT_TOP),
                (egui::vec2(-10.0, -10.0), egui::Align2::RIGHT_BOTTOM),
                (egui::vec2(-10.0, 10.0), egui::Align2::RIGHT_TOP),
            ];
            let mut candidates: Vec<egui::Rect> = corners
                .iter()
                .map(|(d, align)| align.anchor_size(q + *d, size))
                .collect();
            for k in 1..=6 {
                let (d, align) = corners[1];
                let step = egui::vec2(0.0, k as f32 * (size.y + 2.0));
                candidates.push(align.anchor_size(q + d + step, size));
            }
            let clip = painter.clip_rect();
            let free = |r: &egui::Rect| {
                clip.contains_rect(*r) && !self.taken.iter().any(|t| t.intersects(*r))
            };
            let rect = candidates
                .iter()
                .find(|r| free(r))
                .or_else(|| candidates.iter().find(|r| clip.contains_rect(**r)))
                .copied()
                .unwrap_or(candidates[0]);
            painter.rect_filled(rect, 3.0, OVERLAY_BACKING);
            painter.galley(rect.min + egui::vec2(4.0, 2.0), galley, colour);
            self.taken.push(rect.expand(1.0));
        }
    }
}

/// How far from a slice markups still show there (dimmed), mm.
pub fn slice_range_mm(step_mm: f64) -> f64 {
    (step_mm * 5.0).max(5.0)
}

/// A slice view as the measuring tool sees it: the slice, its mapping to the screen, its
/// plane's depth along the normal and the slice step (both mm).
pub struct SliceGeometry<'a> {
    pub slice: &'a Slice,
    pub map: &'a SliceMapping,
    pub plane: Plane,
    pub depth_mm: f64,
    pub step_mm: f64,
}

/// Grabbing, moving and dropping a markup's point with the primary button.
pub(super) fn point_drag(
    ui: &egui::Ui,
    response: &egui::Response,
    doc: &mut DocWriter,
    tool: &mut MarkupTool,
    screen: &dyn Fn(&P) -> Option<(f64, f64)>,
    patient: &dyn Fn(Pos2) -> Option<P>,
) -> bool {
    let primary = ui.input(|i| i.pointer.primary_down() && !i.modifiers.shift);
    if tool.drag.is_none()
        && response.drag_started()
        && primary
        && let Some(pos) = ui
            .input(|i| i.pointer.press_origin())
            .or_else(|| response.interact_pointer_pos())
        && let Some((id, index)) = placing::grab(
            doc.plan(),
            screen,
            (f64::from(pos.x), f64::from(pos.y)),
            8.0,
        )
        && let Some(m) = doc.plan().markup(id)
    {
        tool.drag = Some(Drag {
            id,
            index,
            before: m.points_lps_mm.clone(),
        });
        tool.selected = Some(id);
    }
    let Some(drag) = tool.drag.clone() else {
        return false;
    };
    if response.dragged()
        && let Some(pos) = response.interact_pointer_pos()
        && let Some(p) = patient(pos)
    {
        doc.drag_to(drag.id, drag.index, p);
    }
    if response.drag_stopped() || !ui.input(|i| i.pointer.primary_down()) {
        doc.end_drag();
        tool.drag = None;
    }
    true
}

/// Clicks that place points while a tool is on (a double-click finishes a curve).
pub(super) fn placing_clicks(
    response: &egui::Response,
    doc: &mut DocWriter,
    tool: &mut MarkupTool,
    patient: &dyn Fn(Pos2) -> Option<P>,
) -> bool {
    if tool.placing.is_none() {
        return false;
    }
    if response.double_clicked() {
        tool.finish(doc);
        return true;
    }
    if response.clicked()
        && let Some(pos) = response.interact_pointer_pos()
    {
        match patient(pos) {
            Some(p) => {
                tool.pick_note = None;
                tool.place(doc, p);
            }
            None => {
                tool.pick_note = Some(if tool.picks.pending() > 0 {
                    "surfaces are still being indexed for picking".into()
                } else {
                    "no visible surface under the pointer".into()
                });
            }
        }
        return true;
    }
    // Dragging with a tool on still orbits, pans and moves the cursor.
    false
}

/// Tool keys: D distance, A angle, L landmark, C curve, Escape, Enter (finish a curve),
/// Ctrl+Z / Ctrl+Shift+Z (or Ctrl+Y) undo and redo, Ctrl+S save.
pub fn keys(
    ctx: &egui::Context,
    ws: &Workspace,
    doc: &mut DocWriter,
    tool: &mut MarkupTool,
    actions: &mut Vec<UiAction>,
) {
    if ctx.memory(|m| m.focused().is_some()) {
        return;
    }
    let (kind, esc, enter, undo, redo, save) = ctx.input(|i| {
        let plain =
            !i.modifiers.ctrl && !i.modifiers.command && !i.modifiers.shift && !i.modifiers.alt;
        let cmd = i.modifiers.command || i.modifiers.ctrl;
        let kind = [
            (egui::Key::D, MarkupKind::Distance),
            (egui::Key::A, MarkupKind::Angle),
            (egui::Key::L, MarkupKind::Landmark),
            (egui::Key::C, MarkupKind::Curve),
        ]
        .into_iter()
        .find(|(k, _)| plain && i.key_pressed(*k))
        .map(|(_, kind)| kind);
        (
            kind,
            i.key_pressed(egui::Key::Escape),
            i.key_pressed(egui::Key::Enter),
            cmd && !i.modifiers.shift && i.key_pressed(egui::Key::Z),
            cmd && ((i.modifiers.shift && i.key_pressed(egui::Key::Z))
                || i.key_pressed(egui::Key::Y)),
            cmd && i.key_pressed(egui::Key::S),
        )
    });
    if let Some(k) = kind {
        tool.start(k);
    }
    if esc {
        tool.escape();
    }
    if enter {
        tool.finish(doc);
    }
    if undo {
        doc.undo();
    }
    if redo {
        doc.redo();
    }
    if save {
        match doc.path().map(Path::to_path_buf) {
            Some(p) => actions.push(UiAction::SavePlan(p)),
            None => {
                tool.saving = Some(save_dialog(
                    SaveWhat::Plan,
                    &default_path(doc, SaveWhat::Plan, ws.banner()),
                ))
            }
        }
    }
}
