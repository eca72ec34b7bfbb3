//! The fly-through: what a camera inside the vessel sees, looking along the path from one
//! of its points (a virtual angioscopy). Rays from the eye are walked through the lumen
//! until the lumen mask, interpolated between voxel centres, falls to one half (the wall,
//! as the cross-sections find it); the wall is shaded by a head light on the mask's gradient
//! and dimmed with distance, so bends, narrowings and branch origins read as they would
//! through a scope. Pure CPU ray casting over a [`Lumen`], in parallel rows; no viewer.

use nalgebra::{Point3, Vector3};
use rayon::prelude::*;

use super::search::Lumen;
use super::section::inside_fraction;
use super::tube::transported_frames;

/// Rays stop after this far (mm); what lies beyond is drawn as the dark distance.
pub const MAX_DEPTH_MM: f64 = 80.0;

/// A rendered frame: `size` × `size` RGB pixels, row-major from the top.
#[derive(Debug, Clone, PartialEq)]
pub struct Frame {
    pub size: usize,
    pub rgb: Vec<[u8; 3]>,
    /// The distance to the wall along each pixel's ray (mm; None: past [`MAX_DEPTH_MM`]).
    pub depth_mm: Vec<Option<f64>>,
}

/// The view from point `index` of `points` looking along the path (the direction to the
/// point `ahead_mm` further on), its up the path's untwisting frame's normal.
pub fn view_at(
    points: &[[f64; 3]],
    index: usize,
    ahead_mm: f64,
) -> Option<([f64; 3], Vector3<f64>, Vector3<f64>)> {
    let n = points.len();
    if n < 2 {
        return None;
    }
    let i = index.min(n - 2);
    let eye = Vector3::from(points[i]);
    let mut j = i + 1;
    while j + 1 < n && (Vector3::from(points[j]) - eye).norm() < ahead_mm {
        j += 1;
    }
    let forward = (Vector3::from(points[j]) - eye).try_normalize(1e-9)?;
    let up = transported_frames(points)[i][1];
    let up = (up - forward * up.dot(&forward)).try_normalize(1e-9)?;
    Some((points[i], forward, up))
}

/// Renders the lumen from `eye` looking along `forward` (`up` upwards), a square field of
/// view of `fov_deg`, `size` pixels across.
pub fn render(
    lumen: &Lumen,
    eye: [f64; 3],
    forward: Vector3<f64>,
    up: Vector3<f64>,
    fov_deg: f64,
    size: usize,
) -> Frame {
    let s = lumen.geometry.spacing_mm;
    let step = 0.35 * s[0].min(s[1]).min(s[2]);
    let right = forward.cross(&up);
    let half = (0.5 * fov_deg.to_radians()).tan();
    let e = Point3::from(eye);
    let pixels: Vec<([u8; 3], Option<f64>)> = (0..size * size)
        .into_par_iter()
        .map(|k| {
            let (x, y) = ((k % size) as f64, (k / size) as f64);
            let sx = (2.0 * (x + 0.5) / size as f64 - 1.0) * half;
            let sy = (1.0 - 2.0 * (y + 0.5) / size as f64) * half;
            let dir = (forward + right * sx + up * sy).normalize();
            // Walk out to the wall, then halve the step onto it.
            let mut t = 0.0;
            let mut hit = None;
            while t < MAX_DEPTH_MM {
                let next = t + step;
                if inside_fraction(lumen, &(e + dir * next)) < 0.5 {
                    let (mut lo, mut hi) = (t, next);
                    for _ in 0..5 {
                        let mid = 0.5 * (lo + hi);
                        if inside_fraction(lumen, &(e + dir * mid)) >= 0.5 {
                            lo = mid;
                        } else {
                            hi = mid;
                        }
                    }
                    hit = Some(0.5 * (lo + hi));
                    break;
                }
                t = next;
            }
            let Some(d) = hit else {
                return ([6, 4, 4], None);
            };
            // The wall's normal: the mask's gradient (pointing into the lumen).
            let q = e + dir * d;
            let g = |a: Vector3<f64>| {
                inside_fraction(lumen, &(q + a * s[0])) - inside_fraction(lumen, &(q - a * s[0]))
            };
            let grad = Vector3::new(g(Vector3::x()), g(Vector3::y()), g(Vector3::z()));
            let lambert = grad
                .try_normalize(1e-9)
                .map_or(0.6, |nrm| nrm.dot(&(-dir)).abs());
            let fade = (1.0 - d / MAX_DEPTH_MM).clamp(0.0, 1.0).powf(1.6);
            let light = (0.15 + 0.85 * lambert) * (0.25 + 0.75 * fade);
            // Vessel-wall pink.
            let c = [0.95, 0.62, 0.55]
                .map(|v: f64| (255.0 * v * light).round().clamp(0.0, 255.0) as u8);
            (c, Some(d))
        })
        .collect();
    let (rgb, depth_mm) = pixels.into_iter().unzip();
    Frame {
        size,
        rgb,
        depth_mm,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::progress::Progress;
    use crate::segment::Mask;
    use crate::volume::Geometry;
    use ndarray::Array3;

    /// A straight tube of radius 5 mm along z through (15, 15), 0.5 mm voxels, 60 mm long.
    fn tube() -> Lumen {
        let s = 0.5;
        let n = [60, 60, 120];
        let geometry = Geometry::axis_aligned(n, [s, s, s], [0.0, 0.0, 0.0]);
        let data = Array3::from_shape_fn((n[2], n[1], n[0]), |(_, j, i)| {
            u8::from((i as f64 * s - 15.0).hypot(j as f64 * s - 15.0) <= 5.0)
        });
        Lumen::new(&Mask { data, geometry }, &Progress::new()).expect("lumen")
    }

    #[test]
    fn looking_down_a_straight_tube_the_wall_is_where_its_radius_says() {
        let lumen = tube();
        let size = 41;
        let f = render(
            &lumen,
            [15.0, 15.0, 10.0],
            Vector3::z(),
            Vector3::y(),
            90.0,
            size,
        );
        assert_eq!(f.rgb.len(), size * size);
        // Straight ahead the tube runs on past the far end (or to it, 49.75 mm on).
        let centre = f.depth_mm[(size / 2) * size + size / 2];
        assert!(centre.is_none_or(|d| d > 45.0), "{centre:?}");
        // A pixel at angle θ off the axis meets the wall at r / tan θ (r = 5 mm).
        for x in [0usize, 5, 10] {
            let sx = (2.0 * (x as f64 + 0.5) / size as f64 - 1.0) * 1.0;
            let d = f.depth_mm[(size / 2) * size + x].expect("hits the wall");
            let along = 5.0 / sx.abs();
            let expected = along * (1.0 + sx * sx).sqrt();
            assert!((d - expected).abs() < 0.6, "pixel {x}: {d} vs {expected}");
        }
        // Near walls are brighter than far ones.
        let lum = |k: usize| f.rgb[k].iter().map(|&c| u32::from(c)).sum::<u32>();
        assert!(lum((size / 2) * size) > lum((size / 2) * size + 15));
    }

    #[test]
    fn the_view_looks_along_the_path() {
        let points: Vec<[f64; 3]> = (0..50).map(|i| [15.0, 15.0, i as f64]).collect();
        let (eye, forward, up) = view_at(&points, 10, 5.0).expect("a view");
        assert_eq!(eye, points[10]);
        assert!((forward - Vector3::z()).norm() < 1e-9);
        assert!(up.dot(&forward).abs() < 1e-9 && (up.norm() - 1.0).abs() < 1e-9);
        assert!(view_at(&points[..1], 0, 5.0).is_none());
    }
}
