//! Regression tests for the inputs of `../shared/testdata/hostile/` (an independent attack
//! on the command line) and the abuses its README lists without a file: each runs the real
//! `twinplan` binary in a fresh process under a 4 GiB address-space limit, killed if it
//! hangs, and checks the clear error (or, for the real sheared volume, the correct output),
//! the peak memory (under 1 GB), that no output holds NaN or infinity, and that no name
//! from `two_series_planted_name/` reaches any output or message. Unix only (FIFOs,
//! address-space limits, symbolic links).

#![cfg(unix)]

mod common;

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

/// A run of the binary: exit code (None when killed), output, wall time and peak memory.
struct Run {
    code: Option<i32>,
    stdout: String,
    stderr: String,
    seconds: f64,
    peak_mb: f64,
}

impl Run {
    fn all(&self) -> String {
        format!("{}{}", self.stdout, self.stderr)
    }
}

/// Longest a run may take before it counts as a hang and is killed.
const HANG_S: u64 = 60;
/// Address space a run may reserve: a request such as the RLE decoder's 15.8 GB aborts.
const ADDRESS_SPACE: u64 = 4 << 30;

fn hostile() -> Option<PathBuf> {
    Some(common::testdata()?.join("hostile"))
}

/// Runs `twinplan ARGS` in `dir`, its stdout and stderr to files, under [`ADDRESS_SPACE`].
fn run_in(dir: &Path, args: &[&str]) -> Run {
    use std::os::unix::process::CommandExt;
    let out = dir.join(format!("stdout-{}", std::process::id()));
    let err = dir.join(format!("stderr-{}", std::process::id()));
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_twinplan"));
    cmd.args(args)
        .current_dir(dir)
        // The binary's own peak (VmHWM at exit): the peak rusage reports for a child
        // starts from the forking test process's.
        .env("TWINPLAN_LOG", "twinplan::peak=info")
        .stdin(std::process::Stdio::null())
        .stdout(std::fs::File::create(&out).expect("stdout file"))
        .stderr(std::fs::File::create(&err).expect("stderr file"));
    // SAFETY: setrlimit is async-signal-safe; nothing else runs between fork and exec.
    unsafe {
        cmd.pre_exec(|| {
            let lim = libc::rlimit {
                rlim_cur: ADDRESS_SPACE,
                rlim_max: ADDRESS_SPACE,
            };
            libc::setrlimit(libc::RLIMIT_AS, &lim);
            Ok(())
        });
    }
    let start = Instant::now();
    let mut child = cmd.spawn().expect("spawn twinplan");
    let code = loop {
        if let Some(status) = child.try_wait().expect("wait") {
            break status.code();
        }
        if start.elapsed() > Duration::from_secs(HANG_S) {
            let _ = child.kill();
            let _ = child.wait();
            panic!("twinplan {args:?} hung: killed after {HANG_S} s");
        }
        std::thread::sleep(Duration::from_millis(5));
    };
    let stderr_all = std::fs::read_to_string(&err).unwrap_or_default();
    let peak = "peak resident memory ";
    let peak_mb = stderr_all
        .lines()
        .find_map(|l| l.split_once(peak))
        .and_then(|(_, v)| v.trim_end_matches(" MB").trim().parse::<f64>().ok())
        .unwrap_or(f64::INFINITY);
    let stderr = stderr_all
        .lines()
        .filter(|l| !l.contains(peak))
        .map(|l| format!("{l}\n"))
        .collect();
    let run = Run {
        code,
        stdout: std::fs::read_to_string(&out).unwrap_or_default(),
        stderr,
        seconds: start.elapsed().as_secs_f64(),
        peak_mb,
    };
    let _ = std::fs::remove_file(out);
    let _ = std::fs::remove_file(err);
    eprintln!(
        "twinplan {}: exit {:?} in {:.2} s, peak {:.0} MB",
        args.join(" "),
        run.code,
        run.seconds,
        run.peak_mb
    );
    run
}

/// The checks every hostile run must pass: it ended by itself with no panic text, within
/// 1 GB, and said nothing that is not a number where a number belongs.
fn sane(r: &Run) {
    assert!(r.code.is_some(), "killed by a signal:\n{}", r.all());
    assert!(r.peak_mb < 1024.0, "peak {:.0} MB:\n{}", r.peak_mb, r.all());
    for bad in ["panicked", "RUST_BACKTRACE", "internal error"] {
        assert!(!r.all().contains(bad), "{bad}:\n{}", r.all());
    }
    // Results (stdout) hold no value that is not a number; messages may name one that
    // was refused.
    for word in r.stdout.split(|c: char| !c.is_ascii_alphanumeric()) {
        let w = word.to_ascii_lowercase();
        assert!(w != "nan" && w != "inf", "{word} in:\n{}", r.stdout);
    }
}

/// A run that must fail cleanly (exit 1, or 2 for usage) with `needle` in its message.
fn refused(r: &Run, code: i32, needle: &str) {
    sane(r);
    assert_eq!(r.code, Some(code), "{}", r.all());
    assert!(
        r.stderr.contains(needle),
        "expected {needle:?} in:\n{}",
        r.stderr
    );
}

fn finite_nifti(path: &Path) -> twinplan::volume::Volume {
    let v = twinplan::nifti_io::read_nifti(path).expect("the output reads back");
    let g = &v.geometry;
    assert!(g.check_plausible().is_ok(), "{g:?}");
    assert!(v.value_scale.slope.is_finite() && v.value_scale.intercept.is_finite());
    v
}

#[test]
fn the_real_sheared_volume_converts_quickly_and_exactly() {
    let Some(h) = hostile() else { return };
    let dir = tempfile::tempdir().expect("tempdir");
    let input = h.join("real_sheared_nifti_hang.nii.gz");
    let r = run_in(
        dir.path(),
        &[
            "convert",
            input.to_str().expect("utf8"),
            "--out",
            "s.nii.gz",
        ],
    );
    sane(&r);
    assert_eq!(r.code, Some(0), "{}", r.all());
    // Its axes are orthogonal to float precision (12° oblique): nothing to say.
    assert!(!r.stderr.contains("sheared"), "{}", r.stderr);
    let back = finite_nifti(&dir.path().join("s.nii.gz"));
    let original = twinplan::nifti_io::read_nifti(&input).expect("the input reads");
    // The sform keeps the exact (sheared) grid: every corner within a micrometre.
    assert!(
        back.geometry.max_corner_distance_mm(&original.geometry) < 1e-3,
        "{:?} vs {:?}",
        back.geometry,
        original.geometry
    );
    let real = |v: &twinplan::volume::Volume| v.voxels.mapv(|s| v.value_scale.real(s));
    assert_eq!(real(&back), real(&original), "voxel-exact");
}

#[test]
fn degenerate_orientations_are_refused_with_the_reason() {
    let Some(h) = hostile() else { return };
    let dir = tempfile::tempdir().expect("tempdir");
    for input in ["iop_1e155_single.dcm", "series_iop_1e308"] {
        let p = h.join(input);
        let p = p.to_str().expect("utf8");
        for args in [
            vec!["convert", p, "--out", "o.nii"],
            vec!["mesh", p, "--preset", "bone", "--out", "o.stl"],
        ] {
            let r = run_in(dir.path(), &args);
            refused(&r, 1, "ImageOrientationPatient");
            assert!(r.stderr.contains("not two unit vectors"), "{}", r.stderr);
        }
        assert!(!dir.path().join("o.nii").exists() && !dir.path().join("o.stl").exists());
    }
}

#[test]
fn a_position_drift_no_gantry_makes_is_refused_before_allocating() {
    let Some(h) = hostile() else { return };
    let dir = tempfile::tempdir().expect("tempdir");
    let p = h.join("series_position_drift_huge");
    let p = p.to_str().expect("utf8");
    for args in [
        vec!["convert", p, "--out", "o.nii"],
        vec!["mesh", p, "--preset", "bone", "--out", "o.stl"],
        vec!["plan", p, "--from", "0,0,0", "--to", "0,0,10"],
    ] {
        let r = run_in(dir.path(), &args);
        refused(&r, 1, "gantry tilt of 89.9°");
    }
}

#[test]
fn no_planted_name_reaches_any_message() {
    let Some(h) = hostile() else { return };
    let dir = tempfile::tempdir().expect("tempdir");
    let p = h.join("two_series_planted_name");
    let p = p.to_str().expect("utf8");
    let planted = [
        "zzplanted",
        "zqxplantgiven",
        "plantid12345",
        "19010203",
        "1901-02-03",
    ];
    let clean = |r: &Run| {
        let all = r.all().to_ascii_lowercase();
        for s in planted {
            assert!(!all.contains(s), "{s} leaked:\n{}", r.all());
        }
    };
    for args in [
        vec!["convert", p, "--out", "o.nii"],
        vec!["mesh", p, "--preset", "bone", "--out", "o.stl"],
        vec!["plan", p, "--from", "0,0,0", "--to", "0,0,10"],
        vec!["measure", p, "--distance", "0,0,0", "0,0,10"],
    ] {
        let r = run_in(dir.path(), &args);
        refused(&r, 2, "several image series found");
        clean(&r);
    }
    for args in [vec!["info", p], vec!["info", p, "--json"]] {
        let r = run_in(dir.path(), &args);
        sane(&r);
        assert_eq!(r.code, Some(0));
        assert!(r.stdout.contains("broken.dcm"), "{}", r.stdout);
        clean(&r);
    }
    // Debug logs go through the same scrubber.
    let r = {
        let out = Command::new(env!("CARGO_BIN_EXE_twinplan"))
            .args(["convert", p, "--series", "1", "--out", "o.nii"])
            .current_dir(dir.path())
            .env("TWINPLAN_LOG", "trace")
            .output()
            .expect("run");
        Run {
            code: out.status.code(),
            stdout: String::from_utf8_lossy(&out.stdout).into(),
            stderr: String::from_utf8_lossy(&out.stderr).into(),
            seconds: 0.0,
            peak_mb: 0.0,
        }
    };
    assert_eq!(r.code, Some(0), "{}", r.all());
    clean(&r);
    // The test can fail: asked for, the identity is shown.
    let r = run_in(dir.path(), &["info", p, "--phi"]);
    assert!(r.stdout.to_ascii_lowercase().contains("zzplantedsurname"));
}

#[test]
fn deflate_bombs_are_refused_with_flat_memory() {
    let Some(h) = hostile() else { return };
    let dir = tempfile::tempdir().expect("tempdir");
    for input in ["deflate_bomb_4GiB.dcm", "deflate_bomb_2x2GiB.dcm"] {
        let p = h.join(input);
        let p = p.to_str().expect("utf8");
        let r = run_in(dir.path(), &["info", p]);
        sane(&r);
        assert!(r.stdout.contains("decompression bomb"), "{}", r.stdout);
        let r = run_in(dir.path(), &["convert", p, "--out", "o.nii"]);
        refused(&r, 1, "decompression bomb");
    }
}

#[test]
fn absurd_nifti_grids_are_refused_and_the_big_one_is_described_from_its_header() {
    let Some(h) = hostile() else { return };
    let dir = tempfile::tempdir().expect("tempdir");
    for input in ["nifti_sform_1e38.nii.gz", "nifti_spacing_10m.nii.gz"] {
        let p = h.join(input);
        let p = p.to_str().expect("utf8");
        for args in [
            vec!["convert", p, "--out", "o.nii"],
            vec!["info", p],
            vec!["plan", p, "--from", "0,0,0", "--to", "100,100,100"],
        ] {
            let r = run_in(dir.path(), &args);
            refused(&r, 1, "voxel size");
        }
    }
    let p = h.join("nifti_2GiB_grid.nii.gz");
    let r = run_in(dir.path(), &["info", p.to_str().expect("utf8")]);
    sane(&r);
    assert_eq!(r.code, Some(0));
    assert!(r.stdout.contains("1024x1024x1024"), "{}", r.stdout);
    assert!(r.peak_mb < 100.0, "the header only: {:.0} MB", r.peak_mb);
}

#[test]
fn nifti_numbers_that_are_not_numbers_are_read_around_and_said() {
    let Some(h) = hostile() else { return };
    let Some(data) = common::testdata() else {
        return;
    };
    let dir = tempfile::tempdir().expect("tempdir");
    let reference =
        twinplan::nifti_io::read_nifti(&data.join("cta_aorta/ct_cropped.nii.gz")).expect("the CTA");
    // scl_slope NaN: read unscaled (as nibabel and dcm2niix do), with a warning.
    let p = h.join("nifti_scl_slope_nan.nii.gz");
    let r = run_in(
        dir.path(),
        &["convert", p.to_str().expect("utf8"), "--out", "a.nii"],
    );
    sane(&r);
    assert_eq!(r.code, Some(0), "{}", r.all());
    assert!(r.stderr.contains("values read unscaled"), "{}", r.stderr);
    let a = finite_nifti(&dir.path().join("a.nii"));
    assert!(a.voxels.iter().any(|&v| v != 0), "not every voxel 0");
    // sform translation NaN: the qform's geometry, said; the mesh is finite.
    let p = h.join("nifti_sform_translation_nan.nii.gz");
    let p = p.to_str().expect("utf8");
    let r = run_in(dir.path(), &["convert", p, "--out", "b.nii"]);
    sane(&r);
    assert_eq!(r.code, Some(0), "{}", r.all());
    assert!(r.stderr.contains("the qform is used"), "{}", r.stderr);
    let b = finite_nifti(&dir.path().join("b.nii"));
    assert!(b.geometry.max_corner_distance_mm(&reference.geometry) < 1e-3);
    let r = run_in(
        dir.path(),
        &["mesh", p, "--preset", "bone", "--out", "b.ply"],
    );
    sane(&r);
    assert_eq!(r.code, Some(0), "{}", r.all());
    let ply = std::fs::read(dir.path().join("b.ply")).expect("ply");
    let mesh = twinplan::mesh::io::read_mesh(&dir.path().join("b.ply")).expect("reads");
    assert!(!ply.is_empty() && !mesh.indices.is_empty());
    assert!(mesh.positions_mm.iter().flatten().all(|c| c.is_finite()));
}

#[test]
fn dicom_values_beyond_any_scanner_are_refused_or_skipped() {
    let Some(h) = hostile() else { return };
    let dir = tempfile::tempdir().expect("tempdir");
    let p = h.join("series_intercept_1e308");
    let r = run_in(
        dir.path(),
        &["convert", p.to_str().expect("utf8"), "--out", "o.nii"],
    );
    refused(&r, 1, "RescaleIntercept 1.0000e308 is not a usable value");
    assert!(!dir.path().join("o.nii").exists());
    // One slice at 1e308 mm: that file is skipped and named, the rest loads.
    let p = h.join("series_one_slice_ipp_1e308");
    let p = p.to_str().expect("utf8");
    let r = run_in(
        dir.path(),
        &["mesh", p, "--preset", "bone", "--out", "k.stl"],
    );
    sane(&r);
    assert_eq!(r.code, Some(0), "{}", r.all());
    assert!(r.stderr.contains("1 file(s) skipped"), "{}", r.stderr);
    let mesh = twinplan::mesh::io::read_mesh(&dir.path().join("k.stl")).expect("stl");
    assert!(mesh.indices.len() > 10_000, "{}", mesh.indices.len());
    let r = run_in(dir.path(), &["info", p]);
    assert!(r.stdout.contains("lies beyond any scanner"), "{}", r.stdout);
}

#[test]
fn damaged_rle_is_refused_without_a_panic_or_a_giant_request() {
    let Some(h) = hostile() else { return };
    let dir = tempfile::tempdir().expect("tempdir");
    for input in ["rle_decoder_panic.dcm", "rle_abort.dcm"] {
        let p = h.join(input);
        let r = run_in(
            dir.path(),
            &["convert", p.to_str().expect("utf8"), "--out", "o.nii"],
        );
        refused(&r, 1, "damaged RLE data");
    }
}

#[test]
fn a_plan_with_impossible_content_is_refused_naming_each_problem() {
    let Some(h) = hostile() else { return };
    let dir = tempfile::tempdir().expect("tempdir");
    let p = h.join("plan_degenerate_markups.twinplan.json");
    let r = run_in(
        dir.path(),
        &[
            "plan-info",
            p.to_str().expect("utf8"),
            "--slicer",
            "s.mrk.json",
        ],
    );
    refused(&r, 1, "a distance has 2 point(s), this one has 3");
    assert!(r.stderr.contains("plan.markups[3]"), "{}", r.stderr);
    assert!(!dir.path().join("s.mrk.json").exists(), "nothing written");
}

#[test]
fn special_files_and_oversized_plans_are_refused_at_once() {
    let dir = tempfile::tempdir().expect("tempdir");
    let fifo = |name: &str| {
        let path = dir.path().join(name);
        let c = std::ffi::CString::new(path.to_str().expect("utf8")).expect("path");
        // SAFETY: a valid NUL-terminated path.
        assert_eq!(unsafe { libc::mkfifo(c.as_ptr(), 0o600) }, 0);
        path
    };
    let nii = fifo("pipe.nii");
    let plan = fifo("pipe.twinplan.json");
    for args in [
        vec!["info", nii.to_str().expect("utf8")],
        vec!["convert", nii.to_str().expect("utf8"), "--out", "o.nii"],
    ] {
        refused(&run_in(dir.path(), &args), 1, "not a regular file");
    }
    refused(
        &run_in(dir.path(), &["plan-info", plan.to_str().expect("utf8")]),
        1,
        "not a regular file",
    );
    refused(
        &run_in(dir.path(), &["plan-info", "/dev/zero"]),
        1,
        "not a regular file",
    );
    // 100,000 markups: more than a plan may hold, refused with bounded memory.
    let mut markups = Vec::new();
    for n in 0..100_000u64 {
        markups.push(serde_json::json!({
            "id": n + 1, "name": format!("D-{n}"), "kind": "distance",
            "points_lps_mm": [[0.0, 0.0, 0.0], [1.0, 0.0, 0.0]],
            "colour": [1.0, 0.85, 0.2], "visible": true, "locked": false, "note": ""
        }));
    }
    let doc = serde_json::json!({
        "schema": "twinplan-plan", "version": 2, "coordinate_system": "LPS", "units": "mm",
        "reference": {"geometry": {"dims": [2, 2, 2], "spacing_mm": [1.0, 1.0, 1.0],
            "origin_lps_mm": [0.0, 0.0, 0.0],
            "direction": [[1.0, 0.0, 0.0], [0.0, 1.0, 0.0], [0.0, 0.0, 1.0]]}},
        "plan": {"markups": markups, "next_id": 100_000}
    });
    let big = dir.path().join("big.twinplan.json");
    std::fs::write(&big, serde_json::to_vec(&doc).expect("json")).expect("write");
    let r = run_in(
        dir.path(),
        &[
            "plan-info",
            big.to_str().expect("utf8"),
            "--slicer",
            "s.mrk.json",
        ],
    );
    refused(&r, 1, "more than 10000");
    assert!(!dir.path().join("s.mrk.json").exists());
}

#[test]
fn mesh_options_that_are_not_numbers_or_unbounded_are_usage_errors() {
    let Some(data) = common::testdata() else {
        return;
    };
    let dir = tempfile::tempdir().expect("tempdir");
    let ct = data.join("cta_aorta/ct_cropped.nii.gz");
    let ct = ct.to_str().expect("utf8");
    for extra in [
        vec!["--iso", "nan"],
        vec!["--iso", "inf"],
        vec!["--range", "nan:nan"],
        vec!["--preset", "bone", "--mask-sigma", "1e-308"],
        vec!["--preset", "bone", "--smooth", "100000"],
        vec!["--preset", "bone", "--smooth", "4294967296"],
    ] {
        let mut args = vec!["mesh", ct, "--out", "o.stl"];
        args.extend(extra);
        let r = run_in(dir.path(), &args);
        sane(&r);
        assert_eq!(r.code, Some(2), "{}", r.all());
    }
    // A selection with nothing in it writes nothing and says so (exit 1).
    let r = run_in(
        dir.path(),
        &["mesh", ct, "--iso", "100000", "--out", "o.stl"],
    );
    refused(&r, 1, "0 triangles");
    assert!(!dir.path().join("o.stl").exists());
}

#[test]
fn a_plan_through_a_lumen_filling_the_volume_reports_no_absurd_figures() {
    use twinplan::volume::{Geometry, Volume};
    let dir = tempfile::tempdir().expect("tempdir");
    let g = Geometry::axis_aligned([40, 40, 40], [1.0; 3], [0.0; 3]);
    let v = Volume::new(ndarray::Array3::from_elem((40, 40, 40), 300i16), g).expect("shape");
    let nii = dir.path().join("full.nii");
    twinplan::nifti_io::write_nifti(&v, &nii).expect("write");
    let r = run_in(
        dir.path(),
        &[
            "plan",
            nii.to_str().expect("utf8"),
            "--range",
            "200:600",
            "--from",
            "5,5,5",
            "--to",
            "35,20,30",
            "--json",
            "p.json",
        ],
    );
    sane(&r);
    assert_eq!(r.code, Some(0), "{}", r.all());
    assert!(!r.stdout.contains("widest lumen: 0.0"), "{}", r.stdout);
    let json = std::fs::read_to_string(dir.path().join("p.json")).expect("json");
    assert!(!json.contains("e308"), "no 1.797e308 radius");
}

#[test]
fn ten_concurrent_add_to_runs_keep_every_markup() {
    let Some(data) = common::testdata() else {
        return;
    };
    let dir = tempfile::tempdir().expect("tempdir");
    let ct = data.join("cta_aorta/ct_cropped.nii.gz");
    let ct = ct.to_str().expect("utf8").to_string();
    let plan = dir.path().join("shared.twinplan.json");
    let plan_s = plan.to_str().expect("utf8").to_string();
    // The plan exists with one markup, then ten processes add one each at once.
    let first = run_in(
        dir.path(),
        &[
            "measure",
            &ct,
            "--distance",
            "0,0,0",
            "0,0,10",
            "--add-to",
            &plan_s,
        ],
    );
    assert_eq!(first.code, Some(0), "{}", first.all());
    let children: Vec<_> = (0..10)
        .map(|n| {
            Command::new(env!("CARGO_BIN_EXE_twinplan"))
                .args([
                    "measure",
                    &ct,
                    "--distance",
                    "0,0,0",
                    &format!("0,0,{}", n + 11),
                    "--add-to",
                    &plan_s,
                    "--name",
                    &format!("parallel-{n}"),
                ])
                .stdout(std::process::Stdio::piped())
                .stderr(std::process::Stdio::piped())
                .spawn()
                .expect("spawn")
        })
        .collect();
    for c in children {
        let out = c.wait_with_output().expect("wait");
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
    let f = twinplan::plan::file::read(&plan).expect("the plan reads");
    assert_eq!(f.plan.markups.len(), 11, "every markup kept");
    for n in 0..10 {
        assert!(
            f.plan
                .markups
                .iter()
                .any(|m| m.name == format!("parallel-{n}")),
            "parallel-{n} lost"
        );
    }
}

#[test]
fn writers_never_follow_a_link_planted_at_a_temporary_name() {
    use std::os::unix::fs::symlink;
    let dir = tempfile::tempdir().expect("tempdir");
    let target = dir.path().join("precious.txt");
    std::fs::write(&target, b"precious").expect("write");
    let sample = twinplan::session::open::sample_path()
        .and_then(|p| p.canonicalize().ok())
        .expect("the bundled sample");
    let sample = sample.to_str().expect("utf8");
    // Every name the old writers used, for pids around the next ones, and the new prefix
    // with the pids a child could get.
    let next_pid = std::process::id();
    for pid in next_pid..next_pid + 200 {
        for name in [
            format!("twinplan-partial-{pid}.nii"),
            format!("twinplan-partial-{pid}.nii.gz"),
            format!(".out.nii.{pid}.partial"),
            format!(".out.stl.{pid}.partial"),
            format!(".plan.twinplan.json.{pid}.partial"),
        ] {
            let _ = symlink(&target, dir.path().join(name));
        }
    }
    for args in [
        vec!["convert", sample, "--out", "out.nii"],
        vec!["convert", sample, "--out", "out.nii.gz"],
        vec!["mesh", sample, "--preset", "bone", "--out", "out.stl"],
        vec![
            "measure",
            sample,
            "--distance",
            "0,0,-300",
            "0,0,-290",
            "--add-to",
            "plan.twinplan.json",
        ],
    ] {
        let r = run_in(dir.path(), &args);
        assert_eq!(r.code, Some(0), "{}", r.all());
    }
    assert_eq!(std::fs::read(&target).expect("read"), b"precious");
    for out in ["out.nii", "out.nii.gz", "out.stl", "plan.twinplan.json"] {
        let meta = std::fs::symlink_metadata(dir.path().join(out)).expect("written");
        assert!(meta.is_file(), "{out} is a file of its own");
    }
    // No temporary is left behind (the planted links are left alone).
    let left: Vec<String> = std::fs::read_dir(dir.path())
        .expect("ls")
        .flatten()
        .filter(|e| e.file_type().map(|t| t.is_file()).unwrap_or(false))
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .filter(|n| n.contains("partial"))
        .collect();
    assert!(left.is_empty(), "{left:?}");
}

#[test]
fn a_killed_convert_leaves_a_partial_file_the_next_write_removes() {
    let dir = tempfile::tempdir().expect("tempdir");
    // What a `kill -9` mid-write leaves: a temporary named for a process that is gone.
    let stale = dir.path().join(format!(
        "{}4194305-AbCdEf012345.nii",
        twinplan::fsutil::PARTIAL_PREFIX
    ));
    std::fs::write(&stale, vec![0u8; 1 << 20]).expect("write");
    let sample = twinplan::session::open::sample_path()
        .and_then(|p| p.canonicalize().ok())
        .expect("the bundled sample");
    let r = run_in(
        dir.path(),
        &[
            "convert",
            sample.to_str().expect("utf8"),
            "--out",
            "out.nii",
        ],
    );
    assert_eq!(r.code, Some(0), "{}", r.all());
    assert!(!stale.exists(), "the killed run's partial file is removed");
}
