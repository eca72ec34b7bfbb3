//! Catheter paths in the workstation: placing one (the entry, waypoints and target clicked
//! in 3D or on a slice like a curve's points, planned off the UI thread), the paths panel
//! (each path's figures, its device, visibility, delete; undoable through the plan), the
//! diameter and curvature plot along the selected path linked both ways with the views
//! (hovering the plot marks the point in 3D and on the slices; hovering the path in 3D
//! marks it on the plot), the tube of the device's diameter coloured by clearance in the
//! 3D scene, and where a path could not be planned, where the lumen breaks. The planning
//! and the geometry are the core's (`catheter`); this module only shows and asks. The
//! vessel is chosen among the plan's structures; a path's entry, waypoints and target are
//! dragged in any view and the path follows live (trees grown once per drag on a worker
//! thread, each move traced back through them), the drag one undoable step.

use std::collections::HashMap;
use std::sync::Arc;

use bevy::asset::RenderAssetUsages;
use bevy::mesh::{Indices, PrimitiveTopology};
use bevy::prelude::*;
use bevy_egui::egui::{self, Color32, Pos2, RichText, Stroke};
use egui_plot::{HLine, Legend, Line, Plot, PlotPoints, VLine};

use super::document::PlanDoc;
use super::jobs::{Jobs, Latest};
use super::markups::MarkupTool;
use super::scene::SceneRedraw;
use super::state::{Step, ViewState, Workspace};
use crate::catheter::devices::Concern;
use crate::catheter::{
    Catalogue, Lumen, PathError, PathReport, PlanningError, Replan, fit, measure, reformat,
    section, tube,
};
use crate::document::Command;
use crate::geometry::P;
use crate::plan::recipe::Source;
use crate::plan::{CatheterPath, PathVessel, PlanStructure};
use crate::progress::Progress;
use crate::segment::{Preset, ValueRange};

/// Colours of new paths, in turn.
const COLOURS: [[f32; 3]; 4] = [
    [0.15, 0.75, 0.95],
    [0.95, 0.55, 0.20],
    [0.60, 0.85, 0.30],
    [0.85, 0.45, 0.90],
];

type CprKey = (u64, usize, bool, u64, u64, u64, u64);

/// What a planning job hands back: the path and the lumen it ran through, or why not.
type JobResult = Result<(CatheterPath, (LumenKey, Arc<Lumen>)), Failure>;

/// A path being planned in the background: the job (None until the paths' system has
/// started it) and the progress the panel shows.
pub struct PlanJob {
    id: Option<u64>,
    pub progress: Progress,
}

/// Work that plans a path, or grows a lumen, given the job's progress.
type PlanWork = Box<dyn FnOnce(&Progress) -> JobResult + Send + Sync>;
type GrowWork = Box<dyn FnOnce(&Progress) -> Option<Lumen> + Send + Sync>;

/// Background work the paths' panel and input ask for; the paths' system starts it as
/// jobs ([`PathUi::pump`]): nothing here starts a thread.
enum Request {
    /// Plan a new path through these stops.
    Plan(PlanWork),
    /// Grow the lumen of a path again (read from a plan, or its vessel changed).
    Grow(u64, LumenKey, GrowWork),
    /// Re-plan the dragged stop for each move.
    Drag(Arc<Lumen>, Vec<(P, String)>, usize),
}

/// How a lumen was made: its values and seeds.
type LumenKey = (ValueRange, Vec<P>);

/// The lumen of a path, kept for its cross-sections and for dragging its stops: ready, or
/// being grown again (a path read from a plan file, or its vessel's recipe changed).
enum LumenSlot {
    Ready(Arc<Lumen>),
    /// Being grown (the job, once started).
    Growing(Option<u64>),
    Failed,
}

/// Why the last path could not be planned, and where the lumen breaks when that is why.
#[derive(Debug, Clone)]
pub struct Failure {
    pub message: String,
    /// The nearest point the lumen reaches and the stop it does not reach.
    pub gap: Option<(P, P)>,
}

/// The catheter tool's state (a resource of its own; never saved, never undone).
#[derive(Resource, Default)]
pub struct PathUi {
    /// The path the panel shows the plot of.
    pub selected: Option<u64>,
    /// The point of a path under the pointer (in the plot or in 3D): path id, point index.
    pub hover: Option<(u64, usize)>,
    /// The hover came from the 3D view this frame (so the plot does not clear it).
    pub hover_from_view: bool,
    pub job: Option<PlanJob>,
    pub failure: Option<Failure>,
    /// The reformat under the profile: which, turned how far about the path (degrees).
    pub cpr_stretched: bool,
    pub cpr_angle_deg: f64,
    /// The reformat's texture and what it was made from (path id, points, kind, angle,
    /// window centre and width).
    cpr: Option<(CprKey, egui::TextureHandle, f64, f64)>,
    /// The fly-through: where along the selected path (mm), whether it travels on, when it
    /// last moved, and its frame (path id, point index).
    pub fly_mm: f64,
    pub playing: bool,
    fly_tick: Option<std::time::Instant>,
    fly: Option<((u64, usize, u64), egui::TextureHandle)>,
    /// Each path's lumen and what it was made from, for the volume of `lumens_revision`.
    lumens: HashMap<u64, (LumenKey, LumenSlot)>,
    lumens_revision: u64,
    /// The vessel new paths are planned in: a structure of the plan, or (None) the vessels
    /// preset grown from the entry.
    pub vessel: Option<u64>,
    /// A stop being dragged, re-planned live.
    pub drag: Option<StopDrag>,
    /// Work asked for and not yet started.
    requests: Vec<Request>,
    /// A planning job's answer, taken from the jobs and not yet into the plan.
    planned: Option<JobResult>,
}

/// What the drag's worker answers: ready (the trees are grown), cannot start, or the path
/// for the `seq`-th move (or why there is none there).
enum DragAnswer {
    Ready,
    Failed(String),
    Planned {
        seq: usize,
        at: P,
        report: Box<PathReport>,
    },
    Refused {
        seq: usize,
        failure: Failure,
    },
}

/// A stop of a path being dragged: the path as it was, which stop, and the worker that
/// re-plans it for each move (trees grown once, each move traced back through them).
pub struct StopDrag {
    pub path_id: u64,
    pub index: usize,
    before: CatheterPath,
    /// The re-planning job (None until started; dropped to end it).
    moves: Option<Latest<(usize, P)>>,
    /// Moves made before the job started (the newest is sent when it does).
    early: Option<(usize, P)>,
    /// The job has ended (it could not start, or was cancelled from the status bar).
    gone: bool,
    /// Answers taken from the job, not yet shown.
    answers: Vec<DragAnswer>,
    /// The last move sent, and the last answered.
    asked: usize,
    answered: usize,
    /// Where the last move asked the stop to be.
    at: Option<P>,
    /// The pointer was let go: the drag ends when the last move is answered.
    released: bool,
    pub ready: bool,
}

impl PathUi {
    /// Starts planning through `stops` (entry, waypoints, target) in the vessels' lumen.
    pub fn start(&mut self, ws: &Workspace, doc: &mut PlanDoc, stops: Vec<P>) {
        let Some(loaded) = &ws.loaded else { return };
        if stops.len() < 2 {
            return;
        }
        let volume = loaded.volume.clone();
        let vessel = match self.vessel {
            Some(id) if doc.plan().structures.iter().any(|s| s.id == id) => {
                PathVessel::Structure { id }
            }
            _ => PathVessel::Grown {
                source: Source::Preset {
                    preset: Preset::Vessels.name().to_string(),
                    min_hu: None,
                },
                seeds_lps_mm: Vec::new(),
            },
        };
        let n = doc.plan().paths.len();
        let probe = CatheterPath::through(
            0,
            format!("Path {}", n + 1),
            vessel,
            &stops,
            COLOURS[n % COLOURS.len()],
        );
        let (range, seeds) = match probe.lumen_recipe(&doc.plan().structures) {
            Ok(r) => r,
            Err(message) => {
                self.failure = Some(Failure { message, gap: None });
                return;
            }
        };
        let key: LumenKey = (range, seeds.clone());
        let mut path = probe;
        path.id = doc.new_id();
        let named: Vec<(P, String)> = stops
            .iter()
            .enumerate()
            .map(|(i, q)| {
                let name = if i == 0 {
                    "entry".to_string()
                } else if i + 1 == stops.len() {
                    "target".to_string()
                } else {
                    format!("waypoint {i}")
                };
                (*q, name)
            })
            .collect();
        self.requests.push(Request::Plan(Box::new(
            move |p: &Progress| match crate::catheter::plan(&volume, &named, range, &seeds, p) {
                Ok(planned) => Ok((
                    CatheterPath {
                        report: Some(planned.report),
                        ..path
                    },
                    (key, Arc::new(planned.lumen)),
                )),
                Err(e) => Err(failure(&e, &named)),
            },
        )));
        self.failure = None;
        self.job = Some(PlanJob {
            id: None,
            progress: Progress::new(),
        });
    }

    /// Takes a finished plan job's path into the plan (an undoable edit).
    pub fn poll(&mut self, doc: &mut PlanDoc) {
        let Some(result) = self.planned.take() else {
            return;
        };
        self.job = None;
        match result {
            Ok((path, (key, lumen))) => {
                let id = path.id;
                if doc.edit(Command::AddPath(path)) {
                    self.selected = Some(id);
                    self.lumens.insert(id, (key, LumenSlot::Ready(lumen)));
                }
            }
            Err(f) => self.failure = Some(f),
        }
    }

    /// Starts the work asked for as jobs and takes what they handed back (called by the
    /// paths' system every frame, before the panels).
    pub fn pump(&mut self, jobs: &mut Jobs) {
        for r in std::mem::take(&mut self.requests) {
            match r {
                Request::Plan(work) => {
                    let id = jobs.task("planning a catheter path", work);
                    if let Some(job) = &mut self.job {
                        job.id = Some(id);
                        if let Some(p) = jobs.progress(id) {
                            job.progress = p;
                        }
                    }
                }
                Request::Grow(path_id, key, work) => {
                    let id = jobs.task("growing a path's lumen", work);
                    self.lumens
                        .insert(path_id, (key, LumenSlot::Growing(Some(id))));
                }
                Request::Drag(lumen, stops, index) => {
                    self.start_drag_job(jobs, lumen, stops, index)
                }
            }
        }
        if let Some(id) = self.job.as_ref().and_then(|j| j.id) {
            if let Some(result) = jobs.take::<JobResult>(id) {
                self.planned = Some(result);
            } else if !jobs.is_running(id) {
                let cancelled = self.job.as_ref().is_some_and(|j| j.progress.is_cancelled());
                if cancelled {
                    self.job = None;
                } else {
                    self.planned = Some(Err(Failure {
                        message: "the planning stopped without an answer".into(),
                        gap: None,
                    }));
                }
            }
        }
        for (_, slot) in self.lumens.values_mut() {
            if let LumenSlot::Growing(Some(id)) = *slot {
                if let Some(grown) = jobs.take::<Option<Lumen>>(id) {
                    *slot = grown.map_or(LumenSlot::Failed, |l| LumenSlot::Ready(Arc::new(l)));
                } else if !jobs.is_running(id) {
                    *slot = LumenSlot::Failed;
                }
            }
        }
        if let Some(d) = &mut self.drag
            && let Some(m) = &d.moves
        {
            let answers = jobs.take_streamed::<DragAnswer>(m.id);
            d.answers.extend(answers);
            if !jobs.is_running(m.id) {
                d.gone = true;
                if !d.ready && d.answers.is_empty() {
                    d.answers
                        .push(DragAnswer::Failed("the re-planning stopped".into()));
                }
            }
        }
    }
}

impl PathUi {
    /// The texture of the selected path's reformat (made again when the path, the kind,
    /// the angle or the window changes), its length and half-width (mm).
    fn cpr_texture(
        &mut self,
        ctx: &egui::Context,
        ws: &Workspace,
        view: &ViewState,
        path: &CatheterPath,
    ) -> Option<(egui::TextureId, f64, f64)> {
        let r = report_of(path)?;
        let volume = &ws.loaded.as_ref()?.volume;
        let key = (
            path.id,
            r.points_lps_mm.len(),
            self.cpr_stretched,
            self.cpr_angle_deg.to_bits(),
            view.window.center.to_bits(),
            view.window.width.to_bits(),
            r.length_mm.to_bits(),
        );
        // While a stop is dragged the path changes every frame: the last picture stays up
        // (a texture replaced every frame is never shown) and is made again when it ends.
        let dragging = self.drag.is_some() && self.cpr.is_some();
        if !dragging && self.cpr.as_ref().is_none_or(|c| c.0 != key) {
            let half = 25.0;
            let step = 0.5;
            let kind = if self.cpr_stretched {
                reformat::Kind::Stretched
            } else {
                reformat::Kind::Straightened
            };
            let f = reformat::reformat(
                volume,
                &r.points_lps_mm,
                kind,
                self.cpr_angle_deg.to_radians(),
                half,
                step,
            );
            if f.rows == 0 {
                return None;
            }
            // x along the path, y across it (the first column at the bottom).
            let mut pixels = Vec::with_capacity(f.rows * f.columns);
            for c in (0..f.columns).rev() {
                for row in 0..f.rows {
                    pixels.push(f.at(row, c).map_or(0, |v| view.window.map(v)));
                }
            }
            let image = egui::ColorImage::from_gray([f.rows, f.columns], &pixels);
            // The texture is updated in place, so the last picture stays up while the path
            // changes every frame (a stop being dragged).
            let handle = match self.cpr.take() {
                Some((_, mut handle, _, _)) => {
                    handle.set(image, egui::TextureOptions::LINEAR);
                    handle
                }
                None => ctx.load_texture("path-reformat", image, egui::TextureOptions::LINEAR),
            };
            let length = (f.rows - 1) as f64 * step;
            self.cpr = Some((key, handle, length, half));
        }
        self.cpr.as_ref().map(|c| (c.1.id(), c.2, c.3))
    }

    /// The lumen of `path` when it is at hand; otherwise it is grown again in the
    /// background from the path's vessel recipe (None until then, and when it has none).
    fn lumen(
        &mut self,
        ws: &Workspace,
        structures: &[PlanStructure],
        path: &CatheterPath,
    ) -> Option<Arc<Lumen>> {
        if self.lumens_revision != ws.volume_revision {
            self.lumens.clear();
            self.lumens_revision = ws.volume_revision;
        }
        // A path being dragged is shown in the lumen the drag plans in: its moving entry
        // must not start a new growth every frame.
        if self.drag.as_ref().is_some_and(|d| d.path_id == path.id) {
            return match self.lumens.get(&path.id) {
                Some((_, LumenSlot::Ready(l))) => Some(l.clone()),
                _ => None,
            };
        }
        let Ok(key) = path.lumen_recipe(structures) else {
            return None;
        };
        match self.lumens.get(&path.id) {
            Some((made, LumenSlot::Ready(l))) if *made == key => return Some(l.clone()),
            Some((made, _)) if *made == key => return None,
            _ => {}
        }
        let volume = ws.loaded.as_ref()?.volume.clone();
        let (range, seeds) = key.clone();
        let seeds: Vec<nalgebra::Point3<f64>> =
            seeds.iter().map(|p| nalgebra::Point3::from(*p)).collect();
        self.requests.push(Request::Grow(
            path.id,
            key.clone(),
            Box::new(move |p: &Progress| {
                crate::catheter::grow_lumen(&volume, range, &seeds, p)
                    .ok()
                    .map(|g| g.0)
            }),
        ));
        self.lumens.insert(path.id, (key, LumenSlot::Growing(None)));
        None
    }

    /// The lumen of `path` when it is ready and still made as the path's vessel says.
    fn ready_lumen(&self, structures: &[PlanStructure], path: &CatheterPath) -> Option<Arc<Lumen>> {
        let key = path.lumen_recipe(structures).ok()?;
        match self.lumens.get(&path.id) {
            Some((made, LumenSlot::Ready(l))) if *made == key => Some(l.clone()),
            _ => None,
        }
    }
}

impl PathUi {
    /// Begins dragging stop `index` of `path`: a worker grows the trees from the stops
    /// beside it in the path's lumen, then re-plans the path for every move it is sent.
    fn begin_drag(
        &mut self,
        structures: &[PlanStructure],
        path: &CatheterPath,
        index: usize,
    ) -> Result<(), String> {
        let lumen = self.ready_lumen(structures, path).ok_or_else(|| {
            "the vessel is still being prepared for this path: try again in a moment".to_string()
        })?;
        self.requests
            .push(Request::Drag(lumen, path.stops(), index));
        self.failure = None;
        self.drag = Some(StopDrag {
            path_id: path.id,
            index,
            before: path.clone(),
            moves: None,
            early: None,
            gone: false,
            answers: Vec::new(),
            asked: 0,
            answered: 0,
            at: None,
            released: false,
            ready: false,
        });
        Ok(())
    }

    /// The dragged stop is asked to be at `p`.
    fn drag_move(&mut self, p: P) {
        let Some(d) = &mut self.drag else { return };
        if d.at == Some(p) || d.released {
            return;
        }
        if d.gone {
            return;
        }
        d.asked += 1;
        d.at = Some(p);
        match &d.moves {
            Some(m) => {
                if !m.send((d.asked, p)) {
                    d.moves = None;
                    d.gone = true;
                }
            }
            None => d.early = Some((d.asked, p)),
        }
    }

    /// Starts the drag's re-planning job: the trees grown from the stops beside the dragged
    /// one, then the path traced back through them for the newest move (moves it overtook
    /// are dropped by the job).
    fn start_drag_job(
        &mut self,
        jobs: &mut Jobs,
        lumen: Arc<Lumen>,
        stops: Vec<(P, String)>,
        index: usize,
    ) {
        let Some(d) = &mut self.drag else { return };
        let moves = jobs.latest(
            "re-planning the dragged path",
            move |p, inputs, emit: &dyn Fn(DragAnswer)| {
                let replan = crate::work::run(|| Replan::new(&lumen, &stops, index, p));
                let replan = match replan {
                    Ok(r) => r,
                    Err(e) => return emit(DragAnswer::Failed(e.to_string())),
                };
                emit(DragAnswer::Ready);
                while let Some((seq, at)) = inputs.newest() {
                    emit(match replan.path(&lumen, at) {
                        Ok(voxels) => DragAnswer::Planned {
                            seq,
                            at,
                            report: Box::new(measure(&lumen, &voxels)),
                        },
                        Err(e) => DragAnswer::Refused {
                            seq,
                            failure: failure(
                                &PlanningError::Path(e),
                                &[(at, stops[index].1.clone())],
                            ),
                        },
                    });
                }
            },
        );
        if let Some(early) = d.early.take() {
            moves.send(early);
        }
        d.moves = Some(moves);
    }

    /// Takes the drag worker's answers: each planned move shows in the plan at once (no
    /// step of its own); when the pointer is let go and the last move is answered, the
    /// drag becomes one undoable step from where it began. A move out of the lumen's reach
    /// leaves the path where it last was and shows where the lumen breaks.
    pub fn poll_drag(&mut self, doc: &mut PlanDoc) {
        let Some(d) = &mut self.drag else { return };
        let answers = std::mem::take(&mut d.answers);
        let mut failed = None;
        for a in answers {
            match a {
                DragAnswer::Ready => d.ready = true,
                DragAnswer::Failed(message) => failed = Some(message),
                DragAnswer::Planned { seq, at, report } => {
                    d.answered = seq;
                    let mut moved = d.before.clone();
                    moved.set_stop(d.index, at);
                    // A lumen grown from the entry stays the one it was grown in.
                    if d.index == 0
                        && let PathVessel::Grown { seeds_lps_mm, .. } = &mut moved.vessel
                        && seeds_lps_mm.is_empty()
                    {
                        seeds_lps_mm.push(d.before.entry_lps_mm);
                    }
                    moved.fit = moved.device.as_ref().map(|dev| fit(&report, dev));
                    moved.report = Some(*report);
                    moved.problem = None;
                    doc.preview_path(moved);
                    self.failure = None;
                }
                DragAnswer::Refused { seq, failure } => {
                    d.answered = seq;
                    self.failure = Some(failure);
                }
            }
        }
        if let Some(message) = failed {
            d.moves = None;
            doc.end_path_drag();
            self.failure = Some(Failure { message, gap: None });
            self.drag = None;
            return;
        }
        if d.released && (d.answered == d.asked || d.gone) {
            d.moves = None;
            let before = d.before.clone();
            let which = before.stops().get(d.index).map(|s| s.1.clone());
            self.drag = None;
            doc.end_path_drag();
            // Let go where there is no path: say where the stop stayed.
            if let (Some(f), Some(which)) = (&mut self.failure, which) {
                f.message = format!(
                    "The {which} stays at its last place inside the vessel: {}",
                    f.message
                );
            }
        }
    }
}

/// The stop of a visible, planned path nearest `pos` on screen within `radius` pixels:
/// path id and stop index.
fn grab_stop(
    doc: &PlanDoc,
    screen: &dyn Fn(&P) -> Option<(f64, f64)>,
    pos: Pos2,
    radius: f64,
) -> Option<(u64, usize)> {
    let mut best: Option<(f64, u64, usize)> = None;
    for path in doc.plan().paths.iter().filter(|p| p.visible) {
        if report_of(path).is_none() {
            continue;
        }
        for (i, (p, _)) in path.stops().iter().enumerate() {
            if let Some((x, y)) = screen(p) {
                let d = (x - f64::from(pos.x)).hypot(y - f64::from(pos.y));
                if d <= radius && best.is_none_or(|b| d < b.0) {
                    best = Some((d, path.id, i));
                }
            }
        }
    }
    best.map(|(_, id, i)| (id, i))
}

/// Grabbing, moving and dropping a path's stop (entry, waypoint or target) with the
/// primary button in a slice or the 3D view: the path is re-planned as it moves (off the
/// UI thread), and the drag is one undoable step. `patient` gives the point under the
/// pointer for the stop where it was grabbed (in 3D it keeps that depth: the skin in front
/// of a vessel is not where the stop goes). True when it took the input.
pub fn stop_drag(
    ui: &egui::Ui,
    response: &egui::Response,
    doc: &mut PlanDoc,
    pui: &mut PathUi,
    screen: &dyn Fn(&P) -> Option<(f64, f64)>,
    patient: &dyn Fn(Pos2, &P) -> Option<P>,
) -> bool {
    pui.poll_drag(doc);
    let primary = ui.input(|i| i.pointer.primary_down() && !i.modifiers.shift);
    if pui.drag.is_none()
        && response.drag_started()
        && primary
        && let Some(pos) = ui
            .input(|i| i.pointer.press_origin())
            .or_else(|| response.interact_pointer_pos())
        && let Some((id, index)) = grab_stop(doc, screen, pos, 8.0)
        && let Some(path) = doc.plan().paths.iter().find(|p| p.id == id).cloned()
    {
        pui.selected = Some(id);
        if let Err(message) = pui.begin_drag(&doc.plan().structures, &path, index) {
            pui.failure = Some(Failure { message, gap: None });
            return true;
        }
    }
    let Some(d) = &mut pui.drag else {
        return false;
    };
    ui.ctx().request_repaint();
    if d.released {
        return false;
    }
    let grabbed = d.before.stops().get(d.index).map(|s| s.0);
    if response.dragged()
        && let Some(pos) = response.interact_pointer_pos()
        && let Some(grabbed) = grabbed
        && let Some(p) = patient(pos, &grabbed)
    {
        pui.drag_move(p);
    }
    if response.drag_stopped() || !ui.input(|i| i.pointer.primary_down()) {
        if let Some(d) = &mut pui.drag {
            d.released = true;
        }
        pui.poll_drag(doc);
    }
    true
}

/// What the user is told when planning fails; where the lumen breaks, for the views.
fn failure(e: &PlanningError, stops: &[(P, String)]) -> Failure {
    let gap = match e {
        PlanningError::Path(PathError::Unreachable {
            which,
            nearest_lps_mm,
            ..
        }) => stops
            .iter()
            .find(|(_, n)| n == which)
            .map(|(p, _)| (*nearest_lps_mm, *p)),
        _ => None,
    };
    Failure {
        message: e.to_string(),
        gap,
    }
}

/// A path's saved figures when they can be shown (one value per point: a report read from
/// an edited plan file may not have them, and is then not drawn).
fn report_of(path: &CatheterPath) -> Option<&crate::catheter::PathReport> {
    path.report.as_ref().filter(|r| r.is_consistent())
}

fn colour32(c: [f32; 3]) -> Color32 {
    let b = |x: f32| (x.clamp(0.0, 1.0) * 255.0).round() as u8;
    Color32::from_rgb(b(c[0]), b(c[1]), b(c[2]))
}

/// The vessel new paths are planned in: the vessels preset grown from the entry, or one
/// of the plan's structures made of image values (e.g. the vessels grown from a seed in
/// the aorta, so a path cannot stray into a vein or bone of the same values).
fn vessel_choice(ui: &mut egui::Ui, doc: &PlanDoc, pui: &mut PathUi) {
    let usable: Vec<&PlanStructure> = doc
        .plan()
        .structures
        .iter()
        .filter(|s| s.recipe.range_of().is_some())
        .collect();
    if pui
        .vessel
        .is_some_and(|id| usable.iter().all(|s| s.id != id))
    {
        pui.vessel = None;
    }
    let preset = "vessels, grown from the entry";
    let current = pui
        .vessel
        .and_then(|id| usable.iter().find(|s| s.id == id))
        .map_or(preset.to_string(), |s| describe_structure(s));
    ui.horizontal(|ui| {
        ui.label("Vessel");
        egui::ComboBox::from_id_salt("path-vessel")
            .selected_text(current)
            .width(230.0)
            .show_ui(ui, |ui| {
                ui.selectable_value(&mut pui.vessel, None, preset)
                    .on_hover_text(
                        "Contrast-filled blood (the vessels preset) connected to the entry",
                    );
                for s in &usable {
                    ui.selectable_value(&mut pui.vessel, Some(s.id), describe_structure(s))
                        .on_hover_text(
                            "The voxels of this structure's values connected to its seeds \
                             (to the entry when it has none)",
                        );
                }
            })
            .response
            .on_hover_text("The lumen new paths are planned in");
    });
}

/// A structure's name with how it is made, for the vessel list.
fn describe_structure(s: &PlanStructure) -> String {
    let range = s.recipe.range_of();
    let values = range.map_or(String::new(), |r| format!(" ({:.0}..{:.0})", r.lo, r.hi));
    let seeds = match s.recipe.seeds_mm.len() {
        0 => String::new(),
        1 => ", seeded".to_string(),
        n => format!(", {n} seeds"),
    };
    format!("{}{values}{seeds}", s.recipe.name)
}

/// The paths panel: a path tool button, each path's row, the selected path's plot.
#[expect(
    clippy::too_many_lines,
    reason = "a panel to split into its feature plugin (issue 25, left)"
)]
pub fn paths_panel(
    ui: &mut egui::Ui,
    ws: &Workspace,
    doc: &mut PlanDoc,
    tool: &mut MarkupTool,
    pui: &mut PathUi,
) {
    if let Some(stops) = tool.stops_done.take() {
        pui.start(ws, doc, stops);
    }
    pui.poll(doc);
    pui.poll_drag(doc);
    // The planned paths' lumens are made ready ahead, so a stop can be dragged at once.
    for path in doc.plan().paths.iter().filter(|p| p.visible) {
        if report_of(path).is_some() {
            let _ = pui.lumen(ws, &doc.plan().structures, path);
        }
    }
    // Another tool chosen, or Escape: the path placement is over.
    if tool
        .placing
        .as_ref()
        .is_none_or(|p| p.kind != crate::plan::MarkupKind::Curve)
    {
        tool.path_stops = false;
    }
    ui.horizontal(|ui| {
        ui.heading("Catheter paths");
        let placing = tool.path_stops && tool.placing.is_some();
        let button = ui
            .add_enabled(
                ws.loaded.is_some() && pui.job.is_none(),
                egui::Button::new("New path").selected(placing),
            )
            .on_hover_text(
                "Click the entry (e.g. the common femoral artery), any waypoints, then the \
                 target, in 3D or on a slice; Enter or a double click plans the centred path \
                 through the chosen vessel's lumen. Drag a path's stops afterwards to re-plan it",
            );
        if button.clicked() {
            if placing {
                tool.placing = None;
                tool.path_stops = false;
            } else {
                tool.start(crate::plan::MarkupKind::Curve);
                tool.path_stops = true;
            }
        }
    });
    vessel_choice(ui, doc, pui);
    if tool.path_stops && tool.placing.is_some() {
        let n = tool.placing.as_ref().map_or(0, |p| p.points.len());
        let next = match n {
            0 => "click the entry",
            1 => "click a waypoint or the target",
            _ => "more waypoints, or Enter to plan to the last point",
        };
        ui.label(
            RichText::new(format!("New path: {next} (Esc cancels)"))
                .color(Color32::from_rgb(240, 200, 90)),
        );
    }
    if let Some(job) = &pui.job {
        ui.horizontal(|ui| {
            ui.spinner();
            ui.label("planning the path…");
            if ui.small_button("Cancel").clicked() {
                job.progress.cancel();
            }
        });
    }
    if let Some(d) = &pui.drag {
        ui.horizontal(|ui| {
            ui.spinner();
            ui.label(if d.ready {
                "re-planning as the stop moves…"
            } else {
                "getting the vessel ready for the drag…"
            });
        });
    }
    if let Some(f) = &pui.failure {
        ui.label(RichText::new(&f.message).color(Color32::from_rgb(240, 110, 90)));
    }
    let catalogue = Catalogue::bundled();
    let mut edits = Vec::new();
    // The plot shows the first path until another is picked.
    if pui
        .selected
        .is_none_or(|id| doc.plan().paths.iter().all(|p| p.id != id))
    {
        pui.selected = doc.plan().paths.first().map(|p| p.id);
    }
    for path in &doc.plan().paths {
        let selected = pui.selected == Some(path.id);
        ui.horizontal(|ui| {
            let mut visible = path.visible;
            if ui
                .checkbox(&mut visible, "")
                .on_hover_text("Show in the views")
                .changed()
            {
                let mut p = path.clone();
                p.visible = visible;
                edits.push(Command::SetPath(p));
            }
            let (rect, _) = ui.allocate_exact_size(egui::vec2(12.0, 12.0), egui::Sense::hover());
            ui.painter().rect_filled(rect, 2.0, colour32(path.colour));
            if ui
                .selectable_label(selected, RichText::new(&path.name).strong())
                .clicked()
            {
                pui.selected = Some(path.id);
            }
            if ui
                .small_button("🗑")
                .on_hover_text("Delete the path (undoable)")
                .clicked()
            {
                edits.push(Command::RemovePath(path.id));
            }
        });
        ui.label(RichText::new(path.label()).small());
        ui.label(
            RichText::new(format!(
                "in {} · drag its stops in a view to re-plan",
                path.vessel_label(&doc.plan().structures)
            ))
            .small()
            .weak(),
        );
        let current = path
            .device
            .as_ref()
            .map_or("No device".to_string(), |d| d.name.clone());
        egui::ComboBox::from_id_salt(("path-device", path.id))
            .selected_text(current)
            .width(220.0)
            .show_ui(ui, |ui| {
                if ui
                    .selectable_label(path.device.is_none(), "No device")
                    .clicked()
                {
                    let mut p = path.clone();
                    p.device = None;
                    p.fit = None;
                    edits.push(Command::SetPath(p));
                }
                for d in &catalogue.devices {
                    let on = path.device.as_ref().is_some_and(|x| x.name == d.name);
                    let text = format!("{}  ({:.2} mm)", d.name, d.outer_diameter_mm);
                    if ui.selectable_label(on, text).clicked() && !on {
                        let mut p = path.clone();
                        p.fit = report_of(&p).map(|r| fit(r, d));
                        p.device = Some(d.clone());
                        edits.push(Command::SetPath(p));
                    }
                }
            });
        if let Some(f) = &path.fit {
            for flag in &f.flags {
                let (what, colour) = match flag.concern {
                    Concern::AtRisk => (
                        format!("SFAR {:.2} ≥ 1.05", flag.worst),
                        Color32::from_rgb(225, 90, 225),
                    ),
                    Concern::Tight => (
                        format!("SFAR {:.2} ≥ 1.0", flag.worst),
                        Color32::from_rgb(235, 80, 70),
                    ),
                    Concern::Bend => (
                        format!("bend {:.0} mm, tighter than the device", flag.worst),
                        Color32::from_rgb(60, 190, 240),
                    ),
                };
                ui.label(
                    RichText::new(format!(
                        "⚑ {:.0}–{:.0} mm: {what}",
                        flag.from_mm, flag.to_mm
                    ))
                    .color(colour)
                    .small(),
                );
            }
        }
        ui.add_space(4.0);
    }
    if doc.plan().paths.is_empty() && pui.job.is_none() {
        ui.label(RichText::new("No paths yet.").weak());
    }
    for e in edits {
        if let Command::RemovePath(id) = e
            && pui.selected == Some(id)
        {
            pui.selected = None;
        }
        doc.edit(e);
    }
}

/// The profile of the selected path along the bottom of the window, under the views: its
/// diameters and curvature against the distance from the entry, the hovered point's
/// figures. Nothing when no path has been planned.
pub fn profile_panel(
    root: &mut egui::Ui,
    ws: &Workspace,
    view: &ViewState,
    doc: &PlanDoc,
    pui: &mut PathUi,
) {
    let Some(path) = pui
        .selected
        .and_then(|id| doc.plan().paths.iter().find(|p| p.id == id))
        .filter(|p| report_of(p).is_some())
    else {
        return;
    };
    egui::Panel::bottom("path-profile")
        .resizable(true)
        .default_size(330.0)
        .min_size(200.0)
        .show(root, |ui| {
            plot(ui, ws, view, &doc.plan().structures, path, pui)
        });
}

/// The selected path's diameters and curvature along it; the hovered point is marked and
/// shared with the views.
fn plot(
    ui: &mut egui::Ui,
    ws: &Workspace,
    view: &ViewState,
    structures: &[PlanStructure],
    path: &CatheterPath,
    pui: &mut PathUi,
) {
    let Some(r) = report_of(path) else { return };
    let hovered = pui
        .hover
        .filter(|(id, i)| *id == path.id && *i < r.along_mm.len())
        .map(|(_, i)| i);
    let device = path.device.clone();
    let title = match &path.fit {
        Some(f) => format!(
            "{} — {} · largest SFAR {:.2}",
            path.name, f.device.name, f.max_sfar
        ),
        None => format!("{} — no device chosen", path.name),
    };
    ui.horizontal(|ui| {
        ui.label(RichText::new(title).strong());
        ui.label(RichText::new(path.label()).weak());
        ui.separator();
        ui.selectable_value(&mut pui.cpr_stretched, false, "Straightened")
            .on_hover_text("The path straightened: lengths along it read true");
        ui.selectable_value(&mut pui.cpr_stretched, true, "Stretched")
            .on_hover_text("Lines along one direction: the vessel's course in that plane");
        ui.add(
            egui::Slider::new(&mut pui.cpr_angle_deg, -180.0..=180.0)
                .suffix("°")
                .text("about the path"),
        );
        ui.separator();
        let length = r.length_mm;
        let play = if pui.playing {
            "⏸ Pause"
        } else {
            "▶ Fly through"
        };
        if ui.button(play).clicked() {
            pui.playing = !pui.playing;
            if pui.fly_mm >= length - 1.0 {
                pui.fly_mm = 0.0;
            }
            pui.fly_tick = None;
        }
        let moved = ui
            .add(egui::Slider::new(&mut pui.fly_mm, 0.0..=length).suffix(" mm"))
            .changed();
        if pui.playing {
            // 25 mm of vessel a second, as fast as frames come.
            let now = std::time::Instant::now();
            if let Some(t) = pui.fly_tick {
                pui.fly_mm = (pui.fly_mm + 25.0 * now.duration_since(t).as_secs_f64()).min(length);
            }
            pui.fly_tick = Some(now);
            if pui.fly_mm >= length {
                pui.playing = false;
            }
            ui.ctx().request_repaint();
        }
        if pui.playing || moved {
            let i = r
                .along_mm
                .partition_point(|&a| a < pui.fly_mm)
                .min(r.along_mm.len() - 1);
            pui.hover = Some((path.id, i));
            pui.hover_from_view = true;
        }
    });
    let height = (ui.available_height() - 22.0).max(250.0);
    let width = ui.available_width();
    let lumen = pui.lumen(ws, structures, path);
    let cpr = pui.cpr_texture(ui.ctx(), ws, view, path);
    let (shown, curved, reformatted) = ui
        .horizontal(|ui| {
            let (shown, reformatted) = ui
                .vertical(|ui| {
                    let reformatted = cpr.map(|(tex, length, half)| {
                        reformat_plot(
                            ui,
                            path,
                            tex,
                            length,
                            half,
                            hovered.map(|i| r.along_mm[i]),
                            width * 0.5,
                            height * 0.42,
                        )
                    });
                    let shown = diameter_plot(
                        ui,
                        path,
                        r,
                        hovered,
                        device.as_ref(),
                        width * 0.5,
                        height * 0.55,
                    );
                    (shown, reformatted)
                })
                .inner;
            let curved =
                curvature_plot(ui, path, r, hovered, device.as_ref(), width * 0.15, height);
            let square = height.min(width * 0.16);
            cross_section(ui, path, r, hovered, lumen.as_deref(), square);
            fly_view(ui, path, r, hovered, lumen.as_ref(), pui, square);
            (shown, curved, reformatted)
        })
        .inner;
    let mut plots = vec![&shown, &curved];
    plots.extend(reformatted.as_ref());
    hover_and_readout(ui, path, r, hovered, pui, &plots);
}

type Shown = egui_plot::PlotResponse<Option<egui_plot::PlotPoint>>;

fn series(along: &[f64], v: &[f64]) -> PlotPoints<'static> {
    along
        .iter()
        .zip(v)
        .map(|(x, y)| [*x, *y])
        .collect::<Vec<_>>()
        .into()
}

/// A plot against the distance from the entry: `add` draws its lines; the hovered point is
/// a vertical line; the pointer's position comes back.
#[allow(clippy::too_many_arguments)]
fn along_plot<'a>(
    ui: &mut egui::Ui,
    id: (&str, u64),
    width: f32,
    height: f32,
    y_label: &str,
    legend: bool,
    hovered_x: Option<f64>,
    add: impl FnOnce(&mut egui_plot::PlotUi<'a>) + 'a,
) -> Shown {
    let mut plot = Plot::new(id)
        .link_axis("path-along", [true, false])
        .link_cursor("path-along", [true, false])
        .width(width)
        .height(height)
        .x_axis_label("mm from the entry")
        .y_axis_label(y_label)
        .allow_scroll(false);
    if legend {
        plot = plot.legend(Legend::default().position(egui_plot::Corner::LeftTop));
    }
    plot.show(ui, move |pu| {
        add(pu);
        if let Some(x) = hovered_x {
            pu.vline(VLine::new("", x).color(Color32::WHITE));
        }
        pu.pointer_coordinate()
    })
}

fn diameter_plot(
    ui: &mut egui::Ui,
    path: &CatheterPath,
    r: &crate::catheter::PathReport,
    hovered: Option<usize>,
    device: Option<&crate::catheter::Device>,
    width: f32,
    height: f32,
) -> Shown {
    let series = |v: &[f64]| series(&r.along_mm, v);
    let hovered_x = hovered.map(|i| r.along_mm[i]);
    let id = ("path-diameters", path.id);
    along_plot(
        ui,
        id,
        width,
        height,
        "diameter, mm",
        true,
        hovered_x,
        |pu| {
            let lines = [
                (
                    "smallest calliper",
                    &r.min_diameters_mm,
                    Color32::from_rgb(240, 120, 90),
                ),
                (
                    "largest calliper",
                    &r.max_diameters_mm,
                    Color32::from_rgb(120, 170, 240),
                ),
                (
                    "area-equivalent",
                    &r.area_equivalent_diameters_mm,
                    Color32::from_gray(200),
                ),
            ];
            for (name, values, colour) in lines {
                pu.line(Line::new(name, series(values)).color(colour));
            }
            if let Some(d) = device {
                let name = format!("{} outer", d.name);
                pu.hline(
                    HLine::new(name, d.outer_diameter_mm).color(Color32::from_rgb(240, 200, 90)),
                );
            }
        },
    )
}

fn curvature_plot(
    ui: &mut egui::Ui,
    path: &CatheterPath,
    r: &crate::catheter::PathReport,
    hovered: Option<usize>,
    device: Option<&crate::catheter::Device>,
    width: f32,
    height: f32,
) -> Shown {
    let curvature: Vec<f64> = r.curvature_per_mm.iter().map(|k| k * 10.0).collect();
    let bend_limit = device.and_then(|d| d.min_bend_radius_mm);
    let hovered_x = hovered.map(|i| r.along_mm[i]);
    let id = ("path-curvature", path.id);
    along_plot(
        ui,
        id,
        width,
        height,
        "curvature, 1/cm",
        false,
        hovered_x,
        |pu| {
            let line = Line::new("curvature", series(&r.along_mm, &curvature));
            pu.line(line.color(Color32::from_rgb(160, 220, 140)));
            if let Some(b) = bend_limit {
                let limit = HLine::new("device's bend limit", 10.0 / b);
                pu.hline(limit.color(Color32::from_rgb(60, 190, 240)));
            }
        },
    )
}

/// The reformat as an image in a plot sharing the profile's distance axis.
#[allow(clippy::too_many_arguments)]
fn reformat_plot(
    ui: &mut egui::Ui,
    path: &CatheterPath,
    texture: egui::TextureId,
    length_mm: f64,
    half_mm: f64,
    hovered_x: Option<f64>,
    width: f32,
    height: f32,
) -> Shown {
    let id = ("path-reformat", path.id);
    along_plot(
        ui,
        id,
        width,
        height,
        "across, mm",
        false,
        hovered_x,
        move |pu| {
            let centre = egui_plot::PlotPoint::new(0.5 * length_mm, 0.0);
            let size = egui::vec2(length_mm as f32, (2.0 * half_mm) as f32);
            pu.image(egui_plot::PlotImage::new("reformat", texture, centre, size));
        },
    )
}

/// A note in the middle of an empty view box.
fn placeholder(painter: &egui::Painter, rect: egui::Rect, text: &str) {
    painter.text(
        rect.center(),
        egui::Align2::CENTER_CENTER,
        text,
        egui::FontId::proportional(12.0),
        Color32::from_gray(150),
    );
}

/// The view from inside the vessel at the hovered (or fly-through) point, looking along the
/// path.
fn fly_view(
    ui: &mut egui::Ui,
    path: &CatheterPath,
    r: &crate::catheter::PathReport,
    hovered: Option<usize>,
    lumen: Option<&Arc<Lumen>>,
    pui: &mut PathUi,
    side: f32,
) {
    let side = side.max(60.0);
    let (rect, _) = ui.allocate_exact_size(egui::vec2(side, side + 16.0), egui::Sense::hover());
    let painter = ui.painter_at(rect);
    painter.rect_filled(rect, 4.0, Color32::from_gray(18));
    // Where the cross-section is: the hovered point, else the narrowest.
    let narrowest = r
        .points_lps_mm
        .iter()
        .position(|p| *p == r.min_lumen_position_lps_mm)
        .unwrap_or(0);
    let i = hovered
        .unwrap_or(narrowest)
        .min(r.points_lps_mm.len().saturating_sub(1));
    let Some(lumen) = lumen else {
        placeholder(&painter, rect, "growing the lumen…");
        return;
    };
    // The path's length stands for its points: a re-planned path is drawn again.
    let key = (path.id, i, r.length_mm.to_bits());
    let dragging = pui.drag.is_some() && pui.fly.is_some();
    if !dragging && pui.fly.as_ref().is_none_or(|f| f.0 != key) {
        let Some((eye, forward, up)) =
            crate::catheter::flythrough::view_at(&r.points_lps_mm, i, 8.0)
        else {
            return;
        };
        let f = crate::catheter::flythrough::render(lumen, eye, forward, up, 90.0, 160);
        let pixels: Vec<u8> = f.rgb.iter().flat_map(|c| *c).collect();
        let image = egui::ColorImage::from_rgb([f.size, f.size], &pixels);
        let handle = match pui.fly.take() {
            Some((_, mut handle)) => {
                handle.set(image, egui::TextureOptions::LINEAR);
                handle
            }
            None => ui
                .ctx()
                .load_texture("path-fly", image, egui::TextureOptions::LINEAR),
        };
        pui.fly = Some((key, handle));
    }
    if let Some((_, tex)) = &pui.fly {
        let square = egui::Rect::from_min_size(rect.min, egui::vec2(side, side));
        let uv = egui::Rect::from_min_max(egui::pos2(0.0, 0.0), egui::pos2(1.0, 1.0));
        painter.image(tex.id(), square, uv, Color32::WHITE);
    }
    painter.text(
        rect.left_top() + egui::vec2(6.0, 4.0),
        egui::Align2::LEFT_TOP,
        "Inside, looking ahead",
        egui::FontId::proportional(12.0),
        Color32::from_gray(230),
    );
    painter.text(
        rect.left_bottom() + egui::vec2(6.0, -2.0),
        egui::Align2::LEFT_BOTTOM,
        format!(
            "{:.0} mm from the entry",
            r.along_mm.get(i).copied().unwrap_or(0.0)
        ),
        egui::FontId::proportional(11.5),
        Color32::from_gray(220),
    );
}

/// The cross-section perpendicular to the path at the hovered point (the narrowest point
/// when none is): the lumen's contour as the rays found it, its smallest calliper width,
/// and the device's outer diameter as a circle on the path point, to scale, with the
/// figures.
fn cross_section(
    ui: &mut egui::Ui,
    path: &CatheterPath,
    r: &crate::catheter::PathReport,
    hovered: Option<usize>,
    lumen: Option<&Lumen>,
    height: f32,
) {
    let n = r.points_lps_mm.len();
    let i = hovered
        .unwrap_or_else(|| {
            r.points_lps_mm
                .iter()
                .position(|p| *p == r.min_lumen_position_lps_mm)
                .unwrap_or(0)
        })
        .min(n.saturating_sub(1));
    let side = height.min(ui.available_width() - 8.0).max(60.0);
    let (rect, _) = ui.allocate_exact_size(egui::vec2(side, side + 16.0), egui::Sense::hover());
    let painter = ui.painter_at(rect);
    painter.rect_filled(rect, 4.0, Color32::from_gray(18));
    let square = egui::Rect::from_min_size(rect.min, egui::vec2(side, side));
    let title = format!(
        "Cross-section at {:.0} mm",
        r.along_mm.get(i).copied().unwrap_or(0.0)
    );
    painter.text(
        square.left_top() + egui::vec2(6.0, 4.0),
        egui::Align2::LEFT_TOP,
        title,
        egui::FontId::proportional(12.0),
        Color32::from_gray(200),
    );
    let Some(lumen) = lumen else {
        placeholder(&painter, square, "growing the lumen…");
        return;
    };
    if n < 2 {
        return;
    }
    let p = r.points_lps_mm[i];
    let (a, b) = (
        r.points_lps_mm[i.saturating_sub(2)],
        r.points_lps_mm[(i + 2).min(n - 1)],
    );
    let t = [b[0] - a[0], b[1] - a[1], b[2] - a[2]];
    let Some(sec) = section::section(lumen, &p, &t, 0.5 * r.diameters_mm[i]) else {
        placeholder(&painter, square, "no section here");
        return;
    };
    let Some(tn) = nalgebra::Vector3::from(t).try_normalize(1e-12) else {
        return;
    };
    let (u, w) = section::plane_axes(tn);
    let centre = nalgebra::Vector3::from(p);
    let flat: Vec<[f64; 2]> = sec
        .contour_lps_mm
        .iter()
        .map(|q| {
            let d = nalgebra::Vector3::from(*q) - centre;
            [d.dot(&u), d.dot(&w)]
        })
        .collect();
    let extent = flat
        .iter()
        .fold(1.0f64, |m, q| m.max(q[0].abs()).max(q[1].abs()));
    let od = path.device.as_ref().map_or(0.0, |d| d.outer_diameter_mm);
    let scale = (0.5 * f64::from(side) - 18.0) / extent.max(0.5 * od + 0.5);
    let mid = square.center() + egui::vec2(0.0, 6.0);
    let to_screen = |q: [f64; 2]| mid + egui::vec2((q[0] * scale) as f32, (-q[1] * scale) as f32);
    let outline: Vec<Pos2> = flat.iter().map(|q| to_screen(*q)).collect();
    // The contour is star-shaped about the path point: a fan from it fills it.
    let fill = Color32::from_rgba_unmultiplied(200, 40, 35, 90);
    let mut fan = egui::Mesh::default();
    fan.colored_vertex(to_screen([0.0, 0.0]), fill);
    for q in &outline {
        fan.colored_vertex(*q, fill);
    }
    let k = outline.len() as u32;
    for j in 0..k {
        fan.add_triangle(0, 1 + j, 1 + (j + 1) % k);
    }
    painter.add(egui::Shape::mesh(fan));
    painter.add(egui::Shape::closed_line(
        outline,
        Stroke::new(2.0, Color32::from_rgb(240, 110, 90)),
    ));
    // The smallest width, across the centroid of the contour along its direction.
    let m = nalgebra::Vector3::from(sec.min_direction);
    let md = [m.dot(&u), m.dot(&w)];
    let c = section::centroid(&sec, &p).map_or([0.0, 0.0], |q| {
        let d = nalgebra::Vector3::from(q) - centre;
        [d.dot(&u), d.dot(&w)]
    });
    let half = 0.5 * sec.min_diameter_mm;
    painter.line_segment(
        [
            to_screen([c[0] - md[0] * half, c[1] - md[1] * half]),
            to_screen([c[0] + md[0] * half, c[1] + md[1] * half]),
        ],
        Stroke::new(1.5, Color32::from_rgb(255, 220, 120)),
    );
    if od > 0.0 {
        let colour = path
            .fit
            .as_ref()
            .and_then(|f| f.sfar.get(i))
            .map_or(tube::PATH_COLOUR, |s| tube::clearance_colour(*s));
        painter.circle_stroke(
            to_screen([0.0, 0.0]),
            (0.5 * od * scale) as f32,
            Stroke::new(2.0, colour32(colour)),
        );
    }
    painter.circle_filled(to_screen([0.0, 0.0]), 2.5, Color32::WHITE);
    // A 5 mm scale bar.
    let bar = (5.0 * scale) as f32;
    let y = square.bottom() - 10.0;
    painter.line_segment(
        [
            egui::pos2(square.right() - 10.0 - bar, y),
            egui::pos2(square.right() - 10.0, y),
        ],
        Stroke::new(2.0, Color32::from_gray(200)),
    );
    painter.text(
        egui::pos2(square.right() - 10.0 - 0.5 * bar, y - 3.0),
        egui::Align2::CENTER_BOTTOM,
        "5 mm",
        egui::FontId::proportional(10.5),
        Color32::from_gray(200),
    );
    painter.text(
        rect.left_bottom() + egui::vec2(6.0, -2.0),
        egui::Align2::LEFT_BOTTOM,
        format!(
            "{:.1} × {:.1} mm · {:.0} mm² · eq. {:.1} mm{}",
            sec.min_diameter_mm,
            sec.max_diameter_mm,
            sec.area_mm2,
            sec.area_equivalent_diameter_mm,
            if sec.open { " · open" } else { "" }
        ),
        egui::FontId::proportional(11.5),
        Color32::from_gray(220),
    );
}

/// The point under the pointer in either plot becomes the hovered one; its figures below.
fn hover_and_readout(
    ui: &mut egui::Ui,
    path: &CatheterPath,
    r: &crate::catheter::PathReport,
    hovered: Option<usize>,
    pui: &mut PathUi,
    plots: &[&Shown],
) {
    let pointer = plots
        .iter()
        .find(|p| p.response.hovered())
        .and_then(|p| p.inner);
    if let Some(at) = pointer {
        let i = r
            .along_mm
            .partition_point(|&a| a < at.x)
            .min(r.along_mm.len() - 1);
        pui.hover = Some((path.id, i));
    } else if !pui.hover_from_view && pui.hover.is_some_and(|(id, _)| id == path.id) {
        pui.hover = None;
    }
    pui.hover_from_view = false;
    if let Some(i) = hovered {
        let sfar = path
            .fit
            .as_ref()
            .and_then(|f| f.sfar.get(i))
            .map_or(String::new(), |s| format!(", SFAR {s:.2}"));
        ui.label(
            RichText::new(format!(
                "{:.1} mm from the entry: lumen {:.1} × {:.1} mm (area-equivalent {:.1}){sfar}",
                r.along_mm[i],
                r.min_diameters_mm[i],
                r.max_diameters_mm[i],
                r.area_equivalent_diameters_mm[i]
            ))
            .small(),
        );
    }
}

/// Paths over a view: on a slice the path itself (dimmed away from the slice), in 3D only
/// its stops (the tube is in the scene); the hovered point, the narrowest point, and the
/// break in the lumen of a path that could not be planned.
pub fn draw(
    painter: &egui::Painter,
    doc: &PlanDoc,
    pui: &PathUi,
    at: &dyn Fn(&P) -> Option<(Pos2, f32)>,
    seg: &dyn Fn(&P, &P) -> f32,
    in_3d: bool,
) {
    for path in doc.plan().paths.iter().filter(|p| p.visible) {
        let colour = colour32(path.colour);
        if let Some(r) = report_of(path)
            && !in_3d
        {
            let colours = tube::point_colours(r, path.fit.as_ref());
            for (k, w) in r.points_lps_mm.windows(2).enumerate() {
                let alpha = seg(&w[0], &w[1]);
                if alpha <= 0.0 {
                    continue;
                }
                if let (Some((a, _)), Some((b, _))) = (at(&w[0]), at(&w[1])) {
                    let c = colour32(if path.fit.is_some() {
                        colours[k]
                    } else {
                        path.colour
                    });
                    painter.line_segment(
                        [a, b],
                        Stroke::new(4.0, Color32::from_black_alpha((150.0 * alpha) as u8)),
                    );
                    painter.line_segment([a, b], Stroke::new(2.5, c.gamma_multiply(alpha)));
                }
            }
        }
        // Labels run away from the path: an entry left of its target is labelled leftward.
        let target_x = at(&path.target_lps_mm).map(|(q, _)| q.x);
        for (p, name) in path.stops() {
            if let Some((q, alpha)) = at(&p)
                && alpha > 0.0
            {
                painter.circle(
                    q,
                    5.0,
                    colour.gamma_multiply(alpha),
                    Stroke::new(1.5, Color32::BLACK),
                );
                let selected = pui.selected == Some(path.id);
                if name == "entry" || (name == "target" && selected) {
                    let leftward = name == "entry" && target_x.is_some_and(|x| q.x < x);
                    let (offset, align, text) = match (name.as_str(), leftward) {
                        ("entry", true) => (
                            egui::vec2(-8.0, 6.0),
                            egui::Align2::RIGHT_TOP,
                            path.name.clone(),
                        ),
                        ("entry", false) => (
                            egui::vec2(8.0, 6.0),
                            egui::Align2::LEFT_TOP,
                            path.name.clone(),
                        ),
                        _ => (
                            egui::vec2(8.0, -8.0),
                            egui::Align2::LEFT_BOTTOM,
                            format!("{} target", path.name),
                        ),
                    };
                    painter.text(
                        q + offset,
                        align,
                        text,
                        egui::FontId::proportional(12.5),
                        colour.gamma_multiply(alpha.max(0.6)),
                    );
                }
            }
        }
        if let Some(r) = report_of(path)
            && let Some((q, alpha)) = at(&r.min_lumen_position_lps_mm)
            && alpha > 0.0
        {
            painter.circle_stroke(
                q,
                7.0,
                Stroke::new(2.0, Color32::from_rgb(240, 120, 90).gamma_multiply(alpha)),
            );
            painter.text(
                q + egui::vec2(10.0, 6.0),
                egui::Align2::LEFT_TOP,
                format!("narrowest {:.1} mm", r.min_lumen_diameter_mm),
                egui::FontId::proportional(12.0),
                Color32::from_rgb(240, 150, 120).gamma_multiply(alpha.max(0.6)),
            );
        }
    }
    if let Some((id, i)) = pui.hover
        && let Some(path) = doc.plan().paths.iter().find(|p| p.id == id && p.visible)
        && let Some(r) = report_of(path)
        && let Some(p) = r.points_lps_mm.get(i)
        && let Some((q, alpha)) = at(p)
        && alpha > 0.0
    {
        painter.circle_stroke(q, 9.0, Stroke::new(2.5, Color32::WHITE));
        painter.text(
            q + egui::vec2(12.0, -12.0),
            egui::Align2::LEFT_BOTTOM,
            format!("{:.0} mm · {:.1} mm", r.along_mm[i], r.min_diameters_mm[i]),
            egui::FontId::proportional(13.0),
            Color32::WHITE,
        );
    }
    if let Some(Failure {
        gap: Some((a, b)), ..
    }) = &pui.failure
        && let (Some((pa, _)), Some((pb, _))) = (at(a), at(b))
    {
        let red = Color32::from_rgb(240, 90, 70);
        let n = 12;
        for k in (0..n).step_by(2) {
            let f = |t: f32| pa + (pb - pa) * t;
            painter.line_segment(
                [f(k as f32 / n as f32), f((k + 1) as f32 / n as f32)],
                Stroke::new(2.0, red),
            );
        }
        painter.circle(pa, 5.0, red, Stroke::new(1.5, Color32::BLACK));
        let gap = ((a[0] - b[0]).powi(2) + (a[1] - b[1]).powi(2) + (a[2] - b[2]).powi(2)).sqrt();
        painter.text(
            pa + egui::vec2(8.0, 8.0),
            egui::Align2::LEFT_TOP,
            format!("the lumen ends here: {gap:.1} mm short"),
            egui::FontId::proportional(12.5),
            red,
        );
    }
}

/// The point of a visible path nearest the pointer in the 3D view, within 10 pixels.
pub fn hover_in_view(
    doc: &PlanDoc,
    pui: &mut PathUi,
    pointer: Pos2,
    screen: &dyn Fn(&P) -> Option<Pos2>,
) {
    let mut best: Option<(f32, u64, usize)> = None;
    for path in doc.plan().paths.iter().filter(|p| p.visible) {
        let Some(r) = report_of(path) else { continue };
        for (i, p) in r.points_lps_mm.iter().enumerate() {
            if let Some(q) = screen(p) {
                let d = q.distance(pointer);
                if d < 10.0 && best.is_none_or(|b| d < b.0) {
                    best = Some((d, path.id, i));
                }
            }
        }
    }
    if let Some((_, id, i)) = best {
        pui.hover = Some((id, i));
        pui.hover_from_view = true;
        if pui.selected.is_none() {
            pui.selected = Some(id);
        }
    }
}

/// A path's tube entity in the 3D scene.
#[derive(Component)]
pub struct PathTube;

/// What the tubes were last built from: per visible path, its id, points, device size and
/// fit (by their figures), so the scene is rebuilt only when one of those changes.
type TubeKey = Vec<(u64, usize, u64, u64)>;

fn tube_key(doc: &PlanDoc) -> TubeKey {
    doc.plan()
        .paths
        .iter()
        .filter(|p| p.visible)
        .filter_map(|p| {
            let r = report_of(p)?;
            Some((
                p.id,
                r.points_lps_mm.len(),
                p.device
                    .as_ref()
                    .map_or(0, |d| d.outer_diameter_mm.to_bits()),
                p.fit.as_ref().map_or(0, |f| f.max_sfar.to_bits()) ^ r.length_mm.to_bits(),
            ))
        })
        .collect()
}

/// The tubes follow the plan: a tube of the device's diameter (2 mm without one) per
/// visible path, coloured by clearance.
#[allow(clippy::too_many_arguments)]
fn sync_tubes(
    mut commands: Commands,
    doc: Res<PlanDoc>,
    mut meshes: ResMut<Assets<Mesh>>,
    mut materials: ResMut<Assets<StandardMaterial>>,
    mut redraw: ResMut<SceneRedraw>,
    mut last: Local<TubeKey>,
    q: Query<Entity, With<PathTube>>,
) {
    let key = tube_key(&doc);
    if key == *last {
        return;
    }
    *last = key;
    for e in &q {
        commands.entity(e).despawn();
    }
    for path in doc.plan().paths.iter().filter(|p| p.visible) {
        let Some(r) = report_of(path) else { continue };
        let radius = path
            .device
            .as_ref()
            .map_or(1.0, |d| 0.5 * d.outer_diameter_mm);
        let colours = if path.fit.is_some() {
            tube::point_colours(r, path.fit.as_ref())
        } else {
            vec![path.colour; r.points_lps_mm.len()]
        };
        let t = tube::tube(&r.points_lps_mm, radius, &colours);
        if t.indices.is_empty() {
            continue;
        }
        let mut mesh = Mesh::new(
            PrimitiveTopology::TriangleList,
            RenderAssetUsages::default(),
        );
        mesh.insert_attribute(Mesh::ATTRIBUTE_POSITION, t.positions_lps_mm);
        mesh.insert_attribute(Mesh::ATTRIBUTE_NORMAL, t.normals);
        // The colours are sRGB; the mesh's vertex colours are linear.
        let linear: Vec<[f32; 4]> = t
            .colours
            .iter()
            .map(|c| {
                let l = Color::srgb(c[0], c[1], c[2]).to_linear();
                [l.red, l.green, l.blue, c[3]]
            })
            .collect();
        mesh.insert_attribute(Mesh::ATTRIBUTE_COLOR, linear);
        mesh.insert_indices(Indices::U32(t.indices));
        commands.spawn((
            PathTube,
            Mesh3d(meshes.add(mesh)),
            MeshMaterial3d(materials.add(StandardMaterial {
                base_color: Color::WHITE,
                perceptual_roughness: 0.45,
                reflectance: 0.4,
                ..default()
            })),
            Transform::IDENTITY,
            Visibility::Inherited,
        ));
    }
    redraw.request_frames(3, "paths changed");
}

/// The tubes in the scene.
pub struct PathsPlugin;

impl Plugin for PathsPlugin {
    fn build(&self, app: &mut App) {
        app.init_resource::<PathUi>().add_systems(
            Update,
            (
                pump_paths
                    .in_set(Step::Results)
                    .after(super::state::poll_jobs),
                sync_tubes.in_set(Step::Follow),
            ),
        );
    }
}

/// The catheter tool's background work: what its panel and input asked for is started as
/// jobs, and what the jobs handed back is taken (shown by the panel in this frame).
fn pump_paths(mut pui: ResMut<PathUi>, mut jobs: ResMut<Jobs>) {
    let busy = !pui.requests.is_empty()
        || pui.job.is_some()
        || pui.drag.is_some()
        || pui
            .lumens
            .values()
            .any(|(_, s)| matches!(s, LumenSlot::Growing(_)));
    if busy {
        pui.pump(&mut jobs);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::catheter::search::tests::u_tube;

    /// A planned path in the U-tube: entry low in one leg, target low in the other.
    fn planned(lumen: &Lumen) -> CatheterPath {
        let mut path = CatheterPath::through(
            1,
            "Path 1".into(),
            PathVessel::Grown {
                source: Source::Range { lo: 0.5, hi: 1.5 },
                seeds_lps_mm: vec![[15.0, 15.0, 20.0]],
            },
            &[[15.0, 15.0, 20.0], [45.0, 15.0, 20.0]],
            COLOURS[0],
        );
        let voxels = lumen.path(&path.stops(), &Progress::new()).expect("path");
        path.report = Some(measure(lumen, &voxels));
        path
    }

    /// Runs the jobs and the tool for a moment, as the frame loop does.
    fn frame(pui: &mut PathUi, doc: &mut PlanDoc, jobs: &mut Jobs) {
        jobs.receive();
        pui.pump(jobs);
        pui.poll_drag(doc);
        std::thread::sleep(std::time::Duration::from_millis(5));
    }

    /// Runs frames until the drag is over (the job answers in well under a second here).
    fn settle(pui: &mut PathUi, doc: &mut PlanDoc, jobs: &mut Jobs) {
        let start = std::time::Instant::now();
        while pui.drag.is_some() {
            assert!(start.elapsed().as_secs() < 30, "the drag never ended");
            frame(pui, doc, jobs);
        }
    }

    #[test]
    fn dragging_a_stop_re_plans_the_path_and_is_one_undoable_step() {
        let lumen = Arc::new(Lumen::new(&u_tube(5.0, 0), &Progress::new()).expect("lumen"));
        let path = planned(&lumen);
        let mut doc = PlanDoc::default();
        assert!(doc.edit(Command::AddPath(path.clone())));
        let mut pui = PathUi::default();
        let mut jobs = Jobs::default();
        let key = path.lumen_recipe(&[]).expect("recipe");
        pui.lumens
            .insert(path.id, (key, LumenSlot::Ready(lumen.clone())));

        // The target dragged up the leg and then into the bend.
        pui.begin_drag(&[], &path, 1).expect("drag starts");
        pui.drag_move([45.0, 15.0, 40.0]);
        pui.drag_move([40.0, 15.0, 72.0]);
        if let Some(d) = &mut pui.drag {
            d.released = true;
        }
        settle(&mut pui, &mut doc, &mut jobs);
        let now = doc.plan().paths[0].clone();
        assert_eq!(now.target_lps_mm, [40.0, 15.0, 72.0]);
        // The figures are those of a path planned afresh through the moved target.
        let fresh = measure(
            &lumen,
            &lumen.path(&now.stops(), &Progress::new()).expect("path"),
        );
        let report = now.report.as_ref().expect("report");
        assert!((report.length_mm - fresh.length_mm).abs() < 1e-6);
        assert!(report.length_mm < path.report.as_ref().expect("report").length_mm);
        // One step back to where the drag began.
        assert!(doc.undo().is_some());
        assert_eq!(doc.plan().paths[0], path);
        assert!(doc.undo().is_some()); // the path's addition
        assert!(doc.plan().paths.is_empty());
    }

    #[test]
    fn a_stop_dragged_out_of_reach_stays_at_the_last_reachable_place() {
        let lumen = Arc::new(Lumen::new(&u_tube(5.0, 0), &Progress::new()).expect("lumen"));
        let mut path = planned(&lumen);
        path.device = Some(Catalogue::bundled().devices[0].clone());
        let mut doc = PlanDoc::default();
        assert!(doc.edit(Command::AddPath(path.clone())));
        let mut pui = PathUi::default();
        let mut jobs = Jobs::default();
        let key = path.lumen_recipe(&[]).expect("recipe");
        pui.lumens.insert(path.id, (key, LumenSlot::Ready(lumen)));
        // The entry: first along its leg, then into the separate tube beside the U.
        pui.begin_drag(&[], &path, 0).expect("drag starts");
        pui.drag_move([15.0, 15.0, 30.0]);
        // Let the first move be answered before the next.
        let start = std::time::Instant::now();
        while pui.drag.as_ref().is_some_and(|d| d.answered < 1) {
            assert!(start.elapsed().as_secs() < 30);
            frame(&mut pui, &mut doc, &mut jobs);
        }
        pui.drag_move([63.0, 15.0, 30.0]);
        if let Some(d) = &mut pui.drag {
            d.released = true;
        }
        settle(&mut pui, &mut doc, &mut jobs);
        let now = &doc.plan().paths[0];
        assert_eq!(now.entry_lps_mm, [15.0, 15.0, 30.0]);
        // The device's fit follows the moved path; the lumen stays the one it was grown in.
        assert!(now.fit.is_some());
        assert_eq!(now.lumen_recipe(&[]), path.lumen_recipe(&[]));
        // Where the lumen breaks is shown, never bridged.
        let f = pui.failure.as_ref().expect("the refusal is said");
        assert!(f.message.contains("cannot be reached"), "{}", f.message);
        assert!(f.message.starts_with("The entry stays at its last place"));
        assert!(f.gap.is_some());
    }

    #[test]
    fn a_drag_needs_the_paths_lumen_ready() {
        let lumen = Lumen::new(&u_tube(5.0, 0), &Progress::new()).expect("lumen");
        let path = planned(&lumen);
        let mut pui = PathUi::default();
        assert!(pui.begin_drag(&[], &path, 0).is_err());
        assert!(pui.drag.is_none());
    }
}
