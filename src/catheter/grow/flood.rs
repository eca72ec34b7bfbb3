//! The flood that cuts contacts (module documentation of [`super`], step 3): the core's
//! voxels taken in decreasing distance to the wall, joined into structures by a union–find,
//! two structures kept apart where they meet at a neck much narrower than the smaller one
//! unless they are one tube narrowing. Pure computation on the working box.

use std::collections::HashMap;

use super::{Box3, CONTACT_RATIO};
use crate::progress::Progress;
use crate::segment::SegmentError;

/// Union–find over the working box's voxels (`u32::MAX`: not yet taken).
pub(super) struct Forest {
    pub(super) parent: Vec<u32>,
    /// Per root: the largest squared distance (mm²) of its voxels.
    pub(super) widest: Vec<f32>,
}

impl Forest {
    pub(super) fn find(&mut self, x: u32) -> u32 {
        let mut r = x;
        while self.parent[r as usize] != r {
            r = self.parent[r as usize];
        }
        let mut y = x;
        while self.parent[y as usize] != r {
            let next = self.parent[y as usize];
            self.parent[y as usize] = r;
            y = next;
        }
        r
    }
}

/// The widest neck seen between two roots that stayed apart, by root pair: (squared
/// radius, voxel).
pub(super) type Necks = HashMap<(u32, u32), (f32, u32)>;

/// The flood's outcome: the forest of structures, the necks that kept two apart, and the
/// core's voxels (squared distance, index) in the order taken.
pub(super) type Flooded = (Forest, Necks, Vec<(f32, u32)>);

/// The flood of the core by decreasing distance to the wall (module documentation, step
/// 3): the forest of structures, the necks that kept two apart, and the core's voxels in
/// the order taken.
pub(super) fn flood(b: &Box3, d2: &[f64], progress: &Progress) -> Result<Flooded, SegmentError> {
    let mut order: Vec<(f32, u32)> = d2
        .iter()
        .enumerate()
        .filter(|(_, d)| **d > 0.0)
        .map(|(x, d)| (*d as f32, x as u32))
        .collect();
    {
        use rayon::prelude::*;
        order.par_sort_unstable_by(|a, c| c.0.total_cmp(&a.0).then(a.1.cmp(&c.1)));
    }
    let mut forest = Forest {
        parent: vec![u32::MAX; d2.len()],
        widest: vec![0.0; d2.len()],
    };
    let ratio2 = (CONTACT_RATIO * CONTACT_RATIO) as f32;
    let mut necks = Necks::new();
    // Whether the neck between two roots is one vessel narrowing, decided once per pair.
    let mut verdicts: HashMap<(u32, u32), bool> = HashMap::new();
    let mut roots: Vec<u32> = Vec::with_capacity(26);
    for (count, &(e2, x)) in order.iter().enumerate() {
        if count % (1 << 18) == 0 && progress.is_cancelled() {
            return Err(SegmentError::Cancelled);
        }
        roots.clear();
        // The root found last: a neighbour that points at it needs no search (most do).
        let mut last = u32::MAX;
        for o in &b.offsets26 {
            let y = (x as usize).wrapping_add_signed(*o) as u32;
            let p = forest.parent[y as usize];
            if p == u32::MAX || (p == last && last != u32::MAX) {
                continue;
            }
            let r = forest.find(y);
            last = r;
            if !roots.contains(&r) {
                roots.push(r);
            }
        }
        if roots.is_empty() {
            forest.parent[x as usize] = x;
            forest.widest[x as usize] = e2;
            continue;
        }
        // Join the widest structure around; the others join it only across a wide neck.
        roots.sort_by(|a, c| forest.widest[*c as usize].total_cmp(&forest.widest[*a as usize]));
        let main = roots[0];
        forest.parent[x as usize] = main;
        for &r in &roots[1..] {
            let smaller = forest.widest[main as usize].min(forest.widest[r as usize]);
            let joined = e2 >= ratio2 * smaller
                || *verdicts
                    .entry((main.min(r), main.max(r)))
                    .or_insert_with(|| is_narrowing(b, &mut forest, x, [main, r], smaller));
            if joined {
                forest.parent[r as usize] = main;
                let w = forest.widest[main as usize].max(forest.widest[r as usize]);
                forest.widest[main as usize] = w;
            } else {
                let slot = necks.entry((main.min(r), main.max(r))).or_insert((e2, x));
                if e2 > slot.0 {
                    *slot = (e2, x);
                }
            }
        }
    }
    Ok((forest, necks, order))
}

/// The voxels already taken within `reach_mm` of voxel `x` (sampled: at most ~25 along
/// each axis), with their root and offset from `x` (mm).
fn around(
    b: &Box3,
    forest: &mut Forest,
    x: u32,
    reach_mm: f64,
    mut visit: impl FnMut(u32, u32, nalgebra::Vector3<f64>),
) {
    let s = b.spacing;
    let reach = [0, 1, 2].map(|a| (reach_mm / s[a]).ceil() as i64);
    let stride = (reach.iter().copied().max().unwrap_or(1) / 12).max(1) as usize;
    let c = b.voxel(x as usize).map(|v| v as i64);
    for dk in (-reach[2]..=reach[2]).step_by(stride) {
        for dj in (-reach[1]..=reach[1]).step_by(stride) {
            for di in (-reach[0]..=reach[0]).step_by(stride) {
                let q =
                    nalgebra::Vector3::new(di as f64 * s[0], dj as f64 * s[1], dk as f64 * s[2]);
                let v = [c[0] + di, c[1] + dj, c[2] + dk];
                if q.norm() > reach_mm || (0..3).any(|a| v[a] < 0 || v[a] >= b.n[a] as i64) {
                    continue;
                }
                let y = b.index(v.map(|c| c as usize)) as u32;
                if forest.parent[y as usize] != u32::MAX {
                    let r = forest.find(y);
                    visit(y, r, q);
                }
            }
        }
    }
}

/// Whether the neck at voxel `x` between structures `sides` is one vessel narrowing (a
/// stenosis, a compressed true lumen) rather than two structures touching: on both sides
/// the structure near the neck runs away from it along the line from the neck to its
/// centre (its spread along that line, root mean square, at least twice its spread across
/// it: a tube entering the neck end-on, not a vessel touched from the side nor a chamber
/// opening behind it), and the two sides lie on opposite sides of the neck.
/// Looks at the voxels already taken within three times the smaller side's widest radius
/// (`smaller`: its square, mm²).
fn is_narrowing(b: &Box3, forest: &mut Forest, x: u32, sides: [u32; 2], smaller: f32) -> bool {
    let reach_mm = 3.0 * f64::from(smaller).sqrt();
    let mut n = [0usize; 2];
    let mut sum = [nalgebra::Vector3::<f64>::zeros(); 2];
    let mut outer = [nalgebra::Matrix3::<f64>::zeros(); 2];
    around(b, forest, x, reach_mm, |_, r, q| {
        if let Some(side) = sides.iter().position(|t| *t == r) {
            n[side] += 1;
            sum[side] += q;
            outer[side] += q * q.transpose();
        }
    });
    let mut centres = [nalgebra::Vector3::<f64>::zeros(); 2];
    for side in 0..2 {
        if n[side] < 8 {
            return false;
        }
        let m = sum[side] / n[side] as f64;
        let Some(u) = m.try_normalize(1e-9) else {
            return false;
        };
        // Spread along the line from the neck to the side's centre, and across it.
        let along = (u.transpose() * outer[side] * u)[0] / n[side] as f64;
        let across = outer[side].trace() / n[side] as f64 - along;
        if along < 4.0 * across.max(0.0) {
            return false;
        }
        centres[side] = m;
    }
    centres[0].dot(&centres[1]) < 0.0
}
