//! Helpers shared by the integration tests: where the team's real test data lives, and a
//! geometry-aware comparison of two volumes (ours against another tool's output).

#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::Command;

use nalgebra::Point3;
use twinplan::progress::Progress;
use twinplan::volume::Volume;

/// Skips a test with a message — except under CI (`CI=true`), where everything a test
/// needs is installed, so a skip would hide a failure: there it panics instead.
pub fn skip(why: &str) {
    let ci = std::env::var("CI").is_ok_and(|v| v == "true" || v == "1");
    assert!(!ci, "cannot skip under CI: {why}");
    eprintln!("SKIPPED: {why}");
}

/// `../shared/testdata` beside the project, or `None` (with a message) when absent, as in a
/// user's fresh clone. CI always has it (and fails if it does not).
pub fn testdata() -> Option<PathBuf> {
    let p = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../shared/testdata");
    if p.is_dir() {
        Some(p)
    } else {
        skip("../shared/testdata not found (it ships beside the project in CI, not in a clone)");
        None
    }
}

/// The asymmetric orientation phantom: a body (a 50 mm ball of 40 HU in air) with three
/// 1000 HU marker balls (8 mm) sticking out of it on the patient's left, anterior and
/// superior sides, 58 mm from the centre (the patient origin). Patient side → LPS centre.
pub const MARKERS: [(&str, [f64; 3]); 3] = [
    ("left", [58.0, 0.0, 0.0]),
    ("anterior", [0.0, -58.0, 0.0]),
    ("superior", [0.0, 0.0, 58.0]),
];
pub const MARKER_RADIUS_MM: f64 = 8.0;
pub const BODY_RADIUS_MM: f64 = 50.0;

/// The phantom sampled on `geometry` (any orientation, any handedness).
pub fn orientation_volume(geometry: &twinplan::volume::Geometry) -> Volume {
    let [ni, nj, nk] = geometry.dims;
    let voxels = ndarray::Array3::from_shape_fn((nk, nj, ni), |(k, j, i)| {
        let p = geometry.patient_from_ijk([i as f64, j as f64, k as f64]);
        let marker = MARKERS
            .iter()
            .any(|(_, c)| (p - Point3::from(*c)).norm() <= MARKER_RADIUS_MM);
        if marker {
            1000
        } else if p.coords.norm() <= BODY_RADIUS_MM {
            40
        } else {
            -1000
        }
    });
    Volume::new(voxels, geometry.clone()).expect("shape matches")
}

/// Grids the phantom is written on: an oblique one (rotated 20° about an oblique axis,
/// 2 mm voxels) and one with flipped axes (rows run to the patient's right, slices run
/// towards the feet). Both cover ±84 mm.
pub fn orientation_grids() -> Vec<(&'static str, twinplan::volume::Geometry)> {
    use nalgebra::{Rotation3, Unit, Vector3};
    let n = 85;
    let half = 84.0;
    let rot = Rotation3::from_axis_angle(
        &Unit::new_normalize(Vector3::new(1.0, 2.0, 0.5)),
        20f64.to_radians(),
    );
    let grid = |i: Vector3<f64>, j: Vector3<f64>| {
        let k = i.cross(&j);
        let origin = -(i + j + k) * half;
        twinplan::volume::Geometry::new(
            [n, n, n],
            [2.0; 3],
            [origin.x, origin.y, origin.z],
            i,
            j,
            k,
        )
    };
    vec![
        ("oblique", grid(rot * Vector3::x(), rot * Vector3::y())),
        ("flipped", grid(-Vector3::x(), Vector3::y())),
    ]
}

/// Writes the phantom on `geometry` as a CT series (shuffled file names) into `dir`.
pub fn write_orientation_series(dir: &std::path::Path, geometry: &twinplan::volume::Geometry) {
    let volume = orientation_volume(geometry);
    let options = twinplan::dicom::write::CtSeriesOptions::default()
        .with_series_description("orientation phantom")
        .with_uid_seed(dir.display().to_string());
    twinplan::dicom::write::write_ct_series(
        &volume,
        dir,
        &options,
        &|k| {
            format!(
                "{:016x}.dcm",
                (k as u64 + 7).wrapping_mul(0x9E37_79B9_7F4A_7C15)
            )
        },
        &Progress::new(),
    )
    .expect("series written");
}

/// Loads the only image stack under `path` (DICOM) or a NIfTI file.
pub fn load(path: &std::path::Path) -> Volume {
    if twinplan::nifti_io::is_nifti_path(path) {
        return twinplan::nifti_io::read_nifti(path)
            .unwrap_or_else(|e| panic!("reading {}: {e}", path.display()));
    }
    twinplan::dicom::load_path(path, None, &Progress::new())
        .unwrap_or_else(|e| panic!("loading {}: {e}", path.display()))
        .0
}

/// Result of [`compare`].
#[derive(Debug)]
pub struct Comparison {
    /// Largest distance (mm) between one of our voxel centres and the reference voxel centre
    /// it maps to.
    pub max_position_error_mm: f64,
    /// Largest absolute difference of real-world values over all voxels.
    pub max_value_diff: f64,
    pub mean_value_diff: f64,
    pub voxels: usize,
}

/// Compares `ours` with `reference` through patient space: every voxel of ours is mapped to
/// the reference voxel at the same LPS position, so differing axis orders or flips between
/// tools do not matter, while any geometric error does.
pub fn compare(ours: &Volume, reference: &Volume) -> Comparison {
    assert_eq!(
        ours.geometry.voxel_count(),
        reference.geometry.voxel_count(),
        "voxel counts differ: ours {:?}, reference {:?}",
        ours.geometry.dims,
        reference.geometry.dims
    );
    let inv = reference
        .geometry
        .voxel_from_patient()
        .expect("reference geometry invertible");
    let rg = &reference.geometry;
    let [ni, nj, nk] = ours.geometry.dims;
    let mut max_pos: f64 = 0.0;
    let mut max_diff: f64 = 0.0;
    let mut sum_diff = 0.0;
    for k in 0..nk {
        for j in 0..nj {
            for i in 0..ni {
                let p = ours
                    .geometry
                    .patient_from_ijk([i as f64, j as f64, k as f64]);
                let r = inv * p.to_homogeneous();
                let idx = [r[0].round(), r[1].round(), r[2].round()];
                let back: Point3<f64> = rg.patient_from_ijk(idx);
                max_pos = max_pos.max((back - p).norm());
                let (ri, rj, rk) = (idx[0] as isize, idx[1] as isize, idx[2] as isize);
                assert!(
                    ri >= 0
                        && rj >= 0
                        && rk >= 0
                        && (ri as usize) < rg.dims[0]
                        && (rj as usize) < rg.dims[1]
                        && (rk as usize) < rg.dims[2],
                    "voxel ({i},{j},{k}) maps outside the reference grid: {idx:?}"
                );
                let a = ours.value_scale.real(ours.voxels[(k, j, i)]);
                let b = reference
                    .value_scale
                    .real(reference.voxels[(rk as usize, rj as usize, ri as usize)]);
                let d = (a - b).abs();
                max_diff = max_diff.max(d);
                sum_diff += d;
            }
        }
    }
    let n = ours.geometry.voxel_count();
    Comparison {
        max_position_error_mm: max_pos,
        max_value_diff: max_diff,
        mean_value_diff: sum_diff / n.max(1) as f64,
        voxels: n,
    }
}

/// Largest distance (mm) between a voxel centre of grid `a` and the nearest voxel centre of
/// grid `b`, checked at `a`'s eight corners, which must map onto `b`'s corners: the same
/// grid up to axis order and direction (tools flip rows when writing NIfTI).
pub fn grid_mismatch_mm(a: &twinplan::volume::Geometry, b: &twinplan::volume::Geometry) -> f64 {
    let inv = b.voxel_from_patient().expect("invertible");
    let mut worst: f64 = 0.0;
    for c in 0..8 {
        let ijk = [
            if c & 1 == 0 {
                0.0
            } else {
                (a.dims[0] - 1) as f64
            },
            if c & 2 == 0 {
                0.0
            } else {
                (a.dims[1] - 1) as f64
            },
            if c & 4 == 0 {
                0.0
            } else {
                (a.dims[2] - 1) as f64
            },
        ];
        let p = a.patient_from_ijk(ijk);
        let r = inv * p.to_homogeneous();
        let mut snapped = [0.0; 3];
        for axis in 0..3 {
            let n = (b.dims[axis] - 1) as f64;
            // The corner must land on one of b's boundary planes along every axis.
            snapped[axis] = if (r[axis] - 0.0).abs() < (r[axis] - n).abs() {
                0.0
            } else {
                n
            };
        }
        worst = worst.max((b.patient_from_ijk(snapped) - p).norm());
    }
    worst
}

/// Free-text attributes that can carry a person's name, each planted with a distinct one.
pub fn planted_names() -> Vec<(dicom_core::Tag, dicom_core::VR, String)> {
    use dicom_core::VR;
    use dicom_dictionary_std::tags;
    [
        (tags::STUDY_DESCRIPTION, VR::LO),
        (tags::SERIES_DESCRIPTION, VR::LO),
        (tags::PROTOCOL_NAME, VR::LO),
        (tags::INSTITUTION_NAME, VR::LO),
        (tags::INSTITUTION_ADDRESS, VR::ST),
        (tags::INSTITUTIONAL_DEPARTMENT_NAME, VR::LO),
        (tags::STATION_NAME, VR::SH),
        (tags::REFERRING_PHYSICIAN_NAME, VR::PN),
        (tags::PERFORMING_PHYSICIAN_NAME, VR::PN),
        (tags::NAME_OF_PHYSICIANS_READING_STUDY, VR::PN),
        (tags::OPERATORS_NAME, VR::PN),
        (tags::REQUESTING_PHYSICIAN, VR::PN),
        (tags::IMAGE_COMMENTS, VR::LT),
        (tags::PATIENT_COMMENTS, VR::LT),
        (tags::ADDITIONAL_PATIENT_HISTORY, VR::LT),
        (tags::OTHER_PATIENT_NAMES, VR::PN),
        (tags::PATIENT_ADDRESS, VR::LO),
        (tags::ACCESSION_NUMBER, VR::SH),
        (tags::STUDY_ID, VR::SH),
        (tags::REQUESTED_PROCEDURE_DESCRIPTION, VR::LO),
        (tags::PERFORMED_PROCEDURE_STEP_DESCRIPTION, VR::LO),
        (tags::DERIVATION_DESCRIPTION, VR::ST),
        (tags::ADMITTING_DIAGNOSES_DESCRIPTION, VR::LO),
    ]
    .into_iter()
    .enumerate()
    .map(|(n, (tag, vr))| {
        // Short-string VRs hold 16 characters.
        let name = if matches!(vr, VR::SH) {
            format!("ZQNAME{n:02}")
        } else {
            format!("ZQSURNAME{n:02}^Protocol")
        };
        (tag, vr, name)
    })
    .collect()
}

/// The distinctive part of each planted name (what must never be shown).
pub fn planted_needles() -> Vec<String> {
    planted_names()
        .into_iter()
        .map(|(_, _, v)| v.split('^').next().unwrap_or_default().to_string())
        .collect()
}

/// Writes the phantom of `size` as a named patient's CT series into `dir` (files `k.dcm`),
/// with a name planted in every free-text attribute when `planted`.
pub fn write_phantom_series(dir: &std::path::Path, size: [usize; 3], planted: bool) {
    let progress = Progress::new();
    let ph = twinplan::phantom::generate(
        &twinplan::phantom::PhantomOptions::default().with_size(size),
        &progress,
    )
    .expect("phantom");
    let mut opts = twinplan::dicom::write::CtSeriesOptions::default()
        .with_patient(twinplan::phantom::phantom_patient());
    if planted {
        for (tag, vr, value) in planted_names() {
            opts = opts.with_attribute(tag, vr, value);
        }
    }
    twinplan::dicom::write::write_ct_series(
        &ph.volume,
        dir,
        &opts,
        &|k| format!("{k}.dcm"),
        &progress,
    )
    .expect("series written");
}

/// Connected blobs (4-neighbour) of the pixels of a `width × height` image where `set` holds:
/// their centroids (pixel units, x then y) and sizes.
pub fn blobs(
    width: usize,
    height: usize,
    set: impl Fn(usize, usize) -> bool,
) -> Vec<(f64, f64, usize)> {
    let mut seen = vec![false; width * height];
    let mut out = Vec::new();
    for start in 0..width * height {
        if seen[start] || !set(start % width, start / width) {
            continue;
        }
        let (mut sx, mut sy, mut n) = (0.0, 0.0, 0usize);
        let mut stack = vec![start];
        seen[start] = true;
        while let Some(p) = stack.pop() {
            let (x, y) = (p % width, p / width);
            sx += x as f64;
            sy += y as f64;
            n += 1;
            for (dx, dy) in [(-1i64, 0i64), (1, 0), (0, -1), (0, 1)] {
                let (nx, ny) = (x as i64 + dx, y as i64 + dy);
                if nx >= 0 && ny >= 0 && (nx as usize) < width && (ny as usize) < height {
                    let q = ny as usize * width + nx as usize;
                    if !seen[q] && set(nx as usize, ny as usize) {
                        seen[q] = true;
                        stack.push(q);
                    }
                }
            }
        }
        out.push((sx / n as f64, sy / n as f64, n));
    }
    out
}

// Renders under Xvfb on lavapipe (tests/render.rs, tests/volume_render.rs).

/// `xvfb-run` with the arguments every render here uses. One at a time: with the tests run
/// in parallel on a loaded machine, one of two or three `xvfb-run`s started together now and
/// then failed to open its display (XOpenDisplayFailed, also with distinct display numbers);
/// the guard serialises them.
pub fn xvfb() -> (std::sync::MutexGuard<'static, ()>, Command) {
    static ONE_AT_A_TIME: std::sync::Mutex<()> = std::sync::Mutex::new(());
    let guard = ONE_AT_A_TIME
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner);
    let mut cmd = Command::new("xvfb-run");
    cmd.args(["-a", "-s", "-screen 0 1024x768x24"]);
    (guard, cmd)
}

pub fn have(cmd: &str) -> bool {
    Command::new("sh")
        .args(["-c", &format!("command -v {cmd}")])
        .output()
        .map(|o| o.status.success())
        .unwrap_or(false)
}

pub fn lavapipe() -> bool {
    ["/usr/share/vulkan/icd.d", "/etc/vulkan/icd.d"]
        .iter()
        .filter_map(|d| std::fs::read_dir(d).ok())
        .flatten()
        .flatten()
        .any(|e| e.file_name().to_string_lossy().starts_with("lvp_icd"))
}

pub fn read_png_sized(path: &Path, w: usize, h: usize) -> Vec<[u8; 3]> {
    let decoder = png::Decoder::new(std::io::BufReader::new(
        std::fs::File::open(path).expect("screenshot written"),
    ));
    let mut reader = decoder.read_info().expect("png header");
    let mut buf = vec![0; reader.output_buffer_size().expect("size")];
    let info = reader.next_frame(&mut buf).expect("png data");
    assert_eq!((info.width as usize, info.height as usize), (w, h));
    let channels = info.line_size / w;
    (0..w * h)
        .map(|i| {
            let y = i / w;
            let x = i % w;
            let o = y * info.line_size + x * channels;
            [buf[o], buf[o + 1], buf[o + 2]]
        })
        .collect()
}

/// Whether renders can run here (Xvfb and lavapipe); skips with a message otherwise.
pub fn can_render() -> bool {
    let ok = have("xvfb-run") && lavapipe();
    if !ok {
        skip("needs xvfb-run and mesa-vulkan-drivers (lavapipe); .ci/run installs them");
    }
    ok
}

/// Runs `twinplan render` under Xvfb; returns the screenshot's pixels.
pub fn render(path: &Path, out: &Path, size: (usize, usize), args: &[&str]) -> Vec<[u8; 3]> {
    let (_display, mut cmd) = xvfb();
    let status = cmd
        .arg(env!("CARGO_BIN_EXE_twinplan"))
        .arg("render")
        .args(args)
        .args(["--size", &format!("{}x{}", size.0, size.1)])
        .arg("--out")
        .arg(out)
        .arg(path)
        .status()
        .expect("xvfb-run runs");
    assert!(status.success(), "render failed: {status}");
    read_png_sized(out, size.0, size.1)
}

/// Where the ray through the centre of pixel `idx` of a `w`×`h` view meets the ball of
/// centre `c` and radius `r`: the points where it enters and leaves (None if it misses).
#[allow(dead_code)]
pub fn ray_through_ball(
    cam: &twinplan::session::camera::OrbitCamera,
    c: Point3<f64>,
    r: f64,
    idx: usize,
    (w, h): (usize, usize),
) -> Option<[Point3<f64>; 2]> {
    let (x, y) = ((idx % w) as f64 + 0.5, (idx / w) as f64 + 0.5);
    let (eye, dir) = cam.ray(x, y, w as f64, h as f64);
    let oc = eye - c;
    let b = oc.dot(&dir);
    let disc = b * b - (oc.norm_squared() - r * r);
    if disc < 0.0 {
        return None;
    }
    Some([
        eye + dir * (-b - disc.sqrt()),
        eye + dir * (-b + disc.sqrt()),
    ])
}
