//! The exact Euclidean distance transform of a mask with anisotropic voxels: for every voxel
//! inside, the distance (mm) from its centre to the centre of the nearest voxel outside, and
//! which voxel that is (the feature transform, what makes the distance at any point between
//! voxel centres cheap). Separable (one pass per axis, Felzenszwalb–Huttenlocher's lower
//! envelope of parabolas, with the axis' own spacing), each pass parallel over its lines and
//! working only on the runs of inside voxels (an outside voxel is its own nearest, so a run
//! needs only the two outside voxels that bound it), in f64 throughout so the result is exact
//! to rounding. Everything beyond the array counts as outside (a vessel cut by the edge of the
//! scan has no room beyond it). Pure computation on `ndarray`: no volume I/O, no viewer.

use ndarray::{Array3, ArrayView1, ArrayViewMut1, Axis, Zip};

use crate::progress::Progress;

/// Squared distances (mm²) inside, 0 outside; `[k, j, i]` like the volume.
#[derive(Debug, Clone)]
pub struct DistanceMap {
    pub squared_mm2: Array3<f64>,
    /// Voxel spacing `[i, j, k]` (mm).
    pub spacing_mm: [f64; 3],
    /// For each voxel inside, the nearest voxel outside, as an index into the grid padded
    /// by one voxel on every side (see [`DistanceMap::nearest_outside`]); 0 outside.
    nearest: Array3<u32>,
}

/// The grid padded by one voxel each side, and the linear index of `[i, j, k]` in it
/// (−1 and n being the outside just beyond the array).
#[derive(Debug, Clone, Copy)]
struct Padded {
    ni: i64,
    nj: i64,
}

impl Padded {
    fn index(&self, [i, j, k]: [i64; 3]) -> u32 {
        (((k + 1) * (self.nj + 2) + (j + 1)) * (self.ni + 2) + (i + 1)) as u32
    }

    fn voxel(&self, n: u32) -> [i64; 3] {
        let n = n as i64;
        let (w, h) = (self.ni + 2, self.nj + 2);
        [n % w - 1, (n / w) % h - 1, n / (w * h) - 1]
    }
}

impl DistanceMap {
    /// Distance (mm) at voxel `[i, j, k]`; 0 outside the mask or the array.
    pub fn at(&self, [i, j, k]: [usize; 3]) -> f64 {
        self.squared_mm2.get((k, j, i)).map_or(0.0, |d| d.sqrt())
    }

    /// The voxel outside the mask nearest to voxel `[i, j, k]`'s centre (the voxel itself
    /// when it is outside; −1 or n along an axis for the outside beyond the array). None
    /// off the array.
    pub fn nearest_outside(&self, [i, j, k]: [usize; 3]) -> Option<[i64; 3]> {
        let (_, nj, ni) = self.squared_mm2.dim();
        let padded = Padded {
            ni: ni as i64,
            nj: nj as i64,
        };
        let outside = *self.squared_mm2.get((k, j, i))? == 0.0;
        let at = [i, j, k].map(|x| x as i64);
        self.nearest
            .get((k, j, i))
            .map(|&n| if outside { at } else { padded.voxel(n) })
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

/// The largest padded grid (voxels) the feature indices (u32) can address.
pub const MAX_PADDED_VOXELS: usize = u32::MAX as usize;

/// The distance transform of `inside` (`[k, j, i]`, non-zero = inside) with voxel spacing
/// `[i, j, k]` mm. Cancellable between passes. None when cancelled, or when the grid padded
/// by a voxel each side holds more than [`MAX_PADDED_VOXELS`].
pub fn distance_transform(
    inside: &Array3<u8>,
    spacing_mm: [f64; 3],
    progress: &Progress,
) -> Option<DistanceMap> {
    let (nk, nj, ni) = inside.dim();
    if (ni + 2) * (nj + 2) * (nk + 2) > MAX_PADDED_VOXELS {
        return None;
    }
    let padded = Padded {
        ni: ni as i64,
        nj: nj as i64,
    };
    // The first pass writes every inside voxel; outside stays 0.
    let mut d = Array3::<f64>::zeros((nk, nj, ni));
    // Set for the inside voxels by the passes; an outside voxel is its own nearest.
    let mut nearest = Array3::<u32>::zeros((nk, nj, ni));
    // Axis 2 of the array is i (spacing[0]), axis 1 is j, axis 0 is k.
    for (axis, spacing) in [(2, spacing_mm[0]), (1, spacing_mm[1]), (0, spacing_mm[2])] {
        if progress.is_cancelled() {
            return None;
        }
        let first = axis == 2;
        Zip::indexed(d.lanes_mut(Axis(axis)))
            .and(nearest.lanes_mut(Axis(axis)))
            .and(inside.lanes(Axis(axis)))
            .par_for_each(|(a, b), lane, features, mask| {
                // The lane's voxel at position x along the axis, for the outside beyond it.
                let voxel = |x: i64| -> [i64; 3] {
                    let (a, b) = (a as i64, b as i64);
                    match axis {
                        2 => [x, b, a],
                        1 => [b, x, a],
                        _ => [b, a, x],
                    }
                };
                let mut scratch = Scratch::new();
                let line = Line {
                    mask,
                    first,
                    spacing,
                };
                pass(lane, features, &line, &mut scratch, |x| {
                    padded.index(voxel(x))
                });
            });
    }
    Some(DistanceMap {
        squared_mm2: d,
        spacing_mm,
        nearest,
    })
}

/// Work space of one line's pass.
struct Scratch {
    /// Positions of the parabolas in the lower envelope (in voxels along the line), their
    /// values, their nearest outside voxels, and where each starts to be the lowest.
    sites: Vec<f64>,
    values: Vec<f64>,
    features: Vec<u32>,
    starts: Vec<f64>,
}

impl Scratch {
    /// Empty: a line without inside voxels allocates nothing.
    fn new() -> Scratch {
        Scratch {
            sites: Vec::new(),
            values: Vec::new(),
            features: Vec::new(),
            starts: Vec::new(),
        }
    }

    /// Adds the parabola at `q` (value `fq`) to the lower envelope, dropping those it hides.
    fn add(&mut self, q: f64, fq: f64, feature: u32, s2: f64) {
        loop {
            let Some((&r, &fr)) = self.sites.last().zip(self.values.last()) else {
                self.push(q, fq, feature, f64::NEG_INFINITY);
                return;
            };
            // Where the parabola at q becomes lower than the last one kept.
            let cross = ((fq + q * q * s2) - (fr + r * r * s2)) / (2.0 * s2 * (q - r));
            let start = *self.starts.last().unwrap_or(&f64::NEG_INFINITY);
            if cross > start {
                self.push(q, fq, feature, cross);
                return;
            }
            self.sites.pop();
            self.values.pop();
            self.features.pop();
            self.starts.pop();
        }
    }

    fn push(&mut self, q: f64, fq: f64, feature: u32, start: f64) {
        self.sites.push(q);
        self.values.push(fq);
        self.features.push(feature);
        self.starts.push(start);
    }
}

/// What a pass knows of its line besides the values: which voxels are inside, whether it
/// is the first pass (every inside value still unknown: only the bounding outside voxels
/// are sites), and the spacing along it (mm).
struct Line<'a> {
    mask: ArrayView1<'a, u8>,
    first: bool,
    spacing: f64,
}

/// One line: for each run of inside voxels, d(x) = min over sites q of (x − q)²·s² + f(q),
/// the sites being the run's voxels and the two outside voxels that bound it (f = 0; any
/// outside voxel beyond them is farther with the same f). `outside(x)` is the feature of
/// the outside voxel at position x (−1 … n) of the line. Runs are found in the mask (a
/// byte per voxel), so a line's outside costs little.
fn pass(
    mut lane: ArrayViewMut1<f64>,
    mut features: ArrayViewMut1<u32>,
    line: &Line,
    s: &mut Scratch,
    outside: impl Fn(i64) -> u32,
) {
    let n = lane.len();
    let s2 = line.spacing * line.spacing;
    let mask = &line.mask;
    let mut x = 0;
    while x < n {
        if mask[x] == 0 {
            x += 1;
            continue;
        }
        let first = x;
        while x < n && mask[x] != 0 {
            x += 1;
        }
        let end = x;
        s.sites.clear();
        s.values.clear();
        s.features.clear();
        s.starts.clear();
        let before = first as i64 - 1;
        s.add(before as f64, 0.0, outside(before), s2);
        if !line.first {
            for q in first..end {
                s.add(q as f64, lane[q], features[q], s2);
            }
        }
        s.add(end as f64, 0.0, outside(end as i64), s2);
        let mut at = 0;
        for y in first..end {
            let yf = y as f64;
            while at + 1 < s.sites.len() && s.starts[at + 1] < yf {
                at += 1;
            }
            let dy = yf - s.sites[at];
            lane[y] = dy * dy * s2 + s.values[at];
            features[y] = s.features[at];
        }
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
            for ((k, j, i), w) in want.indexed_iter() {
                let g = got.squared_mm2[(k, j, i)];
                assert!(
                    (g.sqrt() - w.sqrt()).abs() < 1e-9,
                    "case {case} {dims:?} {spacing:?}: {} vs {}",
                    g.sqrt(),
                    w.sqrt()
                );
                // The nearest outside voxel is one at that distance, and outside.
                let o = got.nearest_outside([i, j, k]).expect("on the grid");
                let e = [
                    (o[0] - i as i64) as f64 * spacing[0],
                    (o[1] - j as i64) as f64 * spacing[1],
                    (o[2] - k as i64) as f64 * spacing[2],
                ];
                let to = (e[0] * e[0] + e[1] * e[1] + e[2] * e[2]).sqrt();
                assert!((to - w.sqrt()).abs() < 1e-9, "case {case}: feature at {to}");
                let in_array = (0..3).all(|a| (0..dims[a] as i64).contains(&o[a]));
                assert!(
                    !in_array || inside[(o[2] as usize, o[1] as usize, o[0] as usize)] == 0,
                    "case {case}: the nearest outside voxel {o:?} is inside"
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
