//! Edits that fix a structure's mask where the image is ambiguous, the tools a radiologist
//! knows from 3D Slicer's Segment Editor: paint and erase with a sphere brush (optionally
//! only over voxels within a value range, as Slicer's masking), keep the island under a
//! point, remove the islands below a size. A structure keeps its edits as a list after its
//! recipe, so each is replayed when the structure is built, saved in the plan file and
//! undone as a change of the recipe. Depends on `volume` and the rest of `segment` only.

use nalgebra::Point3;
use serde::{Deserialize, Serialize};

use super::{Mask, SegmentError, ValueRange, keep_component_at, remove_small_components};
use crate::progress::Progress;
use crate::volume::Volume;

/// One edit of a mask, in patient LPS mm.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(tag = "tool", rename_all = "snake_case")]
pub enum MaskEdit {
    /// Adds the voxels whose centres lie within the sphere (and, when given, whose values
    /// lie within the range).
    Paint {
        centre_lps_mm: [f64; 3],
        radius_mm: f64,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        only_range: Option<ValueRange>,
    },
    /// Removes them.
    Erase {
        centre_lps_mm: [f64; 3],
        radius_mm: f64,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        only_range: Option<ValueRange>,
    },
    /// Keeps only the island (26-connected) that holds the point.
    KeepIslandAt { point_lps_mm: [f64; 3] },
    /// Removes the islands smaller than this (mL).
    RemoveIslandsBelow { ml: f64 },
}

impl MaskEdit {
    /// What the Edit menu and the panel call it.
    pub fn name(&self) -> &'static str {
        match self {
            MaskEdit::Paint { .. } => "paint",
            MaskEdit::Erase { .. } => "erase",
            MaskEdit::KeepIslandAt { .. } => "keep island",
            MaskEdit::RemoveIslandsBelow { .. } => "remove small islands",
        }
    }
}

/// Applies `edits` to `mask` (on `volume`'s grid), in order.
pub fn apply(
    volume: &Volume,
    mut mask: Mask,
    edits: &[MaskEdit],
    progress: &Progress,
) -> Result<Mask, SegmentError> {
    for edit in edits {
        if progress.is_cancelled() {
            return Err(SegmentError::Cancelled);
        }
        mask = match edit {
            MaskEdit::Paint {
                centre_lps_mm,
                radius_mm,
                only_range,
            }
            | MaskEdit::Erase {
                centre_lps_mm,
                radius_mm,
                only_range,
            } => {
                let value = u8::from(matches!(edit, MaskEdit::Paint { .. }));
                sphere(
                    volume,
                    &mut mask,
                    *centre_lps_mm,
                    *radius_mm,
                    *only_range,
                    value,
                );
                mask
            }
            MaskEdit::KeepIslandAt { point_lps_mm } => {
                keep_component_at(&mask, &Point3::from(*point_lps_mm), progress)?
            }
            MaskEdit::RemoveIslandsBelow { ml } => {
                let s = mask.geometry.spacing_mm;
                let voxel_ml = s[0] * s[1] * s[2] / 1000.0;
                let min_voxels = (ml / voxel_ml).ceil().max(0.0) as usize;
                remove_small_components(&mask, min_voxels, progress)?
            }
        };
    }
    Ok(mask)
}

/// Sets to `value` the voxels whose centres lie within `radius` mm of `centre` (and whose
/// values lie in `only`, when given).
fn sphere(
    volume: &Volume,
    mask: &mut Mask,
    centre: [f64; 3],
    radius: f64,
    only: Option<ValueRange>,
    value: u8,
) {
    let g = &mask.geometry;
    if !(radius.is_finite() && radius > 0.0) || centre.iter().any(|c| !c.is_finite()) {
        return;
    }
    let c = Point3::from(centre);
    let at = g.ijk_from_patient(&c);
    let s = g.spacing_mm;
    let dims = g.dims;
    // The voxel axes are orthonormal in patient space: the sphere's box along each is
    // its radius over the spacing.
    let range = |a: usize| {
        let lo = (at[a] - radius / s[a]).floor().max(0.0) as usize;
        let hi = ((at[a] + radius / s[a]).ceil()).min(dims[a] as f64 - 1.0);
        (lo, hi)
    };
    let ((i0, i1), (j0, j1), (k0, k1)) = (range(0), range(1), range(2));
    if i1 < 0.0 || j1 < 0.0 || k1 < 0.0 {
        return;
    }
    let (i1, j1, k1) = (i1 as usize, j1 as usize, k1 as usize);
    for k in k0..=k1 {
        for j in j0..=j1 {
            for i in i0..=i1 {
                let p = g.patient_from_ijk([i as f64, j as f64, k as f64]);
                if (p - c).norm() > radius {
                    continue;
                }
                if let Some(r) = only {
                    let v = volume.value_scale.real(volume.voxels[(k, j, i)]);
                    if !r.contains(v) {
                        continue;
                    }
                }
                mask.data[(k, j, i)] = value;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::volume::Geometry;
    use ndarray::Array3;

    /// A 60 mm cube of 0.5 mm voxels: values 100 for x < 15 mm, 400 beyond.
    fn volume() -> Volume {
        let n = 120;
        let g = Geometry::axis_aligned([n, n, n], [0.5; 3], [0.0; 3]);
        let v = Array3::from_shape_fn((n, n, n), |(_, _, i)| if i < 30 { 100 } else { 400 });
        Volume::new(v, g).expect("volume")
    }

    fn ml(m: &Mask) -> f64 {
        m.volume_ml()
    }

    fn ball_ml(r: f64) -> f64 {
        4.0 / 3.0 * std::f64::consts::PI * r.powi(3) / 1000.0
    }

    #[test]
    fn painting_and_erasing_change_the_volume_by_the_brushs() {
        let v = volume();
        let empty = Mask {
            data: Array3::zeros((120, 120, 120)),
            geometry: v.geometry.clone(),
        };
        let p = Progress::new();
        let brush = |tool: fn([f64; 3], f64) -> MaskEdit| tool([30.0, 30.0, 30.0], 6.0);
        let paint = |c, r| MaskEdit::Paint {
            centre_lps_mm: c,
            radius_mm: r,
            only_range: None,
        };
        let erase = |c, r| MaskEdit::Erase {
            centre_lps_mm: c,
            radius_mm: r,
            only_range: None,
        };
        let painted = apply(&v, empty.clone(), &[brush(paint)], &p).expect("paint");
        let truth = ball_ml(6.0);
        assert!(
            (ml(&painted) - truth).abs() / truth < 0.02,
            "{} vs {truth}",
            ml(&painted)
        );
        // Erasing a 4.5 mm ball inside it takes that ball's volume back out.
        let erased =
            apply(&v, painted.clone(), &[erase([30.0, 30.0, 30.0], 4.5)], &p).expect("erase");
        let taken = ml(&painted) - ml(&erased);
        assert!(
            (taken - ball_ml(4.5)).abs() / ball_ml(4.5) < 0.02,
            "{taken}"
        );
        // Only within 300–500: the brush across the 15 mm boundary paints the bright side.
        let masked = apply(
            &v,
            empty,
            &[MaskEdit::Paint {
                centre_lps_mm: [15.0, 30.0, 30.0],
                radius_mm: 6.0,
                only_range: Some(ValueRange::new(300.0, 500.0)),
            }],
            &p,
        )
        .expect("masked");
        // The bright side holds the voxels from x = 15 mm on: the ball beyond x = 14.75 mm
        // (their faces), half the ball and a slab of a quarter millimetre.
        let h: f64 = 0.25;
        let truth =
            ball_ml(6.0) / 2.0 + std::f64::consts::PI * (36.0 * h - h.powi(3) / 3.0) / 1000.0;
        assert!(
            (ml(&masked) - truth).abs() / truth < 0.02,
            "{} vs {truth}",
            ml(&masked)
        );
    }

    #[test]
    fn islands_are_kept_or_removed_by_point_and_size() {
        let v = volume();
        let p = Progress::new();
        let paint = |c: [f64; 3], r: f64| MaskEdit::Paint {
            centre_lps_mm: c,
            radius_mm: r,
            only_range: None,
        };
        let empty = Mask {
            data: Array3::zeros((120, 120, 120)),
            geometry: v.geometry.clone(),
        };
        let two = apply(
            &v,
            empty,
            &[
                paint([15.0, 15.0, 15.0], 5.0),
                paint([45.0, 45.0, 45.0], 2.0),
            ],
            &p,
        )
        .expect("two balls");
        let big = apply(
            &v,
            two.clone(),
            &[MaskEdit::KeepIslandAt {
                point_lps_mm: [15.0, 15.0, 15.0],
            }],
            &p,
        )
        .expect("keep");
        assert!((ml(&big) - ball_ml(5.0)).abs() / ball_ml(5.0) < 0.02);
        let no_small =
            apply(&v, two, &[MaskEdit::RemoveIslandsBelow { ml: 0.1 }], &p).expect("remove");
        assert_eq!(no_small.data, big.data);
    }
}
