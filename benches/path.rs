//! Catheter path planning on a loaded volume: from a cold start (the lumen grown from the
//! entry, its bounding box, the distance and feature transforms, the centred path — what
//! `../shared/bench/anchor_path.py` does with scipy and scikit-image), the re-planning a
//! waypoint drag costs (the two legs searched again on the kept transform, and the whole
//! path measured: smoothing, inscribed spheres, cross-sections, curvature), and the
//! measures alone. The volume is the peers' 512×512×400 series when
//! `TWINPLAN_BENCH_SERIES` names it (from the right iliac low to the top of the aorta, the
//! anchor's two points), otherwise the bundled phantom (right femoral artery to the arch).

use std::path::{Path, PathBuf};
use std::time::Duration;

use criterion::{Criterion, criterion_group, criterion_main};
use nalgebra::Point3;
use twinplan::catheter::{Constraints, Lumen, LumenSpec, Replan, lumen_for, measure};
use twinplan::dicom;
use twinplan::progress::Progress;
use twinplan::segment::{Preset, ValueRange, region_grow_bounded};
use twinplan::volume::Volume;

struct Case {
    name: &'static str,
    volume: Volume,
    range: ValueRange,
    from: [f64; 3],
    to: [f64; 3],
}

fn case() -> Case {
    if let Some(series) = std::env::var_os("TWINPLAN_BENCH_SERIES").map(PathBuf::from) {
        let (volume, _) = dicom::load_path(&series, None, &Progress::new()).expect("series");
        let [nx, ny, nz] = volume.geometry.dims.map(|d| d as f64 - 1.0);
        // The anchor's normalised points, rounded to voxels the way it rounds them.
        let at = |x: f64, y: f64, z: f64| {
            let ijk = [
                ((x + 1.0) / 2.0 * nx).round(),
                ((y + 1.0) / 2.0 * ny).round(),
                ((z + 1.0) / 2.0 * nz).round(),
            ];
            let p = volume.geometry.patient_from_ijk(ijk);
            [p.x, p.y, p.z]
        };
        Case {
            name: "peers_512x512x400",
            from: at(0.35 * 0.9, -0.1, -0.9),
            to: at(0.0, -0.1, 0.9),
            // The anchor's lumen: 200 < HU < 600.
            range: ValueRange::new(201.0, 599.0),
            volume,
        }
    } else {
        let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("sample_data/phantom_cta/dicom");
        let (volume, _) = dicom::load_path(&dir, None, &Progress::new()).expect("phantom");
        Case {
            name: "phantom_200",
            from: [-59.0, -38.0, -600.0],
            to: [11.6, -1.39, -16.4],
            range: Preset::Vessels.range(),
            volume,
        }
    }
}

fn bench_path(c: &mut Criterion) {
    let case = case();
    let progress = Progress::new();
    let stops = vec![
        (case.from, "entry".to_string()),
        (case.to, "target".to_string()),
    ];
    let grow = || {
        region_grow_bounded(
            &case.volume,
            &[Point3::from(case.from)],
            case.range,
            &progress,
        )
        .expect("lumen")
    };
    let mut group = c.benchmark_group(format!("path/{}", case.name));
    group
        .sample_size(10)
        .measurement_time(Duration::from_secs(8));
    // What `twinplan plan` and the workstation do from a cold start: the lumen grown with
    // its levels measured, contacts cut and the partial-volume rim (`catheter::grow`), its
    // transform with the guidewire floor, the path.
    let constraints = Constraints::default();
    let planned_lumen = || {
        lumen_for(
            &case.volume,
            LumenSpec::Auto,
            &stops,
            &[],
            &constraints,
            &progress,
        )
        .expect("lumen")
        .0
    };
    group.bench_function(
        "cold: lumen (measured, contacts cut) + distance transform + path",
        |b| b.iter(|| planned_lumen().path(&stops, &progress).expect("path")),
    );
    // The plain threshold's connected component, as before issue 26 (for comparison).
    group.bench_function(
        "cold, plain component: lumen + distance transform + path",
        |b| {
            b.iter(|| {
                let (mask, bounds) = grow();
                let lumen = Lumen::with_bounds(&mask, bounds, &progress).expect("lumen");
                lumen.path(&stops, &progress).expect("path")
            })
        },
    );
    let (mask, bounds) = grow();
    group.bench_function("distance transform (lumen kept)", |b| {
        b.iter(|| Lumen::with_bounds(&mask, bounds, &progress).expect("lumen"))
    });
    // The drag works on the lumen the path was planned in (its image kept for the walls).
    let lumen = planned_lumen();
    let first = lumen.path(&stops, &progress).expect("path");
    let report = measure(&lumen, &first);
    // A waypoint halfway, dragged back and forth by a millimetre across the vessel.
    let mid = report.points_lps_mm[report.points_lps_mm.len() / 2];
    let moved = |step: usize| {
        let off = if step.is_multiple_of(2) { 1.0 } else { -1.0 };
        [mid[0] + off, mid[1], mid[2]]
    };
    let mut step = 0usize;
    group.bench_function("re-plan after a waypoint drag: two legs searched", |b| {
        b.iter(|| {
            step += 1;
            let stops = vec![
                (case.from, "entry".to_string()),
                (moved(step), "waypoint 1".to_string()),
                (case.to, "target".to_string()),
            ];
            lumen.path(&stops, &progress).expect("path")
        })
    });
    // What the workstation does (`catheter::Replan`): trees from the fixed stops on
    // either side, grown once when the drag begins; each move traces the two legs back
    // and measures the path.
    let snap = |p| lumen.snap(p, "stop").expect("inside");
    let stops = vec![
        (case.from, "entry".to_string()),
        (mid, "waypoint 1".to_string()),
        (case.to, "target".to_string()),
    ];
    group.bench_function("tree from a stop (once per drag)", |b| {
        b.iter(|| lumen.tree(snap(case.from), &progress).expect("tree"))
    });
    group.bench_function(
        "drag begins: both trees (in parallel) and the fixed legs",
        |b| b.iter(|| Replan::new(&lumen, &stops, 1, &progress).expect("ready")),
    );
    let replan = Replan::new(&lumen, &stops, 1, &progress).expect("ready");
    group.bench_function(
        "re-plan after a waypoint drag: legs traced + measures",
        |b| {
            b.iter(|| {
                step += 1;
                let p = replan.path(&lumen, moved(step)).expect("legs");
                measure(&lumen, &p)
            })
        },
    );
    group.bench_function("measures", |b| b.iter(|| measure(&lumen, &first)));
    group.finish();
}

criterion_group!(benches, bench_path);
criterion_main!(benches);
