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
use ndarray::Array3;

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
        let (nk, nj, ni) = mask.data.dim();
        let mut lo = [usize::MAX; 3];
        let mut hi = [0usize; 3];
        for ((k, j, i), &v) in mask.data.indexed_iter() {
            if v != 0 {
                for (a, x) in [i, j, k].into_iter().enumerate() {
                    lo[a] = lo[a].min(x);
                    hi[a] = hi[a].max(x);
                }
            }
        }
        if lo[0] == usize::MAX {
            return Err(PathError::EmptyLumen);
        }
        let n = [ni, nj, nk];
        let lo = lo.map(|x| x.saturating_sub(1));
        let hi = [0, 1, 2].map(|a| (hi[a] + 1).min(n[a] - 1));
        let inside = mask
            .data
            .slice(ndarray::s![lo[2]..=hi[2], lo[1]..=hi[1], lo[0]..=hi[0]])
            .to_owned();
        // Node indices of the search are u32.
        if inside.len() >= u32::MAX as usize {
            return Err(PathError::TooLarge {
                voxels: inside.len(),
            });
        }
        let distance = distance_transform(&inside, mask.geometry.spacing_mm, progress)
            .ok_or(PathError::Cancelled)?;
        let deepest_mm = distance.max().map_or(1.0, |(m, _)| m);
        Ok(Lumen {
            geometry: mask.geometry.clone(),
            offset: lo,
            inside,
            distance,
            deepest_mm,
        })
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
        let index = |v: [usize; 3]| (v[2] * d[1] + v[1]) * d[0] + v[0];
        let voxel = |n: usize| [n % d[0], (n / d[0]) % d[1], n / (d[0] * d[1])];
        let s = self.distance.spacing_mm;
        // The cheapest a millimetre can be: at the deepest point of the lumen.
        let min_rate = 1.0 / (self.deepest_mm * self.deepest_mm);
        let mm = |a: [usize; 3], b: [usize; 3]| {
            let e = [0, 1, 2].map(|x| (a[x] as f64 - b[x] as f64) * s[x]);
            (e[0] * e[0] + e[1] * e[1] + e[2] * e[2]).sqrt()
        };
        let heuristic = |v: [usize; 3]| mm(v, goal) * min_rate;
        let rate = |v: [usize; 3]| {
            let r = self.distance.at(v);
            1.0 / (r * r)
        };
        let total = d[0] * d[1] * d[2];
        let mut cost = vec![f64::INFINITY; total];
        let mut came = vec![u32::MAX; total];
        let mut done = vec![false; total];
        let mut open = BinaryHeap::new();
        cost[index(start)] = 0.0;
        open.push(Node {
            f: heuristic(start),
            n: index(start),
        });
        let mut settled = 0usize;
        // The settled voxel nearest the goal, for the message when it is not reached.
        let mut nearest = (f64::INFINITY, start);
        let steps: Vec<[i64; 3]> = (-1..=1)
            .flat_map(|k| (-1..=1).flat_map(move |j| (-1..=1).map(move |i| [i, j, k])))
            .filter(|o| *o != [0, 0, 0])
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
            let v = voxel(n);
            if n == index(goal) {
                let mut voxels = vec![self.global(v)];
                let mut at = n;
                while came[at] != u32::MAX {
                    at = came[at] as usize;
                    voxels.push(self.global(voxel(at)));
                }
                voxels.reverse();
                return Ok(VoxelPath { voxels, settled });
            }
            let gap = mm(v, goal);
            if gap < nearest.0 {
                nearest = (gap, v);
            }
            let here = rate(v);
            for o in &steps {
                let w = [0, 1, 2].map(|a| v[a] as i64 + o[a]);
                if (0..3).any(|a| w[a] < 0 || w[a] >= d[a] as i64) {
                    continue;
                }
                let w = w.map(|x| x as usize);
                if self.inside[(w[2], w[1], w[0])] == 0 {
                    continue;
                }
                let m = index(w);
                if done[m] {
                    continue;
                }
                let c = cost[n] + mm(v, w) * 0.5 * (here + rate(w));
                if c < cost[m] {
                    cost[m] = c;
                    came[m] = n as u32;
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
