//! Bad input gets an error or a warning, never a panic: every real test file truncated at
//! several offsets and with flipped bytes, and a folder mixing good series with bad files.

mod common;

use std::path::{Path, PathBuf};

use twinplan::dicom::{self, write::CtSeriesOptions};
use twinplan::phantom::{self, PhantomOptions};
use twinplan::progress::Progress;

fn dicom_files(root: &Path) -> Vec<PathBuf> {
    let mut out: Vec<PathBuf> = twinplan::dicom::scan::list_files(root)
        .unwrap_or_default()
        .into_iter()
        .filter(|p| {
            let n = p.to_string_lossy();
            !n.ends_with(".nii")
                && !n.ends_with(".nii.gz")
                && !n.ends_with(".json")
                && !n.contains("LICENSE")
                && !n.ends_with(".md")
                && !n.ends_with(".png")
                && !n.ends_with(".sh")
        })
        .collect();
    out.sort();
    out
}

/// Scans `dir` and loads every stack in it; any panic fails the test.
fn scan_and_load(dir: &Path) -> (usize, usize) {
    let report = dicom::scan(dir, &Progress::new()).expect("scan of a readable folder");
    let mut loaded = 0;
    for s in report.series() {
        if dicom::load_series(s, &Progress::new()).is_ok() {
            loaded += 1;
        }
    }
    (loaded, report.skipped.len())
}

#[test]
fn truncated_and_corrupted_files_never_panic() {
    let Some(t) = common::testdata() else { return };
    let files = dicom_files(&t);
    assert!(files.len() > 50, "expected the shared DICOM files");
    let work = tempfile::tempdir().expect("tempdir");
    use rayon::prelude::*;
    let variants: usize = files
        .par_iter()
        .enumerate()
        .map(|(n, f)| {
            let mut variants = 0;
            let bytes = std::fs::read(f).expect("read");
            let len = bytes.len();
            let mut cases: Vec<Vec<u8>> = Vec::new();
            for cut in [0, 131, 132, 400, len / 2, len.saturating_sub(1)] {
                cases.push(bytes[..cut.min(len)].to_vec());
            }
            // Deterministic byte flips: in the header region and in the pixel data.
            let mut state = n as u64 * 7919 + 1;
            for _ in 0..4 {
                let mut b = bytes.clone();
                for _ in 0..8 {
                    state = state
                        .wrapping_mul(6364136223846793005)
                        .wrapping_add(1442695040888963407);
                    let region = if state.is_multiple_of(2) {
                        len.min(2048)
                    } else {
                        len
                    };
                    let pos = (state >> 33) as usize % region.max(1);
                    if let Some(x) = b.get_mut(pos) {
                        *x ^= 0xFF;
                    }
                }
                cases.push(b);
            }
            for (c, data) in cases.into_iter().enumerate() {
                let dir = work.path().join(format!("{n}-{c}"));
                std::fs::create_dir_all(&dir).expect("mkdir");
                std::fs::write(dir.join("x.dcm"), &data).expect("write");
                let result = std::panic::catch_unwind(|| scan_and_load(&dir));
                assert!(result.is_ok(), "panic on {} variant {c}", f.display());
                std::fs::remove_dir_all(&dir).expect("cleanup");
                variants += 1;
            }
            variants
        })
        .sum();
    eprintln!(
        "{variants} damaged variants of {} files: no panic",
        files.len()
    );
}

#[test]
fn mixed_folder_loads_both_series_and_names_the_bad_files() {
    let dir = tempfile::tempdir().expect("tempdir");
    let progress = Progress::new();
    for (sub, seed, size) in [
        ("a", "series-a", [32, 32, 20]),
        ("b", "series-b", [24, 20, 16]),
    ] {
        let ph = phantom::generate(&PhantomOptions::default().with_size(size), &progress)
            .expect("phantom");
        let opts = CtSeriesOptions::default()
            .with_uid_seed(seed)
            .with_series_description(format!("series {sub}"));
        dicom::write::write_ct_series(
            &ph.volume,
            &dir.path().join(sub),
            &opts,
            &|k| format!("{k}.dcm"),
            &progress,
        )
        .expect("write");
    }
    std::fs::write(dir.path().join("notes.txt"), "not an image").expect("write");
    let good = std::fs::read(dir.path().join("a/3.dcm")).expect("read");
    std::fs::write(dir.path().join("broken.dcm"), &good[..good.len() / 3]).expect("write");

    let report = dicom::scan(dir.path(), &progress).expect("scan");
    let series: Vec<_> = report.series().collect();
    assert_eq!(series.len(), 2, "both series found");
    for s in &series {
        let v = dicom::load_series(s, &progress).expect("series loads");
        assert!(v.geometry.dims[2] == 20 || v.geometry.dims[2] == 16);
    }
    let mut bad: Vec<String> = report
        .skipped
        .iter()
        .map(|s| {
            s.path
                .file_name()
                .map(|n| n.to_string_lossy().into_owned())
                .unwrap_or_default()
        })
        .collect();
    bad.sort();
    assert_eq!(
        bad,
        vec!["broken.dcm".to_string(), "notes.txt".to_string()],
        "{:?}",
        report.skipped
    );
    assert!(report.skipped.iter().all(|s| !s.reason.is_empty()));
}

/// Inputs the mutation fuzzer (`benches/fuzz.sh`) once found taking gigabytes, seconds or a
/// panic: each is now refused at once with a reason (scan, load and open as the workstation
/// does), and the file's declared sizes are checked before the parser reserves them.
#[test]
fn fuzzer_findings_are_refused_quickly() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fuzz_regressions");
    let mut files: Vec<PathBuf> = std::fs::read_dir(&dir)
        .expect("tests/fuzz_regressions")
        .filter_map(|e| e.ok().map(|e| e.path()))
        .collect();
    files.sort();
    assert!(files.len() >= 5, "regression inputs missing: {files:?}");
    for f in files {
        let name = f
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        let work = tempfile::tempdir().expect("temp dir");
        let copy = work.path().join(&name);
        std::fs::copy(&f, &copy).expect("copy");
        let nifti = name.ends_with(".nii.gz");
        let target = if nifti {
            copy.clone()
        } else {
            work.path().to_path_buf()
        };
        let t = std::time::Instant::now();
        let result = twinplan::session::open::open_path(&target, &Progress::new());
        let err = result
            .err()
            .unwrap_or_else(|| panic!("{name}: loaded, expected a refusal"));
        let text = err.to_string();
        assert!(t.elapsed().as_secs_f64() < 5.0, "{name}: {:?}", t.elapsed());
        if nifti {
            assert!(
                text.contains("bytes of image data")
                    || text.contains("before the image data")
                    // Refused earlier still, by the grid's plausibility (issue 24).
                    || text.contains("the field of view is")
                    // Values whose span overflowed the requantising scale (issue 24).
                    || text.contains("voxel values reach"),
                "{name}: {text}"
            );
        } else {
            // A folder whose only file is skipped: the reason is in the skipped list.
            let report = dicom::scan(work.path(), &Progress::new()).expect("scan");
            let reasons: Vec<String> = report.skipped.iter().map(|s| s.reason.clone()).collect();
            // Refused when scanned (header) or when loaded (pixel data).
            let said = |r: &str| {
                (r.contains("damaged DICOM") || r.contains("damaged RLE data"))
                    && (r.contains("declares") || r.contains("deflated data set"))
            };
            assert!(
                reasons.iter().any(|r| said(r)) || said(&text),
                "{name}: {reasons:?} / {text}"
            );
        }
    }
}

/// The fuzzer's finding on uncompressed data: a damaged Rows (0028,0010) made a small file
/// claim a volume hundreds of times its size, which the loader allocated before decoding.
/// Such a series is refused before its volume exists, naming the bytes it claims.
#[test]
fn an_image_size_beyond_the_file_is_refused_before_allocating() {
    let dir = tempfile::tempdir().expect("tempdir");
    let progress = Progress::new();
    let ph = phantom::generate(&PhantomOptions::default().with_size([32, 32, 8]), &progress)
        .expect("phantom");
    let paths = dicom::write::write_ct_series(
        &ph.volume,
        dir.path(),
        &CtSeriesOptions::default().with_uid_seed("rows-damaged"),
        &|k| format!("{k}.dcm"),
        &progress,
    )
    .expect("write");
    // Rows (0028,0010) US 2 = 32 becomes 65534 in every file (explicit VR little endian).
    let rows = [0x28, 0x00, 0x10, 0x00, b'U', b'S', 2, 0, 32, 0];
    for p in &paths {
        let mut b = std::fs::read(p).expect("read");
        let at = b
            .windows(rows.len())
            .position(|w| w == rows)
            .expect("Rows element");
        b[at + 8..at + 10].copy_from_slice(&65534u16.to_le_bytes());
        std::fs::write(p, b).expect("write");
    }
    let report = dicom::scan(dir.path(), &progress).expect("scan");
    let series: Vec<_> = report.series().collect();
    assert_eq!(series.len(), 1, "{:?}", report.skipped);
    let err = dicom::load_series(series[0], &progress).expect_err("refused");
    let text = err.to_string();
    let claimed = 65534u64 * 32 * 2;
    assert!(
        text.contains("damaged DICOM") && text.contains(&format!("declares {claimed} bytes")),
        "{text}"
    );
}
