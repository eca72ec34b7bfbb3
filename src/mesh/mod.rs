//! Triangle meshes of anatomy in patient millimetres: extraction, processing, statistics.
//!
//! [`TriMesh`] holds indexed triangles (positions in LPS mm as f64, unit normals as f32).
//! `mc` extracts iso-surfaces, `process` smooths, decimates and removes islands, `io`
//! writes and reads STL/OBJ/PLY, `pick` casts rays onto a surface. Depends on `volume` (geometry) and `progress`; never on
//! segmentation internals or the viewer (which converts a TriMesh to a GPU mesh itself).

pub mod decimate;
pub mod gltf;
pub mod io;
pub mod mc;
pub mod pick;
pub mod process;

use nalgebra::Vector3;
use rayon::prelude::*;
use serde::Serialize;

pub use mc::{McOptions, marching_cubes};

/// An indexed triangle mesh in patient LPS millimetres.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct TriMesh {
    pub positions_mm: Vec<[f64; 3]>,
    /// Unit outward normals, one per vertex.
    pub normals: Vec<[f32; 3]>,
    /// Counter-clockwise seen from outside.
    pub indices: Vec<[u32; 3]>,
}

/// Per-structure figures shown to the user.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct MeshStats {
    pub triangles: usize,
    pub vertices: usize,
    pub area_mm2: f64,
    /// Enclosed volume (divergence theorem); meaningful for closed meshes.
    pub volume_ml: f64,
}

/// Result of [`TriMesh::check`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct MeshCheck {
    /// Edges used by other than exactly two triangles.
    pub open_or_nonmanifold_edges: usize,
    /// Edges traversed twice in the same direction (inconsistent orientation).
    pub misoriented_edges: usize,
    pub degenerate_triangles: usize,
    pub non_finite_values: usize,
}

impl MeshCheck {
    pub fn is_watertight(&self) -> bool {
        self.open_or_nonmanifold_edges == 0 && self.misoriented_edges == 0
    }
}

impl TriMesh {
    pub fn triangle_count(&self) -> usize {
        self.indices.len()
    }

    fn p(&self, i: u32) -> Vector3<f64> {
        Vector3::from(self.positions_mm[i as usize])
    }

    pub fn area_mm2(&self) -> f64 {
        self.indices
            .iter()
            .map(|t| {
                (self.p(t[1]) - self.p(t[0]))
                    .cross(&(self.p(t[2]) - self.p(t[0])))
                    .norm()
                    * 0.5
            })
            .sum()
    }

    /// Signed enclosed volume in mm³ (positive for an outward-facing closed mesh).
    pub fn signed_volume_mm3(&self) -> f64 {
        self.indices
            .iter()
            .map(|t| self.p(t[0]).dot(&self.p(t[1]).cross(&self.p(t[2]))) / 6.0)
            .sum()
    }

    pub fn stats(&self) -> MeshStats {
        MeshStats {
            triangles: self.indices.len(),
            vertices: self.positions_mm.len(),
            area_mm2: self.area_mm2(),
            volume_ml: self.signed_volume_mm3() / 1000.0,
        }
    }

    /// Topology and sanity check: watertightness, orientation, degenerate triangles, NaNs.
    pub fn check(&self) -> MeshCheck {
        let degenerate = self
            .indices
            .par_iter()
            .filter(|t| {
                let area2 = (self.p(t[1]) - self.p(t[0]))
                    .cross(&(self.p(t[2]) - self.p(t[0])))
                    .norm();
                t[0] == t[1] || t[1] == t[2] || t[0] == t[2] || area2 <= 1e-12
            })
            .count();
        // Every directed edge as (undirected edge, direction): sorting groups each edge's
        // uses (a hash map of millions of edges cost most of a structure's check).
        let mut keys: Vec<(u64, bool)> = self
            .indices
            .par_iter()
            .flat_map_iter(|t| {
                [(t[0], t[1]), (t[1], t[2]), (t[2], t[0])].map(|(a, b)| {
                    let (lo, hi) = (u64::from(a.min(b)), u64::from(a.max(b)));
                    (lo << 32 | hi, a < b)
                })
            })
            .collect();
        keys.par_sort_unstable();
        let (mut open, mut misoriented) = (0, 0);
        for group in keys.chunk_by(|a, b| a.0 == b.0) {
            let forward = group.iter().filter(|k| k.1).count();
            let reverse = group.len() - forward;
            if forward + reverse != 2 {
                open += 1;
            }
            if forward > 1 || reverse > 1 {
                misoriented += 1;
            }
        }
        let non_finite = self
            .positions_mm
            .iter()
            .flatten()
            .filter(|v| !v.is_finite())
            .count()
            + self
                .normals
                .iter()
                .flatten()
                .filter(|v| !v.is_finite())
                .count();
        MeshCheck {
            open_or_nonmanifold_edges: open,
            misoriented_edges: misoriented,
            degenerate_triangles: degenerate,
            non_finite_values: non_finite,
        }
    }

    /// Recomputes vertex normals from the triangles (area-weighted), e.g. after smoothing.
    pub fn recompute_normals(&mut self) {
        let mut acc = vec![Vector3::<f64>::zeros(); self.positions_mm.len()];
        for t in &self.indices {
            let n = (self.p(t[1]) - self.p(t[0])).cross(&(self.p(t[2]) - self.p(t[0])));
            for &v in t {
                acc[v as usize] += n;
            }
        }
        self.normals = acc
            .into_iter()
            .map(|n| {
                let n = if n.norm() > 0.0 { n.normalize() } else { n };
                [n.x as f32, n.y as f32, n.z as f32]
            })
            .collect();
    }
}

#[cfg(test)]
mod tests;
