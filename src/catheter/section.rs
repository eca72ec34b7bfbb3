//! The lumen's cross-section perpendicular to a path, the way vendor planners measure a
//! vessel: rays from the path point in the plane perpendicular to the path's direction,
//! each walked out to the wall (where the lumen mask, interpolated between voxel centres,
//! falls to one half: halfway between the last voxel in and the first one out), give the
//! lumen contour; from it the area, the area-equivalent diameter, and the smallest and
//! largest calliper diameters. Only the part of the plane connected to the path point
//! along straight rays counts (a neighbouring vessel that the plane also cuts does not).
//! Pure geometry over a [`Lumen`]: no viewer, no I/O.

use nalgebra::{Point3, Vector3};
use serde::{Deserialize, Serialize};

use super::search::Lumen;
use crate::geometry::P;

/// Rays around the path point.
pub const RAYS: usize = 36;
/// No ray walks farther than this (mm): a section wider than it is not a vessel.
pub const MAX_RADIUS_MM: f64 = 60.0;

/// The lumen contour in a plane perpendicular to the path and its measures.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct Section {
    /// Where the wall is along each ray (patient LPS mm), [`RAYS`] of them, in order.
    pub contour_lps_mm: Vec<P>,
    pub area_mm2: f64,
    /// The diameter of the circle of the same area (mm).
    pub area_equivalent_diameter_mm: f64,
    /// The narrowest and widest calliper widths of the contour (mm).
    pub min_diameter_mm: f64,
    pub max_diameter_mm: f64,
    /// The direction of the narrowest width (a unit vector in patient space).
    pub min_direction: P,
    /// Some ray ran on past [`OPEN_FACTOR`] times the inscribed radius, or past
    /// [`SPIKE_FACTOR`] times the median ray: the plane cuts into a branch's origin or
    /// another vessel here, and its widths are not the vessel's.
    pub open: bool,
}

/// A ray longer than this many times the median ray marks the section open (a branch).
pub const SPIKE_FACTOR: f64 = 1.6;

/// A ray longer than this many inscribed radii (plus two voxels) has left the vessel's own
/// section through a branch; it is stopped there and the section marked open.
pub const OPEN_FACTOR: f64 = 3.0;

/// The plane's two in-plane axes for a path direction `t` (any unit vector).
pub fn plane_axes(t: Vector3<f64>) -> (Vector3<f64>, Vector3<f64>) {
    let helper = if t.x.abs() < 0.9 {
        Vector3::x()
    } else {
        Vector3::y()
    };
    let u = t.cross(&helper).normalize();
    let w = t.cross(&u);
    (u, w)
}

/// A voxel quantity interpolated trilinearly at continuous voxel coordinates `g`; voxels
/// before the first (negative indices) count as 0, `value` answers for the others.
pub(super) fn trilinear(g: [f64; 3], value: impl Fn([usize; 3]) -> f64) -> f64 {
    if !g.iter().all(|x| x.is_finite() && *x > -1.0) {
        return 0.0;
    }
    let base = g.map(|x| x.floor());
    let mut sum = 0.0;
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
        sum += w * value(v.map(|x| x as usize));
    }
    sum
}

/// The lumen mask interpolated trilinearly between voxel centres (1 inside, 0 outside).
pub fn inside_fraction(lumen: &Lumen, p: &Point3<f64>) -> f64 {
    trilinear(lumen.geometry.ijk_from_patient(p), |v| {
        f64::from(u8::from(lumen.contains(v)))
    })
}

/// The cross-section at `centre` perpendicular to `direction`. `inscribed_mm`, the radius
/// known to be clear around the point, lets the rays start near the wall. None where the
/// point is not in the lumen or the direction is undefined.
pub fn section(lumen: &Lumen, centre: &P, direction: &P, inscribed_mm: f64) -> Option<Section> {
    section_with_rays(lumen, centre, direction, inscribed_mm, RAYS)
}

/// [`section`] with `rays` rays (at least 3) instead of [`RAYS`]: coarser and faster, for
/// finding the lumen's centre rather than measuring it.
pub fn section_with_rays(
    lumen: &Lumen,
    centre: &P,
    direction: &P,
    inscribed_mm: f64,
    rays: usize,
) -> Option<Section> {
    let rays = rays.max(3);
    let t = Vector3::from(*direction).try_normalize(1e-12)?;
    let c = Point3::from(*centre);
    if inside_fraction(lumen, &c) < 0.5 {
        return None;
    }
    let (u, w) = plane_axes(t);
    let s = lumen.geometry.spacing_mm;
    let step = 0.5 * s[0].min(s[1]).min(s[2]);
    let start = (inscribed_mm - 2.0 * step).max(0.0);
    let coarsest = s[0].max(s[1]).max(s[2]);
    let cap = (OPEN_FACTOR * inscribed_mm + 2.0 * coarsest).min(MAX_RADIUS_MM);
    let mut open = false;
    let mut radii = Vec::with_capacity(rays);
    for r in 0..rays {
        let a = std::f64::consts::TAU * r as f64 / rays as f64;
        let dir = u * a.cos() + w * a.sin();
        let at = |d: f64| inside_fraction(lumen, &(c + dir * d));
        // Walk out until the mask falls below one half, then halve the step to the wall.
        let (mut lo, mut hi) = (start, start + step);
        if at(lo) < 0.5 {
            lo = 0.0;
            hi = start.max(step);
        }
        while at(hi) >= 0.5 {
            lo = hi;
            hi += step;
            if hi > cap {
                break;
            }
        }
        if hi > cap {
            open = true;
            radii.push((dir, cap));
            continue;
        }
        for _ in 0..6 {
            let mid = 0.5 * (lo + hi);
            if at(mid) >= 0.5 {
                lo = mid;
            } else {
                hi = mid;
            }
        }
        radii.push((dir, 0.5 * (lo + hi)));
    }
    // A ray far longer than the typical one ran into a branch's origin (the renal arteries'
    // off the aorta): a vessel's own section, even a 2:1 ellipse, has none.
    let mut lengths: Vec<f64> = radii.iter().map(|(_, r)| *r).collect();
    lengths.sort_by(f64::total_cmp);
    let median = lengths[lengths.len() / 2];
    if lengths.last().is_some_and(|&r| r > SPIKE_FACTOR * median) {
        open = true;
    }
    let contour: Vec<Vector3<f64>> = radii.iter().map(|(d, r)| d * *r).collect();
    // Shoelace in the plane's own coordinates.
    let flat: Vec<[f64; 2]> = contour.iter().map(|v| [v.dot(&u), v.dot(&w)]).collect();
    let mut area = 0.0;
    for i in 0..flat.len() {
        let (a, b) = (flat[i], flat[(i + 1) % flat.len()]);
        area += a[0] * b[1] - b[0] * a[1];
    }
    let area = 0.5 * area.abs();
    // Calliper widths every degree over half a turn.
    let mut min = (f64::INFINITY, [1.0, 0.0]);
    let mut max = 0.0f64;
    for d in 0..180 {
        let a = (d as f64).to_radians();
        let n = [a.cos(), a.sin()];
        let (lo, hi) = flat
            .iter()
            .fold((f64::INFINITY, f64::NEG_INFINITY), |(lo, hi), p| {
                let x = p[0] * n[0] + p[1] * n[1];
                (lo.min(x), hi.max(x))
            });
        let width = hi - lo;
        if width < min.0 {
            min = (width, n);
        }
        max = max.max(width);
    }
    let min_direction = u * min.1[0] + w * min.1[1];
    Some(Section {
        contour_lps_mm: contour
            .iter()
            .map(|v| {
                let p = c + v;
                [p.x, p.y, p.z]
            })
            .collect(),
        area_mm2: area,
        area_equivalent_diameter_mm: 2.0 * (area / std::f64::consts::PI).sqrt(),
        min_diameter_mm: min.0,
        max_diameter_mm: max,
        min_direction: [min_direction.x, min_direction.y, min_direction.z],
        open,
    })
}

/// The area centroid of a section's contour (patient LPS mm), the contour being star-shaped
/// about `centre`, the point its rays start from. None for a degenerate contour.
pub fn centroid(section: &Section, centre: &P) -> Option<P> {
    let c = Vector3::from(*centre);
    let ring = &section.contour_lps_mm;
    let mut weighted = Vector3::zeros();
    let mut total = 0.0;
    for i in 0..ring.len() {
        let a = Vector3::from(ring[i]) - c;
        let b = Vector3::from(ring[(i + 1) % ring.len()]) - c;
        let area = 0.5 * a.cross(&b).norm();
        weighted += (a + b) * (area / 3.0);
        total += area;
    }
    (total > 1e-12).then(|| {
        let p = c + weighted / total;
        [p.x, p.y, p.z]
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::progress::Progress;
    use crate::segment::Mask;
    use crate::volume::Geometry;
    use ndarray::Array3;

    /// A straight tube along k with an elliptic section (semi-axes `a` along i, `b` along
    /// j, mm), 0.4 mm voxels in-plane and 1 mm slices.
    fn elliptic_tube(a: f64, b: f64) -> (Lumen, P) {
        let (n, s) = (80usize, 0.4);
        let c = (n - 1) as f64 / 2.0 * s + 0.13;
        let geometry = Geometry::axis_aligned([n, n, 20], [s, s, 1.0], [0.0; 3]);
        let data = Array3::from_shape_fn((20, n, n), |(_, j, i)| {
            let (x, y) = (i as f64 * s - c, j as f64 * s - c);
            u8::from((x / a).powi(2) + (y / b).powi(2) <= 1.0)
        });
        let lumen = Lumen::new(&Mask { data, geometry }, &Progress::new()).expect("lumen");
        (lumen, [c, c, 10.0])
    }

    #[test]
    fn an_ellipse_is_measured_by_its_axes_and_area() {
        let (a, b) = (7.0, 4.0);
        let (lumen, centre) = elliptic_tube(a, b);
        let s = section(&lumen, &centre, &[0.0, 0.0, 1.0], 3.0).expect("inside");
        // Within a voxel (0.4 mm) across, and the area within 4 %.
        assert!(
            (s.min_diameter_mm - 2.0 * b).abs() < 0.4,
            "{}",
            s.min_diameter_mm
        );
        assert!(
            (s.max_diameter_mm - 2.0 * a).abs() < 0.4,
            "{}",
            s.max_diameter_mm
        );
        let area = std::f64::consts::PI * a * b;
        assert!(
            (s.area_mm2 - area).abs() < 0.04 * area,
            "{} vs {area}",
            s.area_mm2
        );
        assert!(
            (s.area_equivalent_diameter_mm - 2.0 * (a * b).sqrt()).abs() < 0.3,
            "{}",
            s.area_equivalent_diameter_mm
        );
        // The narrow direction is j; the section is the vessel's own.
        assert!(s.min_direction[1].abs() > 0.99, "{:?}", s.min_direction);
        assert!(!s.open);
        // Every contour point lies on the ellipse within a voxel.
        for p in &s.contour_lps_mm {
            let (x, y) = (p[0] - centre[0], p[1] - centre[1]);
            let q = ((x / a).powi(2) + (y / b).powi(2)).sqrt();
            assert!((q - 1.0).abs() < 0.4 / b, "{p:?}: {q}");
        }
        // A tilted plane cuts a longer section: wider along the tilt, same across it.
        let tilted =
            section(&lumen, &centre, &[0.5f64.sin(), 0.0, 0.5f64.cos()], 3.0).expect("inside");
        assert!(tilted.max_diameter_mm > 2.0 * a / 0.5f64.cos() - 0.5);
        assert!((tilted.min_diameter_mm - 2.0 * b).abs() < 0.4);
    }

    #[test]
    fn a_section_into_a_branch_is_open() {
        // A 3 mm tube along k with a wide slab joining it on one side in its plane.
        let (n, s) = (80usize, 0.4);
        let c = 16.0;
        let geometry = Geometry::axis_aligned([n, n, 20], [s, s, 1.0], [0.0; 3]);
        let data = Array3::from_shape_fn((20, n, n), |(_, j, i)| {
            let (x, y) = (i as f64 * s - c, j as f64 * s - c);
            u8::from(x * x + y * y <= 9.0 || (x > 0.0 && y.abs() <= 2.0))
        });
        let lumen = Lumen::new(&Mask { data, geometry }, &Progress::new()).expect("lumen");
        let sec = section(&lumen, &[c, c, 10.0], &[0.0, 0.0, 1.0], 2.8).expect("inside");
        assert!(sec.open);
        // Its narrowest width is still the tube's.
        assert!(
            (sec.min_diameter_mm - 6.0).abs() < 0.5,
            "{}",
            sec.min_diameter_mm
        );
    }

    #[test]
    fn a_point_outside_has_no_section() {
        let (lumen, centre) = elliptic_tube(5.0, 5.0);
        let out = [centre[0] + 9.0, centre[1], centre[2]];
        assert!(section(&lumen, &out, &[0.0, 0.0, 1.0], 0.0).is_none());
        assert!(section(&lumen, &centre, &[0.0, 0.0, 0.0], 0.0).is_none());
    }
}
