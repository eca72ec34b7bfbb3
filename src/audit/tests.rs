//! The trail's tamper evidence, entry by entry: a 1,000-entry log with each line edited,
//! deleted, moved and duplicated in turn must fail `verify` naming exactly that entry; a
//! crash mid-append loses only that entry.

use super::*;
use rayon::prelude::*;

fn trail_with(n: usize) -> (tempfile::TempDir, Trail) {
    let dir = tempfile::tempdir().expect("tempdir");
    let trail = Trail::open(dir.path()).expect("trail");
    for i in 0..n {
        let action = [Action::OpenStudy, Action::SavePlan, Action::Screenshot][i % 3];
        let uid = format!("1.2.826.0.1.3680043.2.{i}");
        trail
            .append(action, &[("study", uid.as_str())], &format!("step {i}"))
            .expect("appended");
    }
    (dir, trail)
}

fn lines(bytes: &[u8]) -> Vec<Vec<u8>> {
    let mut l: Vec<Vec<u8>> = bytes.split(|&b| b == b'\n').map(<[u8]>::to_vec).collect();
    l.pop();
    l
}

fn join(lines: &[Vec<u8>]) -> Vec<u8> {
    let mut out = Vec::new();
    for l in lines {
        out.extend_from_slice(l);
        out.push(b'\n');
    }
    out
}

#[test]
fn a_fresh_trail_verifies_and_names_objects_only_by_salted_hash() {
    let (dir, trail) = trail_with(5);
    let v = trail.verify().expect("verifies");
    assert_eq!(v.entries, 5);
    assert_eq!(v.end, End::Confirmed);
    assert!(!v.incomplete_tail);
    let text = std::fs::read_to_string(trail.log_path()).expect("log");
    assert!(!text.contains("1.2.826.0.1.3680043"), "no UID in clear");
    let entries = read_entries(&trail.log_path()).expect("entries");
    assert_eq!(entries.len(), 5);
    assert_eq!(entries[0].seq, 1);
    assert!(entries[0].key.is_some() && entries[1].key.is_none());
    assert_eq!(
        entries[0].objects["study"],
        trail.name("study", "1.2.826.0.1.3680043.2.0")
    );
    assert!(entries[4].tool.starts_with("twinplan "));
    // Without the head, or against the first entry's own key, it still verifies.
    let bytes = std::fs::read(trail.log_path()).expect("log");
    let v = verify_bytes(&bytes, None, None).expect("self-consistent");
    assert_eq!(v.end, End::Unchecked);
    // Against another installation's key it does not.
    let other = tempfile::tempdir().expect("tempdir");
    let stranger = Installation::load_or_create(other.path()).expect("key");
    let head = std::fs::read(dir.path().join(HEAD)).expect("head");
    let b = verify_bytes(&bytes, Some(&head), Some(stranger.verifying_key())).unwrap_err();
    assert_eq!(b.entry, 1, "{b}");
}

#[test]
fn every_edit_deletion_move_and_insertion_is_named_exactly() {
    const N: usize = 1000;
    let (dir, trail) = trail_with(N);
    let bytes = std::fs::read(trail.log_path()).expect("log");
    let head = std::fs::read(dir.path().join(HEAD)).expect("head");
    let key = Some(trail.installation().verifying_key());
    let original = lines(&bytes);
    assert_eq!(original.len(), N);
    assert!(verify_bytes(&bytes, Some(&head), key).is_ok());
    let failures: Vec<String> = (0..N)
        .into_par_iter()
        .flat_map_iter(|k| {
            let mut cases: Vec<(&str, Vec<Vec<u8>>, u64)> = Vec::new();
            // Edited: one character of the action's detail changed.
            let mut edited = original.clone();
            let text = String::from_utf8(edited[k].clone()).expect("utf8");
            edited[k] = text
                .replacen(&format!("step {k}\""), &format!("step {k}!\""), 1)
                .into_bytes();
            assert_ne!(edited[k], original[k]);
            cases.push(("edited", edited, k as u64 + 1));
            // Deleted.
            let mut deleted = original.clone();
            deleted.remove(k);
            cases.push(("deleted", deleted, k as u64 + 1));
            // Moved: swapped with the next line (the last with the one before it).
            let mut moved = original.clone();
            let (a, b) = if k + 1 < N { (k, k + 1) } else { (k - 1, k) };
            moved.swap(a, b);
            cases.push(("moved", moved, a as u64 + 1));
            // Inserted: a copy of another entry put before this line.
            let mut inserted = original.clone();
            let copy = original[(k + N / 2) % N].clone();
            inserted.insert(k, copy);
            cases.push(("inserted", inserted, k as u64 + 1));
            let head = &head;
            cases.into_iter().filter_map(move |(what, ls, want)| {
                match verify_bytes(&join(&ls), Some(head), key) {
                    Err(b) if b.entry == want => None,
                    Err(b) => Some(format!("line {} {what}: named {b}, want {want}", k + 1)),
                    Ok(_) => Some(format!("line {} {what}: verified", k + 1)),
                }
            })
        })
        .collect();
    assert!(
        failures.is_empty(),
        "{} wrong: {:?}",
        failures.len(),
        &failures[..failures.len().min(10)]
    );
}

#[test]
fn a_forger_without_the_key_is_named_where_the_forgery_starts() {
    // Entry 300 rewritten and every later hash recomputed, so the chain holds: only the
    // signatures can tell, and the bisection must land on 300.
    let (dir, trail) = trail_with(400);
    let bytes = std::fs::read(trail.log_path()).expect("log");
    let head = std::fs::read(dir.path().join(HEAD)).expect("head");
    let mut ls = lines(&bytes);
    let mut prev = sha(&ls[298]);
    for (i, line) in ls.iter_mut().enumerate().skip(299) {
        let mut e: serde_json::Value = serde_json::from_slice(line).expect("json");
        if i == 299 {
            e["detail"] = "nothing happened".into();
        }
        e["prev"] = prev.clone().into();
        *line = serde_json::to_vec(&e).expect("json");
        prev = sha(line);
    }
    let b = verify_bytes(
        &join(&ls),
        Some(&head),
        Some(trail.installation().verifying_key()),
    )
    .unwrap_err();
    assert_eq!(b.entry, 300, "{b}");
}

#[test]
fn a_crash_mid_append_loses_only_that_entry() {
    let (dir, trail) = trail_with(20);
    let log = trail.log_path();
    let whole = std::fs::read(&log).expect("log");
    // The writer stopped in the middle of entry 21's line: the head still names entry 20.
    let mut torn = whole.clone();
    torn.extend_from_slice(br#"{"seq":21,"time":"2026-12-06T"#);
    std::fs::write(&log, &torn).expect("torn");
    let v = trail.verify().expect("verifies up to the last whole entry");
    assert_eq!(
        (v.entries, v.incomplete_tail, v.end.clone()),
        (20, true, End::Confirmed)
    );
    // The next append cuts the partial line off and goes on.
    assert_eq!(
        trail.append(Action::SavePlan, &[], "").expect("appended"),
        21
    );
    let v = trail.verify().expect("verifies");
    assert_eq!((v.entries, v.incomplete_tail), (21, false));
    // A crash after the entry and before its head: the head is one behind, still sound.
    std::fs::write(
        dir.path().join("head.keep"),
        std::fs::read(dir.path().join(HEAD)).unwrap(),
    )
    .unwrap();
    trail.append(Action::Screenshot, &[], "").expect("appended");
    std::fs::copy(dir.path().join("head.keep"), dir.path().join(HEAD)).unwrap();
    let v = trail.verify().expect("verifies");
    assert_eq!((v.entries, v.end), (22, End::HeadOneBehind));
}

#[test]
fn threads_appending_at_once_keep_one_chain() {
    let dir = tempfile::tempdir().expect("tempdir");
    Trail::open(dir.path()).expect("trail");
    (0..4).into_par_iter().for_each(|t| {
        let trail = Trail::open(dir.path()).expect("trail");
        for i in 0..50 {
            trail
                .append(Action::OpenStudy, &[], &format!("thread {t} entry {i}"))
                .expect("appended");
        }
    });
    let v = Trail::open(dir.path())
        .expect("trail")
        .verify()
        .expect("verifies");
    assert_eq!(v.entries, 200);
}

#[test]
fn a_damaged_end_is_refused_untouched_not_cut() {
    let (_dir, trail) = trail_with(3);
    let log = trail.log_path();
    let mut bytes = std::fs::read(&log).expect("log");
    // 40 KB of junk without a newline: no append may cut into entries to "repair" it.
    bytes.extend(std::iter::repeat_n(b'x', 40 << 10));
    std::fs::write(&log, &bytes).expect("written");
    assert!(matches!(
        trail.append(Action::SavePlan, &[], ""),
        Err(AuditError::Damaged(_))
    ));
    let after = std::fs::read(&log).expect("log");
    assert!(
        after == bytes,
        "changed: {} bytes, was {}",
        after.len(),
        bytes.len()
    );
    // verify reports it (the entry after the last whole one), never panics.
    assert!(
        trail
            .verify()
            .is_ok_and(|v| v.incomplete_tail && v.entries == 3)
    );
}
