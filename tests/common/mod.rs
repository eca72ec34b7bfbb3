//! Helpers shared by the integration tests: where the team's real test data lives, and a
//! geometry-aware comparison of two volumes (ours against another tool's output).

#![allow(dead_code)]

use std::path::PathBuf;

use nalgebra::Point3;
use twinplan::progress::Progress;
use twinplan::volume::Volume;

/// `../shared/testdata` beside the project, or `None` (with a message) when absent, as in a
/// user's fresh clone. CI always has it.
pub fn testdata() -> Option<PathBuf> {
    let p = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../shared/testdata");
    if p.is_dir() {
        Some(p)
    } else {
        eprintln!(
            "SKIPPED: ../shared/testdata not found (it ships beside the project in CI, not in a clone)"
        );
        None
    }
}

/// Loads the only image stack under `path` (DICOM) or a NIfTI file.
pub fn load(path: &std::path::Path) -> Volume {
    if twinplan::nifti_io::is_nifti_path(path) {
        return twinplan::nifti_io::read_nifti(path)
            .unwrap_or_else(|e| panic!("reading {}: {e}", path.display()));
    }
    twinplan::dicom::load_path(path, None, &Progress::new())
        .unwrap_or_else(|e| panic!("loading {}: {e}", path.display()))
        .0
}

/// Result of [`compare`].
#[derive(Debug)]
pub struct Comparison {
    /// Largest distance (mm) between one of our voxel centres and the reference voxel centre
    /// it maps to.
    pub max_position_error_mm: f64,
    /// Largest absolute difference of real-world values over all voxels.
    pub max_value_diff: f64,
    pub mean_value_diff: f64,
    pub voxels: usize,
}

/// Compares `ours` with `reference` through patient space: every voxel of ours is mapped to
/// the reference voxel at the same LPS position, so differing axis orders or flips between
/// tools do not matter, while any geometric error does.
pub fn compare(ours: &Volume, reference: &Volume) -> Comparison {
    assert_eq!(
        ours.geometry.voxel_count(),
        reference.geometry.voxel_count(),
        "voxel counts differ: ours {:?}, reference {:?}",
        ours.geometry.dims,
        reference.geometry.dims
    );
    let inv = reference
        .geometry
        .voxel_from_patient()
        .expect("reference geometry invertible");
    let rg = &reference.geometry;
    let [ni, nj, nk] = ours.geometry.dims;
    let mut max_pos: f64 = 0.0;
    let mut max_diff: f64 = 0.0;
    let mut sum_diff = 0.0;
    for k in 0..nk {
        for j in 0..nj {
            for i in 0..ni {
                let p = ours
                    .geometry
                    .patient_from_ijk([i as f64, j as f64, k as f64]);
                let r = inv * p.to_homogeneous();
                let idx = [r[0].round(), r[1].round(), r[2].round()];
                let back: Point3<f64> = rg.patient_from_ijk(idx);
                max_pos = max_pos.max((back - p).norm());
                let (ri, rj, rk) = (idx[0] as isize, idx[1] as isize, idx[2] as isize);
                assert!(
                    ri >= 0
                        && rj >= 0
                        && rk >= 0
                        && (ri as usize) < rg.dims[0]
                        && (rj as usize) < rg.dims[1]
                        && (rk as usize) < rg.dims[2],
                    "voxel ({i},{j},{k}) maps outside the reference grid: {idx:?}"
                );
                let a = ours.value_scale.real(ours.voxels[(k, j, i)]);
                let b = reference
                    .value_scale
                    .real(reference.voxels[(rk as usize, rj as usize, ri as usize)]);
                let d = (a - b).abs();
                max_diff = max_diff.max(d);
                sum_diff += d;
            }
        }
    }
    let n = ours.geometry.voxel_count();
    Comparison {
        max_position_error_mm: max_pos,
        max_value_diff: max_diff,
        mean_value_diff: sum_diff / n.max(1) as f64,
        voxels: n,
    }
}

/// Largest distance (mm) between a voxel centre of grid `a` and the nearest voxel centre of
/// grid `b`, checked at `a`'s eight corners, which must map onto `b`'s corners: the same
/// grid up to axis order and direction (tools flip rows when writing NIfTI).
pub fn grid_mismatch_mm(a: &twinplan::volume::Geometry, b: &twinplan::volume::Geometry) -> f64 {
    let inv = b.voxel_from_patient().expect("invertible");
    let mut worst: f64 = 0.0;
    for c in 0..8 {
        let ijk = [
            if c & 1 == 0 {
                0.0
            } else {
                (a.dims[0] - 1) as f64
            },
            if c & 2 == 0 {
                0.0
            } else {
                (a.dims[1] - 1) as f64
            },
            if c & 4 == 0 {
                0.0
            } else {
                (a.dims[2] - 1) as f64
            },
        ];
        let p = a.patient_from_ijk(ijk);
        let r = inv * p.to_homogeneous();
        let mut snapped = [0.0; 3];
        for axis in 0..3 {
            let n = (b.dims[axis] - 1) as f64;
            // The corner must land on one of b's boundary planes along every axis.
            snapped[axis] = if (r[axis] - 0.0).abs() < (r[axis] - n).abs() {
                0.0
            } else {
                n
            };
        }
        worst = worst.max((b.patient_from_ijk(snapped) - p).norm());
    }
    worst
}
