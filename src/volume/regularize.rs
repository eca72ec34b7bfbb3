//! Turning a stack of positioned slices into a regular grid.
//!
//! Input: slices already sorted by their position along the slice normal, each with its
//! ImagePositionPatient. A stack with equal slice distances and no in-plane drift becomes a
//! [`Geometry`] as it is. Otherwise it is resampled, with a warning, the way dcm2niix does:
//! varying distances or a missing slice → linear interpolation onto a uniform grid along the
//! normal; gantry tilt (positions drifting in-plane) → each slice shifted back onto an
//! orthogonal grid (bilinear), the grid enlarged in-plane so that every acquired pixel stays
//! inside it (the shear moves the top slices' content sideways; dcm2niix keeps the matrix
//! size and loses it). Pure geometry; no file formats.

use nalgebra::Vector3;
use ndarray::{Array3, Axis};
use rayon::prelude::*;

use super::{Geometry, VolumeWarning};

/// What a stack needs to become a grid.
#[derive(Debug, Clone)]
pub struct StackGeometry {
    /// Unit vector along a row (direction of increasing column index), LPS.
    pub row_dir: Vector3<f64>,
    /// Unit vector down a column (direction of increasing row index), LPS.
    pub col_dir: Vector3<f64>,
    /// `[column spacing (i), row spacing (j)]` in mm.
    pub pixel_spacing_mm: [f64; 2],
    /// Slice positions (ImagePositionPatient), sorted ascending along the normal.
    pub positions: Vec<Vector3<f64>>,
    /// Spacing to use when there is only one slice (SpacingBetweenSlices, SliceThickness, 1).
    pub single_slice_spacing_mm: f64,
}

impl StackGeometry {
    pub fn normal(&self) -> Vector3<f64> {
        self.row_dir.cross(&self.col_dir).normalize()
    }
}

/// How a stack deviates from a regular grid (see [`analyze`]).
#[derive(Debug, Clone)]
pub struct StackAnalysis {
    /// Slice offsets along the normal from the first slice, mm.
    pub z: Vec<f64>,
    /// In-plane drift of each slice origin, `[along row, along column]` mm.
    pub shifts: Vec<[f64; 2]>,
    pub gap_min_mm: f64,
    pub gap_max_mm: f64,
    pub gap_median_mm: f64,
    pub span_mm: f64,
    pub irregular: bool,
    pub tilted: bool,
    pub tilt_deg: f64,
}

/// Measures slice distances and in-plane drift of a stack (needs ≥ 2 positions).
pub fn analyze(stack: &StackGeometry) -> StackAnalysis {
    let normal = stack.normal();
    let [di, dj] = stack.pixel_spacing_mm;
    let p0 = stack
        .positions
        .first()
        .copied()
        .unwrap_or_else(Vector3::zeros);
    let z: Vec<f64> = stack
        .positions
        .iter()
        .map(|p| (p - p0).dot(&normal))
        .collect();
    let shifts: Vec<[f64; 2]> = stack
        .positions
        .iter()
        .zip(&z)
        .map(|(p, zk)| {
            let s = (p - p0) - normal * *zk;
            [s.dot(&stack.row_dir), s.dot(&stack.col_dir)]
        })
        .collect();
    let mut gaps: Vec<f64> = z.windows(2).map(|w| w[1] - w[0]).collect();
    let (gap_min, gap_max) = gaps
        .iter()
        .fold((f64::INFINITY, f64::NEG_INFINITY), |(a, b), &g| {
            (a.min(g), b.max(g))
        });
    let gap_median = median(&mut gaps);
    let span = z.last().copied().unwrap_or(0.0);
    let spacing_tol = (0.01 * gap_median).max(0.02);
    let irregular = z.len() > 2 && gap_max - gap_min > spacing_tol;
    let shift_tol = 0.02 * di.min(dj).max(1e-6);
    let max_shift = shifts.iter().map(|s| s[0].hypot(s[1])).fold(0.0, f64::max);
    let tilted = max_shift > shift_tol;
    let tilt_deg = shifts
        .last()
        .map(|l| (l[0].hypot(l[1]) / span.max(1e-9)).atan().to_degrees())
        .unwrap_or(0.0);
    StackAnalysis {
        z,
        shifts,
        gap_min_mm: if gap_min.is_finite() { gap_min } else { 0.0 },
        gap_max_mm: if gap_max.is_finite() { gap_max } else { 0.0 },
        gap_median_mm: gap_median,
        span_mm: span,
        irregular,
        tilted,
        tilt_deg,
    }
}

/// The result of [`regularize`].
#[derive(Debug)]
pub struct Regular {
    pub voxels: Array3<i16>,
    pub geometry: Geometry,
    pub warnings: Vec<VolumeWarning>,
    /// For each output slice, the input slice it is (same plane along the normal), or
    /// `None` where the slice was interpolated between two acquired ones.
    pub source_slice: Vec<Option<usize>>,
}

/// How far (in pixels) a tilt-corrected grid reaches beyond the first slice's pixel
/// lattice: `[i_min, j_min]` (≤ 0) and the output size.
fn tilt_extent(shifts: &[[f64; 2]], spacing: [f64; 2], n: [usize; 2]) -> ([i64; 2], [usize; 2]) {
    let mut lo = [0i64; 2];
    let mut size = n;
    for a in 0..2 {
        let offsets = shifts.iter().map(|s| s[a] / spacing[a]);
        let min = offsets.clone().fold(0.0, f64::min);
        let max = offsets.fold(0.0, f64::max);
        // A tiny tolerance so that numerically exact shifts do not add a whole row.
        let first = (min + 1e-6).floor() as i64;
        let last = (max - 1e-6).ceil() as i64 + n[a] as i64 - 1;
        lo[a] = first;
        size[a] = (last - first + 1).max(1) as usize;
    }
    (lo, size)
}

fn median(values: &mut [f64]) -> f64 {
    values.sort_by(f64::total_cmp);
    let n = values.len();
    if n == 0 {
        0.0
    } else if n % 2 == 1 {
        values[n / 2]
    } else {
        0.5 * (values[n / 2 - 1] + values[n / 2])
    }
}

/// Makes `voxels` (`[k, j, i]`, slices in the order of `stack.positions`) a regular grid.
/// `pad` fills samples that a tilt correction moves in from outside the field of view
/// (`None`: the stack's smallest value, i.e. air for CT).
pub fn regularize(
    voxels: Array3<i16>,
    stack: &StackGeometry,
    pad: Option<i16>,
) -> Result<Regular, RegularizeError> {
    let (nk, nj, ni) = voxels.dim();
    let normal = stack.normal();
    let [di, dj] = stack.pixel_spacing_mm;
    let p0 = stack
        .positions
        .first()
        .copied()
        .unwrap_or_else(Vector3::zeros);
    let geometry = |[ni, nj, nk]: [usize; 3], [i0, j0]: [i64; 2], dk: f64| {
        let o = p0 + stack.row_dir * (i0 as f64 * di) + stack.col_dir * (j0 as f64 * dj);
        Geometry::new(
            [ni, nj, nk],
            [di, dj, dk],
            [o.x, o.y, o.z],
            stack.row_dir,
            stack.col_dir,
            normal,
        )
    };
    if nk < 2 || stack.positions.len() != nk {
        let dk = if stack.single_slice_spacing_mm > 0.0 {
            stack.single_slice_spacing_mm
        } else {
            1.0
        };
        return Ok(Regular {
            voxels,
            geometry: geometry([ni, nj, nk], [0, 0], dk),
            warnings: Vec::new(),
            source_slice: (0..nk).map(Some).collect(),
        });
    }
    let a = analyze(stack);
    let (z, shifts, gap_median, span) = (&a.z, &a.shifts, a.gap_median_mm, a.span_mm);
    if !a.irregular && !a.tilted {
        return Ok(Regular {
            voxels,
            geometry: geometry([ni, nj, nk], [0, 0], span / (nk - 1) as f64),
            warnings: Vec::new(),
            source_slice: (0..nk).map(Some).collect(),
        });
    }
    let (irregular, tilted, gap_min, gap_max) = (a.irregular, a.tilted, a.gap_min_mm, a.gap_max_mm);
    let mut warnings = Vec::new();
    let (nk_out, dk_out) = if irregular && gap_median > 0.0 {
        let n = (span / gap_median).round();
        // More than half the slices missing is no longer a gap to fill.
        if !n.is_finite() || n as usize + 1 > 2 * nk + 2 {
            return Err(RegularizeError::TooSparse {
                slices: nk,
                span_mm: span,
                spacing_mm: gap_median,
            });
        }
        let n = (n as usize).max(1) + 1;
        (n, span / (n - 1) as f64)
    } else {
        (nk, span / (nk - 1) as f64)
    };
    if irregular {
        warnings.push(VolumeWarning::IrregularSpacingResampled {
            min_mm: gap_min,
            max_mm: gap_max,
            resampled_mm: dk_out,
        });
    }
    if tilted {
        // No gantry tilts beyond 30°; positions drifting further are not a tilt but
        // damaged or foreign geometry (a 1,000 mm drift per slice read as 89.9°).
        if a.tilt_deg.is_nan() || a.tilt_deg > MAX_TILT_DEG + 1e-6 {
            return Err(RegularizeError::ImplausibleTilt {
                tilt_deg: a.tilt_deg,
            });
        }
        warnings.push(VolumeWarning::GantryTiltCorrected {
            tilt_deg: a.tilt_deg,
        });
    }
    let pad = pad.unwrap_or_else(|| voxels.iter().copied().min().unwrap_or(0));
    let ([i0, j0], [ni_out, nj_out]) = if tilted {
        tilt_extent(shifts, [di, dj], [ni, nj])
    } else {
        ([0, 0], [ni, nj])
    };
    let total = nk_out
        .checked_mul(nj_out)
        .and_then(|v| v.checked_mul(ni_out))
        .filter(|&v| v <= MAX_VOXELS);
    // The corrected grid is checked as it will be allocated: against the acquired one
    // (a correction only adds the drift's margin and the missing slices) and against the
    // machine's memory (the loader's own check saw the acquired size only).
    let acquired = (ni * nj * nk) as f64;
    match total {
        Some(v) if (v as f64) <= MAX_GROWTH * acquired => {}
        _ => {
            return Err(RegularizeError::TooLarge {
                dims: [ni_out, nj_out, nk_out],
                acquired: [ni, nj, nk],
            });
        }
    }
    crate::memory::check_grid(
        "the corrected grid",
        &[ni_out as u64, nj_out as u64, nk_out as u64],
        crate::memory::WORKING_BYTES_PER_VOXEL,
    )
    .map_err(RegularizeError::NoMemory)?;
    let mut out = Array3::<i16>::from_elem((nk_out, nj_out, ni_out), pad);
    let src = &voxels;
    let mut source_slice = vec![None; nk_out];
    out.axis_iter_mut(Axis(0))
        .into_par_iter()
        .zip(source_slice.par_iter_mut())
        .enumerate()
        .for_each(|(m, (mut plane, source))| {
            let zm = m as f64 * dk_out;
            // Bracketing source slices a, a+1 with z[a] <= zm <= z[a+1].
            let a = match z.partition_point(|&zk| zk <= zm) {
                0 => 0,
                p => (p - 1).min(nk - 2),
            };
            let t = ((zm - z[a]) / (z[a + 1] - z[a]).max(1e-12)).clamp(0.0, 1.0);
            let same_plane = 1e-3 * dk_out.max(1e-6);
            *source = if (zm - z[a]).abs() <= same_plane {
                Some(a)
            } else if (zm - z[a + 1]).abs() <= same_plane {
                Some(a + 1)
            } else {
                None
            };
            for jo in 0..nj_out {
                for io in 0..ni_out {
                    let mut acc = 0.0;
                    let mut weight = 0.0;
                    for (slice, w) in [(a, 1.0 - t), (a + 1, t)] {
                        if w <= 0.0 {
                            continue;
                        }
                        let si = (io as i64 + i0) as f64 - shifts[slice][0] / di;
                        let sj = (jo as i64 + j0) as f64 - shifts[slice][1] / dj;
                        if let Some(v) = bilinear(src, slice, sj, si) {
                            acc += w * v;
                            weight += w;
                        }
                    }
                    if weight > 0.999_999 {
                        plane[(jo, io)] = acc.round() as i16;
                    }
                }
            }
        });
    Ok(Regular {
        voxels: out,
        geometry: geometry([ni_out, nj_out, nk_out], [i0, j0], dk_out),
        warnings,
        source_slice,
    })
}

/// Largest grid a regularised stack may become (as the loader's own limit: 8 GiB of i16).
const MAX_VOXELS: usize = 1 << 32;
/// Largest gantry tilt corrected, degrees (gantries tilt at most about 30°).
pub const MAX_TILT_DEG: f64 = 45.0;
/// How many times the acquired voxels a corrected grid may hold: a 45° tilt over a stack
/// as deep as it is wide doubles the in-plane extent along one axis, filling missing
/// slices at most doubles the slices.
const MAX_GROWTH: f64 = 4.0;

/// A stack that cannot honestly be made regular.
#[derive(Debug, Clone, thiserror::Error)]
pub enum RegularizeError {
    #[error(
        "{slices} slices spread over {span_mm:.1} mm at a typical spacing of {spacing_mm:.3} mm: more than half the slices are missing"
    )]
    TooSparse {
        slices: usize,
        span_mm: f64,
        spacing_mm: f64,
    },
    #[error(
        "the corrected grid would be {dims:?} voxels for {acquired:?} acquired: the slice positions do not describe one stack"
    )]
    TooLarge {
        dims: [usize; 3],
        acquired: [usize; 3],
    },
    #[error(
        "the slice positions drift as a gantry tilt of {tilt_deg:.1}°, beyond any gantry's ({MAX_TILT_DEG}° at most): the positions are damaged or belong to different stacks"
    )]
    ImplausibleTilt { tilt_deg: f64 },
    #[error("not loaded: {0}")]
    NoMemory(crate::memory::TooLarge),
}

/// Bilinear sample of slice `k` at continuous (row, column); `None` more than a pixel
/// outside the slice. Up to one pixel beyond the outermost pixel centres the edge value is
/// carried on (clamp to edge), so that a grid shifted by a fraction of a pixel still
/// reproduces the acquired edge pixels instead of mixing them with padding.
fn bilinear(v: &Array3<i16>, k: usize, j: f64, i: f64) -> Option<f64> {
    let (_, nj, ni) = v.dim();
    const REACH: f64 = 1.0 - 1e-6;
    if !(j > -REACH && i > -REACH && j < (nj - 1) as f64 + REACH && i < (ni - 1) as f64 + REACH) {
        return None;
    }
    let j = j.clamp(0.0, (nj - 1) as f64);
    let i = i.clamp(0.0, (ni - 1) as f64);
    let (j0, i0) = (j.floor() as usize, i.floor() as usize);
    let (j1, i1) = ((j0 + 1).min(nj - 1), (i0 + 1).min(ni - 1));
    let (fj, fi) = (j - j0 as f64, i - i0 as f64);
    let s = |jj: usize, ii: usize| f64::from(v[(k, jj, ii)]);
    Some(
        (1.0 - fj) * ((1.0 - fi) * s(j0, i0) + fi * s(j0, i1))
            + fj * ((1.0 - fi) * s(j1, i0) + fi * s(j1, i1)),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn stack(positions: Vec<Vector3<f64>>) -> StackGeometry {
        StackGeometry {
            row_dir: Vector3::x(),
            col_dir: Vector3::y(),
            pixel_spacing_mm: [1.0, 1.0],
            positions,
            single_slice_spacing_mm: 3.0,
        }
    }

    /// Voxel value = 10 * z_mm so linear interpolation is exact.
    fn ramp(z: &[f64], n: usize) -> Array3<i16> {
        Array3::from_shape_fn((z.len(), n, n), |(k, _, _)| (10.0 * z[k]) as i16)
    }

    #[test]
    fn regular_stack_is_kept() {
        let z = [0.0, 2.5, 5.0, 7.5];
        let r = regularize(
            ramp(&z, 4),
            &stack(
                z.iter()
                    .map(|&z| Vector3::new(-3.0, 4.0, 100.0 + z))
                    .collect(),
            ),
            None,
        )
        .expect("regular");
        assert!(r.warnings.is_empty());
        assert!((r.geometry.spacing_mm[2] - 2.5).abs() < 1e-12);
        assert_eq!(r.geometry.origin_mm, [-3.0, 4.0, 100.0]);
    }

    #[test]
    fn missing_slice_is_interpolated() {
        let z = [0.0, 2.0, 4.0, 8.0, 10.0];
        let r = regularize(
            ramp(&z, 3),
            &stack(z.iter().map(|&z| Vector3::new(0.0, 0.0, z)).collect()),
            None,
        )
        .expect("regular");
        assert_eq!(r.voxels.dim().0, 6);
        assert!((r.geometry.spacing_mm[2] - 2.0).abs() < 1e-12);
        for k in 0..6 {
            assert_eq!(r.voxels[(k, 1, 1)], (20 * k) as i16);
        }
        assert!(matches!(
            r.warnings[0],
            VolumeWarning::IrregularSpacingResampled { .. }
        ));
    }

    #[test]
    fn sparse_stack_is_refused() {
        let z = [0.0, 1.0, 2.0, 10_000.0];
        let r = regularize(
            ramp(&z, 2),
            &stack(z.iter().map(|&z| Vector3::new(0.0, 0.0, z)).collect()),
            None,
        );
        assert!(matches!(r, Err(RegularizeError::TooSparse { .. })));
    }

    #[test]
    fn tilt_is_shifted_back() {
        // Each slice's origin drifts +1 mm in y (one row) per slice: a 45° tilt along y.
        let n = 8;
        let positions: Vec<_> = (0..4)
            .map(|k| Vector3::new(0.0, k as f64, k as f64))
            .collect();
        // A feature at patient y = 5 (fixed in space): in slice k it sits at row 5 - k.
        let vox = Array3::from_shape_fn((4, n, n), |(k, j, _)| if j + k == 5 { 100 } else { 0 });
        let r = regularize(vox, &stack(positions), Some(-1)).expect("regular");
        assert!(
            matches!(r.warnings[0], VolumeWarning::GantryTiltCorrected { tilt_deg } if (tilt_deg - 45.0).abs() < 1e-9)
        );
        for k in 0..4 {
            assert_eq!(r.voxels[(k, 5, 3)], 100, "slice {k}");
            assert_eq!(r.voxels[(k, 4, 3)], 0);
        }
        // Rows shifted in from outside are padded.
        assert_eq!(r.voxels[(3, 0, 0)], -1);
    }

    #[test]
    fn a_drift_no_gantry_makes_is_refused_before_the_grid_exists() {
        // 1,000 mm of drift per 3 mm slice (the attack's series): 89.8°, not a tilt.
        let positions: Vec<_> = (0..4)
            .map(|k| Vector3::new(1000.0 * k as f64, 0.0, 3.0 * k as f64))
            .collect();
        let vox = Array3::zeros((4, 8, 8));
        match regularize(vox, &stack(positions), None) {
            Err(RegularizeError::ImplausibleTilt { tilt_deg }) => assert!(tilt_deg > 89.0),
            other => panic!("{other:?}"),
        }
        // 30° is a tilt a gantry makes: corrected.
        let dy = 3.0 * 30f64.to_radians().tan();
        let positions: Vec<_> = (0..4)
            .map(|k| Vector3::new(0.0, dy * k as f64, 3.0 * k as f64))
            .collect();
        let r = regularize(Array3::zeros((4, 8, 8)), &stack(positions), None).expect("tilt");
        assert!(matches!(
            r.warnings[0],
            VolumeWarning::GantryTiltCorrected { .. }
        ));
    }

    #[test]
    fn tilt_correction_keeps_every_acquired_pixel() {
        // 20 slices 2 mm apart, each origin drifting 0.7 mm (1.4 px) along the column
        // direction and -0.3 mm (-0.6 px) along the row: a 20° tilt that moves the last
        // slice's content 26 px (13.3 mm) sideways.
        let (ni, nj, nk) = (24usize, 20usize, 20usize);
        let mut st = stack(
            (0..nk)
                .map(|k| Vector3::new(-0.3 * k as f64, 0.7 * k as f64, 2.0 * k as f64))
                .collect(),
        );
        st.pixel_spacing_mm = [0.5, 0.5];
        // Each acquired pixel holds a linear function of its patient position.
        let value = |p: Vector3<f64>| 3.0 * p.x - 2.0 * p.y + 5.0 * p.z;
        let position = |k: usize, j: usize, i: usize| {
            st.positions[k] + st.row_dir * (i as f64 * 0.5) + st.col_dir * (j as f64 * 0.5)
        };
        let vox = Array3::from_shape_fn((nk, nj, ni), |(k, j, i)| {
            value(position(k, j, i)).round() as i16
        });
        let r = regularize(vox.clone(), &st, Some(-3000)).expect("regular");
        assert!(
            r.geometry.dims[0] > ni && r.geometry.dims[1] > nj,
            "{:?}",
            r.geometry.dims
        );
        assert_eq!(r.source_slice, (0..nk).map(Some).collect::<Vec<_>>());
        let corrected = crate::volume::Volume::new(r.voxels, r.geometry.clone()).expect("shape");
        let (mut worst_inner, mut worst_edge) = (0.0f64, 0.0f64);
        for k in 0..nk {
            for j in 0..nj {
                for i in 0..ni {
                    let p = nalgebra::Point3::from(position(k, j, i));
                    let ijk = r.geometry.ijk_from_patient(&p);
                    for a in 0..3 {
                        assert!(
                            ijk[a] > -1e-6 && ijk[a] < (r.geometry.dims[a] - 1) as f64 + 1e-6,
                            "pixel {i},{j} of slice {k} outside the grid: {ijk:?}"
                        );
                    }
                    let got = crate::volume::display::sample(&corrected, ijk).expect("inside");
                    let err = (got - f64::from(vox[(k, j, i)])).abs();
                    let edge = i == 0 || j == 0 || i == ni - 1 || j == nj - 1;
                    if edge {
                        worst_edge = worst_edge.max(err);
                    } else {
                        worst_inner = worst_inner.max(err);
                    }
                }
            }
        }
        // Inside: exact up to rounding to integers. Edge pixels: within a quarter of the
        // local step between neighbouring pixels (|grad| · 0.5 mm ≤ 2.2), plus rounding.
        assert!(worst_inner <= 1.0, "interior error {worst_inner}");
        assert!(worst_edge <= 0.25 * 2.2 + 1.0, "edge error {worst_edge}");
    }
}
