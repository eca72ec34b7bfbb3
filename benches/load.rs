//! Loader throughput: folder → volume for a 512×512×400 uncompressed CT series, and header
//! scanning of a 1,000-file folder. The series is `TWINPLAN_BENCH_SERIES` when set (e.g. the
//! peers' series from ../shared/bench/write_series.py, so both sides read the same files),
//! otherwise a phantom series written once under target/bench-data.

use std::path::{Path, PathBuf};
use std::time::Duration;

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use twinplan::dicom::{self, write::CtSeriesOptions};
use twinplan::phantom::{self, PhantomOptions};
use twinplan::progress::Progress;

fn phantom_series(name: &str, size: [usize; 3]) -> PathBuf {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("target/bench-data")
        .join(name);
    let done = dir.join(".complete");
    if !done.exists() {
        let _ = std::fs::remove_dir_all(&dir);
        let progress = Progress::new();
        let ph = phantom::generate(&PhantomOptions::default().with_size(size), &progress)
            .expect("phantom");
        let opts = CtSeriesOptions::default().with_uid_seed(name);
        dicom::write::write_ct_series(
            &ph.volume,
            &dir,
            &opts,
            &|k| format!("{k:05}.dcm"),
            &progress,
        )
        .expect("write bench series");
        std::fs::write(&done, b"").expect("marker");
    }
    dir
}

fn bench_load(c: &mut Criterion) {
    let series = std::env::var_os("TWINPLAN_BENCH_SERIES")
        .map(PathBuf::from)
        .unwrap_or_else(|| phantom_series("phantom-512x512x400", [512, 512, 400]));
    let mut group = c.benchmark_group("load");
    group
        .sample_size(20)
        .measurement_time(Duration::from_secs(10));
    group.throughput(Throughput::Elements(512 * 512 * 400));
    group.bench_function("scan_and_load_512x512x400", |b| {
        b.iter(|| {
            dicom::load_path(&series, None, &Progress::new())
                .expect("load")
                .0
        })
    });
    group.finish();

    let many = phantom_series("phantom-64x64x1000", [64, 64, 1000]);
    let mut group = c.benchmark_group("scan");
    group.sample_size(20);
    group.throughput(Throughput::Elements(1000));
    group.bench_function("scan_1000_files", |b| {
        b.iter(|| dicom::scan(&many, &Progress::new()).expect("scan"))
    });
    group.bench_function("info_1000_files", |b| {
        b.iter(|| {
            let report = dicom::scan(&many, &Progress::new()).expect("scan");
            dicom::info::describe(&report, false).to_text()
        })
    });
    group.finish();
}

criterion_group!(benches, bench_load);
criterion_main!(benches);
