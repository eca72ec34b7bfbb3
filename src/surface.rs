//! From a volume to one structure's surface: segment, extract, smooth, decimate.
//!
//! The one place that chains `segment` and `mesh` (neither knows the other), used by the
//! `twinplan mesh` command and, later, by the viewer's Structures panel. Every stage is
//! timed so the CLI can report where time goes. No I/O here.

use std::time::Instant;

use nalgebra::Point3;
use ndarray::s;
use serde::Serialize;

use crate::mesh::decimate::decimate;
use crate::mesh::process::{remove_islands, taubin_smooth};
use crate::mesh::{McOptions, TriMesh, marching_cubes};
use crate::progress::Progress;
use crate::segment::{self, Mask, Preset, SegmentError, ValueRange};
use crate::volume::{Geometry, Volume};

/// What to surface.
#[derive(Debug, Clone, PartialEq)]
pub enum Selection {
    /// A named preset (threshold plus its clean-up; grown from the seeds when given).
    Preset(Preset),
    /// A preset's clean-up over another value range.
    PresetIn(Preset, ValueRange),
    /// A value range (HU); grown from the seeds when given.
    Range(ValueRange),
    /// The iso-surface of the volume itself at a value (HU): no segmentation, sub-voxel
    /// accurate; with seeds, the region grown from them above the value instead.
    Iso(f64),
    /// The body outline at an automatic threshold (Otsu's), for modalities without fixed
    /// values (MR): the largest body, cavities closed.
    Outline,
    /// A vessel's lumen grown from the seeds as a catheter path's is
    /// ([`crate::catheter::grow`]: its own contrast, contacts with other structures cut).
    Lumen,
}

/// Options of [`surface`], builder style.
#[derive(Debug, Clone)]
pub struct SurfaceOptions {
    pub selection: Selection,
    pub seeds_mm: Vec<Point3<f64>>,
    /// Taubin iterations (0 = none).
    pub smooth_iterations: usize,
    /// Decimate to about this many triangles (None = keep all).
    pub target_triangles: Option<usize>,
    /// Close surfaces at the volume border (default true).
    pub pad: bool,
    /// Smooth binary masks by this Gaussian σ (mm) before surfacing. Default: seeded
    /// structures use the intensity-guided surface ([`guided_surface`]), others the mask
    /// as it is (then `smooth_iterations` of Taubin, which keeps volume, removes stairs).
    pub mask_sigma_mm: Option<f64>,
    /// Drop surface pieces with fewer triangles than this.
    pub min_island_triangles: usize,
    /// Hand edits applied to the mask before surfacing ([`segment::edit`]).
    pub edits: Vec<segment::edit::MaskEdit>,
}

impl SurfaceOptions {
    pub fn new(selection: Selection) -> SurfaceOptions {
        SurfaceOptions {
            selection,
            seeds_mm: Vec::new(),
            smooth_iterations: 0,
            target_triangles: None,
            pad: true,
            mask_sigma_mm: None,
            min_island_triangles: 0,
            edits: Vec::new(),
        }
    }
    pub fn with_seeds(mut self, seeds: Vec<Point3<f64>>) -> Self {
        self.seeds_mm = seeds;
        self
    }
    pub fn with_smoothing(mut self, iterations: usize) -> Self {
        self.smooth_iterations = iterations;
        self
    }
    pub fn with_target_triangles(mut self, n: Option<usize>) -> Self {
        self.target_triangles = n;
        self
    }
    pub fn with_pad(mut self, pad: bool) -> Self {
        self.pad = pad;
        self
    }
    pub fn with_mask_sigma(mut self, sigma_mm: Option<f64>) -> Self {
        self.mask_sigma_mm = sigma_mm;
        self
    }
}

/// Largest Gaussian σ (mm) for smoothing a mask before surfacing.
pub const MAX_MASK_SIGMA_MM: f64 = 10.0;
/// Smallest σ (mm) that smooths: below it a mask is surfaced as it is.
pub const MIN_MASK_SIGMA_MM: f64 = 0.01;
/// Most Taubin smoothing iterations (hundreds already round a surface off; a count of
/// 4,294,967,296 never ended and 100,000 blew the area up to 3e76 mm²).
pub const MAX_SMOOTH_ITERATIONS: usize = 1000;

/// Seconds spent in each stage.
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize)]
pub struct StageTimes {
    pub segment_s: f64,
    pub surface_s: f64,
    pub smooth_s: f64,
    pub decimate_s: f64,
}

#[derive(Debug, thiserror::Error)]
pub enum SurfaceError {
    #[error(transparent)]
    Segment(#[from] SegmentError),
    #[error("surface extraction was cancelled")]
    Cancelled,
    #[error("{0}")]
    Invalid(String),
}

impl SurfaceOptions {
    /// What is wrong with these options, if anything: values that are not numbers, σ
    /// outside its range, smoothing beyond [`MAX_SMOOTH_ITERATIONS`].
    pub fn check(&self) -> Result<(), String> {
        match &self.selection {
            Selection::Iso(v) if !v.is_finite() => {
                return Err(format!("the iso-value {v} is not a number"));
            }
            Selection::Range(r) if r.lo.is_nan() || r.hi.is_nan() || r.lo > r.hi => {
                return Err(format!(
                    "the range {}:{} is not a range of numbers",
                    r.lo, r.hi
                ));
            }
            _ => {}
        }
        if let Some(s) = self.mask_sigma_mm
            && !(s == 0.0 || (MIN_MASK_SIGMA_MM..=MAX_MASK_SIGMA_MM).contains(&s))
        {
            return Err(format!(
                "σ {s} mm is neither 0 nor within {MIN_MASK_SIGMA_MM}–{MAX_MASK_SIGMA_MM} mm"
            ));
        }
        if self.smooth_iterations > MAX_SMOOTH_ITERATIONS {
            return Err(format!(
                "{} smoothing iterations, more than {MAX_SMOOTH_ITERATIONS}",
                self.smooth_iterations
            ));
        }
        if let Some(p) = self
            .seeds_mm
            .iter()
            .find(|p| !p.iter().all(|c| c.is_finite()))
        {
            return Err(format!("a seed ({}, {}, {}) is not a point", p.x, p.y, p.z));
        }
        Ok(())
    }
}

/// The mask a selection describes (None for a plain iso-surface without seeds).
pub fn select_mask(
    volume: &Volume,
    options: &SurfaceOptions,
    progress: &Progress,
) -> Result<Option<Mask>, SegmentError> {
    let seeds = &options.seeds_mm;
    Ok(match (&options.selection, seeds.is_empty()) {
        // Direct iso-surface of the samples; a negative rescale slope (rare) would turn
        // "above" into "below" in stored units, so that case goes through a mask.
        (Selection::Iso(_), true) if volume.value_scale.slope > 0.0 => None,
        (Selection::Iso(v), true) => Some(segment::threshold(
            volume,
            ValueRange::new(*v, f64::INFINITY),
        )),
        (Selection::Iso(v), false) => Some(segment::region_grow(
            volume,
            seeds,
            ValueRange::new(*v, f64::INFINITY),
            progress,
        )?),
        (Selection::Range(r), true) => Some(segment::remove_small_components(
            &segment::threshold(volume, *r),
            50,
            progress,
        )?),
        (Selection::Range(r), false) => Some(segment::region_grow(volume, seeds, *r, progress)?),
        (Selection::Preset(p), true) => Some(p.segment(volume, progress)?),
        (Selection::Preset(p), false) => {
            Some(segment::region_grow(volume, seeds, p.range(), progress)?)
        }
        (Selection::PresetIn(p, r), true) => Some(p.segment_in(volume, *r, progress)?),
        (Selection::PresetIn(_, r), false) => {
            Some(segment::region_grow(volume, seeds, *r, progress)?)
        }
        (Selection::Lumen, true) => Some(Preset::Vessels.segment(volume, progress)?),
        (Selection::Lumen, false) => Some(lumen_of(volume, seeds, progress)?.mask),
        (Selection::Outline, _) => {
            let t = crate::volume::histogram::Histogram::of(volume)
                .otsu()
                .unwrap_or(f64::INFINITY);
            Some(segment::body::body(volume, t, progress)?.mask)
        }
    })
}

/// The grid of a sub-block `[k0, k1) × [j0, j1) × [i0, i1)` of `g`.
fn crop(g: &Geometry, [(k0, k1), (j0, j1), (i0, i1)]: [(usize, usize); 3]) -> Geometry {
    let origin = g.patient_from_ijk([i0 as f64, j0 as f64, k0 as f64]);
    Geometry {
        dims: [i1 - i0, j1 - j0, k1 - k0],
        origin_mm: [origin.x, origin.y, origin.z],
        ..g.clone()
    }
}

/// Bounding box `[k0, k1) × [j0, j1) × [i0, i1)` of a mask grown by `margin`, or None if empty.
/// Planes in parallel, each row scanned from both ends only.
fn bounding_box(mask: &Mask, margin: usize) -> Option<[(usize, usize); 3]> {
    use ndarray::Axis;
    use rayon::prelude::*;
    let (nk, nj, ni) = mask.data.dim();
    type Bounds = ([usize; 3], [usize; 3]);
    let empty: Bounds = ([usize::MAX; 3], [0; 3]);
    let merge = |(alo, ahi): Bounds, (blo, bhi): Bounds| -> Bounds {
        (
            std::array::from_fn(|a| alo[a].min(blo[a])),
            std::array::from_fn(|a| ahi[a].max(bhi[a])),
        )
    };
    let (lo, hi) = mask
        .data
        .axis_iter(Axis(0))
        .into_par_iter()
        .enumerate()
        .map(|(k, plane)| {
            let mut b = empty;
            for (j, row) in plane.outer_iter().enumerate() {
                let Some(first) = row.iter().position(|&v| v != 0) else {
                    continue;
                };
                let last = row.iter().rposition(|&v| v != 0).unwrap_or(first);
                b = merge(b, ([k, j, first], [k + 1, j + 1, last + 1]));
            }
            b
        })
        .reduce(|| empty, merge);
    if lo[0] == usize::MAX {
        return None;
    }
    let n = [nk, nj, ni];
    Some([0, 1, 2].map(|a| (lo[a].saturating_sub(margin), (hi[a] + margin).min(n[a]))))
}

/// Surface of a mask: Gaussian-smoothed inside its bounding box (so memory follows the
/// structure, not the scan), then marching cubes at 0.5.
pub fn mask_surface(mask: &Mask, sigma_mm: f64, pad: bool, progress: &Progress) -> Option<TriMesh> {
    // A kernel wider than the structure smooths nothing more: bound it (and NaN) so an
    // argument cannot size a kernel or margin without limit.
    // A σ far below a voxel smooths nothing but underflows the kernel's weights to 0/0.
    let sigma_mm = if sigma_mm.is_finite() && sigma_mm >= MIN_MASK_SIGMA_MM {
        sigma_mm.min(MAX_MASK_SIGMA_MM)
    } else {
        0.0
    };
    let g = &mask.geometry;
    let min_spacing = g.spacing_mm.iter().copied().fold(f64::INFINITY, f64::min);
    let margin = (3.0 * sigma_mm / min_spacing).ceil() as usize + 1;
    let Some([(k0, k1), (j0, j1), (i0, i1)]) = bounding_box(mask, margin) else {
        return Some(TriMesh::default());
    };
    if progress.is_cancelled() {
        return None;
    }
    let sub_geometry = crop(g, [(k0, k1), (j0, j1), (i0, i1)]);
    let sub_view = mask.data.slice(s![k0..k1, j0..j1, i0..i1]);
    let field = if sigma_mm > 0.0 {
        let sub = Mask {
            data: sub_view.to_owned(),
            geometry: sub_geometry.clone(),
        };
        segment::smooth_mask(&sub, sigma_mm)
    } else {
        // Unsmoothed: the mask itself as the field, converted in parallel.
        let mut field = ndarray::Array3::<f32>::zeros(sub_view.dim());
        ndarray::Zip::from(&mut field)
            .and(&sub_view)
            .par_for_each(|f, &m| *f = f32::from(m));
        field
    };
    if progress.is_cancelled() {
        return None;
    }
    marching_cubes(
        field.view(),
        &sub_geometry,
        0.5,
        McOptions::default().with_pad(pad),
        progress,
    )
}

/// Surface of a mask guided by the image intensities: the iso-surface of the volume at the
/// range's boundary value, restricted to the mask. Mask voxels are held at or above the
/// boundary and all others below it, so the surface follows the mask's topology (filled
/// holes stay filled, excluded neighbours stay out) while its position comes from the
/// intensities at sub-voxel accuracy — the enclosed volume then matches the mask's voxel
/// count, and a phantom vessel's surface lands on its true radius.
pub fn guided_surface(
    volume: &Volume,
    mask: &Mask,
    range: ValueRange,
    pad: bool,
    progress: &Progress,
) -> Option<TriMesh> {
    let scale = volume.value_scale;
    // Inside is above `lo` (the usual case) or, for air-like ranges, below `hi`.
    let upward = range.lo > -1000.0;
    let boundary = if upward { range.lo } else { range.hi };
    let margin = 2;
    let Some([(k0, k1), (j0, j1), (i0, i1)]) = bounding_box(mask, margin) else {
        return Some(TriMesh::default());
    };
    if progress.is_cancelled() {
        return None;
    }
    let g = &volume.geometry;
    let sub_geometry = crop(g, [(k0, k1), (j0, j1), (i0, i1)]);
    // Field in real units, oriented so that inside is above `boundary`.
    let step = scale.slope.abs().max(1e-6) * 0.5;
    let sub_vox = volume.voxels.slice(s![k0..k1, j0..j1, i0..i1]);
    let sub_mask = mask.data.slice(s![k0..k1, j0..j1, i0..i1]);
    let mut field = ndarray::Array3::<f32>::zeros(sub_vox.dim());
    ndarray::Zip::from(&mut field)
        .and(&sub_vox)
        .and(&sub_mask)
        .par_for_each(|f, &v, &m| {
            let real = scale.real(v);
            let oriented = if upward {
                real - boundary
            } else {
                boundary - real
            };
            *f = if m != 0 {
                oriented.max(step)
            } else {
                oriented.min(-step)
            } as f32;
        });
    marching_cubes(
        field.view(),
        &sub_geometry,
        0.0,
        McOptions::default().with_pad(pad),
        progress,
    )
}

/// The lumen of [`Selection::Lumen`].
fn lumen_of(
    volume: &Volume,
    seeds: &[Point3<f64>],
    progress: &Progress,
) -> Result<crate::catheter::Grown, SegmentError> {
    crate::catheter::grow::grow(
        volume,
        seeds,
        crate::catheter::LumenSpec::Auto,
        None,
        progress,
    )
}

fn selection_range(selection: &Selection) -> Option<ValueRange> {
    match selection {
        Selection::Lumen => Some(Preset::Vessels.range()),
        Selection::Preset(p) => Some(p.range()),
        Selection::PresetIn(_, r) => Some(*r),
        Selection::Range(r) => Some(*r),
        Selection::Iso(v) => Some(ValueRange::new(*v, f64::INFINITY)),
        Selection::Outline => None,
    }
}

/// The mask a structure is made of (None for a direct iso-surface), hand edits applied,
/// and the value range its surface follows where it has one. A grown lumen's surface
/// follows the image at its own boundary level. Hand edits need a mask (an iso-surface
/// gets its threshold's).
fn edited_mask(
    volume: &Volume,
    options: &SurfaceOptions,
    progress: &Progress,
) -> Result<(Option<Mask>, Option<ValueRange>), SurfaceError> {
    let (mask, range) = match (&options.selection, options.seeds_mm.is_empty()) {
        (Selection::Lumen, false) => {
            let grown = lumen_of(volume, &options.seeds_mm, progress)?;
            let l = grown.levels;
            let range = ValueRange::new(0.5 * (l.rim_hu + l.core_hu), l.bright_hu);
            (Some(grown.mask), Some(range))
        }
        _ => (
            select_mask(volume, options, progress)?,
            selection_range(&options.selection),
        ),
    };
    if options.edits.is_empty() {
        return Ok((mask, range));
    }
    let base = match mask {
        Some(m) => m,
        None => segment::threshold(volume, range.unwrap_or(ValueRange::new(f64::MIN, f64::MAX))),
    };
    let edited = segment::edit::apply(volume, base, &options.edits, progress)?;
    Ok((Some(edited), range))
}

/// The voxels of a structure (its selection, grown from its seeds, hand edits applied), as
/// a no-go region or an export needs them.
pub fn structure_mask(
    volume: &Volume,
    options: &SurfaceOptions,
    progress: &Progress,
) -> Result<Mask, SurfaceError> {
    options.check().map_err(SurfaceError::Invalid)?;
    let (mask, range) = edited_mask(volume, options, progress)?;
    Ok(match mask {
        Some(m) => m,
        None => segment::threshold(volume, range.unwrap_or(ValueRange::new(f64::MIN, f64::MAX))),
    })
}

/// Runs the whole chain for one structure.
pub fn surface(
    volume: &Volume,
    options: &SurfaceOptions,
    progress: &Progress,
) -> Result<(TriMesh, StageTimes), SurfaceError> {
    options.check().map_err(SurfaceError::Invalid)?;
    let mut times = StageTimes::default();
    let t = Instant::now();
    let (mask, range) = edited_mask(volume, options, progress)?;
    let edited = !options.edits.is_empty();
    times.segment_s = t.elapsed().as_secs_f64();

    let t = Instant::now();
    let mc = McOptions::default().with_pad(options.pad);
    let mesh = match (&mask, &options.selection) {
        (None, Selection::Iso(v)) => {
            let scale = volume.value_scale;
            let stored = ((v - scale.intercept) / scale.slope) as f32;
            marching_cubes(volume.voxels.view(), &volume.geometry, stored, mc, progress)
        }
        // Grown structures (seeds): intensity-guided, sub-voxel. Otherwise the mask itself,
        // unsmoothed unless asked: its enclosed volume stays within a few percent of the
        // voxel count even for thin bone, where smoothing or intensities erode it.
        (Some(m), _) if edited => {
            let voxel = volume
                .geometry
                .spacing_mm
                .iter()
                .fold(0.0f64, |a, b| a.max(*b));
            mask_surface(
                m,
                options.mask_sigma_mm.unwrap_or(0.5 * voxel),
                options.pad,
                progress,
            )
        }
        (Some(m), _) => match (options.mask_sigma_mm, range) {
            (None, Some(range)) if !options.seeds_mm.is_empty() => {
                guided_surface(volume, m, range, options.pad, progress)
            }
            (sigma, _) => mask_surface(m, sigma.unwrap_or(0.0), options.pad, progress),
        },
        (None, _) => Some(TriMesh::default()),
    };
    let mut mesh = mesh.ok_or(SurfaceError::Cancelled)?;
    if progress.is_cancelled() {
        return Err(SurfaceError::Cancelled);
    }
    if options.min_island_triangles > 0 {
        remove_islands(&mut mesh, options.min_island_triangles);
    }
    times.surface_s = t.elapsed().as_secs_f64();

    let t = Instant::now();
    if !taubin_smooth(&mut mesh, options.smooth_iterations, progress) {
        return Err(SurfaceError::Cancelled);
    }
    times.smooth_s = t.elapsed().as_secs_f64();

    let t = Instant::now();
    if let Some(target) = options.target_triangles {
        decimate(&mut mesh, target, progress).ok_or(SurfaceError::Cancelled)?;
    }
    times.decimate_s = t.elapsed().as_secs_f64();
    Ok((mesh, times))
}
