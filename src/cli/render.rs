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
    } = a;
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
        }),
        frame_log: None,
        then_open: None,
        max_triangles: None,
        plan,
    })
}

#[cfg(feature = "viewer")]
pub fn frames(a: FramesArgs) -> Result<()> {
    let FramesArgs {
        path,
        size,
        frames,
        max_triangles,
    } = a;
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
        })
    );
    Ok(())
}
