//! Mesh processing: Taubin λ/μ smoothing, decimation to a triangle budget (see
//! `decimate`), island removal, compaction.
//!
//! Smoothing moves vertices only (topology kept, so a closed mesh stays closed).
//! Depends on the `TriMesh` type and `Progress` (cancellation) only.

use nalgebra::Vector3;

use super::TriMesh;
use crate::progress::Progress;

/// Vertex adjacency (sorted, unique neighbours per vertex).
fn neighbours(mesh: &TriMesh) -> Vec<Vec<u32>> {
    let mut adj: Vec<Vec<u32>> = vec![Vec::new(); mesh.positions_mm.len()];
    for t in &mesh.indices {
        for (a, b) in [(t[0], t[1]), (t[1], t[2]), (t[2], t[0])] {
            adj[a as usize].push(b);
            adj[b as usize].push(a);
        }
    }
    for n in &mut adj {
        n.sort_unstable();
        n.dedup();
    }
    adj
}

/// Taubin smoothing: `iterations` pairs of a shrinking step (λ) and an inflating step (μ),
/// uniform Laplacian. λ = 0.5, μ = −0.53 (pass band ≈ 0.1) keeps enclosed volume. Looks at
/// the cancel flag between steps; false if cancelled, the mesh then unchanged.
pub fn taubin_smooth(mesh: &mut TriMesh, iterations: usize, progress: &Progress) -> bool {
    if iterations == 0 || mesh.indices.is_empty() {
        return !progress.is_cancelled();
    }
    let adj = neighbours(mesh);
    let mut p: Vec<Vector3<f64>> = mesh
        .positions_mm
        .iter()
        .map(|v| Vector3::from(*v))
        .collect();
    let step = |p: &Vec<Vector3<f64>>, factor: f64| -> Vec<Vector3<f64>> {
        use rayon::prelude::*;
        (0..p.len())
            .into_par_iter()
            .map(|i| {
                let n = &adj[i];
                if n.is_empty() {
                    return p[i];
                }
                let mean = n.iter().map(|&j| p[j as usize]).sum::<Vector3<f64>>() / n.len() as f64;
                p[i] + (mean - p[i]) * factor
            })
            .collect()
    };
    for _ in 0..iterations {
        if progress.is_cancelled() {
            return false;
        }
        p = step(&p, 0.5);
        p = step(&p, -0.53);
    }
    if progress.is_cancelled() {
        return false;
    }
    mesh.positions_mm = p.iter().map(|v| [v.x, v.y, v.z]).collect();
    mesh.recompute_normals();
    true
}

/// Drops vertices no triangle uses, renumbering the rest in order.
pub fn compact(mesh: &mut TriMesh) {
    let mut remap = vec![u32::MAX; mesh.positions_mm.len()];
    let mut positions = Vec::new();
    let mut normals = Vec::new();
    for t in &mut mesh.indices {
        for v in t.iter_mut() {
            let old = *v as usize;
            if remap[old] == u32::MAX {
                remap[old] = positions.len() as u32;
                positions.push(mesh.positions_mm[old]);
                normals.push(mesh.normals.get(old).copied().unwrap_or([0.0; 3]));
            }
            *v = remap[old];
        }
    }
    mesh.positions_mm = positions;
    mesh.normals = normals;
}

/// Removes connected pieces (sharing vertices) with fewer than `min_triangles` triangles.
pub fn remove_islands(mesh: &mut TriMesh, min_triangles: usize) -> usize {
    let n = mesh.positions_mm.len();
    let mut parent: Vec<u32> = (0..n as u32).collect();
    fn find(parent: &mut [u32], mut x: u32) -> u32 {
        while parent[x as usize] != x {
            parent[x as usize] = parent[parent[x as usize] as usize];
            x = parent[x as usize];
        }
        x
    }
    for t in &mesh.indices {
        let a = find(&mut parent, t[0]);
        for &v in &t[1..] {
            let b = find(&mut parent, v);
            if a != b {
                parent[b as usize] = a;
            }
        }
    }
    let mut size = vec![0usize; n];
    let roots: Vec<u32> = mesh
        .indices
        .iter()
        .map(|t| find(&mut parent, t[0]))
        .collect();
    for r in &roots {
        size[*r as usize] += 1;
    }
    let before = mesh.indices.len();
    let kept: Vec<[u32; 3]> = mesh
        .indices
        .iter()
        .zip(&roots)
        .filter(|(_, r)| size[**r as usize] >= min_triangles)
        .map(|(t, _)| *t)
        .collect();
    mesh.indices = kept;
    compact(mesh);
    before - mesh.indices.len()
}
