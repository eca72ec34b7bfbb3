//! Encrypted case packages from the command line (`twinplan pack`, `unpack`, `keygen`) on
//! the bundled phantom: the round trip is exact — the images are byte for byte what
//! `twinplan anonymize` writes for the series (same installation secret), load to the same
//! voxels and geometry as the originals, and the packed plan opens on them; the surfaces
//! are the structures rebuilt from their recipes, byte for byte — and a wrong passphrase, a
//! cut package and a flipped byte exit 1 writing nothing. Packing, unpacking and their
//! statements are in the audit trail, which still verifies.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use twinplan::progress::Progress;

const S: &str = "sample_data/phantom_cta/dicom";
const PLAN: &str = "sample_data/phantom_cta/demo.twinplan.json";
const PASS: &str = "a long enough passphrase";

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

fn run(args: &[&str], data: &Path, passphrase: Option<&str>) -> Output {
    let mut c = Command::new(env!("CARGO_BIN_EXE_twinplan"));
    c.current_dir(root())
        .env("TWINPLAN_DATA_DIR", data)
        .env_remove("TWINPLAN_PASSPHRASE")
        .args(args);
    if let Some(p) = passphrase {
        c.env("TWINPLAN_PASSPHRASE", p);
    }
    c.output().expect("twinplan runs")
}

fn ok(args: &[&str], data: &Path, passphrase: Option<&str>) -> Output {
    let out = run(args, data, passphrase);
    assert!(
        out.status.success(),
        "{args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    out
}

fn files_in(dir: &Path) -> Vec<(String, Vec<u8>)> {
    let mut v: Vec<(String, Vec<u8>)> = std::fs::read_dir(dir)
        .expect("folder")
        .flatten()
        .map(|e| {
            (
                e.file_name().to_string_lossy().to_string(),
                std::fs::read(e.path()).expect("file"),
            )
        })
        .collect();
    v.sort();
    v
}

fn pack_args<'a>(out: &'a str, extra: &[&'a str]) -> Vec<&'a str> {
    let mut a = vec![
        "pack",
        S,
        "--plan",
        PLAN,
        "--out",
        out,
        "--purpose",
        "teaching",
        "--consent",
        "no",
        "--recorded-by",
        "Dr B. Teacher",
        "--note",
        "anatomy course 2027",
    ];
    a.extend_from_slice(extra);
    a
}

#[test]
fn a_case_with_its_images_round_trips_exactly() {
    let dir = tempfile::tempdir().expect("tmp");
    let d = dir.path();
    let data = d.join("data");
    let pkg = d.join("case.twinplan");
    let pkg_s = pkg.to_string_lossy().to_string();
    let out = ok(&pack_args(&pkg_s, &["--with-images"]), &data, Some(PASS));
    let said = String::from_utf8_lossy(&out.stdout);
    assert!(
        said.contains("3 surface(s), 200 de-identified image(s)"),
        "{said}"
    );

    let unpacked = d.join("unpacked");
    let out = ok(
        &["unpack", &pkg_s, "--out", &unpacked.to_string_lossy()],
        &data,
        Some(PASS),
    );
    let said = String::from_utf8_lossy(&out.stdout);
    for line in [
        "Purpose of use: teaching",
        "Patient consent obtained: NO",
        "Recorded by: Dr B. Teacher",
        "Note: anatomy course 2027",
    ] {
        assert!(said.contains(line), "{line} in {said}");
    }

    // Images: exactly what `anonymize` writes for the series with this installation.
    let anonymized = d.join("anonymized");
    ok(
        &["anonymize", S, "--out", &anonymized.to_string_lossy()],
        &data,
        None,
    );
    let packed = files_in(&unpacked.join("images"));
    assert_eq!(packed.len(), 200);
    assert!(
        packed == files_in(&anonymized),
        "images differ from anonymize's"
    );
    // … with the voxels and geometry of the originals.
    let (a, _) = twinplan::dicom::load_path(&root().join(S), None, &Progress::new()).expect("a");
    let (b, _) = twinplan::dicom::load_path(&unpacked.join("images"), None, &Progress::new())
        .expect("unpacked images load");
    assert_eq!(a.voxels, b.voxels);
    assert_eq!(a.geometry.dims, b.geometry.dims);
    for k in 0..3 {
        assert!((a.geometry.origin_mm[k] - b.geometry.origin_mm[k]).abs() <= 1e-6);
        assert!((a.geometry.spacing_mm[k] - b.geometry.spacing_mm[k]).abs() <= 1e-6);
        for j in 0..3 {
            assert!((a.geometry.directions[k][j] - b.geometry.directions[k][j]).abs() <= 1e-9);
        }
    }
    assert_ne!(a.series_uid, b.series_uid, "the series UID is replaced");

    // The plan: the same plan, opening on the unpacked images (UIDs remapped alike).
    let reference = twinplan::plan::file::Reference::of(&b);
    let opened = twinplan::plan::file::read_for(&unpacked.join("plan.twinplan.json"), &reference)
        .expect("the packed plan opens on the packed images");
    let original = twinplan::plan::file::read(&root().join(PLAN)).expect("plan");
    assert_eq!(opened.plan, original.plan);
    let text = std::fs::read_to_string(unpacked.join("plan.twinplan.json")).expect("plan");
    for uid in [&a.series_uid, &a.study_uid, &a.frame_of_reference_uid]
        .into_iter()
        .flatten()
    {
        assert!(
            !text.contains(uid.as_str()),
            "original UID {uid} in the packed plan"
        );
    }

    // Surfaces: the default structures rebuilt from their recipes, byte for byte.
    let recipes = twinplan::package::case::recipes(&a, &original, &root().join(S));
    let surfaces = files_in(&unpacked.join("surfaces"));
    assert_eq!(surfaces.len(), recipes.len());
    for (id, recipe) in &recipes {
        let built =
            twinplan::session::structures::build(&a, recipe, &Progress::new()).expect("builds");
        let bytes = twinplan::mesh::io::encode_stl(&built.mesh);
        let (name, got) = surfaces
            .iter()
            .find(|(n, _)| n.starts_with(&format!("{id}-")))
            .expect("its surface is packed");
        assert!(got == &bytes, "{name} differs from its recipe's surface");
        let mesh = twinplan::mesh::io::read_mesh(&unpacked.join("surfaces").join(name))
            .expect("STL reads");
        assert_eq!(mesh.indices.len(), built.mesh.indices.len());
    }

    // The trail holds the pack and the unpack with the statement, and verifies.
    let trail =
        String::from_utf8_lossy(&ok(&["audit", "show", "--json"], &data, None).stdout).to_string();
    let lines: Vec<serde_json::Value> = trail
        .lines()
        .map(|l| serde_json::from_str(l).expect("json"))
        .collect();
    for action in ["pack", "unpack"] {
        let e = lines
            .iter()
            .find(|e| e["action"] == action)
            .unwrap_or_else(|| panic!("{action} in the trail"));
        let detail = e["detail"].as_str().expect("detail");
        assert!(detail.contains("purpose teaching, consent no"), "{detail}");
        assert!(!e.to_string().contains("Teacher"), "names are salted: {e}");
    }
    ok(&["audit", "verify"], &data, None);
}

#[test]
fn a_wrong_passphrase_a_cut_or_a_flipped_byte_writes_nothing() {
    let dir = tempfile::tempdir().expect("tmp");
    let d = dir.path();
    let data = d.join("data");
    let pkg = d.join("case.twinplan");
    let pkg_s = pkg.to_string_lossy().to_string();
    ok(&pack_args(&pkg_s, &[]), &data, Some(PASS));
    let good = std::fs::read(&pkg).expect("package");
    let out = d.join("out");
    let out_s = out.to_string_lossy().to_string();
    let refused = |package: &str, pass: &str, expect: &str| {
        let r = run(&["unpack", package, "--out", &out_s], &data, Some(pass));
        assert_eq!(r.status.code(), Some(1), "{package}");
        let err = String::from_utf8_lossy(&r.stderr);
        assert!(err.contains(expect), "{expect} in {err}");
        assert!(!out.exists(), "nothing written");
    };
    refused(&pkg_s, "not the passphrase", "wrong passphrase");
    let bad = d.join("bad.twinplan");
    let bad_s = bad.to_string_lossy().to_string();
    for cut in [good.len() / 2, good.len() - 1] {
        std::fs::write(&bad, &good[..cut]).expect("cut");
        refused(&bad_s, PASS, "damaged or was changed");
    }
    for at in [good.len() / 3, good.len() - 20] {
        let mut b = good.clone();
        b[at] ^= 0x10;
        std::fs::write(&bad, &b).expect("flip");
        refused(&bad_s, PASS, "damaged or was changed");
    }
    // Nothing else appeared beside them (no temporary left behind).
    let mut names: Vec<String> = std::fs::read_dir(d)
        .expect("dir")
        .flatten()
        .map(|e| e.file_name().to_string_lossy().to_string())
        .collect();
    names.sort();
    assert_eq!(names, ["bad.twinplan", "case.twinplan", "data"]);
    // The intact package still opens.
    ok(&["unpack", &pkg_s, "--out", &out_s], &data, Some(PASS));
    assert!(out.join("plan.twinplan.json").is_file());
}

#[test]
fn a_case_sealed_for_a_key_opens_with_that_identity_only() {
    let dir = tempfile::tempdir().expect("tmp");
    let d = dir.path();
    let data = d.join("data");
    let id = d.join("me.key");
    let other = d.join("other.key");
    let id_s = id.to_string_lossy().to_string();
    let public = String::from_utf8_lossy(&ok(&["keygen", "--out", &id_s], &data, None).stdout)
        .trim()
        .to_string();
    assert!(public.starts_with("age1"), "{public}");
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(&id).expect("key").permissions().mode() & 0o777;
        assert_eq!(mode, 0o600);
    }
    ok(&["keygen", "--out", &other.to_string_lossy()], &data, None);
    // keygen never replaces an identity.
    assert!(
        !run(&["keygen", "--out", &id_s], &data, None)
            .status
            .success()
    );
    let pkg = d.join("case.twinplan");
    let pkg_s = pkg.to_string_lossy().to_string();
    ok(&pack_args(&pkg_s, &["--recipient", &public]), &data, None);
    let out = d.join("out");
    let out_s = out.to_string_lossy().to_string();
    let r = run(
        &[
            "unpack",
            &pkg_s,
            "--out",
            &out_s,
            "--identity",
            &other.to_string_lossy(),
        ],
        &data,
        None,
    );
    assert_eq!(r.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&r.stderr).contains("none of the given keys"));
    assert!(!out.exists());
    ok(
        &["unpack", &pkg_s, "--out", &out_s, "--identity", &id_s],
        &data,
        None,
    );
    assert!(out.join("consent.txt").is_file());
}
