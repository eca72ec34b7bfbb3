//! The plan's edits: each one undone by its inverse, and any sequence of them undone step
//! by step back to the start and redone to the same end (a property test).

use super::*;
use crate::session::structures::{Recipe, Source};
use proptest::prelude::*;

fn markup(id: u64, kind: MarkupKind, points: Vec<P>) -> Markup {
    Markup {
        id,
        name: format!("{} {id}", kind.name()),
        kind,
        points_lps_mm: points,
        colour: [0.9, 0.8, 0.2],
        visible: true,
        locked: false,
        note: String::new(),
    }
}

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
    }
}

#[test]
fn each_edit_is_undone_by_what_it_returns() {
    let mut plan = Plan::default();
    let id = plan.new_id();
    let start = plan.clone();
    let inv = plan
        .apply(PlanEdit::AddMarkup(markup(
            id,
            MarkupKind::Distance,
            vec![[0.0; 3], [3.0, 4.0, 0.0]],
        )))
        .expect("add");
    assert_eq!(plan.markups[0].label(), "5.0 mm");
    let mut after_add = plan.clone();
    let moved = plan
        .apply(PlanEdit::SetPoints {
            id,
            points: vec![[0.0; 3], [6.0, 8.0, 0.0]],
        })
        .expect("move");
    assert_eq!(plan.markups[0].label(), "10.0 mm");
    plan.apply(moved).expect("undo move");
    assert_eq!(plan, after_add);
    // Wrong point counts, locked markups and unknown ids change nothing.
    let e = plan.apply(PlanEdit::SetPoints {
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
    plan.apply(PlanEdit::SetLocked { id, locked: true })
        .expect("lock");
    let locked = plan.clone();
    assert!(matches!(
        plan.apply(PlanEdit::SetPoints {
            id,
            points: vec![[1.0; 3], [2.0; 3]]
        }),
        Err(EditError::Locked(_))
    ));
    assert_eq!(plan, locked);
    assert_eq!(
        plan.apply(PlanEdit::RemoveMarkup(999)),
        Err(EditError::NoMarkup(999))
    );
    plan.apply(PlanEdit::SetLocked { id, locked: false })
        .expect("unlock");
    after_add = plan.clone();
    assert_eq!(plan, after_add);
    plan.apply(inv).expect("undo add");
    assert_eq!(plan.markups, start.markups);
    // A failing batch is rolled back whole.
    let mut p2 = Plan::default();
    let a = p2.new_id();
    let before = p2.clone();
    let r = p2.apply(PlanEdit::Batch(
        "import".into(),
        vec![
            PlanEdit::AddMarkup(markup(a, MarkupKind::Landmark, vec![[1.0, 2.0, 3.0]])),
            PlanEdit::RemoveStructure(42),
        ],
    ));
    assert_eq!(r, Err(EditError::NoStructure(42)));
    assert_eq!(p2, before);
}

#[test]
fn measurements_of_each_kind() {
    let angle = markup(
        1,
        MarkupKind::Angle,
        vec![[10.0, 0.0, 0.0], [0.0; 3], [0.0, 0.0, 7.0]],
    );
    assert_eq!(angle.label(), "90.0°");
    let lines = markup(
        2,
        MarkupKind::LineAngle,
        vec![[0.0; 3], [1.0, 0.0, 0.0], [5.0, 5.0, 5.0], [6.0, 6.0, 5.0]],
    );
    assert!((lines.measurements()[0].value - 45.0).abs() < 1e-9);
    let square = markup(
        3,
        MarkupKind::ClosedCurve,
        vec![
            [0.0; 3],
            [10.0, 0.0, 0.0],
            [10.0, 10.0, 0.0],
            [0.0, 10.0, 0.0],
        ],
    );
    let area = square
        .measurements()
        .into_iter()
        .find(|m| m.name == "area")
        .expect("area")
        .value;
    // The spline rounds the corners outwards a little: between the square and its
    // circumscribed circle.
    assert!(area > 100.0 && area < 157.0, "{area}");
    let half = markup(4, MarkupKind::Curve, vec![[0.0; 3]]);
    assert!(half.measurements().is_empty(), "one point measures nothing");
}

#[test]
fn history_names_what_it_undoes_and_forgets_the_oldest() {
    let mut plan = Plan::default();
    let mut h = History::with_limit(3);
    for k in 0..5 {
        let id = plan.new_id();
        h.apply(
            &mut plan,
            PlanEdit::AddMarkup(markup(id, MarkupKind::Landmark, vec![[k as f64, 0.0, 0.0]])),
        )
        .expect("add");
    }
    assert_eq!(h.undo_label(), Some("add landmark 5"));
    let s = plan.new_id();
    h.apply(
        &mut plan,
        PlanEdit::AddStructure(PlanStructure {
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
        PlanEdit::SetRecipe {
            id: s,
            recipe: changed,
        },
    )
    .expect("recipe");
    assert_eq!(h.undo_label(), Some("change bone"));
    assert_eq!(h.undo(&mut plan).as_deref(), Some("change bone"));
    assert_eq!(h.redo_label(), Some("change bone"));
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
        PlanEdit::AddStructure(PlanStructure {
            id: s,
            recipe: recipe("skin"),
            visible: true,
        }),
    )
    .expect("structure");
    for (k, opacity) in [0.9f32, 0.7, 0.5, 0.3].into_iter().enumerate() {
        let mut r = recipe("skin");
        r.opacity = opacity;
        h.apply_merged(&mut plan, PlanEdit::SetRecipe { id: s, recipe: r }, k > 0)
            .expect("recipe");
    }
    assert_eq!(plan.structures[0].recipe.opacity, 0.3);
    assert_eq!(h.undo(&mut plan).as_deref(), Some("change skin"));
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

/// A random edit that may or may not apply to the plan as it is (ids drawn from a small
/// range so edits hit existing items often).
fn edit_strategy() -> impl Strategy<Value = (u8, u64, Vec<[f64; 3]>, String, bool)> {
    (
        0u8..17,
        1u64..8,
        prop::collection::vec(prop::array::uniform3(-300.0f64..300.0), 0..6),
        "[a-z ]{0,12}",
        any::<bool>(),
    )
}

fn build_edit(
    plan: &Plan,
    (op, id, points, text, flag): (u8, u64, Vec<P>, String, bool),
) -> PlanEdit {
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
    match op {
        0 | 1 => PlanEdit::AddMarkup(markup(id, kind, fit(points, kind))),
        2 => PlanEdit::RemoveMarkup(id),
        3 | 4 => PlanEdit::SetPoints {
            id,
            points: if flag {
                fit(points, existing_kind)
            } else {
                points
            },
        },
        5 => PlanEdit::Rename { id, name: text },
        6 => PlanEdit::SetColour {
            id,
            colour: [0.1, 0.5, if flag { 1.0 } else { 0.0 }],
        },
        7 => PlanEdit::SetVisible { id, visible: flag },
        8 => PlanEdit::SetLocked { id, locked: flag },
        9 => PlanEdit::AddStructure(PlanStructure {
            id: id + 100,
            recipe: recipe(&text),
            visible: flag,
        }),
        10 => PlanEdit::RemoveStructure(id + 100),
        11 => {
            let mut r = recipe(&text);
            r.opacity = if flag { 0.3 } else { 1.0 };
            PlanEdit::SetRecipe {
                id: id + 100,
                recipe: r,
            }
        }
        12 => PlanEdit::AddBookmark(CameraBookmark {
            name: text,
            eye_lps_mm: [0.0, -500.0, 0.0],
            target_lps_mm: [0.0; 3],
            up: [0.0, 0.0, 1.0],
        }),
        13 => PlanEdit::AddPath(catheter_path(id + 200, &text, points)),
        14 => PlanEdit::RemovePath(id + 200),
        15 => {
            // Points moved (some not finite: refused) and the figures dropped with them.
            let mut p = catheter_path(id + 200, &text, points);
            if flag {
                p.target_lps_mm = [f64::NAN, 0.0, 0.0];
            }
            PlanEdit::SetPath(p)
        }
        _ => PlanEdit::SetNote { id, note: text },
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
        device: Some(crate::plan::path::Device::custom(5.4, Some(20.0))),
        colour: [0.2, 0.7, 0.9],
        visible: true,
        report: None,
        fit: None,
        problem: Some(name.into()),
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 256, ..ProptestConfig::default() })]

    #[test]
    fn any_edits_undone_return_the_start_and_redone_reach_the_end(
        edits in prop::collection::vec(edit_strategy(), 1..40)
    ) {
        let mut plan = Plan::default();
        // A non-empty start, so undo must restore content, not just empty the plan.
        plan.apply(PlanEdit::AddMarkup(markup(1, MarkupKind::Distance, vec![[0.0; 3], [1.0; 3]])))
            .expect("seed markup");
        let start = plan.clone();
        let mut h = History::with_limit(1000);
        let mut applied = 0;
        for e in edits {
            let edit = build_edit(&plan, e);
            let before = plan.clone();
            match h.apply(&mut plan, edit) {
                Ok(()) => applied += 1,
                // A refused edit leaves the plan exactly as it was.
                Err(_) => prop_assert_eq!(&plan, &before),
            }
        }
        let end = plan.clone();
        for _ in 0..applied {
            prop_assert!(h.undo(&mut plan).is_some());
        }
        prop_assert!(h.undo(&mut plan).is_none());
        prop_assert_eq!(&plan.markups, &start.markups);
        prop_assert_eq!(&plan.structures, &start.structures);
        prop_assert_eq!(&plan.bookmarks, &start.bookmarks);
        prop_assert_eq!(&plan.paths, &start.paths);
        for _ in 0..applied {
            prop_assert!(h.redo(&mut plan).is_some());
        }
        prop_assert_eq!(&plan.markups, &end.markups);
        prop_assert_eq!(&plan.structures, &end.structures);
        prop_assert_eq!(&plan.bookmarks, &end.bookmarks);
        prop_assert_eq!(&plan.paths, &end.paths);
    }
}
