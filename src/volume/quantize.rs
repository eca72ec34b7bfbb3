//! Mapping stored pixel samples to the `i16` voxels of a [`Volume`](super::Volume).
//!
//! Scanners store integers of many widths and signs with a linear rescale (DICOM
//! RescaleSlope/Intercept, NIfTI scl_slope/scl_inter). We keep real-world values exact
//! wherever that is possible: integer rescales (CT → HU) are applied to the samples; other
//! rescales are kept as the volume's [`ValueScale`]; only when slices disagree on a
//! non-integer rescale are values re-quantised to a common step, with a warning.
//! Pure arithmetic: no file formats, no I/O.

use super::{ValueScale, VolumeWarning};

/// A linear rescale as written in a file: `real = slope * raw + intercept`.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Rescale {
    pub slope: f64,
    pub intercept: f64,
}

impl Default for Rescale {
    fn default() -> Self {
        Rescale {
            slope: 1.0,
            intercept: 0.0,
        }
    }
}

/// How one slice's raw samples become stored voxels: `stored = raw * a + c`, rounded and
/// saturated to `i16`. `integer` marks the exact integer case (the fast path).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct SliceMap {
    pub a: f64,
    pub c: f64,
    pub integer: bool,
}

impl SliceMap {
    fn new(a: f64, c: f64) -> SliceMap {
        SliceMap {
            a,
            c,
            integer: a.fract() == 0.0 && c.fract() == 0.0 && a.abs() < 65536.0 && c.abs() < 1e9,
        }
    }

    /// Maps one raw sample; returns the stored value and whether it had to be clipped.
    #[inline(always)]
    pub fn map(&self, raw: i64) -> (i16, bool) {
        let v = if self.integer {
            raw * self.a as i64 + self.c as i64
        } else {
            (raw as f64 * self.a + self.c).round() as i64
        };
        let clipped = v.clamp(i16::MIN as i64, i16::MAX as i64);
        (clipped as i16, clipped != v)
    }
}

/// The chosen mapping for a whole stack: one [`SliceMap`] per slice and the value scale
/// that turns stored voxels back into real values.
#[derive(Debug, Clone, PartialEq)]
pub struct QuantizePlan {
    pub slices: Vec<SliceMap>,
    pub value_scale: ValueScale,
    pub warning: Option<VolumeWarning>,
}

fn fits_i16(lo: f64, hi: f64) -> bool {
    lo >= i16::MIN as f64 && hi <= i16::MAX as f64
}

fn is_integer(x: f64) -> bool {
    x.fract() == 0.0 && x.abs() < 1e9
}

/// Chooses how to store a stack whose slice `n` has rescale `rescales[n]` and raw samples
/// within `raw_ranges[n]` (inclusive).
pub fn plan(rescales: &[Rescale], raw_ranges: &[(i64, i64)]) -> QuantizePlan {
    let n = rescales.len().min(raw_ranges.len());
    let rescales = &rescales[..n];
    let raw_ranges = &raw_ranges[..n];
    let raw_lo = raw_ranges.iter().map(|r| r.0).min().unwrap_or(0);
    let raw_hi = raw_ranges.iter().map(|r| r.1).max().unwrap_or(0);
    let real_range = |r: &Rescale, (lo, hi): (i64, i64)| {
        let a = r.slope * lo as f64 + r.intercept;
        let b = r.slope * hi as f64 + r.intercept;
        (a.min(b), a.max(b))
    };
    let all_integer = rescales
        .iter()
        .all(|r| is_integer(r.slope) && is_integer(r.intercept));
    let real_fits = rescales.iter().zip(raw_ranges).all(|(r, &rr)| {
        let (lo, hi) = real_range(r, rr);
        fits_i16(lo, hi)
    });
    // 1. Integer rescales whose results fit: apply them, voxels hold real values (HU).
    if all_integer && real_fits {
        return QuantizePlan {
            slices: rescales
                .iter()
                .map(|r| SliceMap::new(r.slope, r.intercept))
                .collect(),
            value_scale: ValueScale::IDENTITY,
            warning: None,
        };
    }
    let first = rescales.first().copied().unwrap_or_default();
    let uniform = rescales.iter().all(|r| {
        (r.slope - first.slope).abs() <= 1e-12 * first.slope.abs().max(1.0)
            && (r.intercept - first.intercept).abs() <= 1e-9 * first.intercept.abs().max(1.0)
    });
    // 2. One common rescale: keep raw samples (shifted if needed) and carry the scale.
    if uniform && first.slope != 0.0 {
        if fits_i16(raw_lo as f64, raw_hi as f64) {
            return QuantizePlan {
                slices: vec![SliceMap::new(1.0, 0.0); n],
                value_scale: ValueScale {
                    slope: first.slope,
                    intercept: first.intercept,
                },
                warning: None,
            };
        }
        if raw_hi - raw_lo <= 65535 {
            let offset = raw_lo + 32768;
            return QuantizePlan {
                slices: vec![SliceMap::new(1.0, -(offset as f64)); n],
                value_scale: ValueScale {
                    slope: first.slope,
                    intercept: first.intercept + first.slope * offset as f64,
                },
                warning: None,
            };
        }
    }
    // 3. Differing rescales (or a range wider than 16 bits): re-quantise real values.
    let (mut lo, mut hi) = (f64::INFINITY, f64::NEG_INFINITY);
    for (r, &rr) in rescales.iter().zip(raw_ranges) {
        let (a, b) = real_range(r, rr);
        lo = lo.min(a);
        hi = hi.max(b);
    }
    if !lo.is_finite() || !hi.is_finite() {
        lo = 0.0;
        hi = 0.0;
    }
    let step = if hi > lo { (hi - lo) / 65535.0 } else { 1.0 };
    let base = lo + 32768.0 * step;
    QuantizePlan {
        slices: rescales
            .iter()
            .map(|r| SliceMap::new(r.slope / step, (r.intercept - base) / step))
            .collect(),
        value_scale: ValueScale {
            slope: step,
            intercept: base,
        },
        warning: Some(VolumeWarning::RescaleRequantized { step }),
    }
}

/// Sign-extends or masks a raw stored sample according to BitsStored and PixelRepresentation
/// (the unused high bits of a 12-bit sample may hold anything).
#[inline(always)]
pub fn normalize_stored(raw: u32, bits_stored: u16, signed: bool) -> i64 {
    let bits = u32::from(bits_stored.clamp(1, 32));
    let v = if bits >= 32 {
        u64::from(raw)
    } else {
        u64::from(raw & ((1u32 << bits) - 1))
    };
    if signed && (v >> (bits - 1)) & 1 == 1 {
        v as i64 - (1i64 << bits)
    } else {
        v as i64
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ct_integer_rescale_is_applied() {
        let p = plan(
            &[Rescale {
                slope: 1.0,
                intercept: -1024.0,
            }; 3],
            &[(0, 4095); 3],
        );
        assert_eq!(p.value_scale, ValueScale::IDENTITY);
        assert_eq!(p.slices[0].map(0), (-1024, false));
        assert_eq!(p.slices[2].map(4095), (3071, false));
        assert!(p.warning.is_none());
    }

    #[test]
    fn fractional_slope_keeps_raw_and_scale() {
        let r = Rescale {
            slope: 1.2345,
            intercept: 0.5,
        };
        let p = plan(&[r; 2], &[(0, 3000); 2]);
        assert_eq!(p.slices[0].map(3000), (3000, false));
        assert!((p.value_scale.real(3000) - (3000.0 * 1.2345 + 0.5)).abs() < 1e-9);
    }

    #[test]
    fn wide_unsigned_is_shifted_losslessly() {
        let p = plan(&[Rescale::default()], &[(0, 65535)]);
        for raw in [0i64, 1, 32767, 32768, 65535] {
            let (s, clipped) = p.slices[0].map(raw);
            assert!(!clipped);
            assert_eq!(p.value_scale.real(s), raw as f64);
        }
    }

    #[test]
    fn differing_rescales_requantize_within_half_step() {
        let rs = [
            Rescale {
                slope: 0.73,
                intercept: 0.0,
            },
            Rescale {
                slope: 1.91,
                intercept: 3.0,
            },
        ];
        let p = plan(&rs, &[(0, 4000), (0, 4000)]);
        let step = p.value_scale.slope;
        assert!(matches!(
            p.warning,
            Some(VolumeWarning::RescaleRequantized { .. })
        ));
        for (n, r) in rs.iter().enumerate() {
            for raw in [0i64, 17, 2001, 4000] {
                let (s, clipped) = p.slices[n].map(raw);
                assert!(!clipped);
                let real = r.slope * raw as f64 + r.intercept;
                assert!((p.value_scale.real(s) - real).abs() <= step * 0.5 + 1e-9);
            }
        }
    }

    #[test]
    fn twelve_bit_sign_and_mask() {
        assert_eq!(normalize_stored(0xF0F0 & 0xFFFF, 12, false), 0x0F0);
        assert_eq!(normalize_stored(0xFFFF, 12, true), -1);
        assert_eq!(normalize_stored(0x0F0F, 12, true), -241);
        assert_eq!(normalize_stored(0x0F0F, 12, false), 3855);
        assert_eq!(normalize_stored(0x8000, 16, true), -32768);
        assert_eq!(normalize_stored(0xFF, 8, false), 255);
    }
}
