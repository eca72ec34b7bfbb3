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
pub mod grow;
pub mod metrics;
pub mod reformat;
pub mod search;
pub mod section;
pub mod tube;

pub use devices::{Catalogue, Device, Fit, fit};
pub use drag::Replan;
pub use grow::{Contact, Grown, Levels, LumenSpec};
pub use metrics::{Bend, PathReport, measure};
pub use search::{GUIDEWIRE_MM, Lumen, Passage, PathError, SNAP_TOLERANCE_MM, Tree, VoxelPath};

use std::time::Instant;

use nalgebra::Point3;
use ndarray::Array3;

use crate::geometry::P;
use crate::progress::Progress;
use crate::segment::SegmentError;
use crate::segment::edit::MaskEdit;
use crate::volume::Volume;

/// What a path must respect beyond the lumen itself.
#[derive(Debug, Clone)]
pub struct Constraints {
    /// The narrowest inscribed diameter a path passes (mm): by default a 0.035-inch
    /// guidewire's.
    pub min_diameter_mm: f64,
    /// Regions no path enters (a false lumen, a thrombus, a stent-graft to avoid).
    pub no_go: Vec<NoGo>,
    /// The vessel structure's hand edits, applied to the grown lumen (no-go regions stay
    /// out of it whatever is painted).
    pub edits: Vec<MaskEdit>,
}

impl Default for Constraints {
    fn default() -> Constraints {
        Constraints {
            min_diameter_mm: GUIDEWIRE_MM,
            no_go: Vec::new(),
            edits: Vec::new(),
        }
    }
}

/// A region no path enters, on the volume's grid (`[k, j, i]`, non-zero inside).
#[derive(Debug, Clone)]
pub struct NoGo {
    pub name: String,
    pub voxels: Array3<u8>,
}

impl Constraints {
    /// The no-go regions together (None when there are none).
    fn no_go_union(&self) -> Option<Array3<u8>> {
        let mut regions = self.no_go.iter();
        let mut all = regions.next()?.voxels.clone();
        for r in regions {
            if r.voxels.dim() == all.dim() {
                all.zip_mut_with(&r.voxels, |a, b| *a |= *b);
            }
        }
        Some(all)
    }

    /// The no-go region holding patient point `p` on `volume`'s grid, if any.
    fn no_go_at(&self, volume: &Volume, p: &P) -> Option<&str> {
        let ijk = volume.geometry.ijk_from_patient(&Point3::from(*p));
        let v = ijk.map(|x| x.round());
        if v.iter().any(|x| !x.is_finite() || *x < 0.0) {
            return None;
        }
        let v = v.map(|x| x as usize);
        self.no_go
            .iter()
            .find(|r| r.voxels.get((v[2], v[1], v[0])).is_some_and(|&x| x != 0))
            .map(|r| r.name.as_str())
    }
}

/// A path planned from a volume, with its lumen and each stage's time.
#[derive(Debug, Clone)]
pub struct Planned {
    pub report: PathReport,
    /// The lumen it was planned in (for its cross-sections).
    pub lumen: Lumen,
    /// How that lumen was grown: its levels, volume and the contacts it was cut at.
    pub grown: Grown,
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

/// The whole planning of one path, as the CLI and the workstation run it: the lumen grown
/// from the stops and `seeds` ([`grow`]), its distance transform, the centred path through
/// `stops` in order within `constraints`, and its measures. A stop that cannot be reached
/// is refused with the reason: the contact, the passage too narrow, or the no-go region in
/// the way. Cancellable through `progress`.
pub fn plan(
    volume: &Volume,
    stops: &[(P, String)],
    spec: LumenSpec,
    seeds: &[P],
    constraints: &Constraints,
    progress: &Progress,
) -> Result<Planned, PlanningError> {
    for (p, which) in stops {
        if let Some(name) = constraints.no_go_at(volume, p) {
            return Err(PathError::InNoGo {
                which: which.clone(),
                name: name.to_string(),
            }
            .into());
        }
    }
    let (lumen, grown, lumen_s, distance_s) =
        lumen_for(volume, spec, stops, seeds, constraints, progress)?;
    // The levels it was grown with, for growing it again without the no-go regions.
    let spec = LumenSpec::Levels(grown.levels);
    let seeds = seeds_of(stops, seeds);
    let t = Instant::now();
    let voxels = match lumen.path(stops, progress) {
        Ok(v) => v,
        Err(e) => {
            return Err(explain(
                volume,
                stops,
                spec,
                &seeds,
                constraints,
                &lumen,
                &grown,
                e,
                progress,
            )
            .into());
        }
    };
    let search_s = t.elapsed().as_secs_f64();
    let t = Instant::now();
    let report = measure(&lumen, &voxels);
    let lumen_voxels = lumen.voxel_count();
    Ok(Planned {
        report,
        lumen,
        grown,
        lumen_voxels,
        settled: voxels.settled,
        lumen_s,
        distance_s,
        search_s,
        measure_s: t.elapsed().as_secs_f64(),
    })
}

/// The lumen a path through `stops` is planned in, as [`plan`] grows it (the viewer grows
/// it again with this for a path read from a file): its levels ([`levels_of`]), grown from
/// the stops and `seeds` within `constraints`, with the two stages' times (s).
pub fn lumen_for(
    volume: &Volume,
    spec: LumenSpec,
    stops: &[(P, String)],
    seeds: &[P],
    constraints: &Constraints,
    progress: &Progress,
) -> Result<(Lumen, Grown, f64, f64), PlanningError> {
    let spec = levels_of(volume, spec, stops, seeds)?;
    let no_go = constraints.no_go_union();
    grow_lumen(
        volume,
        spec,
        &seeds_of(stops, seeds),
        no_go.as_ref(),
        &constraints.edits,
        constraints.min_diameter_mm,
        progress,
    )
}

/// The lumen's levels for a path: measured around its entry and the extra seeds (not its
/// waypoints and target: a target often lies in a small branch whose surroundings say
/// little about the vessel, and a waypoint dragged off the vessel onto tissue must not
/// change what the vessel is) when `spec` asks for them to be measured; `spec` otherwise.
pub fn levels_of(
    volume: &Volume,
    spec: LumenSpec,
    stops: &[(P, String)],
    seeds: &[P],
) -> Result<LumenSpec, SegmentError> {
    if spec != LumenSpec::Auto {
        return Ok(spec);
    }
    let around: Vec<Point3<f64>> = stops
        .iter()
        .take(1)
        .map(|(p, _)| *p)
        .chain(seeds.iter().copied())
        .map(Point3::from)
        .collect();
    Ok(LumenSpec::Levels(Levels::measure(volume, &around)?))
}

/// The points the lumen is grown from: every stop, then the extra seeds.
pub fn seeds_of(stops: &[(P, String)], seeds: &[P]) -> Vec<Point3<f64>> {
    stops
        .iter()
        .map(|(p, _)| *p)
        .chain(seeds.iter().copied())
        .map(Point3::from)
        .collect()
}

/// Why a stop the search could not reach is unreachable: its structure only touches the
/// previous stop's (a contact), the only way passes below the floor, or it crosses a
/// no-go region; otherwise the search's own answer.
#[allow(clippy::too_many_arguments)]
fn explain(
    volume: &Volume,
    stops: &[(P, String)],
    spec: LumenSpec,
    seeds: &[Point3<f64>],
    constraints: &Constraints,
    lumen: &Lumen,
    grown: &Grown,
    error: PathError,
    progress: &Progress,
) -> PathError {
    let PathError::Unreachable { which, .. } = &error else {
        return error;
    };
    let Some(k) = stops
        .iter()
        .position(|(_, w)| w == which)
        .filter(|k| *k > 0)
    else {
        return error;
    };
    let start = stops[k - 1].1.clone();
    if let Some(c) = grown.contact_between(k - 1, k) {
        let first = grown.structure_of_seed.get(k - 1).copied();
        let (this_mm, other_mm) = if c.seeds[0] == first {
            (c.sides_mm[0], c.sides_mm[1])
        } else {
            (c.sides_mm[1], c.sides_mm[0])
        };
        return PathError::Contact {
            which: which.clone(),
            start,
            at_lps_mm: c.at_lps_mm,
            neck_mm: c.neck_mm,
            this_mm,
            other_mm,
        };
    }
    let snapped = |lumen: &Lumen, i: usize| {
        lumen
            .geometry
            .ijk_from_patient(&Point3::from(stops[i].0))
            .map(|x| x.round().max(0.0) as usize)
    };
    let (a, b) = (snapped(lumen, k - 1), snapped(lumen, k));
    if lumen.floor_mm() > 0.0
        && let Some(p) = lumen.narrowest_passage(a, b)
        && p.diameter_mm < lumen.floor_mm()
    {
        return PathError::TooNarrow {
            which: which.clone(),
            start,
            at_lps_mm: p.at_lps_mm,
            diameter_mm: p.diameter_mm,
            floor_mm: lumen.floor_mm(),
            from_start_mm: p.from_start_mm,
        };
    }
    if !constraints.no_go.is_empty()
        && let Ok((free, ..)) = grow_lumen(
            volume,
            spec,
            seeds,
            None,
            &constraints.edits,
            lumen.floor_mm(),
            progress,
        )
        && let Ok(route) = free.path(&stops[k - 1..=k], progress)
        && let Some(region) = constraints.no_go.iter().find(|r| {
            route
                .voxels
                .iter()
                .any(|v| r.voxels.get((v[2], v[1], v[0])).is_some_and(|&x| x != 0))
        })
    {
        return PathError::ThroughNoGo {
            which: which.clone(),
            name: region.name.clone(),
        };
    }
    error
}

/// The lumen grown from `seeds` ([`grow`]) and hand-edited by `edits`, its distance
/// transform and the floor set, with the two stages' times (s).
pub fn grow_lumen(
    volume: &Volume,
    spec: LumenSpec,
    seeds: &[Point3<f64>],
    no_go: Option<&Array3<u8>>,
    edits: &[MaskEdit],
    min_diameter_mm: f64,
    progress: &Progress,
) -> Result<(Lumen, Grown, f64, f64), PlanningError> {
    let t = Instant::now();
    let mut grown = grow::grow(volume, seeds, spec, no_go, progress)?;
    grown.edit(volume, edits, no_go, progress)?;
    let lumen_s = t.elapsed().as_secs_f64();
    let t = Instant::now();
    let mut lumen = Lumen::with_bounds_floor(&grown.mask, grown.bounds, min_diameter_mm, progress)?;
    let l = &grown.levels;
    lumen.set_boundary(volume, 0.5 * (l.rim_hu + l.core_hu));
    Ok((lumen, grown, lumen_s, t.elapsed().as_secs_f64()))
}

#[cfg(test)]
mod tests;
