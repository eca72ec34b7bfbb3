//! Decimation only (mesh already in memory) on a surface file, to compare with
//! ../shared/bench/anchor_decimate.py in one run.
//! usage: cargo run --release --example decimate_mesh -- MESH.stl TARGET
//! Prints one JSON line: seconds, triangles in/out, whether the result is closed and
//! manifold, the enclosed volume's change, and how far the original vertices lie from the
//! decimated surface (mean and max over every 7th vertex, mm).

use std::time::Instant;

use anyhow::{Context, Result, anyhow};
use twinplan::mesh::TriMesh;
use twinplan::mesh::decimate::decimate;
use twinplan::mesh::io::read_mesh;

fn closest_on_triangle(p: [f64; 3], a: [f64; 3], b: [f64; 3], c: [f64; 3]) -> f64 {
    // Ericson, Real-Time Collision Detection 5.1.5, distance only.
    let sub = |x: [f64; 3], y: [f64; 3]| [x[0] - y[0], x[1] - y[1], x[2] - y[2]];
    let dot = |x: [f64; 3], y: [f64; 3]| x[0] * y[0] + x[1] * y[1] + x[2] * y[2];
    let at = |o: [f64; 3], d: [f64; 3], t: f64| [o[0] + d[0] * t, o[1] + d[1] * t, o[2] + d[2] * t];
    let dist = |q: [f64; 3]| dot(sub(p, q), sub(p, q)).sqrt();
    let (ab, ac, ap) = (sub(b, a), sub(c, a), sub(p, a));
    let (d1, d2) = (dot(ab, ap), dot(ac, ap));
    if d1 <= 0.0 && d2 <= 0.0 {
        return dist(a);
    }
    let bp = sub(p, b);
    let (d3, d4) = (dot(ab, bp), dot(ac, bp));
    if d3 >= 0.0 && d4 <= d3 {
        return dist(b);
    }
    let vc = d1 * d4 - d3 * d2;
    if vc <= 0.0 && d1 >= 0.0 && d3 <= 0.0 {
        return dist(at(a, ab, d1 / (d1 - d3)));
    }
    let cp = sub(p, c);
    let (d5, d6) = (dot(ab, cp), dot(ac, cp));
    if d6 >= 0.0 && d5 <= d6 {
        return dist(c);
    }
    let vb = d5 * d2 - d1 * d6;
    if vb <= 0.0 && d2 >= 0.0 && d6 <= 0.0 {
        return dist(at(a, ac, d2 / (d2 - d6)));
    }
    let va = d3 * d6 - d5 * d4;
    if va <= 0.0 && (d4 - d3) >= 0.0 && (d5 - d6) >= 0.0 {
        return dist(at(b, sub(c, b), (d4 - d3) / ((d4 - d3) + (d5 - d6))));
    }
    let denom = 1.0 / (va + vb + vc);
    let (v, w) = (vb * denom, vc * denom);
    dist([
        a[0] + ab[0] * v + ac[0] * w,
        a[1] + ab[1] * v + ac[1] * w,
        a[2] + ab[2] * v + ac[2] * w,
    ])
}

/// Mean and max distance of every 7th vertex of `from` to the surface `to`.
fn deviation(from: &TriMesh, to: &TriMesh) -> (f64, f64) {
    use std::collections::HashMap;
    let cell = 2.0;
    let key = |p: [f64; 3]| p.map(|c| (c / cell).floor() as i64);
    let mut grid: HashMap<[i64; 3], Vec<u32>> = HashMap::new();
    for (t, tri) in to.indices.iter().enumerate() {
        let ps = tri.map(|v| to.positions_mm[v as usize]);
        let lo = key(std::array::from_fn(|a| {
            ps.iter().map(|p| p[a]).fold(f64::INFINITY, f64::min)
        }));
        let hi = key(std::array::from_fn(|a| {
            ps.iter().map(|p| p[a]).fold(f64::NEG_INFINITY, f64::max)
        }));
        for x in lo[0]..=hi[0] {
            for y in lo[1]..=hi[1] {
                for z in lo[2]..=hi[2] {
                    grid.entry([x, y, z]).or_default().push(t as u32);
                }
            }
        }
    }
    let (mut sum, mut max, mut n) = (0.0, 0.0f64, 0usize);
    for p in from.positions_mm.iter().step_by(7) {
        let k = key(*p);
        let mut best = f64::INFINITY;
        for r in 0i64..20 {
            for x in -r..=r {
                for y in -r..=r {
                    for z in -r..=r {
                        if x.abs().max(y.abs()).max(z.abs()) != r {
                            continue;
                        }
                        for &t in grid
                            .get(&[k[0] + x, k[1] + y, k[2] + z])
                            .into_iter()
                            .flatten()
                        {
                            let tri = to.indices[t as usize].map(|v| to.positions_mm[v as usize]);
                            best = best.min(closest_on_triangle(*p, tri[0], tri[1], tri[2]));
                        }
                    }
                }
            }
            // Anything in a further ring is at least r·cell away.
            if best <= r as f64 * cell {
                break;
            }
        }
        sum += best;
        max = max.max(best);
        n += 1;
    }
    (sum / n.max(1) as f64, max)
}

fn main() -> Result<()> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let path = args
        .first()
        .ok_or_else(|| anyhow!("usage: decimate_mesh MESH TARGET"))?;
    let target: usize = args.get(1).context("TARGET missing")?.parse()?;
    let original = read_mesh(std::path::Path::new(path))?;
    let mut m = original.clone();
    let t = Instant::now();
    decimate(&mut m, target, &twinplan::progress::Progress::new())
        .ok_or_else(|| anyhow!("cancelled"))?;
    let seconds = t.elapsed().as_secs_f64();
    let check = m.check();
    let (v0, v1) = (original.signed_volume_mm3(), m.signed_volume_mm3());
    let (mean, max) = deviation(&original, &m);
    println!(
        "{}",
        serde_json::json!({
            "method": "twinplan", "threads": rayon::current_num_threads(),
            "seconds": seconds, "triangles_in": original.triangle_count(),
            "triangles_out": m.triangle_count(), "closed": check.is_watertight(),
            "open_or_nonmanifold_edges": check.open_or_nonmanifold_edges,
            "degenerate": check.degenerate_triangles,
            "volume_change_pct": (v1 - v0) / v0 * 100.0,
            "deviation_mean_mm": mean, "deviation_max_mm": max,
        })
    );
    Ok(())
}
