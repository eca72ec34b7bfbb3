//! Dragging a path's stop (entry, waypoint or target) in any view: the path re-planned for
//! every move on a worker (trees grown once from the stops beside the dragged one, each
//! move traced back through them), shown as it goes, and one undoable step when the
//! pointer is let go; a move out of the lumen's reach leaves the stop at its last place.
//! Part of the catheter tool (`paths`); egui only.

use super::*;
/// What the drag's worker answers: ready (the trees are grown), cannot start, or the path
/// for the `seq`-th move (or why there is none there).
pub(super) enum DragAnswer {
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
    pub(super) before: CatheterPath,
    /// The re-planning job (None until started; dropped to end it).
    pub(super) moves: Option<Latest<(usize, P)>>,
    /// Moves made before the job started (the newest is sent when it does).
    pub(super) early: Option<(usize, P)>,
    /// The job has ended (it could not start, or was cancelled from the status bar).
    pub(super) gone: bool,
    /// Answers taken from the job, not yet shown.
    pub(super) answers: Vec<DragAnswer>,
    /// The last move sent, and the last answered.
    pub(super) asked: usize,
    pub(super) answered: usize,
    /// Where the last move asked the stop to be.
    pub(super) at: Option<P>,
    /// The pointer was let go: the drag ends when the last move is answered.
    pub(super) released: bool,
    pub ready: bool,
    /// The lumen recipe it plans in, and the stops of the last move planned.
    pub(super) key: LumenKey,
    pub(super) last_stops: Option<Vec<P>>,
}

impl PathUi {
    /// Begins dragging stop `index` of `path`: a worker grows the trees from the stops
    /// beside it in the path's lumen, then re-plans the path for every move it is sent.
    pub(super) fn begin_drag(
        &mut self,
        structures: &[PlanStructure],
        path: &CatheterPath,
        index: usize,
    ) -> Result<(), String> {
        let lumen = self.ready_lumen(structures, path).ok_or_else(|| {
            "the vessel is still being prepared for this path: try again in a moment".to_string()
        })?;
        let key = path.lumen_recipe(structures)?;
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
            key,
            last_stops: None,
        });
        Ok(())
    }

    /// The dragged stop is asked to be at `p`.
    pub(super) fn drag_move(&mut self, p: P) {
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
    pub(super) fn start_drag_job(
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
    pub fn poll_drag(&mut self, doc: &mut DocWriter) {
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
                    d.last_stops = Some(stop_points(&moved));
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
            // The drag measured the path where it was let go.
            if let Some(stops) = d.last_stops.take() {
                let mut key = d.key.clone();
                // An entry dragged keeps the lumen it was grown from (see above).
                if let PathVessel::Grown { seeds_lps_mm, .. } = &before.vessel
                    && seeds_lps_mm.is_empty()
                    && d.index == 0
                {
                    key.seeds = vec![before.entry_lps_mm];
                }
                self.measured_in.insert(before.id, (stops, key));
            }
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
pub(super) fn grab_stop(
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
    doc: &mut DocWriter,
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
