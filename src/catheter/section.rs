//! The lumen's cross-section perpendicular to a path, the way vendor planners measure a
//! vessel: [`RAYS`] rays from the path point in the plane perpendicular to the path's
//! direction, each walked out to the wall, give the lumen contour. The wall is where the
//! image, interpolated between voxel centres, falls below the lumen's boundary level (the
//! lumen's [`Lumen::boundary`], half-way between its background and its contrast), or
//! where the lumen itself ends (a contact cut, a no-go region), whichever comes first;
//! a lumen with no image (a structure drawn by hand) has its wall where its mask,
//! interpolated, falls to one half. Only the part of the plane reached along straight rays
//! from the path point counts (a neighbouring vessel the plane also cuts does not).
//!
//! The figures, all from that one contour, and why they agree:
//! - **area**: the polar area ½ Σ ρᵢ² Δθ (each ray the radius of its own sector), and the
//!   **area-equivalent diameter** 2 √(area / π);
//! - **minimum diameter**: the shortest chord through the path point, ρᵢ + ρᵢ₊ₙ/₂. Since
//!   ρᵢ² + ρⱼ² ≥ (ρᵢ + ρⱼ)² / 2, the area is at least π (min)² / 4: the minimum never
//!   exceeds the area-equivalent diameter;
//! - **maximum diameter**: the largest calliper (Feret) width of the contour's sectors,
//!   the greatest distance between two of their points; by the isodiametric inequality the
//!   area is at most π (max)² / 4: the maximum is never below the area-equivalent diameter.
//!
//! **Branches and the disc's edge**: a ray that runs on past [`OPEN_FACTOR`] inscribed
//! radii (the analysis disc) or past [`SPIKE_FACTOR`] times the median ray has left the
//! vessel through a branch's ostium or into a neighbour; it is replaced by the radius
//! interpolated between the nearest rays on either side that met the wall — the contour
//! is closed across the ostium — and counted in [`Section::bridged_rays`]. Only a section
//! where more than a third of the rays were bridged is [`Section::open`]: no vessel section
//! can be told there, and it is left out of the path's widest figure.
//! Pure geometry over a [`Lumen`]: no viewer, no I/O.

use nalgebra::{Point3, Vector3};
use serde::{Deserialize, Serialize};

use super::search::Lumen;
use crate::geometry::P;

/// Rays around the path point (even: each has its opposite).
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
    /// The shortest chord through the path point, and the largest calliper width (mm).
    pub min_diameter_mm: f64,
    pub max_diameter_mm: f64,
    /// The direction of the shortest chord (a unit vector in patient space).
    pub min_direction: P,
    /// More than a third of the rays left the vessel (module documentation): no section
    /// of the vessel can be told here.
    pub open: bool,
    /// Rays that left the vessel through a branch or past the analysis disc, their wall
    /// interpolated from the rays beside them.
    #[serde(default)]
    pub bridged_rays: usize,
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

pub(super) use crate::geometry::trilinear;

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
    // Even, so that every ray has its opposite.
    let rays = rays.max(4).div_ceil(2) * 2;
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
    let inside = |p: &Point3<f64>| lumen.inside_wall(p);
    // Each ray's radius, None where it ran past the cap.
    let mut radii: Vec<Option<f64>> = Vec::with_capacity(rays);
    let directions: Vec<Vector3<f64>> = (0..rays)
        .map(|r| {
            let a = std::f64::consts::TAU * r as f64 / rays as f64;
            u * a.cos() + w * a.sin()
        })
        .collect();
    for dir in &directions {
        let at = |d: f64| inside(&(c + dir * d));
        // Walk out until outside, then halve the step to the wall.
        let (mut lo, mut hi) = (start, start + step);
        if !at(lo) {
            lo = 0.0;
            hi = start.max(step);
        }
        let mut escaped = false;
        while at(hi) {
            lo = hi;
            hi += step;
            if hi > cap {
                escaped = true;
                break;
            }
        }
        if escaped {
            radii.push(None);
            continue;
        }
        for _ in 0..8 {
            let mid = 0.5 * (lo + hi);
            if at(mid) {
                lo = mid;
            } else {
                hi = mid;
            }
        }
        radii.push(Some(0.5 * (lo + hi)));
    }
    // A ray far longer than the typical one ran into a branch's origin.
    let mut met: Vec<f64> = radii.iter().flatten().copied().collect();
    met.sort_by(f64::total_cmp);
    let median = met.get(met.len() / 2).copied().unwrap_or(cap);
    for r in radii.iter_mut() {
        if r.is_some_and(|x| x > SPIKE_FACTOR * median) {
            *r = None;
        }
    }
    let bridged_rays = radii.iter().filter(|r| r.is_none()).count();
    let open = bridged_rays * 3 > rays;
    let rho = close_across(&radii, cap);
    let measures = measures_of(&rho);
    let min_direction = directions[measures.min_ray];
    Some(Section {
        contour_lps_mm: directions
            .iter()
            .zip(&rho)
            .map(|(d, r)| {
                let p = c + d * *r;
                [p.x, p.y, p.z]
            })
            .collect(),
        area_mm2: measures.area,
        area_equivalent_diameter_mm: 2.0 * (measures.area / std::f64::consts::PI).sqrt(),
        min_diameter_mm: measures.min,
        max_diameter_mm: measures.max,
        min_direction: [min_direction.x, min_direction.y, min_direction.z],
        open,
        bridged_rays,
    })
}

/// The rays' radii with each missing one (None) interpolated, by angle, between the nearest
/// rays on either side that met the wall; `fallback` for all when none did.
pub fn close_across(radii: &[Option<f64>], fallback: f64) -> Vec<f64> {
    let n = radii.len();
    if radii.iter().all(Option::is_none) {
        return vec![fallback; n];
    }
    (0..n)
        .map(|i| {
            radii[i].unwrap_or_else(|| {
                let back = (1..n).find_map(|k| radii[(i + n - k) % n].map(|r| (k, r)));
                let ahead = (1..n).find_map(|k| radii[(i + k) % n].map(|r| (k, r)));
                match (back, ahead) {
                    (Some((kb, rb)), Some((ka, ra))) => {
                        (rb * ka as f64 + ra * kb as f64) / (ka + kb) as f64
                    }
                    _ => fallback,
                }
            })
        })
        .collect()
}

/// The figures of a star-shaped contour given by its radii at equal angles (an even
/// number of them) around its centre.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Measures {
    /// ½ Σ ρᵢ² Δθ (mm²).
    pub area: f64,
    /// The shortest chord through the centre, and which ray starts it.
    pub min: f64,
    pub min_ray: usize,
    /// The greatest distance between two points of the rays' sectors.
    pub max: f64,
}

/// [`Measures`] of `rho` (module documentation: min ≤ area-equivalent ≤ max by
/// construction).
pub fn measures_of(rho: &[f64]) -> Measures {
    let n = rho.len();
    let dtheta = std::f64::consts::TAU / n as f64;
    let area = 0.5 * dtheta * rho.iter().map(|r| r * r).sum::<f64>();
    let half = n / 2;
    let (min_ray, min) = (0..half.max(1))
        .map(|i| (i, rho[i] + rho[(i + half) % n]))
        .fold((0, f64::INFINITY), |b, x| if x.1 < b.1 { x } else { b });
    // Two sectors' farthest points: their rays' angle apart, widened by a sector's width
    // (half of it at each end), up to a straight line.
    let mut max = 0.0f64;
    for i in 0..n {
        for j in i + 1..n {
            let apart = (j - i).min(n - (j - i)) as f64 * dtheta;
            let angle = (apart + dtheta).min(std::f64::consts::PI);
            let d2 = rho[i] * rho[i] + rho[j] * rho[j] - 2.0 * rho[i] * rho[j] * angle.cos();
            max = max.max(d2.max(0.0).sqrt());
        }
        max = max.max(2.0 * rho[i] * (dtheta / 2.0).sin());
    }
    Measures {
        area,
        min,
        min_ray,
        max,
    }
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
    fn a_section_into_a_branch_is_closed_across_its_opening() {
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
        // The rays into the slab are bridged: the contour is the tube's own, closed across
        // the slab's opening, and the section is measured, not dropped.
        assert!(sec.bridged_rays > 0 && !sec.open, "{sec:?}");
        assert!((sec.min_diameter_mm - 6.0).abs() < 0.6, "{sec:?}");
        // The rays beside the opening (4 mm wide, on a 6 mm tube) still reach into its
        // mouth a little.
        assert!(
            (sec.area_equivalent_diameter_mm - 6.0).abs() < 0.8,
            "{sec:?}"
        );
        assert!(sec.max_diameter_mm < 8.0, "{sec:?}");
    }

    /// Random star-shaped contours of every kind (round, elongated, lobed, spiky, nearly
    /// degenerate): the minimum never exceeds the area-equivalent diameter, which never
    /// exceeds the maximum.
    #[test]
    fn minimum_area_equivalent_and_maximum_agree_on_any_contour() {
        let mut state = 0x9e37_79b9_7f4a_7c15u64;
        let mut next = || {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            (state >> 11) as f64 / (1u64 << 53) as f64
        };
        for case in 0..20_000 {
            let n = 2 * (2 + (next() * 60.0) as usize);
            let lobes = 1.0 + (next() * 6.0).floor();
            let (base, wobble, phase) = (0.2 + 20.0 * next(), next(), next() * 6.3);
            let rho: Vec<f64> = (0..n)
                .map(|i| {
                    let a = std::f64::consts::TAU * i as f64 / n as f64;
                    let shape = base * (1.0 + wobble * (lobes * a + phase).sin());
                    let noise = if case % 3 == 0 { next() * base } else { 0.0 };
                    (shape + noise).max(0.0)
                })
                .collect();
            let m = measures_of(&rho);
            let eq = 2.0 * (m.area / std::f64::consts::PI).sqrt();
            assert!(
                m.min <= eq * (1.0 + 1e-12) + 1e-12,
                "case {case}: {m:?}, {eq}"
            );
            assert!(
                eq <= m.max * (1.0 + 1e-12) + 1e-12,
                "case {case}: {m:?}, {eq}"
            );
        }
    }

    /// A tube of the given section along k in a partial-volumed image (0.5 mm voxels), its
    /// lumen grown as a path's is, with the image kept for the wall.
    fn imaged_tube(inside: impl Fn(f64, f64) -> f64 + Sync) -> (Lumen, P) {
        use crate::catheter::{LumenSpec, grow_lumen};
        let c = 12.13;
        let v = crate::catheter::grow::tests::volume([50, 50, 40], |p| {
            let ends = (2.0 - p[2]).max(p[2] - 17.0);
            (inside(p[0] - c, p[1] - c).max(ends), None)
        });
        let (lumen, ..) = grow_lumen(
            &v,
            LumenSpec::Auto,
            &[Point3::new(c, c, 10.0)],
            None,
            &[],
            0.0,
            &Progress::new(),
        )
        .expect("lumen");
        (lumen, [c, c, 10.0])
    }

    #[test]
    fn analytic_ellipse_and_stadium_sections_within_a_third_of_a_millimetre() {
        // An ellipse 14 × 8 mm: signed distance approximated by the scaled radius.
        let (a, b) = (7.0, 4.0);
        let (lumen, centre) = imaged_tube(|x, y| {
            let q = ((x / a).powi(2) + (y / b).powi(2)).sqrt();
            (q - 1.0) * b.min(a) * q.max(1e-9) / q.max(1e-9)
        });
        assert!(lumen.boundary_level().is_some());
        let s = section(&lumen, &centre, &[0.0, 0.0, 1.0], 3.5).expect("inside");
        assert!((s.min_diameter_mm - 2.0 * b).abs() <= 0.3, "{s:?}");
        assert!((s.max_diameter_mm - 2.0 * a).abs() <= 0.3, "{s:?}");
        let area = std::f64::consts::PI * a * b;
        assert!(
            (s.area_mm2 - area).abs() <= 0.03 * area,
            "{} vs {area}",
            s.area_mm2
        );
        assert_eq!(s.bridged_rays, 0);
        // A stadium: a 8 × 8 mm square with half discs of radius 4 on two sides (16 × 8).
        let (lumen, centre) = imaged_tube(|x, y| {
            let dx = (x.abs() - 4.0).max(0.0);
            dx.hypot(y) - 4.0
        });
        let s = section(&lumen, &centre, &[0.0, 0.0, 1.0], 3.5).expect("inside");
        assert!((s.min_diameter_mm - 8.0).abs() <= 0.3, "{s:?}");
        assert!((s.max_diameter_mm - 16.0).abs() <= 0.3, "{s:?}");
        let area = 64.0 + std::f64::consts::PI * 16.0;
        assert!(
            (s.area_mm2 - area).abs() <= 0.03 * area,
            "{} vs {area}",
            s.area_mm2
        );
    }

    #[test]
    fn a_contour_is_closed_across_a_branch() {
        let rho = close_across(
            &[Some(2.0), None, None, Some(5.0), Some(5.0), Some(2.0)],
            9.0,
        );
        assert_eq!(rho, vec![2.0, 3.0, 4.0, 5.0, 5.0, 2.0]);
        assert_eq!(close_across(&[None, None], 9.0), vec![9.0, 9.0]);
    }

    #[test]
    fn a_point_outside_has_no_section() {
        let (lumen, centre) = elliptic_tube(5.0, 5.0);
        let out = [centre[0] + 9.0, centre[1], centre[2]];
        assert!(section(&lumen, &out, &[0.0, 0.0, 1.0], 0.0).is_none());
        assert!(section(&lumen, &centre, &[0.0, 0.0, 0.0], 0.0).is_none());
    }
}
