//! Where a surface cuts a plane: the segments of a mesh's intersection with a slice plane
//! (drawn as structure outlines over the MPR views), and the triangles on one side of a
//! clipping plane (to cut into the anatomy in 3D). Exact on the mesh, in patient mm.
//! Depends on `mesh` only.

use nalgebra::{Point3, Vector3};
use rayon::prelude::*;

use crate::mesh::TriMesh;

/// Segments (patient mm) where `mesh` crosses the plane through `point` with `normal`.
pub fn plane_section(
    mesh: &TriMesh,
    point: &Point3<f64>,
    normal: &Vector3<f64>,
) -> Vec<[Point3<f64>; 2]> {
    plane_section_with(mesh, point, normal, true)
}

/// [`plane_section`] on the calling thread alone, for the window's main thread (which must
/// not wait for other threads; see `volume::display::reslice_here`).
pub fn plane_section_here(
    mesh: &TriMesh,
    point: &Point3<f64>,
    normal: &Vector3<f64>,
) -> Vec<[Point3<f64>; 2]> {
    plane_section_with(mesh, point, normal, false)
}

fn plane_section_with(
    mesh: &TriMesh,
    point: &Point3<f64>,
    normal: &Vector3<f64>,
    parallel: bool,
) -> Vec<[Point3<f64>; 2]> {
    let n = normal.normalize();
    let offset = n.dot(&point.coords);
    // Signed distance; exact zeros count as positive so every crossing is found once.
    let distance = |p: &[f64; 3]| {
        let d = n.x * p[0] + n.y * p[1] + n.z * p[2] - offset;
        if d == 0.0 { f64::MIN_POSITIVE } else { d }
    };
    let dist: Vec<f64> = if parallel {
        mesh.positions_mm.par_iter().map(distance).collect()
    } else {
        mesh.positions_mm.iter().map(distance).collect()
    };
    let crossing = |t: &[u32; 3]| {
        let d = t.map(|i| dist[i as usize]);
        let pos = d.iter().filter(|x| **x > 0.0).count();
        if pos == 0 || pos == 3 {
            return None;
        }
        let mut pts = [Point3::origin(); 2];
        let mut m = 0;
        for e in 0..3 {
            let (a, b) = (e, (e + 1) % 3);
            if (d[a] > 0.0) != (d[b] > 0.0) {
                let s = d[a] / (d[a] - d[b]);
                let pa = Point3::from(mesh.positions_mm[t[a] as usize]);
                let pb = Point3::from(mesh.positions_mm[t[b] as usize]);
                if m < 2 {
                    pts[m] = pa + (pb - pa) * s;
                }
                m += 1;
            }
        }
        (m == 2).then_some(pts)
    };
    if parallel {
        mesh.indices.par_iter().filter_map(crossing).collect()
    } else {
        mesh.indices.iter().filter_map(crossing).collect()
    }
}

/// Triangle indices of `mesh` that lie wholly on the kept side (`keep_positive`: where
/// `normal · (p − point) ≥ 0`) of a clipping plane. On the calling thread alone: the 3D
/// view clips on the window's main thread, which must not wait for other threads.
pub fn clipped_indices(
    mesh: &TriMesh,
    point: &Point3<f64>,
    normal: &Vector3<f64>,
    keep_positive: bool,
) -> Vec<u32> {
    let n = normal.normalize();
    let offset = n.dot(&point.coords);
    let sign = if keep_positive { 1.0 } else { -1.0 };
    let keep: Vec<bool> = mesh
        .positions_mm
        .iter()
        .map(|p| sign * (n.x * p[0] + n.y * p[1] + n.z * p[2] - offset) >= 0.0)
        .collect();
    mesh.indices
        .iter()
        .filter(|t| t.iter().all(|&i| keep[i as usize]))
        .flat_map(|t| t.iter().copied())
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::mesh::{McOptions, marching_cubes};
    use crate::progress::Progress;
    use crate::volume::Geometry;
    use ndarray::Array3;

    fn sphere(r: f64) -> TriMesh {
        let g = Geometry::axis_aligned([60, 60, 60], [1.0; 3], [-30.0, -30.0, -30.0]);
        let field = Array3::from_shape_fn((60, 60, 60), |(k, j, i)| {
            let p = g.patient_from_ijk([i as f64, j as f64, k as f64]);
            (r - p.coords.norm()) as f32
        });
        marching_cubes(
            field.view(),
            &g,
            0.0,
            McOptions::default(),
            &Progress::new(),
        )
        .expect("not cancelled")
    }

    #[test]
    fn sphere_section_is_a_circle_of_the_right_radius() {
        let r = 20.0;
        let mesh = sphere(r);
        for (z, normal) in [
            (0.0, Vector3::z()),
            (10.0, Vector3::z()),
            (-7.5, Vector3::new(1.0, 1.0, 0.0)),
        ] {
            let point = Point3::from(normal.normalize() * z);
            let segs = plane_section(&mesh, &point, &normal);
            let expected = (r * r - z * z).sqrt();
            assert!(segs.len() > 50, "{} segments", segs.len());
            let mut length = 0.0;
            for s in &segs {
                for p in s {
                    // On the plane, on the circle.
                    assert!(((p - point).dot(&normal.normalize())).abs() < 1e-9);
                    let radial = (p.coords - normal.normalize() * z).norm();
                    assert!((radial - expected).abs() < 0.1, "{radial} vs {expected}");
                }
                length += (s[1] - s[0]).norm();
            }
            let circumference = 2.0 * std::f64::consts::PI * expected;
            assert!(
                (length / circumference - 1.0).abs() < 0.01,
                "{length} vs {circumference}"
            );
        }
    }

    #[test]
    fn clipping_keeps_one_side() {
        let mesh = sphere(20.0);
        let at = Point3::new(0.3, 0.0, 0.0);
        let kept = clipped_indices(&mesh, &at, &Vector3::x(), true);
        assert_eq!(kept.len() % 3, 0);
        assert!(kept.len() / 3 < mesh.indices.len() && kept.len() / 3 > mesh.indices.len() / 3);
        assert!(
            kept.iter()
                .all(|&i| mesh.positions_mm[i as usize][0] >= 0.3)
        );
        let other = clipped_indices(&mesh, &at, &Vector3::x(), false);
        // Together they hold every triangle but those cut by the plane.
        assert!((kept.len() + other.len()) / 3 < mesh.indices.len());
        assert!((kept.len() + other.len()) / 3 > mesh.indices.len() * 9 / 10);
    }
}
