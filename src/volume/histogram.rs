//! Value histograms of a volume: one bin per stored `i16` sample, read in real units (HU for
//! CT) through the volume's value scale. What the viewer's defaults are decided from —
//! percentiles for the automatic window, Otsu's threshold for an MR outline, the shape of a
//! CT histogram (air, soft tissue, a contrast peak). Large volumes are sampled with a fixed
//! stride, so a histogram costs milliseconds. Depends on `volume` only.

use rayon::prelude::*;

use super::{ValueScale, Volume};

/// Counts of stored samples, `counts[s + 32768]` for stored value `s`.
#[derive(Debug, Clone)]
pub struct Histogram {
    counts: Vec<u64>,
    pub total: u64,
    scale: ValueScale,
}

/// Samples looked at, at most (a stride keeps larger volumes to about this many).
const MAX_SAMPLES: usize = 8 << 20;

impl Histogram {
    /// The histogram of a volume's samples (every `n`-th sample for large volumes).
    pub fn of(volume: &Volume) -> Histogram {
        let data: Vec<i16>;
        let samples: &[i16] = match volume.voxels.as_slice() {
            Some(s) => s,
            None => {
                data = volume.voxels.iter().copied().collect();
                &data
            }
        };
        let stride = samples.len().div_ceil(MAX_SAMPLES).max(1);
        let counts = samples
            .par_chunks(1 << 16)
            .fold(
                || vec![0u64; 1 << 16],
                |mut acc, chunk| {
                    // Every `stride`-th sample of each chunk: uniform enough for
                    // percentiles and thresholds.
                    for &v in chunk.iter().step_by(stride) {
                        acc[(i32::from(v) + 32768) as usize] += 1;
                    }
                    acc
                },
            )
            .reduce(
                || vec![0u64; 1 << 16],
                |mut a, b| {
                    a.iter_mut().zip(&b).for_each(|(x, y)| *x += y);
                    a
                },
            );
        let total = counts.iter().sum();
        Histogram {
            counts,
            total,
            scale: volume.value_scale,
        }
    }

    /// Real value of a bin.
    fn real(&self, bin: usize) -> f64 {
        self.scale.real((bin as i32 - 32768) as i16)
    }

    /// Bins in increasing order of real value (reversed for a negative slope).
    fn ordered(&self) -> Box<dyn Iterator<Item = (f64, u64)> + '_> {
        let it = self
            .counts
            .iter()
            .enumerate()
            .filter(|(_, c)| **c > 0)
            .map(|(b, c)| (self.real(b), *c));
        if self.scale.slope < 0.0 {
            Box::new(it.rev())
        } else {
            Box::new(it)
        }
    }

    /// The real value below which a fraction `q` of the samples lie.
    pub fn quantile(&self, q: f64) -> f64 {
        let want = (q.clamp(0.0, 1.0) * self.total as f64).ceil().max(1.0) as u64;
        let mut seen = 0;
        let mut last = 0.0;
        for (v, c) in self.ordered() {
            seen += c;
            last = v;
            if seen >= want {
                return v;
            }
        }
        last
    }

    /// Fraction of the samples whose real value lies in `[lo, hi]`.
    pub fn fraction_in(&self, lo: f64, hi: f64) -> f64 {
        if self.total == 0 {
            return 0.0;
        }
        let n: u64 = self
            .ordered()
            .filter(|(v, _)| *v >= lo && *v <= hi)
            .map(|(_, c)| c)
            .sum();
        n as f64 / self.total as f64
    }

    /// The most common real value and its share of the samples.
    pub fn mode(&self) -> Option<(f64, f64)> {
        let (bin, &c) = self.counts.iter().enumerate().max_by_key(|(_, c)| **c)?;
        (c > 0).then(|| (self.real(bin), c as f64 / self.total as f64))
    }

    /// Whether every sample holds a whole number in real units (CT in HU, raw MR).
    pub fn integer_valued(&self) -> bool {
        let s = self.scale;
        let whole = |x: f64| (x - x.round()).abs() < 1e-9;
        whole(s.slope) && whole(s.intercept)
    }

    /// Counts in bins of `width` real units from `lo` to `hi` (the last bin may be short).
    pub fn binned(&self, lo: f64, hi: f64, width: f64) -> Vec<u64> {
        let n = (((hi - lo) / width).ceil().max(0.0) as usize).min(100_000);
        let mut out = vec![0u64; n];
        for (v, c) in self.ordered() {
            if v >= lo && v < hi {
                let b = (((v - lo) / width) as usize).min(n.saturating_sub(1));
                out[b] += c;
            }
        }
        out
    }

    /// Otsu's threshold: the real value that best splits the samples into two classes
    /// (largest between-class variance). `None` for a constant volume.
    pub fn otsu(&self) -> Option<f64> {
        let bins: Vec<(f64, u64)> = self.ordered().collect();
        if bins.len() < 2 {
            return None;
        }
        let total = self.total as f64;
        let sum_all: f64 = bins.iter().map(|(v, c)| v * *c as f64).sum();
        let (mut w0, mut sum0) = (0.0f64, 0.0f64);
        let mut best = (f64::NEG_INFINITY, bins[0].0);
        for pair in bins.windows(2) {
            let (v, c) = pair[0];
            w0 += c as f64;
            sum0 += v * c as f64;
            let w1 = total - w0;
            if w0 == 0.0 || w1 == 0.0 {
                continue;
            }
            let m0 = sum0 / w0;
            let m1 = (sum_all - sum0) / w1;
            let between = w0 * w1 * (m0 - m1).powi(2);
            if between > best.0 {
                // Split half way between this value and the next one up.
                best = (between, 0.5 * (v + pair[1].0));
            }
        }
        Some(best.1)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::volume::Geometry;
    use ndarray::Array3;

    fn volume(values: impl Fn(usize) -> i16) -> Volume {
        let vox = Array3::from_shape_fn((10, 10, 10), |(k, j, i)| values(k * 100 + j * 10 + i));
        Volume::new(
            vox,
            Geometry::axis_aligned([10, 10, 10], [1.0; 3], [0.0; 3]),
        )
        .expect("shape")
    }

    #[test]
    fn quantiles_fractions_and_mode() {
        // Values 0..999, each once.
        let v = volume(|n| n as i16);
        let h = Histogram::of(&v);
        assert_eq!(h.total, 1000);
        assert_eq!(h.quantile(0.0), 0.0);
        assert_eq!(h.quantile(0.5), 499.0);
        assert_eq!(h.quantile(1.0), 999.0);
        assert!((h.fraction_in(100.0, 199.0) - 0.1).abs() < 1e-12);
        assert!(h.integer_valued());
        let binned = h.binned(0.0, 1000.0, 100.0);
        assert_eq!(binned, vec![100; 10]);
        // A negative slope reverses the order of real values.
        let mut flipped = volume(|n| n as i16);
        flipped.value_scale = ValueScale {
            slope: -0.5,
            intercept: 0.0,
        };
        let h = Histogram::of(&flipped);
        assert_eq!(h.quantile(0.0), -499.5);
        assert!(!h.integer_valued());
    }

    #[test]
    fn otsu_splits_two_classes() {
        // 300 samples at 100 ± 10, 700 at 900 ± 10: the split lies between the classes.
        let v = volume(|n| {
            if n < 300 {
                90 + (n % 21) as i16
            } else {
                890 + (n % 21) as i16
            }
        });
        let t = Histogram::of(&v).otsu().expect("two classes");
        assert!(t > 110.0 && t < 890.0, "{t}");
        let (mode, share) = Histogram::of(&volume(|_| 7)).mode().expect("mode");
        assert_eq!((mode, share), (7.0, 1.0));
        assert!(Histogram::of(&volume(|_| 7)).otsu().is_none());
    }
}
