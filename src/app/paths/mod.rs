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

use super::document::{DocWriter, PlanDoc};
use super::jobs::{Jobs, Latest};
use super::markups::MarkupTool;
use super::scene::SceneAssets;
use super::state::{Step, ViewState, Workspace};
use crate::catheter::devices::Concern;
use crate::catheter::{
    Catalogue, Lumen, PathError, PathReport, PlanningError, Replan, fit, measure, reformat,
    section, tube,
};
use crate::document::Command;
use crate::geometry::P;
use crate::plan::recipe::Source;
use crate::plan::{CatheterPath, LumenRecipe, PathVessel, PlanStructure};
use crate::progress::Progress;
use crate::segment::Preset;

mod drag;
mod draw;
mod panel;
mod plots;
mod views;
pub use drag::*;
pub use draw::*;
pub use panel::*;
use plots::*;
use views::*;

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

/// What a re-planning job hands back: the path measured again in its changed lumen (or
/// why it no longer passes), with that lumen when it could be grown.
type ReplanResult = (CatheterPath, Option<(LumenKey, Arc<Lumen>)>);

/// Work that plans a path, or grows a lumen, given the job's progress.
type PlanWork = Box<dyn FnOnce(&Progress) -> JobResult + Send + Sync>;
type GrowWork = Box<dyn FnOnce(&Progress) -> Option<Lumen> + Send + Sync>;
type ReplanWork = Box<dyn FnOnce(&Progress) -> ReplanResult + Send + Sync>;

/// Background work the paths' panel and input ask for; the paths' system starts it as
/// jobs ([`PathUi::pump`]): nothing here starts a thread.
enum Request {
    /// Plan a new path through these stops.
    Plan(PlanWork),
    /// Grow the lumen of a path again (read from a plan, or its vessel changed).
    Grow(u64, LumenKey, GrowWork),
    /// Re-plan the dragged stop for each move.
    Drag(Arc<Lumen>, Vec<(P, String)>, usize),
    /// Plan a path again because its lumen changed (its vessel edited, a no-go structure).
    Replan(u64, ReplanWork),
}

/// How a lumen was made: values, seeds, hand edits, no-go structures.
type LumenKey = LumenRecipe;

/// The lumen of a path, kept for its cross-sections and for dragging its stops: ready, or
/// being grown again (a path read from a plan file, or its vessel's recipe changed).
enum LumenSlot {
    Ready(Arc<Lumen>),
    /// Being grown (the job, once started).
    Growing(Option<u64>),
    /// Being grown by the path's re-planning.
    Replanning,
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
    /// The path whose fly-through was moved or played: the views follow its slider.
    pub fly_on: Option<u64>,
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
    /// Each path's stops and lumen recipe as its figures were last measured (or read from
    /// the plan file): when either changes otherwise than by a drag, it is planned again.
    measured_in: HashMap<u64, (Vec<P>, LumenKey)>,
    /// Paths whose vessel is gone (their figures cleared): planned again when it is back.
    vesselless: std::collections::HashSet<u64>,
    /// Re-planning jobs running (path id → job) and their answers not yet in the plan.
    replans: HashMap<u64, Option<u64>>,
    replanned: Vec<ReplanResult>,
}

impl PathUi {
    /// Starts planning through `stops` (entry, waypoints, target) in the vessels' lumen.
    pub fn start(&mut self, ws: &Workspace, doc: &mut DocWriter, stops: Vec<P>) {
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
        let key = match probe.lumen_recipe(&doc.plan().structures) {
            Ok(r) => r,
            Err(message) => {
                self.failure = Some(Failure { message, gap: None });
                return;
            }
        };
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
        self.requests
            .push(Request::Plan(Box::new(move |p: &Progress| {
                let constraints = key
                    .constraints(&volume, p)
                    .map_err(|message| Failure { message, gap: None })?;
                match crate::catheter::plan(&volume, &named, key.spec, &key.seeds, &constraints, p)
                {
                    Ok(planned) => Ok((
                        CatheterPath {
                            report: Some(planned.report),
                            ..path
                        },
                        (key, Arc::new(planned.lumen)),
                    )),
                    Err(e) => Err(failure(&e, &named)),
                }
            })));
        self.failure = None;
        self.job = Some(PlanJob {
            id: None,
            progress: Progress::new(),
        });
    }

    /// Takes a finished plan job's path into the plan (an undoable edit).
    pub fn poll(&mut self, doc: &mut DocWriter) {
        let Some(result) = self.planned.take() else {
            return;
        };
        self.job = None;
        match result {
            Ok((path, (key, lumen))) => {
                let id = path.id;
                let stops = stop_points(&path);
                doc.edit(Command::AddPath(path));
                self.selected = Some(id);
                self.measured_in.insert(id, (stops, key.clone()));
                self.lumens.insert(id, (key, LumenSlot::Ready(lumen)));
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
                Request::Replan(path_id, work) => {
                    let id = jobs.task("planning a path again in its changed vessel", work);
                    self.replans.insert(path_id, Some(id));
                }
            }
        }
        let mut ended = Vec::new();
        for (&path_id, job) in &self.replans {
            let Some(id) = *job else { continue };
            if let Some(result) = jobs.take::<ReplanResult>(id) {
                self.replanned.push(result);
                ended.push(path_id);
            } else if !jobs.is_running(id) {
                ended.push(path_id);
            }
        }
        for path_id in ended {
            self.replans.remove(&path_id);
            // Cancelled: measured again at the next change.
            if !self.replanned.iter().any(|r| r.0.id == path_id) {
                self.measured_in.remove(&path_id);
                if let Some((_, slot @ LumenSlot::Replanning)) = self.lumens.get_mut(&path_id) {
                    *slot = LumenSlot::Failed;
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

    /// Plans again each path whose stops or lumen recipe changed since its figures were
    /// measured, otherwise than by its own drag (a drag measures as it goes): its vessel
    /// structure was edited or made again, a structure was made no-go or no longer is, an
    /// undo brought back other stops. A path first seen (read from a plan file) keeps the
    /// figures it was saved with. A path whose vessel is gone loses its figures (the
    /// reason stands instead) and is planned again when the vessel is back. The answers go
    /// into the plan as figures, no step of their own.
    pub fn follow(&mut self, ws: &Workspace, doc: &mut DocWriter) {
        for (path, lumen) in std::mem::take(&mut self.replanned) {
            if let Some((key, lumen)) = lumen {
                self.lumens.insert(path.id, (key, LumenSlot::Ready(lumen)));
            } else if let Some((_, slot @ LumenSlot::Replanning)) = self.lumens.get_mut(&path.id) {
                *slot = LumenSlot::Failed;
            }
            if self.selected == Some(path.id) && path.problem.is_none() {
                self.failure = None;
            }
            doc.refresh_path(path);
        }
        let Some(loaded) = &ws.loaded else { return };
        if self.lumens_revision != ws.volume_revision {
            self.lumens.clear();
            self.measured_in.clear();
            self.vesselless.clear();
            self.lumens_revision = ws.volume_revision;
        }
        let structures = &doc.plan().structures;
        let paths = &doc.plan().paths;
        self.measured_in
            .retain(|id, _| paths.iter().any(|p| p.id == *id));
        let mut cleared = Vec::new();
        for path in paths {
            if self.drag.as_ref().is_some_and(|d| d.path_id == path.id)
                || self.replans.contains_key(&path.id)
            {
                continue;
            }
            let key = match path.lumen_recipe(structures) {
                Ok(key) => key,
                // Its vessel is gone (removed, or made of no values): no figures stand; it
                // is planned again if the vessel comes back (an undo).
                Err(why) => {
                    self.vesselless.insert(path.id);
                    if path.report.is_some() || path.problem.as_deref() != Some(why.as_str()) {
                        let mut p = path.clone();
                        p.report = None;
                        p.fit = None;
                        p.problem = Some(why);
                        cleared.push(p);
                    }
                    continue;
                }
            };
            let now = (stop_points(path), key);
            let came_back = self.vesselless.remove(&path.id);
            match self.measured_in.get(&path.id) {
                None if !came_back => {
                    self.measured_in.insert(path.id, now);
                    continue;
                }
                Some(was) if *was == now && !came_back => continue,
                _ => {}
            }
            self.measured_in.insert(path.id, now.clone());
            let key = now.1;
            let volume = loaded.volume.clone();
            let path = path.clone();
            self.lumens
                .insert(path.id, (key.clone(), LumenSlot::Replanning));
            self.replans.insert(path.id, None);
            self.requests.push(Request::Replan(
                path.id,
                Box::new(move |p: &Progress| replan(&volume, path, key, p)),
            ));
        }
        for p in cleared {
            doc.refresh_path(p);
        }
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
        if self.replans.contains_key(&path.id) {
            return None;
        }
        let volume = ws.loaded.as_ref()?.volume.clone();
        let made = key.clone();
        let stops = path.stops();
        self.requests.push(Request::Grow(
            path.id,
            key.clone(),
            Box::new(move |p: &Progress| {
                let constraints = made.constraints(&volume, p).ok()?;
                crate::catheter::lumen_for(&volume, made.spec, &stops, &made.seeds, &constraints, p)
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

/// A path's stops (entry, waypoints, target) as points.
fn stop_points(path: &CatheterPath) -> Vec<P> {
    path.stops().into_iter().map(|(p, _)| p).collect()
}

/// Plans `path` again through its own stops in the lumen `key` makes: its figures (and its
/// device's fit), or why it no longer passes; and that lumen.
fn replan(
    volume: &crate::volume::Volume,
    mut path: CatheterPath,
    key: LumenKey,
    progress: &Progress,
) -> ReplanResult {
    let stops = path.stops();
    let planned = key
        .constraints(volume, progress)
        .map_err(|message| Failure { message, gap: None })
        .and_then(|c| {
            crate::catheter::plan(volume, &stops, key.spec, &key.seeds, &c, progress)
                .map_err(|e| failure(&e, &stops))
        });
    match planned {
        Ok(planned) => {
            path.fit = path.device.as_ref().map(|d| fit(&planned.report, d));
            path.report = Some(planned.report);
            path.problem = None;
            (path, Some((key, Arc::new(planned.lumen))))
        }
        Err(f) => {
            path.report = None;
            path.fit = None;
            path.problem = Some(f.message);
            (path, None)
        }
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
        || !pui.replans.is_empty()
        || pui
            .lumens
            .values()
            .any(|(_, s)| matches!(s, LumenSlot::Growing(_)));
    if busy {
        pui.pump(&mut jobs);
    }
}

#[cfg(test)]
mod tests;
