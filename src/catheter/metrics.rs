//! From a voxel path to what a clinician reads off it: the path resampled every
//! millimetre and smoothed (a Gaussian along its length, the ends fixed) without ever
//! leaving the lumen — a smoothed point that would lie outside, or nearer the wall than the
//! voxel path it came from allows, is pulled back toward it — then its length, the lumen
//! at every point (the largest sphere inscribed there, and the cross-section perpendicular
//! to the path: [`section`]), the narrowest and widest points and where they are,
//! tortuosity (arc ÷ chord, and the sum of bend angles) and the curvature (its profile,
//! the bends, the smallest radius and where). Pure geometry over a [`Lumen`].

use nalgebra::Vector3;
use serde::{Deserialize, Serialize};

use super::search::{Lumen, VoxelPath};
use super::section;
use crate::geometry::{P, distance_mm};

/// Spacing (mm) of the smoothed path's points.
pub const STEP_MM: f64 = 1.0;
/// The smoothing's standard deviation along the path (mm; 1.5 voxels where voxels are coarser).
pub const SMOOTHING_MM: f64 = 3.0;
/// Bends and curvature are measured over this much path either side of a point (mm), so
/// that voxel-scale wiggles left by the smoothing do not count as bends (2.5 voxels where
/// voxels are coarser).
pub const CURVATURE_SPAN_MM: f64 = 5.0;

/// Where the path curves tighter than this radius (mm) counts toward a bend.
pub const BEND_RADIUS_MM: f64 = 50.0;

/// A bend of the path: a stretch curving tighter than [`BEND_RADIUS_MM`].
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct Bend {
    /// Where it starts and ends, along the path from the entry (mm).
    pub from_mm: f64,
    pub to_mm: f64,
    /// How far the direction turns over it (degrees).
    pub angle_deg: f64,
    /// Its tightest radius of curvature and where.
    pub min_radius_mm: f64,
    pub position_lps_mm: P,
}

/// A planned path and its measures.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct PathReport {
    /// The smoothed path, entry first, every [`STEP_MM`] or so (patient LPS mm).
    pub points_lps_mm: Vec<P>,
    /// Distance along the path from the entry to each point (mm).
    pub along_mm: Vec<f64>,
    /// The diameter of the largest sphere inscribed in the lumen at each point (mm).
    pub diameters_mm: Vec<f64>,
    /// The lumen's cross-section perpendicular to the path at each point: its smallest and
    /// largest calliper diameters and the diameter of the circle of its area (mm).
    pub min_diameters_mm: Vec<f64>,
    pub max_diameters_mm: Vec<f64>,
    pub area_equivalent_diameters_mm: Vec<f64>,
    /// The path's curvature at each point (1/mm; 0 within the smoothing's reach of the
    /// ends, where it is not measured).
    pub curvature_per_mm: Vec<f64>,
    pub length_mm: f64,
    /// The minimal lumen diameter: the smallest cross-section diameter along the path.
    pub min_lumen_diameter_mm: f64,
    pub min_lumen_position_lps_mm: P,
    /// Distance along the path to the narrowest point (mm).
    pub min_lumen_at_mm: f64,
    /// The largest cross-section diameter along the path and where (an aneurysm's); open
    /// sections (where the plane cuts into a branch's origin) do not count.
    pub max_lumen_diameter_mm: f64,
    pub max_lumen_position_lps_mm: P,
    /// Path length ÷ straight distance between its ends.
    pub tortuosity: f64,
    /// Sum of the turning angles along the path (degrees).
    pub total_bend_deg: f64,
    /// The tightest bend's radius (mm); `None` for a straight path (a plan written before
    /// this was optional holds 1.797e308 there, read as a radius beyond any bend).
    #[serde(default)]
    pub min_radius_of_curvature_mm: Option<f64>,
    pub min_radius_position_lps_mm: P,
    pub bends: Vec<Bend>,
    /// Bends of 90° or more.
    pub bends_over_90: usize,
}

impl PathReport {
    /// Whether every per-point list has one value per point, the points are finite and the
    /// distances along them never decrease: what a viewer may index by point without
    /// checking (a report read from a plan file may have been edited).
    pub fn is_consistent(&self) -> bool {
        let n = self.points_lps_mm.len();
        n >= 2
            && [
                self.along_mm.len(),
                self.diameters_mm.len(),
                self.min_diameters_mm.len(),
                self.max_diameters_mm.len(),
                self.area_equivalent_diameters_mm.len(),
                self.curvature_per_mm.len(),
            ]
            .iter()
            .all(|&m| m == n)
            && self.points_lps_mm.iter().flatten().all(|c| c.is_finite())
            && self.along_mm.windows(2).all(|w| w[1] >= w[0])
    }
}

/// Most points a measured path has (its step grows beyond [`STEP_MM`] to keep to it).
pub const MAX_POINTS: usize = 20_000;

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
/// outside the lumen, less half the smallest voxel side (the wall lies about half a voxel
/// nearer than the centres beyond it). The candidates are the nearest outside voxels (the
/// feature transform) of the 27 voxels around the point: on the tests they always hold the
/// one an exhaustive search finds (the eight corners alone missed it by up to 0.1 mm).
/// Interpolating the transform instead reads low by up to half a voxel where a vessel's
/// axis runs between voxel centres.
pub fn wall_distance_at(lumen: &Lumen, p: &P) -> f64 {
    let g = lumen.geometry.ijk_from_patient(&nalgebra::Point3::from(*p));
    let s = lumen.geometry.spacing_mm;
    let half = 0.5 * s[0].min(s[1]).min(s[2]);
    if !g.iter().all(|x| x.is_finite() && *x > -0.5) {
        return 0.0;
    }
    let nearest = g.map(|x| x.round() as usize);
    if !lumen.contains(nearest) {
        return 0.0;
    }
    let base = g.map(|x| x.round() as i64 - 1);
    let mut best = f64::INFINITY;
    for around in 0..27 {
        let v = [0, 1, 2].map(|a| base[a] + (around / 3i64.pow(a as u32)) % 3);
        let o = if v.iter().any(|&x| x < 0) {
            v
        } else {
            lumen.nearest_outside(v.map(|x| x as usize))
        };
        let e = [0, 1, 2].map(|a| (o[a] as f64 - g[a]) * s[a]);
        best = best.min((e[0] * e[0] + e[1] * e[1] + e[2] * e[2]).sqrt());
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
    // The exact distance over the cross-section within a voxel of the point: a grid half a
    // voxel apart, then a quarter voxel around its best point; and where the interpolated
    // transform is deepest.
    let at = |centre: &P, fa: f64, fb: f64, scale: f64| {
        [0, 1, 2].map(|x| centre[x] + (u[x] * fa + w[x] * fb) * scale)
    };
    let mut best = (wall_distance_at(lumen, &p), p);
    let mut deepest = (interpolated(lumen, &p), p);
    for a in -2i32..=2 {
        for b in -2i32..=2 {
            if a * a + b * b > 4 || (a, b) == (0, 0) {
                continue;
            }
            let q = at(&p, f64::from(a) / 2.0, f64::from(b) / 2.0, voxel);
            let d = wall_distance_at(lumen, &q);
            if d > best.0 {
                best = (d, q);
            }
            let i = interpolated(lumen, &q);
            if i > deepest.0 {
                deepest = (i, q);
            }
        }
    }
    let coarse = best.1;
    for a in -1i32..=1 {
        for b in -1i32..=1 {
            if (a, b) != (0, 0) {
                let q = at(&coarse, f64::from(a), f64::from(b), voxel / 4.0);
                best.0 = best.0.max(wall_distance_at(lumen, &q));
            }
        }
    }
    best.0.max(wall_distance_at(lumen, &deepest.1))
}

/// The transform interpolated trilinearly between voxel centres (mm).
fn interpolated(lumen: &Lumen, p: &P) -> f64 {
    let g = lumen.geometry.ijk_from_patient(&nalgebra::Point3::from(*p));
    section::trilinear(g, |v| lumen.wall_distance(v))
}

/// Whether a point lies in a lumen voxel.
fn inside(lumen: &Lumen, p: &P) -> bool {
    let g = lumen.geometry.ijk_from_patient(&nalgebra::Point3::from(*p));
    g.iter().all(|&x| x > -0.5) && lumen.contains(g.map(|x| x.round() as usize))
}

/// The smoothed path and its measures.
pub fn measure(lumen: &Lumen, path: &VoxelPath) -> PathReport {
    use rayon::prelude::*;
    let raw: Vec<P> = path.voxels.iter().map(|v| lumen.position(*v)).collect();
    let s = lumen.geometry.spacing_mm;
    let coarsest = s[0].max(s[1]).max(s[2]);
    // Coarse voxels leave a coarser staircase: smooth and measure bends over more path.
    let smoothing_mm = SMOOTHING_MM.max(1.5 * coarsest);
    let span_mm = CURVATURE_SPAN_MM.max(2.5 * coarsest);
    let mut points = if raw.len() < 2 {
        raw.clone()
    } else {
        // Every STEP_MM, and never more than MAX_POINTS points (a path across a grid
        // of huge voxels asked for gigabytes of samples).
        let length: f64 = raw.windows(2).map(|w| distance_mm(&w[0], &w[1])).sum();
        let step = STEP_MM.max(length / MAX_POINTS as f64);
        smooth_inside(lumen, &resample(&raw, step), smoothing_mm)
    };
    for _ in 0..CENTRING_PASSES {
        points = smooth_inside(lumen, &centred(lumen, &points, smoothing_mm), smoothing_mm);
    }
    let n = points.len();
    // The inscribed sphere and the cross-section at each point, in parallel.
    let measured: Vec<(f64, Option<section::Section>)> = (0..n)
        .into_par_iter()
        .map(|i| {
            let r = inscribed_radius(lumen, &points, i);
            // The direction over a couple of millimetres either side.
            let (a, b) = (points[i.saturating_sub(2)], points[(i + 2).min(n - 1)]);
            let t = [b[0] - a[0], b[1] - a[1], b[2] - a[2]];
            (2.0 * r, section::section(lumen, &points[i], &t, r))
        })
        .collect();
    let diameters_mm: Vec<f64> = measured.iter().map(|m| m.0).collect();
    // Where an end was placed off the vessel's axis, the path runs across the vessel to
    // reach it: a plane perpendicular to the path cuts the vessel lengthwise there, and the
    // inscribed sphere at the click is the wall's nearness, not the vessel's size. Those
    // points take the cross-section where the path has reached the axis.
    // The smoothing spreads the turn toward such an end over its reach: that stretch too.
    let (first, last) = {
        let (a, b) = approach(&diameters_mm);
        let reach = (3.0 * smoothing_mm / STEP_MM).ceil() as usize;
        let a = if a > 0 { (a + reach).min(n / 2) } else { 0 };
        let b = if b + 1 < n {
            b.saturating_sub(reach).max(n / 2)
        } else {
            b
        };
        (a, b.max(a))
    };
    let of_section = |f: fn(&section::Section) -> f64| -> Vec<f64> {
        (0..n)
            .map(|i| {
                let (d, sec) = &measured[i.clamp(first, last)];
                // A section most of whose rays left the vessel says nothing of it: the
                // inscribed sphere's diameter stands for all three there.
                sec.as_ref().filter(|x| !x.open).map_or(*d, f)
            })
            .collect()
    };
    let min_diameters_mm = of_section(|x| x.min_diameter_mm);
    let max_diameters_mm = of_section(|x| x.max_diameter_mm);
    let area_equivalent_diameters_mm = of_section(|x| x.area_equivalent_diameter_mm);
    let mut along = vec![0.0];
    for w in points.windows(2) {
        along.push(along[along.len() - 1] + distance_mm(&w[0], &w[1]));
    }
    let length_mm = along.last().copied().unwrap_or(0.0);
    let extreme = |values: &[f64], smaller: bool| {
        values
            .iter()
            .copied()
            .enumerate()
            .fold(None, |b: Option<(usize, f64)>, (i, d)| match b {
                Some((_, x)) if (smaller && d >= x) || (!smaller && d <= x) => b,
                _ => Some((i, d)),
            })
    };
    let (min_i, min_d) = extreme(&min_diameters_mm, true).unwrap_or((0, 0.0));
    let closed: Vec<f64> = measured
        .iter()
        .zip(&max_diameters_mm)
        .map(|((_, sec), &d)| {
            if sec.as_ref().is_some_and(|x| x.open) {
                0.0
            } else {
                d
            }
        })
        .collect();
    let (max_i, max_d) = extreme(&closed, false).unwrap_or((0, 0.0));
    let chord = match (points.first(), points.last()) {
        (Some(a), Some(b)) => distance_mm(a, b),
        _ => 0.0,
    };
    let tortuosity = if chord > 1e-9 { length_mm / chord } else { 1.0 };
    // Bends and curvature over a few millimetres, so voxel-scale wiggles do not count.
    let span = (span_mm / STEP_MM).round().max(1.0) as usize;
    let ends = (3.0 * smoothing_mm / STEP_MM).ceil() as usize;
    let mut total_bend_deg = 0.0;
    let mut curvature_per_mm = vec![0.0; n];
    for i in span..n.saturating_sub(span) {
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
        // Circumradius: the product of the sides over four times the area. Not within the
        // smoothing's reach of the ends, where it has less path to work with.
        if cross_n > 1e-12 && i >= ends && i + ends < n {
            curvature_per_mm[i] = 2.0 * cross_n / (ab * bc * ca);
        }
        if i % span == 0 {
            let dot = u[0] * w[0] + u[1] * w[1] + u[2] * w[2];
            total_bend_deg += cross_n.atan2(dot).to_degrees();
        }
    }
    let (k_i, k_max) = extreme(&curvature_per_mm, false).unwrap_or((0, 0.0));
    let bends = bends_of(&curvature_per_mm, &along, &points);
    PathReport {
        min_lumen_position_lps_mm: points.get(min_i).copied().unwrap_or([0.0; 3]),
        min_lumen_at_mm: along.get(min_i).copied().unwrap_or(0.0),
        min_lumen_diameter_mm: min_d,
        max_lumen_diameter_mm: max_d,
        max_lumen_position_lps_mm: points.get(max_i).copied().unwrap_or([0.0; 3]),
        min_radius_of_curvature_mm: (k_max > 0.0).then(|| 1.0 / k_max),
        min_radius_position_lps_mm: points.get(k_i).copied().unwrap_or([0.0; 3]),
        bends_over_90: bends.iter().filter(|b| b.angle_deg >= 90.0).count(),
        bends,
        points_lps_mm: points,
        along_mm: along,
        diameters_mm,
        min_diameters_mm,
        max_diameters_mm,
        area_equivalent_diameters_mm,
        curvature_per_mm,
        length_mm,
        tortuosity,
        total_bend_deg,
    }
}

/// The points (first, last) between the two ends' approaches: from each end, the stretch
/// (at most [`APPROACH_MAX_MM`]) where the inscribed radius grows by half a millimetre or
/// more per millimetre inward (over the next 3 mm), i.e. where the path climbs from an end
/// placed near the wall to the vessel's axis; along a vessel, even into a stenosis, the
/// radius changes far more slowly. Points are [`STEP_MM`] apart.
fn approach(diameters: &[f64]) -> (usize, usize) {
    let n = diameters.len();
    let over = (3.0 / STEP_MM) as usize;
    if n <= 2 * over {
        return (0, n.saturating_sub(1));
    }
    let cap = ((APPROACH_MAX_MM / STEP_MM) as usize).min(n / 2 - over);
    let steep = |a: usize, b: usize| (diameters[b] - diameters[a]) / 2.0 >= 0.5 * 3.0;
    let mut first = 0;
    while first < cap && steep(first, first + over) {
        first += 1;
    }
    let mut last = n - 1;
    while n - 1 - last < cap && steep(last, last - over) {
        last -= 1;
    }
    (first, last.max(first))
}

/// At most this much path at each end (mm) counts as the approach to the vessel's axis.
pub const APPROACH_MAX_MM: f64 = 20.0;

/// The stretches curving tighter than [`BEND_RADIUS_MM`], with the angle each turns through
/// (the curvature integrated along it).
fn bends_of(curvature: &[f64], along: &[f64], points: &[P]) -> Vec<Bend> {
    let mut bends = Vec::new();
    let mut i = 0;
    while i < curvature.len() {
        if curvature[i] < 1.0 / BEND_RADIUS_MM {
            i += 1;
            continue;
        }
        let first = i;
        let mut angle = 0.0;
        let mut tightest = (0.0, first);
        while i < curvature.len() && curvature[i] >= 1.0 / BEND_RADIUS_MM {
            let ds = if i + 1 < along.len() {
                along[i + 1] - along[i]
            } else {
                0.0
            };
            angle += curvature[i] * ds;
            if curvature[i] > tightest.0 {
                tightest = (curvature[i], i);
            }
            i += 1;
        }
        bends.push(Bend {
            from_mm: along[first],
            to_mm: along[i - 1],
            angle_deg: angle.to_degrees(),
            min_radius_mm: 1.0 / tightest.0,
            position_lps_mm: points[tightest.1],
        });
    }
    bends
}

/// Passes of [`centred`]: the first takes the path off the voxel lattice onto the lumen's
/// centre, the second corrects for the planes' tilt the first one changed.
pub const CENTRING_PASSES: usize = 2;
/// [`centred`] measures a section every this many points and interpolates between them,
/// with this many rays (a centroid needs fewer than a calliper diameter).
const CENTRING_EVERY: usize = 3;
const CENTRING_RAYS: usize = 18;

/// The path moved onto the centroid of the lumen's cross-section perpendicular to it.
///
/// The voxel path runs through voxel centres, so on a straight stretch it sits up to half a
/// voxel off the vessel's axis in each direction, and in a bend the search's shortcut puts
/// it toward the inner wall. The centroid of the section's contour (which the rays find to a
/// fraction of a voxel) is the axis: for a path offset inside a circular bend the plane
/// perpendicular to it is the bend's own radial plane, and the centroid is on the axis.
/// The shift is measured at every [`CENTRING_EVERY`]th point and interpolated, tapered to
/// nothing over the smoothing's reach at each end (the entry and the target stay where they
/// were put), skipped where a section is open (a branch's origin), and, like the smoothing,
/// never takes a point out of the lumen or nearer the wall than half its clearance.
fn centred(lumen: &Lumen, points: &[P], smoothing_mm: f64) -> Vec<P> {
    use rayon::prelude::*;
    let n = points.len();
    if n < 3 {
        return points.to_vec();
    }
    let samples: Vec<usize> = (0..n)
        .step_by(CENTRING_EVERY)
        .chain(std::iter::once(n - 1))
        .collect();
    let shifts: Vec<Vector3<f64>> = samples
        .par_iter()
        .map(|&i| {
            let (a, b) = (points[i.saturating_sub(2)], points[(i + 2).min(n - 1)]);
            let t = [b[0] - a[0], b[1] - a[1], b[2] - a[2]];
            let clear = wall_distance_at(lumen, &points[i]);
            match section::section_with_rays(lumen, &points[i], &t, clear, CENTRING_RAYS) {
                Some(sec) if !sec.open => section::centroid(&sec, &points[i])
                    .map_or(Vector3::zeros(), |c| {
                        Vector3::from(c) - Vector3::from(points[i])
                    }),
                _ => Vector3::zeros(),
            }
        })
        .collect();
    // A section at an abrupt change of calibre (a step in the wall) is lopsided: the
    // median of five neighbouring shifts keeps such a one out.
    let shifts: Vec<Vector3<f64>> = (0..shifts.len())
        .map(|k| {
            let window = &shifts[k.saturating_sub(2)..(k + 3).min(shifts.len())];
            Vector3::from_fn(|a, _| {
                let mut v: Vec<f64> = window.iter().map(|s| s[a]).collect();
                v.sort_by(f64::total_cmp);
                v[v.len() / 2]
            })
        })
        .collect();
    let taper_mm = 3.0 * smoothing_mm;
    let total = (n - 1) as f64 * STEP_MM;
    (0..n)
        .into_par_iter()
        .map(|i| {
            // The samples either side of i and the shift between them.
            let k = samples.partition_point(|&s| s <= i).saturating_sub(1);
            let (s0, s1) = (samples[k], samples[(k + 1).min(samples.len() - 1)]);
            let f = if s1 > s0 {
                (i - s0) as f64 / (s1 - s0) as f64
            } else {
                0.0
            };
            let shift = shifts[k] * (1.0 - f) + shifts[(k + 1).min(shifts.len() - 1)] * f;
            let along = i as f64 * STEP_MM;
            let weight = (along.min(total - along) / taper_mm).clamp(0.0, 1.0);
            let from = points[i];
            let floor = 0.5 * wall_distance_at(lumen, &from);
            let mut g = weight;
            loop {
                let p = [0, 1, 2].map(|a| from[a] + shift[a] * g);
                if g < 1e-3 || (inside(lumen, &p) && wall_distance_at(lumen, &p) >= floor) {
                    break if g < 1e-3 { from } else { p };
                }
                g *= 0.5;
            }
        })
        .collect()
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
    use crate::catheter::search::Lumen;
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
    fn a_report_with_a_list_of_another_length_is_not_consistent() {
        let (mask, cy) = arc_tube(4.0, 2.0, 30.0);
        let lumen = Lumen::new(&mask, &Progress::new()).expect("lumen");
        let cx = mask.geometry.dims[0] as f64 * 0.6 / 2.0;
        let at = |deg: f64| {
            let a = f64::to_radians(deg);
            [cx + 30.0 * a.cos(), cy, 5.0 + 30.0 * a.sin()]
        };
        let path = lumen
            .path(
                &[(at(30.0), "entry".into()), (at(150.0), "target".into())],
                &Progress::new(),
            )
            .expect("reachable");
        let r = measure(&lumen, &path);
        assert!(r.is_consistent());
        let mut short = r.clone();
        short.min_diameters_mm.pop();
        assert!(!short.is_consistent());
        let mut backwards = r.clone();
        backwards.along_mm.swap(1, 2);
        assert!(!backwards.is_consistent());
        let mut nan = r;
        nan.points_lps_mm[3][1] = f64::NAN;
        assert!(!nan.is_consistent());
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
        // mm over a voxel) kink the path a little there (28.9 mm measured with the centring).
        assert!(
            r.min_radius_of_curvature_mm
                .is_some_and(|radius| (radius - bend).abs() < 0.15 * bend),
            "{:?}",
            r.min_radius_of_curvature_mm
        );
        // One bend: the arc, less the ends the smoothing leaves unmeasured (9 mm each).
        assert_eq!(r.bends.len(), 1, "{:?}", r.bends);
        let measured = (arc - 2.0 * 9.0) / bend;
        assert!(
            (r.bends[0].angle_deg - measured.to_degrees()).abs() < 15.0,
            "{:?} vs {}",
            r.bends[0],
            measured.to_degrees()
        );
        // (Whether it counts as 90° or more hangs on those ends: the phantom's tortuous iliac
        // pins that count, `tests/cli.rs`.)
        assert!(r.bends_over_90 <= 1);
        // The widest lumen is the tube's 8 mm (the arc bends at 30 mm, gently for its 4 mm
        // radius), not a tilted or clipped section.
        assert!(
            (r.max_lumen_diameter_mm - 2.0 * radius).abs() <= 0.6,
            "{}",
            r.max_lumen_diameter_mm
        );
        // The cross-sections: the tube's 8 mm away from the narrowing, round.
        let i = r.diameters_mm.len() / 5;
        for d in [
            r.min_diameters_mm[i],
            r.max_diameters_mm[i],
            r.area_equivalent_diameters_mm[i],
        ] {
            assert!((d - 2.0 * radius).abs() <= 0.6, "{d}");
        }
        // Every point of the smoothed path is inside the lumen.
        for p in &r.points_lps_mm {
            assert!(inside(&lumen, p), "{p:?}");
        }
    }

    /// The distance from `p` to the nearest voxel centre outside, by trying every voxel of
    /// the lumen's box and the layer beyond it.
    fn exhaustive_wall_distance(lumen: &Lumen, p: &P) -> f64 {
        let g = lumen.geometry.ijk_from_patient(&nalgebra::Point3::from(*p));
        let s = lumen.geometry.spacing_mm;
        let (nk, nj, ni) = lumen.inside.dim();
        let o = lumen.offset.map(|x| x as i64);
        let mut best = f64::INFINITY;
        for k in -1..=nk as i64 {
            for j in -1..=nj as i64 {
                for i in -1..=ni as i64 {
                    let v = [i + o[0], j + o[1], k + o[2]];
                    let inner = v.iter().all(|&x| x >= 0) && lumen.contains(v.map(|x| x as usize));
                    if !inner {
                        let e = [0, 1, 2].map(|a| (v[a] as f64 - g[a]) * s[a]);
                        best = best.min((e[0] * e[0] + e[1] * e[1] + e[2] * e[2]).sqrt());
                    }
                }
            }
        }
        (best - 0.5 * s[0].min(s[1]).min(s[2])).max(0.0)
    }

    #[test]
    fn the_wall_distance_between_voxel_centres_is_the_exhaustive_one() {
        let (mask, cy) = arc_tube(4.0, 2.0, 30.0);
        let lumen = Lumen::new(&mask, &Progress::new()).expect("lumen");
        let cx = mask.geometry.dims[0] as f64 * 0.6 / 2.0;
        let mut seed = 11u64;
        let mut next = || {
            seed = seed
                .wrapping_mul(6_364_136_223_846_793_005)
                .wrapping_add(1_442_695_040_888_963_407);
            (seed >> 11) as f64 / (1u64 << 53) as f64
        };
        let mut worst: f64 = 0.0;
        for _ in 0..400 {
            // A point within the tube's radius of the arc, anywhere along it.
            let (ang, rho, off) = (
                (25.0 + 130.0 * next()).to_radians(),
                30.0 + (next() - 0.5) * 7.0,
                (next() - 0.5) * 7.0,
            );
            let p = [cx + rho * ang.cos(), cy + off, 5.0 + rho * ang.sin()];
            let fast = wall_distance_at(&lumen, &p);
            let exact = if inside(&lumen, &p) {
                exhaustive_wall_distance(&lumen, &p)
            } else {
                0.0
            };
            worst = worst.max((fast - exact).abs());
        }
        // 400 points of a tube of 0.6 mm voxels: the same to rounding.
        assert!(worst < 1e-9, "worst difference {worst} mm");
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
