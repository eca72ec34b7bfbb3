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

use std::collections::VecDeque;

use ndarray::{Array3, ArrayViewMut1, ArrayViewMut2, Axis, Zip};
use rayon::prelude::*;

use super::{Mask, SegmentError, neighbours26, offset, threshold};
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
        let mut data = mask.data.clone();
        let f = self.region.factor;
        let region = &self.region.data;
        Zip::indexed(&mut data).par_for_each(|(k, j, i), v| {
            if *v != 0 && region[(k / f[0], j / f[1], i / f[2])] == 0 {
                *v = 0;
            }
        });
        Mask {
            data,
            geometry: mask.geometry.clone(),
        }
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
            let ks = ck * factor[0]..((ck + 1) * factor[0]).min(nk);
            for cj in 0..dims.1 {
                let js = cj * factor[1]..((cj + 1) * factor[1]).min(nj);
                for ci in 0..dims.2 {
                    let is = ci * factor[2]..((ci + 1) * factor[2]).min(ni);
                    let (mut set, mut all) = (0usize, 0usize);
                    for k in ks.clone() {
                        for j in js.clone() {
                            for i in is.clone() {
                                set += usize::from(fine[(k, j, i)] != 0);
                                all += 1;
                            }
                        }
                    }
                    plane[(cj, ci)] = u8::from(2 * set >= all && set > 0);
                }
            }
        });
    Coarse { data, factor }
}

/// One axis of a box erosion (`grow = false`) or dilation of radius `r`: each voxel looks
/// at the `2r + 1` voxels along `axis` around it (outside the grid counts as unset).
fn box_pass(src: &Array3<u8>, axis: usize, r: usize, grow: bool) -> Array3<u8> {
    let mut out = Array3::<u8>::zeros(src.dim());
    Zip::from(out.lanes_mut(Axis(axis)))
        .and(src.lanes(Axis(axis)))
        .par_for_each(|mut o: ArrayViewMut1<u8>, s| {
            let n = s.len();
            // Running count of set voxels in the window [x - r, x + r].
            let mut count = 0usize;
            for x in 0..r.min(n) {
                count += usize::from(s[x] != 0);
            }
            for x in 0..n {
                if x + r < n {
                    count += usize::from(s[x + r] != 0);
                }
                if x > r {
                    count -= usize::from(s[x - r - 1] != 0);
                }
                let window = 2 * r + 1;
                o[x] = u8::from(if grow { count > 0 } else { count == window });
            }
        });
    out
}

/// Box erosion or dilation of radius `r` voxels (a `(2r+1)³` cube), separable.
fn box_morph(src: &Array3<u8>, r: usize, grow: bool) -> Array3<u8> {
    if r == 0 {
        return src.clone();
    }
    let a = box_pass(src, 0, r, grow);
    let b = box_pass(&a, 1, r, grow);
    box_pass(&b, 2, r, grow)
}

/// 26-connected flood from `seeds` through voxels where `allowed` is set.
fn reconstruct(seeds: &Array3<u8>, allowed: &Array3<u8>) -> Array3<u8> {
    let dims = seeds.dim();
    let mut out = Array3::<u8>::zeros(dims);
    let mut queue = VecDeque::new();
    for (idx, &s) in seeds.indexed_iter() {
        if s != 0 && allowed[idx] != 0 {
            out[idx] = 1;
            queue.push_back(idx);
        }
    }
    let offsets: Vec<_> = neighbours26().collect();
    while let Some(idx) = queue.pop_front() {
        for &d in &offsets {
            if let Some(n) = offset(dims, idx, d)
                && out[n] == 0
                && allowed[n] != 0
            {
                out[n] = 1;
                queue.push_back(n);
            }
        }
    }
    out
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
    let mut outside = vec![false; h * w];
    let mut stack = Vec::new();
    let push = |y: usize, x: usize, outside: &mut Vec<bool>, stack: &mut Vec<(usize, usize)>| {
        if plane[(y, x)] == 0 && !outside[y * w + x] {
            outside[y * w + x] = true;
            stack.push((y, x));
        }
    };
    for x in 0..w {
        push(0, x, &mut outside, &mut stack);
        push(h - 1, x, &mut outside, &mut stack);
    }
    for y in 0..h {
        push(y, 0, &mut outside, &mut stack);
        push(y, w - 1, &mut outside, &mut stack);
    }
    while let Some((y, x)) = stack.pop() {
        if y > 0 {
            push(y - 1, x, &mut outside, &mut stack);
        }
        if y + 1 < h {
            push(y + 1, x, &mut outside, &mut stack);
        }
        if x > 0 {
            push(y, x - 1, &mut outside, &mut stack);
        }
        if x + 1 < w {
            push(y, x + 1, &mut outside, &mut stack);
        }
    }
    for (n, v) in plane.iter_mut().enumerate() {
        if !outside[n] {
            *v = 1;
        }
    }
}

/// Fills the holes of every slice across array axis `axis` (2D, in parallel). Whatever a
/// 3D hole filling closes, this closes too (a cavity open to the border in a slice is open
/// to the border in the volume).
pub fn fill_holes_in_slices(mask: &Mask, axis: usize) -> Mask {
    let mut data = mask.data.clone();
    if data.is_empty() {
        return mask.clone();
    }
    data.axis_iter_mut(Axis(axis.min(2)))
        .into_par_iter()
        .for_each(fill_slice);
    Mask {
        data,
        geometry: mask.geometry.clone(),
    }
}

/// The body: everything at or above `threshold_real` (real units) that belongs to the
/// patient rather than to the table or holders, with its cavities filled.
pub fn body(
    volume: &Volume,
    threshold_real: f64,
    progress: &Progress,
) -> Result<Body, SegmentError> {
    let fine = threshold(volume, ValueRange::new(threshold_real, f64::INFINITY));
    if progress.is_cancelled() {
        return Err(SegmentError::Cancelled);
    }
    let factor = factors(&volume.geometry);
    let coarse = downsample(&fine.data, factor);
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
    let (labels, sizes) = super::components(&pieces, progress)?;
    let core_label = sizes
        .iter()
        .enumerate()
        .max_by_key(|(_, s)| **s)
        .map(|(n, _)| n as u32 + 1)
        .unwrap_or(0);
    let core = labels.mapv(|l| u8::from(l != 0 && l == core_label));
    let others = labels.mapv(|l| u8::from(l != 0 && l != core_label));
    // Other pieces and the rim the erosion took from them block the way.
    let barrier = box_morph(&others, 1, true);
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
    if progress.is_cancelled() {
        return Err(SegmentError::Cancelled);
    }
    // One coarse voxel of margin so the fine boundary is never cut by the coarse one.
    let region = Coarse {
        data: box_morph(&region, 1, true),
        factor,
    };
    let body = Body { mask: fine, region };
    let inside = body.restrict(&body.mask);
    let filled = fill_holes_in_slices(&inside, axial_array_axis(&volume.geometry));
    Ok(Body {
        mask: filled,
        ..body
    })
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
