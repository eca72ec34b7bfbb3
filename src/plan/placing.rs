//! Placing and editing markups with the mouse, independent of any view: the placement in
//! progress (tool, points so far, the live value with the pointer as the next point), which
//! point a click grabs, the lines a markup is drawn with (straight segments, the arc of an
//! angle, a curve's spline), and how strongly a markup shows on a slice at some distance
//! from it. Views hand in their projection (patient mm → screen) as a closure. Pure
//! geometry over `plan` types: Bevy-free, egui-free.

use nalgebra::{Point3, Vector3};

use super::{Markup, MarkupKind, Plan};
use crate::geometry::{P, Spline};

/// A markup being placed: its kind and the points clicked so far.
#[derive(Debug, Clone, PartialEq)]
pub struct Placement {
    pub kind: MarkupKind,
    pub points: Vec<P>,
}

/// Most points one curve takes (a click each).
pub const MAX_CURVE_POINTS: usize = 500;

impl Placement {
    pub fn new(kind: MarkupKind) -> Placement {
        Placement {
            kind,
            points: Vec::new(),
        }
    }

    /// Adds a clicked point; true when the markup is complete (its fixed count reached).
    /// Non-finite points are ignored.
    pub fn add(&mut self, p: P) -> bool {
        if p.iter().all(|c| c.is_finite()) && self.points.len() < MAX_CURVE_POINTS {
            self.points.push(p);
        }
        self.kind
            .points_needed()
            .is_some_and(|n| self.points.len() >= n)
    }

    /// Whether the points so far make a markup (curves finish on Enter or a double-click).
    pub fn can_finish(&self) -> bool {
        self.points.len() >= self.kind.min_points()
            && self
                .kind
                .points_needed()
                .is_none_or(|n| self.points.len() == n)
    }

    /// The markup as it stands, with `hover` as its next point when given: what the views
    /// draw and label while placing (the live value).
    pub fn preview(&self, hover: Option<P>) -> Markup {
        let mut points = self.points.clone();
        if let Some(h) = hover {
            let full = self.kind.points_needed().is_some_and(|n| points.len() >= n);
            if !full && h.iter().all(|c| c.is_finite()) {
                points.push(h);
            }
        }
        Markup {
            id: 0,
            name: String::new(),
            kind: self.kind,
            points_lps_mm: points,
            colour: default_colour(self.kind),
            visible: true,
            locked: false,
            note: String::new(),
        }
    }

    /// The finished markup with a fresh id and the next default name, or None while it has
    /// too few points.
    pub fn finish(&self, plan: &mut Plan) -> Option<Markup> {
        if !self.can_finish() {
            return None;
        }
        let id = plan.new_id();
        self.finish_as(plan, id)
    }

    /// The finished markup with the id `id` (handed out by the document), if complete.
    pub fn finish_as(&self, plan: &Plan, id: u64) -> Option<Markup> {
        if !self.can_finish() {
            return None;
        }
        Some(Markup {
            id,
            name: default_name(plan, self.kind),
            ..self.preview(None)
        })
    }
}

/// "D-3": the kind's letter and the first number not yet used by a markup of that kind.
pub fn default_name(plan: &Plan, kind: MarkupKind) -> String {
    let letter = match kind {
        MarkupKind::Distance => "D",
        MarkupKind::Angle | MarkupKind::LineAngle => "A",
        MarkupKind::Landmark => "L",
        MarkupKind::Curve => "C",
        MarkupKind::ClosedCurve => "CC",
    };
    let taken = |n: usize| {
        plan.markups
            .iter()
            .any(|m| m.name == format!("{letter}-{n}"))
    };
    let n = (1..).find(|&n| !taken(n)).unwrap_or(1);
    format!("{letter}-{n}")
}

/// Colours by kind (sRGB 0–1): distinct from the structures' bone, vessel and skin tones.
pub fn default_colour(kind: MarkupKind) -> [f32; 3] {
    match kind {
        MarkupKind::Distance => [1.0, 0.85, 0.2],
        MarkupKind::Angle | MarkupKind::LineAngle => [0.35, 0.9, 1.0],
        MarkupKind::Landmark => [1.0, 0.45, 0.85],
        MarkupKind::Curve | MarkupKind::ClosedCurve => [0.55, 1.0, 0.45],
    }
}

/// The unlocked, visible markup point nearest to `at` on screen within `radius_px`:
/// (markup id, point index). `screen` projects a patient point into the view (None when it
/// is not shown there).
pub fn grab(
    plan: &Plan,
    screen: impl Fn(&P) -> Option<(f64, f64)>,
    at: (f64, f64),
    radius_px: f64,
) -> Option<(u64, usize)> {
    let mut best: Option<(f64, u64, usize)> = None;
    for m in plan.markups.iter().filter(|m| m.visible && !m.locked) {
        for (i, p) in m.points_lps_mm.iter().enumerate() {
            let Some((x, y)) = screen(p) else { continue };
            let d = (x - at.0).hypot(y - at.1);
            if d <= radius_px && best.is_none_or(|(b, _, _)| d < b) {
                best = Some((d, m.id, i));
            }
        }
    }
    best.map(|(_, id, i)| (id, i))
}

/// The polylines a markup is drawn with, in patient mm: its straight segments, the arc of
/// an angle (at a fifth of the shorter arm, at most 20 mm), a curve's spline. A landmark
/// has none.
pub fn polylines(m: &Markup) -> Vec<Vec<P>> {
    let p = &m.points_lps_mm;
    match m.kind {
        MarkupKind::Landmark => Vec::new(),
        MarkupKind::Distance => vec![p.clone()],
        MarkupKind::LineAngle => p.chunks(2).map(|c| c.to_vec()).collect(),
        MarkupKind::Angle => {
            let mut out = vec![p.clone()];
            if p.len() == 3
                && let Some(arc) = angle_arc(&p[0], &p[1], &p[2])
            {
                out.push(arc);
            }
            out
        }
        MarkupKind::Curve | MarkupKind::ClosedCurve => {
            let closed = m.kind == MarkupKind::ClosedCurve;
            if p.len() < 2 {
                return Vec::new();
            }
            let line: Vec<P> = Spline::new(p, closed && p.len() >= 3)
                .samples()
                .into_iter()
                .map(|(_, _, v)| [v.x, v.y, v.z])
                .collect();
            vec![line]
        }
    }
}

/// Points along the arc of the angle at `vertex` between the arms to `a` and `c`.
pub fn angle_arc(a: &P, vertex: &P, c: &P) -> Option<Vec<P>> {
    let v = Point3::from(*vertex);
    let u = Point3::from(*a) - v;
    let w = Point3::from(*c) - v;
    let (lu, lw) = (u.norm(), w.norm());
    if lu < 1e-9 || lw < 1e-9 {
        return None;
    }
    let (u, w) = (u / lu, w / lw);
    let theta = u.dot(&w).clamp(-1.0, 1.0).acos();
    let radius = (lu.min(lw) * 0.2).min(20.0);
    // An orthonormal pair in the angle's plane: u and the part of w across it.
    let across = w - u * u.dot(&w);
    let across: Vector3<f64> = if across.norm() > 1e-9 {
        across.normalize()
    } else {
        return None;
    };
    let steps = ((theta.to_degrees() / 5.0).ceil() as usize).clamp(2, 72);
    Some(
        (0..=steps)
            .map(|i| {
                let t = theta * i as f64 / steps as f64;
                let q = v + (u * t.cos() + across * t.sin()) * radius;
                [q.x, q.y, q.z]
            })
            .collect(),
    )
}

/// Where a markup's label goes: a landmark's point, a distance's middle, an angle's
/// vertex, a curve's first point.
pub fn label_anchor(m: &Markup) -> Option<P> {
    let p = &m.points_lps_mm;
    match m.kind {
        MarkupKind::Distance if p.len() == 2 => Some([
            (p[0][0] + p[1][0]) * 0.5,
            (p[0][1] + p[1][1]) * 0.5,
            (p[0][2] + p[1][2]) * 0.5,
        ]),
        MarkupKind::Angle if p.len() >= 2 => Some(p[1]),
        _ => p.first().copied(),
    }
}

/// How strongly something `distance_mm` from a slice's plane shows on it: fully on the
/// plane, fading to nothing at `range_mm` (a markup off the slice is dimmed, not hidden
/// at once, so the reader sees it is near).
pub fn slice_opacity(distance_mm: f64, range_mm: f64) -> f32 {
    if !distance_mm.is_finite() || range_mm <= 0.0 {
        return 0.0;
    }
    let t = (distance_mm.abs() / range_mm).min(1.0);
    if t >= 1.0 {
        0.0
    } else {
        (1.0 - 0.75 * t) as f32
    }
}

/// The box around every point of the markup (for "go to": the camera frames it).
pub fn bounds(m: &Markup) -> Option<(P, P)> {
    let first = *m.points_lps_mm.first()?;
    let mut lo = first;
    let mut hi = first;
    for p in &m.points_lps_mm {
        for a in 0..3 {
            lo[a] = lo[a].min(p[a]);
            hi[a] = hi[a].max(p[a]);
        }
    }
    Some((lo, hi))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::document::Command;

    #[test]
    fn a_distance_completes_on_its_second_point_and_previews_the_live_value() {
        let mut pl = Placement::new(MarkupKind::Distance);
        assert!(!pl.add([0.0, 0.0, 0.0]));
        assert!(!pl.can_finish());
        let live = pl.preview(Some([3.0, 4.0, 0.0]));
        assert_eq!(live.label(), "5.0 mm");
        assert!(pl.add([0.0, 0.0, 12.5]));
        let mut plan = Plan::default();
        let m = pl.finish(&mut plan).expect("complete");
        assert_eq!(m.name, "D-1");
        assert!((m.measurements()[0].value - 12.5).abs() < 1e-12);
        // A point too many is never added to a complete placement's preview.
        assert_eq!(pl.preview(Some([1.0, 1.0, 1.0])).points_lps_mm.len(), 2);
        plan.apply(Command::AddMarkup(m)).expect("adds");
        let next = pl.finish(&mut plan).expect("complete");
        assert_eq!(next.name, "D-2");
        assert_ne!(next.id, plan.markups[0].id);
    }

    #[test]
    fn curves_finish_only_when_asked_and_with_enough_points() {
        let mut pl = Placement::new(MarkupKind::Curve);
        assert!(!pl.add([0.0; 3]));
        assert!(!pl.can_finish());
        assert!(!pl.add([10.0, 0.0, 0.0]));
        assert!(pl.can_finish());
        assert!(!pl.add([f64::NAN, 0.0, 0.0]));
        assert_eq!(pl.points.len(), 2);
        let mut closed = Placement::new(MarkupKind::ClosedCurve);
        closed.add([0.0; 3]);
        closed.add([1.0, 0.0, 0.0]);
        assert!(!closed.can_finish());
        closed.add([0.0, 1.0, 0.0]);
        assert!(closed.can_finish());
    }

    #[test]
    fn the_nearest_unlocked_visible_point_is_grabbed() {
        let mut plan = Plan::default();
        let mut add = |pts: Vec<P>, locked: bool| {
            let mut m = Placement {
                kind: MarkupKind::Distance,
                points: pts,
            }
            .finish(&mut plan)
            .expect("complete");
            m.locked = locked;
            plan.apply(Command::AddMarkup(m)).expect("adds");
        };
        add(vec![[0.0, 0.0, 0.0], [10.0, 0.0, 0.0]], false);
        add(vec![[1.0, 0.0, 0.0], [20.0, 0.0, 0.0]], true);
        // Screen = x, y mm at 2 px per mm.
        let screen = |p: &P| Some((p[0] * 2.0, p[1] * 2.0));
        let a = plan.markups[0].id;
        assert_eq!(grab(&plan, screen, (19.0, 1.0), 5.0), Some((a, 1)));
        // The locked markup's point at x = 1 mm (2 px) is nearer but cannot be grabbed.
        assert_eq!(grab(&plan, screen, (2.5, 0.0), 5.0), Some((a, 0)));
        assert_eq!(grab(&plan, screen, (30.0, 30.0), 5.0), None);
    }

    #[test]
    fn an_angle_arc_lies_between_its_arms_at_a_fixed_radius() {
        let arc = angle_arc(&[10.0, 0.0, 0.0], &[0.0; 3], &[0.0, 50.0, 0.0]).expect("arc");
        let r = 2.0; // a fifth of the shorter arm (10 mm)
        for q in &arc {
            let d = (q[0] * q[0] + q[1] * q[1] + q[2] * q[2]).sqrt();
            assert!((d - r).abs() < 1e-9, "{q:?}");
            assert!(q[0] >= -1e-9 && q[1] >= -1e-9 && q[2].abs() < 1e-12);
        }
        assert!((arc[0][0] - r).abs() < 1e-9);
        assert!((arc[arc.len() - 1][1] - r).abs() < 1e-9);
        assert!(angle_arc(&[0.0; 3], &[0.0; 3], &[1.0, 0.0, 0.0]).is_none());
    }

    #[test]
    fn slice_opacity_fades_with_distance_and_vanishes_at_the_range() {
        assert_eq!(slice_opacity(0.0, 10.0), 1.0);
        assert!(slice_opacity(5.0, 10.0) < 1.0 && slice_opacity(5.0, 10.0) > 0.25);
        assert_eq!(slice_opacity(-10.0, 10.0), 0.0);
        assert_eq!(slice_opacity(f64::NAN, 10.0), 0.0);
    }

    #[test]
    fn a_closed_curve_is_drawn_closed() {
        let m = Placement {
            kind: MarkupKind::ClosedCurve,
            points: vec![[0.0; 3], [10.0, 0.0, 0.0], [0.0, 10.0, 0.0]],
        }
        .preview(None);
        let lines = polylines(&m);
        let l = &lines[0];
        assert_eq!(l.first(), l.last());
        assert!(l.len() > 3);
    }
}
