//! Re-planning a path live while one of its stops (entry, waypoint or target) is dragged.
//! When the drag begins, a [`Tree`] is grown from each fixed stop beside the moving one
//! (Dijkstra over the whole lumen, once) and the legs that do not touch it are searched
//! once; every move then only traces the two legs to and from the new point back through
//! those trees and joins the pieces, so the path follows the pointer without searching
//! again. The result is the same cheapest path a fresh search through the moved stop
//! finds (tested). Works on a [`Lumen`]; knows nothing of windows, threads or the plan.

use super::search::{Lumen, PathError, Tree, VoxelPath};
use crate::geometry::P;
use crate::progress::Progress;

/// The fixed parts of a path while stop `moving` is dragged.
#[derive(Debug, Clone)]
pub struct Replan {
    moving: usize,
    /// The stop's name, for the messages ("waypoint 1", "target").
    which: String,
    /// The path from the entry to the stop before the moving one (empty when the entry
    /// moves).
    before: Vec<[usize; 3]>,
    /// The path from the stop after the moving one to the target (empty when the target
    /// moves).
    after: Vec<[usize; 3]>,
    /// Trees rooted at the stops before and after the moving one.
    into: Option<Tree>,
    out_of: Option<Tree>,
}

impl Replan {
    /// Gets ready to drag stop `moving` of `stops` (entry, waypoints, target, in order):
    /// the fixed legs searched, the trees from the neighbouring stops grown (in parallel).
    /// Fails as a search would when a fixed stop is outside the lumen or a fixed leg
    /// cannot be reached.
    pub fn new(
        lumen: &Lumen,
        stops: &[(P, String)],
        moving: usize,
        progress: &Progress,
    ) -> Result<Replan, PathError> {
        let (which, prev, next) = match stops.get(moving) {
            Some((_, which)) => (
                which.clone(),
                moving.checked_sub(1).map(|i| &stops[i]),
                stops.get(moving + 1),
            ),
            None => return Err(PathError::NoSuchStop(moving)),
        };
        let fixed = |part: &[(P, String)]| -> Result<Vec<[usize; 3]>, PathError> {
            if part.is_empty() {
                return Ok(Vec::new());
            }
            Ok(lumen.path(part, progress)?.voxels)
        };
        let grow = |stop: Option<&(P, String)>| -> Result<Option<Tree>, PathError> {
            match stop {
                Some((p, name)) => {
                    let root = lumen.snap(*p, name)?;
                    Ok(Some(lumen.tree(root, progress)?))
                }
                None => Ok(None),
            }
        };
        let ((before, after), (into, out_of)) = rayon::join(
            || (fixed(&stops[..moving]), fixed(&stops[moving + 1..])),
            || rayon::join(|| grow(prev), || grow(next)),
        );
        Ok(Replan {
            moving,
            which,
            before: before?,
            after: after?,
            into: into?,
            out_of: out_of?,
        })
    }

    /// Which stop is being dragged (its index among the stops).
    pub fn moving(&self) -> usize {
        self.moving
    }

    /// The whole path with the moving stop at `at`: the fixed legs and the two traced
    /// ones. A point outside the lumen or out of the fixed stops' reach is the same error
    /// a search gives (the nearest reachable point and the gap; never a bridge).
    pub fn path(&self, lumen: &Lumen, at: P) -> Result<VoxelPath, PathError> {
        let mut voxels = self.before.clone();
        let join = |voxels: &mut Vec<[usize; 3]>, part: Vec<[usize; 3]>| {
            let skip = usize::from(voxels.last().is_some() && voxels.last() == part.first());
            voxels.extend(part.into_iter().skip(skip));
        };
        match &self.into {
            Some(tree) => {
                let leg = lumen.path_in_tree(tree, at, &self.which)?;
                join(&mut voxels, leg.voxels);
            }
            None => voxels.push(lumen.snap(at, &self.which)?),
        }
        if let Some(tree) = &self.out_of {
            let mut leg = lumen.path_in_tree(tree, at, &self.which)?.voxels;
            leg.reverse();
            join(&mut voxels, leg);
            join(&mut voxels, self.after.clone());
        }
        Ok(VoxelPath { voxels, settled: 0 })
    }
}

#[cfg(test)]
mod tests {
    use super::super::search::tests::u_tube;
    use super::*;

    fn stops(points: &[P]) -> Vec<(P, String)> {
        points
            .iter()
            .enumerate()
            .map(|(i, p)| {
                let name = match i {
                    0 => "entry".to_string(),
                    i if i + 1 == points.len() => "target".to_string(),
                    i => format!("waypoint {i}"),
                };
                (*p, name)
            })
            .collect()
    }

    /// Each stop of a three-stop path dragged along the tube: every traced path is as
    /// cheap as a fresh search through the moved stop, starts and ends where it does and
    /// stays in the lumen.
    #[test]
    fn a_dragged_stop_gives_the_searched_path_without_searching() {
        let lumen = Lumen::new(&u_tube(5.0, 0), &Progress::new()).expect("lumen");
        let base = [[15.0, 15.0, 20.0], [30.0, 15.0, 74.0], [45.0, 15.0, 20.0]];
        let moves: [&[P]; 3] = [
            &[[15.0, 15.0, 25.0], [16.0, 14.0, 40.0], [14.0, 15.0, 12.0]],
            &[[20.0, 15.0, 70.0], [45.0, 15.0, 50.0], [15.0, 16.0, 30.0]],
            &[[45.0, 15.0, 30.0], [44.0, 13.0, 14.0], [30.0, 15.0, 75.0]],
        ];
        for (moving, tries) in moves.iter().enumerate() {
            let replan =
                Replan::new(&lumen, &stops(&base), moving, &Progress::new()).expect("ready");
            assert_eq!(replan.moving(), moving);
            for at in *tries {
                let mut moved = base;
                moved[moving] = *at;
                let searched = lumen
                    .path(&stops(&moved), &Progress::new())
                    .expect("reachable");
                let traced = replan.path(&lumen, *at).expect("reachable");
                assert_eq!(traced.voxels.first(), searched.voxels.first());
                assert_eq!(traced.voxels.last(), searched.voxels.last());
                let (a, b) = (
                    lumen.path_cost(&traced.voxels),
                    lumen.path_cost(&searched.voxels),
                );
                assert!(
                    (a - b).abs() <= 1e-9 * b,
                    "stop {moving} at {at:?}: traced {a}, searched {b}"
                );
                assert!(traced.voxels.iter().all(|v| lumen.contains(*v)));
                // No voxel twice in a row where the pieces join.
                assert!(traced.voxels.windows(2).all(|w| w[0] != w[1]));
                // It passes the moved stop.
                let snapped = lumen.snap(*at, "stop").expect("inside");
                assert!(traced.voxels.contains(&snapped));
            }
        }
    }

    #[test]
    fn a_stop_dragged_out_of_reach_is_refused_never_bridged() {
        let lumen = Lumen::new(&u_tube(5.0, 0), &Progress::new()).expect("lumen");
        let base = [[15.0, 15.0, 20.0], [45.0, 15.0, 20.0]];
        let replan = Replan::new(&lumen, &stops(&base), 1, &Progress::new()).expect("ready");
        // Into the separate tube beside it.
        match replan.path(&lumen, [63.0, 15.0, 30.0]) {
            Err(PathError::Unreachable { which, gap_mm, .. }) => {
                assert_eq!(which, "target");
                assert!(gap_mm > 5.0, "gap {gap_mm}");
            }
            other => panic!("expected unreachable, got {other:?}"),
        }
        // Off every vessel.
        assert!(matches!(
            replan.path(&lumen, [30.0, 15.0, 20.0]),
            Err(PathError::OutsideLumen { .. })
        ));
        // Back inside, it plans again.
        assert!(replan.path(&lumen, [45.0, 15.0, 40.0]).is_ok());
    }

    #[test]
    fn a_fixed_stop_outside_the_lumen_fails_at_the_start() {
        let lumen = Lumen::new(&u_tube(5.0, 0), &Progress::new()).expect("lumen");
        let base = [[30.0, 15.0, 20.0], [45.0, 15.0, 20.0]];
        assert!(matches!(
            Replan::new(&lumen, &stops(&base), 1, &Progress::new()),
            Err(PathError::OutsideLumen { .. })
        ));
        assert!(matches!(
            Replan::new(&lumen, &stops(&base), 5, &Progress::new()),
            Err(PathError::NoSuchStop(5))
        ));
    }
}
