//! `twinplan render` and `twinplan frames`: the workstation opened on a study to save a
//! screenshot, or its 3D scene timed offscreen; and the viewer itself (no subcommand).
//! Without the `viewer` feature each says so (a usage error).

use std::path::PathBuf;

use anyhow::Result;
#[cfg(feature = "viewer")]
use anyhow::{Context, bail};

use super::UsageError;
use super::args::parse_window_size;

#[derive(clap::Args, Debug)]
pub struct RenderArgs {
    /// DICOM folder/file or NIfTI file (default: the bundled sample).
    pub path: Option<PathBuf>,
    /// Output PNG.
    #[arg(long)]
    pub out: PathBuf,
    /// Structures to show, comma-separated (default: all).
    #[arg(long, value_delimiter = ',')]
    pub structures: Option<Vec<String>>,
    /// 3D view: anterior, posterior, left, right, superior, inferior.
    #[arg(long, default_value = "anterior")]
    pub view: String,
    /// Layout: four-up, axial, coronal, sagittal, 3d.
    #[arg(long, default_value = "four-up")]
    pub layout: String,
    /// Window size WIDTHxHEIGHT.
    #[arg(long, default_value = "1600x1000", value_parser = parse_window_size)]
    pub size: (u32, u32),
    /// Views only, without panels.
    #[arg(long)]
    pub bare: bool,
    /// Hide patient identity (anonymous mode).
    #[arg(long)]
    pub anonymous: bool,
    /// Show the three slices, textured, in the 3D view.
    #[arg(long)]
    pub slices: bool,
    /// Structures to build instead of the modality's defaults: a JSON list of recipes
    /// (as the plan file stores them).
    #[arg(long)]
    pub recipes: Option<PathBuf>,
    /// Positions in the read-outs: anatomical, ras or lps.
    #[arg(long, default_value = "anatomical")]
    pub coordinates: String,
    /// Open this plan with the study (its measurements drawn in the views).
    #[arg(long)]
    pub plan: Option<PathBuf>,
    /// With --plan: go to the markup of this name (slices through it, camera framed on
    /// it) and select it, or look from the plan's saved 3D view of this name.
    #[arg(long, requires = "plan")]
    pub focus: Option<String>,
    /// Show the study itself in 3D: a transfer-function preset (ct-angio, ct-bone,
    /// ct-soft-tissue, ct-lung, ct-cardiac, mr-default, mr-angio, or one saved by the user),
    /// `mip` or `minip` (through the window).
    #[arg(long)]
    pub volume: Option<String>,
    /// Stereo pair in the 3D view: anaglyph, side-by-side or top-bottom.
    #[arg(long, default_value = "off")]
    pub stereo: String,
    /// With --stereo: eye separation in scene mm (default: 1/30 of the viewing distance).
    #[arg(long, requires = "convergence")]
    pub eye_separation: Option<f64>,
    /// With --stereo: distance of the plane that appears on the screen, mm (default: the
    /// distance to what the camera looks at).
    #[arg(long, requires = "eye_separation")]
    pub convergence: Option<f64>,
    /// Crop the volume to x0,y0,z0,x1,y1,z1: fractions (0-1) along its voxel axes.
    #[arg(long, value_delimiter = ',')]
    pub crop: Option<Vec<f64>>,
    /// Display window CENTER,WIDTH for the slices and MIP (default: the modality's).
    #[arg(long, value_delimiter = ',')]
    pub window: Option<Vec<f64>>,
    /// Translucent surfaces: `exact` (per-pixel depth order, order-independent
    /// transparency) or `sorted` (whole structures sorted by distance, as before).
    #[arg(long, default_value = "exact")]
    pub transparency: String,
    /// How the volume's values go to the GPU: `float16` (real values, filtered by the
    /// sampler) or `int16` (the stored integers, interpolated in the shader; exact).
    #[arg(long, default_value = "float16")]
    pub volume_texture: String,
}

#[derive(clap::Args, Debug)]
pub struct FramesArgs {
    /// DICOM folder/file or NIfTI file (default: the bundled sample).
    pub path: Option<PathBuf>,
    /// Offscreen image size WIDTHxHEIGHT.
    #[arg(long, default_value = "1600x1000", value_parser = parse_window_size)]
    pub size: (u32, u32),
    /// Frames to time.
    #[arg(long, default_value_t = 100)]
    pub frames: usize,
    /// Triangles kept per structure.
    #[arg(long)]
    pub max_triangles: Option<usize>,
    /// Time the volume rendering instead of the surfaces: a preset, `mip` or `minip` (no
    /// surfaces are built).
    #[arg(long)]
    pub volume: Option<String>,
    /// Display window CENTER,WIDTH (MIP and MinIP map values through it).
    #[arg(long, value_delimiter = ',')]
    pub window: Option<Vec<f64>>,
    /// Frame the study's bounding sphere, as VTK's ResetCamera does (the same camera as
    /// ../shared/bench/anchor_dvr.py), instead of the workstation's framing.
    #[arg(long)]
    pub fit_sphere: bool,
    /// Translucent surfaces: `exact` (per-pixel depth order, order-independent
    /// transparency) or `sorted` (whole structures sorted by distance, as before).
    #[arg(long, default_value = "exact")]
    pub transparency: String,
    /// How the volume's values go to the GPU: `float16` (real values, filtered by the
    /// sampler) or `int16` (the stored integers, interpolated in the shader; exact).
    #[arg(long, default_value = "float16")]
    pub volume_texture: String,
}

/// `--transparency exact|sorted`: whether translucent surfaces are blended exactly.
#[cfg(feature = "viewer")]
fn parse_transparency(t: &str) -> Result<bool> {
    match t {
        "exact" => Ok(true),
        "sorted" => Ok(false),
        other => Err(UsageError(format!(
            "unknown transparency {other:?}; choose exact or sorted"
        ))
        .into()),
    }
}

/// `--window CENTER,WIDTH`.
#[cfg(feature = "viewer")]
fn parse_window(w: Option<Vec<f64>>) -> Result<Option<twinplan::volume::display::WindowLevel>> {
    match w.as_deref() {
        None => Ok(None),
        Some([c, w]) if c.is_finite() && w.is_finite() && *w >= 1.0 => {
            Ok(Some(twinplan::volume::display::WindowLevel::new(*c, *w)))
        }
        Some(_) => Err(UsageError("--window takes CENTER,WIDTH with WIDTH ≥ 1".into()).into()),
    }
}

#[cfg(feature = "viewer")]
pub fn viewer(options: twinplan::app::ViewerOptions) -> Result<()> {
    twinplan::app::run(options)
}

#[cfg(not(feature = "viewer"))]
pub fn viewer<T>(_options: T) -> Result<()> {
    Err(UsageError(
        "this build has no viewer (built without the `viewer` feature); use a subcommand".into(),
    )
    .into())
}

#[cfg(not(feature = "viewer"))]
pub fn render(_a: RenderArgs) -> Result<()> {
    viewer(())
}

#[cfg(not(feature = "viewer"))]
pub fn frames(_a: FramesArgs) -> Result<()> {
    viewer(())
}

#[cfg(feature = "viewer")]
pub fn render(a: RenderArgs) -> Result<()> {
    let RenderArgs {
        path,
        out,
        structures,
        view,
        layout,
        size,
        bare,
        anonymous,
        slices,
        recipes,
        coordinates,
        plan,
        focus,
        volume,
        stereo,
        eye_separation,
        convergence,
        crop,
        window,
        transparency,
        volume_texture,
    } = a;
    let exact_transparency = parse_transparency(&transparency)?;
    let volume_texture =
        twinplan::dvr::fit::Encoding::parse(&volume_texture).map_err(UsageError)?;
    let stereo_params = match (eye_separation, convergence) {
        (Some(s), Some(c)) if (0.0..=1000.0).contains(&s) && (10.0..=100_000.0).contains(&c) => {
            Some(twinplan::dvr::stereo::Stereo {
                separation_mm: s,
                convergence_mm: c,
            })
        }
        (None, None) => None,
        _ => bail!(UsageError(
            "--eye-separation takes 0-1000 mm and --convergence 10-100000 mm".into()
        )),
    };
    let window = parse_window(window)?;
    let volume = volume
        .map(|v| twinplan::app::volume::VolumeChoice::parse(&v).map_err(UsageError))
        .transpose()?;
    let stereo = twinplan::dvr::stereo::StereoMode::from_name(&stereo).ok_or_else(|| {
        UsageError(format!(
            "unknown stereo mode {stereo:?}; choose off, anaglyph, side-by-side or top-bottom"
        ))
    })?;
    let crop = match crop {
        None => None,
        Some(c) => {
            if c.len() != 6 || c.iter().any(|v| !(0.0..=1.0).contains(v)) {
                bail!(UsageError(
                    "--crop takes six fractions 0-1: x0,y0,z0,x1,y1,z1".into()
                ));
            }
            if (0..3).any(|a| c[a] >= c[a + 3]) {
                bail!(UsageError(
                    "--crop: each low fraction must be below its high one".into()
                ));
            }
            Some([[c[0], c[1], c[2]], [c[3], c[4], c[5]]])
        }
    };
    let view = twinplan::session::camera::StandardView::from_name(&view)
        .ok_or_else(|| UsageError(format!("unknown view {view:?}")))?;
    let layout = twinplan::app::parse_layout(&layout)
        .ok_or_else(|| UsageError(format!("unknown layout {layout:?}")))?;
    use twinplan::session::readout::Convention;
    let coordinates = match coordinates.to_ascii_lowercase().as_str() {
        "anatomical" => Convention::Anatomical,
        "ras" => Convention::Ras,
        "lps" => Convention::Lps,
        other => {
            bail!(UsageError(format!(
                "unknown coordinates {other:?}; choose anatomical, ras or lps"
            )))
        }
    };
    let recipes = match recipes {
        None => None,
        Some(path) => {
            twinplan::fsutil::regular_file(&path, "a recipe list", 16 << 20)?;
            let text = std::fs::read_to_string(&path)
                .with_context(|| format!("cannot read {}", path.display()))?;
            let list: Vec<twinplan::plan::recipe::Recipe> =
                serde_json::from_str(&text).map_err(|e| {
                    UsageError(format!("{} is not a list of recipes: {e}", path.display()))
                })?;
            Some(list)
        }
    };
    let written = out.display().to_string();
    viewer(twinplan::app::ViewerOptions {
        path,
        size,
        render: Some(twinplan::app::RenderRequest {
            out,
            structures,
            view,
            layout,
            bare,
            anonymous,
            slices,
            recipes,
            coordinates,
            focus,
            volume,
            stereo,
            stereo_params,
            crop,
            window,
            exact_transparency,
            volume_texture,
        }),
        frame_log: None,
        then_open: None,
        max_triangles: None,
        plan,
    })?;
    if let Some(why) = twinplan::audit::record(
        twinplan::audit::Action::Screenshot,
        &[("file", written.as_str())],
        "twinplan render",
    ) {
        tell!("warning: not recorded in the audit trail: {why}");
    }
    Ok(())
}

#[cfg(feature = "viewer")]
pub fn frames(a: FramesArgs) -> Result<()> {
    let FramesArgs {
        path,
        size,
        frames,
        max_triangles,
        volume,
        window,
        fit_sphere,
        transparency,
        volume_texture,
    } = a;
    let exact_transparency = parse_transparency(&transparency)?;
    let volume_texture =
        twinplan::dvr::fit::Encoding::parse(&volume_texture).map_err(UsageError)?;
    let window = parse_window(window)?;
    let volume = volume
        .map(|v| twinplan::app::volume::VolumeChoice::parse(&v).map_err(UsageError))
        .transpose()?;
    let path = match path {
        Some(p) => p,
        None => twinplan::session::open::sample_path()
            .ok_or_else(|| anyhow::anyhow!("the bundled sample was not found"))?,
    };
    let stats = twinplan::app::headless::bench_frames(&twinplan::app::headless::FrameBench {
        path,
        size,
        frames: frames.max(1),
        max_triangles,
        volume: volume.clone(),
        window,
        fit_sphere,
        exact_transparency,
        volume_texture,
    })?;
    let mut sorted = stats.frames_ms.clone();
    sorted.sort_by(f64::total_cmp);
    let pick = |q: f64| sorted[((sorted.len() - 1) as f64 * q).round() as usize];
    say!(
        "{}",
        serde_json::json!({
            "adapter": stats.adapter,
            "size": [size.0, size.1],
            "triangles": stats.triangles,
            "frames": sorted.len(),
            "median_ms": pick(0.5),
            "p95_ms": pick(0.95),
            "max_ms": pick(1.0),
            "volume": volume.as_ref().map(|_| serde_json::json!({
                "first_frame_ms": stats.first_frame_ms,
                "texture_mb": stats.texture_bytes.map(|b| b as f64 / 1048576.0),
                "texture_dims": stats.texture_dims,
                "step_mm": stats.step_mm,
                "texture": volume_texture.name(),
            })),
        })
    );
    Ok(())
}
