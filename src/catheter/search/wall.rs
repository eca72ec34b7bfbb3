//! What lies between a lumen's voxels and its wall: the image kept over the lumen's crop,
//! so cross-sections find the wall between voxel centres ([`Lumen::inside_wall`]), and the
//! narrowest passage a path between two points cannot avoid ([`Lumen::narrowest_passage`],
//! the widest way's bottleneck), which names why a stop is out of a device's reach; and
//! where a clicked stop lands in the lumen ([`Lumen::snap`]). Part
//! of the search's [`Lumen`]; no viewer, no I/O.

use nalgebra::Point3;
use ndarray::Array3;

use super::{Lumen, PathError, SNAP_TOLERANCE_MM};
use crate::geometry::P;

/// The narrowest point of the widest way between two points of a lumen.
#[derive(Debug, Clone, PartialEq)]
pub struct Passage {
    pub at_lps_mm: P,
    /// Its inscribed diameter (mm), as the path's figures measure it at a voxel centre.
    pub diameter_mm: f64,
    /// How far along that way from its start (mm).
    pub from_start_mm: f64,
}

/// The image over a lumen's crop (`[k, j, i]` like `inside`) and the level of its wall.
#[derive(Debug)]
pub struct Boundary {
    pub(super) values: Array3<f32>,
    pub level: f64,
}

impl Lumen {
    /// Draws the wall where `volume`'s values fall below `level` (the lumen's half-way
    /// between background and contrast) within the lumen's crop: cross-sections then
    /// follow the image between voxel centres rather than the mask's steps.
    pub fn set_boundary(&mut self, volume: &crate::volume::Volume, level: f64) {
        let (bk, bj, bi) = self.inside.dim();
        let o = self.offset;
        let (nk, nj, ni) = volume.voxels.dim();
        if o[2] + bk > nk || o[1] + bj > nj || o[0] + bi > ni {
            // Another volume than the lumen's: the mask's own edge stays the wall.
            return;
        }
        let scale = volume.value_scale;
        let values: Array3<f32> = volume
            .voxels
            .slice(ndarray::s![
                o[2]..o[2] + bk,
                o[1]..o[1] + bj,
                o[0]..o[0] + bi
            ])
            .mapv(|raw| scale.real(raw) as f32);
        self.boundary = Some(std::sync::Arc::new(Boundary { values, level }));
    }

    /// The boundary level set by [`Lumen::set_boundary`].
    pub fn boundary_level(&self) -> Option<f64> {
        self.boundary.as_ref().map(|b| b.level)
    }

    /// Whether a point lies within the lumen's wall: the mask, interpolated between voxel
    /// centres, at least one half there; and, within the voxel next to the mask's edge
    /// where the image is kept, the image at least its boundary level (deeper in, a dark
    /// speck — a flap's edge, a streak — does not end the lumen).
    pub fn inside_wall(&self, p: &Point3<f64>) -> bool {
        let g = self.geometry.ijk_from_patient(p);
        let mask = crate::geometry::trilinear(g, |v| f64::from(u8::from(self.contains(v))));
        if mask < 0.5 {
            return false;
        }
        let Some(b) = &self.boundary else {
            return true;
        };
        if mask >= 1.0 - 1e-9 {
            return true;
        }
        let o = self.offset;
        let local = [0, 1, 2].map(|a| g[a] - o[a] as f64);
        crate::geometry::trilinear(local, |v| {
            b.values
                .get((v[2], v[1], v[0]))
                .map_or(f64::NEG_INFINITY, |x| f64::from(*x))
        }) >= b.level
    }

    /// The narrowest point of the widest way from `from` to `to` through the lumen (every
    /// lumen voxel, whatever the floor): the passage a path between them cannot avoid.
    /// None when they are not joined at all.
    pub fn narrowest_passage(&self, from: [usize; 3], to: [usize; 3]) -> Option<Passage> {
        use std::collections::BinaryHeap;
        let d = self.dims();
        let (a, b) = (self.local(from)?, self.local(to)?);
        let index = |v: [usize; 3]| (v[2] * d[1] + v[1]) * d[0] + v[0];
        let voxel = |x: usize| [x % d[0], (x / d[0]) % d[1], x / (d[0] * d[1])];
        let d2 = self.distance.squared_mm2.as_slice()?;
        if d2[index(a)] <= 0.0 || d2[index(b)] <= 0.0 {
            return None;
        }
        // Max-heap on the bottleneck so far (squared distances, f32 bits order as numbers).
        let key = |x: f64| (x as f32).to_bits();
        let mut best = vec![0u32; d2.len()];
        let mut came = vec![u32::MAX; d2.len()];
        let mut done = vec![false; d2.len()];
        let mut open = BinaryHeap::new();
        best[index(a)] = key(d2[index(a)]);
        open.push((best[index(a)], index(a) as u32));
        let goal = index(b);
        while let Some((k, x)) = open.pop() {
            let x = x as usize;
            if done[x] || k < best[x] {
                continue;
            }
            done[x] = true;
            if x == goal {
                break;
            }
            let v = voxel(x);
            for o in 0..27 {
                let off = [o % 3, (o / 3) % 3, o / 9];
                if off == [1, 1, 1] {
                    continue;
                }
                let w = [0, 1, 2].map(|c| (v[c] + off[c]).wrapping_sub(1));
                if (0..3).any(|c| w[c] >= d[c]) {
                    continue;
                }
                let y = index(w);
                if d2[y] <= 0.0 || done[y] {
                    continue;
                }
                let through = k.min(key(d2[y]));
                if through > best[y] {
                    best[y] = through;
                    came[y] = x as u32;
                    open.push((through, y as u32));
                }
            }
        }
        if !done[goal] {
            return None;
        }
        let mut route = vec![goal];
        while let Some(&last) = route.last() {
            if last == index(a) || came[last] == u32::MAX {
                break;
            }
            route.push(came[last] as usize);
        }
        route.reverse();
        let s = self.distance.spacing_mm;
        let (mut along, mut at_mm, mut narrow) = (0.0, 0.0, (f64::INFINITY, index(a)));
        for (n, &x) in route.iter().enumerate() {
            if n > 0 {
                let (p, q) = (voxel(route[n - 1]), voxel(x));
                along += (0..3)
                    .map(|c| ((p[c] as f64 - q[c] as f64) * s[c]).powi(2))
                    .sum::<f64>()
                    .sqrt();
            }
            if d2[x] < narrow.0 {
                narrow = (d2[x], x);
                at_mm = along;
            }
        }
        let v = self.global(voxel(narrow.1));
        Some(Passage {
            at_lps_mm: self.position(v),
            diameter_mm: self.diameter_at(v),
            from_start_mm: at_mm,
        })
    }
    /// The lumen voxel for a point: the one containing it, or the nearest within
    /// [`SNAP_TOLERANCE_MM`].
    pub fn snap(&self, p: P, which: &str) -> Result<[usize; 3], PathError> {
        let ijk = self.geometry.ijk_from_patient(&Point3::from(p));
        let s = self.geometry.spacing_mm;
        // At most 32 voxels each way (sub-0.1 mm voxels would otherwise make a huge box).
        let reach = [0, 1, 2].map(|a| ((SNAP_TOLERANCE_MM / s[a]).ceil() as i64 + 1).min(32));
        let dims = self.geometry.dims;
        // A point far off the grid has no lumen voxel near it (and its index would not fit).
        let near_grid = (0..3).all(|a| {
            ijk[a].is_finite()
                && ijk[a] >= -(reach[a] as f64)
                && ijk[a] <= (dims[a] as i64 + reach[a]) as f64
        });
        let centre = ijk.map(|x| x.round() as i64);
        let mut best: Option<(f64, [usize; 3])> = None;
        // The widest lumen voxel near the point that the floor keeps a path out of.
        let mut narrow = 0.0f64;
        for dk in -reach[2]..=reach[2] {
            if !near_grid {
                break;
            }
            for dj in -reach[1]..=reach[1] {
                for di in -reach[0]..=reach[0] {
                    let v = [centre[0] + di, centre[1] + dj, centre[2] + dk];
                    if v.iter().any(|&x| x < 0) {
                        continue;
                    }
                    let v = v.map(|x| x as usize);
                    if !self.contains(v) {
                        continue;
                    }
                    let q = self.position(v);
                    if self.number(v).is_none() {
                        narrow = narrow.max(self.diameter_at(v));
                        continue;
                    }
                    let d = ((q[0] - p[0]).powi(2) + (q[1] - p[1]).powi(2) + (q[2] - p[2]).powi(2))
                        .sqrt();
                    if best.is_none_or(|(b, _)| d < b) {
                        best = Some((d, v));
                    }
                }
            }
        }
        // Inside the voxel that holds the point, or within the tolerance of a lumen voxel.
        let half = s.iter().fold(0.0f64, |m, x| m.max(*x)) * 0.87;
        match best {
            Some((d, v)) if d <= SNAP_TOLERANCE_MM + half => Ok(v),
            _ if narrow > 0.0 => Err(PathError::StopTooNarrow {
                which: which.to_string(),
                diameter_mm: narrow,
                floor_mm: self.floor_mm,
            }),
            _ => {
                let (distance_mm, nearest) = self.nearest(p);
                Err(PathError::OutsideLumen {
                    which: which.to_string(),
                    distance_mm,
                    nearest_lps_mm: nearest,
                    tolerance_mm: SNAP_TOLERANCE_MM,
                })
            }
        }
    }

    /// The lumen voxel centre nearest to `p` (all of them tried) and its distance.
    fn nearest(&self, p: P) -> (f64, P) {
        let mut best: Option<(f64, P)> = None;
        for ((k, j, i), &v) in self.inside.indexed_iter() {
            if v == 0 {
                continue;
            }
            let q = self.position(self.global([i, j, k]));
            let d = ((q[0] - p[0]).powi(2) + (q[1] - p[1]).powi(2) + (q[2] - p[2]).powi(2)).sqrt();
            // The first voxel is taken even when every distance is infinite (a point far off).
            if best.is_none_or(|(b, _)| d < b) {
                best = Some((d, q));
            }
        }
        best.unwrap_or((f64::INFINITY, p))
    }
}
