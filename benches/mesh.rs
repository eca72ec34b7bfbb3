//! Surface extraction throughput: marching cubes at 200 HU on a 512×512×400 CT-like volume
//! (the peers' `make_volume.py` output when `TWINPLAN_BENCH_RAW=PREFIX` is set, else the
//! phantom), without padding so the surface equals VTK's; plus the mask pipeline stages.

use std::path::PathBuf;
use std::time::Duration;

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use ndarray::Array3;
use twinplan::mesh::{McOptions, marching_cubes};
use twinplan::phantom::{self, PhantomOptions};
use twinplan::progress::Progress;
use twinplan::volume::Geometry;

fn volume() -> (Array3<i16>, Geometry) {
    if let Some(prefix) = std::env::var_os("TWINPLAN_BENCH_RAW").map(PathBuf::from) {
        let p = prefix.to_string_lossy().into_owned();
        let header: serde_json::Value =
            serde_json::from_slice(&std::fs::read(format!("{p}.json")).expect("json"))
                .expect("parse");
        let d: Vec<usize> = serde_json::from_value(header["dims_xyz"].clone()).expect("dims");
        let s: Vec<f64> = serde_json::from_value(header["spacing_xyz"].clone()).expect("spacing");
        let bytes = std::fs::read(format!("{p}.raw")).expect("raw");
        let v: Vec<i16> = bytemuck::pod_collect_to_vec(&bytes);
        let a = Array3::from_shape_vec((d[2], d[1], d[0]), v).expect("shape");
        return (
            a,
            Geometry::axis_aligned([d[0], d[1], d[2]], [s[0], s[1], s[2]], [0.0; 3]),
        );
    }
    let ph = phantom::generate(
        &PhantomOptions::default().with_size([512, 512, 400]),
        &Progress::new(),
    )
    .expect("phantom");
    (ph.volume.voxels, ph.volume.geometry)
}

fn bench_mesh(c: &mut Criterion) {
    let (data, g) = volume();
    let mut group = c.benchmark_group("mesh");
    group
        .sample_size(20)
        .measurement_time(Duration::from_secs(10));
    group.throughput(Throughput::Elements(data.len() as u64));
    group.bench_function("marching_cubes_512x512x400_iso200", |b| {
        b.iter(|| {
            marching_cubes(
                data.view(),
                &g,
                200.0,
                McOptions::default().with_pad(false),
                &Progress::new(),
            )
            .expect("mesh")
        })
    });
    group.finish();

    let small = phantom::generate(
        &PhantomOptions::default().with_size([200, 200, 200]),
        &Progress::new(),
    )
    .expect("phantom");
    let mut group = c.benchmark_group("structure");
    group.sample_size(10);
    group.bench_function("phantom200_vessels_seeded", |b| {
        let opts = twinplan::surface::SurfaceOptions::new(twinplan::surface::Selection::Preset(
            twinplan::segment::Preset::Vessels,
        ))
        .with_seeds(vec![nalgebra::Point3::new(25.0, 15.0, -150.0)]);
        b.iter(|| {
            twinplan::surface::surface(&small.volume, &opts, &Progress::new()).expect("surface")
        })
    });
    group.bench_function("phantom200_bone_decimated_60k", |b| {
        let opts = twinplan::surface::SurfaceOptions::new(twinplan::surface::Selection::Preset(
            twinplan::segment::Preset::Bone,
        ))
        .with_target_triangles(Some(60_000));
        b.iter(|| {
            twinplan::surface::surface(&small.volume, &opts, &Progress::new()).expect("surface")
        })
    });
    group.finish();
}

criterion_group!(benches, bench_mesh);
criterion_main!(benches);
