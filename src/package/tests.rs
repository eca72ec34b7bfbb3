//! Packages sealed and read back: exact round trips with a passphrase and with recipients'
//! keys; a wrong passphrase or key, every truncation length class and single-bit flips
//! across the whole file refused with nothing unpacked; names that could escape the output
//! folder refused on both sides.

use super::*;

fn consent() -> Consent {
    Consent {
        purpose: Purpose::SecondOpinion,
        consent_obtained: true,
        recorded_by: "Dr A. Surgeon".into(),
        note: "Ethics approval 2026/17".into(),
    }
}

fn files() -> Vec<(String, Vec<u8>)> {
    vec![
        (PLAN.into(), br#"{"plan": 1}"#.to_vec()),
        (
            "surfaces/1-bone.stl".into(),
            (0..200_000u32).map(|i| (i * 7 % 251) as u8).collect(),
        ),
        ("images/2.25.1.dcm".into(), vec![0u8; 1000]),
        ("images/2.25.2.dcm".into(), Vec::new()),
    ]
}

/// A cheap scrypt work factor: these tests open packages hundreds of times.
fn lock(p: &str) -> Lock {
    Lock::Passphrase {
        passphrase: SecretString::from(p.to_string()),
        work_factor: Some(4),
    }
}

fn key(p: &str) -> Key {
    Key::Passphrase(SecretString::from(p.to_string()))
}

type Files = Vec<(String, Vec<u8>)>;

fn read_all(path: &Path, key: &Key) -> Result<(Manifest, Files), PackageError> {
    let mut got = Vec::new();
    let m = read(path, key, |e, b| {
        got.push((e.name.clone(), b));
        Ok(())
    })?;
    Ok((m, got))
}

fn listing(dir: &Path) -> Vec<String> {
    let mut v: Vec<String> = walk(dir)
        .into_iter()
        .map(|p| p.strip_prefix(dir).unwrap_or(&p).display().to_string())
        .collect();
    v.sort();
    v
}

fn walk(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    if let Ok(rd) = std::fs::read_dir(dir) {
        for e in rd.flatten() {
            let p = e.path();
            if p.is_dir() {
                out.push(p.clone());
                out.extend(walk(&p));
            } else {
                out.push(p);
            }
        }
    }
    out
}

#[test]
fn a_package_round_trips_exactly_and_unpacks_with_its_statement() {
    let dir = tempfile::tempdir().expect("tmp");
    let pkg = dir.path().join("case.twinplan");
    let sealed = seal(&pkg, &consent(), &files(), &lock("correct horse")).expect("seal");
    assert_eq!(sealed.files.len(), 4);
    let (m, got) = read_all(&pkg, &key("correct horse")).expect("read");
    assert_eq!(m, sealed);
    assert_eq!(got, files());
    assert_eq!(m.consent, consent());
    assert_eq!((m.images(), m.surfaces(), m.has_plan()), (2, 1, true));
    // The file holds none of its contents in clear.
    let raw = std::fs::read(&pkg).expect("raw");
    assert!(raw.starts_with(b"age-encryption.org/v1\n"));
    for needle in [&b"Dr A. Surgeon"[..], b"manifest", b"plan"] {
        assert!(!raw.windows(needle.len()).any(|w| w == needle));
    }
    let out = dir.path().join("out");
    let m2 = unpack(&pkg, &key("correct horse"), &out).expect("unpack");
    assert_eq!(m2, sealed);
    for (name, bytes) in files() {
        assert_eq!(
            std::fs::read(out.join(&name)).expect("unpacked"),
            bytes,
            "{name}"
        );
    }
    let statement = std::fs::read_to_string(out.join("consent.txt")).expect("consent");
    assert!(statement.contains("Purpose of use: second opinion"));
    assert!(statement.contains("Patient consent obtained: yes"));
    assert!(statement.contains("Recorded by: Dr A. Surgeon"));
    assert!(statement.contains("Ethics approval 2026/17"));
    // No temporary is left beside it.
    assert_eq!(
        listing(dir.path())
            .iter()
            .filter(|n| n.contains(".twinplan-"))
            .count(),
        0
    );
    // Unpacking again over a non-empty folder is refused and changes nothing.
    assert!(matches!(
        unpack(&pkg, &key("correct horse"), &out),
        Err(PackageError::Invalid(_))
    ));
}

#[test]
fn recipients_open_it_and_nobody_else_does() {
    let dir = tempfile::tempdir().expect("tmp");
    let pkg = dir.path().join("case.twinplan");
    let alice = age::x25519::Identity::generate();
    let bob = age::x25519::Identity::generate();
    let eve = age::x25519::Identity::generate();
    seal(
        &pkg,
        &consent(),
        &files(),
        &Lock::Recipients(vec![alice.to_public(), bob.to_public()]),
    )
    .expect("seal");
    for who in [alice, bob] {
        let (_, got) = read_all(&pkg, &Key::Identities(vec![who])).expect("recipient opens");
        assert_eq!(got, files());
    }
    let out = dir.path().join("eve");
    assert!(matches!(
        unpack(&pkg, &Key::Identities(vec![eve]), &out),
        Err(PackageError::NotForTheseKeys)
    ));
    assert!(matches!(
        unpack(&pkg, &key("anything"), &out),
        Err(PackageError::NeedsIdentity)
    ));
    assert!(!out.exists());
}

#[test]
fn a_wrong_passphrase_is_named_and_writes_nothing() {
    let dir = tempfile::tempdir().expect("tmp");
    let pkg = dir.path().join("case.twinplan");
    seal(&pkg, &consent(), &files(), &lock("right")).expect("seal");
    let out = dir.path().join("out");
    let e = unpack(&pkg, &key("wrong"), &out).expect_err("wrong passphrase");
    assert!(matches!(e, PackageError::WrongPassphrase), "{e}");
    assert!(e.to_string().contains("wrong passphrase"));
    assert!(!out.exists());
    let id = age::x25519::Identity::generate();
    assert!(matches!(
        unpack(&pkg, &Key::Identities(vec![id]), &out),
        Err(PackageError::NeedsPassphrase)
    ));
    assert_eq!(listing(dir.path()), vec!["case.twinplan".to_string()]);
}

#[test]
fn every_cut_and_every_flipped_bit_sampled_across_the_file_is_refused() {
    let dir = tempfile::tempdir().expect("tmp");
    let pkg = dir.path().join("case.twinplan");
    seal(&pkg, &consent(), &files(), &lock("pw")).expect("seal");
    let good = std::fs::read(&pkg).expect("bytes");
    let bad = dir.path().join("bad.twinplan");
    let out = dir.path().join("out");
    let mut tried = 0;
    // Cuts: inside the header, at and around every 64 KiB chunk boundary, one byte short.
    let mut cuts: Vec<usize> = vec![0, 1, 10, 50, 100, 150, good.len() - 1, good.len() - 16];
    let header = good
        .windows(4)
        .position(|w| w == b"\n---")
        .expect("header end");
    let payload = header + 4 + 44 + 1 + 16;
    for c in 0..4 {
        for d in [-17i64, -1, 0, 1, 17] {
            cuts.push(
                (payload as i64 + c * (64 * 1024 + 16) + d).clamp(0, good.len() as i64 - 1)
                    as usize,
            );
        }
    }
    for cut in cuts {
        std::fs::write(&bad, &good[..cut]).expect("write");
        let e = unpack(&bad, &key("pw"), &out).expect_err("truncated");
        assert!(
            matches!(e, PackageError::Damaged(_) | PackageError::NotAPackage),
            "cut at {cut}: {e}"
        );
        assert!(!out.exists(), "cut at {cut} wrote something");
        tried += 1;
    }
    // Flips: every byte of the header, then every 97th byte of the payload.
    let positions: Vec<usize> = (0..payload)
        .chain((payload..good.len()).step_by(97))
        .collect();
    for &at in &positions {
        let mut b = good.clone();
        b[at] ^= 1 << (at % 8);
        std::fs::write(&bad, &b).expect("write");
        let e = unpack(&bad, &key("pw"), &out).expect_err("flipped");
        assert!(
            matches!(
                e,
                PackageError::Damaged(_)
                    | PackageError::NotAPackage
                    | PackageError::WrongPassphrase
                    | PackageError::NeedsIdentity
            ),
            "flip at {at}: {e}"
        );
        assert!(!out.exists(), "flip at {at} wrote something");
        tried += 1;
    }
    assert!(tried > 300, "{tried}");
    assert_eq!(
        listing(dir.path()),
        vec!["bad.twinplan".to_string(), "case.twinplan".to_string()]
    );
}

#[test]
fn names_that_could_leave_the_folder_are_refused_on_both_sides() {
    for bad in [
        "../x",
        "/etc/passwd",
        "images/../../x",
        "images/.hidden",
        "images/a/b",
        "other/x",
        "images/",
        "plan.json",
        "images/a\\b",
    ] {
        assert!(!valid_name(bad), "{bad}");
    }
    for good in [PLAN, "images/2.25.1.dcm", "surfaces/1-bone.stl"] {
        assert!(valid_name(good), "{good}");
    }
    let dir = tempfile::tempdir().expect("tmp");
    let pkg = dir.path().join("case.twinplan");
    let e = seal(&pkg, &consent(), &[("../x".into(), vec![1])], &lock("pw")).expect_err("seal");
    assert!(matches!(e, PackageError::Invalid(_)));
    assert!(!pkg.exists());
    // A hostile package (made without `seal`) naming ../escape is refused before writing.
    let manifest = Manifest {
        format: FORMAT.into(),
        version: VERSION,
        tool: "hostile".into(),
        created: "now".into(),
        consent: consent(),
        files: vec![FileEntry {
            name: "../escape".into(),
            bytes: 1,
            sha256: sha256_hex(b"x"),
        }],
    };
    let mut tar = tar::Builder::new(Vec::new());
    for (name, bytes) in [
        (MANIFEST, serde_json::to_vec(&manifest).expect("json")),
        ("../escape", b"x".to_vec()),
    ] {
        let mut h = tar::Header::new_gnu();
        h.set_size(bytes.len() as u64);
        h.set_entry_type(tar::EntryType::Regular);
        // set_path refuses "..": write the name bytes directly, as an attacker would.
        h.as_gnu_mut().expect("gnu").name[..name.len()].copy_from_slice(name.as_bytes());
        h.set_cksum();
        tar.append(&h, bytes.as_slice()).expect("append");
    }
    let plain = tar.into_inner().expect("tar");
    let mut r = age::scrypt::Recipient::new(SecretString::from("pw".to_string()));
    r.set_work_factor(4);
    let enc =
        age::Encryptor::with_recipients(std::iter::once(&r as &dyn age::Recipient)).expect("enc");
    let mut sealed = Vec::new();
    let mut w = enc.wrap_output(&mut sealed).expect("wrap");
    w.write_all(&plain).expect("write");
    w.finish().expect("finish");
    std::fs::write(&pkg, &sealed).expect("write");
    let out = dir.path().join("sub").join("out");
    let e = unpack(&pkg, &key("pw"), &out).expect_err("hostile");
    assert!(matches!(e, PackageError::Invalid(_)), "{e}");
    assert!(!dir.path().join("sub").join("escape").exists());
    assert!(!dir.path().join("escape").exists());
    assert!(!out.exists());
}

#[test]
fn a_statement_must_name_who_recorded_it() {
    let mut c = consent();
    c.recorded_by = "  ".into();
    assert!(c.check().is_err());
    c.recorded_by = "x\u{1b}[2J".into();
    assert!(c.check().is_err());
    assert_eq!(
        Purpose::parse("second-opinion"),
        Some(Purpose::SecondOpinion)
    );
    assert_eq!(Purpose::parse("Teaching"), Some(Purpose::Teaching));
    assert_eq!(Purpose::parse("fun"), None);
    let mut no = consent();
    no.consent_obtained = false;
    assert!(no.statement().contains("Patient consent obtained: NO"));
}

#[test]
fn a_new_identity_opens_what_is_sealed_for_its_public_key() {
    use age::secrecy::ExposeSecret;
    let dir = tempfile::tempdir().expect("tmp");
    let (text, public) = new_identity();
    let idf = dir.path().join("me.key");
    std::fs::write(&idf, text.expose_secret()).expect("write");
    let ids = read_identities(&idf).expect("identity file");
    let pkg = dir.path().join("c.twinplan");
    let r = parse_recipient(&public).expect("public key");
    seal(&pkg, &consent(), &files(), &Lock::Recipients(vec![r])).expect("seal");
    let (_, got) = read_all(&pkg, &Key::Identities(ids)).expect("open");
    assert_eq!(got, files());
    assert!(parse_recipient("age1nope").is_err());
    std::fs::write(&idf, "not a key\n").expect("write");
    assert!(read_identities(&idf).is_err());
}

#[test]
fn folders_of_ended_viewers_are_removed_and_live_ones_kept() {
    let tmp = std::env::temp_dir();
    // A process id above Linux's largest (2^22) never runs.
    let dead = tmp.join(format!(
        "{PRIVATE_PREFIX}4194999-test{}",
        std::process::id()
    ));
    let live = tmp.join(format!("{PRIVATE_PREFIX}{}-test", std::process::id()));
    for d in [&dead, &live] {
        std::fs::create_dir_all(d.join("images")).expect("dir");
        std::fs::write(d.join("images/x.dcm"), b"x").expect("file");
    }
    remove_stale_private();
    let (dead_left, live_left) = (dead.exists(), live.exists());
    let _ = std::fs::remove_dir_all(&live);
    let _ = std::fs::remove_dir_all(&dead);
    assert!(!dead_left, "an ended viewer's case is removed");
    assert!(live_left, "this process's case is kept");
}
