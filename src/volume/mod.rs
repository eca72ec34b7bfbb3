//! Voxel volumes in patient space.
//!
//! A [`Volume`] is a regular grid of `i16` samples indexed `[k, j, i]` (slice, row, column)
//! together with the [`Geometry`] that places every voxel in patient LPS millimetres and the
//! [`ValueScale`] that turns a stored sample into its real-world value (HU for CT).
//! This module knows nothing of DICOM, NIfTI, files or the viewer; loaders build volumes,
//! everything downstream (segmentation, meshing, planning) reads them.

pub mod display;
pub mod histogram;
pub mod quantize;
pub mod regularize;

use nalgebra::{Matrix3, Matrix4, Point3, Vector3};
use ndarray::Array3;
use serde::{Deserialize, Serialize};

/// Where each voxel sits in patient space (LPS, millimetres).
///
/// `directions` holds unit column vectors: column 0 is the direction in which the column
/// index `i` grows (DICOM row direction, first triplet of ImageOrientationPatient), column 1
/// the direction in which the row index `j` grows, column 2 the slice direction `k`.
/// `origin_mm` is the centre of voxel `(i, j, k) = (0, 0, 0)`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Geometry {
    /// Grid size as `[ni, nj, nk]` (columns, rows, slices).
    pub dims: [usize; 3],
    /// Voxel spacing in mm along i, j, k.
    pub spacing_mm: [f64; 3],
    /// Patient position (LPS mm) of the centre of voxel (0, 0, 0).
    pub origin_mm: [f64; 3],
    /// Unit direction cosines, one column per voxel axis (i, j, k).
    pub directions: [[f64; 3]; 3],
}

/// Coarse name of a slice orientation, as radiologists say it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Orientation {
    Axial,
    Coronal,
    Sagittal,
    Oblique,
}

impl std::fmt::Display for Orientation {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Orientation::Axial => "axial",
            Orientation::Coronal => "coronal",
            Orientation::Sagittal => "sagittal",
            Orientation::Oblique => "oblique",
        })
    }
}

impl Orientation {
    /// Classifies a slice normal: axial when it lies within ~10° of a patient axis.
    pub fn from_normal(normal: &Vector3<f64>) -> Orientation {
        let n = normal.normalize();
        let (x, y, z) = (n.x.abs(), n.y.abs(), n.z.abs());
        const COS_10_DEG: f64 = 0.9848;
        if z >= COS_10_DEG {
            Orientation::Axial
        } else if y >= COS_10_DEG {
            Orientation::Coronal
        } else if x >= COS_10_DEG {
            Orientation::Sagittal
        } else {
            Orientation::Oblique
        }
    }
}

/// Voxel sizes a grid may have, mm (see [`Geometry::check_plausible`]).
pub const SPACING_RANGE_MM: (f64, f64) = (1e-4, 100.0);
/// Largest |coordinate| of a grid's origin, mm.
pub const MAX_COORDINATE_MM: f64 = 1e5;
/// Largest field of view along one axis, mm.
pub const MAX_EXTENT_MM: f64 = 10_000.0;

impl Geometry {
    /// A geometry from its parts; directions are given as the i, j, k axis vectors.
    pub fn new(
        dims: [usize; 3],
        spacing_mm: [f64; 3],
        origin_mm: [f64; 3],
        i_axis: Vector3<f64>,
        j_axis: Vector3<f64>,
        k_axis: Vector3<f64>,
    ) -> Geometry {
        let n = |v: Vector3<f64>| {
            let v = v.normalize();
            [v.x, v.y, v.z]
        };
        Geometry {
            dims,
            spacing_mm,
            origin_mm,
            directions: [n(i_axis), n(j_axis), n(k_axis)],
        }
    }

    /// Refuses a grid no scanner makes, before anything is allocated or written for it:
    /// non-finite numbers, voxels outside 0.1 µm–100 mm, an origin beyond 100 m, a
    /// field of view beyond 10 m, or axes that are degenerate (parallel or zero). Such
    /// grids came from damaged headers and gave NaN surfaces, 1e38 mm spacings and
    /// plans that never finished.
    pub fn check_plausible(&self) -> Result<(), String> {
        let finite = self.spacing_mm.iter().all(|v| v.is_finite())
            && self.origin_mm.iter().all(|v| v.is_finite())
            && self.directions.iter().flatten().all(|v| v.is_finite());
        if !finite {
            return Err("the grid's spacing, origin or axes are not finite numbers".into());
        }
        let (lo, hi) = SPACING_RANGE_MM;
        if let Some(s) = self.spacing_mm.iter().find(|s| !(lo..=hi).contains(*s)) {
            return Err(format!(
                "a voxel size of {s:.4e} mm is outside {lo}–{hi} mm (check the header's units)"
            ));
        }
        if let Some(o) = self.origin_mm.iter().find(|o| o.abs() > MAX_COORDINATE_MM) {
            return Err(format!(
                "the origin's coordinate {o:.4e} mm lies beyond any scanner (|x| > {MAX_COORDINATE_MM} mm)"
            ));
        }
        for a in 0..3 {
            let extent = self.dims[a] as f64 * self.spacing_mm[a];
            if extent > MAX_EXTENT_MM {
                return Err(format!(
                    "the field of view is {extent:.0} mm along axis {a}, more than any scan ({MAX_EXTENT_MM} mm)"
                ));
            }
        }
        let det = self.direction_matrix().determinant();
        if det.is_nan() || det.abs() < 0.1 {
            return Err(format!(
                "the voxel axes are degenerate (nearly parallel: determinant {det:.3})"
            ));
        }
        Ok(())
    }

    /// Axis-aligned LPS grid (i → L, j → P, k → S), handy for phantoms and tests.
    pub fn axis_aligned(dims: [usize; 3], spacing_mm: [f64; 3], origin_mm: [f64; 3]) -> Geometry {
        Geometry::new(
            dims,
            spacing_mm,
            origin_mm,
            Vector3::x(),
            Vector3::y(),
            Vector3::z(),
        )
    }

    pub fn axis(&self, a: usize) -> Vector3<f64> {
        Vector3::from(self.directions[a])
    }

    pub fn origin(&self) -> Vector3<f64> {
        Vector3::from(self.origin_mm)
    }

    /// Direction cosines as a matrix whose columns are the i, j, k axes.
    pub fn direction_matrix(&self) -> Matrix3<f64> {
        Matrix3::from_columns(&[self.axis(0), self.axis(1), self.axis(2)])
    }

    /// Homogeneous affine taking `(i, j, k, 1)` to patient `(x, y, z, 1)` in LPS mm.
    pub fn patient_from_voxel(&self) -> Matrix4<f64> {
        let m = self.direction_matrix() * Matrix3::from_diagonal(&Vector3::from(self.spacing_mm));
        let o = self.origin();
        let mut a = Matrix4::identity();
        a.fixed_view_mut::<3, 3>(0, 0).copy_from(&m);
        a.fixed_view_mut::<3, 1>(0, 3).copy_from(&o);
        a
    }

    /// Inverse of [`Geometry::patient_from_voxel`]; `None` only for a degenerate grid
    /// (zero spacing or collinear axes), which loaders never produce.
    pub fn voxel_from_patient(&self) -> Option<Matrix4<f64>> {
        self.patient_from_voxel().try_inverse()
    }

    /// Patient position (LPS mm) of a continuous voxel coordinate `(i, j, k)`.
    pub fn patient_from_ijk(&self, ijk: [f64; 3]) -> Point3<f64> {
        let p_patient = self.origin()
            + self.axis(0) * (ijk[0] * self.spacing_mm[0])
            + self.axis(1) * (ijk[1] * self.spacing_mm[1])
            + self.axis(2) * (ijk[2] * self.spacing_mm[2]);
        Point3::from(p_patient)
    }

    /// Continuous voxel coordinate of a patient position, for orthonormal direction sets
    /// (every loader output): projects onto each axis.
    pub fn ijk_from_patient(&self, p_patient: &Point3<f64>) -> [f64; 3] {
        let d = p_patient.coords - self.origin();
        [
            d.dot(&self.axis(0)) / self.spacing_mm[0],
            d.dot(&self.axis(1)) / self.spacing_mm[1],
            d.dot(&self.axis(2)) / self.spacing_mm[2],
        ]
    }

    /// Slice normal classification of the k axis.
    pub fn orientation(&self) -> Orientation {
        Orientation::from_normal(&self.axis(0).cross(&self.axis(1)))
    }

    pub fn voxel_count(&self) -> usize {
        self.dims[0] * self.dims[1] * self.dims[2]
    }

    /// Largest difference (mm) between the voxel-centre positions of two geometries,
    /// checked at the eight corners of the grid; `f64::INFINITY` when the grids differ in size.
    pub fn max_corner_distance_mm(&self, other: &Geometry) -> f64 {
        if self.dims != other.dims {
            return f64::INFINITY;
        }
        let mut worst: f64 = 0.0;
        for c in 0..8 {
            let ijk = [
                if c & 1 == 0 {
                    0.0
                } else {
                    (self.dims[0] - 1) as f64
                },
                if c & 2 == 0 {
                    0.0
                } else {
                    (self.dims[1] - 1) as f64
                },
                if c & 4 == 0 {
                    0.0
                } else {
                    (self.dims[2] - 1) as f64
                },
            ];
            let d = (self.patient_from_ijk(ijk) - other.patient_from_ijk(ijk)).norm();
            worst = worst.max(d);
        }
        worst
    }
}

/// Linear map from a stored `i16` sample to its real-world value: `real = slope * v + intercept`.
/// For CT loaded from DICOM the loader applies integer rescales itself, so this is the
/// identity and samples are HU.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct ValueScale {
    pub slope: f64,
    pub intercept: f64,
}

impl ValueScale {
    pub const IDENTITY: ValueScale = ValueScale {
        slope: 1.0,
        intercept: 0.0,
    };

    pub fn real(&self, stored: i16) -> f64 {
        self.slope * f64::from(stored) + self.intercept
    }

    pub fn is_identity(&self) -> bool {
        self.slope == 1.0 && self.intercept == 0.0
    }
}

impl Default for ValueScale {
    fn default() -> Self {
        ValueScale::IDENTITY
    }
}

/// Something the loader corrected or noticed, travelling with the volume so the UI can
/// show it. Never contains patient identity.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum VolumeWarning {
    /// Slice distances were not all equal (or a slice was missing); resampled to a uniform grid.
    IrregularSpacingResampled {
        min_mm: f64,
        max_mm: f64,
        resampled_mm: f64,
    },
    /// Slice positions drifted in-plane (gantry tilt); resampled onto an orthogonal grid.
    GantryTiltCorrected { tilt_deg: f64 },
    /// Several slices shared a position; only the first of each was kept.
    DuplicatePositions { count: usize },
    /// The object carries no ImagePositionPatient / ImageOrientationPatient; the grid is
    /// in pixel units with assumed spacing, so distances are not patient millimetres.
    NoPatientGeometry,
    /// Slices carried different rescale slopes/intercepts; values were re-quantised to a
    /// common scale (step given in real units).
    RescaleRequantized { step: f64 },
    /// Colour pixels were converted to luminance.
    ColourToLuminance,
    /// Several volumes at the same positions (echoes, phases) were split into stacks.
    SplitRepeatedPositions { volumes: usize },
    /// Some of the series' files could not be read and were left out.
    FilesSkipped { count: usize },
    /// A Siemens mosaic was cut into its tiles.
    MosaicSplit { tiles: usize },
    /// Free text for rarer conditions (never patient identity).
    Other { message: String },
}

impl std::fmt::Display for VolumeWarning {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            VolumeWarning::IrregularSpacingResampled {
                min_mm,
                max_mm,
                resampled_mm,
            } => write!(
                f,
                "slice spacing varies ({min_mm:.3}–{max_mm:.3} mm); resampled to a uniform {resampled_mm:.3} mm grid"
            ),
            VolumeWarning::GantryTiltCorrected { tilt_deg } => {
                write!(f, "gantry tilt of {tilt_deg:.2}° corrected by resampling onto an orthogonal grid")
            }
            VolumeWarning::DuplicatePositions { count } => {
                write!(f, "{count} slice(s) duplicated a position; the first of each was kept")
            }
            VolumeWarning::NoPatientGeometry => f.write_str(
                "no patient geometry in the file (ImagePositionPatient/ImageOrientationPatient absent): distances are in assumed units",
            ),
            VolumeWarning::RescaleRequantized { step } => write!(
                f,
                "rescale slope/intercept varies between slices; values re-quantised to a common step of {step:.6}"
            ),
            VolumeWarning::ColourToLuminance => f.write_str("colour image converted to luminance"),
            VolumeWarning::SplitRepeatedPositions { volumes } => write!(
                f,
                "{volumes} volumes share the same slice positions (echoes or phases); split into separate stacks"
            ),
            VolumeWarning::FilesSkipped { count } => write!(f, "{count} file(s) of this series could not be read and were skipped"),
            VolumeWarning::MosaicSplit { tiles } => write!(f, "Siemens mosaic split into {tiles} slices"),
            VolumeWarning::Other { message } => f.write_str(message),
        }
    }
}

/// A voxel volume: samples `[k, j, i]`, where each sample sits, and what it means.
#[derive(Debug, Clone)]
pub struct Volume {
    pub voxels: Array3<i16>,
    pub geometry: Geometry,
    pub value_scale: ValueScale,
    /// DICOM modality ("CT", "MR", ...) or "" when unknown (NIfTI).
    pub modality: String,
    /// SeriesInstanceUID (DICOM) so plans can name what they were made on; `None` for NIfTI.
    pub series_uid: Option<String>,
    /// StudyInstanceUID and FrameOfReferenceUID (DICOM; `None` for NIfTI or when absent).
    pub study_uid: Option<String>,
    pub frame_of_reference_uid: Option<String>,
    /// Human label of the series (SeriesDescription or file name). Free text that can
    /// carry names: shown only outside anonymous mode.
    pub description: String,
    pub warnings: Vec<VolumeWarning>,
    /// The scanner's number of each slice `k` that is an acquired image (InstanceNumber, or
    /// the frame number in a multi-frame file); `None` for interpolated slices and where the
    /// source has none (NIfTI). Empty when unknown for the whole volume.
    pub image_numbers: Vec<Option<i32>>,
    /// The display window the scanner stored (WindowCenter, WindowWidth in real units), if any.
    pub scanner_window: Option<[f64; 2]>,
}

impl Volume {
    /// Builds a volume, checking that the array's shape matches the geometry's dims.
    pub fn new(voxels: Array3<i16>, geometry: Geometry) -> Result<Volume, ShapeMismatch> {
        let (nk, nj, ni) = voxels.dim();
        if [ni, nj, nk] != geometry.dims {
            return Err(ShapeMismatch {
                array: [ni, nj, nk],
                geometry: geometry.dims,
            });
        }
        Ok(Volume {
            voxels,
            geometry,
            value_scale: ValueScale::IDENTITY,
            modality: String::new(),
            series_uid: None,
            study_uid: None,
            frame_of_reference_uid: None,
            description: String::new(),
            warnings: Vec::new(),
            image_numbers: Vec::new(),
            scanner_window: None,
        })
    }

    /// The scanner's image number of slice `k`, if it is an acquired image.
    pub fn image_number(&self, k: usize) -> Option<i32> {
        self.image_numbers.get(k).copied().flatten()
    }

    /// Real-world value (HU for CT) at integer voxel `(i, j, k)`, if inside the grid.
    pub fn value_at(&self, i: usize, j: usize, k: usize) -> Option<f64> {
        self.voxels
            .get((k, j, i))
            .map(|&v| self.value_scale.real(v))
    }

    pub fn size_bytes(&self) -> usize {
        self.voxels.len() * std::mem::size_of::<i16>()
    }

    /// Every `step`-th voxel along each axis (for quick coarse previews): same patient
    /// space, voxel (0, 0, 0) where it was, spacing `step` times larger. Values are samples,
    /// not averages, so thresholds mean the same.
    pub fn subsampled(&self, step: usize) -> Volume {
        let step = step.max(1);
        let view = self.voxels.slice(ndarray::s![..;step, ..;step, ..;step]);
        // Copied in parallel: a strided read of the whole scan is slow on one core.
        let mut voxels = ndarray::Array3::zeros(view.dim());
        ndarray::Zip::from(&mut voxels)
            .and(&view)
            .par_for_each(|out, &v| *out = v);
        let (nk, nj, ni) = voxels.dim();
        let g = &self.geometry;
        Volume {
            voxels,
            geometry: Geometry {
                dims: [ni, nj, nk],
                spacing_mm: g.spacing_mm.map(|s| s * step as f64),
                ..g.clone()
            },
            value_scale: self.value_scale,
            modality: self.modality.clone(),
            series_uid: self.series_uid.clone(),
            study_uid: self.study_uid.clone(),
            frame_of_reference_uid: self.frame_of_reference_uid.clone(),
            description: String::new(),
            warnings: Vec::new(),
            image_numbers: Vec::new(),
            scanner_window: self.scanner_window,
        }
    }
}

/// The voxel array and the geometry disagree on the grid size.
#[derive(Debug, Clone, thiserror::Error)]
#[error("voxel array is {array:?} (i, j, k) but the geometry says {geometry:?}")]
pub struct ShapeMismatch {
    pub array: [usize; 3],
    pub geometry: [usize; 3],
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn implausible_grids_are_refused_and_real_ones_kept() {
        let ok = Geometry::axis_aligned([512, 512, 400], [0.7, 0.7, 1.0], [-180.0, -180.0, -900.0]);
        assert!(ok.check_plausible().is_ok());
        let with = |f: &dyn Fn(&mut Geometry)| {
            let mut g = ok.clone();
            f(&mut g);
            g.check_plausible()
        };
        assert!(with(&|g| g.spacing_mm[0] = 1e38).is_err_and(|e| e.contains("voxel size")));
        assert!(with(&|g| g.spacing_mm[2] = 1e-9).is_err());
        assert!(with(&|g| g.origin_mm[1] = f64::NAN).is_err_and(|e| e.contains("finite")));
        assert!(with(&|g| g.origin_mm[1] = 1e6).is_err_and(|e| e.contains("beyond")));
        assert!(with(&|g| g.dims[2] = 20_000).is_err_and(|e| e.contains("field of view")));
        assert!(
            with(&|g| g.directions[1] = [1.0, 0.0, 0.0]).is_err_and(|e| e.contains("degenerate"))
        );
    }

    fn oblique() -> Geometry {
        let i = Vector3::new(0.8, 0.6, 0.0);
        let j = Vector3::new(-0.6 * 0.5, 0.8 * 0.5, (0.75f64).sqrt());
        let k = i.cross(&j);
        Geometry::new(
            [10, 12, 7],
            [0.7, 0.9, 2.5],
            [-120.0, 33.5, 401.25],
            i,
            j,
            k,
        )
    }

    #[test]
    fn affine_and_inverse_round_trip() {
        let g = oblique();
        let a = g.patient_from_voxel();
        let inv = g.voxel_from_patient().expect("invertible");
        for ijk in [[0.0, 0.0, 0.0], [9.0, 11.0, 6.0], [3.25, 7.5, 1.125]] {
            let p = a * nalgebra::Vector4::new(ijk[0], ijk[1], ijk[2], 1.0);
            let direct = g.patient_from_ijk(ijk);
            assert!((p.xyz() - direct.coords).norm() < 1e-9);
            let back = inv * p;
            let proj = g.ijk_from_patient(&direct);
            for a in 0..3 {
                assert!((back[a] - ijk[a]).abs() < 1e-9);
                assert!((proj[a] - ijk[a]).abs() < 1e-9);
            }
        }
    }

    #[test]
    fn voxel_step_is_spacing() {
        let g = oblique();
        let p0 = g.patient_from_ijk([2.0, 3.0, 4.0]);
        for (axis, s) in g.spacing_mm.iter().enumerate() {
            let mut ijk = [2.0, 3.0, 4.0];
            ijk[axis] += 1.0;
            let d = (g.patient_from_ijk(ijk) - p0).norm();
            assert!((d - s).abs() < 1e-12, "axis {axis}: {d} vs {s}");
        }
    }

    #[test]
    fn orientation_names() {
        assert_eq!(Orientation::from_normal(&Vector3::z()), Orientation::Axial);
        assert_eq!(
            Orientation::from_normal(&-Vector3::y()),
            Orientation::Coronal
        );
        assert_eq!(
            Orientation::from_normal(&Vector3::x()),
            Orientation::Sagittal
        );
        assert_eq!(
            Orientation::from_normal(&Vector3::new(1.0, 0.0, 1.0)),
            Orientation::Oblique
        );
    }

    #[test]
    fn shape_is_checked() {
        let g = Geometry::axis_aligned([4, 3, 2], [1.0; 3], [0.0; 3]);
        assert!(Volume::new(Array3::zeros((2, 3, 4)), g.clone()).is_ok());
        assert!(Volume::new(Array3::zeros((4, 3, 2)), g).is_err());
    }
}
