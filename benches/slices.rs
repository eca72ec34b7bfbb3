//! What one slice-view update costs on the CPU (the viewer's window/level path, instead of a
//! shader): reslicing a 512×512×400 CT (0.7 × 0.7 × 1 mm) on each patient plane through the
//! centre, and window/level of a 512² slice into grey pixels. Also the structure outline of a
//! slice (mesh–plane section of a 400k-triangle surface). Each on one thread, as the window's
//! main thread does them (`reslice_here`, `plane_section_here`), and the reslice also with
//! the thread pool (`reslice`, for the command line and exports).

use std::time::Duration;

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use nalgebra::{Point3, Vector3};
use ndarray::Array3;
use twinplan::mesh::{McOptions, marching_cubes};
use twinplan::progress::Progress;
use twinplan::session::section::plane_section_here;
use twinplan::volume::display::{Cursor, Plane, WindowLevel, reslice, reslice_here};
use twinplan::volume::{Geometry, Volume};

fn volume() -> Volume {
    let g = Geometry::axis_aligned([512, 512, 400], [0.7, 0.7, 1.0], [-179.0, -179.0, -400.0]);
    // A body-like ellipse with a bright ring and noise-free gradient: values vary per voxel.
    let voxels = Array3::from_shape_fn((400, 512, 512), |(k, j, i)| {
        let x = (i as f64 - 256.0) / 230.0;
        let y = (j as f64 - 256.0) / 170.0;
        let r = (x * x + y * y).sqrt();
        let v = if r < 1.0 {
            40.0 + 300.0 * (r * 9.0).sin().abs()
        } else {
            -1000.0
        };
        (v + (k % 7) as f64) as i16
    });
    Volume::new(voxels, g).expect("shape")
}

fn bench_slices(c: &mut Criterion) {
    let v = volume();
    let cursor = Cursor::centred(&v);
    let mut group = c.benchmark_group("slice_view");
    group
        .sample_size(20)
        .measurement_time(Duration::from_secs(4));
    for plane in Plane::ALL {
        let s = reslice(&v, plane, &cursor.point(), None);
        group.throughput(Throughput::Elements((s.width * s.height) as u64));
        group.bench_function(format!("reslice_{plane:?}"), |b| {
            b.iter(|| reslice_here(&v, plane, &cursor.point(), None))
        });
        group.bench_function(format!("reslice_{plane:?}_pool"), |b| {
            b.iter(|| reslice(&v, plane, &cursor.point(), None))
        });
    }
    let s = reslice(&v, Plane::Axial, &cursor.point(), None);
    group.throughput(Throughput::Elements((s.width * s.height) as u64));
    let w = WindowLevel::new(40.0, 400.0);
    group.bench_function("window_level_512", |b| b.iter(|| s.to_grey(&w)));

    // Outline: a sphere-ish surface of ~400k triangles cut by an axial plane.
    let g = Geometry::axis_aligned([300, 300, 300], [0.5; 3], [-75.0; 3]);
    let field = Array3::from_shape_fn((300, 300, 300), |(k, j, i)| {
        let p = g.patient_from_ijk([i as f64, j as f64, k as f64]);
        (60.0 - p.coords.norm() + 3.0 * (p.x * 0.2).sin()) as f32
    });
    let mesh = marching_cubes(
        field.view(),
        &g,
        0.0,
        McOptions::default(),
        &Progress::new(),
    )
    .expect("mesh");
    group.throughput(Throughput::Elements(mesh.indices.len() as u64));
    group.bench_function(
        format!("outline_{}k_triangles", mesh.indices.len() / 1000),
        |b| b.iter(|| plane_section_here(&mesh, &Point3::new(0.0, 0.0, 5.0), &Vector3::z())),
    );
    group.finish();
}

criterion_group!(benches, bench_slices);
criterion_main!(benches);
