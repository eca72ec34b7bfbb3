//! A planned path as something to look at: a tube of the device's diameter around the
//! smoothed path, each ring coloured by the clearance the lumen leaves the device there
//! (green with room to spare, amber as it tightens, red where SFAR reaches 1.0, magenta
//! past 1.05), and flagged bends shown in the bend colour. Pure geometry and colour
//! (positions, normals, per-vertex sRGB, triangle indices in patient LPS mm): the viewer
//! uploads it as a mesh; nothing here knows Bevy.

use nalgebra::Vector3;

use super::devices::{Concern, Fit};
use super::metrics::PathReport;
use super::section::plane_axes;

/// Vertices around each ring of the tube.
pub const SIDES: usize = 16;

/// The colour of a point of the path for a device: by its SFAR (outer diameter ÷ the
/// lumen's minimal diameter there), sRGB 0–1.
pub fn clearance_colour(sfar: f64) -> [f32; 3] {
    // Stops: roomy (≤ 0.6) green, 0.85 amber, 1.0 red; at risk (≥ 1.05) magenta.
    const GREEN: [f32; 3] = [0.20, 0.78, 0.35];
    const AMBER: [f32; 3] = [0.98, 0.72, 0.15];
    const RED: [f32; 3] = [0.92, 0.18, 0.15];
    const MAGENTA: [f32; 3] = [0.85, 0.20, 0.85];
    let mix = |a: [f32; 3], b: [f32; 3], t: f64| {
        let t = t.clamp(0.0, 1.0) as f32;
        [0, 1, 2].map(|i| a[i] + (b[i] - a[i]) * t)
    };
    if !sfar.is_finite() || sfar >= super::devices::SFAR_RISK {
        MAGENTA
    } else if sfar >= super::devices::SFAR_TIGHT {
        RED
    } else if sfar >= 0.85 {
        mix(AMBER, RED, (sfar - 0.85) / 0.15)
    } else {
        mix(GREEN, AMBER, (sfar - 0.6) / 0.25)
    }
}

/// The colour of a bend tighter than the device allows (sRGB): cyan, apart from the
/// clearance scale.
pub const BEND_COLOUR: [f32; 3] = [0.15, 0.75, 0.95];
/// A path without a device: one neutral colour.
pub const PATH_COLOUR: [f32; 3] = [0.95, 0.85, 0.30];

/// A triangle mesh of a tube with a colour per vertex.
#[derive(Debug, Clone, Default)]
pub struct Tube {
    pub positions_lps_mm: Vec<[f32; 3]>,
    pub normals: Vec<[f32; 3]>,
    pub colours: Vec<[f32; 4]>,
    pub indices: Vec<u32>,
}

/// The colour of each point of `report`'s path: by clearance with a fit, in the bend colour
/// where a flagged bend is, the neutral colour without a device.
pub fn point_colours(report: &PathReport, fit: Option<&Fit>) -> Vec<[f32; 3]> {
    let n = report.points_lps_mm.len();
    let Some(fit) = fit.filter(|f| f.sfar.len() == n) else {
        return vec![PATH_COLOUR; n];
    };
    let mut colours: Vec<[f32; 3]> = fit.sfar.iter().map(|&s| clearance_colour(s)).collect();
    for flag in fit.flags.iter().filter(|f| f.concern == Concern::Bend) {
        for (c, along) in colours.iter_mut().zip(&report.along_mm) {
            if (flag.from_mm..=flag.to_mm).contains(along) {
                *c = BEND_COLOUR;
            }
        }
    }
    colours
}

/// A frame at each point of a path: the unit tangent t and two unit normals u, w (t, u, w
/// right-handed), each frame the one before turned onto the new tangent (parallel
/// transport), so the frames do not twist about the path.
pub fn transported_frames(points: &[[f64; 3]]) -> Vec<[Vector3<f64>; 3]> {
    let n = points.len();
    let p: Vec<Vector3<f64>> = points.iter().map(|q| Vector3::from(*q)).collect();
    let tangent = |i: usize| {
        let (a, b) = (p[i.saturating_sub(1)], p[(i + 1).min(n.saturating_sub(1))]);
        (b - a).try_normalize(1e-12).unwrap_or_else(Vector3::z)
    };
    let mut out = Vec::with_capacity(n);
    if n == 0 {
        return out;
    }
    let mut t = tangent(0);
    let (mut u, _) = plane_axes(t);
    for i in 0..n {
        let next = tangent(i);
        if let Some(rot) = nalgebra::Rotation3::rotation_between(&t, &next) {
            u = rot * u;
        }
        t = next;
        u = (u - t * u.dot(&t))
            .try_normalize(1e-12)
            .unwrap_or_else(|| plane_axes(t).0);
        out.push([t, u, t.cross(&u)]);
    }
    out
}

/// A tube of `radius_mm` around `points` (patient LPS mm) with `colours` per point, its
/// rings kept from twisting (each ring's frame is the last one turned onto the new
/// direction), closed at both ends by flat caps.
pub fn tube(points: &[[f64; 3]], radius_mm: f64, colours: &[[f32; 3]]) -> Tube {
    let mut out = Tube::default();
    let n = points.len();
    if n < 2 || colours.len() != n || radius_mm.is_nan() || radius_mm <= 0.0 {
        return out;
    }
    let p: Vec<Vector3<f64>> = points.iter().map(|q| Vector3::from(*q)).collect();
    let frames = transported_frames(points);
    let push = |out: &mut Tube, q: Vector3<f64>, normal: Vector3<f64>, c: [f32; 3]| {
        out.positions_lps_mm
            .push([q.x as f32, q.y as f32, q.z as f32]);
        out.normals
            .push([normal.x as f32, normal.y as f32, normal.z as f32]);
        out.colours.push([c[0], c[1], c[2], 1.0]);
    };
    for (i, [_, u, w]) in frames.iter().enumerate() {
        for s in 0..SIDES {
            let a = std::f64::consts::TAU * s as f64 / SIDES as f64;
            let normal = u * a.cos() + w * a.sin();
            push(&mut out, p[i] + normal * radius_mm, normal, colours[i]);
        }
    }
    let ring = |i: usize, s: usize| (i * SIDES + s % SIDES) as u32;
    for i in 0..n - 1 {
        for s in 0..SIDES {
            let (a, b, c, d) = (
                ring(i, s),
                ring(i, s + 1),
                ring(i + 1, s),
                ring(i + 1, s + 1),
            );
            // Counter-clockwise seen from outside (u, w, t right-handed).
            out.indices.extend_from_slice(&[a, b, d, a, d, c]);
        }
    }
    // Caps: a centre vertex facing along the path at each end.
    for (i, facing) in [(0, -frames[0][0]), (n - 1, frames[n - 1][0])] {
        let centre = out.positions_lps_mm.len() as u32;
        push(&mut out, p[i], facing, colours[i]);
        let first = out.positions_lps_mm.len() as u32;
        for s in 0..SIDES {
            let q = out.positions_lps_mm[ring(i, s) as usize];
            let q = Vector3::new(f64::from(q[0]), f64::from(q[1]), f64::from(q[2]));
            push(&mut out, q, facing, colours[i]);
        }
        for s in 0..SIDES as u32 {
            let (a, b) = (first + s, first + (s + 1) % SIDES as u32);
            if i == 0 {
                out.indices.extend_from_slice(&[centre, b, a]);
            } else {
                out.indices.extend_from_slice(&[centre, a, b]);
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn helix(n: usize) -> Vec<[f64; 3]> {
        (0..n)
            .map(|i| {
                let a = i as f64 * 0.1;
                [20.0 * a.cos(), 20.0 * a.sin(), 3.0 * a]
            })
            .collect()
    }

    #[test]
    fn the_tube_is_its_radius_from_the_path_and_faces_outward() {
        let points = helix(120);
        let colours = vec![PATH_COLOUR; points.len()];
        let t = tube(&points, 2.5, &colours);
        assert_eq!(
            t.positions_lps_mm.len(),
            points.len() * SIDES + 2 * (SIDES + 1)
        );
        assert_eq!(t.positions_lps_mm.len(), t.normals.len());
        assert_eq!(t.positions_lps_mm.len(), t.colours.len());
        assert!(
            t.indices
                .iter()
                .all(|&i| (i as usize) < t.positions_lps_mm.len())
        );
        for (i, p) in points.iter().enumerate() {
            for s in 0..SIDES {
                let q = t.positions_lps_mm[i * SIDES + s];
                let nrm = t.normals[i * SIDES + s];
                let d = [0, 1, 2].map(|a| f64::from(q[a]) - p[a]);
                let r = (d[0] * d[0] + d[1] * d[1] + d[2] * d[2]).sqrt();
                assert!((r - 2.5).abs() < 1e-4, "{r}");
                // The normal points away from the path.
                let dot: f64 = (0..3).map(|a| d[a] * f64::from(nrm[a])).sum();
                assert!(dot > 2.49, "{dot}");
            }
        }
        // Side triangles wind outward: their face normal agrees with the vertex normals.
        for tri in t.indices.chunks(3).take(SIDES * 2 * (points.len() - 1)) {
            let v = |k: usize| Vector3::from(t.positions_lps_mm[tri[k] as usize].map(f64::from));
            let face = (v(1) - v(0)).cross(&(v(2) - v(0)));
            let nrm = Vector3::from(t.normals[tri[0] as usize].map(f64::from));
            assert!(face.dot(&nrm) > 0.0);
        }
    }

    #[test]
    fn clearance_colours_run_from_green_to_red_and_magenta_past_the_risk() {
        assert_eq!(clearance_colour(0.3), clearance_colour(0.6));
        let g = clearance_colour(0.5);
        assert!(g[1] > g[0], "roomy is green: {g:?}");
        let r = clearance_colour(1.02);
        assert!(r[0] > 0.9 && r[1] < 0.3, "tight is red: {r:?}");
        assert_ne!(clearance_colour(1.06), r, "at risk stands apart");
        assert_eq!(clearance_colour(f64::MAX), clearance_colour(1.2));
        // Amber in between, reddening as it tightens.
        assert!(clearance_colour(0.9)[1] > clearance_colour(0.99)[1]);
    }

    #[test]
    fn too_short_or_mismatched_input_gives_no_tube() {
        assert!(tube(&helix(1), 1.0, &[PATH_COLOUR]).indices.is_empty());
        assert!(tube(&helix(5), 1.0, &[PATH_COLOUR]).indices.is_empty());
        assert!(tube(&helix(5), 0.0, &[PATH_COLOUR; 5]).indices.is_empty());
        assert!(
            tube(&helix(5), f64::NAN, &[PATH_COLOUR; 5])
                .indices
                .is_empty()
        );
    }
}
