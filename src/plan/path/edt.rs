//! The exact Euclidean distance transform of a mask with anisotropic voxels: for every voxel
//! inside, the distance (mm) from its centre to the centre of the nearest voxel outside.
//! Separable (one pass per axis, Felzenszwalb–Huttenlocher's lower envelope of parabolas,
//! with the axis' own spacing), each pass parallel over its lines, in f64 throughout so the
//! result is exact to rounding. Everything beyond the array counts as outside (a vessel cut
//! by the edge of the scan has no room beyond it). Pure computation on `ndarray`: no
//! volume I/O, no viewer.

use ndarray::{Array3, ArrayViewMut1, Axis, Zip};

use crate::progress::Progress;

/// Squared distances (mm²) inside, 0 outside; `[k, j, i]` like the volume.
#[derive(Debug, Clone)]
pub struct DistanceMap {
    pub squared_mm2: Array3<f64>,
    /// Voxel spacing `[i, j, k]` (mm).
    pub spacing_mm: [f64; 3],
}

impl DistanceMap {
    /// Distance (mm) at voxel `[i, j, k]`; 0 outside the mask or the array.
    pub fn at(&self, [i, j, k]: [usize; 3]) -> f64 {
        self.squared_mm2.get((k, j, i)).map_or(0.0, |d| d.sqrt())
    }

    /// The largest distance and where (`[i, j, k]`), None for an empty mask.
    pub fn max(&self) -> Option<(f64, [usize; 3])> {
        let mut best: Option<(f64, [usize; 3])> = None;
        for ((k, j, i), &d) in self.squared_mm2.indexed_iter() {
            if d > 0.0 && best.is_none_or(|(b, _)| d > b) {
                best = Some((d, [i, j, k]));
            }
        }
        best.map(|(d, at)| (d.sqrt(), at))
    }
}

/// The distance transform of `inside` (`[k, j, i]`, non-zero = inside) with voxel spacing
/// `[i, j, k]` mm. Cancellable between passes.
pub fn distance_transform(
    inside: &Array3<u8>,
    spacing_mm: [f64; 3],
    progress: &Progress,
) -> Option<DistanceMap> {
    let mut d = inside.mapv(|v| if v != 0 { f64::INFINITY } else { 0.0 });
    // Axis 2 of the array is i (spacing[0]), axis 1 is j, axis 0 is k.
    for (axis, spacing) in [(2, spacing_mm[0]), (1, spacing_mm[1]), (0, spacing_mm[2])] {
        if progress.is_cancelled() {
            return None;
        }
        let n = d.len_of(Axis(axis));
        Zip::from(d.lanes_mut(Axis(axis))).par_for_each(|lane| {
            let mut scratch = Scratch::new(n);
            pass(lane, spacing, &mut scratch);
        });
    }
    Some(DistanceMap {
        squared_mm2: d,
        spacing_mm,
    })
}

/// Work space of one line's pass.
struct Scratch {
    f: Vec<f64>,
    /// Positions (in voxels, −1 and n being the outside beyond each end) of the parabolas in
    /// the lower envelope, and where each starts to be the lowest.
    sites: Vec<f64>,
    values: Vec<f64>,
    starts: Vec<f64>,
}

impl Scratch {
    fn new(n: usize) -> Scratch {
        Scratch {
            f: vec![0.0; n],
            sites: Vec::with_capacity(n + 2),
            values: Vec::with_capacity(n + 2),
            starts: Vec::with_capacity(n + 3),
        }
    }
}

/// One line: d(x) = min over sites q of (x − q)²·s² + f(q), the sites being the line's
/// voxels with a finite f and the outside just beyond both ends (f = 0).
fn pass(mut lane: ArrayViewMut1<f64>, spacing: f64, s: &mut Scratch) {
    let n = lane.len();
    if lane.iter().all(|&v| v == 0.0) {
        return;
    }
    for (x, v) in lane.iter().enumerate() {
        s.f[x] = *v;
    }
    s.sites.clear();
    s.values.clear();
    s.starts.clear();
    let s2 = spacing * spacing;
    let candidates = std::iter::once((-1.0, 0.0))
        .chain(
            (0..n)
                .filter(|&q| s.f[q].is_finite())
                .map(|q| (q as f64, s.f[q])),
        )
        .chain(std::iter::once((n as f64, 0.0)));
    for (q, fq) in candidates {
        // Where the parabola at q becomes lower than the last one kept.
        loop {
            let Some((&r, &fr)) = s.sites.last().zip(s.values.last()) else {
                s.sites.push(q);
                s.values.push(fq);
                s.starts.push(f64::NEG_INFINITY);
                break;
            };
            let cross = ((fq + q * q * s2) - (fr + r * r * s2)) / (2.0 * s2 * (q - r));
            let start = *s.starts.last().unwrap_or(&f64::NEG_INFINITY);
            if cross <= start {
                s.sites.pop();
                s.values.pop();
                s.starts.pop();
                continue;
            }
            s.sites.push(q);
            s.values.push(fq);
            s.starts.push(cross);
            break;
        }
    }
    let mut at = 0;
    for (x, out) in lane.iter_mut().enumerate() {
        let xf = x as f64;
        while at + 1 < s.sites.len() && s.starts[at + 1] < xf {
            at += 1;
        }
        let dx = xf - s.sites[at];
        *out = dx * dx * s2 + s.values[at];
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Distance from each voxel to the nearest outside voxel centre, the array padded by one
    /// outside layer, by trying them all.
    fn brute_force(inside: &Array3<u8>, s: [f64; 3]) -> Array3<f64> {
        let (nk, nj, ni) = inside.dim();
        let mut outside = Vec::new();
        for k in -1..=nk as i64 {
            for j in -1..=nj as i64 {
                for i in -1..=ni as i64 {
                    let inner = (0..nk as i64).contains(&k)
                        && (0..nj as i64).contains(&j)
                        && (0..ni as i64).contains(&i)
                        && inside[(k as usize, j as usize, i as usize)] != 0;
                    if !inner {
                        outside.push([i, j, k]);
                    }
                }
            }
        }
        Array3::from_shape_fn((nk, nj, ni), |(k, j, i)| {
            if inside[(k, j, i)] == 0 {
                return 0.0;
            }
            outside
                .iter()
                .map(|o| {
                    let d = [
                        (o[0] - i as i64) as f64 * s[0],
                        (o[1] - j as i64) as f64 * s[1],
                        (o[2] - k as i64) as f64 * s[2],
                    ];
                    d[0] * d[0] + d[1] * d[1] + d[2] * d[2]
                })
                .fold(f64::INFINITY, f64::min)
        })
    }

    /// A small deterministic generator (no test may depend on chance).
    fn lcg(state: &mut u64) -> u64 {
        *state = state
            .wrapping_mul(6_364_136_223_846_793_005)
            .wrapping_add(1_442_695_040_888_963_407);
        *state >> 33
    }

    #[test]
    fn equals_a_brute_force_transform_on_random_anisotropic_masks() {
        let mut seed = 7u64;
        for case in 0..40 {
            let dims = [
                3 + lcg(&mut seed) as usize % 14,
                3 + lcg(&mut seed) as usize % 12,
                2 + lcg(&mut seed) as usize % 10,
            ];
            let spacing = [
                0.3 + (lcg(&mut seed) % 1000) as f64 / 400.0,
                0.3 + (lcg(&mut seed) % 1000) as f64 / 400.0,
                0.5 + (lcg(&mut seed) % 1000) as f64 / 250.0,
            ];
            // From sparse to nearly full, with blobs.
            let fill = lcg(&mut seed) % 100;
            let inside = Array3::from_shape_fn((dims[2], dims[1], dims[0]), |_| {
                u8::from(lcg(&mut seed) % 100 < fill)
            });
            let got = distance_transform(&inside, spacing, &Progress::new()).expect("runs");
            let want = brute_force(&inside, spacing);
            for (g, w) in got.squared_mm2.iter().zip(want.iter()) {
                assert!(
                    (g.sqrt() - w.sqrt()).abs() < 1e-9,
                    "case {case} {dims:?} {spacing:?}: {} vs {}",
                    g.sqrt(),
                    w.sqrt()
                );
            }
        }
    }

    #[test]
    fn a_cylinder_is_deepest_on_its_axis() {
        // A cylinder of radius 10 mm along k, 0.5 mm voxels in-plane, 2 mm slices.
        let (n, r) = (61usize, 10.0);
        let c = (n - 1) as f64 / 2.0;
        let inside = Array3::from_shape_fn((12, n, n), |(_, j, i)| {
            let (x, y) = ((i as f64 - c) * 0.5, (j as f64 - c) * 0.5);
            u8::from((x * x + y * y).sqrt() <= r)
        });
        let d = distance_transform(&inside, [0.5, 0.5, 2.0], &Progress::new()).expect("runs");
        let (max, at) = d.max().expect("not empty");
        assert_eq!([at[0], at[1]], [30, 30]);
        // The nearest outside voxel centre lies just beyond the radius (within a voxel),
        // and the ends of the array (outside beyond them) bound the first and last slices.
        assert!((r..r + 0.5).contains(&max), "{max}");
        assert!((d.at([30, 30, 0]) - 2.0).abs() < 1e-12);
        assert_eq!(d.at([0, 0, 5]), 0.0);
    }

    #[test]
    fn a_cancelled_transform_stops() {
        let p = Progress::new();
        p.cancel();
        assert!(distance_transform(&Array3::ones((4, 4, 4)), [1.0; 3], &p).is_none());
    }
}
