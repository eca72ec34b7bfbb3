//! Whole plannings on phantoms whose truth is known: stenoses against the guidewire floor,
//! vessels touching over a bridge of a voxel or two, a false lumen made no-go.

use super::grow::tests::{capsule, volume};
use super::*;
use crate::catheter::devices::Concern;

fn stops(from: P, to: P) -> Vec<(P, String)> {
    vec![(from, "entry".to_string()), (to, "target".to_string())]
}

/// A straight tube of radius 3 mm along z (0.2 mm voxels) with a concentric stenosis of
/// `diameter` mm over 3 mm at z = 15 mm.
fn stenosed(diameter: f64) -> Volume {
    const S: f64 = 0.2;
    let geometry = crate::volume::Geometry::axis_aligned([40, 40, 150], [S, S, S], [0.0; 3]);
    let voxels = Array3::from_shape_fn((150, 40, 40), |(k, j, i)| {
        let (x, y, z) = (i as f64 * S - 4.0, j as f64 * S - 4.0, k as f64 * S);
        let r = if (13.5..=16.5).contains(&z) {
            diameter / 2.0
        } else if (11.5..13.5).contains(&z) {
            3.0 - (z - 11.5) / 2.0 * (3.0 - diameter / 2.0)
        } else if (16.5..18.5).contains(&z) {
            diameter / 2.0 + (z - 16.5) / 2.0 * (3.0 - diameter / 2.0)
        } else {
            3.0
        };
        let sd = (x.hypot(y) - r).max((1.0 - z).max(z - 29.0));
        let fill = (0.5 - sd / S).clamp(0.0, 1.0);
        (40.0 + 360.0 * fill).round() as i16
    });
    Volume::new(voxels, geometry).expect("shape")
}

const ENTRY: P = [4.0, 4.0, 4.0];
const TARGET: P = [4.0, 4.0, 26.0];

#[test]
fn a_one_millimetre_stenosis_is_passed_and_flagged() {
    let v = stenosed(1.0);
    let planned = plan(
        &v,
        &stops(ENTRY, TARGET),
        LumenSpec::Auto,
        &[],
        &Constraints::default(),
        &Progress::new(),
    )
    .expect("a 1.0 mm stenosis passes a 0.89 mm guidewire");
    let r = &planned.report;
    assert!(
        (r.min_lumen_diameter_mm - 1.0).abs() <= 0.3,
        "narrowest {} mm",
        r.min_lumen_diameter_mm
    );
    assert!((r.min_lumen_position_lps_mm[2] - 15.0).abs() <= 2.0);
    // A 4 F catheter (1.33 mm) is flagged there.
    let device = Device::custom(1.33, None);
    let f = fit(r, &device);
    assert!(
        f.flags
            .iter()
            .any(|fl| matches!(fl.concern, Concern::Tight | Concern::AtRisk)
                && (fl.position_lps_mm[2] - 15.0).abs() <= 3.0),
        "{:?}",
        f.flags
    );
}

#[test]
fn a_stenosis_below_the_guidewire_is_refused_and_named() {
    let v = stenosed(0.6);
    let e = plan(
        &v,
        &stops(ENTRY, TARGET),
        LumenSpec::Auto,
        &[],
        &Constraints::default(),
        &Progress::new(),
    )
    .expect_err("no 0.035-inch guidewire passes 0.6 mm");
    let PlanningError::Path(PathError::TooNarrow {
        at_lps_mm,
        diameter_mm,
        floor_mm,
        from_start_mm,
        ..
    }) = &e
    else {
        panic!("{e}");
    };
    assert!(
        (diameter_mm - 0.6).abs() <= 0.3 && *diameter_mm < *floor_mm,
        "{e}"
    );
    assert!((at_lps_mm[2] - 15.0).abs() <= 2.0, "{e}");
    assert!((from_start_mm - 11.0).abs() <= 3.0, "{e}");
    // The floor lowered, the same stenosis is passed.
    let lower = Constraints {
        min_diameter_mm: 0.3,
        ..Constraints::default()
    };
    assert!(
        plan(
            &v,
            &stops(ENTRY, TARGET),
            LumenSpec::Auto,
            &[],
            &lower,
            &Progress::new()
        )
        .is_ok()
    );
}

#[test]
fn a_path_between_touching_vessels_is_refused_naming_the_contact() {
    let v = super::grow::tests::touching();
    let e = plan(
        &v,
        &stops([10.0, 7.5, 8.0], [20.0, 7.5, 8.0]),
        LumenSpec::Auto,
        &[],
        &Constraints::default(),
        &Progress::new(),
    )
    .expect_err("two vessels");
    let PlanningError::Path(PathError::Contact { at_lps_mm, .. }) = &e else {
        panic!("{e}");
    };
    assert!((at_lps_mm[2] - 15.0).abs() <= 1.5, "{e}");
    assert!((at_lps_mm[0] - 15.0).abs() <= 3.0, "{e}");
}

/// A true lumen (radius 3) and a false lumen (radius 4) beside it, apart by a 1 mm flap
/// with a 2 mm tear at z = 20; the false lumen's voxels as a no-go mask.
fn dissection() -> (Volume, Array3<u8>) {
    let fl = |p: [f64; 3]| capsule(p, [19.0, 10.0, 4.0], [19.0, 10.0, 36.0], 4.0);
    let v = volume([60, 40, 80], |p| {
        let tl = capsule(p, [10.0, 10.0, 4.0], [10.0, 10.0, 36.0], 3.0);
        let tear = capsule(p, [12.0, 10.0, 20.0], [16.0, 10.0, 20.0], 1.0);
        (tl.min(fl(p)).min(tear), None)
    });
    let s = 0.5;
    let no_go = Array3::from_shape_fn((80, 40, 60), |(k, j, i)| {
        u8::from(fl([i as f64 * s, j as f64 * s, k as f64 * s]) <= 0.25)
    });
    (v, no_go)
}

#[test]
fn a_false_lumen_made_no_go_is_never_entered() {
    let (v, no_go) = dissection();
    let constraints = Constraints {
        no_go: vec![NoGo {
            name: "false lumen".into(),
            voxels: no_go.clone(),
        }],
        ..Constraints::default()
    };
    // A target in the false lumen: refused, the region named.
    let e = plan(
        &v,
        &stops([10.0, 10.0, 8.0], [19.0, 10.0, 30.0]),
        LumenSpec::Auto,
        &[],
        &constraints,
        &Progress::new(),
    )
    .expect_err("in the no-go region");
    assert!(
        e.to_string().contains("no-go region \"false lumen\""),
        "{e}"
    );
    // Along the true lumen past the tear: planned, no point in the false lumen.
    let p = plan(
        &v,
        &stops([10.0, 10.0, 8.0], [10.0, 10.0, 32.0]),
        LumenSpec::Auto,
        &[],
        &constraints,
        &Progress::new(),
    )
    .expect("the true lumen");
    for q in &p.report.points_lps_mm {
        let v = q.map(|x| (x / 0.5).round() as usize);
        assert_eq!(no_go[(v[2], v[1], v[0])], 0, "{q:?} is in the false lumen");
    }
    // Without the no-go region the false lumen is not silently entered either: the
    // target there is refused with the tear named, or reached through it.
    match plan(
        &v,
        &stops([10.0, 10.0, 8.0], [19.0, 10.0, 30.0]),
        LumenSpec::Auto,
        &[],
        &Constraints::default(),
        &Progress::new(),
    ) {
        Err(PlanningError::Path(PathError::Contact { at_lps_mm, .. })) => {
            assert!((at_lps_mm[2] - 20.0).abs() <= 2.0, "{at_lps_mm:?}");
        }
        Ok(p) => assert!((p.report.min_lumen_position_lps_mm[2] - 20.0).abs() <= 2.5),
        Err(e) => panic!("{e}"),
    }
}

#[test]
fn a_route_only_through_a_no_go_region_is_refused_naming_it() {
    let v = stenosed(6.0);
    // A slab across the tube at z = 15 mm.
    let no_go = Array3::from_shape_fn((150, 40, 40), |(k, _, _)| u8::from((70..80).contains(&k)));
    let constraints = Constraints {
        no_go: vec![NoGo {
            name: "thrombus".into(),
            voxels: no_go,
        }],
        ..Constraints::default()
    };
    let e = plan(
        &v,
        &stops(ENTRY, TARGET),
        LumenSpec::Auto,
        &[],
        &constraints,
        &Progress::new(),
    )
    .expect_err("blocked");
    assert!(
        matches!(&e, PlanningError::Path(PathError::ThroughNoGo { name, .. }) if name == "thrombus"),
        "{e}"
    );
}

#[test]
fn paths_follow_the_vessels_hand_edits() {
    use crate::segment::edit::MaskEdit;
    // The stenosed tube's path from ENTRY to TARGET with these hand edits.
    let edited = |v: &Volume, edits: Vec<MaskEdit>| {
        plan(
            v,
            &stops(ENTRY, TARGET),
            LumenSpec::Auto,
            &[],
            &Constraints {
                edits,
                ..Constraints::default()
            },
            &Progress::new(),
        )
    };
    // A 0.6 mm stenosis is refused; painted open with a 1.5 mm brush along it, it passes
    // (the radiologist judged the narrowing an artefact).
    let v = stenosed(0.6);
    assert!(matches!(
        edited(&v, Vec::new()),
        Err(PlanningError::Path(PathError::TooNarrow { .. }))
    ));
    let paint =
        MaskEdit::stroke(true, &[[4.0, 4.0, 12.0], [4.0, 4.0, 18.0]], 1.5, None).expect("a stroke");
    let planned = edited(&v, vec![paint]).expect("painted open");
    assert!(planned.report.length_mm > 20.0);
    // A healthy tube erased across its whole width at z = 15 mm is cut: refused.
    let v = stenosed(6.0);
    let erase = MaskEdit::stroke(false, &[[4.0, 4.0, 15.0]], 4.0, None).expect("a dab");
    assert!(
        edited(&v, vec![erase]).is_err(),
        "a path through an erased section"
    );
    // Erasing everything says so.
    let all = MaskEdit::stroke(false, &[[4.0, 4.0, 15.0]], 40.0, None).expect("all");
    let e = edited(&v, vec![all]).expect_err("nothing left");
    assert!(e.to_string().contains("hand edits"), "{e}");
}
