//! The patient's body as one closed solid: what a body outline ("skin") surface encloses, and
//! the region bone and air segmentations are limited to, so the scanner table and head
//! holders stay out of them.
//!
//! Everything above a threshold (−400 HU for CT; Otsu's threshold for MR) is looked at on a
//! coarse grid of about 2 mm first. There an erosion by one voxel detaches whatever touches
//! the body through thin contacts; the largest piece is the body's core; every other piece
//! that survived the erosion (table, holders, cushions) and its rim is a barrier; the body
//! is then everything above the threshold that can be reached from the core without
//! crossing a barrier — so thin parts of the body itself (ears, fingers, the nose), which
//! the erosion removed, come back. The full-resolution mask keeps the fine voxels inside
//! that region, and every cavity is closed slice by slice across the patient's axial
//! direction: lungs, airways, sinuses and bowel gas are inside the body, not holes in it.
//! Depends on `volume` only.

use ndarray::{Array3, ArrayViewMut2, Axis, Zip};
use rayon::prelude::*;

use super::runs::{self, Connectivity};
use super::{Mask, SegmentError, threshold};
use crate::progress::Progress;
use crate::segment::ValueRange;
use crate::volume::{Geometry, Volume};

/// Target spacing of the coarse grid, mm.
const COARSE_MM: f64 = 2.0;

/// The body region of a volume: the fine mask (cavities filled) and the coarse region the
/// body occupies (for limiting other segmentations to the body).
#[derive(Debug, Clone)]
pub struct Body {
    pub mask: Mask,
    region: Coarse,
}

impl Body {
    /// Keeps only the voxels of `mask` that lie in the body's region (within one coarse
    /// voxel of the body).
    pub fn restrict(&self, mask: &Mask) -> Mask {
        self.restrict_owned(mask.clone())
    }

    /// [`Body::restrict`] in place: clears the voxels of `mask` outside the body's region,
    /// a coarse voxel's block of fine voxels at a time.
    pub fn restrict_owned(&self, mask: Mask) -> Mask {
        self.region.restrict(mask)
    }
}

impl Coarse {
    /// Clears the fine voxels of `mask` whose coarse voxel is unset: each coarse row is
    /// expanded once to a fine row of 0/1 and ANDed into the fine rows it covers.
    fn restrict(&self, mut mask: Mask) -> Mask {
        let f = self.factor;
        let region = &self.data;
        let ni = mask.data.dim().2;
        mask.data
            .outer_iter_mut()
            .into_par_iter()
            .enumerate()
            .for_each(|(k, mut plane)| {
                let coarse = region.index_axis(Axis(0), k / f[0]);
                let mut expanded = vec![0u8; ni];
                let mut expanded_row = usize::MAX;
                for (j, mut row) in plane.rows_mut().into_iter().enumerate() {
                    if expanded_row != j / f[1] {
                        expanded_row = j / f[1];
                        let coarse_row = coarse.row(expanded_row);
                        for (i, e) in expanded.iter_mut().enumerate() {
                            *e = u8::from(coarse_row[i / f[2]] != 0);
                        }
                    }
                    match row.as_slice_mut() {
                        Some(fine) => {
                            for (v, &e) in fine.iter_mut().zip(&expanded) {
                                *v &= e;
                            }
                        }
                        None => {
                            for (v, &e) in row.iter_mut().zip(&expanded) {
                                *v &= e;
                            }
                        }
                    }
                }
            });
        mask
    }
}

/// A binary mask on a coarser grid: coarse voxel `(k, j, i)` covers fine voxels
/// `[k·f0, (k+1)·f0) × …`.
#[derive(Debug, Clone)]
struct Coarse {
    data: Array3<u8>,
    factor: [usize; 3],
}

/// Fine voxels per coarse voxel along k, j, i: about [`COARSE_MM`], at least 1.
fn factors(g: &Geometry) -> [usize; 3] {
    let f = |s: f64| ((COARSE_MM / s.max(1e-6)).floor() as usize).clamp(1, 16);
    [f(g.spacing_mm[2]), f(g.spacing_mm[1]), f(g.spacing_mm[0])]
}

/// Majority vote per block: a coarse voxel is set when at least half its fine voxels are.
fn downsample(fine: &Array3<u8>, factor: [usize; 3]) -> Coarse {
    let (nk, nj, ni) = fine.dim();
    let dims = (
        nk.div_ceil(factor[0]),
        nj.div_ceil(factor[1]),
        ni.div_ceil(factor[2]),
    );
    let mut data = Array3::<u8>::zeros(dims);
    data.axis_iter_mut(Axis(0))
        .into_par_iter()
        .enumerate()
        .for_each(|(ck, mut plane)| {
            // Set voxels per coarse cell of this plane: fine rows are summed per column
            // (vectorised) into the coarse row they fall in, then columns per cell.
            let mut columns = vec![0u16; dims.1 * ni];
            let ks = ck * factor[0]..((ck + 1) * factor[0]).min(nk);
            let depth = ks.len();
            for k in ks {
                for (j, row) in fine.index_axis(Axis(0), k).rows().into_iter().enumerate() {
                    let acc = &mut columns[(j / factor[1]) * ni..][..ni];
                    match row.as_slice() {
                        Some(row) => {
                            for (a, &v) in acc.iter_mut().zip(row) {
                                *a += u16::from(v != 0);
                            }
                        }
                        None => {
                            for (a, &v) in acc.iter_mut().zip(row.iter()) {
                                *a += u16::from(v != 0);
                            }
                        }
                    }
                }
            }
            let mut set = vec![0u32; dims.1 * dims.2];
            for (cj, cols) in columns.chunks(ni.max(1)).enumerate() {
                for (i, &c) in cols.iter().enumerate() {
                    set[cj * dims.2 + i / factor[2]] += u32::from(c);
                }
            }
            for cj in 0..dims.1 {
                let rows = ((cj + 1) * factor[1]).min(nj) - cj * factor[1];
                for ci in 0..dims.2 {
                    let cols = ((ci + 1) * factor[2]).min(ni) - ci * factor[2];
                    let all = (depth * rows * cols) as u32;
                    let n = set[cj * dims.2 + ci];
                    plane[(cj, ci)] = u8::from(2 * n >= all && n > 0);
                }
            }
        });
    Coarse { data, factor }
}

/// One axis of a box erosion (`grow = false`) or dilation of radius 1 on a 0/1 grid: each
/// voxel combines itself and its two neighbours along `axis` (outside the grid counts as
/// unset). Whole planes, rows or row elements are combined at once, so the loops vectorise.
fn box_step(src: &Array3<u8>, axis: usize, grow: bool) -> Array3<u8> {
    let src = src.as_standard_layout();
    let (nk, nj, ni) = src.dim();
    let mut out = Array3::<u8>::zeros((nk, nj, ni));
    let (Some(s), Some(o)) = (src.as_slice(), out.as_slice_mut()) else {
        return out; // both are standard layout
    };
    // `dst = a op b op c` elementwise, a missing neighbour counting as unset.
    let combine = |dst: &mut [u8], a: Option<&[u8]>, b: &[u8], c: Option<&[u8]>| match (a, c, grow)
    {
        (Some(a), Some(c), true) => {
            for (((d, &x), &y), &z) in dst.iter_mut().zip(a).zip(b).zip(c) {
                *d = x | y | z;
            }
        }
        (Some(a), Some(c), false) => {
            for (((d, &x), &y), &z) in dst.iter_mut().zip(a).zip(b).zip(c) {
                *d = x & y & z;
            }
        }
        (Some(n), None, true) | (None, Some(n), true) => {
            for ((d, &x), &y) in dst.iter_mut().zip(n).zip(b) {
                *d = x | y;
            }
        }
        (None, None, true) => dst.copy_from_slice(b),
        (_, _, false) => dst.fill(0),
    };
    let plane = nj * ni;
    if plane == 0 {
        return out;
    }
    match axis {
        0 => o.par_chunks_mut(plane).enumerate().for_each(|(k, dst)| {
            let at = |k: usize| &s[k * plane..(k + 1) * plane];
            let below = k.checked_sub(1).map(at);
            let above = (k + 1 < nk).then(|| at(k + 1));
            combine(dst, below, at(k), above);
        }),
        1 => o
            .par_chunks_mut(plane)
            .zip(s.par_chunks(plane))
            .for_each(|(dst, src)| {
                let at = |j: usize| &src[j * ni..(j + 1) * ni];
                for (j, d) in dst.chunks_mut(ni).enumerate() {
                    let before = j.checked_sub(1).map(at);
                    let after = (j + 1 < nj).then(|| at(j + 1));
                    combine(d, before, at(j), after);
                }
            }),
        _ => o
            .par_chunks_mut(plane)
            .zip(s.par_chunks(plane))
            .for_each(|(dst, src)| {
                for (d, row) in dst.chunks_mut(ni).zip(src.chunks(ni)) {
                    let n = row.len();
                    if n < 2 {
                        combine(d, None, row, None);
                        continue;
                    }
                    // Interior: neighbours are the row shifted by one either way.
                    combine(
                        &mut d[1..n - 1],
                        Some(&row[..n - 2]),
                        &row[1..n - 1],
                        Some(&row[2..]),
                    );
                    combine(&mut d[..1], None, &row[..1], Some(&row[1..2]));
                    combine(
                        &mut d[n - 1..],
                        Some(&row[n - 2..n - 1]),
                        &row[n - 1..],
                        None,
                    );
                }
            }),
    }
    out
}

/// Box erosion or dilation of radius `r` voxels (a `(2r+1)³` cube) of a 0/1 grid: `r`
/// separable unit steps (a box of radius r is r unit boxes added together).
fn box_morph(src: &Array3<u8>, r: usize, grow: bool) -> Array3<u8> {
    let mut out = src.clone();
    for _ in 0..r {
        for axis in 0..3 {
            out = box_step(&out, axis, grow);
        }
    }
    out
}

/// 26-connected flood from `seeds` through voxels where `allowed` is set: the components
/// of `allowed` that hold a seed.
fn reconstruct(seeds: &Array3<u8>, allowed: &Array3<u8>) -> Array3<u8> {
    let dims = allowed.dim();
    let l = runs::label3(allowed.view(), true, Connectivity::All);
    let mut seeded = vec![false; l.count];
    for ((k, j), row) in ndarray::indices((dims.0, dims.1))
        .into_iter()
        .zip(seeds.rows())
    {
        for (run, c) in l.row(k * dims.1 + j) {
            let span = row.slice(ndarray::s![run.start as usize..run.end as usize]);
            if !seeded[c as usize] && span.iter().any(|&v| v != 0) {
                seeded[c as usize] = true;
            }
        }
    }
    runs::paint(&l, dims, |c| seeded[c as usize])
}

/// The grid axis (as an array axis: 0 = k, 1 = j, 2 = i) that runs closest to the patient's
/// head–foot direction: slices across it are the patient's axial planes.
pub fn axial_array_axis(g: &Geometry) -> usize {
    let along_s = |a: usize| g.axis(a).z.abs();
    let grid_axis = (0..3)
        .max_by(|&a, &b| along_s(a).total_cmp(&along_s(b)))
        .unwrap_or(2);
    2 - grid_axis
}

/// Fills every background region of one 2D slice that does not reach the slice's border
/// (4-connected).
fn fill_slice(mut plane: ArrayViewMut2<u8>) {
    let (h, w) = plane.dim();
    let l = runs::label2(plane.view(), false, Connectivity::Faces);
    let mut outside = vec![false; l.count];
    for y in 0..h {
        for (run, c) in l.row(y) {
            if y == 0 || y + 1 == h || run.start == 0 || run.end as usize == w {
                outside[c as usize] = true;
            }
        }
    }
    for (y, mut row) in plane.rows_mut().into_iter().enumerate() {
        for (run, c) in l.row(y) {
            if !outside[c as usize] {
                row.slice_mut(ndarray::s![run.start as usize..run.end as usize])
                    .fill(1);
            }
        }
    }
}

/// Fills the holes of every slice across array axis `axis` (2D, in parallel). Whatever a
/// 3D hole filling closes, this closes too (a cavity open to the border in a slice is open
/// to the border in the volume).
pub fn fill_holes_in_slices(mask: &Mask, axis: usize) -> Mask {
    fill_holes_in_slices_owned(mask.clone(), axis)
}

fn fill_holes_in_slices_owned(mut mask: Mask, axis: usize) -> Mask {
    if !mask.data.is_empty() {
        mask.data
            .axis_iter_mut(Axis(axis.min(2)))
            .into_par_iter()
            .for_each(fill_slice);
    }
    mask
}

/// The body: everything at or above `threshold_real` (real units) that belongs to the
/// patient rather than to the table or holders, with its cavities filled.
pub fn body(
    volume: &Volume,
    threshold_real: f64,
    progress: &Progress,
) -> Result<Body, SegmentError> {
    // Between every step of about 20–90 ms (512×512×400, 2 cores): a cancel is seen soon.
    let check = || {
        if progress.is_cancelled() {
            Err(SegmentError::Cancelled)
        } else {
            Ok(())
        }
    };
    let fine = threshold(volume, ValueRange::new(threshold_real, f64::INFINITY));
    check()?;
    let factor = factors(&volume.geometry);
    let coarse = downsample(&fine.data, factor);
    check()?;
    let eroded = box_morph(&coarse.data, 1, false);
    // Pieces that survive the erosion: the largest is the body's core.
    let pieces = Mask {
        data: if eroded.iter().any(|&v| v != 0) {
            eroded
        } else {
            coarse.data.clone()
        },
        geometry: volume.geometry.clone(),
    };
    check()?;
    let pieces = runs::label3(pieces.data.view(), true, Connectivity::All);
    let core_label = pieces
        .sizes()
        .iter()
        .enumerate()
        .max_by_key(|(_, s)| **s)
        .map(|(n, _)| n as u32)
        .unwrap_or(u32::MAX);
    let dims = coarse.data.dim();
    check()?;
    let core = runs::paint(&pieces, dims, |c| c == core_label);
    let others = runs::paint(&pieces, dims, |c| c != core_label);
    // Other pieces and the rim the erosion took from them block the way.
    let barrier = box_morph(&others, 1, true);
    check()?;
    let mut allowed = coarse.data.clone();
    Zip::from(&mut allowed)
        .and(&barrier)
        .and(&core)
        .par_for_each(|a, &b, &c| {
            if b != 0 && c == 0 {
                *a = 0;
            }
        });
    let region = reconstruct(&core, &allowed);
    check()?;
    // One coarse voxel of margin so the fine boundary is never cut by the coarse one.
    let region = Coarse {
        data: box_morph(&region, 1, true),
        factor,
    };
    let inside = region.restrict(fine);
    check()?;
    let mask = fill_holes_in_slices_owned(inside, axial_array_axis(&volume.geometry));
    Ok(Body { mask, region })
}

#[cfg(test)]
mod tests {
    use super::*;
    use nalgebra::Vector3;

    /// A 1 mm grid: an elliptic "torso" (40 HU) with air lungs (−850 HU) open to the top of
    /// the volume through a trachea, an ear-like thin flap, and a table plate (200 HU)
    /// touching the torso's back along a thin pad.
    fn torso() -> Volume {
        let (ni, nj, nk) = (80usize, 70usize, 40usize);
        let vox = Array3::from_shape_fn((nk, nj, ni), |(k, j, i)| {
            let (x, y) = (i as f64 - 40.0, j as f64 - 30.0);
            let in_torso = (x / 30.0).powi(2) + (y / 20.0).powi(2) <= 1.0;
            let lung = ((x.abs() - 14.0) / 9.0).powi(2) + (y / 12.0).powi(2) <= 1.0 && k > 5;
            let trachea = x.abs() <= 2.0 && y.abs() <= 2.0 && k > 20;
            let flap = (71..=76).contains(&i) && (28..=29).contains(&j) && (10..30).contains(&k);
            let table = (58..=64).contains(&j) && (5..75).contains(&i);
            let pad = (51..58).contains(&j) && (38..=40).contains(&i);
            if in_torso && (lung || trachea) {
                -850
            } else if in_torso || flap {
                40
            } else if table || pad {
                200
            } else {
                -1000
            }
        });
        Volume::new(
            vox,
            Geometry::axis_aligned([ni, nj, nk], [1.0; 3], [0.0; 3]),
        )
        .expect("shape")
    }

    #[test]
    fn body_holds_lungs_and_ear_but_not_the_table() {
        let v = torso();
        let b = body(&v, -400.0, &Progress::new()).expect("body");
        let m = &b.mask.data;
        // Lungs (and the trachea open to the top) are inside the body.
        assert_eq!(m[(20, 30, 26)], 1, "left lung");
        assert_eq!(m[(30, 30, 40)], 1, "trachea");
        assert_eq!(m[(39, 30, 40)], 1, "trachea at the top slice");
        // The thin flap attached to the torso's side stays.
        assert_eq!(m[(20, 28, 75)], 1, "ear-like flap");
        // The table and the pad that touches the back do not.
        assert_eq!(m[(20, 61, 10)], 0, "table");
        assert_eq!(m[(20, 61, 39)], 0, "table under the pad");
        // Outside air is outside.
        assert_eq!(m[(20, 2, 2)], 0);
        // Bone-like voxels in the table are dropped by `restrict`; torso voxels are kept.
        let mut dense = Mask {
            data: Array3::zeros(m.dim()),
            geometry: v.geometry.clone(),
        };
        dense.data[(20, 61, 10)] = 1;
        dense.data[(20, 30, 40)] = 1;
        let kept = b.restrict(&dense);
        assert_eq!(kept.data[(20, 61, 10)], 0);
        assert_eq!(kept.data[(20, 30, 40)], 1);
    }

    #[test]
    fn slice_filling_and_axial_axis() {
        // A ring in each k slice with a hole, and a tunnel open along k: 2D filling across
        // k closes both; a 3D fill would leave the tunnel.
        let g = Geometry::axis_aligned([9, 9, 4], [1.0; 3], [0.0; 3]);
        let data = Array3::from_shape_fn((4, 9, 9), |(_, j, i)| {
            let r = (j as i32 - 4).abs().max((i as i32 - 4).abs());
            u8::from(r == 3)
        });
        let m = Mask {
            data,
            geometry: g.clone(),
        };
        let filled = fill_holes_in_slices(&m, axial_array_axis(&g));
        assert_eq!(filled.count(), 4 * 49);
        assert_eq!(axial_array_axis(&g), 0);
        // A sagittal acquisition: the rows run head to foot.
        let sag = Geometry::new(
            [9, 9, 4],
            [1.0; 3],
            [0.0; 3],
            Vector3::y(),
            -Vector3::z(),
            -Vector3::x(),
        );
        assert_eq!(axial_array_axis(&sag), 1);
    }

    #[test]
    fn box_morphology_is_a_cube() {
        let mut a = Array3::<u8>::zeros((7, 7, 7));
        a[(3, 3, 3)] = 1;
        let d = box_morph(&a, 1, true);
        assert_eq!(d.iter().filter(|&&v| v != 0).count(), 27);
        let e = box_morph(&d, 1, false);
        assert_eq!(e.iter().filter(|&&v| v != 0).count(), 1);
        assert_eq!(e[(3, 3, 3)], 1);
    }
}
