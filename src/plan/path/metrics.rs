//! From a voxel path to what a clinician reads off it: the path resampled every
//! millimetre and smoothed (a Gaussian along its length, the ends fixed) without ever
//! leaving the lumen — a smoothed point that would lie outside, or nearer the wall than the
//! voxel path it came from allows, is pulled back toward it — then its length, the lumen
//! diameter at every point (the largest sphere inscribed there), the narrowest point and
//! where it is, tortuosity (arc ÷ chord, and the sum of bend angles) and the curvature
//! (the smallest radius of curvature and where). Pure geometry over a [`Lumen`].

use serde::{Deserialize, Serialize};

use super::search::{Lumen, VoxelPath};
use crate::plan::geometry::{P, distance_mm};

/// Spacing (mm) of the smoothed path's points.
pub const STEP_MM: f64 = 1.0;
/// The smoothing's standard deviation along the path (mm; 1.5 voxels where voxels are coarser).
pub const SMOOTHING_MM: f64 = 3.0;
/// Bends and curvature are measured over this much path either side of a point (mm), so
/// that voxel-scale wiggles left by the smoothing do not count as bends (2.5 voxels where
/// voxels are coarser).
pub const CURVATURE_SPAN_MM: f64 = 5.0;

/// A planned path and its measures.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PathReport {
    /// The smoothed path, entry first, every [`STEP_MM`] or so (patient LPS mm).
    pub points_lps_mm: Vec<P>,
    /// The lumen diameter at each point: twice the distance to the wall (mm).
    pub diameters_mm: Vec<f64>,
    pub length_mm: f64,
    pub min_lumen_diameter_mm: f64,
    pub min_lumen_position_lps_mm: P,
    /// Distance along the path to the narrowest point (mm).
    pub min_lumen_at_mm: f64,
    /// Path length ÷ straight distance between its ends.
    pub tortuosity: f64,
    /// Sum of the turning angles along the path (degrees).
    pub total_bend_deg: f64,
    pub min_radius_of_curvature_mm: f64,
    pub min_radius_position_lps_mm: P,
}

/// Resamples a polyline every `step` mm (its ends kept).
fn resample(points: &[P], step: f64) -> Vec<P> {
    let mut out = vec![points[0]];
    let mut carry = 0.0;
    for w in points.windows(2) {
        let len = distance_mm(&w[0], &w[1]);
        let mut t = step - carry;
        while t < len {
            let f = t / len;
            out.push([0, 1, 2].map(|a| w[0][a] + (w[1][a] - w[0][a]) * f));
            t += step;
        }
        carry = len - (t - step);
    }
    if let Some(last) = points.last()
        && out.last().is_some_and(|p| distance_mm(p, last) > 1e-9)
    {
        out.push(*last);
    }
    out
}

/// Distance (mm) to the wall at a point: from the point itself to the nearest voxel centre
/// outside the lumen (searched around it, the transform saying how far to look), less half
/// the smallest voxel side (the wall lies about half a voxel nearer than the centres beyond
/// it). Interpolating the transform instead reads low by up to half a voxel where a vessel's
/// axis runs between voxel centres.
pub fn wall_distance_at(lumen: &Lumen, p: &P) -> f64 {
    let g = lumen.geometry.ijk_from_patient(&nalgebra::Point3::from(*p));
    let s = lumen.geometry.spacing_mm;
    let half = 0.5 * s[0].min(s[1]).min(s[2]);
    let nearest = g.map(|x| x.round().max(0.0) as usize);
    if !lumen.contains(nearest) {
        return 0.0;
    }
    // The nearest outside centre is within the transform at the nearest voxel plus a voxel
    // diagonal of it; at most 12 voxels each way are looked at (beyond that, the transform).
    let diagonal = (s[0] * s[0] + s[1] * s[1] + s[2] * s[2]).sqrt();
    let reach_mm = lumen.wall_distance(nearest) + diagonal;
    let reach = [0, 1, 2].map(|a| ((reach_mm / s[a]).ceil() as i64).min(12));
    let mut best = f64::INFINITY;
    for dk in -reach[2]..=reach[2] {
        for dj in -reach[1]..=reach[1] {
            for di in -reach[0]..=reach[0] {
                let v = [
                    nearest[0] as i64 + di,
                    nearest[1] as i64 + dj,
                    nearest[2] as i64 + dk,
                ];
                let d = {
                    let e = [0, 1, 2].map(|a| (v[a] as f64 - g[a]) * s[a]);
                    (e[0] * e[0] + e[1] * e[1] + e[2] * e[2]).sqrt()
                };
                if d >= best {
                    continue;
                }
                let outside = v.iter().any(|&x| x < 0) || !lumen.contains(v.map(|x| x as usize));
                if outside {
                    best = d;
                }
            }
        }
    }
    if !best.is_finite() {
        // A wide vessel: the transform at the nearest voxel centre, less the step to it.
        let to_centre = {
            let e = [0, 1, 2].map(|a| (nearest[a] as f64 - g[a]) * s[a]);
            (e[0] * e[0] + e[1] * e[1] + e[2] * e[2]).sqrt()
        };
        best = lumen.wall_distance(nearest) - to_centre;
    }
    (best - half).max(0.0)
}

/// The radius of the largest sphere inscribed in the lumen at point `i`'s cross-section:
/// the wall distance searched over the plane perpendicular to the path within one voxel of
/// the point (a smoothed path runs a little inside a bend's centreline).
fn inscribed_radius(lumen: &Lumen, points: &[P], i: usize) -> f64 {
    let (a, b) = (
        points[i.saturating_sub(1)],
        points[(i + 1).min(points.len() - 1)],
    );
    let t = nalgebra::Vector3::new(b[0] - a[0], b[1] - a[1], b[2] - a[2]);
    let p = points[i];
    let Some(t) = t.try_normalize(1e-12) else {
        return wall_distance_at(lumen, &p);
    };
    let helper = if t.x.abs() < 0.9 {
        nalgebra::Vector3::x()
    } else {
        nalgebra::Vector3::y()
    };
    let u = t.cross(&helper).normalize();
    let w = t.cross(&u);
    let s = lumen.geometry.spacing_mm;
    let voxel = s[0].max(s[1]).max(s[2]);
    // The exact distance over a grid of the cross-section (a voxel around the point, a
    // quarter voxel apart), and where the interpolated transform is deepest.
    let mut best = wall_distance_at(lumen, &p);
    let mut deepest = (interpolated(lumen, &p), p);
    let steps = 4;
    for a in -steps..=steps {
        for b in -steps..=steps {
            let (fa, fb) = (a as f64 / steps as f64, b as f64 / steps as f64);
            if fa * fa + fb * fb > 1.0 {
                continue;
            }
            let q = [0, 1, 2].map(|x| p[x] + (u[x] * fa + w[x] * fb) * voxel);
            best = best.max(wall_distance_at(lumen, &q));
            let d = interpolated(lumen, &q);
            if d > deepest.0 {
                deepest = (d, q);
            }
        }
    }
    best.max(wall_distance_at(lumen, &deepest.1))
}

/// The transform interpolated trilinearly between voxel centres (mm).
fn interpolated(lumen: &Lumen, p: &P) -> f64 {
    let g = lumen.geometry.ijk_from_patient(&nalgebra::Point3::from(*p));
    let base = g.map(|x| x.floor());
    let mut d = 0.0;
    for corner in 0..8 {
        let o = [corner & 1, (corner >> 1) & 1, (corner >> 2) & 1];
        let w: f64 = (0..3)
            .map(|a| {
                let f = g[a] - base[a];
                if o[a] == 1 { f } else { 1.0 - f }
            })
            .product();
        let v = [0, 1, 2].map(|a| base[a] + o[a] as f64);
        if w == 0.0 || v.iter().any(|&x| x < 0.0) {
            continue;
        }
        d += w * lumen.wall_distance(v.map(|x| x as usize));
    }
    d
}

/// Whether a point lies in a lumen voxel.
fn inside(lumen: &Lumen, p: &P) -> bool {
    let g = lumen.geometry.ijk_from_patient(&nalgebra::Point3::from(*p));
    g.iter().all(|&x| x > -0.5) && lumen.contains(g.map(|x| x.round() as usize))
}

/// The smoothed path and its measures.
pub fn measure(lumen: &Lumen, path: &VoxelPath) -> PathReport {
    let raw: Vec<P> = path.voxels.iter().map(|v| lumen.position(*v)).collect();
    let s = lumen.geometry.spacing_mm;
    let coarsest = s[0].max(s[1]).max(s[2]);
    // Coarse voxels leave a coarser staircase: smooth and measure bends over more path.
    let smoothing_mm = SMOOTHING_MM.max(1.5 * coarsest);
    let span_mm = CURVATURE_SPAN_MM.max(2.5 * coarsest);
    let points = if raw.len() < 2 {
        raw.clone()
    } else {
        smooth_inside(lumen, &resample(&raw, STEP_MM), smoothing_mm)
    };
    let diameters_mm: Vec<f64> = (0..points.len())
        .map(|i| 2.0 * inscribed_radius(lumen, &points, i))
        .collect();
    let mut along = vec![0.0];
    for w in points.windows(2) {
        along.push(along[along.len() - 1] + distance_mm(&w[0], &w[1]));
    }
    let length_mm = along.last().copied().unwrap_or(0.0);
    let (min_i, min_d) =
        diameters_mm
            .iter()
            .copied()
            .enumerate()
            .fold(
                (0, f64::INFINITY),
                |b, (i, d)| if d < b.1 { (i, d) } else { b },
            );
    let chord = match (points.first(), points.last()) {
        (Some(a), Some(b)) => distance_mm(a, b),
        _ => 0.0,
    };
    let tortuosity = if chord > 1e-9 { length_mm / chord } else { 1.0 };
    // Bends and curvature over a few millimetres, so voxel-scale wiggles do not count.
    let span = (span_mm / STEP_MM).round().max(1.0) as usize;
    let ends = (3.0 * smoothing_mm / STEP_MM).ceil() as usize;
    let mut total_bend_deg = 0.0;
    let mut min_radius = (f64::INFINITY, points.first().copied().unwrap_or([0.0; 3]));
    for i in span..points.len().saturating_sub(span) {
        let (a, b, c) = (points[i - span], points[i], points[i + span]);
        let u = [0, 1, 2].map(|x| b[x] - a[x]);
        let w = [0, 1, 2].map(|x| c[x] - b[x]);
        let cross = [
            u[1] * w[2] - u[2] * w[1],
            u[2] * w[0] - u[0] * w[2],
            u[0] * w[1] - u[1] * w[0],
        ];
        let cross_n = (cross[0].powi(2) + cross[1].powi(2) + cross[2].powi(2)).sqrt();
        let (ab, bc, ca) = (
            distance_mm(&a, &b),
            distance_mm(&b, &c),
            distance_mm(&c, &a),
        );
        // Circumradius: the product of the sides over four times the area.
        // Not within the smoothing's reach of the ends, where it has less path to work with.
        if cross_n > 1e-12 && i >= ends && i + ends < points.len() {
            let r = ab * bc * ca / (2.0 * cross_n);
            if r < min_radius.0 {
                min_radius = (r, b);
            }
        }
        if i % span == 0 {
            let dot = u[0] * w[0] + u[1] * w[1] + u[2] * w[2];
            total_bend_deg += cross_n.atan2(dot).to_degrees();
        }
    }
    PathReport {
        min_lumen_position_lps_mm: points.get(min_i).copied().unwrap_or([0.0; 3]),
        min_lumen_at_mm: along.get(min_i).copied().unwrap_or(0.0),
        min_lumen_diameter_mm: if min_d.is_finite() { min_d } else { 0.0 },
        points_lps_mm: points,
        diameters_mm,
        length_mm,
        tortuosity,
        total_bend_deg,
        min_radius_of_curvature_mm: min_radius.0,
        min_radius_position_lps_mm: min_radius.1,
    }
}

/// Gaussian smoothing along the path, ends fixed, each point kept inside the lumen and no
/// nearer its wall than half of where it came from was.
fn smooth_inside(lumen: &Lumen, points: &[P], smoothing_mm: f64) -> Vec<P> {
    let n = points.len();
    let sigma = smoothing_mm / STEP_MM;
    let reach = (3.0 * sigma).ceil() as isize;
    let weights: Vec<f64> = (-reach..=reach)
        .map(|o| (-(o as f64).powi(2) / (2.0 * sigma * sigma)).exp())
        .collect();
    (0..n)
        .map(|i| {
            // Near the ends the window shrinks symmetrically, so the ends stay where they are.
            let r = reach.min(i as isize).min((n - 1 - i) as isize);
            let mut sum = [0.0; 3];
            let mut total = 0.0;
            for o in -r..=r {
                let w = weights[(o + reach) as usize];
                let q = points[(i as isize + o) as usize];
                for a in 0..3 {
                    sum[a] += w * q[a];
                }
                total += w;
            }
            let smooth = sum.map(|s| s / total);
            let from = points[i];
            let floor = 0.5 * wall_distance_at(lumen, &from);
            let mut f = 1.0;
            loop {
                let p = [0, 1, 2].map(|a| from[a] + (smooth[a] - from[a]) * f);
                if f < 1e-3 || (inside(lumen, &p) && wall_distance_at(lumen, &p) >= floor) {
                    break p;
                }
                f *= 0.5;
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::plan::path::search::Lumen;
    use crate::progress::Progress;
    use crate::segment::Mask;
    use crate::volume::Geometry;
    use ndarray::Array3;

    /// A tube along a circular arc of radius `bend` mm in the x–z plane with a narrowing
    /// (radius `narrow` over a short stretch) halfway, in 0.6 mm voxels.
    fn arc_tube(radius: f64, narrow: f64, bend: f64) -> (Mask, f64) {
        let s = 0.6;
        let n = (2.0 * bend / s) as usize + 30;
        let ny = (2.0 * radius / s) as usize + 10;
        let geometry = Geometry::axis_aligned([n, ny, n / 2 + 20], [s, s, s], [0.0; 3]);
        let (cx, cy) = ((n as f64 * s) / 2.0, ny as f64 * s / 2.0);
        let data = Array3::from_shape_fn((n / 2 + 20, ny, n), |(k, j, i)| {
            let (x, y, z) = (i as f64 * s, j as f64 * s, k as f64 * s);
            // The arc: centre (cx, ·, 5), from angle 20° to 160°.
            let (dx, dz) = (x - cx, z - 5.0);
            let ang = dz.atan2(dx).to_degrees();
            if !(20.0..=160.0).contains(&ang) {
                return 0;
            }
            let rho = (dx * dx + dz * dz).sqrt();
            let r = if (85.0..=95.0).contains(&ang) {
                narrow
            } else {
                radius
            };
            u8::from((rho - bend).powi(2) + (y - cy).powi(2) <= r * r)
        });
        (Mask { data, geometry }, cy)
    }

    #[test]
    fn an_arc_is_measured_as_one() {
        let (bend, radius, narrow) = (30.0, 4.0, 2.0);
        let (mask, cy) = arc_tube(radius, narrow, bend);
        let lumen = Lumen::new(&mask, &Progress::new()).expect("lumen");
        let at = |deg: f64| {
            let a = deg.to_radians();
            let cx = mask.geometry.dims[0] as f64 * 0.6 / 2.0;
            [cx + bend * a.cos(), cy, 5.0 + bend * a.sin()]
        };
        let path = lumen
            .path(
                &[(at(30.0), "entry".into()), (at(150.0), "target".into())],
                &Progress::new(),
            )
            .expect("reachable");
        let r = measure(&lumen, &path);
        // The centreline between the two points: 120° of a 30 mm circle.
        let arc = bend * 120f64.to_radians();
        assert!(
            (r.length_mm - arc).abs() < 0.02 * arc,
            "length {} vs {arc}",
            r.length_mm
        );
        let chord = 2.0 * bend * 60f64.to_radians().sin();
        assert!(
            (r.tortuosity - arc / chord).abs() < 0.02 * arc / chord,
            "{}",
            r.tortuosity
        );
        assert!(
            (r.total_bend_deg - 120.0).abs() < 15.0,
            "{}",
            r.total_bend_deg
        );
        // The narrowing: 4 mm across, within a voxel, near 90°.
        assert!(
            (r.min_lumen_diameter_mm - 2.0 * narrow).abs() <= 0.6,
            "{}",
            r.min_lumen_diameter_mm
        );
        assert!(distance_mm(&r.min_lumen_position_lps_mm, &at(90.0)) < 4.0);
        // Elsewhere the diameter is the tube's.
        let mid = r.diameters_mm[r.diameters_mm.len() / 5];
        assert!((mid - 2.0 * radius).abs() <= 0.6, "{mid}");
        // The radius of curvature is the arc's; the narrowing's stepped walls (radius 4 → 2
        // mm over a voxel) kink the path a little there (26.4 mm measured).
        assert!(
            (r.min_radius_of_curvature_mm - bend).abs() < 0.15 * bend,
            "{}",
            r.min_radius_of_curvature_mm
        );
        // Every point of the smoothed path is inside the lumen.
        for p in &r.points_lps_mm {
            assert!(inside(&lumen, p), "{p:?}");
        }
    }

    #[test]
    fn resampling_keeps_the_ends_and_the_step() {
        let pts = [[0.0, 0.0, 0.0], [2.5, 0.0, 0.0], [2.5, 3.0, 0.0]];
        let r = resample(&pts, 1.0);
        assert_eq!(r.first(), Some(&pts[0]));
        assert_eq!(r.last(), Some(&pts[2]));
        for w in r.windows(2).take(r.len() - 2) {
            assert!((distance_mm(&w[0], &w[1]) - 1.0).abs() < 0.3);
        }
    }
}
