//! Edits that fix a structure's mask where the image is ambiguous, the tools a radiologist
//! knows from 3D Slicer's Segment Editor: paint and erase with a sphere brush swept along
//! the stroke the pointer drew (optionally only over voxels within a value range, as
//! Slicer's masking), scissors (a polygon drawn on the 3D view that removes or keeps what
//! it encloses through the whole depth), keep the island under a point, remove the islands
//! below a size. A structure keeps its edits as a list after its recipe, so each is
//! replayed when the structure is built, saved in the plan file and undone as a change of
//! the recipe. Depends on `volume` and the rest of `segment` only.

use nalgebra::{Point3, Vector3};
use rayon::prelude::*;
use serde::{Deserialize, Serialize};

use super::{Mask, SegmentError, ValueRange, keep_component_at, remove_small_components};
use crate::progress::Progress;
use crate::volume::Volume;

/// One edit of a mask, in patient LPS mm.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(tag = "tool", rename_all = "snake_case")]
pub enum MaskEdit {
    /// Adds the voxels whose centres lie within the brush (and, when given, whose values
    /// lie within the range): a sphere at the centre, swept on through the stroke's further
    /// points in order (plan version 4).
    Paint {
        centre_lps_mm: [f64; 3],
        radius_mm: f64,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        only_range: Option<ValueRange>,
        #[serde(default, skip_serializing_if = "Vec::is_empty")]
        stroke_lps_mm: Vec<[f64; 3]>,
    },
    /// Removes them.
    Erase {
        centre_lps_mm: [f64; 3],
        radius_mm: f64,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        only_range: Option<ValueRange>,
        #[serde(default, skip_serializing_if = "Vec::is_empty")]
        stroke_lps_mm: Vec<[f64; 3]>,
    },
    /// A polygon drawn on the 3D view, cutting through the whole depth: what projects
    /// inside it is removed (or, with `keep_inside`, only that is kept). The polygon lies
    /// on a plane across `view_dir`; the projection is from the eye (a perspective view)
    /// or along `view_dir` (parallel) (plan version 4).
    Scissors {
        polygon_lps_mm: Vec<[f64; 3]>,
        view_dir: [f64; 3],
        #[serde(default, skip_serializing_if = "Option::is_none")]
        eye_lps_mm: Option<[f64; 3]>,
        #[serde(default)]
        keep_inside: bool,
    },
    /// Keeps only the island (26-connected) that holds the point.
    KeepIslandAt { point_lps_mm: [f64; 3] },
    /// Removes the islands smaller than this (mL).
    RemoveIslandsBelow { ml: f64 },
}

impl MaskEdit {
    /// What the Edit menu and the panel call it.
    pub fn name(&self) -> &'static str {
        match self {
            MaskEdit::Paint { .. } => "paint",
            MaskEdit::Erase { .. } => "erase",
            MaskEdit::Scissors {
                keep_inside: false, ..
            } => "scissors (remove inside)",
            MaskEdit::Scissors {
                keep_inside: true, ..
            } => "scissors (keep inside)",
            MaskEdit::KeepIslandAt { .. } => "keep island",
            MaskEdit::RemoveIslandsBelow { .. } => "remove small islands",
        }
    }

    /// A brush stroke of `points` (the first is the centre), painting or erasing.
    pub fn stroke(
        paint: bool,
        points: &[[f64; 3]],
        radius_mm: f64,
        only_range: Option<ValueRange>,
    ) -> Option<MaskEdit> {
        let (&centre_lps_mm, rest) = points.split_first()?;
        let stroke_lps_mm = rest.to_vec();
        Some(if paint {
            MaskEdit::Paint {
                centre_lps_mm,
                radius_mm,
                only_range,
                stroke_lps_mm,
            }
        } else {
            MaskEdit::Erase {
                centre_lps_mm,
                radius_mm,
                only_range,
                stroke_lps_mm,
            }
        })
    }
}

/// Applies `edits` to `mask` (on `volume`'s grid), in order.
pub fn apply(
    volume: &Volume,
    mut mask: Mask,
    edits: &[MaskEdit],
    progress: &Progress,
) -> Result<Mask, SegmentError> {
    for edit in edits {
        if progress.is_cancelled() {
            return Err(SegmentError::Cancelled);
        }
        mask = match edit {
            MaskEdit::Paint {
                centre_lps_mm,
                radius_mm,
                only_range,
                stroke_lps_mm,
            }
            | MaskEdit::Erase {
                centre_lps_mm,
                radius_mm,
                only_range,
                stroke_lps_mm,
            } => {
                let value = u8::from(matches!(edit, MaskEdit::Paint { .. }));
                let points: Vec<[f64; 3]> = std::iter::once(*centre_lps_mm)
                    .chain(stroke_lps_mm.iter().copied())
                    .collect();
                sweep(volume, &mut mask, &points, *radius_mm, *only_range, value);
                mask
            }
            MaskEdit::Scissors {
                polygon_lps_mm,
                view_dir,
                eye_lps_mm,
                keep_inside,
            } => {
                if let Some(cut) = Cut::new(polygon_lps_mm, *view_dir, *eye_lps_mm) {
                    cut.apply(&mut mask, *keep_inside);
                }
                mask
            }
            MaskEdit::KeepIslandAt { point_lps_mm } => {
                // A click just beside the island (on its outline) means that island; one
                // nowhere near any changes nothing rather than clear the structure.
                match nearest_inside(&mask, &Point3::from(*point_lps_mm), ISLAND_REACH_MM) {
                    Some(p) => keep_component_at(&mask, &p, progress)?,
                    None => mask,
                }
            }
            MaskEdit::RemoveIslandsBelow { ml } => {
                let s = mask.geometry.spacing_mm;
                let voxel_ml = s[0] * s[1] * s[2] / 1000.0;
                let min_voxels = (ml / voxel_ml).ceil().max(0.0) as usize;
                remove_small_components(&mask, min_voxels, progress)?
            }
        };
    }
    Ok(mask)
}

/// How far from a "keep island" point its island may be (mm).
pub const ISLAND_REACH_MM: f64 = 3.0;

/// The centre of the mask's voxel nearest `p` within `reach` mm, if any.
fn nearest_inside(mask: &Mask, p: &Point3<f64>, reach: f64) -> Option<Point3<f64>> {
    let g = &mask.geometry;
    let at = g.ijk_from_patient(p);
    let s = g.spacing_mm;
    let dims = g.dims;
    let mut best: Option<(f64, Point3<f64>)> = None;
    let range = |a: usize| {
        let lo = (at[a] - reach / s[a]).floor().max(0.0);
        let hi = (at[a] + reach / s[a]).ceil().min(dims[a] as f64 - 1.0);
        (lo as i64, hi as i64)
    };
    let ((i0, i1), (j0, j1), (k0, k1)) = (range(0), range(1), range(2));
    for k in k0..=k1 {
        for j in j0..=j1 {
            for i in i0..=i1 {
                let (i, j, k) = (i as usize, j as usize, k as usize);
                if mask.data.get((k, j, i)).is_none_or(|&x| x == 0) {
                    continue;
                }
                let q = g.patient_from_ijk([i as f64, j as f64, k as f64]);
                let d = (q - p).norm();
                if d <= reach && best.is_none_or(|b| d < b.0) {
                    best = Some((d, q));
                }
            }
        }
    }
    best.map(|b| b.1)
}

/// Distance from `p` to the segment `a`–`b`.
fn to_segment(p: &Point3<f64>, a: &Point3<f64>, b: &Point3<f64>) -> f64 {
    let ab = b - a;
    let len2 = ab.norm_squared();
    let t = if len2 > 0.0 {
        ((p - a).dot(&ab) / len2).clamp(0.0, 1.0)
    } else {
        0.0
    };
    (p - (a + ab * t)).norm()
}

/// Sets to `value` the voxels whose centres lie within `radius` mm of the polyline through
/// `points` (a sphere for one point; and whose values lie in `only`, when given).
fn sweep(
    volume: &Volume,
    mask: &mut Mask,
    points: &[[f64; 3]],
    radius: f64,
    only: Option<ValueRange>,
    value: u8,
) {
    if !(radius.is_finite() && radius > 0.0)
        || points.iter().flatten().any(|c| !c.is_finite())
        || points.is_empty()
    {
        return;
    }
    let pts: Vec<Point3<f64>> = points.iter().map(|p| Point3::from(*p)).collect();
    let segments: Vec<(Point3<f64>, Point3<f64>)> = if pts.len() == 1 {
        vec![(pts[0], pts[0])]
    } else {
        pts.windows(2).map(|w| (w[0], w[1])).collect()
    };
    for (a, b) in segments {
        segment_brush(volume, mask, (&a, &b), radius, only, value);
    }
}

/// One segment of a stroke (a capsule).
fn segment_brush(
    volume: &Volume,
    mask: &mut Mask,
    (a, b): (&Point3<f64>, &Point3<f64>),
    radius: f64,
    only: Option<ValueRange>,
    value: u8,
) {
    let g = mask.geometry.clone();
    let (ia, ib) = (g.ijk_from_patient(a), g.ijk_from_patient(b));
    let s = g.spacing_mm;
    let dims = g.dims;
    // The voxel axes are orthonormal in patient space: the capsule's box along each is
    // its ends' box widened by the radius over the spacing.
    let range = |ax: usize| {
        let lo = (ia[ax].min(ib[ax]) - radius / s[ax]).floor().max(0.0);
        let hi = (ia[ax].max(ib[ax]) + radius / s[ax])
            .ceil()
            .min(dims[ax] as f64 - 1.0);
        (lo, hi)
    };
    let ((i0, i1), (j0, j1), (k0, k1)) = (range(0), range(1), range(2));
    if i1 < i0 || j1 < j0 || k1 < k0 {
        return;
    }
    let (i0, j0, k0) = (i0 as usize, j0 as usize, k0 as usize);
    let (i1, j1, k1) = (i1 as usize, j1 as usize, k1 as usize);
    for k in k0..=k1 {
        for j in j0..=j1 {
            for i in i0..=i1 {
                let p = g.patient_from_ijk([i as f64, j as f64, k as f64]);
                if to_segment(&p, a, b) > radius {
                    continue;
                }
                if let Some(r) = only {
                    let v = volume.value_scale.real(volume.voxels[(k, j, i)]);
                    if !r.contains(v) {
                        continue;
                    }
                }
                mask.data[(k, j, i)] = value;
            }
        }
    }
}

/// A scissors polygon ready to test points: its plane (origin, axes, normal), its
/// vertices in the plane's coordinates, and the eye it projects from (None: parallel).
struct Cut {
    origin: Point3<f64>,
    u: Vector3<f64>,
    v: Vector3<f64>,
    n: Vector3<f64>,
    polygon: Vec<[f64; 2]>,
    eye: Option<Point3<f64>>,
}

impl Cut {
    fn new(polygon: &[[f64; 3]], view_dir: [f64; 3], eye: Option<[f64; 3]>) -> Option<Cut> {
        let n = Vector3::from(view_dir);
        let finite = polygon
            .iter()
            .flatten()
            .chain(view_dir.iter())
            .all(|c| c.is_finite())
            && eye.is_none_or(|e| e.iter().all(|c| c.is_finite()));
        if polygon.len() < 3 || !finite || n.norm() < 1e-9 {
            return None;
        }
        let n = n.normalize();
        let origin = Point3::from(polygon[0]);
        let helper = if n.x.abs() < 0.9 {
            Vector3::x()
        } else {
            Vector3::y()
        };
        let u = n.cross(&helper).normalize();
        let v = n.cross(&u);
        let polygon = polygon
            .iter()
            .map(|p| {
                let d = Point3::from(*p) - origin;
                [d.dot(&u), d.dot(&v)]
            })
            .collect();
        Some(Cut {
            origin,
            u,
            v,
            n,
            polygon,
            eye: eye.map(Point3::from),
        })
    }

    /// Whether `p` projects inside the polygon (a point behind the eye never does).
    fn encloses(&self, p: &Point3<f64>) -> bool {
        let on_plane = match self.eye {
            Some(e) => {
                let d = p - e;
                let along = d.dot(&self.n);
                if along <= 1e-9 {
                    return false;
                }
                e + d * ((self.origin - e).dot(&self.n) / along)
            }
            None => p - self.n * (p - self.origin).dot(&self.n),
        };
        let d = on_plane - self.origin;
        inside_polygon(&self.polygon, [d.dot(&self.u), d.dot(&self.v)])
    }

    /// Clears the mask's voxels that project inside (or, keeping the inside, outside).
    fn apply(&self, mask: &mut Mask, keep_inside: bool) {
        let g = mask.geometry.clone();
        mask.data
            .axis_iter_mut(ndarray::Axis(0))
            .into_par_iter()
            .enumerate()
            .for_each(|(k, mut plane)| {
                for ((j, i), x) in plane.indexed_iter_mut() {
                    if *x == 0 {
                        continue;
                    }
                    let p = g.patient_from_ijk([i as f64, j as f64, k as f64]);
                    if self.encloses(&p) != keep_inside {
                        *x = 0;
                    }
                }
            });
    }
}

/// Even–odd rule: whether `q` lies inside the closed polygon.
fn inside_polygon(polygon: &[[f64; 2]], q: [f64; 2]) -> bool {
    let mut inside = false;
    let n = polygon.len();
    for a in 0..n {
        let (p, r) = (polygon[a], polygon[(a + n - 1) % n]);
        if (p[1] > q[1]) != (r[1] > q[1]) {
            let x = p[0] + (q[1] - p[1]) * (r[0] - p[0]) / (r[1] - p[1]);
            if q[0] < x {
                inside = !inside;
            }
        }
    }
    inside
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::volume::Geometry;
    use ndarray::Array3;

    /// A 60 mm cube of 0.5 mm voxels: values 100 for x < 15 mm, 400 beyond.
    fn volume() -> Volume {
        let n = 120;
        let g = Geometry::axis_aligned([n, n, n], [0.5; 3], [0.0; 3]);
        let v = Array3::from_shape_fn((n, n, n), |(_, _, i)| if i < 30 { 100 } else { 400 });
        Volume::new(v, g).expect("volume")
    }

    fn ml(m: &Mask) -> f64 {
        m.volume_ml()
    }

    /// An empty mask on `v`'s grid.
    fn empty(v: &Volume) -> Mask {
        Mask {
            data: Array3::zeros(v.voxels.dim()),
            geometry: v.geometry.clone(),
        }
    }

    fn ball_ml(r: f64) -> f64 {
        4.0 / 3.0 * std::f64::consts::PI * r.powi(3) / 1000.0
    }

    #[test]
    fn painting_and_erasing_change_the_volume_by_the_brushs() {
        let v = volume();
        let empty = empty(&v);
        let p = Progress::new();
        let brush = |tool: fn([f64; 3], f64) -> MaskEdit| tool([30.0, 30.0, 30.0], 6.0);
        let paint = |c, r| MaskEdit::Paint {
            centre_lps_mm: c,
            radius_mm: r,
            only_range: None,
            stroke_lps_mm: Vec::new(),
        };
        let erase = |c, r| MaskEdit::Erase {
            centre_lps_mm: c,
            radius_mm: r,
            only_range: None,
            stroke_lps_mm: Vec::new(),
        };
        let painted = apply(&v, empty.clone(), &[brush(paint)], &p).expect("paint");
        let truth = ball_ml(6.0);
        assert!(
            (ml(&painted) - truth).abs() / truth < 0.02,
            "{} vs {truth}",
            ml(&painted)
        );
        // Erasing a 4.5 mm ball inside it takes that ball's volume back out.
        let erased =
            apply(&v, painted.clone(), &[erase([30.0, 30.0, 30.0], 4.5)], &p).expect("erase");
        let taken = ml(&painted) - ml(&erased);
        assert!(
            (taken - ball_ml(4.5)).abs() / ball_ml(4.5) < 0.02,
            "{taken}"
        );
        // Only within 300–500: the brush across the 15 mm boundary paints the bright side.
        let masked = apply(
            &v,
            empty,
            &[MaskEdit::Paint {
                centre_lps_mm: [15.0, 30.0, 30.0],
                radius_mm: 6.0,
                only_range: Some(ValueRange::new(300.0, 500.0)),
                stroke_lps_mm: Vec::new(),
            }],
            &p,
        )
        .expect("masked");
        // The bright side holds the voxels from x = 15 mm on: the ball beyond x = 14.75 mm
        // (their faces), half the ball and a slab of a quarter millimetre.
        let h: f64 = 0.25;
        let truth =
            ball_ml(6.0) / 2.0 + std::f64::consts::PI * (36.0 * h - h.powi(3) / 3.0) / 1000.0;
        assert!(
            (ml(&masked) - truth).abs() / truth < 0.02,
            "{} vs {truth}",
            ml(&masked)
        );
    }

    #[test]
    fn islands_are_kept_or_removed_by_point_and_size() {
        let v = volume();
        let p = Progress::new();
        let paint = |c: [f64; 3], r: f64| MaskEdit::Paint {
            centre_lps_mm: c,
            radius_mm: r,
            only_range: None,
            stroke_lps_mm: Vec::new(),
        };
        let empty = empty(&v);
        let two = apply(
            &v,
            empty,
            &[
                paint([15.0, 15.0, 15.0], 5.0),
                paint([45.0, 45.0, 45.0], 2.0),
            ],
            &p,
        )
        .expect("two balls");
        // Only the island at a point kept.
        let keep_at = |point: [f64; 3]| {
            apply(
                &v,
                two.clone(),
                &[MaskEdit::KeepIslandAt {
                    point_lps_mm: point,
                }],
                &p,
            )
            .expect("keep")
        };
        let big = keep_at([15.0, 15.0, 15.0]);
        assert!((ml(&big) - ball_ml(5.0)).abs() / ball_ml(5.0) < 0.02);
        let no_small = apply(
            &v,
            two.clone(),
            &[MaskEdit::RemoveIslandsBelow { ml: 0.1 }],
            &p,
        )
        .expect("remove");
        assert_eq!(no_small.data, big.data);
        // A point on the small ball's outline (2.5 mm from its centre) keeps that ball; a
        // point far from both changes nothing.
        let small = keep_at([47.5, 45.0, 45.0]);
        assert!((ml(&small) - ball_ml(2.0)).abs() / ball_ml(2.0) < 0.05);
        let nowhere = keep_at([30.0, 50.0, 10.0]);
        assert_eq!(nowhere.data, two.data);
    }

    /// A solid box of `volume()`'s grid: x, y, z from 10 to 50 mm.
    fn cube() -> Mask {
        let v = volume();
        Mask {
            data: Array3::from_shape_fn((120, 120, 120), |(k, j, i)| {
                u8::from([i, j, k].iter().all(|&x| (20..100).contains(&x)))
            }),
            geometry: v.geometry.clone(),
        }
    }

    #[test]
    fn a_stroke_paints_the_capsule_it_sweeps() {
        let v = volume();
        let empty = empty(&v);
        let p = Progress::new();
        // Three points on a line 20 mm long: a cylinder and two half-balls.
        let stroke = MaskEdit::stroke(
            true,
            &[[20.0, 30.2, 30.1], [30.0, 30.2, 30.1], [40.0, 30.2, 30.1]],
            4.0,
            None,
        )
        .expect("a stroke");
        let painted = apply(&v, empty, &[stroke], &p).expect("paint");
        let truth = std::f64::consts::PI * 16.0 * 20.0 / 1000.0 + ball_ml(4.0);
        assert!(
            (ml(&painted) - truth).abs() / truth < 0.02,
            "{} vs {truth}",
            ml(&painted)
        );
        // Erasing along the same line with a 3 mm brush takes out its own capsule.
        let erase = MaskEdit::stroke(false, &[[20.0, 30.2, 30.1], [40.0, 30.2, 30.1]], 3.0, None)
            .expect("a stroke");
        let erased = apply(&v, painted.clone(), &[erase], &p).expect("erase");
        let taken = ml(&painted) - ml(&erased);
        let truth = std::f64::consts::PI * 9.0 * 20.0 / 1000.0 + ball_ml(3.0);
        assert!((taken - truth).abs() / truth < 0.02, "{taken} vs {truth}");
        assert!(MaskEdit::stroke(true, &[], 4.0, None).is_none());
    }

    /// A regular polygon of `n` vertices and radius `r` about `c` in the plane z = `z`.
    fn polygon(c: [f64; 2], r: f64, n: usize, z: f64) -> Vec<[f64; 3]> {
        (0..n)
            .map(|a| {
                let t = a as f64 / n as f64 * std::f64::consts::TAU;
                [c[0] + r * t.cos(), c[1] + r * t.sin(), z]
            })
            .collect()
    }

    #[test]
    fn scissors_remove_or_keep_what_the_polygon_encloses_through_the_depth() {
        let v = volume();
        let p = Progress::new();
        let cube = cube();
        let n = 64;
        let r: f64 = 8.0;
        let area = 0.5 * n as f64 * r * r * (std::f64::consts::TAU / n as f64).sin();
        // Seen along +z (parallel): a 40 mm deep prism of the polygon's area.
        let cut = MaskEdit::Scissors {
            polygon_lps_mm: polygon([30.0, 30.0], r, n, -100.0),
            view_dir: [0.0, 0.0, 1.0],
            eye_lps_mm: None,
            keep_inside: false,
        };
        let removed = apply(&v, cube.clone(), std::slice::from_ref(&cut), &p).expect("cut");
        let taken = ml(&cube) - ml(&removed);
        let truth = area * 40.0 / 1000.0;
        assert!((taken - truth).abs() / truth < 0.02, "{taken} vs {truth}");
        let MaskEdit::Scissors {
            polygon_lps_mm,
            view_dir,
            ..
        } = cut
        else {
            unreachable!()
        };
        let kept = apply(
            &v,
            cube.clone(),
            &[MaskEdit::Scissors {
                polygon_lps_mm: polygon_lps_mm.clone(),
                view_dir,
                eye_lps_mm: None,
                keep_inside: true,
            }],
            &p,
        )
        .expect("keep");
        assert!((ml(&kept) - truth).abs() / truth < 0.02, "{}", ml(&kept));
        assert_eq!(
            kept.count() + removed.count(),
            cube.count(),
            "inside and outside part the box"
        );
        // From an eye 100 mm before the polygon's plane (z = -100 → eye at z = -200): the
        // cone widens with depth, its section at z scaled by (z + 200) / 100.
        let coned = apply(
            &v,
            cube.clone(),
            &[MaskEdit::Scissors {
                polygon_lps_mm,
                view_dir,
                eye_lps_mm: Some([30.0, 30.0, -200.0]),
                keep_inside: false,
            }],
            &p,
        )
        .expect("cone");
        let taken = ml(&cube) - ml(&coned);
        // ∫ area·((z+200)/100)² dz over the box's voxel centres' extent, 10 → 50 mm.
        let f = |z: f64| area * (z + 200.0).powi(3) / 3.0 / 1e4;
        let truth = (f(50.0) - f(10.0)) / 1000.0;
        assert!((taken - truth).abs() / truth < 0.02, "{taken} vs {truth}");
        // A point behind the eye is never enclosed; a degenerate polygon changes nothing.
        let cut = Cut::new(
            &polygon([30.0, 30.0], r, n, -100.0),
            [0.0, 0.0, 1.0],
            Some([30.0, 30.0, -200.0]),
        )
        .expect("cut");
        assert!(!cut.encloses(&Point3::new(30.0, 30.0, -300.0)));
        assert!(cut.encloses(&Point3::new(30.0, 30.0, 0.0)));
        let none = apply(
            &v,
            cube.clone(),
            &[MaskEdit::Scissors {
                polygon_lps_mm: vec![[0.0; 3], [1.0, 0.0, 0.0]],
                view_dir: [0.0, 0.0, 1.0],
                eye_lps_mm: None,
                keep_inside: false,
            }],
            &p,
        )
        .expect("nothing");
        assert_eq!(none.data, cube.data);
    }
}
