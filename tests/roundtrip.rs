//! Phantom → DICOM files (names shuffled) → scan → load must give back the generator's
//! voxels exactly and its geometry to 1e-6 mm; irregular stacks written as real files
//! (missing slice, gantry tilt, duplicate) must be regularised with the right warning.

use std::path::{Path, PathBuf};

use dicom_core::value::PrimitiveValue;
use dicom_core::{DataElement, VR};
use dicom_dictionary_std::tags;
use nalgebra::{Rotation3, Vector3};
use twinplan::dicom::{self, write::CtSeriesOptions, write::write_ct_series};
use twinplan::phantom::{self, PhantomOptions};
use twinplan::progress::Progress;
use twinplan::volume::{Geometry, Volume, VolumeWarning};

/// File names that say nothing about slice order.
fn shuffled_name(k: usize) -> String {
    let h = (k as u64 + 1)
        .wrapping_mul(0x9E37_79B9_7F4A_7C15)
        .rotate_left(17);
    format!("{h:016x}.dcm")
}

fn write(volume: &Volume, dir: &Path) -> Vec<PathBuf> {
    let opts = CtSeriesOptions::default()
        .with_patient(phantom::phantom_patient())
        .with_uid_seed(dir.display().to_string());
    write_ct_series(volume, dir, &opts, &shuffled_name, &Progress::new()).expect("write series")
}

fn load_only(dir: &Path) -> Volume {
    dicom::load_path(dir, None, &Progress::new())
        .expect("load")
        .0
}

#[test]
fn phantom_round_trip_is_exact() {
    let ph = phantom::generate(
        &PhantomOptions::default().with_size([64, 56, 48]),
        &Progress::new(),
    )
    .expect("phantom");
    let dir = tempfile::tempdir().expect("tempdir");
    write(&ph.volume, dir.path());
    let back = load_only(dir.path());
    assert!(back.warnings.is_empty(), "{:?}", back.warnings);
    assert_eq!(back.geometry.dims, ph.volume.geometry.dims);
    let err = back.geometry.max_corner_distance_mm(&ph.volume.geometry);
    assert!(err < 1e-6, "geometry off by {err} mm");
    assert_eq!(
        back.voxels, ph.volume.voxels,
        "voxels differ after the round trip"
    );
    assert_eq!(back.modality, "CT");
}

#[test]
fn oblique_anisotropic_round_trip_is_exact() {
    // A rotated, anisotropic grid (0.7 x 0.7 x 2.5 mm) whose slice normal is far from z:
    // sorting must follow the normal, not z or file names.
    let r = Rotation3::from_euler_angles(0.5, -0.3, 1.1);
    let g = Geometry::new(
        [40, 30, 24],
        [0.7, 0.7, 2.5],
        [-51.25, 12.5, 230.0],
        r * Vector3::x(),
        r * Vector3::y(),
        r * Vector3::z(),
    );
    let voxels = ndarray::Array3::from_shape_fn((24, 30, 40), |(k, j, i)| {
        ((k * 131 + j * 17 + i * 7) % 3000) as i16 - 1000
    });
    let v = Volume::new(voxels, g.clone()).expect("shape");
    let dir = tempfile::tempdir().expect("tempdir");
    write(&v, dir.path());
    let back = load_only(dir.path());
    assert!(back.warnings.is_empty(), "{:?}", back.warnings);
    let err = back.geometry.max_corner_distance_mm(&g);
    assert!(err < 1e-6, "geometry off by {err} mm");
    assert_eq!(back.voxels, v.voxels);
}

fn set_position(path: &Path, p: [f64; 3]) {
    let mut obj = dicom_object::open_file(path).expect("open");
    let s: Vec<String> = p
        .iter()
        .map(|v| twinplan::dicom::write::format_ds(*v))
        .collect();
    obj.put(DataElement::new(
        tags::IMAGE_POSITION_PATIENT,
        VR::DS,
        PrimitiveValue::Strs(s.into()),
    ));
    obj.write_to_file(path).expect("rewrite");
}

/// A small axial series whose voxel value encodes the slice height: 10 × z (mm).
fn ramp_series(dir: &Path, nk: usize, dz: f64) -> (Vec<PathBuf>, Geometry) {
    let g = Geometry::axis_aligned([16, 12, nk], [1.0, 1.0, dz], [-8.0, -6.0, 0.0]);
    let voxels =
        ndarray::Array3::from_shape_fn((nk, 12, 16), |(k, _, _)| (10.0 * k as f64 * dz) as i16);
    let v = Volume::new(voxels, g.clone()).expect("shape");
    (write(&v, dir), g)
}

#[test]
fn missing_slice_is_resampled_with_warning() {
    let dir = tempfile::tempdir().expect("tempdir");
    let (files, g) = ramp_series(dir.path(), 8, 2.0);
    std::fs::remove_file(&files[4]).expect("remove slice 4");
    let v = load_only(dir.path());
    assert!(
        v.warnings
            .iter()
            .any(|w| matches!(w, VolumeWarning::IrregularSpacingResampled { .. })),
        "{:?}",
        v.warnings
    );
    assert_eq!(v.geometry.dims, g.dims, "the gap is filled, not closed up");
    assert!(v.geometry.max_corner_distance_mm(&g) < 1e-6);
    // Slice 4 (z = 8 mm) is interpolated between z = 6 and z = 10: value 80.
    assert_eq!(v.voxels[(4, 5, 5)], 80);
}

#[test]
fn gantry_tilt_is_corrected_onto_an_orthogonal_grid() {
    let dir = tempfile::tempdir().expect("tempdir");
    let (files, g) = ramp_series(dir.path(), 6, 2.0);
    let tilt_deg: f64 = 15.0;
    // Order of `files` is slice order: slice k sits at z = 2k; shift its origin along y.
    for (k, f) in files.iter().enumerate() {
        let z = 2.0 * k as f64;
        set_position(f, [-8.0, -6.0 + z * tilt_deg.to_radians().tan(), z]);
    }
    let v = load_only(dir.path());
    let tilt = v.warnings.iter().find_map(|w| match w {
        VolumeWarning::GantryTiltCorrected { tilt_deg } => Some(*tilt_deg),
        _ => None,
    });
    let tilt = tilt.expect("tilt warning");
    assert!((tilt - 15.0).abs() < 1e-3, "{tilt}");
    // Columns unchanged; rows added for the content the shear moves sideways.
    assert_eq!(v.geometry.dims[0], g.dims[0]);
    assert_eq!(v.geometry.dims[2], g.dims[2]);
    assert!(v.geometry.dims[1] > g.dims[1], "{:?}", v.geometry.dims);
    let n = v.geometry.axis(0).cross(&v.geometry.axis(1));
    assert!(
        (n.dot(&v.geometry.axis(2)) - 1.0).abs() < 1e-12,
        "orthogonal grid"
    );
}

#[test]
fn tilted_series_keeps_every_acquired_pixel() {
    // A series stored the way scanners store gantry tilt: the image plane tilted 20° about
    // the patient's left-right axis (ImageOrientationPatient), the table moving straight
    // along z (ImagePositionPatient). Each pixel holds a linear function of its own patient
    // position, so after correction every acquired pixel must lie inside the grid and be
    // reproduced by trilinear sampling (exactly inside, within a quarter of the local step
    // at the image's edge).
    let (ni, nj, nk) = (64usize, 48usize, 40usize);
    let (ps, dz, tilt) = (0.5f64, 2.5f64, 20f64.to_radians());
    let row = Vector3::x();
    let col = Vector3::new(0.0, tilt.cos(), -tilt.sin());
    let corner = |k: usize| Vector3::new(-16.0, -12.0, 100.0 + k as f64 * dz);
    let position =
        |k: usize, j: usize, i: usize| corner(k) + row * (i as f64 * ps) + col * (j as f64 * ps);
    let f = |p: Vector3<f64>| 0.5 * p.x + 0.8 * p.y + 1.2 * p.z;
    let voxels = ndarray::Array3::from_shape_fn((nk, nj, ni), |(k, j, i)| {
        f(position(k, j, i)).round() as i16
    });
    let written = Geometry::new(
        [ni, nj, nk],
        [ps, ps, dz],
        [-16.0, -12.0, 100.0],
        row,
        col,
        row.cross(&col),
    );
    let dir = tempfile::tempdir().expect("tempdir");
    let files = write(
        &Volume::new(voxels.clone(), written).expect("shape"),
        dir.path(),
    );
    for (k, file) in files.iter().enumerate() {
        let c = corner(k);
        set_position(file, [c.x, c.y, c.z]);
    }
    let v = load_only(dir.path());
    let found = v.warnings.iter().find_map(|w| match w {
        VolumeWarning::GantryTiltCorrected { tilt_deg } => Some(*tilt_deg),
        _ => None,
    });
    let found = found.expect("tilt corrected");
    assert!((found - 20.0).abs() < 1e-3, "{found}");
    let g = &v.geometry;
    let mut outside = 0usize;
    let (mut worst_inner, mut worst_edge) = (0.0f64, 0.0f64);
    for k in 0..nk {
        for j in 0..nj {
            for i in 0..ni {
                let p = nalgebra::Point3::from(position(k, j, i));
                let ijk = g.ijk_from_patient(&p);
                if (0..3).any(|a| ijk[a] < -1e-6 || ijk[a] > (g.dims[a] - 1) as f64 + 1e-6) {
                    outside += 1;
                    continue;
                }
                let got = twinplan::volume::display::sample(&v, ijk).expect("inside");
                let err = (got - f64::from(voxels[(k, j, i)])).abs();
                if i == 0 || j == 0 || i == ni - 1 || j == nj - 1 {
                    worst_edge = worst_edge.max(err);
                } else {
                    worst_inner = worst_inner.max(err);
                }
            }
        }
    }
    assert_eq!(outside, 0, "acquired pixels outside the corrected grid");
    // Neighbouring pixels differ by at most 0.5 mm × |∇f| ≈ 0.73; rounding adds up to 1.
    assert!(worst_inner <= 1.0, "interior error {worst_inner}");
    assert!(worst_edge <= 0.25 * 0.73 + 1.0, "edge error {worst_edge}");
    eprintln!(
        "tilt 20°: grid {:?} (acquired {ni}x{nj}x{nk}), every pixel inside; interior error {worst_inner:.2}, edge {worst_edge:.2}",
        g.dims
    );
}

#[test]
fn duplicate_position_is_reported() {
    let dir = tempfile::tempdir().expect("tempdir");
    let (files, _) = ramp_series(dir.path(), 5, 2.0);
    // A second image (new instance UID) at slice 2's position, with other content.
    let mut obj = dicom_object::open_file(&files[2]).expect("open");
    obj.put(DataElement::new(
        tags::SOP_INSTANCE_UID,
        VR::UI,
        PrimitiveValue::from("2.25.12345"),
    ));
    obj.put(DataElement::new(
        tags::ACQUISITION_NUMBER,
        VR::IS,
        PrimitiveValue::from("2"),
    ));
    obj.write_to_file(dir.path().join("extra.dcm"))
        .expect("write");
    let report = dicom::scan(dir.path(), &Progress::new()).expect("scan");
    let stacks: Vec<_> = report.series().collect();
    assert_eq!(stacks.len(), 1, "uneven repeats are not split");
    assert!(
        stacks[0].notes.iter().any(|n| n.contains("duplicate")),
        "{:?}",
        stacks[0].notes
    );
    let v = dicom::load_series(stacks[0], &Progress::new()).expect("load");
    assert_eq!(v.geometry.dims[2], 5);
}

#[test]
fn bundled_sample_is_what_the_generator_makes() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("sample_data/phantom_cta");
    let v = load_only(&dir.join("dicom"));
    let ph = phantom::generate(
        &PhantomOptions::default().with_size([200, 200, 200]),
        &Progress::new(),
    )
    .expect("phantom");
    assert_eq!(
        v.voxels, ph.volume.voxels,
        "sample_data is stale: regenerate it (see its README)"
    );
    assert!(v.geometry.max_corner_distance_mm(&ph.volume.geometry) < 1e-6);
    let truth: phantom::GroundTruth =
        serde_json::from_slice(&std::fs::read(dir.join("ground_truth.json")).expect("truth"))
            .expect("parse");
    assert_eq!(truth, ph.truth);
}

fn small_phantom_file() -> (tempfile::TempDir, PathBuf, Volume) {
    let ph = phantom::generate(
        &PhantomOptions::default().with_size([24, 20, 9]),
        &Progress::new(),
    )
    .expect("phantom");
    let dir = tempfile::tempdir().expect("tempdir");
    let files = write(&ph.volume, dir.path());
    // Keep only the middle slice.
    for (k, f) in files.iter().enumerate() {
        if k != 4 {
            std::fs::remove_file(f).expect("rm");
        }
    }
    let expected = Volume::new(
        ph.volume.voxels.slice(ndarray::s![4..5, .., ..]).to_owned(),
        Geometry::axis_aligned([24, 20, 1], ph.volume.geometry.spacing_mm, [0.0; 3]),
    )
    .expect("shape");
    (dir, files[4].clone(), expected)
}

#[test]
fn files_without_preamble_or_meta_group_still_load() {
    let (dir, file, expected) = small_phantom_file();
    let bytes = std::fs::read(&file).expect("read");
    assert_eq!(&bytes[128..132], b"DICM");
    // 1. No 128-byte preamble: starts with "DICM".
    std::fs::write(&file, &bytes[128..]).expect("write");
    let v = load_only(dir.path());
    assert_eq!(v.voxels, expected.voxels, "without preamble");
    // 2. No preamble and no file meta group: a bare explicit-VR data set.
    let group_len = u32::from_le_bytes([bytes[140], bytes[141], bytes[142], bytes[143]]) as usize;
    let dataset_start = 132 + 12 + group_len;
    std::fs::write(&file, &bytes[dataset_start..]).expect("write");
    let v = load_only(dir.path());
    assert_eq!(v.voxels, expected.voxels, "without meta group");
}

#[test]
fn deflated_transfer_syntax_loads() {
    let (dir, file, expected) = small_phantom_file();
    let obj = dicom_object::open_file(&file).expect("open");
    let mut meta = obj.meta().clone();
    meta.transfer_syntax = "1.2.840.10008.1.2.1.99".to_string();
    meta.update_information_group_length();
    let deflated = obj.into_inner().with_exact_meta(meta);
    deflated.write_to_file(&file).expect("write deflated");
    let head = std::fs::read(&file).expect("read");
    assert!(
        head.windows(22).any(|w| w == b"1.2.840.10008.1.2.1.99"),
        "file is deflated"
    );
    let v = load_only(dir.path());
    assert_eq!(v.voxels, expected.voxels);
}

#[test]
fn cancelled_load_stops_with_an_error() {
    let ph = phantom::generate(
        &PhantomOptions::default().with_size([16, 16, 12]),
        &Progress::new(),
    )
    .expect("phantom");
    let dir = tempfile::tempdir().expect("tempdir");
    write(&ph.volume, dir.path());
    let report = dicom::scan(dir.path(), &Progress::new()).expect("scan");
    let progress = Progress::new();
    progress.cancel();
    let r = dicom::load_series(report.series().next().expect("series"), &progress);
    assert!(matches!(r, Err(dicom::LoadError::Cancelled)));
    assert!(matches!(
        phantom::generate(
            &PhantomOptions::default().with_size([16, 16, 12]),
            &progress
        ),
        Err(phantom::PhantomError::Cancelled)
    ));
}
