//! What the slice views print, as a radiologist reads it: positions with anatomical letters
//! (`R 12.0  A 5.3  S 301.6 mm`, or signed RAS / LPS numbers by preference), the slice
//! position as a letter and a distance (`I 542.8 mm`, never `S −542.8`), the slice number
//! the scanner gave the image when the view shows an acquired slice (its InstanceNumber)
//! and the grid index otherwise, and the value under the mouse: the nearest voxel's own
//! value, its unit and its voxel index — no interpolation. Plain functions; no UI.

use nalgebra::Point3;
use serde::{Deserialize, Serialize};

use crate::volume::Volume;
use crate::volume::display::{Plane, bounds_mm};

/// How positions are written.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Convention {
    /// Anatomical letters and distances: `R 12.0  A 5.3  S 301.6 mm` (Horos, scanners).
    #[default]
    Anatomical,
    /// Signed RAS coordinates, as 3D Slicer shows them.
    Ras,
    /// Signed LPS coordinates, as DICOM stores them.
    Lps,
}

impl Convention {
    pub const ALL: [Convention; 3] = [Convention::Anatomical, Convention::Ras, Convention::Lps];

    pub fn name(&self) -> &'static str {
        match self {
            Convention::Anatomical => "Anatomical (R/L A/P S/I)",
            Convention::Ras => "RAS (signed, as Slicer)",
            Convention::Lps => "LPS (signed, as DICOM)",
        }
    }
}

/// A signed number with a true minus sign.
fn signed(v: f64) -> String {
    let s = format!("{v:.1}");
    // No "−0.0".
    if s == "-0.0" || s == "0.0" {
        "0.0".into()
    } else if let Some(rest) = s.strip_prefix('-') {
        format!("−{rest}")
    } else {
        s
    }
}

/// One LPS coordinate as a letter and a distance: axis 0 → R/L, 1 → A/P, 2 → I/S.
pub fn lettered(axis: usize, lps_mm: f64) -> String {
    let (neg, pos) = match axis {
        0 => ('R', 'L'),
        1 => ('A', 'P'),
        _ => ('I', 'S'),
    };
    let v = format!("{:.1}", lps_mm.abs());
    // A value that rounds to zero has no side.
    if v == "0.0" {
        v
    } else if lps_mm < 0.0 {
        format!("{neg} {v}")
    } else {
        format!("{pos} {v}")
    }
}

/// A patient position (LPS mm) as the convention writes it.
pub fn position(p: &Point3<f64>, convention: Convention) -> String {
    match convention {
        Convention::Anatomical => format!(
            "{}  {}  {} mm",
            lettered(0, p.x),
            lettered(1, p.y),
            lettered(2, p.z)
        ),
        Convention::Ras => format!("RAS {}, {}, {} mm", signed(-p.x), signed(-p.y), signed(p.z)),
        Convention::Lps => format!("LPS {}, {}, {} mm", signed(p.x), signed(p.y), signed(p.z)),
    }
}

/// The LPS axis a plane's normal runs along (sagittal x, coronal y, axial z).
pub fn normal_axis(plane: Plane) -> usize {
    match plane {
        Plane::Sagittal => 0,
        Plane::Coronal => 1,
        Plane::Axial => 2,
    }
}

/// Where a slice lies along its normal: `I 542.8 mm`, `A 12.0 mm`, `L 3.5 mm` (or signed
/// RAS / LPS `z = −542.8 mm`).
pub fn slice_position(plane: Plane, depth_mm: f64, convention: Convention) -> String {
    let axis = normal_axis(plane);
    let name = ["x", "y", "z"][axis];
    match convention {
        Convention::Anatomical => format!("{} mm", lettered(axis, depth_mm)),
        Convention::Ras => {
            let v = if axis < 2 { -depth_mm } else { depth_mm };
            format!("RAS {name} = {} mm", signed(v))
        }
        Convention::Lps => format!("LPS {name} = {} mm", signed(depth_mm)),
    }
}

/// The number a slice view shows for its slice.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SliceNumber {
    /// The view shows acquired image `k` of the volume, which the scanner numbered so.
    Acquired { number: i32 },
    /// A resliced plane: `index` (0-based) of `count` planes across the volume.
    Grid { index: usize, count: usize },
}

impl std::fmt::Display for SliceNumber {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            SliceNumber::Acquired { number } => write!(f, "image {number}"),
            SliceNumber::Grid { index, count } => write!(f, "slice {}/{count}", index + 1),
        }
    }
}

/// Spacing of a plane's MPR slices: the voxel spacing projected on its normal.
pub fn step_mm(volume: &Volume, plane: Plane) -> f64 {
    let g = &volume.geometry;
    let (_, _, n) = plane.axes();
    (0..3)
        .map(|a| (g.axis(a).dot(&n)).abs() * g.spacing_mm[a])
        .fold(0.0, f64::max)
        .max(0.1)
}

/// Index and count of the MPR slice at `depth_mm` along the plane's normal.
pub fn grid_index(volume: &Volume, plane: Plane, depth_mm: f64) -> (usize, usize) {
    let (lo, hi) = bounds_mm(volume);
    let (_, _, n) = plane.axes();
    let (a, b) = (lo.coords.dot(&n), hi.coords.dot(&n));
    let step = step_mm(volume, plane);
    let count = ((b - a).abs() / step).round() as usize + 1;
    let i = ((depth_mm - a.min(b)) / step).round();
    (i.clamp(0.0, (count - 1) as f64) as usize, count)
}

/// The slice number a view shows: the scanner's image number when the plane is one of the
/// acquired slices (parallel to them, through one of them), else the grid index.
pub fn slice_number(volume: &Volume, plane: Plane, depth_mm: f64) -> SliceNumber {
    let g = &volume.geometry;
    let (_, _, n) = plane.axes();
    let k_axis = g.axis(2);
    let along = k_axis.dot(&n);
    if along.abs() > 1.0 - 1e-6 && g.dims[2] > 0 {
        let dk = g.spacing_mm[2];
        let origin = g.origin().dot(&n);
        let k = (depth_mm - origin) / (dk * along);
        let kr = k.round();
        if (k - kr).abs() * dk <= 0.01 * dk.max(1e-6) + 1e-6
            && kr >= 0.0
            && (kr as usize) < g.dims[2]
            && let Some(number) = volume.image_number(kr as usize)
        {
            return SliceNumber::Acquired { number };
        }
    }
    let (index, count) = grid_index(volume, plane, depth_mm);
    SliceNumber::Grid { index, count }
}

/// The voxel nearest to a patient point: its `[i, j, k]` index and its value (real units),
/// or `None` outside the grid.
pub fn nearest_voxel(volume: &Volume, p: &Point3<f64>) -> Option<([usize; 3], f64)> {
    let g = &volume.geometry;
    let ijk = g.voxel_from_patient()? * p.to_homogeneous();
    let mut idx = [0usize; 3];
    for a in 0..3 {
        let r = ijk[a].round();
        if !r.is_finite() || r < 0.0 || r > (g.dims[a] as f64) - 1.0 {
            return None;
        }
        idx[a] = r as usize;
    }
    let value = volume.value_at(idx[0], idx[1], idx[2])?;
    Some((idx, value))
}

/// A value with its unit: whole numbers for integer data (`−12 HU`), four significant
/// digits for scaled data.
pub fn value_text(value: f64, unit: &str, integer: bool) -> String {
    let number = if integer {
        format!("{:.0}", value)
    } else {
        let digits = (3 - value.abs().max(1e-12).log10().floor() as i32).clamp(0, 6) as usize;
        format!("{value:.digits$}")
    };
    let number = match number.strip_prefix('-') {
        Some(rest) if rest.chars().any(|c| c != '0' && c != '.') => format!("−{rest}"),
        Some(rest) => rest.to_string(),
        None => number,
    };
    if unit.is_empty() {
        number
    } else {
        format!("{number} {unit}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::volume::Geometry;
    use nalgebra::Vector3;
    use ndarray::Array3;

    #[test]
    fn positions_carry_letters() {
        let p = Point3::new(-12.04, -5.3, 301.6);
        assert_eq!(
            position(&p, Convention::Anatomical),
            "R 12.0  A 5.3  S 301.6 mm"
        );
        let q = Point3::new(3.0, 7.25, -542.8);
        assert_eq!(
            position(&q, Convention::Anatomical),
            "L 3.0  P 7.2  I 542.8 mm"
        );
        assert_eq!(position(&p, Convention::Ras), "RAS 12.0, 5.3, 301.6 mm");
        assert_eq!(position(&q, Convention::Lps), "LPS 3.0, 7.2, −542.8 mm");
        assert_eq!(
            position(&Point3::new(0.01, -0.04, 0.0), Convention::Anatomical),
            "0.0  0.0  0.0 mm"
        );
        assert_eq!(
            slice_position(Plane::Axial, -542.8, Convention::Anatomical),
            "I 542.8 mm"
        );
        assert_eq!(
            slice_position(Plane::Coronal, -12.0, Convention::Anatomical),
            "A 12.0 mm"
        );
        assert_eq!(
            slice_position(Plane::Sagittal, 3.5, Convention::Anatomical),
            "L 3.5 mm"
        );
        assert_eq!(
            slice_position(Plane::Sagittal, 3.5, Convention::Ras),
            "RAS x = −3.5 mm"
        );
        assert_eq!(
            slice_position(Plane::Axial, -542.8, Convention::Lps),
            "LPS z = −542.8 mm"
        );
        assert_eq!(value_text(-12.0, "HU", true), "−12 HU");
        assert_eq!(value_text(1234.567, "", false), "1235");
        assert_eq!(value_text(0.012345, "", false), "0.01235");
        assert_eq!(value_text(-0.2, "HU", true), "0 HU");
    }

    /// A 4 × 3 × 5 grid flipped along k (k runs inferiorly), numbered as a scanner would.
    fn flipped() -> Volume {
        let g = Geometry::new(
            [4, 3, 5],
            [1.0, 1.0, 2.5],
            [10.0, 20.0, 100.0],
            Vector3::x(),
            Vector3::y(),
            -Vector3::z(),
        );
        let vox = Array3::from_shape_fn((5, 3, 4), |(k, j, i)| (100 * k + 10 * j + i) as i16);
        let mut v = Volume::new(vox, g).expect("shape");
        v.image_numbers = (0..5).map(|k| Some(41 + k)).collect();
        v.image_numbers[3] = None;
        v
    }

    #[test]
    fn acquired_slices_show_the_scanners_number() {
        let v = flipped();
        // Slice k sits at z = 100 − 2.5 k.
        assert_eq!(
            slice_number(&v, Plane::Axial, 95.0),
            SliceNumber::Acquired { number: 43 }
        );
        assert_eq!(
            slice_number(&v, Plane::Axial, 100.0),
            SliceNumber::Acquired { number: 41 }
        );
        // Between acquired slices, or where the source gave no number: the grid index,
        // counted from the inferior end.
        assert_eq!(
            slice_number(&v, Plane::Axial, 96.0),
            SliceNumber::Grid { index: 2, count: 5 }
        );
        assert_eq!(
            slice_number(&v, Plane::Axial, 95.0 - 2.5),
            SliceNumber::Grid { index: 1, count: 5 }
        );
        // Reformatted planes are never acquired slices.
        assert!(matches!(
            slice_number(&v, Plane::Coronal, 21.0),
            SliceNumber::Grid { .. }
        ));
        assert_eq!(SliceNumber::Acquired { number: 43 }.to_string(), "image 43");
        assert_eq!(
            SliceNumber::Grid { index: 0, count: 5 }.to_string(),
            "slice 1/5"
        );
    }

    #[test]
    fn nearest_voxel_is_not_interpolated() {
        let v = flipped();
        // Patient (11.4, 21.6, 95.2) is nearest to i 1, j 2, k 2 (z = 95).
        let (idx, value) = nearest_voxel(&v, &Point3::new(11.4, 21.6, 95.2)).expect("inside");
        assert_eq!(idx, [1, 2, 2]);
        assert_eq!(value, 221.0);
        assert!(nearest_voxel(&v, &Point3::new(9.6, 20.0, 100.0)).is_some());
        assert!(nearest_voxel(&v, &Point3::new(8.0, 20.0, 100.0)).is_none());
        assert!(nearest_voxel(&v, &Point3::new(10.0, 20.0, 101.5)).is_none());
    }
}
