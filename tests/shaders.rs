//! Every WGSL file under `shaders/` goes through what Bevy 0.19 does to it before wgpu sees
//! it: naga_oil's preprocessor (shader defs, `#ifdef`) and composer, then naga's validator
//! (the versions Bevy uses: one copy of each in `Cargo.lock`). Each shader is checked with
//! every combination of the defs it branches on, so a variant that only some cameras use
//! (with or without the depth prepass, multisampled or not) cannot hide an error.

use std::collections::HashMap;

use naga_oil::compose::{Composer, NagaModuleDescriptor, ShaderDefValue, ShaderType};

/// The defs the shaders branch on: set by Bevy's material pipeline (`OIT_ENABLED` for a
/// blended pass on a camera with order-independent transparency), or by ours (`STORED_INT`,
/// the volume uploaded as its stored integers).
const SWITCHES: [&str; 4] = ["DEPTH_PREPASS", "MULTISAMPLED", "STORED_INT", "OIT_ENABLED"];

fn shaders() -> Vec<std::path::PathBuf> {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("shaders");
    let mut found: Vec<_> = std::fs::read_dir(&dir)
        .expect("the shaders/ folder")
        .flatten()
        .map(|e| e.path())
        .filter(|p| p.extension().is_some_and(|e| e == "wgsl"))
        .collect();
    found.sort();
    found
}

#[test]
fn every_shader_parses_and_validates_in_every_variant() {
    let files = shaders();
    assert!(!files.is_empty(), "no .wgsl under shaders/");
    for path in files {
        let source = std::fs::read_to_string(&path).unwrap();
        for variant in 0..(1u32 << SWITCHES.len()) {
            let mut defs = HashMap::new();
            // Bevy 0.19 binds materials at group 3 (`MATERIAL_BIND_GROUP_INDEX`).
            defs.insert("MATERIAL_BIND_GROUP".to_string(), ShaderDefValue::UInt(3));
            for (bit, name) in SWITCHES.iter().enumerate() {
                if variant & (1 << bit) != 0 {
                    defs.insert((*name).to_string(), ShaderDefValue::Bool(true));
                }
            }
            let mut composer = Composer::default();
            let module = composer
                .make_naga_module(NagaModuleDescriptor {
                    source: &source,
                    file_path: &path.to_string_lossy(),
                    shader_type: ShaderType::Wgsl,
                    shader_defs: defs.clone(),
                    additional_imports: &[],
                })
                .unwrap_or_else(|e| {
                    panic!(
                        "{} ({:?}): {}",
                        path.display(),
                        defs.keys().collect::<Vec<_>>(),
                        e.emit_to_string(&composer)
                    )
                });
            let info = naga::valid::Validator::new(
                naga::valid::ValidationFlags::all(),
                naga::valid::Capabilities::default(),
            )
            .validate(&module)
            .unwrap_or_else(|e| panic!("{} does not validate: {e:?}", path.display()));
            assert!(
                module.entry_points.iter().any(|e| e.name == "fragment"),
                "{} has no `fragment` entry point",
                path.display()
            );
            drop(info);
        }
    }
}

#[test]
fn a_broken_shader_is_caught() {
    // The check above must be able to fail: a type error the parser accepts and the
    // validator or composer refuses.
    let source = "@fragment fn fragment() -> @location(0) vec4<f32> { let x: f32 = 1u; return vec4<f32>(x); }";
    let mut composer = Composer::default();
    let result = composer.make_naga_module(NagaModuleDescriptor {
        source,
        file_path: "broken.wgsl",
        shader_type: ShaderType::Wgsl,
        shader_defs: HashMap::new(),
        additional_imports: &[],
    });
    assert!(result.is_err());
}
