//! What markups measure, against values computed by hand.

use super::*;

/// A visible, unlocked markup named after its kind and id.
pub(crate) fn markup(id: u64, kind: MarkupKind, points: Vec<P>) -> Markup {
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
    // The closed curve is the periodic cubic spline through the corners with chord-length
    // knots (here all 10 mm): each coordinate's second derivatives at the corners solve
    // M[i-1] + 4 M[i] + M[i+1] = 6 (v[i-1] - 2 v[i] + v[i+1]) / h², so M = ±0.15 /mm, and
    // Green's theorem over the four cubic pieces gives exactly 152.5 mm² (integrated
    // independently of this code). The curve is sampled, so allow the chords' shortfall.
    assert!((area - 152.5).abs() < 0.05, "{area}");
    let half = markup(4, MarkupKind::Curve, vec![[0.0; 3]]);
    assert!(half.measurements().is_empty(), "one point measures nothing");
}
