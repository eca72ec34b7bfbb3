//! De-identification (`twinplan::deid`) of the real DICOM files in ../shared/testdata: each
//! output file, read back, holds no attribute of Table E.1-1 with its original value unless
//! the table keeps it (walked attribute by attribute against its input), no private
//! attribute, and none of the input's instance UIDs anywhere (sequences included); the
//! series load to the same voxels and geometry and group as before; an earlier
//! de-identification's record (dcm_qa_deident) is kept and ours added. Skips with a message
//! where ../shared/testdata is missing (CI has it).

mod common;

use std::collections::HashSet;
use std::path::Path;

use dicom_core::header::Header;
use dicom_core::value::Value;
use dicom_core::{Tag, VR};
use dicom_object::{InMemDicomObject, OpenFileOptions};
use twinplan::deid::{Action, Deidentifier, Options, files::anonymize_tree, table};
use twinplan::progress::Progress;

fn open(path: &Path) -> dicom_object::DefaultDicomObject {
    OpenFileOptions::new()
        .read_preamble(dicom_object::file::ReadPreamble::Auto)
        .open_file(path)
        .expect("reads back")
}

/// Every UID value of attributes the table replaces (U), anywhere in the data set.
fn replaced_uids(
    obj: &InMemDicomObject,
    t: &std::collections::HashMap<Tag, (Action, &str)>,
    out: &mut HashSet<String>,
) {
    for e in obj.iter() {
        match e.value() {
            Value::Sequence(s) => s.items().iter().for_each(|i| replaced_uids(i, t, out)),
            _ if e.vr() == VR::UI && matches!(t.get(&e.tag()), Some((Action::Uid, _))) => {
                if let Ok(v) = e.to_multi_str() {
                    out.extend(
                        v.iter()
                            .map(|u| u.trim_end_matches(['\0', ' ']).to_string())
                            .filter(|u| !u.is_empty()),
                    );
                }
            }
            _ => {}
        }
    }
}

/// Every string value anywhere (for the UID search), and whether any private tag is left.
fn all_strings(obj: &InMemDicomObject, out: &mut Vec<String>, private: &mut usize) {
    for e in obj.iter() {
        if e.tag().group() % 2 == 1 {
            *private += 1;
        }
        match e.value() {
            Value::Sequence(s) => s.items().iter().for_each(|i| all_strings(i, out, private)),
            _ => {
                if let Ok(v) = e.to_multi_str() {
                    out.extend(
                        v.iter()
                            .map(|s| s.trim_end_matches(['\0', ' ']).to_string()),
                    );
                }
            }
        }
    }
}

#[test]
fn every_testdata_file_loses_what_the_profile_removes_and_keeps_its_pixels() {
    let Some(data) = common::testdata() else {
        return;
    };
    let t = table();
    let d = Deidentifier::new([9; 32], Options::default());
    let mut checked_files = 0;
    let mut checked_attributes = 0;
    for folder in [
        "head_ct",
        "dcm_qa_deident",
        "totalsegmentator_ct",
        "pydicom",
        "dcm_qa_ts",
        "dcm_qa_12bit",
    ] {
        let input = data.join(folder);
        let out = tempfile::tempdir().expect("tempdir");
        let report = anonymize_tree(&input, out.path(), &d, false, &Progress::new()).expect("runs");
        eprintln!(
            "{folder}: {} written, {} refused ({:?}), {} skipped",
            report.written.len(),
            report.refused.len(),
            report
                .refused
                .iter()
                .map(|(_, w)| w.as_str())
                .collect::<Vec<_>>(),
            report.skipped.len()
        );
        assert!(!report.written.is_empty(), "{folder}: nothing written");
        for (src, dst) in &report.written {
            let before = open(src);
            let after = open(dst);
            // The table, attribute by attribute (top level).
            for (&tag, &(action, name)) in t.iter() {
                let Some(was) = before.get(tag) else { continue };
                let now = after.get(tag);
                let kept = now.is_some_and(|n| n.value() == was.value());
                let was_empty = match was.value() {
                    Value::Sequence(seq) => seq.items().is_empty(),
                    _ => was
                        .to_str()
                        .is_ok_and(|s| s.trim_end_matches(['\0', ' ']).is_empty()),
                };
                checked_attributes += 1;
                match action {
                    Action::Remove => {
                        assert!(now.is_none(), "{folder} {}: {name} kept", src.display())
                    }
                    Action::References => {}
                    _ if was_empty => {}
                    _ => assert!(
                        !kept,
                        "{folder} {}: {name} {tag} keeps its value",
                        src.display()
                    ),
                }
            }
            // No instance UID of the input survives anywhere; no private attribute.
            let mut old = HashSet::new();
            replaced_uids(&before, &t, &mut old);
            let mut strings = Vec::new();
            let mut private = 0;
            all_strings(&after, &mut strings, &mut private);
            assert_eq!(private, 0, "{folder}: private attributes left");
            for s in &strings {
                assert!(!old.contains(s), "{folder}: the UID {s} survived");
            }
            assert_eq!(
                after
                    .get(Tag(0x0012, 0x0062))
                    .and_then(|e| e.to_str().ok())
                    .as_deref(),
                Some("YES")
            );
            // The meta's instance UID follows the data set's.
            let sop = after
                .get(Tag(0x0008, 0x0018))
                .and_then(|e| e.to_str().ok())
                .map(|s| s.trim_end_matches('\0').to_string());
            let meta = after.meta();
            assert!(
                meta.source_application_entity_title.is_none()
                    && meta.sending_application_entity_title.is_none()
                    && meta.private_information.is_none(),
                "{folder}: the file meta names a station or holds private information"
            );
            if let Some(sop) = sop {
                assert_eq!(
                    after
                        .meta()
                        .media_storage_sop_instance_uid()
                        .trim_end_matches('\0'),
                    sop
                );
            }
            checked_files += 1;
        }
        // Image series: the same voxels and geometry, the same grouping.
        if ["head_ct", "dcm_qa_deident", "totalsegmentator_ct"].contains(&folder) {
            let (a, _) =
                twinplan::dicom::load_path(&input, None, &Progress::new()).expect("input loads");
            let (b, _) = twinplan::dicom::load_path(out.path(), None, &Progress::new())
                .expect("output loads");
            assert_eq!(a.voxels, b.voxels, "{folder}: voxels differ");
            assert_eq!(a.value_scale, b.value_scale);
            let mismatch = common::grid_mismatch_mm(&a.geometry, &b.geometry);
            eprintln!("{folder}: voxels identical, geometry within {mismatch:e} mm");
            assert!(mismatch <= 1e-6, "{folder}: geometry moved {mismatch} mm");
            let count = |p: &Path| {
                twinplan::dicom::scan::scan(p, &Progress::new())
                    .expect("scans")
                    .patients
                    .iter()
                    .flat_map(|p| &p.studies)
                    .map(|s| s.series.len())
                    .sum::<usize>()
            };
            assert_eq!(
                count(&input),
                count(out.path()),
                "{folder}: series grouped otherwise"
            );
        }
        if folder == "dcm_qa_deident" {
            let (src, dst) = &report.written[0];
            let codes = |o: &InMemDicomObject| -> Vec<String> {
                match o.get(Tag(0x0012, 0x0064)).map(|e| e.value()) {
                    Some(Value::Sequence(s)) => s
                        .items()
                        .iter()
                        .filter_map(|i| i.get(Tag(0x0008, 0x0100)).and_then(|c| c.to_str().ok()))
                        .map(|c| c.trim().to_string())
                        .collect(),
                    _ => Vec::new(),
                }
            };
            let (was, now) = (codes(&open(src)), codes(&open(dst)));
            eprintln!("dcm_qa_deident codes: {was:?} -> {now:?}");
            assert!(
                !was.is_empty() && now.starts_with(&was),
                "earlier record kept"
            );
            assert!(now.contains(&"113100".to_string()));
        }
    }
    eprintln!("{checked_files} files, {checked_attributes} attributes of the table checked");
}

#[test]
fn modified_dates_keep_the_intervals_of_a_real_study() {
    let Some(data) = common::testdata() else {
        return;
    };
    let d = Deidentifier::new(
        [9; 32],
        Options {
            shift_days: Some(-1000),
            ..Options::default()
        },
    );
    let out = tempfile::tempdir().expect("tempdir");
    let report = anonymize_tree(
        &data.join("head_ct"),
        out.path(),
        &d,
        false,
        &Progress::new(),
    )
    .expect("runs");
    let date = |o: &InMemDicomObject, tag: Tag| {
        o.get(tag)
            .and_then(|e| e.to_str().ok())
            .map(|s| s.trim().to_string())
            .filter(|s| !s.is_empty())
    };
    let study = Tag(0x0008, 0x0020);
    // An image (not the DICOMDIR, which has no study date).
    let (src, dst) = report
        .written
        .iter()
        .find(|(s, _)| date(&open(s), study).is_some())
        .expect("an image with a study date");
    let (before, after) = (open(src), open(dst));
    let was = date(&before, study).expect("a study date");
    let now = date(&after, study).expect("kept, moved");
    eprintln!("Study Date {was} -> {now}");
    assert_eq!(Some(now), twinplan::deid::dates::shift_date(&was, -1000));
    let (a, _) = twinplan::dicom::load_path(out.path(), None, &Progress::new()).expect("loads");
    assert_eq!(a.geometry.dims, [512, 512, 140]);
}

/// `twinplan anonymize --series … --keep-device --keep-patient-characteristics` on the head
/// CT: only the series' files, the scanner's station name and serial number and the
/// patient's sex as they were, both option codes recorded; an unknown series is a usage
/// error listing the choices, and writes nothing.
#[test]
fn one_series_with_the_retain_options_from_the_command_line() {
    let Some(data) = common::testdata() else {
        return;
    };
    let input = data.join("head_ct");
    let dir = tempfile::tempdir().expect("tmp");
    let out = dir.path().join("out");
    let run = |args: &[&str]| {
        std::process::Command::new(env!("CARGO_BIN_EXE_twinplan"))
            .env("TWINPLAN_DATA_DIR", dir.path().join("data"))
            .args(args)
            .output()
            .expect("runs")
    };
    let (i, o) = (input.to_string_lossy(), out.to_string_lossy());
    let bad = run(&["anonymize", &i, "--out", &o, "--series", "999"]);
    assert_eq!(bad.status.code(), Some(2), "{bad:?}");
    assert!(String::from_utf8_lossy(&bad.stderr).contains("203"));
    assert!(std::fs::read_dir(&out).map_or(true, |mut d| d.next().is_none()));
    let r = run(&[
        "anonymize",
        &i,
        "--out",
        &o,
        "--series",
        "203",
        "--keep-device",
        "--keep-patient-characteristics",
    ]);
    assert!(r.status.success(), "{}", String::from_utf8_lossy(&r.stderr));
    let written: Vec<_> = std::fs::read_dir(&out).expect("out").flatten().collect();
    assert_eq!(
        written.len(),
        140,
        "the series' 140 images, not the DICOMDIR"
    );
    let original = open(
        &input.join("dicom").join(
            std::fs::read_dir(input.join("dicom"))
                .expect("dicom")
                .flatten()
                .map(|e| e.file_name())
                .find(|n| n != "DIRFILE")
                .expect("an image"),
        ),
    );
    let anonymized = open(&written[0].path());
    let value = |o: &InMemDicomObject, t: Tag| {
        o.get(t)
            .and_then(|e| e.to_str().ok())
            .map(|s| s.to_string())
    };
    for (tag, name) in [
        (Tag(0x0008, 0x1010), "Station Name"),
        (Tag(0x0018, 0x1000), "Device Serial Number"),
        (Tag(0x0010, 0x0040), "Patient's Sex"),
    ] {
        assert!(value(&original, tag).is_some(), "{name} in the input");
        assert_eq!(
            value(&anonymized, tag),
            value(&original, tag),
            "{name} kept"
        );
    }
    let codes = twinplan::deid::method_codes(&anonymized);
    assert_eq!(codes, ["113100", "113108", "113109"]);
}

/// The pixels copied as bytes (the header alone decoded) give the file that decoding and
/// re-encoding all of it gives — byte for byte, or, where the input encodes its Pixel Data
/// element unusually, element for element and pixel for pixel — for every DICOM file of
/// the test data; most files take the copy.
#[test]
fn copying_the_pixels_as_bytes_writes_what_decoding_them_writes() {
    let Some(data) = common::testdata() else {
        return;
    };
    use twinplan::deid::files::{deidentify_decoded, deidentify_encoded, deidentify_file};
    let d = Deidentifier::new([7; 32], Options::default());
    let files = twinplan::dicom::scan::list_files(&data).expect("list");
    let (mut same, mut copied, mut bytes_equal) = (0, 0, 0);
    for f in &files {
        let Ok(reference) = deidentify_decoded(f, &d, true) else {
            assert!(deidentify_file(f, &d, true).is_err(), "{}", f.display());
            continue;
        };
        let (sop, encoded) = deidentify_encoded(f, &d, true).expect("encoded");
        copied += usize::from(encoded.copy.is_some());
        let whole = deidentify_file(f, &d, true).expect("whole");
        assert_eq!(sop, reference.0, "{}", f.display());
        if whole.1 == reference.1 {
            bytes_equal += 1;
        } else {
            // The copy keeps the input's own encoding of the Pixel Data element (an
            // encapsulated OW, say, which decoding normalises to OB): then every element
            // must read back the same, the pixels value for value.
            let read = |b: &[u8]| {
                OpenFileOptions::new()
                    .read_preamble(dicom_object::file::ReadPreamble::Auto)
                    .from_reader(b)
                    .expect("reads back")
            };
            let (a, b) = (read(&whole.1), read(&reference.1));
            assert_eq!(a.meta(), b.meta(), "{}", f.display());
            let tags: Vec<Tag> = a.tags().collect();
            assert_eq!(tags, b.tags().collect::<Vec<_>>(), "{}", f.display());
            for t in tags {
                let (x, y) = (a.get(t).expect("a"), b.get(t).expect("b"));
                assert!(x.value() == y.value(), "{} {t} differs", f.display());
                if t != Tag(0x7FE0, 0x0010) {
                    assert_eq!(x.vr(), y.vr(), "{} {t}", f.display());
                }
            }
        }
        same += 1;
    }
    eprintln!(
        "{same} files identical ({bytes_equal} byte for byte), {copied} with their pixels copied as bytes"
    );
    assert!(same > 300, "{same}");
    assert!(copied * 10 > same * 7, "{copied} of {same} copied");
}

/// dciodvfy (Debian `dicom3tools`; `.ci/run` installs it) finds no error in a de-identified
/// file that it did not find in the input, on a CT, an MR, an already de-identified MR,
/// an enhanced multi-frame and a JPEG 2000 file of the test data (errors compared without
/// their values). `benches/deid_dciodvfy.sh` does the same over every folder.
#[test]
fn dciodvfy_finds_no_new_error_in_the_anonymized_files() {
    let Some(data) = common::testdata() else {
        return;
    };
    let ok = std::process::Command::new("dciodvfy")
        .output()
        .is_ok_and(|o| !o.stdout.is_empty() || !o.stderr.is_empty());
    if !ok {
        common::skip("dciodvfy is not installed (apt install dicom3tools; .ci/run does)");
        return;
    }
    let errors = |f: &Path| -> std::collections::BTreeSet<String> {
        let o = std::process::Command::new("dciodvfy")
            .arg(f)
            .output()
            .expect("dciodvfy runs");
        String::from_utf8_lossy(&o.stderr)
            .lines()
            .chain(String::from_utf8_lossy(&o.stdout).lines())
            .filter(|l| l.starts_with("Error"))
            .map(|l| {
                let mut s = String::new();
                let mut depth = 0;
                for c in l.chars() {
                    match c {
                        '<' | '[' => depth += 1,
                        '>' | ']' => depth -= 1,
                        _ if depth == 0 => s.push(c),
                        _ => {}
                    }
                }
                s
            })
            .collect()
    };
    let d = Deidentifier::new([8; 32], Options::default());
    let dir = tempfile::tempdir().expect("tmp");
    let mut checked = 0;
    for rel in [
        "head_ct/dicom/I10",
        "head_ct/dicom/I100",
        "dcm_qa_deident",
        "pydicom",
        "dcm_qa_ts",
        "totalsegmentator_ct",
    ] {
        let p = data.join(rel);
        let files: Vec<_> = if p.is_file() {
            vec![p]
        } else {
            twinplan::dicom::scan::list_files(&p)
                .expect("list")
                .into_iter()
                .step_by(3)
                .take(10)
                .collect()
        };
        for f in files {
            let Ok((_, bytes)) = twinplan::deid::files::deidentify_file(&f, &d, true) else {
                continue;
            };
            let out = dir.path().join(format!("{checked}.dcm"));
            std::fs::write(&out, bytes).expect("write");
            let new: Vec<String> = errors(&out).difference(&errors(&f)).cloned().collect();
            assert!(new.is_empty(), "{}: {new:?}", f.display());
            checked += 1;
        }
    }
    assert!(checked >= 20, "{checked}");
}
