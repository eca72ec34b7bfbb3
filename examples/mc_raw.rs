//! Iso-surface extraction only (volume already in memory) on a raw volume from
//! ../shared/bench/make_volume.py, to compare with ../shared/bench/anchor_mc.py in one run.
//! usage: cargo run --release --example mc_raw -- PREFIX ISO [REPEATS] [--pad]
//! Prints one JSON line: seconds (the first, cold, extraction; min and median), triangles, vertices, peak RSS.

use std::time::Instant;

use anyhow::{Context, Result, anyhow};
use twinplan::mesh::{McOptions, marching_cubes};
use twinplan::progress::Progress;
use twinplan::volume::Geometry;

fn main() -> Result<()> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let prefix = args
        .first()
        .ok_or_else(|| anyhow!("usage: mc_raw PREFIX ISO [REPEATS] [--pad]"))?;
    let iso: f32 = args.get(1).ok_or_else(|| anyhow!("ISO missing"))?.parse()?;
    let repeats: usize = args.get(2).map(|s| s.parse()).transpose()?.unwrap_or(5);
    let pad = args.iter().any(|a| a == "--pad");
    let header: serde_json::Value =
        serde_json::from_slice(&std::fs::read(format!("{prefix}.json"))?)?;
    let dims: Vec<usize> =
        serde_json::from_value(header["dims_xyz"].clone()).context("dims_xyz")?;
    let spacing: Vec<f64> =
        serde_json::from_value(header["spacing_xyz"].clone()).context("spacing_xyz")?;
    // Read straight into the sample buffer (no second copy of the volume).
    let n = dims[0] * dims[1] * dims[2];
    let mut samples = vec![0i16; n];
    {
        use std::io::Read;
        let mut f = std::fs::File::open(format!("{prefix}.raw"))?;
        f.read_exact(bytemuck::cast_slice_mut(&mut samples))?;
    }
    let data = ndarray::Array3::from_shape_vec((dims[2], dims[1], dims[0]), samples)?;
    let g = Geometry::axis_aligned(
        [dims[0], dims[1], dims[2]],
        [spacing[0], spacing[1], spacing[2]],
        [0.0; 3],
    );
    let mut times = Vec::new();
    let mut last = None;
    for _ in 0..repeats {
        drop(last.take());
        let t = Instant::now();
        let m = marching_cubes(
            data.view(),
            &g,
            iso,
            McOptions::default().with_pad(pad),
            &Progress::new(),
        )
        .ok_or_else(|| anyhow!("cancelled"))?;
        times.push(t.elapsed().as_secs_f64());
        last = Some(m);
    }
    let m = last.ok_or_else(|| anyhow!("no repeats"))?;
    // The first extraction in a fresh process is what a user's first open pays (thread
    // pool start, first touch of the output's pages): compare it across fresh processes.
    let first = times[0];
    times.sort_by(f64::total_cmp);
    let peak = twinplan::memory::peak_resident_bytes();
    let mesh_bytes = m.positions_mm.len() * (24 + 12) + m.indices.len() * 12;
    println!(
        "{}",
        serde_json::json!({
            "method": "twinplan", "threads": rayon::current_num_threads(),
            "seconds_first": first, "seconds_min": times[0], "seconds_median": times[times.len() / 2],
            "triangles": m.triangle_count(), "vertices": m.positions_mm.len(),
            "volume_bytes": data.len() * 2, "mesh_bytes": mesh_bytes, "peak_rss_bytes": peak,
        })
    );
    Ok(())
}
