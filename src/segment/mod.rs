//! Segmentation: from a volume to labelled masks on the volume's own grid.
//!
//! Threshold by real-world value (HU for CT) with named presets, seeded region growing
//! (26-connected, seeds in patient mm), connected components (keep largest, keep the one
//! under a seed, drop islands), binary morphology (open, close, fill holes) and Gaussian
//! smoothing of a mask into a scalar field so surfaces of binary masks are not staircases.
//! [`body`] finds the patient's body apart from the scanner table, with its cavities
//! closed. [`edit`] holds the tools that fix a mask by hand (brush, islands). Depends on
//! `volume` only; never on meshing or the viewer.

pub mod body;
pub mod edit;
mod runs;

use std::collections::VecDeque;

use nalgebra::Point3;
use ndarray::{Array3, Axis, Zip};
use rayon::prelude::*;
use serde::{Deserialize, Serialize};

use crate::progress::Progress;
use crate::volume::{Geometry, Volume};

/// A binary mask (1 inside, 0 outside) on a volume's grid, `[k, j, i]`.
#[derive(Debug, Clone, PartialEq)]
pub struct Mask {
    pub data: Array3<u8>,
    pub geometry: Geometry,
}

impl Mask {
    pub fn count(&self) -> usize {
        self.data.iter().filter(|&&v| v != 0).count()
    }

    /// Volume of the mask in millilitres (voxel count × voxel volume).
    pub fn volume_ml(&self) -> f64 {
        let s = self.geometry.spacing_mm;
        self.count() as f64 * s[0] * s[1] * s[2] / 1000.0
    }

    /// Voxel index `(k, j, i)` of a patient point, if inside the grid.
    pub fn index_of(&self, p: &Point3<f64>) -> Option<(usize, usize, usize)> {
        index_of(&self.geometry, p)
    }
}

fn index_of(g: &Geometry, p: &Point3<f64>) -> Option<(usize, usize, usize)> {
    let ijk = g.ijk_from_patient(p);
    let r = ijk.map(|v| v.round());
    if r.iter()
        .zip(g.dims)
        .any(|(v, n)| *v < 0.0 || *v > (n as f64) - 1.0 || !v.is_finite())
    {
        return None;
    }
    Some((r[2] as usize, r[1] as usize, r[0] as usize))
}

/// A closed range of real-world values (HU for CT).
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct ValueRange {
    pub lo: f64,
    pub hi: f64,
}

impl ValueRange {
    pub fn new(lo: f64, hi: f64) -> ValueRange {
        ValueRange { lo, hi }
    }
    pub fn contains(&self, v: f64) -> bool {
        v >= self.lo && v <= self.hi
    }
}

/// Named threshold presets, tuned on the phantom and on the real CTs in ../shared/testdata.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum Preset {
    /// Cortical and dense cancellous bone, above contrast-enhanced blood.
    Bone,
    /// Contrast-enhanced blood (CTA); grow it from a seed to keep bone out.
    Vessels,
    /// The body outline (skin surface): the patient's body (not the table), cavities closed.
    Skin,
    /// Air inside the body: lungs and airways, bowel gas, sinuses.
    Lung,
    /// Fat to enhancing parenchyma.
    SoftTissue,
}

impl Preset {
    pub const ALL: [Preset; 5] = [
        Preset::Bone,
        Preset::Vessels,
        Preset::Skin,
        Preset::Lung,
        Preset::SoftTissue,
    ];

    pub fn name(&self) -> &'static str {
        match self {
            Preset::Bone => "bone",
            Preset::Vessels => "vessels",
            Preset::Skin => "skin",
            Preset::Lung => "lung",
            Preset::SoftTissue => "soft_tissue",
        }
    }

    pub fn from_name(name: &str) -> Option<Preset> {
        Preset::ALL.into_iter().find(|p| p.name() == name)
    }

    /// The value range of the preset (HU).
    pub fn range(&self) -> ValueRange {
        match self {
            Preset::Bone => ValueRange::new(600.0, 4000.0),
            Preset::Vessels => ValueRange::new(200.0, 600.0),
            Preset::Skin => ValueRange::new(-400.0, 4000.0),
            Preset::Lung => ValueRange::new(-1100.0, -400.0),
            Preset::SoftTissue => ValueRange::new(-150.0, 200.0),
        }
    }

    /// Applies the preset: threshold plus the clean-up that makes it useful on its own.
    /// Everything is limited to the patient's body, so the table and holders stay out.
    pub fn segment(&self, volume: &Volume, progress: &Progress) -> Result<Mask, SegmentError> {
        self.segment_in(volume, self.range(), progress)
    }

    /// The preset's clean-up applied to another value range (bone above a CTA's blood).
    pub fn segment_in(
        &self,
        volume: &Volume,
        range: ValueRange,
        progress: &Progress,
    ) -> Result<Mask, SegmentError> {
        let body = body::body(volume, Preset::Skin.range().lo, progress)?;
        if progress.is_cancelled() {
            return Err(SegmentError::Cancelled);
        }
        Ok(match self {
            Preset::Skin => body.mask,
            Preset::Bone | Preset::Vessels | Preset::SoftTissue => {
                let mask = threshold(volume, range);
                if progress.is_cancelled() {
                    return Err(SegmentError::Cancelled);
                }
                let mask = body.restrict_owned(mask);
                remove_small_components(&mask, 50, progress)?
            }
            Preset::Lung => {
                let mut air = threshold(volume, range);
                Zip::from(&mut air.data)
                    .and(&body.mask.data)
                    .par_for_each(|a, &b| *a &= b);
                remove_small_components(&air, 200, progress)?
            }
        })
    }
}

#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum SegmentError {
    #[error("seed at ({x:.1}, {y:.1}, {z:.1}) mm lies outside the volume")]
    SeedOutside { x: f64, y: f64, z: f64 },
    #[error(
        "seed at ({x:.1}, {y:.1}, {z:.1}) mm has value {value:.0}, outside the range {lo:.0}..{hi:.0}"
    )]
    SeedOutOfRange {
        x: f64,
        y: f64,
        z: f64,
        value: f64,
        lo: f64,
        hi: f64,
    },
    #[error(
        "no contrast-filled vessel around ({x:.1}, {y:.1}, {z:.1}) mm: its surroundings peak at \
         {peak:.0} against {background:.0}; place the point inside an enhanced vessel, or give \
         the vessel's value range"
    )]
    NoContrast {
        x: f64,
        y: f64,
        z: f64,
        peak: f64,
        background: f64,
    },
    #[error("the hand edits of the structure leave nothing of it: undo the last edit")]
    EditedAway,
    #[error("segmentation was cancelled")]
    Cancelled,
}

/// Voxels whose real-world value lies in `range`.
pub fn threshold(volume: &Volume, range: ValueRange) -> Mask {
    let scale = volume.value_scale;
    let mut data = Array3::<u8>::zeros(volume.voxels.dim());
    Zip::from(&mut data)
        .and(&volume.voxels)
        .par_for_each(|m, &v| *m = u8::from(range.contains(scale.real(v))));
    Mask {
        data,
        geometry: volume.geometry.clone(),
    }
}

/// The voxel at `idx + (dk, dj, di)`, if inside a grid of `dims` = (nk, nj, ni).
#[inline]
pub(crate) fn offset(
    dims: (usize, usize, usize),
    idx: (usize, usize, usize),
    d: (isize, isize, isize),
) -> Option<(usize, usize, usize)> {
    let k = idx.0.checked_add_signed(d.0).filter(|&k| k < dims.0)?;
    let j = idx.1.checked_add_signed(d.1).filter(|&j| j < dims.1)?;
    let i = idx.2.checked_add_signed(d.2).filter(|&i| i < dims.2)?;
    Some((k, j, i))
}

/// The 26 neighbour offsets.
pub(crate) fn neighbours26() -> impl Iterator<Item = (isize, isize, isize)> {
    (-1..=1).flat_map(|dk| {
        (-1..=1).flat_map(move |dj| {
            (-1..=1)
                .map(move |di| (dk, dj, di))
                .filter(|&(a, b, c)| (a, b, c) != (0, 0, 0))
        })
    })
}

/// Seeded region growing: voxels in `range` 26-connected to any seed (patient mm).
pub fn region_grow(
    volume: &Volume,
    seeds_mm: &[Point3<f64>],
    range: ValueRange,
    progress: &Progress,
) -> Result<Mask, SegmentError> {
    region_grow_bounded(volume, seeds_mm, range, progress).map(|(mask, _)| mask)
}

/// The first and last voxel `[i, j, k]` of a box, inclusive.
pub type VoxelBox = ([usize; 3], [usize; 3]);

/// [`region_grow`], also answering the box of the grown voxels (first and last `[i, j, k]`,
/// inclusive), which it knows without scanning the mask.
pub fn region_grow_bounded(
    volume: &Volume,
    seeds_mm: &[Point3<f64>],
    range: ValueRange,
    progress: &Progress,
) -> Result<(Mask, VoxelBox), SegmentError> {
    let g = &volume.geometry;
    let scale = volume.value_scale;
    let (nk, nj, ni) = volume.voxels.dim();
    let mut data = Array3::<u8>::zeros((nk, nj, ni));
    let mut queue = VecDeque::new();
    for p in seeds_mm {
        let Some(idx) = index_of(g, p) else {
            return Err(SegmentError::SeedOutside {
                x: p.x,
                y: p.y,
                z: p.z,
            });
        };
        let value = scale.real(volume.voxels[idx]);
        if !range.contains(value) {
            return Err(SegmentError::SeedOutOfRange {
                x: p.x,
                y: p.y,
                z: p.z,
                value,
                lo: range.lo,
                hi: range.hi,
            });
        }
        if data[idx] == 0 {
            data[idx] = 1;
            queue.push_back(idx);
        }
    }
    // Whether each stored value is in range, looked up (i16: 65,536 of them), and the
    // voxels as flat slices with the 26 neighbours as offsets: a voxel off the volume's
    // faces takes them all without bounds checks.
    let in_range: Vec<bool> = (i16::MIN..=i16::MAX)
        .map(|v| range.contains(scale.real(v)))
        .collect();
    let in_range = |v: i16| in_range[(i32::from(v) - i32::from(i16::MIN)) as usize];
    let standard = volume.voxels.as_standard_layout();
    let values: std::borrow::Cow<[i16]> = match standard.as_slice() {
        Some(v) => std::borrow::Cow::Borrowed(v),
        None => std::borrow::Cow::Owned(standard.iter().copied().collect()),
    };
    // A fresh array of zeros is in standard order: its vector is the volume's order.
    let (mut flat, _) = data.into_raw_vec_and_offset();
    let offsets: Vec<_> = neighbours26().collect();
    let linear: Vec<isize> = offsets
        .iter()
        .map(|&(dk, dj, di)| (dk * nj as isize + dj) * ni as isize + di)
        .collect();
    let mut flat_queue: VecDeque<usize> = queue
        .drain(..)
        .map(|(k, j, i)| (k * nj + j) * ni + i)
        .collect();
    let mut visited = 0usize;
    let (mut lo, mut hi) = ([usize::MAX; 3], [0usize; 3]);
    while let Some(n) = flat_queue.pop_front() {
        visited += 1;
        if visited.is_multiple_of(1 << 20) && progress.is_cancelled() {
            return Err(SegmentError::Cancelled);
        }
        let (k, j, i) = (n / (ni * nj), (n / ni) % nj, n % ni);
        for (a, x) in [i, j, k].into_iter().enumerate() {
            lo[a] = lo[a].min(x);
            hi[a] = hi[a].max(x);
        }
        let interior = i > 0 && j > 0 && k > 0 && i + 1 < ni && j + 1 < nj && k + 1 < nk;
        for (o, &(dk, dj, di)) in linear.iter().zip(&offsets) {
            let m = if interior {
                n.wrapping_add_signed(*o)
            } else {
                match offset((nk, nj, ni), (k, j, i), (dk, dj, di)) {
                    Some((k, j, i)) => (k * nj + j) * ni + i,
                    None => continue,
                }
            };
            if flat[m] == 0 && in_range(values[m]) {
                flat[m] = 1;
                flat_queue.push_back(m);
            }
        }
    }
    let data =
        Array3::from_shape_vec((nk, nj, ni), flat).unwrap_or_else(|_| Array3::zeros((nk, nj, ni)));
    Ok((
        Mask {
            data,
            geometry: g.clone(),
        },
        (lo, hi),
    ))
}

/// 26-connected components: a label per voxel (0 = background) and each label's size
/// (`sizes[label - 1]`). Labels are numbered in scan order, so the result is deterministic.
pub fn components(
    mask: &Mask,
    progress: &Progress,
) -> Result<(Array3<u32>, Vec<usize>), SegmentError> {
    let l = labelled(mask, progress)?;
    let dims = mask.data.dim();
    let mut labels = Array3::<u32>::zeros(dims);
    labels
        .outer_iter_mut()
        .into_par_iter()
        .enumerate()
        .for_each(|(k, mut plane)| {
            for (j, mut row) in plane.rows_mut().into_iter().enumerate() {
                for (run, c) in l.row(k * dims.1 + j) {
                    row.slice_mut(ndarray::s![run.start as usize..run.end as usize])
                        .fill(c + 1);
                }
            }
        });
    Ok((labels, l.sizes()))
}

/// The 26-connected components of a mask as runs.
fn labelled(mask: &Mask, progress: &Progress) -> Result<runs::Labelled, SegmentError> {
    if progress.is_cancelled() {
        return Err(SegmentError::Cancelled);
    }
    let l = runs::label3(mask.data.view(), true, runs::Connectivity::All);
    if progress.is_cancelled() {
        return Err(SegmentError::Cancelled);
    }
    Ok(l)
}

/// The mask of the components `keep` accepts (numbered from 0 in scan order).
fn select(mask: &Mask, l: &runs::Labelled, keep: impl Fn(u32) -> bool + Sync) -> Mask {
    Mask {
        data: runs::paint(l, mask.data.dim(), keep),
        geometry: mask.geometry.clone(),
    }
}

/// Keeps the largest connected component.
pub fn keep_largest_component(mask: &Mask, progress: &Progress) -> Result<Mask, SegmentError> {
    let l = labelled(mask, progress)?;
    let best = l
        .sizes()
        .iter()
        .enumerate()
        .max_by_key(|(_, s)| **s)
        .map(|(n, _)| n as u32)
        .unwrap_or(u32::MAX);
    Ok(select(mask, &l, |c| c == best))
}

/// Keeps the component under a seed (patient mm); empty if the seed is outside the mask.
pub fn keep_component_at(
    mask: &Mask,
    seed_mm: &Point3<f64>,
    progress: &Progress,
) -> Result<Mask, SegmentError> {
    let Some(idx) = mask.index_of(seed_mm) else {
        return Err(SegmentError::SeedOutside {
            x: seed_mm.x,
            y: seed_mm.y,
            z: seed_mm.z,
        });
    };
    let l = labelled(mask, progress)?;
    let target = runs::component_at(&l, mask.data.dim().1, idx);
    Ok(select(mask, &l, |c| Some(c) == target))
}

/// Drops components smaller than `min_voxels`.
pub fn remove_small_components(
    mask: &Mask,
    min_voxels: usize,
    progress: &Progress,
) -> Result<Mask, SegmentError> {
    let l = labelled(mask, progress)?;
    let sizes = l.sizes();
    Ok(select(mask, &l, |c| sizes[c as usize] >= min_voxels))
}

/// One step of 26-neighbourhood dilation (`grow = true`) or erosion.
fn morph_step(data: &Array3<u8>, grow: bool) -> Array3<u8> {
    let offsets: Vec<_> = neighbours26().collect();
    let (nk, nj, ni) = data.dim();
    let mut out = Array3::<u8>::zeros((nk, nj, ni));
    out.axis_iter_mut(Axis(0))
        .into_par_iter()
        .enumerate()
        .for_each(|(k, mut plane)| {
            for j in 0..nj {
                for i in 0..ni {
                    let mut any = false;
                    let mut all = true;
                    for &d in &offsets {
                        let v = offset((nk, nj, ni), (k, j, i), d).map_or(0, |idx| data[idx]);
                        any |= v != 0;
                        all &= v != 0;
                    }
                    // The centre voxel itself.
                    any |= data[(k, j, i)] != 0;
                    all &= data[(k, j, i)] != 0;
                    plane[(j, i)] = u8::from(if grow { any } else { all });
                }
            }
        });
    out
}

fn morph(mask: &Mask, steps: usize, grow: bool) -> Mask {
    let mut data = mask.data.clone();
    for _ in 0..steps {
        data = morph_step(&data, grow);
    }
    Mask {
        data,
        geometry: mask.geometry.clone(),
    }
}

/// Dilates `steps` times (26-neighbourhood).
pub fn dilate(mask: &Mask, steps: usize) -> Mask {
    morph(mask, steps, true)
}

/// Erodes `steps` times (26-neighbourhood; outside the grid counts as background).
pub fn erode(mask: &Mask, steps: usize) -> Mask {
    morph(mask, steps, false)
}

/// Opening: erosion then dilation (removes specks and thin bridges).
pub fn open(mask: &Mask, steps: usize) -> Mask {
    dilate(&erode(mask, steps), steps)
}

/// Closing: dilation then erosion (closes small gaps and pits).
pub fn close(mask: &Mask, steps: usize) -> Mask {
    erode(&dilate(mask, steps), steps)
}

/// Fills every background region not connected (6-neighbourhood) to the grid border.
pub fn fill_holes(mask: &Mask, progress: &Progress) -> Result<Mask, SegmentError> {
    if progress.is_cancelled() {
        return Err(SegmentError::Cancelled);
    }
    let (nk, nj, ni) = mask.data.dim();
    let l = runs::label3(mask.data.view(), false, runs::Connectivity::Faces);
    // Background components with a run on the grid's border are outside.
    let mut outside = vec![false; l.count];
    for k in 0..nk {
        for j in 0..nj {
            let border_row = k == 0 || j == 0 || k + 1 == nk || j + 1 == nj;
            for (run, c) in l.row(k * nj + j) {
                if border_row || run.start == 0 || run.end as usize == ni {
                    outside[c as usize] = true;
                }
            }
        }
    }
    if progress.is_cancelled() {
        return Err(SegmentError::Cancelled);
    }
    let mut data = runs::paint(&l, (nk, nj, ni), |c| !outside[c as usize]);
    Zip::from(&mut data)
        .and(&mask.data)
        .par_for_each(|d, &m| *d |= u8::from(m != 0));
    Ok(Mask {
        data,
        geometry: mask.geometry.clone(),
    })
}

/// Gaussian-smoothed mask as a field in [0, 1] (separable, σ in mm per axis); surfacing it
/// at 0.5 gives a smooth surface instead of voxel stairs.
pub fn smooth_mask(mask: &Mask, sigma_mm: f64) -> Array3<f32> {
    let mut field = Array3::<f32>::zeros(mask.data.dim());
    Zip::from(&mut field)
        .and(&mask.data)
        .par_for_each(|f, &m| *f = f32::from(m));
    if sigma_mm.is_nan() || sigma_mm <= 0.0 {
        return field;
    }
    // Axis 0 is k, 1 is j, 2 is i; spacing per axis accordingly.
    let spacing = [
        mask.geometry.spacing_mm[2],
        mask.geometry.spacing_mm[1],
        mask.geometry.spacing_mm[0],
    ];
    for (axis, s) in spacing.iter().enumerate() {
        let sigma = sigma_mm / s;
        // Never wider than the axis itself (a huge σ would size a huge kernel).
        let n_axis = field.len_of(Axis(axis)) as f64;
        let radius = (3.0 * sigma).ceil().min(n_axis) as isize;
        if radius < 1 {
            continue;
        }
        let kernel: Vec<f32> = (-radius..=radius)
            .map(|x| (-(x as f64).powi(2) / (2.0 * sigma * sigma)).exp() as f32)
            .collect();
        let sum: f32 = kernel.iter().sum();
        let kernel: Vec<f32> = kernel.iter().map(|w| w / sum).collect();
        let src = field.clone();
        let n = src.len_of(Axis(axis)) as isize;
        Zip::indexed(&mut field).par_for_each(|idx, out| {
            let mut acc = 0.0;
            let mut p = [idx.0, idx.1, idx.2];
            let c = p[axis] as isize;
            for (t, w) in kernel.iter().enumerate() {
                let q = (c + t as isize - radius).clamp(0, n - 1);
                p[axis] = q as usize;
                acc += w * src[(p[0], p[1], p[2])];
            }
            *out = acc;
        });
    }
    field
}

/// Several named masks on one grid (label n = `names[n - 1]`; later masks win overlaps).
#[derive(Debug, Clone)]
pub struct LabelMap {
    pub labels: Array3<u8>,
    pub names: Vec<String>,
    pub geometry: Geometry,
}

impl LabelMap {
    pub fn from_masks(geometry: &Geometry, masks: &[(&str, &Mask)]) -> LabelMap {
        let [ni, nj, nk] = geometry.dims;
        let mut labels = Array3::<u8>::zeros((nk, nj, ni));
        for (n, (_, m)) in masks.iter().enumerate().take(255) {
            Zip::from(&mut labels).and(&m.data).for_each(|l, &v| {
                if v != 0 {
                    *l = n as u8 + 1;
                }
            });
        }
        LabelMap {
            labels,
            names: masks.iter().map(|(n, _)| n.to_string()).collect(),
            geometry: geometry.clone(),
        }
    }

    /// The mask of one label.
    pub fn mask(&self, label: u8) -> Mask {
        Mask {
            data: self.labels.mapv(|l| u8::from(l == label)),
            geometry: self.geometry.clone(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ball(n: usize, r: f64) -> Volume {
        let c = (n as f64 - 1.0) / 2.0;
        let vox = Array3::from_shape_fn((n, n, n), |(k, j, i)| {
            let d =
                ((i as f64 - c).powi(2) + (j as f64 - c).powi(2) + (k as f64 - c).powi(2)).sqrt();
            if d <= r { 400 } else { -100 }
        });
        Volume::new(vox, Geometry::axis_aligned([n, n, n], [1.0; 3], [0.0; 3])).expect("shape")
    }

    #[test]
    fn threshold_and_grow_agree_on_one_object() {
        let v = ball(21, 6.0);
        let p = Progress::new();
        let t = threshold(&v, Preset::Vessels.range());
        let g = region_grow(
            &v,
            &[Point3::new(10.0, 10.0, 10.0)],
            Preset::Vessels.range(),
            &p,
        )
        .expect("grow");
        assert_eq!(t, g);
        assert!(matches!(
            region_grow(
                &v,
                &[Point3::new(0.0, 0.0, 0.0)],
                Preset::Vessels.range(),
                &p
            ),
            Err(SegmentError::SeedOutOfRange { .. })
        ));
        assert!(matches!(
            region_grow(
                &v,
                &[Point3::new(-50.0, 0.0, 0.0)],
                Preset::Vessels.range(),
                &p
            ),
            Err(SegmentError::SeedOutside { .. })
        ));
    }

    #[test]
    fn components_fill_and_morphology() {
        let p = Progress::new();
        let g = Geometry::axis_aligned([12, 12, 12], [1.0; 3], [0.0; 3]);
        let mut data = Array3::<u8>::zeros((12, 12, 12));
        // A hollow 6³ box (shell) and a single speck.
        for k in 2..8 {
            for j in 2..8 {
                for i in 2..8 {
                    let edge = k == 2 || k == 7 || j == 2 || j == 7 || i == 2 || i == 7;
                    data[(k, j, i)] = u8::from(edge);
                }
            }
        }
        data[(10, 10, 10)] = 1;
        let m = Mask { data, geometry: g };
        let (_, sizes) = components(&m, &p).expect("cc");
        assert_eq!(sizes.len(), 2);
        let big = keep_largest_component(&m, &p).expect("largest");
        assert_eq!(big.count(), 6 * 6 * 6 - 4 * 4 * 4);
        let filled = fill_holes(&big, &p).expect("fill");
        assert_eq!(filled.count(), 216);
        assert_eq!(
            open(&filled, 1).count(),
            216,
            "a 6³ cube survives opening by 1"
        );
        assert_eq!(
            remove_small_components(&m, 2, &p).expect("rm").count(),
            big.count()
        );
        let at = keep_component_at(&m, &Point3::new(10.0, 10.0, 10.0), &p).expect("at");
        assert_eq!(at.count(), 1);
        assert_eq!(erode(&filled, 1).count(), 64);
        assert_eq!(close(&filled, 1).count(), 216);
    }

    #[test]
    fn smoothing_keeps_mass() {
        let v = ball(25, 7.0);
        let m = threshold(&v, ValueRange::new(300.0, 500.0));
        let f = smooth_mask(&m, 1.0);
        let mass: f32 = f.iter().sum();
        assert!((mass - m.count() as f32).abs() / (m.count() as f32) < 1e-3);
        assert!(f.iter().all(|v| (0.0..=1.0001).contains(v)));
    }
}
