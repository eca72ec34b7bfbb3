//! The centred minimum-cost path through a lumen: A* on the 26-connected graph of the
//! lumen's voxels, edges of their true length in mm (anisotropic spacing), each edge's cost
//! its length divided by the square of the distance to the wall at its ends, so the path
//! keeps to the middle of the vessel and pays dearly for every step toward the wall. Only
//! voxels inside the lumen are ever entered: a target that cannot be reached is reported
//! with the nearest point that can and the gap between them, never bridged. Endpoints just
//! outside the lumen snap to its nearest voxel within a tolerance. Works on a [`Lumen`]
//! (the mask cropped to its bounding box and its distance transform); no viewer, no I/O.

use std::cmp::Ordering;
use std::collections::BinaryHeap;

use nalgebra::Point3;
use ndarray::{Array3, Axis};

use super::edt::{DistanceMap, distance_transform};
use crate::plan::geometry::P;
use crate::progress::Progress;
use crate::segment::Mask;
use crate::volume::Geometry;

/// A lumen ready for path searches: its voxels (cropped to their bounding box with a
/// one-voxel margin) and their distance to the wall. Kept while the user drags waypoints:
/// only the search reruns.
#[derive(Debug, Clone)]
pub struct Lumen {
    /// The full volume's geometry (voxel indices below are in it).
    pub geometry: Geometry,
    /// First voxel `[i, j, k]` of the crop.
    pub offset: [usize; 3],
    /// `[k, j, i]` of the crop, non-zero inside.
    pub inside: Array3<u8>,
    pub distance: DistanceMap,
    /// The largest distance to the wall (mm): what the cheapest millimetre of path costs.
    pub deepest_mm: f64,
    /// For each voxel of the crop padded by one voxel each side (so that every neighbour
    /// of a lumen voxel is in it, without bounds checks), its number among the lumen's
    /// voxels; `u32::MAX` outside. The searches keep their state per lumen voxel, not per
    /// voxel of the box (a vessel fills a few per cent of its box).
    slot: Vec<u32>,
    /// The padded linear index of each lumen voxel, by number.
    cells: Vec<u32>,
    /// What a millimetre costs at each lumen voxel: 1 / (distance to the wall)², by number.
    rates: Vec<f64>,
}

/// Why there is no path.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum PathError {
    #[error("the vessel is empty: nothing to plan a path through")]
    EmptyLumen,
    #[error(
        "the {which} point is {distance_mm:.1} mm from the vessel, whose nearest point is at \
         {nearest_lps_mm:?} (LPS mm); at most {tolerance_mm:.1} mm is taken as a click on its \
         wall: place it inside the vessel"
    )]
    OutsideLumen {
        which: String,
        distance_mm: f64,
        nearest_lps_mm: P,
        tolerance_mm: f64,
    },
    #[error(
        "the {which} point cannot be reached inside the vessel: the nearest reachable point is \
         at {nearest_lps_mm:?} (LPS mm), {gap_mm:.1} mm short of it; the lumen is interrupted \
         there (a stenosis closed at this threshold, or another vessel)"
    )]
    Unreachable {
        which: String,
        nearest_lps_mm: P,
        gap_mm: f64,
    },
    #[error("the vessel's bounding box holds {voxels} voxels, more than a path search can index")]
    TooLarge { voxels: usize },
    #[error("cancelled")]
    Cancelled,
}

/// A path as voxels of the full volume, `[i, j, k]`, from the first point to the last.
#[derive(Debug, Clone, PartialEq)]
pub struct VoxelPath {
    pub voxels: Vec<[usize; 3]>,
    /// Voxels the searches settled (for the figures).
    pub settled: usize,
}

/// How far outside the lumen (mm) a point still snaps onto it.
pub const SNAP_TOLERANCE_MM: f64 = 3.0;

impl Lumen {
    /// The lumen of `mask`, with its distance transform.
    pub fn new(mask: &Mask, progress: &Progress) -> Result<Lumen, PathError> {
        use rayon::prelude::*;
        let (nk, nj, ni) = mask.data.dim();
        // The bounding box, slice by slice in parallel (the mask is the whole volume).
        let boxes: Vec<Option<([usize; 3], [usize; 3])>> = mask
            .data
            .axis_iter(Axis(0))
            .into_par_iter()
            .enumerate()
            .map(|(k, slice)| {
                let mut found: Option<([usize; 3], [usize; 3])> = None;
                for (j, row) in slice.outer_iter().enumerate() {
                    let span = match row.as_slice() {
                        Some(r) => nonzero_span(r),
                        None => nonzero_span(&row.to_vec()),
                    };
                    if let Some((a, b)) = span {
                        let (lo, hi) = found.get_or_insert(([a, j, k], [b, j, k]));
                        lo[0] = lo[0].min(a);
                        hi[0] = hi[0].max(b);
                        hi[1] = j;
                    }
                }
                found
            })
            .collect();
        let Some((lo, hi)) = boxes.into_iter().flatten().reduce(|(la, ha), (lb, hb)| {
            (
                [0, 1, 2].map(|a| la[a].min(lb[a])),
                [0, 1, 2].map(|a| ha[a].max(hb[a])),
            )
        }) else {
            return Err(PathError::EmptyLumen);
        };
        let n = [ni, nj, nk];
        let lo = lo.map(|x| x.saturating_sub(1));
        let hi = [0, 1, 2].map(|a| (hi[a] + 1).min(n[a] - 1));
        let inside = mask
            .data
            .slice(ndarray::s![lo[2]..=hi[2], lo[1]..=hi[1], lo[0]..=hi[0]])
            .to_owned();
        // Node and feature indices are u32 (the feature grid padded by a voxel each side).
        let padded: usize = (0..3).map(|a| hi[a] - lo[a] + 3).product();
        if padded >= super::edt::MAX_PADDED_VOXELS {
            return Err(PathError::TooLarge {
                voxels: inside.len(),
            });
        }
        let distance = distance_transform(&inside, mask.geometry.spacing_mm, progress)
            .ok_or(PathError::Cancelled)?;
        let squared = distance
            .squared_mm2
            .as_slice()
            .ok_or(PathError::Cancelled)?;
        let (bk, bj, bi) = inside.dim();
        let (pi, pj) = (bi + 2, bj + 2);
        let mut slot = vec![u32::MAX; pi * pj * (bk + 2)];
        let mut cells = Vec::new();
        let mut rates = Vec::new();
        let mut deepest2 = 0.0f64;
        for (n, &d2) in squared.iter().enumerate() {
            if d2 > 0.0 {
                let (k, j, i) = (n / (bi * bj), (n / bi) % bj, n % bi);
                let p = ((k + 1) * pj + (j + 1)) * pi + (i + 1);
                slot[p] = cells.len() as u32;
                cells.push(p as u32);
                rates.push(1.0 / d2);
                deepest2 = deepest2.max(d2);
            }
        }
        let deepest_mm = if deepest2 > 0.0 { deepest2.sqrt() } else { 1.0 };
        Ok(Lumen {
            geometry: mask.geometry.clone(),
            offset: lo,
            inside,
            distance,
            deepest_mm,
            slot,
            cells,
            rates,
        })
    }

    /// The voxels of the lumen.
    pub fn voxel_count(&self) -> usize {
        self.cells.len()
    }

    /// The voxel outside the lumen nearest to lumen voxel `v`'s centre (`[i, j, k]` of the
    /// full volume, possibly one beyond its edge); `v` itself when it is not in the lumen.
    pub fn nearest_outside(&self, v: [usize; 3]) -> [i64; 3] {
        match self.local(v) {
            Some(l) if self.inside[(l[2], l[1], l[0])] != 0 => self
                .distance
                .nearest_outside(l)
                .map_or(v.map(|x| x as i64), |o| {
                    [0, 1, 2].map(|a| o[a] + self.offset[a] as i64)
                }),
            _ => v.map(|x| x as i64),
        }
    }

    fn dims(&self) -> [usize; 3] {
        let (nk, nj, ni) = self.inside.dim();
        [ni, nj, nk]
    }

    /// Whether voxel `[i, j, k]` of the full volume is in the lumen.
    pub fn contains(&self, v: [usize; 3]) -> bool {
        self.local(v)
            .is_some_and(|[i, j, k]| self.inside[(k, j, i)] != 0)
    }

    fn local(&self, v: [usize; 3]) -> Option<[usize; 3]> {
        let d = self.dims();
        let l = [0, 1, 2].map(|a| v[a].wrapping_sub(self.offset[a]));
        (0..3).all(|a| l[a] < d[a]).then_some(l)
    }

    /// Distance (mm) from voxel `v`'s centre to the wall; 0 outside.
    pub fn wall_distance(&self, v: [usize; 3]) -> f64 {
        self.local(v).map_or(0.0, |l| self.distance.at(l))
    }

    /// The centre of voxel `v` in patient mm.
    pub fn position(&self, v: [usize; 3]) -> P {
        let p = self.geometry.patient_from_ijk(v.map(|x| x as f64));
        [p.x, p.y, p.z]
    }

    /// The lumen voxel for a point: the one containing it, or the nearest within
    /// [`SNAP_TOLERANCE_MM`].
    pub fn snap(&self, p: P, which: &str) -> Result<[usize; 3], PathError> {
        let ijk = self.geometry.ijk_from_patient(&Point3::from(p));
        let s = self.geometry.spacing_mm;
        // At most 32 voxels each way (sub-0.1 mm voxels would otherwise make a huge box).
        let reach = [0, 1, 2].map(|a| ((SNAP_TOLERANCE_MM / s[a]).ceil() as i64 + 1).min(32));
        let dims = self.geometry.dims;
        // A point far off the grid has no lumen voxel near it (and its index would not fit).
        let near_grid = (0..3).all(|a| {
            ijk[a].is_finite()
                && ijk[a] >= -(reach[a] as f64)
                && ijk[a] <= (dims[a] as i64 + reach[a]) as f64
        });
        let centre = ijk.map(|x| x.round() as i64);
        let mut best: Option<(f64, [usize; 3])> = None;
        for dk in -reach[2]..=reach[2] {
            if !near_grid {
                break;
            }
            for dj in -reach[1]..=reach[1] {
                for di in -reach[0]..=reach[0] {
                    let v = [centre[0] + di, centre[1] + dj, centre[2] + dk];
                    if v.iter().any(|&x| x < 0) {
                        continue;
                    }
                    let v = v.map(|x| x as usize);
                    if !self.contains(v) {
                        continue;
                    }
                    let q = self.position(v);
                    let d = ((q[0] - p[0]).powi(2) + (q[1] - p[1]).powi(2) + (q[2] - p[2]).powi(2))
                        .sqrt();
                    if best.is_none_or(|(b, _)| d < b) {
                        best = Some((d, v));
                    }
                }
            }
        }
        // Inside the voxel that holds the point, or within the tolerance of a lumen voxel.
        let half = s.iter().fold(0.0f64, |m, x| m.max(*x)) * 0.87;
        match best {
            Some((d, v)) if d <= SNAP_TOLERANCE_MM + half => Ok(v),
            _ => {
                let (distance_mm, nearest) = self.nearest(p);
                Err(PathError::OutsideLumen {
                    which: which.to_string(),
                    distance_mm,
                    nearest_lps_mm: nearest,
                    tolerance_mm: SNAP_TOLERANCE_MM,
                })
            }
        }
    }

    /// The lumen voxel centre nearest to `p` (all of them tried) and its distance.
    fn nearest(&self, p: P) -> (f64, P) {
        let mut best: Option<(f64, P)> = None;
        for ((k, j, i), &v) in self.inside.indexed_iter() {
            if v == 0 {
                continue;
            }
            let q = self.position(self.global([i, j, k]));
            let d = ((q[0] - p[0]).powi(2) + (q[1] - p[1]).powi(2) + (q[2] - p[2]).powi(2)).sqrt();
            // The first voxel is taken even when every distance is infinite (a point far off).
            if best.is_none_or(|(b, _)| d < b) {
                best = Some((d, q));
            }
        }
        best.unwrap_or((f64::INFINITY, p))
    }

    /// The centred path through `points` in order (entry, waypoints, target), each leg
    /// searched on its own and joined.
    pub fn path(
        &self,
        points: &[(P, String)],
        progress: &Progress,
    ) -> Result<VoxelPath, PathError> {
        let snapped = points
            .iter()
            .map(|(p, which)| self.snap(*p, which).map(|v| (v, which.clone())))
            .collect::<Result<Vec<_>, _>>()?;
        let mut voxels: Vec<[usize; 3]> = Vec::new();
        let mut settled = 0;
        for leg in snapped.windows(2) {
            let (from, to) = (leg[0].0, &leg[1]);
            let part = self.leg(from, to.0, &to.1, progress)?;
            settled += part.settled;
            let skip = usize::from(!voxels.is_empty());
            voxels.extend(part.voxels.into_iter().skip(skip));
        }
        if voxels.is_empty()
            && let Some((v, _)) = snapped.first()
        {
            voxels.push(*v);
        }
        Ok(VoxelPath { voxels, settled })
    }

    /// A* from `from` to `to` (both lumen voxels of the full volume).
    fn leg(
        &self,
        from: [usize; 3],
        to: [usize; 3],
        which: &str,
        progress: &Progress,
    ) -> Result<VoxelPath, PathError> {
        let d = self.dims();
        let (Some(start), Some(goal)) = (self.local(from), self.local(to)) else {
            return Err(PathError::EmptyLumen);
        };
        // Indices into the padded grid (see `slot`).
        let (pi, pj) = (d[0] + 2, d[1] + 2);
        let index = |v: [usize; 3]| ((v[2] + 1) * pj + (v[1] + 1)) * pi + (v[0] + 1);
        let voxel = |n: usize| [n % pi - 1, (n / pi) % pj - 1, n / (pi * pj) - 1];
        let s = self.distance.spacing_mm;
        // The cheapest a millimetre can be: at the deepest point of the lumen.
        let min_rate = 1.0 / (self.deepest_mm * self.deepest_mm);
        let mm = |a: [usize; 3], b: [usize; 3]| {
            let e = [0, 1, 2].map(|x| (a[x] as f64 - b[x] as f64) * s[x]);
            (e[0] * e[0] + e[1] * e[1] + e[2] * e[2]).sqrt()
        };
        let heuristic = |v: [usize; 3]| mm(v, goal) * min_rate;
        let (Some(&start_n), Some(&goal_n)) =
            (self.slot.get(index(start)), self.slot.get(index(goal)))
        else {
            return Err(PathError::EmptyLumen);
        };
        if start_n == u32::MAX || goal_n == u32::MAX {
            return Err(PathError::EmptyLumen);
        }
        let count = self.cells.len();
        let mut cost = vec![f64::INFINITY; count];
        let mut came = vec![u32::MAX; count];
        let mut done = vec![false; count];
        let mut open = BinaryHeap::new();
        cost[start_n as usize] = 0.0;
        open.push(Node {
            f: heuristic(start),
            n: start_n as usize,
        });
        let mut settled = 0usize;
        // The settled voxel nearest the goal, for the message when it is not reached.
        let mut nearest = (f64::INFINITY, start);
        // The 26 neighbours: offsets in the padded grid, in voxels, and lengths (mm).
        let steps: Vec<(isize, [i64; 3], f64)> = (-1..=1)
            .flat_map(|k| (-1..=1).flat_map(move |j| (-1..=1).map(move |i| [i, j, k])))
            .filter(|o| *o != [0, 0, 0])
            .map(|o: [i64; 3]| {
                let e = [0, 1, 2].map(|a| o[a] as f64 * s[a]);
                let offset = (o[2] * pj as i64 + o[1]) * pi as i64 + o[0];
                (
                    offset as isize,
                    o,
                    (e[0] * e[0] + e[1] * e[1] + e[2] * e[2]).sqrt(),
                )
            })
            .collect();
        while let Some(Node { n, .. }) = open.pop() {
            if done[n] {
                continue;
            }
            done[n] = true;
            settled += 1;
            if settled.is_multiple_of(65_536) && progress.is_cancelled() {
                return Err(PathError::Cancelled);
            }
            let here_index = self.cells[n] as usize;
            let v = voxel(here_index);
            if n == goal_n as usize {
                let mut voxels = vec![self.global(v)];
                let mut at = n;
                while came[at] != u32::MAX {
                    at = came[at] as usize;
                    voxels.push(self.global(voxel(self.cells[at] as usize)));
                }
                voxels.reverse();
                return Ok(VoxelPath { voxels, settled });
            }
            let gap = mm(v, goal);
            if gap < nearest.0 {
                nearest = (gap, v);
            }
            let here = self.rates[n];
            let base = cost[n];
            for (offset, o, length) in &steps {
                // A lumen voxel's neighbours are all in the padded grid.
                let m = self.slot[here_index.wrapping_add_signed(*offset)];
                if m == u32::MAX {
                    continue;
                }
                let m = m as usize;
                if done[m] {
                    continue;
                }
                let c = base + length * 0.5 * (here + self.rates[m]);
                if c < cost[m] {
                    cost[m] = c;
                    came[m] = n as u32;
                    let w = [0, 1, 2].map(|a| (v[a] as i64 + o[a]) as usize);
                    open.push(Node {
                        f: c + heuristic(w),
                        n: m,
                    });
                }
            }
        }
        Err(PathError::Unreachable {
            which: which.to_string(),
            nearest_lps_mm: self.position(self.global(nearest.1)),
            gap_mm: nearest.0,
        })
    }

    fn global(&self, l: [usize; 3]) -> [usize; 3] {
        [0, 1, 2].map(|a| l[a] + self.offset[a])
    }
}

/// The first and last non-zero bytes of a row, eight at a time (a whole volume's mask is
/// scanned for the vessel's box).
fn nonzero_span(row: &[u8]) -> Option<(usize, usize)> {
    let word = |c: &[u8]| u64::from_ne_bytes([c[0], c[1], c[2], c[3], c[4], c[5], c[6], c[7]]);
    let chunks = row.len() / 8;
    let first_chunk = (0..chunks).find(|&c| word(&row[c * 8..c * 8 + 8]) != 0);
    let first = match first_chunk {
        Some(c) => c * 8 + row[c * 8..].iter().position(|&v| v != 0)?,
        None => chunks * 8 + row[chunks * 8..].iter().position(|&v| v != 0)?,
    };
    let tail = row[chunks * 8..].iter().rposition(|&v| v != 0);
    let last = match tail {
        Some(t) => chunks * 8 + t,
        None => {
            let c = (0..chunks)
                .rev()
                .find(|&c| word(&row[c * 8..c * 8 + 8]) != 0)?;
            c * 8 + row[c * 8..c * 8 + 8].iter().rposition(|&v| v != 0)?
        }
    };
    Some((first, last))
}

/// An open node: estimated total cost and voxel index (the heap pops the lowest).
#[derive(Debug, Clone, Copy, PartialEq)]
struct Node {
    f: f64,
    n: usize,
}

impl Eq for Node {}

impl Ord for Node {
    fn cmp(&self, other: &Self) -> Ordering {
        other.f.total_cmp(&self.f).then(other.n.cmp(&self.n))
    }
}

impl PartialOrd for Node {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A U-shaped tube of radius `r` mm (two straight legs along k joined by a bend), in
    /// 1 mm voxels with 1.5 mm slices; a second, separate tube beside it.
    fn u_tube(r: f64, gap_slices: usize) -> Mask {
        let (ni, nj, nk) = (70, 30, 60);
        let geometry = Geometry::axis_aligned([ni, nj, nk], [1.0, 1.0, 1.5], [0.0, 0.0, 0.0]);
        let data = Array3::from_shape_fn((nk, nj, ni), |(k, j, i)| {
            let (x, y, z) = (i as f64, j as f64, k as f64 * 1.5);
            let y0 = 15.0;
            // Legs at x = 15 and x = 45 from z = 10 to z = 60; the bend a half torus of
            // radius 15 at z = 60 … 75 around (30, 15, 60).
            let leg = |cx: f64| {
                (x - cx).powi(2) + (y - y0).powi(2) <= r * r && (10.0..=60.0).contains(&z)
            };
            let bend = z >= 60.0 && {
                let rho = ((x - 30.0).powi(2) + (z - 60.0).powi(2)).sqrt();
                (rho - 15.0).powi(2) + (y - y0).powi(2) <= r * r
            };
            let broken =
                gap_slices > 0 && x < 30.0 && (30.0..30.0 + 1.5 * gap_slices as f64).contains(&z);
            let other = (x - 63.0).powi(2) + (y - y0).powi(2) <= 9.0 && (10.0..=60.0).contains(&z);
            u8::from(((leg(15.0) || leg(45.0) || bend) && !broken) || other)
        });
        Mask { data, geometry }
    }

    fn path_length(l: &Lumen, p: &VoxelPath) -> f64 {
        p.voxels
            .windows(2)
            .map(|w| {
                let (a, b) = (l.position(w[0]), l.position(w[1]));
                ((a[0] - b[0]).powi(2) + (a[1] - b[1]).powi(2) + (a[2] - b[2]).powi(2)).sqrt()
            })
            .sum()
    }

    #[test]
    fn the_path_keeps_to_the_middle_of_a_bent_tube() {
        let lumen = Lumen::new(&u_tube(5.0, 0), &Progress::new()).expect("lumen");
        let points = vec![
            ([15.0, 15.0, 15.0], "entry".to_string()),
            ([45.0, 15.0, 15.0], "target".to_string()),
        ];
        let p = lumen.path(&points, &Progress::new()).expect("reachable");
        // Every voxel inside, the straight legs on their axis.
        for v in &p.voxels {
            assert!(lumen.contains(*v));
            let q = lumen.position(*v);
            if q[2] < 58.0 {
                let off = ((q[0] - 15.0).abs().min((q[0] - 45.0).abs())).hypot(q[1] - 15.0);
                assert!(off <= 1.0, "{q:?} is {off} mm off the axis");
            }
        }
        // The centreline: two legs of 45 mm and a half circle of radius 15 mm; the voxel
        // path's staircase makes it a little longer.
        let truth = 2.0 * 45.0 + std::f64::consts::PI * 15.0;
        let length = path_length(&lumen, &p);
        assert!(
            length > truth * 0.99 && length < truth * 1.08,
            "{length} vs {truth}"
        );
    }

    #[test]
    fn a_break_in_the_vessel_is_reported_never_bridged() {
        let lumen = Lumen::new(&u_tube(5.0, 3), &Progress::new()).expect("lumen");
        let points = vec![
            ([15.0, 15.0, 15.0], "entry".to_string()),
            ([45.0, 15.0, 15.0], "target".to_string()),
        ];
        match lumen.path(&points, &Progress::new()) {
            Err(PathError::Unreachable {
                which,
                nearest_lps_mm,
                gap_mm,
            }) => {
                assert_eq!(which, "target");
                // The entry's side ends just below the break (z < 30).
                assert!(nearest_lps_mm[2] < 30.0, "{nearest_lps_mm:?}");
                assert!(gap_mm >= 24.9, "{gap_mm}");
            }
            other => panic!("expected unreachable, got {other:?}"),
        }
        // The separate tube: unreachable too; a point far from any vessel: outside.
        let to_other = vec![
            ([15.0, 15.0, 15.0], "entry".to_string()),
            ([63.0, 15.0, 30.0], "target".to_string()),
        ];
        assert!(matches!(
            lumen.path(&to_other, &Progress::new()),
            Err(PathError::Unreachable { .. })
        ));
        let outside = vec![
            ([15.0, 15.0, 15.0], "entry".to_string()),
            ([30.0, 2.0, 30.0], "target".to_string()),
        ];
        match lumen.path(&outside, &Progress::new()) {
            Err(PathError::OutsideLumen { which, .. }) => assert_eq!(which, "target"),
            other => panic!("expected outside, got {other:?}"),
        }
    }

    #[test]
    fn the_nonzero_span_of_a_row() {
        for len in [0usize, 1, 7, 8, 9, 16, 23, 64] {
            for a in 0..len {
                for b in a..len {
                    let mut row = vec![0u8; len];
                    row[a] = 1;
                    row[b] = 3;
                    assert_eq!(nonzero_span(&row), Some((a, b)), "{len} {a} {b}");
                }
            }
            assert_eq!(nonzero_span(&vec![0u8; len]), None);
        }
    }

    #[test]
    fn a_click_on_the_wall_snaps_into_the_lumen() {
        let lumen = Lumen::new(&u_tube(5.0, 0), &Progress::new()).expect("lumen");
        // 6.5 mm from the axis of a 5 mm tube: 1.5 mm outside.
        let v = lumen.snap([21.5, 15.0, 30.0], "entry").expect("snaps");
        assert!(lumen.contains(v));
        assert!(lumen.snap([27.0, 15.0, 30.0], "entry").is_err());
        // Far off the grid: the same clear error, the vessel's nearest point named.
        match lumen.snap([1e300, -1e300, 30.0], "target") {
            Err(PathError::OutsideLumen { nearest_lps_mm, .. }) => {
                assert!(lumen.contains(lumen.snap(nearest_lps_mm, "x").expect("in")))
            }
            other => panic!("expected outside, got {other:?}"),
        }
    }
}
