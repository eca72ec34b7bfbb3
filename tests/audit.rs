//! The audit trail across processes (`twinplan::audit`, `twinplan audit`): two processes
//! appending 1,000 entries each at once leave one valid 2,000-entry chain; a process killed
//! while appending leaves a trail that verifies up to its last whole entry; `audit show`,
//! `show --path` and `verify` do what they say, and `verify` exits 1 naming the entry a
//! person edited. The appending processes are this test binary run again with
//! `APPEND_TO` set (`appender_process`, which does nothing when run as an ordinary test).

use std::path::Path;
use std::process::{Command, Stdio};

use twinplan::audit::{Action, End, Trail};

const APPEND_TO: &str = "TWINPLAN_TEST_APPEND_TO";
const APPEND_COUNT: &str = "TWINPLAN_TEST_APPEND_COUNT";

/// The body of a child process: appends `APPEND_COUNT` entries (0: until killed) to the
/// trail in `APPEND_TO`. Run as an ordinary test (no `APPEND_TO`), it returns at once.
#[test]
fn appender_process() {
    let Some(dir) = std::env::var_os(APPEND_TO) else {
        return;
    };
    let count: u64 = std::env::var(APPEND_COUNT)
        .ok()
        .and_then(|c| c.parse().ok())
        .unwrap_or(0);
    let trail = Trail::open(Path::new(&dir)).expect("trail");
    let me = std::process::id().to_string();
    let mut i = 0u64;
    while count == 0 || i < count {
        trail
            .append(
                Action::OpenStudy,
                &[("study", me.as_str())],
                &format!("entry {i}"),
            )
            .expect("appended");
        i += 1;
    }
}

fn appender(dir: &Path, count: u64) -> std::process::Child {
    Command::new(std::env::current_exe().expect("test binary"))
        .args([
            "--exact",
            "appender_process",
            "--nocapture",
            "--test-threads",
            "1",
        ])
        .env(APPEND_TO, dir)
        .env(APPEND_COUNT, count.to_string())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("child starts")
}

#[test]
fn two_processes_appending_at_once_keep_one_chain() {
    let dir = tempfile::tempdir().expect("tempdir");
    // The key exists before either starts (both would otherwise race to make it; that race
    // is handled too, but is not what this test is about).
    Trail::open(dir.path()).expect("trail");
    let started = std::time::Instant::now();
    let mut a = appender(dir.path(), 1000);
    let mut b = appender(dir.path(), 1000);
    assert!(a.wait().expect("a").success());
    assert!(b.wait().expect("b").success());
    let trail = Trail::open(dir.path()).expect("trail");
    let v = trail.verify().expect("one valid chain");
    eprintln!(
        "2 processes × 1000 appends: {} entries in {:.2} s, {:?}",
        v.entries,
        started.elapsed().as_secs_f64(),
        v.end
    );
    assert_eq!(v.entries, 2000);
    assert_eq!(v.end, End::Confirmed);
    // They really ran at once: their entries interleave.
    let entries = twinplan::audit::read_entries(&trail.log_path()).expect("entries");
    let switches = entries
        .windows(2)
        .filter(|w| w[0].objects["study"] != w[1].objects["study"])
        .count();
    eprintln!("the writer changed {switches} times");
    assert!(switches >= 2, "the two processes did not overlap");
}

#[test]
fn a_process_killed_while_appending_leaves_a_trail_that_verifies() {
    let dir = tempfile::tempdir().expect("tempdir");
    Trail::open(dir.path()).expect("trail");
    let mut total = 0;
    for round in 0..5u64 {
        let mut child = appender(dir.path(), 0);
        std::thread::sleep(std::time::Duration::from_millis(150 + 70 * round));
        child.kill().expect("killed");
        let _ = child.wait();
        let trail = Trail::open(dir.path()).expect("trail");
        let v = trail
            .verify()
            .unwrap_or_else(|b| panic!("round {round}: broken at {b}"));
        eprintln!(
            "round {round}: {} entries, incomplete tail {}, {:?}",
            v.entries, v.incomplete_tail, v.end
        );
        assert!(v.entries > total, "round {round} appended nothing");
        assert!(matches!(v.end, End::Confirmed | End::HeadOneBehind));
        total = v.entries;
    }
}

fn twinplan(data: &Path, args: &[&str]) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_twinplan"))
        .args(args)
        .env("TWINPLAN_DATA_DIR", data)
        .output()
        .expect("twinplan runs")
}

#[test]
fn the_audit_command_shows_finds_and_verifies_the_trail() {
    let dir = tempfile::tempdir().expect("tempdir");
    let trail = Trail::open(dir.path()).expect("trail");
    let uid = "1.2.840.113619.2.55.3.2831164356";
    for action in [Action::OpenStudy, Action::SavePlan, Action::ExportMesh] {
        trail
            .append(action, &[("study", uid)], "")
            .expect("appended");
    }
    let out = twinplan(dir.path(), &["audit", "show", "--path"]);
    assert!(out.status.success());
    assert_eq!(
        String::from_utf8_lossy(&out.stdout).trim(),
        trail.log_path().display().to_string()
    );
    let out = twinplan(dir.path(), &["audit", "show"]);
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success());
    assert_eq!(text.lines().count(), 3, "{text}");
    assert!(text.contains("open-study") && text.contains("export-mesh"));
    assert!(text.contains(&trail.name("study", uid)));
    assert!(!text.contains("113619"), "no UID in clear: {text}");

    let out = twinplan(dir.path(), &["audit", "verify"]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(String::from_utf8_lossy(&out.stdout).contains("verified: 3 entries"));

    // A person edits entry 2 (its action).
    let log = trail.log_path();
    let text = std::fs::read_to_string(&log).expect("log");
    let edited = text.replacen("\"save-plan\"", "\"screenshot\"", 1);
    assert_ne!(edited, text);
    std::fs::write(&log, edited).expect("edited");
    let out = twinplan(dir.path(), &["audit", "verify"]);
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("entry 2 "), "{err}");
    // A copy of the log elsewhere is checked the same way, against its own first key.
    let copy = tempfile::tempdir().expect("tempdir");
    std::fs::copy(&log, copy.path().join("audit.jsonl")).expect("copied");
    let out = twinplan(
        dir.path(),
        &[
            "audit",
            "verify",
            &copy.path().join("audit.jsonl").to_string_lossy(),
        ],
    );
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("entry 2 "));
}
