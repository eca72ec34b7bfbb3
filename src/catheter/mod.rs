//! Catheter path planning through the patient's vessels, the core of it (Bevy-free): a
//! vessel's lumen and its exact distance to the wall ([`edt`]); the centred path between
//! an entry, waypoints and a target that never leaves the lumen ([`search`]), re-planned
//! live while a stop is dragged ([`drag`]): a target it cannot reach is reported with the
//! nearest reachable point and the gap, never joined by a straight line; its measures
//! along the way ([`metrics`], [`section`]) and whether a device fits ([`devices`]); the
//! tube that shows it ([`tube`]), the reformats along it ([`reformat`]) and the view from
//! inside ([`flythrough`]). Works on segmentation masks in the volume's voxel grid and
//! answers in patient LPS mm; knows nothing of windows, files or patient identity.

pub mod devices;
pub mod drag;
pub mod edt;
pub mod flythrough;
pub mod metrics;
pub mod reformat;
pub mod search;
pub mod section;
pub mod tube;

pub use devices::{Catalogue, Device, Fit, fit};
pub use drag::Replan;
pub use metrics::{Bend, PathReport, measure};
pub use search::{Lumen, PathError, SNAP_TOLERANCE_MM, Tree, VoxelPath};

use std::time::Instant;

use nalgebra::Point3;

use crate::geometry::P;
use crate::progress::Progress;
use crate::segment::{SegmentError, ValueRange, region_grow_bounded};
use crate::volume::Volume;

/// A path planned from a volume, with its lumen and each stage's time.
#[derive(Debug, Clone)]
pub struct Planned {
    pub report: PathReport,
    /// The lumen it was planned in (for its cross-sections).
    pub lumen: Lumen,
    pub lumen_voxels: usize,
    /// Voxels the search settled (how much of the lumen it had to look at).
    pub settled: usize,
    pub lumen_s: f64,
    pub distance_s: f64,
    pub search_s: f64,
    pub measure_s: f64,
}

/// Why a path could not be planned.
#[derive(Debug, thiserror::Error)]
pub enum PlanningError {
    #[error(transparent)]
    Lumen(#[from] SegmentError),
    #[error(transparent)]
    Path(#[from] PathError),
}

/// The whole planning of one path, as the CLI and the workstation run it: the lumen of
/// `range` grown from `seeds` (the first stop when empty), its distance transform, the
/// centred path through `stops` in order, and its measures. Cancellable through `progress`.
pub fn plan(
    volume: &Volume,
    stops: &[(P, String)],
    range: ValueRange,
    seeds: &[P],
    progress: &Progress,
) -> Result<Planned, PlanningError> {
    let seeds: Vec<Point3<f64>> = if seeds.is_empty() {
        stops
            .iter()
            .take(1)
            .map(|(p, _)| Point3::from(*p))
            .collect()
    } else {
        seeds.iter().map(|p| Point3::from(*p)).collect()
    };
    let (lumen, lumen_s, distance_s) = grow_lumen(volume, range, &seeds, progress)?;
    let t = Instant::now();
    let voxels = lumen.path(stops, progress)?;
    let search_s = t.elapsed().as_secs_f64();
    let t = Instant::now();
    let report = measure(&lumen, &voxels);
    let lumen_voxels = lumen.voxel_count();
    Ok(Planned {
        report,
        lumen,
        lumen_voxels,
        settled: voxels.settled,
        lumen_s,
        distance_s,
        search_s,
        measure_s: t.elapsed().as_secs_f64(),
    })
}

/// The lumen of `range` grown from `seeds` and its distance transform, with the two
/// stages' times (s).
pub fn grow_lumen(
    volume: &Volume,
    range: ValueRange,
    seeds: &[Point3<f64>],
    progress: &Progress,
) -> Result<(Lumen, f64, f64), PlanningError> {
    let t = Instant::now();
    let (mask, bounds) = region_grow_bounded(volume, seeds, range, progress)?;
    let lumen_s = t.elapsed().as_secs_f64();
    let t = Instant::now();
    let lumen = Lumen::with_bounds(&mask, bounds, progress)?;
    Ok((lumen, lumen_s, t.elapsed().as_secs_f64()))
}
