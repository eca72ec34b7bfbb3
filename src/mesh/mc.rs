//! Marching cubes on a scalar grid, rayon-parallel, indexed, in patient millimetres.
//!
//! Shaped like VTK's flying edges: pass 1 counts, per grid plane, the crossing edges
//! (vertices) and the triangles of the cell slab above it; prefix sums give every plane and
//! slab a disjoint range of the output; pass 2 fills those ranges in parallel. Each edge
//! crossing becomes exactly one vertex shared by all its triangles, and the output does not
//! depend on the number of threads. The case table is the classic one (as published by
//! Paul Bourke and shipped as data by the `marching-cubes` crate), so triangle counts equal
//! VTK's. Depends on `volume` (geometry) only.

use marching_cubes::tables::TRI_TABLE;
use nalgebra::{Matrix3, Vector3};
use ndarray::ArrayView3;
use rayon::prelude::*;

use super::TriMesh;
use crate::progress::Progress;
use crate::volume::Geometry;

/// Options of [`marching_cubes`].
#[derive(Debug, Clone, Copy)]
pub struct McOptions {
    /// Surround the grid with background so surfaces touching the border close (default).
    pub pad: bool,
}

impl Default for McOptions {
    fn default() -> Self {
        McOptions { pad: true }
    }
}

impl McOptions {
    pub fn with_pad(mut self, pad: bool) -> Self {
        self.pad = pad;
        self
    }
}

/// Cell corners are numbered 0 (0,0,0), 1 (1,0,0), 2 (1,1,0), 3 (0,1,0), 4 (0,0,1),
/// 5 (1,0,1), 6 (1,1,1), 7 (0,1,1) in (i, j, k); bit n of a case is set when corner n is
/// below the iso value.
/// Each table edge as (axis, di, dj, dk) of the grid edge it is: the edge starts at cell
/// corner (i+di, j+dj, k+dk) and runs along `axis` (0 = i, 1 = j, 2 = k).
const EDGES: [(usize, usize, usize, usize); 12] = [
    (0, 0, 0, 0),
    (1, 1, 0, 0),
    (0, 0, 1, 0),
    (1, 0, 0, 0),
    (0, 0, 0, 1),
    (1, 1, 0, 1),
    (0, 0, 1, 1),
    (1, 0, 0, 1),
    (2, 0, 0, 0),
    (2, 1, 0, 0),
    (2, 1, 1, 0),
    (2, 0, 1, 0),
];

/// The grid as the algorithm sees it: optional one-voxel background border, values as f32.
struct Grid<'a, T> {
    data: ArrayView3<'a, T>,
    /// The same samples, standard layout, `[k][j][i]`.
    flat: &'a [T],
    pad: usize,
    pad_value: f32,
    /// Padded sizes (i, j, k).
    n: [usize; 3],
}

impl<T: Copy + Into<f32>> Grid<'_, T> {
    #[inline(always)]
    fn at(&self, i: usize, j: usize, k: usize) -> f32 {
        let p = self.pad;
        let (nk, nj, ni) = self.data.dim();
        // Below the border the subtraction wraps to a huge index: one compare per axis.
        let (i, j, k) = (i.wrapping_sub(p), j.wrapping_sub(p), k.wrapping_sub(p));
        if i >= ni || j >= nj || k >= nk {
            return self.pad_value;
        }
        self.flat
            .get((k * nj + j) * ni + i)
            .map_or(self.pad_value, |&v| v.into())
    }

    /// Central-difference gradient in index units at a padded grid point.
    fn gradient(&self, i: usize, j: usize, k: usize) -> Vector3<f64> {
        let d = |a: usize, n: usize| (a.saturating_sub(1), (a + 1).min(n - 1));
        let (i0, i1) = d(i, self.n[0]);
        let (j0, j1) = d(j, self.n[1]);
        let (k0, k1) = d(k, self.n[2]);
        let g = |hi: f32, lo: f32, span: usize| f64::from(hi - lo) / (span.max(1) as f64);
        Vector3::new(
            g(self.at(i1, j, k), self.at(i0, j, k), i1 - i0),
            g(self.at(i, j1, k), self.at(i, j0, k), j1 - j0),
            g(self.at(i, j, k1), self.at(i, j, k0), k1 - k0),
        )
    }
}

/// Triangles per case, from the table.
fn tri_counts() -> [u8; 256] {
    let mut out = [0u8; 256];
    for (case, row) in TRI_TABLE.iter().enumerate() {
        out[case] = (row.iter().take_while(|&&e| e >= 0).count() / 3) as u8;
    }
    out
}

/// A grid row's crossing summary (flying-edges trimming): x-edges `xl..xr` may cross;
/// points `0..=xl` have class `left`, points `xr..` class `right`. Uniform rows have
/// `xl = n - 1`, `xr = 0`.
#[derive(Debug, Clone, Copy, Default)]
struct Row {
    xl: usize,
    xr: usize,
    left: u8,
    right: u8,
}

/// Per-point classes (1 = below iso) and row summaries of one padded plane.
#[derive(Default)]
struct Plane {
    class: Vec<u8>,
    rows: Vec<Row>,
}

/// A sample type marching cubes reads: compared with the iso value in its own type (so
/// the classification pass vectorises at the type's width), converted to f32 to
/// interpolate.
pub trait McSample: Copy + Into<f32> + Sync {
    /// The threshold `t` such that `v < t` ⟺ `(v as f32) < iso`.
    fn threshold(iso: f32) -> Self;
    fn below(self, t: Self) -> bool;
}

impl McSample for i16 {
    fn threshold(iso: f32) -> i16 {
        iso.ceil().clamp(f32::from(i16::MIN), f32::from(i16::MAX)) as i16
    }
    #[inline(always)]
    fn below(self, t: i16) -> bool {
        self < t
    }
}

impl McSample for u8 {
    fn threshold(iso: f32) -> u8 {
        iso.ceil().clamp(0.0, 255.0) as u8
    }
    #[inline(always)]
    fn below(self, t: u8) -> bool {
        self < t
    }
}

impl McSample for f32 {
    fn threshold(iso: f32) -> f32 {
        iso
    }
    #[inline(always)]
    fn below(self, t: f32) -> bool {
        self < t
    }
}

impl<T: McSample> Grid<'_, T> {
    /// Classifies plane `k` into `plane`, reusing its buffers: a fresh plane per grid plane
    /// would cost the first-touch page faults of a quarter megabyte each, which is most of
    /// a cold extraction's time.
    fn classify_into(&self, k: usize, iso: f32, flat: &[T], plane: &mut Plane) {
        let t = T::threshold(iso);
        let [pi, pj, _] = self.n;
        let (nk, nj, ni) = self.data.dim();
        let p = self.pad;
        let Plane { class, rows } = plane;
        class.clear();
        class.resize(pi * pj, 1u8);
        rows.clear();
        rows.resize(pj, Row::default());
        let real_plane = k >= p && k - p < nk;
        for j in 0..pj {
            let row = &mut class[j * pi..(j + 1) * pi];
            if real_plane && j >= p && j - p < nj {
                let start = ((k - p) * nj + (j - p)) * ni;
                for (c, v) in row[p..p + ni].iter_mut().zip(&flat[start..start + ni]) {
                    *c = u8::from(v.below(t));
                }
            }
            let mut xl = pi - 1;
            let mut xr = 0;
            // Most rows are uniform; a vectorised sum says so without a scan.
            let below: usize = row.iter().map(|&c| usize::from(c)).sum();
            let mixed = below != 0 && below != pi;
            let first = if mixed {
                row.windows(2).position(|w| w[0] != w[1])
            } else {
                None
            };
            if let Some(first) = first {
                xl = first;
                xr = pi - 1 - row.windows(2).rev().position(|w| w[0] != w[1]).unwrap_or(0);
            }
            rows[j] = Row {
                xl,
                xr,
                left: row[0],
                right: row[pi - 1],
            };
        }
    }
}

/// Cell range `[lo, hi)` along i where cells spanning the given rows can be active.
fn cell_range(rows: &[Row], n_points: usize) -> (usize, usize) {
    let mut lo = rows.iter().map(|r| r.xl).min().unwrap_or(0);
    let mut hi = rows.iter().map(|r| r.xr).max().unwrap_or(0);
    if rows.iter().any(|r| r.left != rows[0].left) {
        lo = 0;
    }
    if rows.iter().any(|r| r.right != rows[0].right) {
        hi = n_points - 1;
    }
    (lo, hi)
}

/// Point range where edges between the given rows can cross.
fn point_range(rows: &[Row], n_points: usize) -> (usize, usize) {
    let (lo, hi) = cell_range(rows, n_points);
    (lo, (hi + 1).min(n_points))
}

/// Vertex count of plane `k` (x and y edges in it, z edges to plane k+1).
fn count_vertices(planes: (&Plane, Option<&Plane>), pi: usize, pj: usize) -> u32 {
    let (a, b) = planes;
    let mut n = 0u32;
    for j in 0..pj {
        let r = a.rows[j];
        let row = &a.class[j * pi..(j + 1) * pi];
        for e in r.xl..r.xr {
            n += u32::from(row[e] != row[e + 1]);
        }
        if j + 1 < pj {
            let (lo, hi) = point_range(&[r, a.rows[j + 1]], pi);
            let next = &a.class[(j + 1) * pi..(j + 2) * pi];
            for i in lo..hi {
                n += u32::from(row[i] != next[i]);
            }
        }
        if let Some(b) = b {
            let (lo, hi) = point_range(&[r, b.rows[j]], pi);
            let up = &b.class[j * pi..(j + 1) * pi];
            for i in lo..hi {
                n += u32::from(row[i] != up[i]);
            }
        }
    }
    n
}

#[inline(always)]
fn case_at(a: &Plane, b: &Plane, pi: usize, j: usize, i: usize) -> usize {
    let r0 = j * pi + i;
    let r1 = r0 + pi;
    usize::from(a.class[r0])
        | usize::from(a.class[r0 + 1]) << 1
        | usize::from(a.class[r1 + 1]) << 2
        | usize::from(a.class[r1]) << 3
        | usize::from(b.class[r0]) << 4
        | usize::from(b.class[r0 + 1]) << 5
        | usize::from(b.class[r1 + 1]) << 6
        | usize::from(b.class[r1]) << 7
}

fn count_triangles(a: &Plane, b: &Plane, pi: usize, pj: usize, counts: &[u8; 256]) -> usize {
    let mut n = 0usize;
    for j in 0..pj - 1 {
        let (lo, hi) = cell_range(&[a.rows[j], a.rows[j + 1], b.rows[j], b.rows[j + 1]], pi);
        for i in lo..hi {
            n += usize::from(counts[case_at(a, b, pi, j, i)]);
        }
    }
    n
}

/// Edge-id maps of one plane (x, y and z edges), indexed `j * pi + i`; only entries of
/// crossing edges are ever written or read, so the maps are reused without clearing.
struct IdMaps {
    x: Vec<u32>,
    y: Vec<u32>,
    z: Vec<u32>,
}

impl IdMaps {
    fn new(n: usize) -> IdMaps {
        IdMaps {
            x: vec![0; n],
            y: vec![0; n],
            z: vec![0; n],
        }
    }
}

/// Pass 1 of [`marching_cubes`]: per plane the vertices, per slab the triangles, counted
/// in parallel over `chunks` of planes, then prefix-summed into each plane's first vertex id
/// and first triangle (the offsets pass 2 fills disjoint ranges from). None when cancelled.
fn count_pass<T: McSample>(
    g: &Grid<'_, T>,
    chunks: &[(usize, usize)],
    iso: f32,
    progress: &Progress,
) -> Option<(Vec<u32>, Vec<usize>)> {
    let [pi, pj, pk] = g.n;
    let flat = g.flat;
    let counts_table = tri_counts();
    // Pass 1: per plane, vertex count; per slab, triangle count.
    let counted: Vec<Vec<(u32, usize)>> = chunks
        .par_iter()
        .map(|&(k0, k1)| {
            if progress.is_cancelled() {
                return Vec::new();
            }
            // Two planes slide up the chunk.
            let (mut a, mut b) = (Plane::default(), Plane::default());
            g.classify_into(k0, iso, flat, &mut a);
            let out = (k0..k1)
                .map(|k| {
                    let has_next = k + 1 < pk;
                    if has_next {
                        g.classify_into(k + 1, iso, flat, &mut b);
                    }
                    let next = has_next.then_some(&b);
                    let nv = count_vertices((&a, next), pi, pj);
                    let nt = next
                        .map(|b| count_triangles(&a, b, pi, pj, &counts_table))
                        .unwrap_or(0);
                    std::mem::swap(&mut a, &mut b);
                    (nv, nt)
                })
                .collect();
            progress.inc((k1 - k0) as u64);
            out
        })
        .collect();
    if progress.is_cancelled() {
        return None;
    }
    let counts: Vec<(u32, usize)> = counted.into_iter().flatten().collect();
    let mut vert_offset = vec![0u32; pk + 1];
    let mut tri_offset = vec![0usize; pk + 1];
    for k in 0..pk {
        vert_offset[k + 1] = vert_offset[k] + counts[k].0;
        tri_offset[k + 1] = tri_offset[k] + counts[k].1;
    }
    Some((vert_offset, tri_offset))
}

/// Assigns ids to the crossing edges of plane `k` (of a grid `[pi, pj, pk]`), in the
/// counting order from `first_id`; emits the vertices when the plane belongs to this chunk
/// (`owned`).
fn assign_ids(
    k: usize,
    ring: &[Plane; 3],
    maps: &mut IdMaps,
    owned: bool,
    [pi, pj, pk]: [usize; 3],
    first_id: u32,
    emit: &mut dyn FnMut(u32, [usize; 3], [usize; 3]),
) {
    let a = &ring[k % 3];
    let b = (k + 1 < pk).then(|| &ring[(k + 1) % 3]);
    let mut next = first_id;
    for j in 0..pj {
        let r = a.rows[j];
        let row = &a.class[j * pi..(j + 1) * pi];
        for e in r.xl..r.xr {
            if row[e] != row[e + 1] {
                maps.x[j * pi + e] = next;
                if owned {
                    emit(next, [e, j, k], [e + 1, j, k]);
                }
                next += 1;
            }
        }
        if j + 1 < pj {
            let (lo, hi) = point_range(&[r, a.rows[j + 1]], pi);
            let up = &a.class[(j + 1) * pi..(j + 2) * pi];
            for i in lo..hi {
                if row[i] != up[i] {
                    maps.y[j * pi + i] = next;
                    if owned {
                        emit(next, [i, j, k], [i, j + 1, k]);
                    }
                    next += 1;
                }
            }
        }
        if let Some(b) = b {
            let (lo, hi) = point_range(&[r, b.rows[j]], pi);
            let above = &b.class[j * pi..(j + 1) * pi];
            for i in lo..hi {
                if row[i] != above[i] {
                    maps.z[j * pi + i] = next;
                    if owned {
                        emit(next, [i, j, k], [i, j, k + 1]);
                    }
                    next += 1;
                }
            }
        }
    }
}

/// The parts of the output each chunk of planes fills (pass 2 of [`marching_cubes`]): the
/// chunk's planes and its disjoint ranges of positions, normals and triangles.
type ChunkOutput<'a> = (
    usize,
    usize,
    &'a mut [[f64; 3]],
    &'a mut [[f32; 3]],
    &'a mut [[u32; 3]],
);

/// The whole output: positions, normals, triangles.
type Outputs<'a> = (&'a mut [[f64; 3]], &'a mut [[f32; 3]], &'a mut [[u32; 3]]);

fn split_outputs<'a>(
    chunks: &[(usize, usize)],
    (vert_offset, tri_offset): (&[u32], &[usize]),
    (positions, normals, indices): Outputs<'a>,
) -> Vec<ChunkOutput<'a>> {
    let mut jobs = Vec::new();
    let mut pos_rest: &mut [[f64; 3]] = positions;
    let mut nrm_rest: &mut [[f32; 3]] = normals;
    let mut idx_rest: &mut [[u32; 3]] = indices;
    for &(k0, k1) in chunks {
        let nv = (vert_offset[k1] - vert_offset[k0]) as usize;
        let nt = tri_offset[k1] - tri_offset[k0];
        let (p, pr) = std::mem::take(&mut pos_rest).split_at_mut(nv);
        let (n, nr) = std::mem::take(&mut nrm_rest).split_at_mut(nv);
        let (t, tr) = std::mem::take(&mut idx_rest).split_at_mut(nt);
        pos_rest = pr;
        nrm_rest = nr;
        idx_rest = tr;
        jobs.push((k0, k1, p, n, t));
    }
    jobs
}

/// Extracts the iso-surface `value = iso` of `data` (`[k, j, i]` on `geometry`). Inside is
/// `value >= iso`; triangles face outward (positive enclosed volume) for any orientation
/// of the voxel frame, left-handed included. Normals come from the data's gradient.
/// Returns `None` when cancelled.
pub fn marching_cubes<T>(
    data: ArrayView3<'_, T>,
    geometry: &Geometry,
    iso: f32,
    options: McOptions,
    progress: &Progress,
) -> Option<TriMesh>
where
    T: McSample,
{
    let (nk, nj, ni) = data.dim();
    let too_thin = !options.pad && (ni < 2 || nj < 2 || nk < 2);
    if too_thin || ni * nj * nk == 0 {
        return Some(TriMesh::default());
    }
    let owned;
    let data = if data.is_standard_layout() {
        data
    } else {
        owned = data.as_standard_layout().into_owned();
        owned.view()
    };
    let flat = data.as_slice()?;
    // Shift the level off the sample values of integer data so no vertex lands exactly on
    // a grid point (zero-area triangles); `v >= iso` keeps its meaning for integers.
    let iso = if iso.fract() == 0.0 { iso - 1e-3 } else { iso };
    let pad = usize::from(options.pad);
    let pad_value = if options.pad {
        flat.iter()
            .fold(f32::INFINITY, |m, &v| m.min(v.into()))
            .min(iso - 1.0)
    } else {
        0.0
    };
    let g = Grid {
        data,
        flat,
        pad,
        pad_value,
        n: [ni + 2 * pad, nj + 2 * pad, nk + 2 * pad],
    };
    let [pi, pj, pk] = g.n;
    progress.set_total(2 * pk as u64);
    let chunk = (pk / (rayon::current_num_threads() * 4)).max(2);
    let chunks: Vec<(usize, usize)> = (0..pk)
        .step_by(chunk)
        .map(|k0| (k0, (k0 + chunk).min(pk)))
        .collect();
    let (vert_offset, tri_offset) = count_pass(&g, &chunks, iso, progress)?;
    let n_verts = vert_offset[pk] as usize;
    let n_tris = tri_offset[pk];

    // Voxel frame handedness decides the winding.
    let d = geometry.direction_matrix();
    let flip = d.determinant() < 0.0;
    let spacing = Vector3::from(geometry.spacing_mm);
    let normal_from_index: Matrix3<f64> = d * Matrix3::from_diagonal(&spacing.map(|s| 1.0 / s));

    let mut positions = vec![[0.0f64; 3]; n_verts];
    let mut normals = vec![[0.0f32; 3]; n_verts];
    let mut indices = vec![[0u32; 3]; n_tris];

    // Pass 2: each chunk of planes fills its own ranges.
    let jobs = split_outputs(
        &chunks,
        (&vert_offset, &tri_offset),
        (&mut positions, &mut normals, &mut indices),
    );
    jobs.into_par_iter().for_each(|(k0, k1, pos, nrm, tris)| {
        if progress.is_cancelled() {
            return;
        }
        let vbase = vert_offset[k0];
        // Planes k, k+1 and k+2 (when they exist) in a ring of three reused buffers.
        let mut ring: [Plane; 3] = Default::default();
        let mut held = [usize::MAX; 3];
        let mut load = |k: usize, ring: &mut [Plane; 3]| {
            if k < pk && held[k % 3] != k {
                g.classify_into(k, iso, flat, &mut ring[k % 3]);
                held[k % 3] = k;
            }
        };
        let mut emit = |id: u32, a: [usize; 3], b: [usize; 3]| {
            let va = g.at(a[0], a[1], a[2]);
            let vb = g.at(b[0], b[1], b[2]);
            let t = f64::from((iso - va) / (vb - va));
            let ijk = [0, 1, 2].map(|c| a[c] as f64 + t * (b[c] as f64 - a[c] as f64) - pad as f64);
            let p = geometry.patient_from_ijk(ijk);
            let grad = g.gradient(a[0], a[1], a[2]) * (1.0 - t) + g.gradient(b[0], b[1], b[2]) * t;
            let mut n = -(normal_from_index * grad);
            if n.norm() > 0.0 {
                n.normalize_mut();
            }
            let slot = (id - vbase) as usize;
            pos[slot] = [p.x, p.y, p.z];
            nrm[slot] = [n.x as f32, n.y as f32, n.z as f32];
        };
        let mut below = IdMaps::new(pi * pj);
        let mut above = IdMaps::new(pi * pj);
        load(k0, &mut ring);
        load(k0 + 1, &mut ring);
        assign_ids(k0, &ring, &mut below, true, g.n, vert_offset[k0], &mut emit);
        let mut tri_n = 0usize;
        for k in k0..k1 {
            if k + 1 < pk {
                load(k + 2, &mut ring);
                assign_ids(
                    k + 1,
                    &ring,
                    &mut above,
                    k + 1 < k1,
                    g.n,
                    vert_offset[k + 1],
                    &mut emit,
                );
                let (a, b) = (&ring[k % 3], &ring[(k + 1) % 3]);
                for j in 0..pj - 1 {
                    let (lo, hi) =
                        cell_range(&[a.rows[j], a.rows[j + 1], b.rows[j], b.rows[j + 1]], pi);
                    for i in lo..hi {
                        let case = case_at(a, b, pi, j, i);
                        if case == 0 || case == 255 {
                            continue;
                        }
                        let edge_id = |e: i16| -> u32 {
                            let (axis, di, dj, dk) = EDGES[e as usize];
                            let maps = if dk == 0 { &below } else { &above };
                            let at = (j + dj) * pi + i + di;
                            match axis {
                                0 => maps.x[at],
                                1 => maps.y[at],
                                _ => below.z[at],
                            }
                        };
                        for tri in TRI_TABLE[case].chunks(3).take_while(|t| t[0] >= 0) {
                            let (a, b, c) = (edge_id(tri[0]), edge_id(tri[1]), edge_id(tri[2]));
                            tris[tri_n] = if flip { [a, c, b] } else { [a, b, c] };
                            tri_n += 1;
                        }
                    }
                }
                std::mem::swap(&mut below, &mut above);
            }
        }
        progress.inc((k1 - k0) as u64);
    });
    if progress.is_cancelled() {
        return None;
    }
    Some(TriMesh {
        positions_mm: positions,
        normals,
        indices,
    })
}
