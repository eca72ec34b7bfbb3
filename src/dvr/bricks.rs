//! The coarse brick grid that lets rays skip empty space: the smallest and largest value
//! of each block of `BRICK`³ texels (one texel of margin included, since trilinear samples
//! near a brick's face read its neighbours), and whether the transfer function shows anything
//! in that range. A ray in composite mode jumps over bricks that show nothing, and in MIP
//! over bricks whose largest value cannot raise the maximum it has. Depends on `dvr` only.

use rayon::prelude::*;

use super::Lut;
use super::fit::{Encoding, TextureVolume};

/// Texels along each side of a brick.
pub const BRICK: usize = 8;

/// Per-brick value ranges.
#[derive(Debug, Clone, PartialEq)]
pub struct Bricks {
    pub dims: [usize; 3],
    /// `(min, max)` per brick, x fastest.
    pub range: Vec<(f32, f32)>,
}

impl Bricks {
    /// The bricks of a study uploaded as it is (`fit` factor 1), from its stored integers:
    /// the same ranges as [`Bricks::of`] on its texture, several times faster.
    pub fn of_study(study: &crate::volume::Volume, encoding: Encoding) -> Bricks {
        Bricks::of_study_every(study, 1, encoding)
    }

    /// The bricks of the texture that holds every `step`-th voxel of a study along each axis
    /// (`fit::preview`), from the stored integers.
    pub fn of_study_every(
        study: &crate::volume::Volume,
        step: usize,
        encoding: Encoding,
    ) -> Bricks {
        let step = step.max(1);
        let [sx, sy, _] = study.geometry.dims;
        let [nx, ny, nz] = study.geometry.dims.map(|n| n.div_ceil(step));
        let dims = [nx.div_ceil(BRICK), ny.div_ceil(BRICK), nz.div_ceil(BRICK)];
        let [bx, by, _] = dims;
        let scale = study.value_scale;
        let voxels = &study.voxels;
        // The stored voxels as one slice (k, j, i order) where they are contiguous.
        let stored = voxels.as_slice();
        let range = (0..dims.iter().product::<usize>())
            .into_par_iter()
            .map(|b| {
                let (i, j, k) = (b % bx, (b / bx) % by, b / (bx * by));
                let span = |c: usize, n: usize| {
                    (c * BRICK).saturating_sub(1)..((c + 1) * BRICK + 1).min(n)
                };
                let (mut lo, mut hi) = (i16::MAX, i16::MIN);
                let mut take = |v: i16| {
                    lo = lo.min(v);
                    hi = hi.max(v);
                };
                let xs = span(i, nx);
                for kk in span(k, nz) {
                    for jj in span(j, ny) {
                        let (kk, jj) = (kk * step, jj * step);
                        match stored {
                            // A row of the brick at once (contiguous in memory).
                            Some(all) if step == 1 => {
                                all[(kk * sy + jj) * sx..][xs.clone()]
                                    .iter()
                                    .for_each(|&v| take(v));
                            }
                            Some(all) => {
                                let row = &all[(kk * sy + jj) * sx..];
                                xs.clone().for_each(|ii| take(row[ii * step]));
                            }
                            None => xs.clone().for_each(|ii| take(voxels[(kk, jj, ii * step)])),
                        }
                    }
                }
                // Through the same rounding as the texture's values.
                let real = |v: i16| match encoding {
                    Encoding::Float16 => half::f16::from_f32(scale.real(v) as f32).to_f32(),
                    Encoding::Int16 => scale.real(v) as f32,
                };
                let (a, b) = (real(lo), real(hi));
                (a.min(b), a.max(b))
            })
            .collect();
        Bricks { dims, range }
    }

    pub fn of(volume: &TextureVolume) -> Bricks {
        let [nx, ny, nz] = volume.dims;
        let dims = [nx.div_ceil(BRICK), ny.div_ceil(BRICK), nz.div_ceil(BRICK)];
        let [bx, by, _] = dims;
        let range: Vec<(f32, f32)> = (0..dims.iter().product::<usize>())
            .into_par_iter()
            .map(|b| {
                let (i, j, k) = (b % bx, (b / bx) % by, b / (bx * by));
                let span = |c: usize, n: usize| {
                    (c * BRICK).saturating_sub(1)..((c + 1) * BRICK + 1).min(n)
                };
                let mut lo = f32::INFINITY;
                let mut hi = f32::NEG_INFINITY;
                for kk in span(k, nz) {
                    for jj in span(j, ny) {
                        let row = (kk * ny + jj) * nx;
                        for ii in span(i, nx) {
                            let v = volume.real(volume.texels[row + ii]);
                            lo = lo.min(v);
                            hi = hi.max(v);
                        }
                    }
                }
                (lo, hi)
            })
            .collect();
        Bricks { dims, range }
    }

    /// Whether each brick shows anything through the lookup table (composite mode).
    pub fn visible(&self, lut: &Lut) -> Vec<bool> {
        let prefix = lut.visible_prefix();
        self.range
            .iter()
            .map(|&(lo, hi)| {
                let a = lut.index(f64::from(lo));
                let b = lut.index(f64::from(hi));
                prefix[b + 1] > prefix[a]
            })
            .collect()
    }

    /// The texels of the shader's brick texture: `(min, max, visible, 0)` per brick.
    pub fn texels(&self, lut: &Lut) -> Vec<[f32; 4]> {
        self.range
            .iter()
            .zip(self.visible(lut))
            .map(|(&(lo, hi), v)| [lo, hi, if v { 1.0 } else { 0.0 }, 0.0])
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::dvr::fit::{Encoding, Limits, fit};
    use crate::volume::{Geometry, Volume};

    #[test]
    fn a_bright_voxel_marks_its_brick_and_the_neighbours_its_samples_reach() {
        let dims = [20, 16, 9];
        let mut voxels = ndarray::Array3::from_elem((9, 16, 20), -1000i16);
        voxels[(4, 8, 9)] = 400; // brick (1, 1, 0); x = 9 lies in the margin of brick 0
        let v = Volume::new(voxels, Geometry::axis_aligned(dims, [1.0; 3], [0.0; 3])).unwrap();
        let limits = Limits {
            max_side: 2048,
            max_bytes: Limits::DEFAULT_BYTES,
        };
        let b = Bricks::of(&fit(&v, &limits, Encoding::Float16));
        for encoding in [Encoding::Float16, Encoding::Int16] {
            assert_eq!(
                Bricks::of(&fit(&v, &limits, encoding)),
                Bricks::of_study(&v, encoding),
                "the study's bricks equal the texture's ({encoding:?})"
            );
            for step in [2, 3] {
                assert_eq!(
                    Bricks::of(&crate::dvr::fit::preview(&v, step, encoding)),
                    Bricks::of_study_every(&v, step, encoding),
                    "every {step}th voxel's bricks equal the preview texture's ({encoding:?})"
                );
            }
        }
        assert_eq!(b.dims, [3, 2, 2]);
        let at = |i: usize, j: usize, k: usize| b.range[(k * 2 + j) * 3 + i];
        assert_eq!(at(1, 1, 0), (-1000.0, 400.0));
        assert_eq!(
            at(0, 1, 0).1,
            -1000.0,
            "x = 9 is beyond brick 0's margin (8)"
        );
        assert_eq!(at(1, 0, 0).1, 400.0, "y = 8 is in brick 0's margin along y");
        assert_eq!(at(2, 1, 1).1, -1000.0);
        let tf = crate::dvr::bundled().into_iter().next().unwrap().function;
        let vis = b.visible(&tf.lut());
        assert_eq!(vis.iter().filter(|&&v| v).count(), 2, "{vis:?}");
        assert_eq!(b.texels(&tf.lut())[(2 + 1) * 3 + 1][2], 0.0);
        assert_eq!(b.texels(&tf.lut())[3 + 1][2], 1.0);
    }

    #[test]
    fn strided_bricks_equal_the_preview_textures_on_a_varied_study() {
        let dims = [37, 29, 19];
        let voxels = ndarray::Array3::from_shape_fn((19, 29, 37), |(k, j, i)| {
            ((i * 7 + j * 13 + k * 29) % 500) as i16 - 250
        });
        let mut v = Volume::new(voxels, Geometry::axis_aligned(dims, [1.0; 3], [0.0; 3])).unwrap();
        v.value_scale = crate::volume::ValueScale {
            slope: 2.5,
            intercept: -1000.0,
        };
        for encoding in [Encoding::Float16, Encoding::Int16] {
            for step in [1, 2, 3] {
                assert_eq!(
                    Bricks::of(&crate::dvr::fit::preview(&v, step, encoding)),
                    Bricks::of_study_every(&v, step, encoding),
                    "step {step}, {encoding:?}"
                );
            }
        }
    }
}
