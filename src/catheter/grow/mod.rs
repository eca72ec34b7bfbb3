//! The lumen a path is planned in, grown so that it follows the vessel and not a threshold.
//!
//! 1. **The vessel's own values.** Around the seeds (a path's entry and extra seeds) the
//!    voxels within [`SAMPLE_RADIUS_MM`] (twice, three, four times that inside a vessel so
//!    wide that nearer there is only blood; none above 1.5 times the seed's own value, none
//!    below −500, air or lung, which only CT has) are split in two by Otsu's method;
//!    the bright class's median is the contrast peak, the dark class's the background.
//!    From them: the *core* level (65 % of the way from background to peak), the *rim*
//!    level (25 %) and the *bright* level (the peak plus 1.5 times the contrast), above
//!    which a voxel is bone, calcium or undiluted contrast. A range given by the user
//!    replaces the rim and bright levels (the core is then 45 % of the way from the range's
//!    floor to the peak measured inside it).
//! 2. **Core.** The voxels between core and bright connected to the seeds, less the
//!    one-voxel halo around every voxel above bright (the partial-volume shell that joins
//!    contrast to bone).
//! 3. **Contacts cut.** The core is split where it narrows to a neck much thinner than the
//!    structures on either side: every core voxel is taken in decreasing distance to the
//!    wall and joins the structures around it (a union–find over the exact distance
//!    transform, as a watershed of the distance floods from its maxima); two structures
//!    meeting at a neck whose inscribed radius is below [`CONTACT_RATIO`] times the
//!    smaller one's widest inscribed radius stay apart. A vessel touching another, a
//!    vessel touching a heart chamber through a partial-volume bridge, the aortic root
//!    meeting the ventricle at a closed valve: each is such a neck. A branch leaving a
//!    vessel is not (its ostium is as wide as the branch).
//! 4. **Rim.** Each seed's structure grows [`RIM_STEPS`] voxels into the rim range (the
//!    partial-volume boundary, which a neighbour's edge may share), never onto a voxel two
//!    structures both reach; enclosed holes (dense contrast) are filled.
//! 5. Structures of different stops are kept a voxel apart, so a path cannot cross
//!    between them; each cut neck next to the lumen is reported ([`Contact`]).
//!
//! Limits: a neck as wide as the structures it joins (an open aortic valve in systole, a
//! vein running along an artery with no visible wall between them at this resolution) is
//! not cut; a lumen whose contrast fades along its length (a poorly filled false lumen)
//! is followed only as far as it stays above the core level. Works on the volume's grid
//! and answers in patient LPS mm; no viewer, no files, no patient identity.

use std::collections::HashMap;

use nalgebra::Point3;
use ndarray::Array3;
use serde::Serialize;

use super::edt::distance_transform;
use crate::geometry::P;
use crate::progress::Progress;
use crate::segment::{Mask, SegmentError, ValueRange, VoxelBox, region_grow_bounded};
use crate::volume::Volume;

/// Radius (mm) of the sphere around a seed whose voxels give the vessel's own values.
pub const SAMPLE_RADIUS_MM: f64 = 8.0;
/// A neck whose inscribed radius is below this fraction of the smaller structure's widest
/// is a contact between two structures, not a narrowing of one.
pub const CONTACT_RATIO: f64 = 0.375;
/// Voxel steps the core grows into the rim range (the partial-volume boundary).
pub const RIM_STEPS: usize = 2;
/// How far (mm) a seed may lie from the core it is taken to mean.
pub const SEED_REACH_MM: f64 = 3.0;
/// The least contrast (HU) between a vessel and its surroundings that is taken as one.
pub const MIN_CONTRAST_HU: f64 = 80.0;

/// The values the lumen is grown with (real-world units, HU for CT).
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct Levels {
    /// The vessel's contrast peak around the seeds.
    pub peak_hu: f64,
    /// The surroundings' value around the seeds.
    pub background_hu: f64,
    /// Voxels at or above this (and not above `bright_hu`) are the lumen's core.
    pub core_hu: f64,
    /// The partial-volume boundary grown around the core reaches down to this.
    pub rim_hu: f64,
    /// Above this a voxel is bone, calcium or undiluted contrast.
    pub bright_hu: f64,
    /// True when measured around the seeds, false when the range was given.
    pub measured: bool,
}

impl Levels {
    /// The range the lumen's voxels lie in (rim to bright), as a panel shows it.
    pub fn range(&self) -> ValueRange {
        ValueRange::new(self.rim_hu, self.bright_hu)
    }
}

/// How the lumen's values are chosen.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum LumenSpec {
    /// Measured around the seeds (robust statistics).
    Auto,
    /// The user's range: its floor is the rim level, its ceiling the bright level.
    Range(ValueRange),
    /// Levels already chosen (measured around some of the seeds).
    Levels(Levels),
}

/// A neck the growth cut: where two structures touch.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Contact {
    /// The neck's widest voxel (patient LPS mm).
    pub at_lps_mm: P,
    /// The neck's inscribed diameter (mm).
    pub neck_mm: f64,
    /// The widest inscribed diameter of the structures on either side (mm).
    pub sides_mm: [f64; 2],
    /// Which seed's structure each side is (the first seed in it), None for a structure
    /// no seed lies in (it is left out of the lumen).
    pub seeds: [Option<usize>; 2],
}

/// The grown lumen.
#[derive(Debug, Clone)]
pub struct Grown {
    /// 1 inside, on the volume's grid.
    pub mask: Mask,
    /// The first and last voxel of the mask, inclusive.
    pub bounds: VoxelBox,
    pub levels: Levels,
    /// The necks cut next to the lumen, widest first.
    pub contacts: Vec<Contact>,
    /// For each seed, the first seed of the structure it lies in (itself when first);
    /// `usize::MAX` for a seed in no vessel (left out).
    pub structure_of_seed: Vec<usize>,
}

impl Grown {
    /// Applies a structure's hand edits to the lumen ([`crate::segment::edit`]), keeping
    /// the no-go voxels out of it still (a brush does not paint a way into them); the box
    /// is found again. Err when cancelled.
    pub fn edit(
        &mut self,
        volume: &Volume,
        edits: &[crate::segment::edit::MaskEdit],
        no_go: Option<&ndarray::Array3<u8>>,
        progress: &Progress,
    ) -> Result<(), SegmentError> {
        if edits.is_empty() {
            return Ok(());
        }
        let mask = std::mem::replace(
            &mut self.mask,
            Mask {
                data: ndarray::Array3::zeros((0, 0, 0)),
                geometry: volume.geometry.clone(),
            },
        );
        let mut mask = crate::segment::edit::apply(volume, mask, edits, progress)?;
        if let Some(n) = no_go.filter(|n| n.dim() == mask.data.dim()) {
            mask.data.zip_mut_with(n, |m, n| {
                if *n != 0 {
                    *m = 0;
                }
            });
        }
        let (mut lo, mut hi) = ([usize::MAX; 3], [0usize; 3]);
        for ((k, j, i), &x) in mask.data.indexed_iter() {
            if x != 0 {
                for (a, v) in [i, j, k].into_iter().enumerate() {
                    lo[a] = lo[a].min(v);
                    hi[a] = hi[a].max(v);
                }
            }
        }
        self.mask = mask;
        if lo[0] == usize::MAX {
            return Err(SegmentError::EditedAway);
        }
        self.bounds = (lo, hi);
        Ok(())
    }

    /// Volume of the lumen (mL).
    pub fn volume_ml(&self) -> f64 {
        self.mask.volume_ml()
    }

    /// The widest neck between the structures of seeds `a` and `b`, if they were cut apart.
    pub fn contact_between(&self, a: usize, b: usize) -> Option<&Contact> {
        let (sa, sb) = (
            *self.structure_of_seed.get(a)?,
            *self.structure_of_seed.get(b)?,
        );
        if sa == sb || sa == usize::MAX || sb == usize::MAX {
            return None;
        }
        self.contacts
            .iter()
            .find(|c| c.seeds == [Some(sa), Some(sb)] || c.seeds == [Some(sb), Some(sa)])
    }
}

/// What a voxel of the working box is, by value.
const BELOW: u8 = 0;
const RIM: u8 = 1;
const CORE: u8 = 2;
const BRIGHT: u8 = 3;

/// The working box: the plain core component's box with a margin, its voxels' classes
/// and linear indexing with the 26 neighbours as offsets (the margin keeps every voxel
/// that matters at least one voxel from its faces).
struct Box3 {
    /// `[i, j, k]` of the box's first voxel in the volume (may be negative: the margin).
    origin: [i64; 3],
    n: [usize; 3],
    /// Voxel spacing `[i, j, k]` (mm).
    spacing: [f64; 3],
    class: Vec<u8>,
    offsets26: Vec<isize>,
    offsets6: [isize; 6],
}

impl Box3 {
    fn index(&self, [i, j, k]: [usize; 3]) -> usize {
        (k * self.n[1] + j) * self.n[0] + i
    }

    fn voxel(&self, x: usize) -> [usize; 3] {
        let (ni, nj) = (self.n[0], self.n[1]);
        [x % ni, (x / ni) % nj, x / (ni * nj)]
    }

    /// Whether voxel `x` is at least one voxel from every face (its neighbours exist).
    fn interior(&self, x: usize) -> bool {
        let v = self.voxel(x);
        (0..3).all(|a| v[a] > 0 && v[a] + 1 < self.n[a])
    }

    fn global(&self, x: usize) -> [i64; 3] {
        let v = self.voxel(x);
        [0, 1, 2].map(|a| v[a] as i64 + self.origin[a])
    }
}

/// Grows the lumen of `seeds` (module documentation). `no_go` voxels (on the volume's
/// grid, non-zero) are never part of it: they act as a wall.
pub fn grow(
    volume: &Volume,
    seeds: &[Point3<f64>],
    spec: LumenSpec,
    no_go: Option<&Array3<u8>>,
    progress: &Progress,
) -> Result<Grown, SegmentError> {
    let levels = match spec {
        LumenSpec::Auto => Levels::measure(volume, seeds)?,
        LumenSpec::Range(r) => Levels::of_range(volume, seeds, r)?,
        LumenSpec::Levels(l) => l,
    };
    let classes = Classes {
        volume,
        levels,
        no_go,
    };
    // The first seed must lie in a vessel; a later one that does not is left out (the path
    // then says how far from the lumen that stop is).
    let mut snapped: Vec<Option<[usize; 3]>> = Vec::with_capacity(seeds.len());
    for (i, p) in seeds.iter().enumerate() {
        match classes.snap(p) {
            Ok(v) => snapped.push(Some(v)),
            Err(e) if i == 0 => return Err(e),
            Err(_) => snapped.push(None),
        }
    }
    let found: Vec<[usize; 3]> = snapped.iter().flatten().copied().collect();
    let (b, core, plain) = classes.working_box(&found, progress)?;
    let distance = distance_transform(&core, volume.geometry.spacing_mm, progress)
        .ok_or(SegmentError::Cancelled)?;
    drop(core);
    let d2 = distance
        .squared_mm2
        .as_slice()
        .ok_or(SegmentError::Cancelled)?;
    let (mut forest, necks, order) = flood(&b, d2, progress)?;
    // The structures the seeds lie in (a seed on the halo takes its nearest core voxel).
    let mut seed_root = Vec::with_capacity(snapped.len());
    for (p, v) in seeds.iter().zip(&snapped) {
        let Some(v) = v else {
            seed_root.push(u32::MAX);
            continue;
        };
        let x = b.index([0, 1, 2].map(|a| (v[a] as i64 - b.origin[a]) as usize));
        let start = if forest.parent[x] != u32::MAX {
            Some(x)
        } else {
            b.offsets26
                .iter()
                .map(|o| x.wrapping_add_signed(*o))
                .filter(|y| forest.parent[*y] != u32::MAX)
                .max_by(|a, c| d2[*a].total_cmp(&d2[*c]))
        };
        let Some(start) = start else {
            if seed_root.is_empty() {
                return Err(classes.out_of_range(p, *v));
            }
            seed_root.push(u32::MAX);
            continue;
        };
        seed_root.push(forest.find(start as u32));
    }
    let structure_of_seed: Vec<usize> = seed_root
        .iter()
        .map(|r| {
            if *r == u32::MAX {
                usize::MAX
            } else {
                seed_root.iter().position(|q| q == r).unwrap_or(0)
            }
        })
        .collect();
    let label = label_structures(&b, &mut forest, &order, &seed_root, &structure_of_seed);
    let (mask, bounds) = mask_of(plain, &b, &label).ok_or(SegmentError::Cancelled)?;
    let contacts = contacts_of(
        volume,
        &b,
        &mut forest,
        necks,
        &seed_root,
        &structure_of_seed,
    );
    Ok(Grown {
        mask,
        bounds,
        levels,
        contacts,
        structure_of_seed,
    })
}

/// The volume's voxels sorted by the lumen's levels.
struct Classes<'a> {
    volume: &'a Volume,
    levels: Levels,
    no_go: Option<&'a Array3<u8>>,
}

impl Classes<'_> {
    fn of(&self, v: [usize; 3]) -> u8 {
        if self
            .no_go
            .is_some_and(|m| m.get((v[2], v[1], v[0])).is_some_and(|&x| x != 0))
        {
            return BELOW;
        }
        let value = self
            .volume
            .value_scale
            .real(self.volume.voxels[(v[2], v[1], v[0])]);
        if value > self.levels.bright_hu {
            BRIGHT
        } else if value >= self.levels.core_hu {
            CORE
        } else if value >= self.levels.rim_hu {
            RIM
        } else {
            BELOW
        }
    }

    fn out_of_range(&self, p: &Point3<f64>, v: [usize; 3]) -> SegmentError {
        SegmentError::SeedOutOfRange {
            x: p.x,
            y: p.y,
            z: p.z,
            value: self
                .volume
                .value_scale
                .real(self.volume.voxels[(v[2], v[1], v[0])]),
            lo: self.levels.core_hu,
            hi: self.levels.bright_hu,
        }
    }

    /// Each voxel of the box's class (BELOW beyond the volume), row by row through a table
    /// of every stored value's class.
    fn fill_classes(&self, b: &mut Box3) {
        use rayon::prelude::*;
        let table: Vec<u8> = (i16::MIN..=i16::MAX)
            .map(|raw| {
                let v = self.volume.value_scale.real(raw);
                let l = &self.levels;
                if v > l.bright_hu {
                    BRIGHT
                } else if v >= l.core_hu {
                    CORE
                } else if v >= l.rim_hu {
                    RIM
                } else {
                    BELOW
                }
            })
            .collect();
        let dims = self.volume.geometry.dims;
        let (origin, n) = (b.origin, b.n);
        b.class
            .par_chunks_mut(n[0])
            .enumerate()
            .for_each(|(row, out)| {
                let (j, k) = (row % n[1], row / n[1]);
                let (gj, gk) = (j as i64 + origin[1], k as i64 + origin[2]);
                if gj < 0 || gk < 0 || gj >= dims[1] as i64 || gk >= dims[2] as i64 {
                    return;
                }
                for (i, c) in out.iter_mut().enumerate() {
                    let gi = i as i64 + origin[0];
                    if gi < 0 || gi >= dims[0] as i64 {
                        continue;
                    }
                    let (gi, gj, gk) = (gi as usize, gj as usize, gk as usize);
                    if self
                        .no_go
                        .is_some_and(|m| m.get((gk, gj, gi)).is_some_and(|&x| x != 0))
                    {
                        continue;
                    }
                    let raw = self.volume.voxels[(gk, gj, gi)];
                    *c = table[(i32::from(raw) - i32::from(i16::MIN)) as usize];
                }
            });
    }

    /// The core voxel nearest to a seed within [`SEED_REACH_MM`].
    fn snap(&self, p: &Point3<f64>) -> Result<[usize; 3], SegmentError> {
        let g = &self.volume.geometry;
        let (dims, s) = (g.dims, g.spacing_mm);
        let c = voxel_of(self.volume, p).ok_or_else(|| seed_error(p))?;
        let reach = [0, 1, 2].map(|a| (SEED_REACH_MM / s[a]).ceil() as i64);
        let mut best: Option<(f64, [usize; 3])> = None;
        for dk in -reach[2]..=reach[2] {
            for dj in -reach[1]..=reach[1] {
                for di in -reach[0]..=reach[0] {
                    let v = [c[0] as i64 + di, c[1] as i64 + dj, c[2] as i64 + dk];
                    if (0..3).any(|a| v[a] < 0 || v[a] >= dims[a] as i64) {
                        continue;
                    }
                    let v = v.map(|x| x as usize);
                    let d2 = (di as f64 * s[0]).powi(2)
                        + (dj as f64 * s[1]).powi(2)
                        + (dk as f64 * s[2]).powi(2);
                    if d2 <= SEED_REACH_MM * SEED_REACH_MM
                        && best.is_none_or(|(b, _)| d2 < b)
                        && self.of(v) == CORE
                    {
                        best = Some((d2, v));
                    }
                }
            }
        }
        best.map(|(_, v)| v).ok_or_else(|| self.out_of_range(p, c))
    }

    /// The working box around the plain core component of the seeds, its voxels'
    /// classes, and the core (`[k, j, i]` of the box): in that component, off the halo
    /// of the bright voxels, not no-go.
    fn working_box(
        &self,
        snapped: &[[usize; 3]],
        progress: &Progress,
    ) -> Result<(Box3, Array3<u8>, Mask), SegmentError> {
        let g = &self.volume.geometry;
        let centres: Vec<Point3<f64>> = snapped
            .iter()
            .map(|v| g.patient_from_ijk(v.map(|x| x as f64)))
            .collect();
        let (plain, (lo, hi)) = region_grow_bounded(
            self.volume,
            &centres,
            ValueRange::new(self.levels.core_hu, self.levels.bright_hu),
            progress,
        )?;
        let margin = RIM_STEPS + 2;
        let origin = [0, 1, 2].map(|a| lo[a] as i64 - margin as i64);
        let n = [0, 1, 2].map(|a| hi[a] - lo[a] + 1 + 2 * margin);
        let mut b = Box3::new(origin, n, g.spacing_mm);
        self.fill_classes(&mut b);
        let mut core = Array3::<u8>::zeros((n[2], n[1], n[0]));
        for (x, c) in core.iter_mut().enumerate() {
            if b.class[x] != CORE || !b.interior(x) {
                continue;
            }
            let gv = b.global(x).map(|c| c as usize);
            let halo = b
                .offsets6
                .iter()
                .any(|o| b.class[x.wrapping_add_signed(*o)] == BRIGHT);
            *c = u8::from(plain.data[(gv[2], gv[1], gv[0])] != 0 && !halo);
        }
        if progress.is_cancelled() {
            return Err(SegmentError::Cancelled);
        }
        Ok((b, core, plain))
    }
}

impl Box3 {
    fn new(origin: [i64; 3], n: [usize; 3], spacing: [f64; 3]) -> Box3 {
        let (ni, nj) = (n[0] as isize, n[1] as isize);
        let mut offsets26 = Vec::with_capacity(26);
        for dk in -1isize..=1 {
            for dj in -1isize..=1 {
                for di in -1isize..=1 {
                    if (di, dj, dk) != (0, 0, 0) {
                        offsets26.push((dk * nj + dj) * ni + di);
                    }
                }
            }
        }
        Box3 {
            origin,
            n,
            spacing,
            class: vec![BELOW; n[0] * n[1] * n[2]],
            offsets26,
            offsets6: [1, -1, ni, -ni, ni * nj, -(ni * nj)],
        }
    }
}

/// Labels (0 none, 1 + the structure's first seed) of the seeds' structures, their rim
/// grown and holes filled, structures of different seeds a voxel apart (module
/// documentation, steps 4 and 5).
fn label_structures(
    b: &Box3,
    forest: &mut Forest,
    order: &[(f32, u32)],
    seed_root: &[u32],
    structure_of_seed: &[usize],
) -> Vec<u8> {
    use rayon::prelude::*;
    let total = b.class.len();
    let label_of_root: HashMap<u32, u8> = seed_root
        .iter()
        .zip(structure_of_seed)
        .filter(|(r, _)| **r != u32::MAX)
        .map(|(r, s)| (*r, (*s).min(254) as u8 + 1))
        .collect();
    let mut label = vec![0u8; total];
    for &(_, x) in order {
        if let Some(l) = label_of_root.get(&forest.find(x)) {
            label[x as usize] = *l;
        }
    }
    for _ in 0..RIM_STEPS {
        let grown: Vec<(usize, u8)> = (0..total)
            .into_par_iter()
            .filter(|&x| matches!(b.class[x], RIM | CORE) && label[x] == 0 && b.interior(x))
            .filter_map(|x| {
                let mut found = 0u8;
                for o in &b.offsets26 {
                    let l = label[x.wrapping_add_signed(*o)];
                    if l != 0 {
                        if found != 0 && found != l {
                            return None;
                        }
                        found = l;
                    }
                }
                (found != 0).then_some((x, found))
            })
            .collect();
        for (x, l) in grown {
            label[x] = l;
        }
    }
    fill_holes(b, &mut label);
    let apart: Vec<usize> = (0..total)
        .into_par_iter()
        .filter(|&x| {
            let l = label[x];
            l > 1
                && b.interior(x)
                && b.offsets26.iter().any(|o| {
                    let m = label[x.wrapping_add_signed(*o)];
                    m != 0 && m < l
                })
        })
        .collect();
    for x in apart {
        label[x] = 0;
    }
    label
}

/// The labelled voxels as a mask on the volume's grid, with its box; None when empty.
/// Written over `plain` (the plain core component, whose voxels all lie in the box), so
/// the volume's mask is not allocated twice.
fn mask_of(mut plain: Mask, b: &Box3, label: &[u8]) -> Option<(Mask, VoxelBox)> {
    let dims = plain.geometry.dims;
    let (mut lo, mut hi) = ([usize::MAX; 3], [0usize; 3]);
    for (row, labels) in label.chunks_exact(b.n[0]).enumerate() {
        let (gj, gk) = (
            (row % b.n[1]) as i64 + b.origin[1],
            (row / b.n[1]) as i64 + b.origin[2],
        );
        if gj < 0 || gk < 0 || gj >= dims[1] as i64 || gk >= dims[2] as i64 {
            continue;
        }
        let (gj, gk) = (gj as usize, gk as usize);
        for (i, l) in labels.iter().enumerate() {
            let gi = i as i64 + b.origin[0];
            if gi < 0 || gi >= dims[0] as i64 {
                continue;
            }
            let gi = gi as usize;
            let inside = *l != 0;
            plain.data[(gk, gj, gi)] = u8::from(inside);
            if inside {
                for (a, v) in [gi, gj, gk].into_iter().enumerate() {
                    lo[a] = lo[a].min(v);
                    hi[a] = hi[a].max(v);
                }
            }
        }
    }
    (lo[0] != usize::MAX).then_some((plain, (lo, hi)))
}

/// Which structures a neck joins: the seeds' structures (by first seed), or another
/// structure (by its root), ordered so one pair has one key.
type NeckKey = (Option<usize>, Option<usize>, u32);

/// The necks next to the lumen, widest first, one per pair of structures.
fn contacts_of(
    volume: &Volume,
    b: &Box3,
    forest: &mut Forest,
    necks: Necks,
    seed_root: &[u32],
    structure_of_seed: &[usize],
) -> Vec<Contact> {
    let g = &volume.geometry;
    let min_side = 2.0 * g.spacing_mm.iter().fold(0.0f64, |m, x| m.max(*x));
    let mut best: HashMap<NeckKey, (f32, u32, [f32; 2])> = HashMap::new();
    for ((ra, rb), (e2, x)) in necks {
        let (fa, fb) = (forest.find(ra), forest.find(rb));
        if fa == fb {
            continue;
        }
        let side = |r: u32| {
            seed_root
                .iter()
                .position(|q| *q == r)
                .map(|i| structure_of_seed[i])
        };
        let (sa, sb) = (side(fa), side(fb));
        let widths = [forest.widest[fa as usize], forest.widest[fb as usize]];
        // Specks of partial volume are not structures worth naming.
        if (sa.is_none() && sb.is_none())
            || f64::from(widths[0].min(widths[1])).sqrt() * 2.0 < min_side
        {
            continue;
        }
        let (key, widths): (NeckKey, _) = match (sa, sb) {
            (Some(_), None) => ((sa, None, fb), widths),
            (None, Some(_)) => ((sb, None, fa), [widths[1], widths[0]]),
            _ if sa <= sb => ((sa, sb, 0), widths),
            _ => ((sb, sa, 0), [widths[1], widths[0]]),
        };
        let slot = best.entry(key).or_insert((e2, x, widths));
        if e2 > slot.0 {
            *slot = (e2, x, widths);
        }
    }
    let diameter = |d2: f32| 2.0 * f64::from(d2).sqrt();
    let mut contacts: Vec<Contact> = best
        .into_iter()
        .map(|((sa, sb, _), (e2, x, w))| {
            let p = g.patient_from_ijk(b.global(x as usize).map(|c| c.max(0) as f64));
            Contact {
                at_lps_mm: [p.x, p.y, p.z],
                neck_mm: diameter(e2),
                sides_mm: [diameter(w[0]), diameter(w[1])],
                seeds: [sa, sb],
            }
        })
        .collect();
    contacts.sort_by(|a, c| {
        c.neck_mm
            .total_cmp(&a.neck_mm)
            .then(a.at_lps_mm[2].total_cmp(&c.at_lps_mm[2]))
    });
    contacts
}

/// Fills the lumen's pockets: the unlabelled voxels above the rim level (undiluted
/// contrast, calcium, the halo cut around them) that labelled voxels enclose on every side
/// (6-connected), each pocket taking a neighbouring label. Tissue inside (a dissection's
/// flap) is not filled.
fn fill_holes(b: &Box3, label: &mut [u8]) {
    let candidate = |label: &[u8], x: usize| label[x] == 0 && b.class[x] != BELOW;
    let mut seen = vec![false; label.len()];
    let mut pocket = Vec::new();
    for start in 0..label.len() {
        if seen[start] || !candidate(label, start) {
            continue;
        }
        // One pocket of candidates; enclosed unless it touches the box's faces or tissue.
        pocket.clear();
        pocket.push(start);
        seen[start] = true;
        let mut enclosed = true;
        let mut at = 0;
        while at < pocket.len() {
            let x = pocket[at];
            at += 1;
            if !b.interior(x) {
                enclosed = false;
                continue;
            }
            for o in &b.offsets6 {
                let y = x.wrapping_add_signed(*o);
                if label[y] != 0 {
                    continue;
                }
                if !candidate(label, y) {
                    enclosed = false;
                } else if !seen[y] {
                    seen[y] = true;
                    pocket.push(y);
                }
            }
        }
        if !enclosed {
            continue;
        }
        // Labelled from the pocket's rim inwards.
        let mut left: Vec<usize> = pocket.clone();
        while !left.is_empty() {
            let before = left.len();
            let mut next = Vec::new();
            let mut assigned = Vec::new();
            for &x in &left {
                match b
                    .offsets6
                    .iter()
                    .map(|o| label[x.wrapping_add_signed(*o)])
                    .find(|l| *l != 0)
                {
                    Some(l) => assigned.push((x, l)),
                    None => next.push(x),
                }
            }
            for (x, l) in assigned {
                label[x] = l;
            }
            if next.len() == before {
                break;
            }
            left = next;
        }
    }
}

mod flood;
mod levels;

use flood::{Forest, Necks, flood};
pub use levels::otsu;
use levels::{seed_error, voxel_of};

#[cfg(test)]
pub(crate) mod tests;
