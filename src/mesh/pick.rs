//! Ray picking on a surface: the exact point where a ray from the eye first meets a
//! triangle of a [`TriMesh`], in patient millimetres, for placing and dragging points on 3D
//! surfaces.
//!
//! A bounding volume hierarchy (axis-aligned boxes, split at the median centroid along the
//! longest axis, up to [`LEAF_TRIANGLES`] triangles per leaf) keeps a cast to a few dozen
//! box and triangle tests on a million-triangle surface; the triangle test is
//! Möller–Trumbore in f64, two-sided (a surface seen from inside is hit too), and the hit
//! point is the barycentric combination of the triangle's corners, so it lies on the mesh to
//! rounding. Depends on `TriMesh` only.

use super::TriMesh;

/// Triangles per leaf.
pub const LEAF_TRIANGLES: usize = 4;

/// Where a ray meets a mesh.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Hit {
    /// Distance along the ray, in units of its direction's length (mm for a unit direction).
    pub t: f64,
    /// The point on the triangle, patient mm.
    pub point_mm: [f64; 3],
    /// Index into the mesh's triangles.
    pub triangle: usize,
    /// Barycentric weights of the triangle's three corners at the point.
    pub weights: [f64; 3],
}

#[derive(Debug, Clone, Copy)]
struct Node {
    lo: [f64; 3],
    hi: [f64; 3],
    /// Leaf: the first of `count` entries of `order`. Inner: the right child (the left one
    /// follows the node).
    first: u32,
    count: u32,
}

/// A hierarchy over one mesh's triangles. Built once per surface (about 0.3 s for a million
/// triangles on one core); valid while the mesh's positions and triangles are unchanged.
#[derive(Debug, Clone, Default)]
pub struct Bvh {
    nodes: Vec<Node>,
    /// Triangle indices, leaf by leaf.
    order: Vec<u32>,
    /// The triangle count it was built for (a cast on another mesh finds nothing).
    triangles: usize,
}

fn corners(mesh: &TriMesh, t: u32) -> Option<[[f64; 3]; 3]> {
    let tri = mesh.indices.get(t as usize)?;
    Some([
        *mesh.positions_mm.get(tri[0] as usize)?,
        *mesh.positions_mm.get(tri[1] as usize)?,
        *mesh.positions_mm.get(tri[2] as usize)?,
    ])
}

impl Bvh {
    pub fn build(mesh: &TriMesh) -> Bvh {
        let n = mesh.indices.len();
        let mut bvh = Bvh {
            nodes: Vec::with_capacity(2 * n.div_ceil(LEAF_TRIANGLES)),
            order: (0..n as u32).collect(),
            triangles: n,
        };
        // Triangles with a corner index outside the positions are left out.
        bvh.order.retain(|&t| corners(mesh, t).is_some());
        let centroid: Vec<[f64; 3]> = (0..n as u32)
            .map(|t| {
                corners(mesh, t)
                    .map(|c| std::array::from_fn(|a| (c[0][a] + c[1][a] + c[2][a]) / 3.0))
                    .unwrap_or([0.0; 3])
            })
            .collect();
        if !bvh.order.is_empty() {
            let len = bvh.order.len();
            bvh.split(mesh, &centroid, 0, len);
        }
        bvh
    }

    /// Builds the node for `order[start..end]` and its children; returns its index.
    fn split(&mut self, mesh: &TriMesh, centroid: &[[f64; 3]], start: usize, end: usize) -> usize {
        let mut lo = [f64::INFINITY; 3];
        let mut hi = [f64::NEG_INFINITY; 3];
        let mut clo = [f64::INFINITY; 3];
        let mut chi = [f64::NEG_INFINITY; 3];
        for &t in &self.order[start..end] {
            if let Some(c) = corners(mesh, t) {
                for p in c {
                    for a in 0..3 {
                        lo[a] = lo[a].min(p[a]);
                        hi[a] = hi[a].max(p[a]);
                    }
                }
            }
            let m = centroid[t as usize];
            for a in 0..3 {
                clo[a] = clo[a].min(m[a]);
                chi[a] = chi[a].max(m[a]);
            }
        }
        let index = self.nodes.len();
        self.nodes.push(Node {
            lo,
            hi,
            first: start as u32,
            count: (end - start) as u32,
        });
        let axis = (0..3)
            .max_by(|&a, &b| (chi[a] - clo[a]).total_cmp(&(chi[b] - clo[b])))
            .unwrap_or(0);
        if end - start <= LEAF_TRIANGLES || chi[axis] - clo[axis] <= 0.0 {
            return index;
        }
        let mid = start + (end - start) / 2;
        self.order[start..end].select_nth_unstable_by(mid - start, |&a, &b| {
            centroid[a as usize][axis].total_cmp(&centroid[b as usize][axis])
        });
        self.split(mesh, centroid, start, mid);
        let right = self.split(mesh, centroid, mid, end);
        self.nodes[index].first = right as u32;
        self.nodes[index].count = 0;
        index
    }

    /// The nearest hit of the ray `origin + t·direction`, t > 0, on `mesh` (the mesh this
    /// hierarchy was built for).
    pub fn cast(&self, mesh: &TriMesh, origin: [f64; 3], direction: [f64; 3]) -> Option<Hit> {
        if self.nodes.is_empty()
            || mesh.indices.len() != self.triangles
            || direction.iter().all(|&d| d == 0.0)
            || !origin.iter().chain(&direction).all(|v| v.is_finite())
        {
            return None;
        }
        let inv = direction.map(|d| 1.0 / d);
        let mut best: Option<Hit> = None;
        let mut stack = vec![0usize];
        while let Some(i) = stack.pop() {
            let node = self.nodes[i];
            let limit = best.map_or(f64::INFINITY, |h| h.t);
            if !box_hit(&node, origin, inv, limit) {
                continue;
            }
            if node.count > 0 {
                let range = node.first as usize..(node.first + node.count) as usize;
                for &t in &self.order[range] {
                    keep_nearer(mesh, t, origin, direction, &mut best);
                }
            } else {
                stack.push(node.first as usize);
                stack.push(i + 1);
            }
        }
        best
    }
}

impl Bvh {
    /// The nearest hit tested against every triangle (for checking the hierarchy).
    pub fn brute_force(mesh: &TriMesh, origin: [f64; 3], direction: [f64; 3]) -> Option<Hit> {
        let mut best: Option<Hit> = None;
        for t in 0..mesh.indices.len() as u32 {
            keep_nearer(mesh, t, origin, direction, &mut best);
        }
        best
    }
}

/// Tests triangle `t` and keeps its hit in `best` if nearer.
fn keep_nearer(mesh: &TriMesh, t: u32, origin: [f64; 3], dir: [f64; 3], best: &mut Option<Hit>) {
    if let Some(c) = corners(mesh, t)
        && let Some((d, w)) = triangle_hit(c, origin, dir)
        && d < best.map_or(f64::INFINITY, |h| h.t)
    {
        let point_mm = std::array::from_fn(|a| w[0] * c[0][a] + w[1] * c[1][a] + w[2] * c[2][a]);
        *best = Some(Hit {
            t: d,
            point_mm,
            triangle: t as usize,
            weights: w,
        });
    }
}

/// Slab test: does the ray enter the box before `limit`?
fn box_hit(node: &Node, origin: [f64; 3], inv: [f64; 3], limit: f64) -> bool {
    let mut t0: f64 = 0.0;
    let mut t1 = limit;
    for a in 0..3 {
        let (mut near, mut far) = (
            (node.lo[a] - origin[a]) * inv[a],
            (node.hi[a] - origin[a]) * inv[a],
        );
        if near > far {
            std::mem::swap(&mut near, &mut far);
        }
        // A ray parallel to a slab and inside it gives NaN for 0·∞: it does not limit.
        if !near.is_nan() {
            t0 = t0.max(near);
        }
        if !far.is_nan() {
            t1 = t1.min(far);
        }
        if t0 > t1 {
            return false;
        }
    }
    true
}

/// Möller–Trumbore, two-sided: the distance along the ray and the barycentric weights.
fn triangle_hit(c: [[f64; 3]; 3], o: [f64; 3], d: [f64; 3]) -> Option<(f64, [f64; 3])> {
    let sub = |a: [f64; 3], b: [f64; 3]| [a[0] - b[0], a[1] - b[1], a[2] - b[2]];
    let cross = |a: [f64; 3], b: [f64; 3]| {
        [
            a[1] * b[2] - a[2] * b[1],
            a[2] * b[0] - a[0] * b[2],
            a[0] * b[1] - a[1] * b[0],
        ]
    };
    let dot = |a: [f64; 3], b: [f64; 3]| a[0] * b[0] + a[1] * b[1] + a[2] * b[2];
    let e1 = sub(c[1], c[0]);
    let e2 = sub(c[2], c[0]);
    let p = cross(d, e2);
    let det = dot(e1, p);
    // Parallel to the triangle's plane, or a degenerate triangle.
    let scale = dot(e1, e1).sqrt() * dot(e2, e2).sqrt() * dot(d, d).sqrt();
    if det.abs() <= 1e-14 * scale || scale == 0.0 {
        return None;
    }
    let s = sub(o, c[0]);
    let u = dot(s, p) / det;
    if !(0.0..=1.0).contains(&u) {
        return None;
    }
    let q = cross(s, e1);
    let v = dot(d, q) / det;
    if v < 0.0 || u + v > 1.0 {
        return None;
    }
    let t = dot(e2, q) / det;
    (t > 0.0).then_some((t, [1.0 - u - v, u, v]))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// An octahedron of "radius" r around the origin: 8 triangles, closed.
    fn octahedron(r: f64) -> TriMesh {
        let p = vec![
            [r, 0.0, 0.0],
            [-r, 0.0, 0.0],
            [0.0, r, 0.0],
            [0.0, -r, 0.0],
            [0.0, 0.0, r],
            [0.0, 0.0, -r],
        ];
        let indices = vec![
            [0, 2, 4],
            [2, 1, 4],
            [1, 3, 4],
            [3, 0, 4],
            [2, 0, 5],
            [1, 2, 5],
            [3, 1, 5],
            [0, 3, 5],
        ];
        TriMesh {
            positions_mm: p,
            normals: Vec::new(),
            indices,
        }
    }

    #[test]
    fn rays_hit_the_nearest_face_at_its_exact_point() {
        let m = octahedron(10.0);
        let bvh = Bvh::build(&m);
        // Along +x from outside: the vertex region at x = 10 (first face met).
        let h = bvh
            .cast(&m, [30.0, 0.1, 0.1], [-1.0, 0.0, 0.0])
            .expect("hit");
        // The face x + y + z = 10 at y = z = 0.1.
        assert!((h.point_mm[0] - 9.8).abs() < 1e-12, "{h:?}");
        assert!((h.t - 20.2).abs() < 1e-12);
        // From inside (two-sided), and a miss.
        let h = bvh
            .cast(&m, [0.0; 3], [1.0, 1.0, 1.0])
            .expect("hit from inside");
        let s: f64 = h.point_mm.iter().sum();
        assert!((s - 10.0).abs() < 1e-12, "{h:?}");
        assert!(bvh.cast(&m, [30.0, 30.0, 0.0], [0.0, 0.0, 1.0]).is_none());
        // Behind the origin is not a hit; a zero direction casts nothing.
        assert!(bvh.cast(&m, [30.0, 0.1, 0.1], [1.0, 0.0, 0.0]).is_none());
        assert!(bvh.cast(&m, [30.0, 0.1, 0.1], [0.0; 3]).is_none());
        // A mesh it was not built for finds nothing rather than the wrong triangle.
        assert!(
            bvh.cast(&TriMesh::default(), [30.0, 0.1, 0.1], [-1.0, 0.0, 0.0])
                .is_none()
        );
    }
}
