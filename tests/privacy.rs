//! The privacy rule, enforced: scanning, loading and failing on a series whose patient has a
//! name, ID and birth date must not put any of them into a log line (every tracing event at
//! every level, dicom-rs's included), an error message, a `Debug` dump or CLI output
//! without `--phi`.

mod common;

use std::io::Write;
use std::sync::{Arc, Mutex};

use twinplan::dicom::{self, write::CtSeriesOptions};
use twinplan::phantom::{self, PhantomOptions};
use twinplan::progress::Progress;

#[derive(Clone, Default)]
struct Capture(Arc<Mutex<Vec<u8>>>);

impl Write for Capture {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0
            .lock()
            .map_err(|_| std::io::Error::other("poisoned"))?
            .extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// The family name of a DICOM person name (before the first `^`).
fn family_name(name: &str) -> String {
    name.split('^').next().unwrap_or_default().to_string()
}

fn assert_no_identity(text: &str, what: &str) {
    let patient = phantom::phantom_patient();
    let family = family_name(&patient.name);
    for secret in [&patient.name, &family, &patient.id, &patient.birth_date] {
        assert!(
            !text.contains(secret.as_str()),
            "{what} contains patient identity"
        );
    }
}

#[test]
fn no_patient_identity_in_logs_errors_or_debug_output() {
    let capture = Capture::default();
    let sink = capture.clone();
    let subscriber = tracing_subscriber::fmt()
        .with_max_level(tracing::Level::TRACE)
        .with_writer(move || sink.clone())
        .with_ansi(false)
        .finish();
    tracing::subscriber::set_global_default(subscriber).expect("only subscriber in this binary");

    let dir = tempfile::tempdir().expect("tempdir");
    let progress = Progress::new();
    let ph = phantom::generate(
        &PhantomOptions::default().with_size([32, 32, 24]),
        &progress,
    )
    .expect("phantom");
    let opts = CtSeriesOptions::default().with_patient(phantom::phantom_patient());
    let files = dicom::write::write_ct_series(
        &ph.volume,
        dir.path(),
        &opts,
        &|k| format!("{k}.dcm"),
        &progress,
    )
    .expect("write");
    // Damage: a truncated file, a gap in the stack, a non-DICOM file.
    let good = std::fs::read(&files[3]).expect("read");
    std::fs::write(dir.path().join("cut.dcm"), &good[..good.len() / 2]).expect("write");
    std::fs::remove_file(&files[10]).expect("remove");
    std::fs::write(dir.path().join("readme.txt"), "hello").expect("write");

    let report = dicom::scan(dir.path(), &progress).expect("scan");
    // The identity is there to be shown in the banner...
    assert_eq!(report.patients[0].identity, phantom::phantom_patient());
    let volume =
        dicom::load_series(report.series().next().expect("series"), &progress).expect("load");
    let mut texts = vec![
        format!("{report:?}"),
        format!("{:?}", volume.warnings),
        volume
            .warnings
            .iter()
            .map(|w| w.to_string())
            .collect::<Vec<_>>()
            .join("\n"),
        report
            .skipped
            .iter()
            .map(|s| s.reason.clone())
            .collect::<Vec<_>>()
            .join("\n"),
        dicom::info::describe(&report, false).to_text(),
        serde_json::to_string(&dicom::info::describe(&report, false)).expect("json"),
    ];
    // Errors: a cut file on its own, an ambiguous selection, a missing series.
    let cut_dir = tempfile::tempdir().expect("tempdir");
    std::fs::write(cut_dir.path().join("cut.dcm"), &good[..good.len() - 100]).expect("write");
    // Each must fail (an unexpected success would leave its message out of the check).
    let e = dicom::load_path(cut_dir.path(), None, &progress)
        .err()
        .unwrap_or_else(|| panic!("a cut file loaded"));
    texts.push(e.to_string());
    texts.push(format!("{e:?}"));
    let e = dicom::load_path(dir.path(), Some("99"), &progress)
        .err()
        .unwrap_or_else(|| panic!("a missing series loaded"));
    texts.push(e.to_string());
    texts.push(format!("{e:?}"));
    let logs = String::from_utf8(capture.0.lock().expect("lock").clone()).expect("utf8");
    assert!(!logs.is_empty(), "the subscriber saw the loader's events");
    texts.push(logs);
    for (n, t) in texts.iter().enumerate() {
        assert_no_identity(t, &format!("text #{n}"));
    }
    // ...and only shown on request.
    let with_phi = dicom::info::describe(&report, true).to_text();
    assert!(with_phi.contains(&phantom::phantom_patient().name));
}

#[test]
fn info_without_phi_shows_no_free_text_that_can_name_someone() {
    let dir = tempfile::tempdir().expect("tempdir");
    let progress = Progress::new();
    common::write_phantom_series(dir.path(), [24, 24, 12], true);
    let report = dicom::scan(dir.path(), &progress).expect("scan");
    let text = dicom::info::describe(&report, false).to_text();
    let json = serde_json::to_string(&dicom::info::describe(&report, false)).expect("json");
    for needle in common::planted_needles() {
        assert!(!text.contains(&needle), "info shows {needle}:\n{text}");
        assert!(!json.contains(&needle), "info --json shows {needle}");
    }
    assert_no_identity(&text, "info");
    // With --phi the descriptions are there (so the check above can fail).
    let with_phi = dicom::info::describe(&report, true).to_text();
    assert!(with_phi.contains("ZQSURNAME01"), "{with_phi}");
    assert!(with_phi.contains("ZQSURNAME00"), "{with_phi}");
}

/// `twinplan anonymize` names the files it refuses or skips by their paths, which are the
/// user's own and may hold the patient's name (a folder named after them): the patient's
/// name, ID and birth date read from the files are scrubbed from those lines too.
#[test]
fn anonymize_reports_refused_and_skipped_files_without_the_identity_in_their_paths() {
    let patient = phantom::phantom_patient();
    let family = family_name(&patient.name);
    let dir = tempfile::tempdir().expect("tempdir");
    let folder = dir.path().join(format!("{family}_{}", patient.id));
    std::fs::create_dir_all(&folder).expect("folder");
    let progress = Progress::new();
    let ph = phantom::generate(
        &PhantomOptions::default().with_size([32, 32, 24]),
        &progress,
    )
    .expect("phantom");
    let opts = CtSeriesOptions::default().with_patient(patient.clone());
    let files = dicom::write::write_ct_series(
        &ph.volume,
        &folder,
        &opts,
        &|k| format!("{k}.dcm"),
        &progress,
    )
    .expect("write");
    // One file says its pixels show burned-in text; one file is not DICOM.
    let mut obj = dicom_object::open_file(&files[0]).expect("open");
    obj.put(dicom_core::DataElement::new(
        dicom_core::Tag(0x0028, 0x0301),
        dicom_core::VR::CS,
        dicom_core::value::PrimitiveValue::from("YES"),
    ));
    obj.write_to_file(&files[0]).expect("write back");
    std::fs::write(folder.join("notes.txt"), "not dicom").expect("write");
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_twinplan"))
        .env("TWINPLAN_DATA_DIR", dir.path().join("data"))
        .args(["anonymize"])
        .arg(&folder)
        .arg("--out")
        .arg(dir.path().join("out"))
        .output()
        .expect("runs");
    assert!(out.status.success());
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(text.contains("refused"), "{text}");
    assert!(text.contains("skipped"), "{text}");
    assert_no_identity(&text, "anonymize's output");
}
