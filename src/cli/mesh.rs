//! `twinplan mesh`: one structure's surface (preset, iso value or range, optionally grown
//! from seeds) written as STL, OBJ or PLY in patient mm, or as the glTF twin (`.glb`, in
//! metres, +Y up; with `--plan`, the plan's landmarks, measurements and paths too), with its
//! figures or stage timings. Parsing and printing only; the work is the library's.

use std::path::PathBuf;
use std::time::Instant;

use anyhow::{Result, bail};

use super::args::{parse_finite, parse_point, parse_range, parse_sigma};
use super::{UsageError, open_volume, with_progress};

#[derive(clap::Args, Debug)]
pub struct Args {
    /// DICOM folder or file, or a NIfTI file.
    pub path: PathBuf,
    /// Series to use (UID, UID#n or series number) when the folder holds several.
    #[arg(long)]
    pub series: Option<String>,
    /// Named preset: bone, vessels, skin, lung, soft_tissue.
    #[arg(long, group = "selection")]
    pub preset: Option<String>,
    /// Iso-surface of the volume at this value (HU).
    #[arg(long, group = "selection", allow_hyphen_values = true, value_parser = parse_finite)]
    pub iso: Option<f64>,
    /// Value range LO:HI (HU).
    #[arg(long, group = "selection", allow_hyphen_values = true, value_parser = parse_range)]
    pub range: Option<(f64, f64)>,
    /// Seed X,Y,Z in patient LPS mm (repeatable): keep what is connected to it.
    #[arg(long, allow_hyphen_values = true, value_parser = parse_point)]
    pub seed: Vec<[f64; 3]>,
    /// Taubin smoothing iterations (0 to 1000).
    #[arg(long, default_value_t = 0, value_parser = clap::value_parser!(u32).range(0..=twinplan::surface::MAX_SMOOTH_ITERATIONS as i64))]
    pub smooth: u32,
    /// Decimate to about this many triangles.
    #[arg(long)]
    pub target_triangles: Option<usize>,
    /// Do not close surfaces at the volume border.
    #[arg(long)]
    pub no_pad: bool,
    /// Gaussian σ in mm applied to the binary mask before surfacing (default: none;
    /// seeded structures follow the image intensities instead). 0 to 10 mm.
    #[arg(long, value_parser = parse_sigma)]
    pub mask_sigma: Option<f64>,
    /// Output file: .stl, .obj or .ply (patient mm), or .glb (the glTF twin, metres, +Y up).
    #[arg(long)]
    pub out: PathBuf,
    /// With a .glb output: add this plan's visible landmarks, measurements and catheter
    /// paths as named nodes (the plan must belong to the series).
    #[arg(long)]
    pub plan: Option<PathBuf>,
    /// Print one JSON object with triangle/vertex counts and per-stage seconds on stdout.
    #[arg(long)]
    pub timings: bool,
}

pub fn run(a: Args) -> Result<()> {
    let Args {
        path,
        series,
        preset,
        iso,
        range,
        seed,
        smooth,
        target_triangles,
        no_pad,
        mask_sigma,
        out,
        plan,
        timings,
    } = a;
    use twinplan::surface::{Selection, SurfaceOptions};
    let glb = out
        .extension()
        .is_some_and(|e| e.eq_ignore_ascii_case("glb"));
    if !glb && twinplan::mesh::io::MeshFormat::from_path(&out).is_none() {
        bail!(UsageError(format!(
            "--out must end in .stl, .obj, .ply or .glb: {}",
            out.display()
        )));
    }
    if plan.is_some() && !glb {
        bail!(UsageError("--plan goes with a .glb output".into()));
    }
    let look = preset
        .as_deref()
        .and_then(twinplan::segment::Preset::from_name)
        .map(|p| {
            (
                p.name().replace('_', " "),
                twinplan::plan::recipe::preset_look(p),
            )
        });
    let selection = match (preset, iso, range) {
        (Some(name), None, None) => {
            Selection::Preset(twinplan::segment::Preset::from_name(&name).ok_or_else(|| {
                UsageError(format!(
                    "unknown preset '{name}'; choose one of: {}",
                    twinplan::segment::Preset::ALL.map(|p| p.name()).join(", ")
                ))
            })?)
        }
        (None, Some(v), None) => Selection::Iso(v),
        (None, None, Some((lo, hi))) => {
            Selection::Range(twinplan::segment::ValueRange::new(lo, hi))
        }
        _ => bail!(UsageError("give one of --preset, --iso or --range".into())),
    };
    let t = Instant::now();
    let volume = open_volume(&path, series.as_deref())?;
    let load_s = t.elapsed().as_secs_f64();
    let options = SurfaceOptions::new(selection)
        .with_seeds(seed.iter().map(|p| nalgebra::Point3::from(*p)).collect())
        .with_smoothing(smooth as usize)
        .with_target_triangles(target_triangles)
        .with_pad(!no_pad)
        .with_mask_sigma(mask_sigma);
    let (mesh, times) = with_progress("surface", |p| {
        twinplan::surface::surface(&volume, &options, p)
    })?;
    if mesh.indices.is_empty() {
        bail!("the selection holds no surface in this volume (0 triangles): nothing written");
    }
    let t = Instant::now();
    if glb {
        let plan = match &plan {
            Some(p) => Some(
                twinplan::plan::file::read_for(p, &twinplan::plan::file::Reference::of(&volume))?
                    .plan,
            ),
            None => None,
        };
        let (name, (colour, opacity)) =
            look.unwrap_or_else(|| ("surface".into(), ([0.35, 0.65, 0.85], 1.0)));
        let (lines, landmarks) = plan
            .as_ref()
            .map(twinplan::plan::twin::parts)
            .unwrap_or_default();
        let twin = twinplan::mesh::gltf::Twin {
            surfaces: vec![twinplan::mesh::gltf::Surface {
                name,
                mesh: &mesh,
                colour,
                opacity,
            }],
            lines,
            landmarks,
        };
        let bytes = twinplan::mesh::gltf::to_glb(&twin)?;
        twinplan::fsutil::write_atomic(&out, &bytes)
            .map_err(|e| anyhow::anyhow!("cannot write {}: {}", out.display(), e.kind()))?;
    } else {
        twinplan::mesh::io::write_mesh(&mesh, &out)?;
    }
    super::audit(
        if glb {
            twinplan::audit::Action::ExportScene
        } else {
            twinplan::audit::Action::ExportMesh
        },
        &volume,
        &path,
        &[("file", &out.display().to_string())],
    );
    let write_s = t.elapsed().as_secs_f64();
    let stats = mesh.stats();
    if timings {
        let json = serde_json::json!({
            "triangles": stats.triangles,
            "vertices": stats.vertices,
            "area_mm2": stats.area_mm2,
            "volume_ml": stats.volume_ml,
            "load_s": load_s,
            "segment_s": times.segment_s,
            "surface_s": times.surface_s,
            "smooth_s": times.smooth_s,
            "decimate_s": times.decimate_s,
            "write_s": write_s,
        });
        say!("{json}");
    } else {
        say!(
            "wrote {}: {} triangles, {} vertices, area {:.1} mm², volume {:.2} mL",
            out.display(),
            stats.triangles,
            stats.vertices,
            stats.area_mm2,
            stats.volume_ml
        );
    }
    Ok(())
}
