//! The document's commands: each one undone by its inverse, and any sequence of them undone step
//! by step back to the start and redone to the same end (a property test).

use super::*;
use crate::geometry::P;
use crate::plan::recipe::{Recipe, Source};
use crate::plan::tests::markup;
use crate::plan::{CameraBookmark, CatheterPath, MarkupKind, PathVessel, Plan, PlanStructure};
use proptest::prelude::*;

fn recipe(name: &str) -> Recipe {
    Recipe {
        name: name.into(),
        source: Source::Range {
            lo: 150.0,
            hi: 3000.0,
        },
        seeds_mm: Vec::new(),
        colour: [0.9, 0.86, 0.74],
        opacity: 1.0,
        max_triangles: None,
        edits: Vec::new(),
        no_go: false,
    }
}

#[test]
fn each_edit_is_undone_by_what_it_returns() {
    let mut plan = Plan::default();
    let id = plan.new_id();
    let start = plan.clone();
    let inv = plan
        .apply(Command::AddMarkup(markup(
            id,
            MarkupKind::Distance,
            vec![[0.0; 3], [3.0, 4.0, 0.0]],
        )))
        .expect("add");
    assert_eq!(plan.markups[0].label(), "5.0 mm");
    let mut after_add = plan.clone();
    let moved = plan
        .apply(Command::SetPoints {
            id,
            points: vec![[0.0; 3], [6.0, 8.0, 0.0]],
        })
        .expect("move");
    assert_eq!(plan.markups[0].label(), "10.0 mm");
    plan.apply(moved).expect("undo move");
    assert_eq!(plan, after_add);
    // Wrong point counts, locked markups and unknown ids change nothing.
    let e = plan.apply(Command::SetPoints {
        id,
        points: vec![[0.0; 3]],
    });
    assert!(matches!(
        e,
        Err(EditError::WrongPointCount {
            needed: 2,
            given: 1,
            ..
        })
    ));
    plan.apply(Command::SetLocked { id, locked: true })
        .expect("lock");
    let locked = plan.clone();
    assert!(matches!(
        plan.apply(Command::SetPoints {
            id,
            points: vec![[1.0; 3], [2.0; 3]]
        }),
        Err(EditError::Locked(_))
    ));
    assert_eq!(plan, locked);
    assert_eq!(
        plan.apply(Command::RemoveMarkup(999)),
        Err(EditError::NoMarkup(999))
    );
    plan.apply(Command::SetLocked { id, locked: false })
        .expect("unlock");
    after_add = plan.clone();
    assert_eq!(plan, after_add);
    plan.apply(inv).expect("undo add");
    assert_eq!(plan.markups, start.markups);
    // A failing batch is rolled back whole.
    let mut p2 = Plan::default();
    let a = p2.new_id();
    let before = p2.clone();
    let r = p2.apply(Command::Batch(
        "import".into(),
        vec![
            Command::AddMarkup(markup(a, MarkupKind::Landmark, vec![[1.0, 2.0, 3.0]])),
            Command::RemoveStructure(42),
        ],
    ));
    assert_eq!(r, Err(EditError::NoStructure(42)));
    assert_eq!(p2, before);
}

#[test]
fn history_names_what_it_undoes_and_forgets_the_oldest() {
    let mut plan = Plan::default();
    let mut h = History::with_limit(3);
    for k in 0..5 {
        let id = plan.new_id();
        h.apply(
            &mut plan,
            Command::AddMarkup(markup(id, MarkupKind::Landmark, vec![[k as f64, 0.0, 0.0]])),
        )
        .expect("add");
    }
    assert_eq!(h.undo_label(), Some("add landmark 5"));
    let s = plan.new_id();
    h.apply(
        &mut plan,
        Command::AddStructure(PlanStructure {
            id: s,
            recipe: recipe("bone"),
            visible: true,
        }),
    )
    .expect("structure");
    let mut changed = recipe("bone");
    changed.opacity = 0.4;
    h.apply(
        &mut plan,
        Command::SetRecipe {
            id: s,
            recipe: changed,
        },
    )
    .expect("recipe");
    assert_eq!(h.undo_label(), Some("opacity of bone"));
    assert_eq!(h.undo(&mut plan).as_deref(), Some("opacity of bone"));
    assert_eq!(h.redo_label(), Some("opacity of bone"));
    assert_eq!(plan.structures[0].recipe.opacity, 1.0);
    assert_eq!(h.undo(&mut plan).as_deref(), Some("add structure bone"));
    assert_eq!(h.undo(&mut plan).as_deref(), Some("add landmark 5"));
    assert_eq!(h.undo(&mut plan), None, "only three steps are kept");
    assert_eq!(plan.markups.len(), 4);
}

#[test]
fn a_merged_drag_is_one_step_back_to_where_it_began() {
    let mut plan = Plan::default();
    let mut h = History::default();
    let s = plan.new_id();
    h.apply(
        &mut plan,
        Command::AddStructure(PlanStructure {
            id: s,
            recipe: recipe("skin"),
            visible: true,
        }),
    )
    .expect("structure");
    for (k, opacity) in [0.9f32, 0.7, 0.5, 0.3].into_iter().enumerate() {
        let mut r = recipe("skin");
        r.opacity = opacity;
        h.apply_merged(&mut plan, Command::SetRecipe { id: s, recipe: r }, k > 0)
            .expect("recipe");
    }
    assert_eq!(plan.structures[0].recipe.opacity, 0.3);
    assert_eq!(h.undo(&mut plan).as_deref(), Some("opacity of skin"));
    assert_eq!(
        plan.structures[0].recipe.opacity, 1.0,
        "back to before the drag"
    );
    assert_eq!(h.undo(&mut plan).as_deref(), Some("add structure skin"));
    assert!(plan.structures.is_empty());
    assert!(h.redo(&mut plan).is_some() && h.redo(&mut plan).is_some());
    assert_eq!(
        plan.structures[0].recipe.opacity, 0.3,
        "redo reaches the drag's end"
    );
}

/// A random command that may or may not apply to the plan as it is (ids drawn from a small
/// range so commands hit existing items often): every kind of [`Command`].
fn edit_strategy() -> impl Strategy<Value = (u8, u64, Vec<[f64; 3]>, String, bool)> {
    (
        0u8..24,
        1u64..8,
        prop::collection::vec(prop::array::uniform3(-300.0f64..300.0), 0..6),
        "[a-z ]{0,12}",
        any::<bool>(),
    )
}

fn build_edit(
    plan: &Plan,
    (op, id, points, text, flag): (u8, u64, Vec<P>, String, bool),
) -> Command {
    let kinds = [
        MarkupKind::Distance,
        MarkupKind::Angle,
        MarkupKind::LineAngle,
        MarkupKind::Landmark,
        MarkupKind::Curve,
        MarkupKind::ClosedCurve,
    ];
    let kind = kinds[(id as usize) % kinds.len()];
    let fit = |mut p: Vec<P>, k: MarkupKind| {
        let n = k.points_needed().unwrap_or(p.len().max(k.min_points()));
        p.resize(n, [1.0, 2.0, 3.0]);
        p
    };
    let existing_kind = plan.markup(id).map_or(kind, |m| m.kind);
    let at = (id as usize) % 3;
    match op {
        0 => Command::AddMarkup(markup(id, kind, fit(points, kind))),
        1 => Command::InsertMarkup(
            at.min(plan.markups.len()),
            markup(id, kind, fit(points, kind)),
        ),
        2 => Command::RemoveMarkup(id),
        3 | 4 => Command::SetPoints {
            id,
            points: if flag {
                fit(points, existing_kind)
            } else {
                points
            },
        },
        5 => Command::Rename { id, name: text },
        6 => Command::SetColour {
            id,
            colour: [0.1, 0.5, if flag { 1.0 } else { 0.0 }],
        },
        7 => Command::SetVisible { id, visible: flag },
        8 => Command::SetLocked { id, locked: flag },
        9 => Command::AddStructure(PlanStructure {
            id: id + 100,
            recipe: recipe(&text),
            visible: flag,
        }),
        10 => Command::InsertStructure(
            at.min(plan.structures.len()),
            PlanStructure {
                id: id + 100,
                recipe: recipe(&text),
                visible: flag,
            },
        ),
        11 => Command::RemoveStructure(id + 100),
        12 => {
            let mut r = recipe(&text);
            r.opacity = if flag { 0.3 } else { 1.0 };
            Command::SetRecipe {
                id: id + 100,
                recipe: r,
            }
        }
        13 => Command::SetStructureVisible {
            id: id + 100,
            visible: flag,
        },
        14 | 15 => {
            let b = CameraBookmark {
                name: format!("view {}", id % 3),
                eye_lps_mm: points.first().copied().unwrap_or([0.0, -500.0, 0.0]),
                target_lps_mm: [0.0; 3],
                up: [0.0, 0.0, 1.0],
            };
            if op == 14 {
                Command::AddBookmark(b)
            } else {
                Command::InsertBookmark(at.min(plan.bookmarks.len()), b)
            }
        }
        16 => Command::RemoveBookmark(format!("view {}", id % 3)),
        17 => Command::AddPath(catheter_path(id + 200, &text, points)),
        18 => Command::InsertPath(
            at.min(plan.paths.len()),
            catheter_path(id + 200, &text, points),
        ),
        19 => Command::RemovePath(id + 200),
        20 => {
            // Points moved (some not finite: refused) and the figures dropped with them.
            let mut p = catheter_path(id + 200, &text, points);
            if flag {
                p.target_lps_mm = [f64::NAN, 0.0, 0.0];
            }
            Command::SetPath(p)
        }
        21 => {
            // A step of several commands (an import); a refused one refuses the whole step.
            let a = build_edit(plan, (op % 9, id, points.clone(), text.clone(), flag));
            let b = build_edit(
                plan,
                ((op + id as u8) % 21, id + 1, points, text.clone(), !flag),
            );
            Command::Batch(text, vec![a, b])
        }
        _ => Command::SetNote { id, note: text },
    }
}

fn catheter_path(id: u64, name: &str, waypoints: Vec<P>) -> CatheterPath {
    CatheterPath {
        id,
        name: name.into(),
        vessel: PathVessel::Grown {
            source: Source::Range {
                lo: 150.0,
                hi: 600.0,
            },
            seeds_lps_mm: Vec::new(),
        },
        entry_lps_mm: [-59.0, -38.0, -600.0],
        waypoints_lps_mm: waypoints,
        target_lps_mm: [11.6, -1.4, -16.4],
        device: Some(crate::catheter::Device::custom(5.4, Some(20.0))),
        min_diameter_mm: None,
        colour: [0.2, 0.7, 0.9],
        visible: true,
        report: None,
        fit: None,
        problem: Some(name.into()),
    }
}

/// Any sequence of commands, of every kind, applied through the document (some as one
/// gesture), undone step by step returns exactly to the start and redone reaches exactly
/// the end; a refused command leaves the plan as it was. 1,024 random sequences.
#[test]
fn any_commands_undone_return_the_start_and_redone_reach_the_end() {
    use proptest::test_runner::{Config, TestRunner};
    let mut runner = TestRunner::new(Config {
        cases: 1024,
        failure_persistence: None,
        ..Config::default()
    });
    let applied_kinds = std::cell::RefCell::new(std::collections::BTreeSet::new());
    let strategy = (
        prop::collection::vec(edit_strategy(), 1..40),
        prop::collection::vec(edit_strategy(), 0..6),
    );
    runner
        .run(&strategy, |(edits, gesture)| {
            let mut doc = Document::default();
            // A non-empty start, so undo must restore content, not just empty the plan.
            doc.apply(Command::AddMarkup(markup(
                1,
                MarkupKind::Distance,
                vec![[0.0; 3], [1.0; 3]],
            )))
            .expect("seed markup");
            let start = doc.plan().clone();
            let steps0 = doc.undo_steps();
            let mut applied = 0;
            for e in edits {
                let edit = build_edit(doc.plan(), e);
                let kind = edit.kind();
                let before = doc.plan().clone();
                match doc.apply(edit) {
                    Ok(()) => {
                        applied += 1;
                        applied_kinds.borrow_mut().insert(kind);
                    }
                    Err(_) => prop_assert_eq!(doc.plan(), &before),
                }
            }
            // A gesture: any number of previews is one step (or none if nothing changed).
            let before_gesture = doc.plan().clone();
            for e in gesture {
                let edit = build_edit(doc.plan(), e);
                let _ = doc.preview(edit);
            }
            // (Ids handed out stay taken: `next_id` is not content.)
            let content = |p: &Plan| {
                (
                    p.markups.clone(),
                    p.structures.clone(),
                    p.bookmarks.clone(),
                    p.paths.clone(),
                )
            };
            let changed = content(doc.plan()) != content(&before_gesture);
            prop_assert_eq!(doc.commit_preview(), changed);
            if changed {
                applied += 1;
            }
            prop_assert_eq!(doc.undo_steps(), steps0 + applied);
            let end = doc.plan().clone();
            for _ in 0..applied {
                prop_assert!(doc.undo().is_some());
            }
            prop_assert_eq!(doc.undo_steps(), steps0);
            prop_assert_eq!(&doc.plan().markups, &start.markups);
            prop_assert_eq!(&doc.plan().structures, &start.structures);
            prop_assert_eq!(&doc.plan().bookmarks, &start.bookmarks);
            prop_assert_eq!(&doc.plan().paths, &start.paths);
            for _ in 0..applied {
                prop_assert!(doc.redo().is_some());
            }
            prop_assert_eq!(&doc.plan().markups, &end.markups);
            prop_assert_eq!(&doc.plan().structures, &end.structures);
            prop_assert_eq!(&doc.plan().bookmarks, &end.bookmarks);
            prop_assert_eq!(&doc.plan().paths, &end.paths);
            Ok(())
        })
        .expect("every sequence undoes and redoes exactly");
    let kinds = applied_kinds.into_inner();
    for k in Command::KINDS {
        assert!(kinds.contains(k), "no {k} command was ever applied");
    }
}

#[test]
fn a_gesture_is_one_step_a_save_none_and_an_open_starts_over() {
    let mut doc = Document::default();
    let id = doc.new_id();
    doc.apply(Command::AddMarkup(markup(
        id,
        MarkupKind::Distance,
        vec![[0.0; 3], [10.0, 0.0, 0.0]],
    )))
    .expect("add");
    let r0 = doc.revision();
    for x in 11..40 {
        doc.preview(Command::SetPoints {
            id,
            points: vec![[0.0; 3], [x as f64, 0.0, 0.0]],
        })
        .expect("drag");
    }
    assert!(doc.revision() > r0, "the drag shows");
    assert_eq!(doc.undo_steps(), 1, "no step while dragging");
    assert!(doc.commit_preview());
    assert_eq!(doc.undo_steps(), 2, "the drag is one step");
    assert_eq!(doc.undo_label(), Some("move distance 1"));
    assert_eq!(doc.undo().as_deref(), Some("move distance 1"));
    assert_eq!(doc.plan().markups[0].points_lps_mm[1], [10.0, 0.0, 0.0]);
    // A cancelled gesture leaves no trace.
    doc.preview(Command::Rename {
        id,
        name: "x".into(),
    })
    .expect("rename");
    doc.cancel_preview();
    assert_eq!(doc.plan().markups[0].name, "distance 1");
    assert!(!doc.commit_preview());
    // A save is no step: the history is as it was, and the plan is clean only if nothing
    // changed while it was written.
    let steps = doc.undo_steps();
    let rev = doc.revision();
    doc.saved(std::path::Path::new("/tmp/x.twinplan.json"), rev);
    assert!(!doc.dirty());
    assert_eq!(doc.undo_steps(), steps);
    doc.apply(Command::SetNote {
        id,
        note: "n".into(),
    })
    .expect("note");
    doc.saved(std::path::Path::new("/tmp/x.twinplan.json"), rev);
    assert!(doc.dirty(), "an edit made during the save stays unsaved");
    // Recovery of another study is refused, the plan untouched.
    let before = doc.plan().clone();
    assert!(!doc.recovered(crate::plan::recovery::Recovery {
        schema: "twinplan-recovery/1".into(),
        study: "/somewhere".into(),
        written_unix_s: 0,
        plan: crate::plan::file::PlanFile::new(other_reference(), Plan::default()),
        saved_as: None,
    }));
    assert_eq!(doc.plan(), &before);
}

fn other_reference() -> crate::plan::file::Reference {
    use nalgebra::Vector3;
    let g = crate::volume::Geometry::new(
        [4, 3, 2],
        [1.0; 3],
        [0.0; 3],
        Vector3::x(),
        Vector3::y(),
        Vector3::z(),
    );
    let v = crate::volume::Volume::new(ndarray::Array3::zeros((2, 3, 4)), g).expect("volume");
    crate::plan::file::Reference::of(&v)
}

/// A path's undo step says what changed: which stop moved, the device chosen.
#[test]
fn undo_names_say_what_changed_in_a_path() {
    let mut plan = Plan::default();
    let mut h = History::with_limit(10);
    let path = catheter_path(plan.new_id(), "Path 1", vec![[0.0, 0.0, -300.0]]);
    h.apply(&mut plan, Command::AddPath(path.clone()))
        .expect("add");
    let mut step = |plan: &mut Plan, change: &dyn Fn(&mut CatheterPath)| {
        let mut p = plan.paths[0].clone();
        change(&mut p);
        h.apply(plan, Command::SetPath(p)).expect("set");
        h.undo_label().map(str::to_string)
    };
    let said = [
        step(&mut plan, &|p| p.target_lps_mm[2] += 5.0),
        step(&mut plan, &|p| p.entry_lps_mm[0] += 1.0),
        step(&mut plan, &|p| p.waypoints_lps_mm[0][1] += 2.0),
        step(&mut plan, &|p| p.waypoints_lps_mm.push([1.0, 1.0, -200.0])),
        step(&mut plan, &|p| {
            p.device = Some(crate::catheter::Catalogue::bundled().devices[0].clone());
        }),
        step(&mut plan, &|p| p.visible = false),
        step(&mut plan, &|p| p.min_diameter_mm = Some(2.0)),
    ];
    let device = crate::catheter::Catalogue::bundled().devices[0]
        .name
        .clone();
    assert_eq!(
        said.map(|s| s.unwrap_or_default()),
        [
            "move target of Path 1".to_string(),
            "move entry of Path 1".to_string(),
            "move waypoint 1 of Path 1".to_string(),
            "add waypoint to Path 1".to_string(),
            format!("device of Path 1: {device}"),
            "hide Path 1".to_string(),
            "floor of Path 1: 2.00 mm".to_string(),
        ]
    );
}

#[test]
fn undo_names_say_what_changed_in_a_structure() {
    use crate::segment::edit::MaskEdit;
    let mut plan = Plan::default();
    let mut h = History::with_limit(10);
    let id = plan.new_id();
    h.apply(
        &mut plan,
        Command::AddStructure(PlanStructure {
            id,
            recipe: recipe("lumen"),
            visible: true,
        }),
    )
    .expect("add");
    let mut step = |plan: &mut Plan, change: &dyn Fn(&mut Recipe)| {
        let mut recipe = plan.structures[0].recipe.clone();
        change(&mut recipe);
        h.apply(plan, Command::SetRecipe { id, recipe })
            .expect("set");
        h.undo_label().map(str::to_string).unwrap_or_default()
    };
    let dab = MaskEdit::stroke(true, &[[0.0; 3]], 2.0, None).expect("a dab");
    let said = [
        step(&mut plan, &|r| r.edits.push(dab.clone())),
        step(&mut plan, &|r| {
            r.edits.push(MaskEdit::KeepIslandAt {
                point_lps_mm: [0.0; 3],
            })
        }),
        step(&mut plan, &|r| r.edits.clear()),
        step(&mut plan, &|r| r.no_go = true),
        step(&mut plan, &|r| r.no_go = false),
        step(&mut plan, &|r| r.opacity = 0.5),
    ];
    assert_eq!(
        said,
        [
            "paint on lumen",
            "keep island on lumen",
            "clear the edits of lumen",
            "mark lumen no-go",
            "allow paths in lumen",
            "opacity of lumen",
        ]
    );
}

/// A path measured again after its lumen changed takes the new figures with no step of its
/// own, only while it stands where it was measured and no gesture is under way.
#[test]
fn refreshed_path_figures_are_no_step_and_need_the_same_stops() {
    let mut doc = Document::default();
    let path = catheter_path(1, "Path 1", vec![]);
    doc.apply(Command::AddPath(path.clone())).expect("add");
    let steps = doc.undo_steps();
    let mut measured = path.clone();
    measured.problem = Some("the target is past a 0.5 mm passage".into());
    assert!(doc.refresh_path_figures(&measured));
    assert_eq!(doc.plan().paths[0].problem, measured.problem);
    assert_eq!(doc.undo_steps(), steps, "no step of its own");
    assert!(doc.dirty());
    // The same again changes nothing; a path moved since is not overwritten.
    assert!(!doc.refresh_path_figures(&measured));
    let mut moved = measured.clone();
    moved.target_lps_mm = [0.0, 0.0, 0.0];
    moved.problem = None;
    assert!(!doc.refresh_path_figures(&moved));
    // Nor during a gesture.
    doc.preview(Command::SetPath(moved.clone())).expect("drag");
    let mut other = moved.clone();
    other.problem = Some("x".into());
    assert!(!doc.refresh_path_figures(&other));
    // Undone, the path comes back as it was added.
    doc.commit_preview();
    doc.undo();
    assert_eq!(doc.plan().paths[0].target_lps_mm, path.target_lps_mm);
}
