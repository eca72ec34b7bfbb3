//! Decimation by quadric-error edge collapse that never breaks a closed surface.
//!
//! Garland–Heckbert quadrics (symmetric, ten numbers each) measure the cost of an edge
//! collapse; the cheapest edge goes first (a binary heap with one entry per edge, stale
//! entries recognised by per-vertex stamps, scratch buffers instead of allocations). A
//! collapse happens only if the edge's two end vertices share exactly the two vertices
//! opposite it (the link condition, which keeps the surface a 2-manifold), no surrounding
//! triangle flips or degenerates and no vertex gets too many neighbours. So a watertight,
//! consistently oriented mesh stays so. Large meshes are cut into slabs decimated in
//! parallel with the slab borders locked; the borders are then released in a last pass over
//! the whole mesh. Deterministic (fixed slabs, ties broken by vertex ids). Cancellable: every
//! collapse loop looks at the `Progress` flag every few thousand collapses and a cancelled
//! decimation leaves the mesh as it was. Depends on `TriMesh` and `Progress` only.

use rayon::prelude::*;

use super::TriMesh;
use crate::progress::Progress;

/// Collapse attempts between two looks at the cancel flag (about a millisecond of work).
const CANCEL_CHECK_EVERY: u32 = 4096;

/// Largest vertex valence a collapse may create.
const MAX_VALENCE: usize = 16;
/// Meshes smaller than this are decimated in one piece.
const PARALLEL_MIN_TRIANGLES: usize = 200_000;

/// A symmetric 4×4 quadric, upper triangle row by row.
type Quadric = [f64; 10];

fn plane_quadric(a: [f64; 3], b: [f64; 3], c: [f64; 3]) -> Quadric {
    let u = [b[0] - a[0], b[1] - a[1], b[2] - a[2]];
    let v = [c[0] - a[0], c[1] - a[1], c[2] - a[2]];
    let n = [
        u[1] * v[2] - u[2] * v[1],
        u[2] * v[0] - u[0] * v[2],
        u[0] * v[1] - u[1] * v[0],
    ];
    let area2 = (n[0] * n[0] + n[1] * n[1] + n[2] * n[2]).sqrt();
    if area2 == 0.0 {
        return [0.0; 10];
    }
    let (x, y, z) = (n[0] / area2, n[1] / area2, n[2] / area2);
    let d = -(x * a[0] + y * a[1] + z * a[2]);
    // Area-weighted so large flat regions dominate.
    let w = 0.5 * area2;
    [
        w * x * x,
        w * x * y,
        w * x * z,
        w * x * d,
        w * y * y,
        w * y * z,
        w * y * d,
        w * z * z,
        w * z * d,
        w * d * d,
    ]
}

fn add(a: &Quadric, b: &Quadric) -> Quadric {
    std::array::from_fn(|i| a[i] + b[i])
}

fn cost(q: &Quadric, p: [f64; 3]) -> f64 {
    let [x, y, z] = p;
    (q[0] * x * x
        + 2.0 * q[1] * x * y
        + 2.0 * q[2] * x * z
        + 2.0 * q[3] * x
        + q[4] * y * y
        + 2.0 * q[5] * y * z
        + 2.0 * q[6] * y
        + q[7] * z * z
        + 2.0 * q[8] * z
        + q[9])
        .max(0.0)
}

fn mid(a: [f64; 3], b: [f64; 3]) -> [f64; 3] {
    [
        (a[0] + b[0]) * 0.5,
        (a[1] + b[1]) * 0.5,
        (a[2] + b[2]) * 0.5,
    ]
}

fn sub(a: [f64; 3], b: [f64; 3]) -> [f64; 3] {
    [a[0] - b[0], a[1] - b[1], a[2] - b[2]]
}

fn cross(a: [f64; 3], b: [f64; 3]) -> [f64; 3] {
    [
        a[1] * b[2] - a[2] * b[1],
        a[2] * b[0] - a[0] * b[2],
        a[0] * b[1] - a[1] * b[0],
    ]
}

fn dot(a: [f64; 3], b: [f64; 3]) -> f64 {
    a[0] * b[0] + a[1] * b[1] + a[2] * b[2]
}

/// The cheapest of the edge's end points and midpoint under `q`, with its cost.
fn best_position(q: &Quadric, pu: [f64; 3], pv: [f64; 3]) -> ([f64; 3], f64) {
    let mut best = (pu, cost(q, pu));
    for p in [pv, mid(pu, pv)] {
        let c = cost(q, p);
        if c < best.1 {
            best = (p, c);
        }
    }
    best
}

/// A heap entry, 16 bytes so millions stay cache-friendly: the cost's f32 bits (which
/// order like the costs, all being ≥ 0), the edge, and its ends' stamps (low 16 bits;
/// a stale entry that slipped through would only be tried at a stale cost, as every
/// collapse is checked against the current mesh).
#[derive(Debug, Clone, Copy)]
struct Candidate {
    key: u32,
    u: u32,
    v: u32,
    stamp_u: u16,
    stamp_v: u16,
}

/// The heap key of a cost: f32 bits, which order like the values for non-negative floats
/// (rounding error's tiny negatives count as 0, NaN as the largest).
fn cost_key(cost: f64) -> u32 {
    if cost.is_nan() {
        f32::MAX.to_bits()
    } else {
        (cost.max(0.0) as f32).to_bits()
    }
}

/// A monotone radix heap over the candidates' cost keys: pushing is appending to one of 33
/// buckets, popping redistributes one bucket at a time, so each entry moves O(key bits)
/// times at most, in sequential memory, where a binary heap pays a cache miss per level on
/// every push and pop. Keys below the last one popped are raised to it (greedy
/// decimation takes such an edge next anyway). Equal keys come out in a fixed order.
struct RadixHeap {
    last: u32,
    buckets: [Vec<Candidate>; 33],
}

impl RadixHeap {
    fn new() -> RadixHeap {
        RadixHeap {
            last: 0,
            buckets: std::array::from_fn(|_| Vec::new()),
        }
    }

    fn bucket(last: u32, key: u32) -> usize {
        (32 - (key ^ last).leading_zeros()) as usize
    }

    fn push(&mut self, mut c: Candidate) {
        c.key = c.key.max(self.last);
        self.buckets[Self::bucket(self.last, c.key)].push(c);
    }

    fn pop(&mut self) -> Option<Candidate> {
        if self.buckets[0].is_empty() {
            let i = (1..33).find(|&i| !self.buckets[i].is_empty())?;
            let moving = std::mem::take(&mut self.buckets[i]);
            self.last = moving.iter().map(|c| c.key).min().unwrap_or(self.last);
            for &c in &moving {
                self.buckets[Self::bucket(self.last, c.key)].push(c);
            }
            // Keep the emptied bucket's allocation for later pushes.
            let mut moving = moving;
            moving.clear();
            if self.buckets[i].is_empty() {
                self.buckets[i] = moving;
            }
        }
        self.buckets[0].pop()
    }
}

struct State {
    pos: Vec<[f64; 3]>,
    tris: Vec<[u32; 3]>,
    /// Index of each live triangle in `live`, or `u32::MAX` once collapsed away.
    slot: Vec<u32>,
    live: Vec<u32>,
    vtris: Vec<Vec<u32>>,
    quadric: Vec<Quadric>,
    locked: Vec<bool>,
    scratch_u: Vec<u32>,
    scratch_v: Vec<u32>,
    /// Bumped when the vertex moves or merges: heap entries made before are stale.
    stamp: Vec<u32>,
}

impl State {
    fn new(pos: Vec<[f64; 3]>, tris: Vec<[u32; 3]>, locked: Vec<bool>) -> State {
        let n_vertices = pos.len();
        let mut vtris = vec![Vec::with_capacity(6); pos.len()];
        let mut quadric = vec![[0.0; 10]; pos.len()];
        for (t, tri) in tris.iter().enumerate() {
            let q = plane_quadric(
                pos[tri[0] as usize],
                pos[tri[1] as usize],
                pos[tri[2] as usize],
            );
            for &v in tri {
                vtris[v as usize].push(t as u32);
                quadric[v as usize] = add(&quadric[v as usize], &q);
            }
        }
        State {
            slot: (0..tris.len() as u32).collect(),
            live: (0..tris.len() as u32).collect(),
            pos,
            tris,
            vtris,
            quadric,
            locked,
            scratch_u: Vec::with_capacity(32),
            scratch_v: Vec::with_capacity(32),
            stamp: vec![0; n_vertices],
        }
    }

    fn alive(&self, t: u32) -> bool {
        self.slot[t as usize] != u32::MAX
    }

    fn kill(&mut self, t: u32) {
        let s = self.slot[t as usize] as usize;
        let last = self.live.len() - 1;
        self.live.swap(s, last);
        let moved = self.live[s];
        self.slot[moved as usize] = s as u32;
        self.live.pop();
        self.slot[t as usize] = u32::MAX;
    }

    /// The sorted, distinct neighbours of `v` (its live triangles' other vertices).
    fn neighbours_into(&self, v: u32, out: &mut Vec<u32>) {
        out.clear();
        for &t in &self.vtris[v as usize] {
            for w in self.tris[t as usize] {
                if w != v {
                    out.push(w);
                }
            }
        }
        out.sort_unstable();
        out.dedup();
    }

    fn edge_cost(&self, u: u32, v: u32) -> f64 {
        let q = add(&self.quadric[u as usize], &self.quadric[v as usize]);
        let (pu, pv) = (self.pos[u as usize], self.pos[v as usize]);
        // On flat regions every quadric cost is zero: a small edge-length term makes the
        // shortest edges go first there, keeping triangles well shaped and valences low.
        let d = sub(pu, pv);
        best_position(&q, pu, pv).1 + 1e-6 * dot(d, d)
    }

    /// Collapses v into u at the cheapest of the three positions, if that keeps the mesh a
    /// closed, consistently oriented 2-manifold without flips.
    fn try_collapse(&mut self, u: u32, v: u32) -> bool {
        if self.locked[u as usize] || self.locked[v as usize] {
            return false;
        }
        let mut shared = [u32::MAX; 2];
        let mut n_shared = 0;
        for &t in &self.vtris[u as usize] {
            if self.tris[t as usize].contains(&v) {
                if n_shared == 2 {
                    return false;
                }
                shared[n_shared] = t;
                n_shared += 1;
            }
        }
        if n_shared != 2 {
            return false;
        }
        let mut nu = std::mem::take(&mut self.scratch_u);
        let mut nv = std::mem::take(&mut self.scratch_v);
        self.neighbours_into(u, &mut nu);
        self.neighbours_into(v, &mut nv);
        let ok = self.collapse_checked(u, v, shared, &nu, &nv);
        self.scratch_u = nu;
        self.scratch_v = nv;
        ok
    }

    fn collapse_checked(
        &mut self,
        u: u32,
        v: u32,
        shared: [u32; 2],
        nu: &[u32],
        nv: &[u32],
    ) -> bool {
        // Link condition: the common neighbours are exactly the two opposite vertices.
        let (mut i, mut j, mut common) = (0, 0, 0usize);
        while i < nu.len() && j < nv.len() {
            match nu[i].cmp(&nv[j]) {
                std::cmp::Ordering::Less => i += 1,
                std::cmp::Ordering::Greater => j += 1,
                std::cmp::Ordering::Equal => {
                    common += 1;
                    i += 1;
                    j += 1;
                }
            }
        }
        if common != 2 {
            return false;
        }
        for t in shared {
            let tri = self.tris[t as usize];
            let Some(o) = tri.iter().copied().find(|&w| w != u && w != v) else {
                return false;
            };
            if nu.binary_search(&o).is_err() || nv.binary_search(&o).is_err() {
                return false;
            }
        }
        if nu.len() + nv.len() < 8 {
            return false; // would leave a vertex of degree < 3 (tetrahedron-like piece)
        }
        if nu.len() + nv.len() - 4 > MAX_VALENCE {
            return false; // fans of slivers: poor triangles and slow neighbourhoods
        }
        let q = add(&self.quadric[u as usize], &self.quadric[v as usize]);
        let (target, _) = best_position(&q, self.pos[u as usize], self.pos[v as usize]);
        // Every surviving triangle around u or v must keep its orientation and area.
        for &t in self.vtris[u as usize].iter().chain(&self.vtris[v as usize]) {
            if t == shared[0] || t == shared[1] {
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
            let n_old = cross(sub(p[1], p[0]), sub(p[2], p[0]));
            let n_new = cross(sub(moved[1], moved[0]), sub(moved[2], moved[0]));
            let (l_old, l_new) = (dot(n_old, n_old).sqrt(), dot(n_new, n_new).sqrt());
            if l_new <= 1e-12 * l_old.max(1e-12) || dot(n_old, n_new) <= 0.2 * l_old * l_new {
                return false;
            }
        }
        for t in shared {
            self.kill(t);
            // Keep every vertex's list to live triangles: drop it at the opposite vertex
            // (u's and v's lists are rebuilt below).
            for w in self.tris[t as usize] {
                if w != u && w != v {
                    self.vtris[w as usize].retain(|&x| x != t);
                }
            }
        }
        let moved_tris = std::mem::take(&mut self.vtris[v as usize]);
        for &t in &moved_tris {
            if self.alive(t) {
                for w in self.tris[t as usize].iter_mut() {
                    if *w == v {
                        *w = u;
                    }
                }
                self.vtris[u as usize].push(t);
            }
        }
        let slot = &self.slot;
        self.vtris[u as usize].retain(|&t| slot[t as usize] != u32::MAX);
        self.pos[u as usize] = target;
        self.quadric[u as usize] = q;
        self.stamp[u as usize] += 1;
        self.stamp[v as usize] += 1;
        true
    }

    fn candidate(&self, u: u32, v: u32) -> Candidate {
        let (u, v) = (u.min(v), u.max(v));
        Candidate {
            key: cost_key(self.edge_cost(u, v)),
            u,
            v,
            stamp_u: self.stamp[u as usize] as u16,
            stamp_v: self.stamp[v as usize] as u16,
        }
    }

    /// Collapses the cheapest allowed edge until `target` triangles remain or none is
    /// allowed; false if cancelled on the way (the state is then half-decimated).
    fn run(&mut self, target: usize, progress: &Progress) -> bool {
        let mut heap = RadixHeap::new();
        for &t in &self.live {
            let tri = self.tris[t as usize];
            for e in 0..3 {
                let (a, b) = (tri[e], tri[(e + 1) % 3]);
                // Each edge of a closed, oriented surface runs once each way: take it once.
                if a < b && !self.locked[a as usize] && !self.locked[b as usize] {
                    heap.push(self.candidate(a, b));
                }
            }
        }
        let mut ring = Vec::with_capacity(32);
        let mut until_check = CANCEL_CHECK_EVERY;
        while self.live.len() > target {
            until_check -= 1;
            if until_check == 0 {
                if progress.is_cancelled() {
                    return false;
                }
                until_check = CANCEL_CHECK_EVERY;
            }
            let Some(c) = heap.pop() else { break };
            if c.stamp_u != self.stamp[c.u as usize] as u16
                || c.stamp_v != self.stamp[c.v as usize] as u16
            {
                continue; // stale
            }
            if self.try_collapse(c.u, c.v) {
                self.neighbours_into(c.u, &mut ring);
                for &w in &ring {
                    if !self.locked[w as usize] {
                        heap.push(self.candidate(c.u, w));
                    }
                }
            }
        }
        !progress.is_cancelled()
    }

    fn into_mesh(self) -> (Vec<[f64; 3]>, Vec<[u32; 3]>) {
        let mut live = self.live;
        live.sort_unstable();
        let tris = live.iter().map(|&t| self.tris[t as usize]).collect();
        (self.pos, tris)
    }
}

/// A decimated slab: its vertices' global ids, their positions, its triangles (local ids).
type SlabResult = (Vec<u32>, Vec<[f64; 3]>, Vec<[u32; 3]>);
/// Positions and triangles of a whole mesh.
type Indexed = (Vec<[f64; 3]>, Vec<[u32; 3]>);

/// Decimates the triangles in slabs along the mesh's longest axis, in parallel, each with
/// the vertices it shares with another slab locked; returns the merged triangles and the
/// (shared) positions array with moved vertices updated; None if cancelled.
fn decimate_slabs(
    pos: &[[f64; 3]],
    tris: &[[u32; 3]],
    target: usize,
    slabs: usize,
    progress: &Progress,
) -> Option<Indexed> {
    let (lo, hi) = pos.iter().fold(
        ([f64::INFINITY; 3], [f64::NEG_INFINITY; 3]),
        |(lo, hi), p| {
            (
                std::array::from_fn(|a| lo[a].min(p[a])),
                std::array::from_fn(|a| hi[a].max(p[a])),
            )
        },
    );
    let axis = (0..3)
        .max_by(|&a, &b| (hi[a] - lo[a]).total_cmp(&(hi[b] - lo[b])))
        .unwrap_or(0);
    // Slab boundaries at quantiles of the triangles' first vertices along the axis, so
    // every slab gets about as many triangles.
    let mut keys: Vec<f64> = tris.par_iter().map(|t| pos[t[0] as usize][axis]).collect();
    keys.par_sort_unstable_by(f64::total_cmp);
    let cuts: Vec<f64> = (1..slabs).map(|s| keys[s * keys.len() / slabs]).collect();
    drop(keys);
    let slab_of = |t: &[u32; 3]| {
        let c =
            (pos[t[0] as usize][axis] + pos[t[1] as usize][axis] + pos[t[2] as usize][axis]) / 3.0;
        cuts.partition_point(|&x| x <= c)
    };
    let owner: Vec<u8> = tris.par_iter().map(|t| slab_of(t) as u8).collect();
    // A vertex used by triangles of two slabs is locked in both.
    const NONE: u8 = u8::MAX;
    const MANY: u8 = u8::MAX - 1;
    let mut vslab = vec![NONE; pos.len()];
    for (t, &o) in tris.iter().zip(&owner) {
        for &v in t {
            let s = &mut vslab[v as usize];
            *s = match *s {
                NONE => o,
                x if x == o => o,
                _ => MANY,
            };
        }
    }
    let mut members: Vec<Vec<u32>> = vec![Vec::new(); slabs];
    for (t, &o) in owner.iter().enumerate() {
        members[o as usize].push(t as u32);
    }
    let parts: Option<Vec<SlabResult>> = members
        .into_par_iter()
        .map(|mine| {
            if progress.is_cancelled() {
                return None;
            }
            // Local numbering of the slab's vertices: `global[l]` maps back.
            let mut global: Vec<u32> = mine.iter().flat_map(|&t| tris[t as usize]).collect();
            global.sort_unstable();
            global.dedup();
            let local = |g: u32| global.binary_search(&g).unwrap_or(0) as u32;
            let ltris: Vec<[u32; 3]> = mine.iter().map(|&t| tris[t as usize].map(local)).collect();
            let lpos: Vec<[f64; 3]> = global.iter().map(|&g| pos[g as usize]).collect();
            let locked: Vec<bool> = global.iter().map(|&g| vslab[g as usize] == MANY).collect();
            let share = target * ltris.len() / tris.len().max(1);
            let mut st = State::new(lpos, ltris, locked);
            if !st.run(share, progress) {
                return None;
            }
            let (lpos, ltris) = st.into_mesh();
            Some((global, lpos, ltris))
        })
        .collect();
    let parts = parts?;
    let mut out_pos = pos.to_vec();
    let mut out_tris = Vec::with_capacity(target * 11 / 10);
    for (global, lpos, ltris) in parts {
        for (l, &g) in global.iter().enumerate() {
            out_pos[g as usize] = lpos[l];
        }
        out_tris.extend(ltris.iter().map(|t| t.map(|l| global[l as usize])));
    }
    Some((out_pos, out_tris))
}

/// Collapses edges until about `target_triangles` remain (or no collapse is allowed).
/// Returns the new triangle count, or None if cancelled — the mesh is then unchanged. A
/// closed mesh stays closed and outward-facing.
pub fn decimate(mesh: &mut TriMesh, target_triangles: usize, progress: &Progress) -> Option<usize> {
    if target_triangles >= mesh.indices.len() {
        return Some(mesh.indices.len());
    }
    // Slabs of about this many triangles keep each heap and its vertices in cache; at
    // least one per thread.
    const SLAB_TRIANGLES: usize = 100_000;
    let slabs = rayon::current_num_threads()
        .max(mesh.indices.len().div_ceil(SLAB_TRIANGLES))
        .clamp(1, 200);
    let (pos, tris) = if slabs > 1 && mesh.indices.len() >= PARALLEL_MIN_TRIANGLES {
        // Slabs stop a little above their share, so the last pass, with the borders
        // released, has room to collapse the (cheap, full-resolution) border strips.
        decimate_slabs(
            &mesh.positions_mm,
            &mesh.indices,
            target_triangles + target_triangles / 10,
            slabs,
            progress,
        )?
    } else {
        (mesh.positions_mm.clone(), mesh.indices.clone())
    };
    let locked = vec![false; pos.len()];
    if progress.is_cancelled() {
        return None;
    }
    let mut st = State::new(pos, tris, locked);
    if !st.run(target_triangles, progress) {
        return None;
    }
    let (pos, tris) = st.into_mesh();
    mesh.positions_mm = pos;
    mesh.indices = tris;
    super::process::compact(mesh);
    mesh.recompute_normals();
    Some(mesh.indices.len())
}
