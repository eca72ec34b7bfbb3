//! Decimation by quadric-error edge collapse that never breaks a closed surface.
//!
//! Garland–Heckbert quadrics pick the cheapest edge; a collapse happens only if the edge's
//! two end vertices share exactly the two vertices opposite it (the link condition, which
//! keeps the surface a 2-manifold), and no surrounding triangle flips or degenerates. So a
//! watertight, consistently oriented mesh stays so. Deterministic (ties broken by vertex
//! ids). Depends on `TriMesh` only.

use std::cmp::Ordering;
use std::collections::BinaryHeap;

use nalgebra::{Matrix4, Vector3, Vector4};

use super::TriMesh;

/// Largest vertex valence a collapse may create.
const MAX_VALENCE: usize = 16;

#[derive(Debug, Clone, Copy)]
struct Candidate {
    cost: f64,
    u: u32,
    v: u32,
    stamp_u: u32,
    stamp_v: u32,
}

impl PartialEq for Candidate {
    fn eq(&self, other: &Self) -> bool {
        self.cmp(other) == Ordering::Equal
    }
}
impl Eq for Candidate {}
impl PartialOrd for Candidate {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}
impl Ord for Candidate {
    /// Reversed so the max-heap yields the cheapest edge first.
    fn cmp(&self, other: &Self) -> Ordering {
        other
            .cost
            .total_cmp(&self.cost)
            .then_with(|| (other.u, other.v).cmp(&(self.u, self.v)))
    }
}

struct State {
    pos: Vec<Vector3<f64>>,
    tris: Vec<[u32; 3]>,
    alive: Vec<bool>,
    vtris: Vec<Vec<u32>>,
    quadric: Vec<Matrix4<f64>>,
    stamp: Vec<u32>,
    alive_count: usize,
}

fn plane_quadric(a: &Vector3<f64>, b: &Vector3<f64>, c: &Vector3<f64>) -> Matrix4<f64> {
    let n = (b - a).cross(&(c - a));
    let area2 = n.norm();
    if area2 == 0.0 {
        return Matrix4::zeros();
    }
    let n = n / area2;
    let p = Vector4::new(n.x, n.y, n.z, -n.dot(a));
    // Area-weighted so large flat regions dominate.
    p * p.transpose() * (0.5 * area2)
}

fn cost(q: &Matrix4<f64>, p: &Vector3<f64>) -> f64 {
    let h = Vector4::new(p.x, p.y, p.z, 1.0);
    (h.transpose() * q * h)[(0, 0)].max(0.0)
}

impl State {
    fn new(mesh: &TriMesh) -> State {
        let pos: Vec<Vector3<f64>> = mesh
            .positions_mm
            .iter()
            .map(|p| Vector3::from(*p))
            .collect();
        let mut vtris = vec![Vec::new(); pos.len()];
        let mut quadric = vec![Matrix4::zeros(); pos.len()];
        for (t, tri) in mesh.indices.iter().enumerate() {
            let q = plane_quadric(
                &pos[tri[0] as usize],
                &pos[tri[1] as usize],
                &pos[tri[2] as usize],
            );
            for &v in tri {
                vtris[v as usize].push(t as u32);
                quadric[v as usize] += q;
            }
        }
        State {
            stamp: vec![0; pos.len()],
            pos,
            tris: mesh.indices.clone(),
            alive: vec![true; mesh.indices.len()],
            vtris,
            quadric,
            alive_count: mesh.indices.len(),
        }
    }

    fn neighbours(&self, v: u32) -> Vec<u32> {
        let mut n: Vec<u32> = self.vtris[v as usize]
            .iter()
            .filter(|&&t| self.alive[t as usize])
            .flat_map(|&t| self.tris[t as usize])
            .filter(|&w| w != v)
            .collect();
        n.sort_unstable();
        n.dedup();
        n
    }

    fn candidate(&self, u: u32, v: u32) -> Candidate {
        let (u, v) = (u.min(v), u.max(v));
        let q = self.quadric[u as usize] + self.quadric[v as usize];
        let (pu, pv) = (self.pos[u as usize], self.pos[v as usize]);
        // On flat regions every quadric cost is zero: a small edge-length term makes the
        // shortest edges go first there, keeping triangles well shaped and valences low.
        let c = [pu, pv, (pu + pv) * 0.5]
            .iter()
            .map(|p| cost(&q, p))
            .fold(f64::INFINITY, f64::min)
            + 1e-6 * (pu - pv).norm_squared();
        Candidate {
            cost: c,
            u,
            v,
            stamp_u: self.stamp[u as usize],
            stamp_v: self.stamp[v as usize],
        }
    }

    /// Collapses v into u at the cheapest of the three positions, if that keeps the mesh a
    /// closed, consistently oriented 2-manifold without flips.
    fn try_collapse(&mut self, u: u32, v: u32) -> bool {
        let shared: Vec<u32> = self.vtris[u as usize]
            .iter()
            .copied()
            .filter(|&t| self.alive[t as usize] && self.tris[t as usize].contains(&v))
            .collect();
        if shared.len() != 2 {
            return false;
        }
        let nu = self.neighbours(u);
        let nv = self.neighbours(v);
        let common: Vec<u32> = nu
            .iter()
            .copied()
            .filter(|w| nv.binary_search(w).is_ok())
            .collect();
        let opposite: Vec<u32> = shared
            .iter()
            .map(|&t| {
                let tri = self.tris[t as usize];
                tri.iter().copied().find(|&w| w != u && w != v).unwrap_or(u)
            })
            .collect();
        if common.len() != 2 || !opposite.iter().all(|o| common.contains(o)) {
            return false;
        }
        if nu.len() + nv.len() < 8 {
            return false; // would leave a vertex of degree < 3 (tetrahedron-like piece)
        }
        if nu.len() + nv.len() - 4 > MAX_VALENCE {
            return false; // fans of slivers: poor triangles and slow neighbourhoods
        }
        let q = self.quadric[u as usize] + self.quadric[v as usize];
        let (pu, pv) = (self.pos[u as usize], self.pos[v as usize]);
        let target = [pu, pv, (pu + pv) * 0.5]
            .into_iter()
            .min_by(|a, b| cost(&q, a).total_cmp(&cost(&q, b)))
            .unwrap_or(pu);
        // Every surviving triangle around u or v must keep its orientation and area.
        for &t in self.vtris[u as usize].iter().chain(&self.vtris[v as usize]) {
            if !self.alive[t as usize] || shared.contains(&t) {
                continue;
            }
            let tri = self.tris[t as usize];
            let p = tri.map(|w| self.pos[w as usize]);
            let moved = tri.map(|w| {
                if w == u || w == v {
                    target
                } else {
                    self.pos[w as usize]
                }
            });
            let n_old = (p[1] - p[0]).cross(&(p[2] - p[0]));
            let n_new = (moved[1] - moved[0]).cross(&(moved[2] - moved[0]));
            if n_new.norm() <= 1e-12 * n_old.norm().max(1e-12)
                || n_old.dot(&n_new) <= 0.2 * n_old.norm() * n_new.norm()
            {
                return false;
            }
        }
        for &t in &shared {
            self.alive[t as usize] = false;
            self.alive_count -= 1;
        }
        let moved_tris = std::mem::take(&mut self.vtris[v as usize]);
        for &t in &moved_tris {
            if self.alive[t as usize] {
                for w in self.tris[t as usize].iter_mut() {
                    if *w == v {
                        *w = u;
                    }
                }
                self.vtris[u as usize].push(t);
            }
        }
        let alive = &self.alive;
        self.vtris[u as usize].retain(|&t| alive[t as usize]);
        self.pos[u as usize] = target;
        self.quadric[u as usize] = q;
        self.stamp[u as usize] += 1;
        self.stamp[v as usize] += 1;
        true
    }
}

/// Collapses edges until about `target_triangles` remain (or no collapse is allowed).
/// Returns the new triangle count. A closed mesh stays closed and outward-facing.
pub fn decimate(mesh: &mut TriMesh, target_triangles: usize) -> usize {
    if target_triangles >= mesh.indices.len() {
        return mesh.indices.len();
    }
    let mut s = State::new(mesh);
    let mut heap = BinaryHeap::new();
    for tri in &mesh.indices {
        for (a, b) in [(tri[0], tri[1]), (tri[1], tri[2]), (tri[2], tri[0])] {
            if a < b {
                heap.push(s.candidate(a, b));
            } else {
                heap.push(s.candidate(b, a));
            }
        }
    }
    while s.alive_count > target_triangles {
        let Some(c) = heap.pop() else { break };
        if c.stamp_u != s.stamp[c.u as usize] || c.stamp_v != s.stamp[c.v as usize] {
            continue; // stale
        }
        if s.try_collapse(c.u, c.v) {
            for w in s.neighbours(c.u) {
                heap.push(s.candidate(c.u, w));
            }
        }
    }
    mesh.indices = s
        .tris
        .iter()
        .zip(&s.alive)
        .filter(|(_, a)| **a)
        .map(|(t, _)| *t)
        .collect();
    mesh.positions_mm = s.pos.iter().map(|p| [p.x, p.y, p.z]).collect();
    super::process::compact(mesh);
    mesh.recompute_normals();
    mesh.indices.len()
}
