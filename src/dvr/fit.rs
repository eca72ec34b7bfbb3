//! The study as the ray caster's 3D texture, in the volume's own voxel order, with the grid's
//! exact `patient_from_voxel`: either real values (HU for CT) as 16-bit floats, which the
//! GPU's sampler interpolates, or the stored 16-bit integers as they are, which the shader
//! interpolates and scales itself (exact where a float rounds: above 2048 HU a 16-bit float
//! steps by 2, and nothing is converted before upload). A study beyond
//! the adapter's limits (largest 3D texture side, memory budget) is averaged down by a whole
//! factor, with the grid moved so each coarse voxel sits at the centre of the block it
//! averages, and the caller is told by how much. Depends on `volume`; no GPU.

use nalgebra::{Matrix4, Vector4};
use rayon::prelude::*;

use crate::volume::{ValueScale, Volume};

/// What the graphics adapter can hold.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Limits {
    /// Largest side of a 3D texture (wgpu's `max_texture_dimension_3d`).
    pub max_side: u32,
    /// Most bytes the volume texture may take.
    pub max_bytes: u64,
}

impl Limits {
    /// Budget for the texture when the adapter does not say: 2 GiB (a 1024³ study at 16
    /// bits), within what every desktop GPU and lavapipe allocate.
    pub const DEFAULT_BYTES: u64 = 2 << 30;
}

/// How the texels hold the study's values.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Encoding {
    /// Real values as 16-bit floats (an `R16Float` texture, filtered by the sampler).
    #[default]
    Float16,
    /// The stored integers (an `R16Sint` texture, read with `textureLoad`; the shader
    /// interpolates and applies the rescale slope and intercept).
    Int16,
}

impl Encoding {
    pub fn parse(name: &str) -> Result<Encoding, String> {
        match name {
            "float16" | "f16" => Ok(Encoding::Float16),
            "int16" | "i16" => Ok(Encoding::Int16),
            other => Err(format!(
                "unknown volume texture {other:?}; choose float16 or int16"
            )),
        }
    }

    pub fn name(self) -> &'static str {
        match self {
            Encoding::Float16 => "float16",
            Encoding::Int16 => "int16",
        }
    }
}

/// The study ready for upload.
#[derive(Debug, Clone)]
pub struct TextureVolume {
    /// Texels along x (i), y (j), z (k).
    pub dims: [usize; 3],
    /// x fastest: `f16` bit patterns (`Float16`) or stored `i16` bit patterns (`Int16`).
    pub texels: Vec<u16>,
    pub encoding: Encoding,
    /// Texel to real value (`Int16`; the identity for `Float16`).
    pub scale: ValueScale,
    /// Patient LPS mm of texel centre `(i, j, k)`.
    pub patient_from_voxel: Matrix4<f64>,
    /// Whole factor the study was averaged down by (1 = as scanned).
    pub factor: usize,
    /// Smallest real value, largest real value.
    pub range: (f32, f32),
}

impl TextureVolume {
    /// Bytes the texture takes on the GPU (16 bits a texel).
    pub fn bytes(&self) -> u64 {
        self.dims.iter().map(|&n| n as u64).product::<u64>() * 2
    }

    /// Finest spacing of the texture's grid, mm.
    pub fn finest_spacing_mm(&self) -> f64 {
        (0..3)
            .map(|a| self.patient_from_voxel.fixed_view::<3, 1>(0, a).norm())
            .fold(f64::INFINITY, f64::min)
    }

    /// The sentence that tells the user the study was reduced, or None.
    pub fn notice(&self, original: [usize; 3], limits: &Limits) -> Option<String> {
        (self.factor > 1).then(|| {
            format!(
                "The volume rendering shows the study at 1/{f} of its resolution along each axis \
                 ({a}×{b}×{c} of {x}×{y}×{z} voxels): the graphics adapter holds 3D textures up to \
                 {side} voxels a side and {mb} MB. Slices, surfaces and measurements use the full \
                 resolution.",
                f = self.factor,
                a = self.dims[0],
                b = self.dims[1],
                c = self.dims[2],
                x = original[0],
                y = original[1],
                z = original[2],
                side = limits.max_side,
                mb = limits.max_bytes >> 20,
            )
        })
    }

    /// Real value at texel `(i, j, k)`; None outside the grid, or once the texels were
    /// handed over for upload.
    pub fn value(&self, i: usize, j: usize, k: usize) -> Option<f32> {
        let [nx, ny, nz] = self.dims;
        if i >= nx || j >= ny || k >= nz {
            return None;
        }
        let t = self.texels.get((k * ny + j) * nx + i)?;
        Some(self.real(*t))
    }

    /// The real value a texel holds.
    pub fn real(&self, texel: u16) -> f32 {
        match self.encoding {
            Encoding::Float16 => half::f16::from_bits(texel).to_f32(),
            Encoding::Int16 => self.scale.real(texel as i16) as f32,
        }
    }
}

/// The smallest whole factor that brings `dims` within `limits`.
pub fn factor_for(dims: [usize; 3], limits: &Limits) -> usize {
    let fits = |f: usize| {
        let d: Vec<u64> = dims.iter().map(|&n| n.div_ceil(f) as u64).collect();
        d.iter().all(|&n| n <= u64::from(limits.max_side))
            && d.iter().product::<u64>() * 2 <= limits.max_bytes
    };
    (1..=64).find(|&f| fits(f)).unwrap_or(64)
}

/// Converts (and where needed averages down) a study for upload.
pub fn fit(volume: &Volume, limits: &Limits, encoding: Encoding) -> TextureVolume {
    let dims = volume.geometry.dims;
    let factor = factor_for(dims, limits);
    let [nx, ny, nz] = dims.map(|n| n.div_ceil(factor));
    let scale = volume.value_scale;
    let voxels = &volume.voxels;
    let real = |v: i16| (scale.slope * f64::from(v) + scale.intercept) as f32;
    // A mean of stored integers as a texel.
    let texel_of_mean = |mean: f64| match encoding {
        Encoding::Float16 => {
            half::f16::from_f32((scale.slope * mean + scale.intercept) as f32).to_bits()
        }
        Encoding::Int16 => mean.round().clamp(-32768.0, 32767.0) as i16 as u16,
    };
    let mut texels = vec![0u16; nx * ny * nz];
    if factor == 1 {
        // Every stored value's texel, once: the conversion is then a table look-up (the
        // identity for `Int16`).
        let table: Vec<u16> = (0..=u16::MAX)
            .map(|b| match encoding {
                Encoding::Float16 => half::f16::from_f32(real(b as i16)).to_bits(),
                Encoding::Int16 => b,
            })
            .collect();
        texels
            .par_chunks_mut(nx * ny)
            .zip(voxels.axis_iter(ndarray::Axis(0)))
            .for_each(|(plane, slice)| {
                for (t, &v) in plane.iter_mut().zip(slice.iter()) {
                    *t = table[v as u16 as usize];
                }
            });
    } else {
        // Sums of the stored integers, a row at a time (contiguous rows where the volume is
        // in standard order), converted to real units once per coarse voxel.
        texels
            .par_chunks_mut(nx * ny)
            .enumerate()
            .for_each(|(k, plane)| {
                let mut sums = vec![0i64; nx];
                let mut counts = vec![0u32; nx];
                for j in 0..ny {
                    sums.iter_mut().for_each(|s| *s = 0);
                    counts.iter_mut().for_each(|c| *c = 0);
                    for kk in k * factor..((k + 1) * factor).min(dims[2]) {
                        for jj in j * factor..((j + 1) * factor).min(dims[1]) {
                            let row = voxels.slice(ndarray::s![kk, jj, ..]);
                            let mut add = |ii: usize, v: i16| {
                                sums[ii / factor] += i64::from(v);
                                counts[ii / factor] += 1;
                            };
                            match row.as_slice() {
                                Some(r) => r.iter().enumerate().for_each(|(ii, &v)| add(ii, v)),
                                None => row.iter().enumerate().for_each(|(ii, &v)| add(ii, v)),
                            }
                        }
                    }
                    for i in 0..nx {
                        let mean = sums[i] as f64 / f64::from(counts[i].max(1));
                        plane[j * nx + i] = texel_of_mean(mean);
                    }
                }
            });
    }
    let range = match (factor, voxels.as_slice()) {
        // As stored: the extremes of the integers, through the same rounding.
        (1, Some(stored)) => {
            let (lo, hi) = stored
                .par_chunks(1 << 16)
                .map(|c| {
                    c.iter()
                        .fold((i16::MAX, i16::MIN), |(a, b), &v| (a.min(v), b.max(v)))
                })
                .reduce(|| (i16::MAX, i16::MIN), |x, y| (x.0.min(y.0), x.1.max(y.1)));
            let f = |v: i16| match encoding {
                Encoding::Float16 => half::f16::from_f32(real(v)).to_f32(),
                Encoding::Int16 => real(v),
            };
            (f(lo).min(f(hi)), f(lo).max(f(hi)))
        }
        _ => texel_range(&texels, encoding, scale),
    };
    // Coarse texel (i, j, k) averages fine voxels f·i … f·i + f − 1: its centre is at
    // f·i + (f − 1)/2 in the fine grid.
    let f = factor as f64;
    let half_step = (f - 1.0) / 2.0;
    let fine = volume.geometry.patient_from_voxel();
    let coarse_from_fine = Matrix4::from_columns(&[
        Vector4::new(f, 0.0, 0.0, 0.0),
        Vector4::new(0.0, f, 0.0, 0.0),
        Vector4::new(0.0, 0.0, f, 0.0),
        Vector4::new(half_step, half_step, half_step, 1.0),
    ]);
    TextureVolume {
        dims: [nx, ny, nz],
        texels,
        encoding,
        scale: texel_scale(encoding, scale),
        patient_from_voxel: fine * coarse_from_fine,
        factor,
        range,
    }
}

/// Texel to real value: the study's rescale for stored integers, none for floats.
fn texel_scale(encoding: Encoding, scale: ValueScale) -> ValueScale {
    match encoding {
        Encoding::Float16 => ValueScale::IDENTITY,
        Encoding::Int16 => scale,
    }
}

/// The smallest and largest real value of texels.
fn texel_range(texels: &[u16], encoding: Encoding, scale: ValueScale) -> (f32, f32) {
    match encoding {
        Encoding::Float16 => f16_range(texels),
        Encoding::Int16 => {
            let (lo, hi) = texels
                .par_chunks(1 << 16)
                .map(|c| {
                    c.iter().fold((i16::MAX, i16::MIN), |(a, b), &t| {
                        (a.min(t as i16), b.max(t as i16))
                    })
                })
                .reduce(|| (i16::MAX, i16::MIN), |x, y| (x.0.min(y.0), x.1.max(y.1)));
            let (a, b) = (scale.real(lo) as f32, scale.real(hi) as f32);
            (a.min(b), a.max(b))
        }
    }
}

/// The smallest and largest value of 16-bit float texels.
fn f16_range(texels: &[u16]) -> (f32, f32) {
    texels
        .par_chunks(1 << 16)
        .map(|chunk| {
            chunk
                .iter()
                .fold((f32::INFINITY, f32::NEG_INFINITY), |(lo, hi), &t| {
                    let v = half::f16::from_bits(t).to_f32();
                    (lo.min(v), hi.max(v))
                })
        })
        .reduce(
            || (f32::INFINITY, f32::NEG_INFINITY),
            |a, b| (a.0.min(b.0), a.1.max(b.1)),
        )
}

/// A quick preview: every `step`-th voxel along each axis (no averaging: it reads an
/// `step³`-th of the study), placed exactly where that voxel is. Shown while the study's own
/// texture uploads; its range is the study's.
pub fn preview(volume: &Volume, step: usize, encoding: Encoding) -> TextureVolume {
    let step = step.max(1);
    let dims = volume.geometry.dims;
    let [nx, ny, nz] = dims.map(|n| n.div_ceil(step));
    let scale = volume.value_scale;
    let voxels = &volume.voxels;
    let mut texels = vec![0u16; nx * ny * nz];
    texels
        .par_chunks_mut(nx * ny)
        .enumerate()
        .for_each(|(k, plane)| {
            for j in 0..ny {
                for i in 0..nx {
                    let v = voxels[(k * step, j * step, i * step)];
                    plane[j * nx + i] = match encoding {
                        Encoding::Float16 => half::f16::from_f32(scale.real(v) as f32).to_bits(),
                        Encoding::Int16 => v as u16,
                    };
                }
            }
        });
    let (lo, hi) = texel_range(&texels, encoding, scale);
    let f = step as f64;
    let coarse_from_fine = Matrix4::from_diagonal(&Vector4::new(f, f, f, 1.0));
    TextureVolume {
        dims: [nx, ny, nz],
        texels,
        encoding,
        scale: texel_scale(encoding, scale),
        patient_from_voxel: volume.geometry.patient_from_voxel() * coarse_from_fine,
        factor: step,
        range: (lo, hi),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::volume::Geometry;
    use nalgebra::{Point3, Vector3};

    fn ramp(dims: [usize; 3]) -> Volume {
        let g = Geometry::new(
            dims,
            [0.7, 0.9, 2.5],
            [10.0, -20.0, 30.0],
            Vector3::new(0.8, 0.6, 0.0),
            Vector3::new(-0.6, 0.8, 0.0),
            Vector3::new(0.0, 0.0, -1.0),
        );
        let voxels = ndarray::Array3::from_shape_fn((dims[2], dims[1], dims[0]), |(k, j, i)| {
            (i + 3 * j + 7 * k) as i16
        });
        let mut v = Volume::new(voxels, g).unwrap();
        v.value_scale = crate::volume::ValueScale {
            slope: 1.0,
            intercept: -1024.0,
        };
        v
    }

    #[test]
    fn a_study_within_the_limits_is_uploaded_as_it_is() {
        let v = ramp([20, 10, 6]);
        let t = fit(
            &v,
            &Limits {
                max_side: 2048,
                max_bytes: Limits::DEFAULT_BYTES,
            },
            Encoding::Float16,
        );
        assert_eq!(t.factor, 1);
        assert_eq!(t.dims, [20, 10, 6]);
        assert_eq!(t.value(3, 2, 1), Some((3 + 6 + 7) as f32 - 1024.0));
        assert_eq!(t.value(20, 0, 0), None);
        assert_eq!(t.patient_from_voxel, v.geometry.patient_from_voxel());
        assert_eq!(t.range, (-1024.0, (19 + 27 + 35) as f32 - 1024.0));
        assert!(
            t.notice(
                [20, 10, 6],
                &Limits {
                    max_side: 2048,
                    max_bytes: 1
                }
            )
            .is_none()
        );
    }

    #[test]
    fn a_study_beyond_the_side_limit_is_averaged_down_with_its_centres_in_place() {
        let v = ramp([20, 10, 6]);
        let limits = Limits {
            max_side: 12,
            max_bytes: Limits::DEFAULT_BYTES,
        };
        let t = fit(&v, &limits, Encoding::Float16);
        assert_eq!(t.factor, 2);
        assert_eq!(t.dims, [10, 5, 3]);
        // The mean of a linear ramp over a 2×2×2 block is its value at the block's centre.
        let centre = [2.0 * 4.0 + 0.5, 2.0 * 1.0 + 0.5, 2.0 * 2.0 + 0.5];
        let expected = centre[0] + 3.0 * centre[1] + 7.0 * centre[2] - 1024.0;
        assert!((f64::from(t.value(4, 1, 2).unwrap()) - expected).abs() < 0.5);
        let p = t.patient_from_voxel * Vector4::new(4.0, 1.0, 2.0, 1.0);
        let q = v.geometry.patient_from_ijk(centre);
        assert!((Point3::new(p.x, p.y, p.z) - q).norm() < 1e-9);
        let text = t.notice([20, 10, 6], &limits).unwrap();
        assert!(text.contains("1/2") && text.contains("10×5×3"), "{text}");
    }

    #[test]
    fn the_memory_budget_also_reduces() {
        assert_eq!(
            factor_for(
                [512, 512, 400],
                &Limits {
                    max_side: 2048,
                    max_bytes: 1 << 30
                }
            ),
            1
        );
        assert_eq!(
            factor_for(
                [512, 512, 400],
                &Limits {
                    max_side: 2048,
                    max_bytes: 64 << 20
                }
            ),
            2
        );
        assert_eq!(
            factor_for(
                [4096, 512, 400],
                &Limits {
                    max_side: 2048,
                    max_bytes: 4 << 30
                }
            ),
            2
        );
    }

    #[test]
    fn a_preview_takes_every_other_voxel_where_it_is() {
        let v = ramp([9, 6, 5]);
        let p = preview(&v, 2, Encoding::Float16);
        assert_eq!(p.dims, [5, 3, 3]);
        for (i, j, k) in [(0, 0, 0), (4, 2, 2), (3, 1, 2)] {
            let fine =
                v.geometry
                    .patient_from_ijk([2.0 * i as f64, 2.0 * j as f64, 2.0 * k as f64]);
            let coarse = p.patient_from_voxel * Vector4::new(i as f64, j as f64, k as f64, 1.0);
            assert!((fine.coords - coarse.xyz()).norm() < 1e-9);
            let real = v.value_at(2 * i, 2 * j, 2 * k).expect("inside");
            let want = half::f16::from_f32(real as f32).to_f32();
            assert_eq!(p.value(i, j, k), Some(want));
        }
    }

    #[test]
    fn stored_integers_are_uploaded_as_they_are_and_read_back_exactly() {
        // Values above 2048 HU, where a 16-bit float steps by 2: the integers keep them.
        let mut v = ramp([20, 10, 6]);
        v.voxels.mapv_inplace(|x| x.saturating_mul(41));
        let limits = Limits {
            max_side: 2048,
            max_bytes: Limits::DEFAULT_BYTES,
        };
        let t = fit(&v, &limits, Encoding::Int16);
        let f = fit(&v, &limits, Encoding::Float16);
        assert_eq!(t.encoding, Encoding::Int16);
        let mut rounded = 0;
        for (i, j, k) in [(3, 2, 1), (19, 9, 5), (0, 0, 0), (11, 7, 4)] {
            let real = v.value_at(i, j, k).expect("inside") as f32;
            assert_eq!(t.value(i, j, k), Some(real));
            if f.value(i, j, k) != Some(real) {
                rounded += 1;
            }
        }
        assert!(
            rounded > 0,
            "the float texture should round some of these values"
        );
        assert_eq!(t.range, (-1024.0, 41.0 * (19 + 27 + 35) as f32 - 1024.0));
        assert_eq!(t.scale, v.value_scale);
        assert_eq!(f.scale, ValueScale::IDENTITY);

        // Averaged down: the mean of each block, rounded to the nearest stored integer.
        let small = Limits {
            max_side: 12,
            max_bytes: Limits::DEFAULT_BYTES,
        };
        let t = fit(&v, &small, Encoding::Int16);
        let centre = [2.0 * 4.0 + 0.5, 2.0 * 1.0 + 0.5, 2.0 * 2.0 + 0.5];
        let expected = 41.0 * (centre[0] + 3.0 * centre[1] + 7.0 * centre[2]) - 1024.0;
        assert!((f64::from(t.value(4, 1, 2).unwrap()) - expected).abs() <= 0.5);

        let p = preview(&v, 2, Encoding::Int16);
        assert_eq!(p.value(4, 2, 2), v.value_at(8, 4, 4).map(|x| x as f32));
    }

    #[test]
    fn texture_names_parse() {
        assert_eq!(Encoding::parse("int16"), Ok(Encoding::Int16));
        assert_eq!(Encoding::parse("float16"), Ok(Encoding::Float16));
        assert!(Encoding::parse("r8").is_err());
        for e in [Encoding::Int16, Encoding::Float16] {
            assert_eq!(Encoding::parse(e.name()), Ok(e));
        }
    }
}
