//! Dragging a path's stop: re-planned live through the jobs, one undoable step, never bridged.

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
    let mut edits = super::super::document::DocEdits::default();
    pui.poll_drag(&mut DocWriter::new(doc, &mut edits));
    doc.take(&mut edits);
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

/// The path row's "Lumen" button, clicked through egui's own input, adds the lumen the
/// path is planned in as a structure (the seeded vessels preset, grown from its stops),
/// one undoable step.
#[test]
fn the_lumen_button_adds_the_paths_lumen_as_a_structure() {
    let lumen = Lumen::new(&u_tube(5.0, 0), &Progress::new()).expect("lumen");
    let path = planned(&lumen);
    let mut doc = PlanDoc::default();
    assert!(doc.edit(Command::AddPath(path.clone())));
    let ws = Workspace::default();
    let (mut tool, mut pui) = (MarkupTool::default(), PathUi::default());
    let ctx = egui::Context::default();
    // Runs the panel once with `events`; answers where the button's label was drawn.
    let mut run = |doc: &mut PlanDoc, events: Vec<egui::Event>| {
        let mut edits = super::super::document::DocEdits::default();
        let input = egui::RawInput {
            screen_rect: Some(egui::Rect::from_min_size(
                egui::Pos2::ZERO,
                egui::vec2(600.0, 800.0),
            )),
            events,
            ..Default::default()
        };
        let mut out = ctx.run_ui(input, |ui| {
            let mut writer = DocWriter::new(doc, &mut edits);
            paths_panel(ui, &ws, &mut writer, &mut tool, &mut pui);
        });
        out.textures_delta.clear();
        doc.take(&mut edits);
        out.shapes.iter().find_map(|c| match &c.shape {
            egui::Shape::Text(t) if t.galley.text() == "Lumen" => {
                Some(t.galley.rect.translate(t.pos.to_vec2()).center())
            }
            _ => None,
        })
    };
    run(&mut doc, Vec::new());
    let at = run(&mut doc, Vec::new()).expect("the Lumen button is drawn");
    let press = |pressed| egui::Event::PointerButton {
        pos: at,
        button: egui::PointerButton::Primary,
        pressed,
        modifiers: egui::Modifiers::NONE,
    };
    run(&mut doc, vec![egui::Event::PointerMoved(at), press(true)]);
    run(&mut doc, vec![press(false)]);
    let added = doc.plan().structures.last().expect("a structure was added");
    assert_eq!(added.recipe.name, "lumen of Path 1");
    assert!(matches!(
        added.recipe.options().map(|o| o.selection),
        Some(crate::surface::Selection::Lumen)
    ));
    assert_eq!(added.recipe.seeds_mm.len(), 3, "the two stops and the seed");
    assert!(doc.undo().is_some(), "one undoable step");
    assert!(doc.plan().structures.is_empty());
}
