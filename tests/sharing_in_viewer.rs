//! Sharing from the workstation's logic (no window; `MinimalPlugins`): File ▸ Export
//! de-identified writes the open series through the Basic Profile into a new folder, as a
//! job, with a notice and an audit entry, and the export loads to the same voxels; a case
//! package opened in the workstation asks first, refuses a wrong passphrase with the
//! reason, shows the statement, and only when the user goes on opens the de-identified
//! series with the packed plan (which keeps no file in the temporary folder), and the
//! temporary folder goes when the app does. One test in its own binary: it points the
//! audit trail at a temporary folder through the environment.
#![cfg(feature = "viewer")]

mod common;

use std::time::{Duration, Instant};

use age::secrecy::SecretString;
use bevy::prelude::*;
use twinplan::app::LogicPlugin;
use twinplan::app::document::PlanDoc;
use twinplan::app::package::{CasePackages, Opener, PackagePlugin};
use twinplan::app::state::{Jobs, UiAction, Workspace};
use twinplan::package::{Consent, Lock, Purpose};
use twinplan::progress::Progress;
use twinplan::session::open::sample_path;

fn settle(app: &mut App, done: impl Fn(&World) -> bool) {
    let t = Instant::now();
    loop {
        app.update();
        if app.world().resource::<Jobs>().is_idle() && done(app.world()) {
            return;
        }
        assert!(t.elapsed() < Duration::from_secs(600), "never settled");
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// The sample sealed as a case package with its images and the demo plan (passphrase "the
/// right one"): the package, the plan, the statement.
fn seal_the_sample(
    a: &twinplan::volume::Volume,
    sample: &std::path::Path,
    dir: &std::path::Path,
    d: &twinplan::deid::Deidentifier,
) -> (std::path::PathBuf, twinplan::plan::file::PlanFile, Consent) {
    let plan_path = sample.parent().expect("phantom").join("demo.twinplan.json");
    let plan = twinplan::plan::file::read(&plan_path).expect("plan");
    let files: Vec<_> = std::fs::read_dir(sample)
        .expect("sample")
        .flatten()
        .map(|e| e.path())
        .filter(|p| p.extension().is_some_and(|x| x == "dcm"))
        .collect();
    let case =
        twinplan::package::case::gather(a, sample, &files, &plan, d, true, false, &Progress::new())
            .expect("case");
    let pkg = dir.join("case.twinplan");
    let consent = Consent {
        purpose: Purpose::Rehearsal,
        consent_obtained: true,
        recorded_by: "Dr C. Fellow".into(),
        note: String::new(),
    };
    twinplan::package::seal(
        &pkg,
        &consent,
        &case.files,
        &Lock::Passphrase {
            passphrase: SecretString::from("the right one".to_string()),
            work_factor: Some(6),
        },
    )
    .expect("sealed");

    (pkg, plan, consent)
}

#[test]
fn export_de_identified_and_open_a_case_package() {
    let Some(sample) = sample_path() else {
        common::skip("bundled sample not found");
        return;
    };
    let dir = tempfile::tempdir().expect("tmp");
    // SAFETY: this binary holds this one test, so no other thread reads the environment.
    unsafe { std::env::set_var("TWINPLAN_DATA_DIR", dir.path().join("data")) };

    let mut app = App::new();
    app.add_plugins((MinimalPlugins, LogicPlugin, PackagePlugin));
    app.world_mut()
        .write_message(UiAction::Open(sample.clone()));
    settle(&mut app, |w| w.resource::<Workspace>().loaded.is_some());

    // Export de-identified.
    let out = dir.path().join("export");
    app.world_mut()
        .write_message(UiAction::ExportDeidentified(out.clone()));
    settle(&mut app, |w| {
        w.resource::<Workspace>()
            .notices
            .iter()
            .any(|n| n.notice.summary.contains("De-identified export"))
    });
    let notice = app
        .world()
        .resource::<Workspace>()
        .notices
        .iter()
        .find(|n| n.notice.summary.contains("De-identified export"))
        .map(|n| format!("{} {}", n.notice.summary, n.notice.details))
        .expect("notice");
    assert!(notice.contains("200 file(s) de-identified"), "{notice}");
    let (a, _) = twinplan::dicom::load_path(&sample, None, &Progress::new()).expect("a");
    let (b, _) = twinplan::dicom::load_path(&out, None, &Progress::new()).expect("b");
    assert_eq!(a.voxels, b.voxels);
    assert_eq!(a.geometry.dims, b.geometry.dims);
    assert_ne!(a.series_uid, b.series_uid);
    let trail = twinplan::audit::read_entries(
        &twinplan::audit::Trail::user()
            .expect("data dir")
            .expect("trail")
            .log_path(),
    )
    .expect("trail");
    assert!(
        trail
            .iter()
            .any(|e| e.detail.contains("from the workstation"))
    );

    // A case package of the sample with its images and the demo plan.
    let d = twinplan::deid::Deidentifier::new([1; 32], Default::default());
    let (pkg, plan, consent) = seal_the_sample(&a, &sample, dir.path(), &d);

    // Opening it asks; a wrong passphrase is refused with the reason.
    app.world_mut().write_message(UiAction::Open(pkg.clone()));
    app.update();
    app.update();
    assert_eq!(app.world().resource::<CasePackages>().stage(), "asking");
    let key = |p: &str| Opener::Passphrase(SecretString::from(p.to_string()));
    app.world_mut()
        .resource_scope(|w, mut cases: Mut<CasePackages>| {
            cases.unlock(&mut w.resource_mut::<Jobs>(), key("the wrong one"))
        });
    settle(&mut app, |w| {
        w.resource::<CasePackages>().stage() != "decrypting"
    });
    let cases = app.world().resource::<CasePackages>();
    assert_eq!(cases.stage(), "asking");
    assert!(
        cases
            .error()
            .is_some_and(|e| e.contains("wrong passphrase"))
    );
    // The right one shows the statement; nothing opens before the user goes on.
    let revision = app.world().resource::<Workspace>().volume_revision;
    app.world_mut()
        .resource_scope(|w, mut cases: Mut<CasePackages>| {
            cases.unlock(&mut w.resource_mut::<Jobs>(), key("the right one"))
        });
    settle(&mut app, |w| {
        w.resource::<CasePackages>().stage() == "statement"
    });
    let manifest = app
        .world()
        .resource::<CasePackages>()
        .statement()
        .cloned()
        .expect("statement");
    assert_eq!(manifest.consent, consent);
    assert_eq!(manifest.images(), 200);
    for _ in 0..5 {
        app.update();
    }
    assert_eq!(
        app.world().resource::<Workspace>().volume_revision,
        revision
    );
    let unpacked: Vec<_> = std::fs::read_dir(std::env::temp_dir())
        .expect("temp")
        .flatten()
        .filter(|e| {
            e.file_name()
                .to_string_lossy()
                .starts_with(&format!("twinplan-case-{}-", std::process::id()))
        })
        .map(|e| e.path())
        .collect();
    assert_eq!(unpacked.len(), 1, "{unpacked:?}");
    // Going on opens the de-identified series and the packed plan.
    app.world_mut().resource_mut::<CasePackages>().go_on();
    settle(&mut app, |w| {
        w.resource::<Workspace>().volume_revision > revision
            && !w.resource::<PlanDoc>().plan().markups.is_empty()
    });
    let ws = app.world().resource::<Workspace>();
    let loaded = ws.loaded.as_ref().expect("loaded");
    assert_eq!(loaded.volume.voxels, a.voxels);
    assert_eq!(
        loaded.volume.series_uid,
        Some(d.new_uid(a.series_uid.as_deref().expect("uid")))
    );
    assert!(
        ws.recent.contains(&pkg) && !ws.recent.iter().any(|p| p.starts_with(&unpacked[0])),
        "{:?}",
        ws.recent
    );
    let doc = app.world().resource::<PlanDoc>();
    assert_eq!(doc.plan().markups, plan.plan.markups);
    assert!(doc.path().is_none(), "the packed plan keeps no file");
    assert_eq!(app.world().resource::<CasePackages>().stage(), "idle");
    // The temporary folder goes with the app.
    drop(app);
    assert!(!unpacked[0].exists());
}
