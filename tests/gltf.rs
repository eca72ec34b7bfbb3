//! The twin as glTF (`twinplan mesh … --out twin.glb --plan P`, `mesh::gltf`): the phantom's
//! vessels with a plan's measurements, a landmark and a planned catheter path, checked by the
//! Khronos glTF validator (npm `gltf-validator`, installed by `.ci/run` under
//! `target/tools/gltf-validator`, or where `GLTF_VALIDATOR_DIR` says) and read back: its
//! bounding box is the STL surface's after the stated LPS → glTF transform, in metres, and
//! every markup and the path are named nodes.

mod common;

use std::path::{Path, PathBuf};
use std::process::Command;

const S: &str = "sample_data/phantom_cta/dicom";

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

fn twinplan(args: &[&str], data: &Path) -> std::process::Output {
    let out = Command::new(env!("CARGO_BIN_EXE_twinplan"))
        .current_dir(root())
        .env("TWINPLAN_DATA_DIR", data)
        .args(args)
        .output()
        .expect("twinplan runs");
    assert!(
        out.status.success(),
        "{args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    out
}

fn validator() -> Option<PathBuf> {
    let dir = std::env::var_os("GLTF_VALIDATOR_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| root().join("target/tools/gltf-validator"));
    if dir.join("node_modules/gltf-validator").is_dir() && which("node") {
        Some(dir)
    } else {
        common::skip(&format!(
            "the Khronos glTF validator is not installed in {} (npm install gltf-validator; \
             .ci/run does)",
            dir.display()
        ));
        None
    }
}

fn which(cmd: &str) -> bool {
    Command::new(cmd)
        .arg("--version")
        .output()
        .is_ok_and(|o| o.status.success())
}

#[test]
fn the_phantom_twin_is_valid_gltf_where_its_mesh_is() {
    let dir = tempfile::tempdir().expect("tempdir");
    let d = dir.path();
    // The demo plan, a landmark added, and a right transfemoral path planned into it.
    let mut plan: serde_json::Value = serde_json::from_slice(
        &std::fs::read(root().join("sample_data/phantom_cta/demo.twinplan.json")).expect("plan"),
    )
    .expect("json");
    let markups = plan["plan"]["markups"].as_array_mut().expect("markups");
    markups.push(serde_json::json!({
        "id": 50, "name": "Renal ostium", "kind": "landmark",
        "points_lps_mm": [[30.0, 10.0, -200.0]], "colour": [0.2, 0.9, 0.3],
        "visible": true, "locked": false, "note": ""
    }));
    plan["plan"]["next_id"] = 50.into();
    let plan_path = d.join("case.twinplan.json");
    std::fs::write(&plan_path, serde_json::to_vec(&plan).expect("json")).expect("written");
    let plan_arg = plan_path.to_string_lossy().to_string();
    twinplan(
        &[
            "plan",
            S,
            "--from=-59,-38,-600",
            "--to=11.6,-1.39,-16.4",
            "--plan-out",
            &plan_arg,
            "--name",
            "Right transfemoral",
        ],
        d,
    );
    let glb = d.join("twin.glb");
    let stl = d.join("vessels.stl");
    let common_args = [
        "--preset",
        "vessels",
        "--seed",
        "2,-38,-130",
        "--target-triangles",
        "20000",
    ];
    let mut args = vec!["mesh", S];
    args.extend(common_args);
    let glb_arg = glb.to_string_lossy().to_string();
    let stl_arg = stl.to_string_lossy().to_string();
    let mut a = args.clone();
    a.extend(["--out", &glb_arg, "--plan", &plan_arg]);
    twinplan(&a, d);
    let mut a = args.clone();
    a.extend(["--out", &stl_arg]);
    twinplan(&a, d);

    // Read back with the gltf crate: names, and the surface's bounds.
    let bytes = std::fs::read(&glb).expect("glb");
    let file = gltf::binary::Glb::from_slice(&bytes).expect("a GLB");
    let root_json: gltf_json::Root = gltf_json::deserialize::from_slice(&file.json).expect("json");
    let names: Vec<&str> = root_json
        .nodes
        .iter()
        .filter_map(|n| n.name.as_deref())
        .collect();
    eprintln!("nodes: {names:?}");
    for want in [
        "vessels",
        "Aorta diameter",
        "Iliac bifurcation",
        "Bifurcation to left renal",
        "Renal ostium",
        "Right transfemoral",
    ] {
        assert!(names.contains(&want), "{want} is not a node: {names:?}");
    }
    let vessels = &root_json.meshes[root_json.nodes[0].mesh.expect("mesh").value()];
    let positions = vessels.primitives[0].attributes
        [&gltf_json::validation::Checked::Valid(gltf_json::mesh::Semantic::Positions)];
    let acc = &root_json.accessors[positions.value()];
    let read = |v: &Option<gltf_json::Value>| -> Vec<f64> {
        v.as_ref()
            .and_then(|v| v.as_array())
            .expect("bounds")
            .iter()
            .map(|x| x.as_f64().expect("number"))
            .collect()
    };
    let (lo, hi) = (read(&acc.min), read(&acc.max));
    let mesh = twinplan::mesh::io::read_mesh(&stl).expect("stl");
    let mut mlo = [f64::INFINITY; 3];
    let mut mhi = [f64::NEG_INFINITY; 3];
    for p in &mesh.positions_mm {
        let g = twinplan::mesh::gltf::gltf_from_lps(*p).map(f64::from);
        for a in 0..3 {
            mlo[a] = mlo[a].min(g[a]);
            mhi[a] = mhi[a].max(g[a]);
        }
    }
    eprintln!("glTF bounds {lo:?}..{hi:?} m; the STL's after the transform {mlo:?}..{mhi:?}");
    for a in 0..3 {
        // STL stores 32-bit floats in mm: a few micrometres at most.
        assert!((lo[a] - mlo[a]).abs() < 1e-5 && (hi[a] - mhi[a]).abs() < 1e-5);
    }
    // The same axes as the stated transform: superior is +Y, anterior +Z.
    let extent = |i: usize| hi[i] - lo[i];
    assert!(
        extent(1) > extent(0) && extent(1) > extent(2),
        "the aorta runs along +Y"
    );

    // The Khronos validator.
    let Some(validator) = validator() else { return };
    let out = Command::new("node")
        .arg(root().join("tests/data/gltf_validate.cjs"))
        .arg(&glb)
        .env("NODE_PATH", validator.join("node_modules"))
        .output()
        .expect("node runs");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let issues: serde_json::Value = serde_json::from_slice(&out.stdout).expect("validator JSON");
    eprintln!(
        "gltf-validator: {} errors, {} warnings, {} infos, {} hints; {}",
        issues["numErrors"],
        issues["numWarnings"],
        issues["numInfos"],
        issues["numHints"],
        issues["messages"]
    );
    assert_eq!(issues["numErrors"], 0, "{}", issues["messages"]);
}
