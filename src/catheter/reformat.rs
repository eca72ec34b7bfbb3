//! Curved planar reformats along a planned path, the way vessel analysis reads a lumen end
//! to end: the **straightened** reformat (each row a line across the path through one of
//! its points, in the plane turned `angle` about the path from the path's own untwisting
//! frame, rows a fixed distance apart along the path, so the vessel runs straight down the
//! middle and lengths along it read true), and the **stretched** one (each row a line along
//! one fixed direction, the rows spaced by the path's length seen across that direction, so
//! the image keeps the vessel's course in that plane). Values are trilinear samples of the
//! volume (its real units), None outside it. Pure sampling over a [`Volume`]; no viewer.

use nalgebra::{Rotation3, Unit, Vector3};

use super::tube::transported_frames;
use crate::volume::Volume;
use crate::volume::display::sample;

/// Which reformat.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Straightened,
    Stretched,
}

/// A reformat image: `rows` × `columns` values, row-major; row r is `row_mm[r]` along the
/// path (from the entry), column c is `(c − centre) × step_mm` across it.
#[derive(Debug, Clone, PartialEq)]
pub struct Reformat {
    pub rows: usize,
    pub columns: usize,
    pub step_mm: f64,
    pub values: Vec<Option<f64>>,
    /// Where along the path each row is (mm from the entry).
    pub row_mm: Vec<f64>,
}

impl Reformat {
    pub fn at(&self, row: usize, column: usize) -> Option<f64> {
        self.values
            .get(row * self.columns + column)
            .copied()
            .flatten()
    }
}

/// The reformat of `kind` along `points` (patient LPS mm, the smoothed path), `half_width_mm`
/// either side, a sample every `step_mm` across and along, turned `angle_rad` about the path.
pub fn reformat(
    volume: &Volume,
    points: &[[f64; 3]],
    kind: Kind,
    angle_rad: f64,
    half_width_mm: f64,
    step_mm: f64,
) -> Reformat {
    // At most 4,096 samples either side; nonsense sizes give an empty image.
    let valid = step_mm.is_finite() && step_mm > 0.0 && half_width_mm.is_finite();
    let half = if valid {
        (half_width_mm / step_mm).round().clamp(1.0, 4096.0) as usize
    } else {
        1
    };
    let columns = 2 * half + 1;
    let empty = Reformat {
        rows: 0,
        columns,
        step_mm,
        values: Vec::new(),
        row_mm: Vec::new(),
    };
    if points.len() < 2 || !valid || !angle_rad.is_finite() {
        return empty;
    }
    let p: Vec<Vector3<f64>> = points.iter().map(|q| Vector3::from(*q)).collect();
    let frames = transported_frames(points);
    // The lines each row samples along, and how far along each row's point is.
    let (directions, along): (Vec<Vector3<f64>>, Vec<f64>) = match kind {
        Kind::Straightened => {
            let mut s = 0.0;
            frames
                .iter()
                .enumerate()
                .map(|(i, [t, u, _])| {
                    if i > 0 {
                        s += (p[i] - p[i - 1]).norm();
                    }
                    (
                        Rotation3::from_axis_angle(&Unit::new_normalize(*t), angle_rad) * u,
                        s,
                    )
                })
                .unzip()
        }
        Kind::Stretched => {
            // One direction for every row: the first frame's normal, turned about the
            // path's overall direction (entry to target), kept across that direction.
            let overall = (p[p.len() - 1] - p[0])
                .try_normalize(1e-9)
                .unwrap_or(frames[0][0]);
            let u0 = frames[0][1];
            let across = (u0 - overall * u0.dot(&overall))
                .try_normalize(1e-9)
                .unwrap_or_else(|| super::section::plane_axes(overall).0);
            let v = Rotation3::from_axis_angle(&Unit::new_normalize(overall), angle_rad) * across;
            let mut s = 0.0;
            (0..p.len())
                .map(|i| {
                    if i > 0 {
                        let d = p[i] - p[i - 1];
                        s += (d - v * d.dot(&v)).norm();
                    }
                    (v, s)
                })
                .unzip()
        }
    };
    let total = along[along.len() - 1];
    let rows = (total / step_mm).floor() as usize + 1;
    if rows.saturating_mul(columns) > 1 << 26 {
        return empty;
    }
    let mut values = Vec::with_capacity(rows * columns);
    let mut row_mm = Vec::with_capacity(rows);
    let mut k = 0;
    for r in 0..rows {
        let s = r as f64 * step_mm;
        while k + 2 < along.len() && along[k + 1] < s {
            k += 1;
        }
        let span = (along[k + 1] - along[k]).max(1e-12);
        let f = ((s - along[k]) / span).clamp(0.0, 1.0);
        let centre = p[k] * (1.0 - f) + p[k + 1] * f;
        let d = (directions[k] * (1.0 - f) + directions[k + 1] * f)
            .try_normalize(1e-12)
            .unwrap_or(directions[k]);
        // Distance from the entry along the path itself (the stretched rows are spaced by
        // the projected length, but are labelled by the true one).
        let true_along = {
            let a: f64 = (1..=k).map(|i| (p[i] - p[i - 1]).norm()).sum();
            a + (p[k + 1] - p[k]).norm() * f
        };
        row_mm.push(true_along);
        for c in 0..columns {
            let x = (c as f64 - half as f64) * step_mm;
            let q = nalgebra::Point3::from(centre + d * x);
            let ijk = volume.geometry.ijk_from_patient(&q);
            values.push(sample(volume, [ijk[0], ijk[1], ijk[2]]));
        }
    }
    Reformat {
        rows,
        columns,
        step_mm,
        values,
        row_mm,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::volume::Geometry;
    use ndarray::Array3;

    /// 100 inside a tube of radius 4 mm around a quarter circle of radius 30 mm in the x–z
    /// plane (y = 20), 0 elsewhere, 0.5 mm voxels; the arc's points.
    fn arc_volume() -> (Volume, Vec<[f64; 3]>) {
        let s = 0.5;
        let n = [90, 40, 90];
        let geometry = Geometry::axis_aligned(n, [s, s, s], [0.0, 0.0, 0.0]);
        let centre = [5.0, 10.0, 5.0];
        let voxels = Array3::from_shape_fn((n[2], n[1], n[0]), |(k, j, i)| {
            let (x, y, z) = (i as f64 * s, j as f64 * s, k as f64 * s);
            let rho = (x - centre[0]).hypot(z - centre[2]);
            let inside =
                (rho - 30.0).hypot(y - centre[1]) <= 4.0 && x >= centre[0] && z >= centre[2];
            if inside { 100 } else { 0 }
        });
        let volume = Volume::new(voxels, geometry).expect("volume");
        let points = (0..=90)
            .map(|d| {
                let a = (d as f64).to_radians();
                [
                    centre[0] + 30.0 * a.cos(),
                    centre[1],
                    centre[2] + 30.0 * a.sin(),
                ]
            })
            .collect();
        (volume, points)
    }

    /// Columns of a row above half the tube's value, and where their middle is.
    fn band(r: &Reformat, row: usize) -> (usize, f64) {
        let inside: Vec<usize> = (0..r.columns)
            .filter(|&c| r.at(row, c).is_some_and(|v| v > 50.0))
            .collect();
        let mid = inside.iter().sum::<usize>() as f64 / inside.len().max(1) as f64;
        (inside.len(), mid)
    }

    #[test]
    fn the_straightened_vessel_runs_down_the_middle_at_its_width_at_any_angle() {
        let (volume, points) = arc_volume();
        let length = 30.0 * std::f64::consts::FRAC_PI_2;
        for angle in [0.0f64, 30.0, 90.0, 145.0] {
            let r = reformat(
                &volume,
                &points,
                Kind::Straightened,
                angle.to_radians(),
                10.0,
                0.25,
            );
            // Rows every 0.25 mm over the arc's length: lengths read true.
            assert!(
                ((r.rows - 1) as f64 * 0.25 - length).abs() < 0.3,
                "{} rows",
                r.rows
            );
            assert!((r.row_mm[r.rows - 1] - length).abs() < 0.3);
            let centre = (r.columns / 2) as f64;
            // Away from the tube's cut ends, every row crosses the 8 mm lumen at its middle.
            for row in (r.rows / 10..r.rows * 9 / 10).step_by(7) {
                let (width, mid) = band(&r, row);
                let mm = width as f64 * 0.25;
                assert!((mm - 8.0).abs() <= 0.75, "angle {angle}: row {row} {mm} mm");
                assert!(
                    (mid - centre).abs() <= 1.0,
                    "angle {angle}: row {row} off-centre {mid}"
                );
            }
        }
    }

    #[test]
    fn the_stretched_reformat_keeps_the_course_across_its_direction() {
        let (volume, points) = arc_volume();
        // The first normal lies in the arc's plane or across it depending on the frame; the
        // stretched image at some angle looks along y (across the plane): every row then
        // crosses the lumen at the path point, 8 mm wide, and the rows span the arc's full
        // length seen in the plane (the arc lies in it).
        let mut best = None;
        for angle in (0..180).step_by(15) {
            let r = reformat(
                &volume,
                &points,
                Kind::Stretched,
                f64::from(angle).to_radians(),
                10.0,
                0.25,
            );
            let rows = (r.rows / 10..r.rows * 9 / 10).step_by(9);
            let ok = rows
                .clone()
                .all(|row| (band(&r, row).0 as f64 * 0.25 - 8.0).abs() <= 0.75);
            if ok {
                best = Some(r);
                break;
            }
        }
        let r = best.expect("some angle shows the lumen across every row");
        assert!(r.row_mm.windows(2).all(|w| w[1] >= w[0]));
        assert!(r.rows > 10);
    }

    #[test]
    fn too_little_path_gives_an_empty_image() {
        let (volume, points) = arc_volume();
        assert_eq!(
            reformat(&volume, &points[..1], Kind::Straightened, 0.0, 5.0, 0.5).rows,
            0
        );
        assert_eq!(
            reformat(&volume, &points, Kind::Straightened, f64::NAN, 5.0, 0.5).rows,
            0
        );
        assert_eq!(
            reformat(&volume, &points, Kind::Stretched, 0.0, 5.0, 0.0).rows,
            0
        );
    }
}
