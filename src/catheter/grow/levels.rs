//! The lumen's levels measured around its seeds (module documentation of [`super`], step
//! 1): Otsu's split of the voxels near the seeds into the vessel's contrast and its
//! surroundings. Reads the volume's values only.

use nalgebra::Point3;

use super::{Levels, MIN_CONTRAST_HU, SAMPLE_RADIUS_MM};
use crate::segment::{SegmentError, ValueRange};
use crate::volume::Volume;

/// Otsu's threshold of `values` (the split that maximises the between-class variance),
/// None when fewer than two distinct values.
pub fn otsu(values: &[f64]) -> Option<f64> {
    let lo = values.iter().copied().fold(f64::INFINITY, f64::min);
    let hi = values.iter().copied().fold(f64::NEG_INFINITY, f64::max);
    if hi.partial_cmp(&lo) != Some(std::cmp::Ordering::Greater) {
        return None;
    }
    const BINS: usize = 256;
    let width = (hi - lo) / BINS as f64;
    let mut hist = [0usize; BINS];
    for v in values {
        hist[(((v - lo) / width) as usize).min(BINS - 1)] += 1;
    }
    let total = values.len() as f64;
    let sum: f64 = hist
        .iter()
        .enumerate()
        .map(|(b, &n)| b as f64 * n as f64)
        .sum();
    let (mut w0, mut s0) = (0.0, 0.0);
    let mut best = (f64::NEG_INFINITY, 0usize);
    for (b, &n) in hist.iter().enumerate().take(BINS - 1) {
        w0 += n as f64;
        s0 += b as f64 * n as f64;
        let w1 = total - w0;
        if w0 == 0.0 || w1 == 0.0 {
            continue;
        }
        let (m0, m1) = (s0 / w0, (sum - s0) / w1);
        let between = w0 * w1 * (m0 - m1) * (m0 - m1);
        if between > best.0 {
            best = (between, b);
        }
    }
    Some(lo + (best.1 + 1) as f64 * width)
}

pub(super) fn median(values: &mut [f64]) -> Option<f64> {
    if values.is_empty() {
        return None;
    }
    let mid = values.len() / 2;
    values.select_nth_unstable_by(mid, f64::total_cmp);
    Some(values[mid])
}

/// The voxel `[i, j, k]` holding a patient point, None off the grid.
pub(super) fn voxel_of(volume: &Volume, p: &Point3<f64>) -> Option<[usize; 3]> {
    let ijk = volume.geometry.ijk_from_patient(p);
    let dims = volume.geometry.dims;
    let mut v = [0usize; 3];
    for a in 0..3 {
        let r = ijk[a].round();
        if !r.is_finite() || r < 0.0 || r > dims[a] as f64 - 1.0 {
            return None;
        }
        v[a] = r as usize;
    }
    Some(v)
}

/// The real values of the voxels within `radius_mm` of voxel `c`.
pub(super) fn sphere_values(volume: &Volume, c: [usize; 3], radius_mm: f64) -> Vec<f64> {
    let s = volume.geometry.spacing_mm;
    let dims = volume.geometry.dims;
    let reach = [0, 1, 2].map(|a| (radius_mm / s[a]).floor() as i64);
    let mut out = Vec::new();
    for dk in -reach[2]..=reach[2] {
        for dj in -reach[1]..=reach[1] {
            for di in -reach[0]..=reach[0] {
                let d = [di, dj, dk];
                let r2: f64 = (0..3).map(|a| (d[a] as f64 * s[a]).powi(2)).sum();
                if r2 > radius_mm * radius_mm {
                    continue;
                }
                let v = [0, 1, 2].map(|a| c[a] as i64 + d[a]);
                if (0..3).any(|a| v[a] < 0 || v[a] >= dims[a] as i64) {
                    continue;
                }
                let raw = volume.voxels[(v[2] as usize, v[1] as usize, v[0] as usize)];
                out.push(volume.value_scale.real(raw));
            }
        }
    }
    out
}

pub(super) fn seed_error(p: &Point3<f64>) -> SegmentError {
    SegmentError::SeedOutside {
        x: p.x,
        y: p.y,
        z: p.z,
    }
}

/// Values below this are air or lung (CT HU; no MR value is this low): never a vessel's
/// surroundings.
const AIR_BELOW: f64 = -500.0;

impl Levels {
    /// The levels measured around `seeds` (module documentation, step 1).
    pub fn measure(volume: &Volume, seeds: &[Point3<f64>]) -> Result<Levels, SegmentError> {
        // Inside a wide vessel the first sphere holds nothing but blood: look further out.
        let mut last = (0.0, 0.0);
        for radius in [1.0, 2.0, 3.0, 4.0].map(|f| f * SAMPLE_RADIUS_MM) {
            let (peak, background) = Levels::peak_and_background(volume, seeds, radius)?;
            if peak - background >= MIN_CONTRAST_HU {
                let contrast = peak - background;
                return Ok(Levels {
                    peak_hu: peak,
                    background_hu: background,
                    core_hu: background + 0.65 * contrast,
                    rim_hu: background + 0.25 * contrast,
                    bright_hu: peak + 1.5 * contrast,
                    measured: true,
                });
            }
            last = (peak, background);
        }
        let p = seeds.first().copied().unwrap_or_else(Point3::origin);
        Err(SegmentError::NoContrast {
            x: p.x,
            y: p.y,
            z: p.z,
            peak: last.0,
            background: last.1,
        })
    }

    /// The medians of Otsu's two classes of the voxels within `radius_mm` of the seeds,
    /// each seed's sample bounded by its own value (so a bone or a vein full of undiluted
    /// contrast beside a small artery does not become its "contrast") and by air (lung
    /// beside a thoracic aorta would otherwise be split from everything else and become
    /// its "surroundings").
    fn peak_and_background(
        volume: &Volume,
        seeds: &[Point3<f64>],
        radius_mm: f64,
    ) -> Result<(f64, f64), SegmentError> {
        let mut pooled = Vec::new();
        for p in seeds {
            let c = voxel_of(volume, p).ok_or_else(|| seed_error(p))?;
            let mut local = sphere_values(volume, c, volume.geometry.spacing_mm[0].max(1.0));
            let own = median(&mut local).unwrap_or(0.0);
            let ceiling = own.max(150.0) * 1.5 + 50.0;
            pooled.extend(
                sphere_values(volume, c, radius_mm)
                    .into_iter()
                    .filter(|v| *v < ceiling && *v > AIR_BELOW),
            );
        }
        let Some(split) = otsu(&pooled) else {
            let v = pooled.first().copied().unwrap_or(0.0);
            return Ok((v, v));
        };
        let mut bright: Vec<f64> = pooled.iter().copied().filter(|v| *v >= split).collect();
        let mut dark: Vec<f64> = pooled.iter().copied().filter(|v| *v < split).collect();
        Ok(match (median(&mut bright), median(&mut dark)) {
            (Some(p), Some(b)) => (p, b),
            _ => (split, split),
        })
    }

    /// The levels of a given range (module documentation, step 1).
    pub fn of_range(
        volume: &Volume,
        seeds: &[Point3<f64>],
        range: ValueRange,
    ) -> Result<Levels, SegmentError> {
        let mut inside = Vec::new();
        for p in seeds {
            let c = voxel_of(volume, p).ok_or_else(|| seed_error(p))?;
            inside.extend(
                sphere_values(volume, c, SAMPLE_RADIUS_MM)
                    .into_iter()
                    .filter(|v| range.contains(*v)),
            );
        }
        let peak = median(&mut inside).unwrap_or(range.lo);
        Ok(Levels {
            peak_hu: peak,
            background_hu: range.lo,
            core_hu: range.lo + 0.45 * (peak - range.lo).max(0.0),
            rim_hu: range.lo,
            bright_hu: range.hi,
            measured: false,
        })
    }
}
