//! The centred minimum-cost path through a lumen: A* on the 26-connected graph of the
//! lumen's voxels, edges of their true length in mm (anisotropic spacing), each edge's cost
//! its length divided by the square of the distance to the wall at its ends, so the path
//! keeps to the middle of the vessel and pays dearly for every step toward the wall. Only
//! voxels inside the lumen are ever entered: a target that cannot be reached is reported
//! with the nearest point that can and the gap between them, never bridged. Endpoints just
//! outside the lumen snap to its nearest voxel within a tolerance. For a waypoint being
//! dragged, [`Tree`]s (Dijkstra from each fixed stop over the whole lumen) give the legs to
//! and from it by tracing back, without searching. Works on a [`Lumen`] (the mask cropped
//! to its bounding box, its distance and feature transforms); no viewer, no I/O.

use ndarray::{Array3, Axis};

use super::edt::{DistanceMap, distance_transform};

mod wall;
use crate::geometry::P;
use crate::progress::Progress;
use crate::segment::Mask;
use crate::volume::Geometry;
pub use wall::{Boundary, Passage};

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
    /// The narrowest inscribed diameter (mm) a path may pass: voxels narrower are never
    /// entered (0: every lumen voxel).
    floor_mm: f64,
    /// The image over the crop and the level its wall is drawn at, for sub-voxel
    /// cross-sections ([`Lumen::inside_wall`]); None: the mask's own edge.
    boundary: Option<std::sync::Arc<Boundary>>,
}

/// A 0.035-inch guidewire's diameter (mm): by default no path passes a narrower lumen.
pub const GUIDEWIRE_MM: f64 = 0.889;

/// Why there is no path.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum PathError {
    #[error("the vessel is empty: nothing to plan a path through")]
    EmptyLumen,
    #[error(
        "the {which} point is {distance_mm:.1} mm from the vessel, whose nearest point is at \
         ({:.1}, {:.1}, {:.1}) (LPS mm); at most {tolerance_mm:.1} mm is taken as a click on its \
         wall: place it inside the vessel",
        .nearest_lps_mm[0],
        .nearest_lps_mm[1],
        .nearest_lps_mm[2]
    )]
    OutsideLumen {
        which: String,
        distance_mm: f64,
        nearest_lps_mm: P,
        tolerance_mm: f64,
    },
    #[error(
        "the {which} point cannot be reached inside the vessel: the nearest reachable point is \
         at ({:.1}, {:.1}, {:.1}) (LPS mm), {gap_mm:.1} mm short of it; the lumen is interrupted \
         there (a stenosis closed at this threshold, or another vessel)",
        .nearest_lps_mm[0],
        .nearest_lps_mm[1],
        .nearest_lps_mm[2]
    )]
    Unreachable {
        which: String,
        nearest_lps_mm: P,
        gap_mm: f64,
    },
    #[error(
        "the {which} cannot be reached: the widest way there narrows to {diameter_mm:.2} mm at \
         ({:.1}, {:.1}, {:.1}) (LPS mm), {from_start_mm:.0} mm from the {start}, below the \
         {floor_mm:.2} mm floor no path passes (by default 0.89 mm, a 0.035-inch guidewire)",
        .at_lps_mm[0],
        .at_lps_mm[1],
        .at_lps_mm[2]
    )]
    TooNarrow {
        which: String,
        start: String,
        at_lps_mm: P,
        diameter_mm: f64,
        floor_mm: f64,
        from_start_mm: f64,
    },
    #[error(
        "the {which} point lies where the lumen is {diameter_mm:.2} mm across, narrower than \
         the {floor_mm:.2} mm floor: no device reaches it"
    )]
    StopTooNarrow {
        which: String,
        diameter_mm: f64,
        floor_mm: f64,
    },
    #[error(
        "the {which} lies in another structure ({other_mm:.1} mm across at its widest) that \
         touches the {start}'s vessel ({this_mm:.1} mm) only through a neck {neck_mm:.1} mm \
         across at ({:.1}, {:.1}, {:.1}) (LPS mm): two structures touching, not a passage \
         (another vessel, a heart chamber, a false lumen)",
        .at_lps_mm[0],
        .at_lps_mm[1],
        .at_lps_mm[2]
    )]
    Contact {
        which: String,
        start: String,
        at_lps_mm: P,
        neck_mm: f64,
        this_mm: f64,
        other_mm: f64,
    },
    #[error("the {which} point lies in the no-go region \"{name}\"")]
    InNoGo { which: String, name: String },
    #[error("the {which} cannot be reached without crossing the no-go region \"{name}\"")]
    ThroughNoGo { which: String, name: String },
    #[error("the vessel's bounding box holds {voxels} voxels, more than a path search can index")]
    TooLarge { voxels: usize },
    #[error("the path has no stop {0} to move")]
    NoSuchStop(usize),
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
        Lumen::with_bounds(mask, (lo, hi), progress)
    }

    /// The lumen of `mask` whose non-zero voxels all lie within `bounds` (first and last
    /// `[i, j, k]`, inclusive), e.g. as region growing found them: the volume's mask is
    /// not scanned again.
    pub fn with_bounds(
        mask: &Mask,
        bounds: ([usize; 3], [usize; 3]),
        progress: &Progress,
    ) -> Result<Lumen, PathError> {
        Lumen::with_bounds_floor(mask, bounds, 0.0, progress)
    }

    /// [`Lumen::with_bounds`] with the floor ([`Lumen::set_floor`]) set at once.
    pub fn with_bounds_floor(
        mask: &Mask,
        (lo, hi): ([usize; 3], [usize; 3]),
        floor_mm: f64,
        progress: &Progress,
    ) -> Result<Lumen, PathError> {
        let (nk, nj, ni) = mask.data.dim();
        if (0..3).any(|a| lo[a] > hi[a] || hi[a] >= [ni, nj, nk][a]) {
            return Err(PathError::EmptyLumen);
        }
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
        let mut lumen = Lumen {
            geometry: mask.geometry.clone(),
            offset: lo,
            inside,
            distance,
            deepest_mm: 1.0,
            slot: Vec::new(),
            cells: Vec::new(),
            rates: Vec::new(),
            floor_mm: 0.0,
            boundary: None,
        };
        lumen.set_floor(floor_mm);
        Ok(lumen)
    }

    /// Sets the narrowest inscribed diameter (mm) a path may pass (0: any lumen voxel) and
    /// renumbers the voxels the searches may enter.
    pub fn set_floor(&mut self, floor_mm: f64) {
        self.floor_mm = floor_mm.max(0.0);
        let s = self.distance.spacing_mm;
        let least = s[0].min(s[1]).min(s[2]);
        // 2·d − least ≥ floor, with d the distance between voxel centres.
        let min_d2 = ((self.floor_mm + least) / 2.0).powi(2);
        let (bk, bj, bi) = self.inside.dim();
        let (pi, pj) = (bi + 2, bj + 2);
        let mut slot = vec![u32::MAX; pi * pj * (bk + 2)];
        let mut cells = Vec::new();
        let mut rates = Vec::new();
        let mut deepest2 = 0.0f64;
        let least_d2 = if self.floor_mm == 0.0 {
            0.0
        } else {
            min_d2 - 1e-9
        };
        let Some(squared) = self.distance.squared_mm2.as_slice() else {
            return;
        };
        for (k, plane) in squared.chunks_exact(bi * bj).enumerate() {
            for (j, row) in plane.chunks_exact(bi).enumerate() {
                let row_start = ((k + 1) * pj + (j + 1)) * pi + 1;
                for (i, &d2) in row.iter().enumerate() {
                    if d2 > 0.0 && d2 >= least_d2 {
                        let p = row_start + i;
                        slot[p] = cells.len() as u32;
                        cells.push(p as u32);
                        rates.push(1.0 / d2);
                        deepest2 = deepest2.max(d2);
                    }
                }
            }
        }
        self.deepest_mm = if deepest2 > 0.0 { deepest2.sqrt() } else { 1.0 };
        self.slot = slot;
        self.cells = cells;
        self.rates = rates;
    }

    /// The floor set by [`Lumen::set_floor`] (mm).
    pub fn floor_mm(&self) -> f64 {
        self.floor_mm
    }

    /// The inscribed diameter (mm) at lumen voxel `v`'s centre, as the path's figures
    /// measure it: twice the wall distance less the smallest voxel side; 0 outside.
    pub fn diameter_at(&self, v: [usize; 3]) -> f64 {
        let s = self.distance.spacing_mm;
        let d = self.wall_distance(v);
        if d > 0.0 {
            2.0 * d - s[0].min(s[1]).min(s[2])
        } else {
            0.0
        }
    }

    /// Whether a path may enter voxel `v` (in the lumen, and at least the floor across).
    pub fn passable(&self, v: [usize; 3]) -> bool {
        self.number(v).is_some()
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
        let search = self.search(from, Some(to), progress)?;
        let (Some(goal), Some(start)) = (self.number(to), self.number(from)) else {
            return Err(PathError::EmptyLumen);
        };
        if search.cost[goal].is_finite() && search.done[goal] {
            let voxels = self.trace(&search.came, start, goal);
            return Ok(VoxelPath {
                voxels,
                settled: search.settled,
            });
        }
        let (gap_mm, nearest) = search.nearest;
        Err(PathError::Unreachable {
            which: which.to_string(),
            nearest_lps_mm: self.position(nearest),
            gap_mm,
        })
    }

    /// What `voxels` cost as a path (the searches' measure: each step's length times the
    /// mean of 1/d² at its ends); infinite when a voxel is outside the lumen.
    pub fn path_cost(&self, voxels: &[[usize; 3]]) -> f64 {
        voxels
            .windows(2)
            .map(|w| match (self.number(w[0]), self.number(w[1])) {
                (Some(a), Some(b)) => {
                    distance(&self.position(w[0]), &self.position(w[1]))
                        * 0.5
                        * (self.rates[a] + self.rates[b])
                }
                _ => f64::INFINITY,
            })
            .sum()
    }

    /// The cheapest paths from `from` to every lumen voxel it reaches (Dijkstra over the
    /// whole lumen). Kept while a waypoint is dragged, a tree rooted at each fixed stop
    /// gives the legs to and from the moving one by tracing back, without searching.
    pub fn tree(&self, from: [usize; 3], progress: &Progress) -> Result<Tree, PathError> {
        let search = self.search(from, None, progress)?;
        let root = self.number(from).ok_or(PathError::EmptyLumen)?;
        Ok(Tree {
            root,
            cost: search.cost,
            came: search.came,
            settled: search.settled,
        })
    }

    /// The cheapest path from a tree's root to `to` (snapped like any stop), traced back.
    pub fn path_in_tree(&self, tree: &Tree, to: P, which: &str) -> Result<VoxelPath, PathError> {
        let v = self.snap(to, which)?;
        let n = self.number(v).ok_or(PathError::EmptyLumen)?;
        if !tree.cost[n].is_finite() {
            // The nearest voxel the root reaches.
            let target = self.position(v);
            let (gap_mm, nearest) = (0..self.cells.len())
                .filter(|&m| tree.cost[m].is_finite())
                .map(|m| {
                    let q = self.position(self.cell_voxel(m));
                    (distance(&q, &target), q)
                })
                .fold(
                    (f64::INFINITY, target),
                    |b, x| if x.0 < b.0 { x } else { b },
                );
            return Err(PathError::Unreachable {
                which: which.to_string(),
                nearest_lps_mm: nearest,
                gap_mm,
            });
        }
        Ok(VoxelPath {
            voxels: self.trace(&tree.came, tree.root, n),
            settled: 0,
        })
    }

    /// The number of lumen voxel `v` (full-volume `[i, j, k]`), None outside the lumen.
    fn number(&self, v: [usize; 3]) -> Option<usize> {
        let l = self.local(v)?;
        let d = self.dims();
        let (pi, pj) = (d[0] + 2, d[1] + 2);
        let n = self.slot[((l[2] + 1) * pj + (l[1] + 1)) * pi + (l[0] + 1)];
        (n != u32::MAX).then_some(n as usize)
    }

    /// Lumen voxel number `n` as a full-volume `[i, j, k]`.
    fn cell_voxel(&self, n: usize) -> [usize; 3] {
        let d = self.dims();
        let (pi, pj) = (d[0] + 2, d[1] + 2);
        let p = self.cells[n] as usize;
        self.global([p % pi - 1, (p / pi) % pj - 1, p / (pi * pj) - 1])
    }

    /// The voxels from `start` to `end` along the `came` links (both lumen numbers).
    fn trace(&self, came: &[u32], start: usize, end: usize) -> Vec<[usize; 3]> {
        let mut voxels = vec![self.cell_voxel(end)];
        let mut at = end;
        while at != start && came[at] != u32::MAX {
            at = came[at] as usize;
            voxels.push(self.cell_voxel(at));
        }
        voxels.reverse();
        voxels
    }

    /// Dijkstra from `from`, as A* toward `goal` (stopping there) when there is one. Only
    /// lumen voxels are entered; each step costs its length times the mean of 1/d² at its
    /// ends.
    fn search(
        &self,
        from: [usize; 3],
        goal: Option<[usize; 3]>,
        progress: &Progress,
    ) -> Result<Search, PathError> {
        let d = self.dims();
        let (Some(start), Some(start_n)) = (self.local(from), self.number(from)) else {
            return Err(PathError::EmptyLumen);
        };
        let goal = match goal {
            Some(g) => Some((
                self.local(g).ok_or(PathError::EmptyLumen)?,
                self.number(g).ok_or(PathError::EmptyLumen)?,
            )),
            None => None,
        };
        // Indices into the padded grid (see `slot`).
        let (pi, pj) = (d[0] + 2, d[1] + 2);
        let voxel = |n: usize| [n % pi - 1, (n / pi) % pj - 1, n / (pi * pj) - 1];
        let s = self.distance.spacing_mm;
        // The cheapest a millimetre can be: at the deepest point of the lumen.
        let min_rate = 1.0 / (self.deepest_mm * self.deepest_mm);
        let mm = |a: [usize; 3], b: [usize; 3]| {
            let e = [0, 1, 2].map(|x| (a[x] as f64 - b[x] as f64) * s[x]);
            (e[0] * e[0] + e[1] * e[1] + e[2] * e[2]).sqrt()
        };
        let heuristic = |v: [usize; 3]| goal.map_or(0.0, |(g, _)| mm(v, g) * min_rate);
        let count = self.cells.len();
        let mut cost = vec![f64::INFINITY; count];
        let mut came = vec![u32::MAX; count];
        let mut done = vec![false; count];
        let mut open = Open::new(count);
        cost[start_n] = 0.0;
        open.set(start_n, heuristic(start));
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
        while let Some(n) = open.pop() {
            done[n] = true;
            settled += 1;
            if settled.is_multiple_of(65_536) && progress.is_cancelled() {
                return Err(PathError::Cancelled);
            }
            let here_index = self.cells[n] as usize;
            let v = voxel(here_index);
            if let Some((g, goal_n)) = goal {
                if n == goal_n {
                    break;
                }
                let gap = mm(v, g);
                if gap < nearest.0 {
                    nearest = (gap, v);
                }
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
                    open.set(m, c + heuristic(w));
                }
            }
        }
        Ok(Search {
            cost,
            came,
            done,
            settled,
            nearest: (nearest.0, self.global(nearest.1)),
        })
    }

    fn global(&self, l: [usize; 3]) -> [usize; 3] {
        [0, 1, 2].map(|a| l[a] + self.offset[a])
    }
}

/// A search's state: the cost to each lumen voxel (by number), the link back toward the
/// start, which voxels were settled, and the settled voxel nearest the goal (mm, voxel).
struct Search {
    cost: Vec<f64>,
    came: Vec<u32>,
    done: Vec<bool>,
    settled: usize,
    nearest: (f64, [usize; 3]),
}

/// The cheapest paths from one lumen voxel (the root) to all others it reaches.
#[derive(Debug, Clone)]
pub struct Tree {
    root: usize,
    cost: Vec<f64>,
    came: Vec<u32>,
    /// Voxels settled while growing it.
    pub settled: usize,
}

fn distance(a: &P, b: &P) -> f64 {
    ((a[0] - b[0]).powi(2) + (a[1] - b[1]).powi(2) + (a[2] - b[2]).powi(2)).sqrt()
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

/// The open set: a 4-ary min-heap of lumen voxel numbers keyed by estimated total cost,
/// each voxel at most once (a cheaper route found later lowers its key in place, so the
/// heap holds the frontier, not every route ever found to it). Ties go to the lower
/// number, so a search is deterministic.
struct Open {
    heap: Vec<(f64, u32)>,
    /// Where each voxel is in `heap` (u32::MAX: not in it).
    at: Vec<u32>,
}

impl Open {
    fn new(count: usize) -> Open {
        Open {
            heap: Vec::new(),
            at: vec![u32::MAX; count],
        }
    }

    fn less(a: (f64, u32), b: (f64, u32)) -> bool {
        a.0 < b.0 || (a.0 == b.0 && a.1 < b.1)
    }

    /// Puts voxel `n` in with key `f`, or lowers its key to `f`.
    fn set(&mut self, n: usize, f: f64) {
        let i = match self.at[n] {
            u32::MAX => {
                self.heap.push((f, n as u32));
                self.heap.len() - 1
            }
            i => {
                let i = i as usize;
                if f >= self.heap[i].0 {
                    return;
                }
                self.heap[i].0 = f;
                i
            }
        };
        self.up(i);
    }

    fn pop(&mut self) -> Option<usize> {
        let top = *self.heap.first()?;
        let last = self.heap.pop()?;
        self.at[top.1 as usize] = u32::MAX;
        if !self.heap.is_empty() {
            self.heap[0] = last;
            self.down(0);
        }
        Some(top.1 as usize)
    }

    fn up(&mut self, mut i: usize) {
        let item = self.heap[i];
        while i > 0 {
            let parent = (i - 1) / 4;
            if !Open::less(item, self.heap[parent]) {
                break;
            }
            self.put(i, self.heap[parent]);
            i = parent;
        }
        self.put(i, item);
    }

    /// Puts `item` at heap position `i`, noting where it is.
    fn put(&mut self, i: usize, item: (f64, u32)) {
        self.heap[i] = item;
        self.at[item.1 as usize] = i as u32;
    }

    fn down(&mut self, mut i: usize) {
        let item = self.heap[i];
        let n = self.heap.len();
        loop {
            let first = 4 * i + 1;
            if first >= n {
                break;
            }
            let mut best = first;
            for c in first + 1..(first + 4).min(n) {
                if Open::less(self.heap[c], self.heap[best]) {
                    best = c;
                }
            }
            if !Open::less(self.heap[best], item) {
                break;
            }
            self.put(i, self.heap[best]);
            i = best;
        }
        self.put(i, item);
    }
}

#[cfg(test)]
pub(crate) mod tests;
