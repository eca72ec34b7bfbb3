//! `twinplan measure`: a distance or an angle between points in patient LPS mm, with the
//! volume's value at each point; `--add-to` appends it to a plan file for the series (under
//! the plan's lock, atomically).

use std::path::{Path, PathBuf};

use anyhow::{Context, Result, bail};

use super::args::parse_point;
use super::{UsageError, open_volume};

#[derive(clap::Args, Debug)]
pub struct Args {
    /// DICOM folder/file or NIfTI file the points belong to.
    pub path: PathBuf,
    /// SeriesInstanceUID, UID#n or series number when the folder holds several.
    #[arg(long)]
    pub series: Option<String>,
    /// Two points X,Y,Z X,Y,Z: their distance in mm.
    #[arg(long, num_args = 2, value_names = ["A", "B"], value_parser = parse_point, conflicts_with = "angle", allow_hyphen_values = true)]
    pub distance: Option<Vec<[f64; 3]>>,
    /// Three points A VERTEX C: the angle at VERTEX in degrees.
    #[arg(long, num_args = 3, value_names = ["A", "VERTEX", "C"], value_parser = parse_point, allow_hyphen_values = true)]
    pub angle: Option<Vec<[f64; 3]>>,
    /// Print JSON instead of text.
    #[arg(long)]
    pub json: bool,
    /// Add the measurement to this plan file (created for the series when it does not
    /// exist; a plan of another series is refused and left untouched).
    #[arg(long, value_name = "PLAN")]
    pub add_to: Option<PathBuf>,
    /// With --add-to: the markup's name (default: D-n or A-n).
    #[arg(long, requires = "add_to")]
    pub name: Option<String>,
}

pub fn run(a: Args) -> Result<()> {
    let Args {
        path,
        series,
        distance,
        angle,
        json,
        add_to,
        name,
    } = a;
    let added = measure(&path, series.as_deref(), distance, angle, json)?;
    if let Some(plan) = add_to {
        add_to_plan(&plan, added, name)?;
    }
    Ok(())
}

/// `twinplan measure`: the value, and for each point whether it lies in the volume and the
/// nearest voxel's value there.
pub fn measure(
    path: &Path,
    series: Option<&str>,
    distance: Option<Vec<[f64; 3]>>,
    angle: Option<Vec<[f64; 3]>>,
    json: bool,
) -> Result<MeasuredMarkup> {
    use twinplan::geometry;
    let (kind, points, value, unit) = match (distance, angle) {
        (Some(p), None) => {
            let d = geometry::distance_mm(&p[0], &p[1]);
            ("distance", p, d, "mm")
        }
        (None, Some(p)) => {
            let a = geometry::angle_deg(&p[0], &p[1], &p[2]).ok_or_else(|| {
                UsageError("an angle needs its vertex apart from both other points".into())
            })?;
            ("angle", p, a, "deg")
        }
        _ => bail!(UsageError(
            "give --distance A B or --angle A VERTEX C".into()
        )),
    };
    let volume = open_volume(path, series)?;
    let to_voxel = volume
        .geometry
        .voxel_from_patient()
        .context("the volume's geometry cannot be inverted")?;
    let at: Vec<serde_json::Value> = points
        .iter()
        .map(|p| {
            let v = to_voxel * nalgebra::Vector4::new(p[0], p[1], p[2], 1.0);
            let ijk: Vec<i64> = (0..3).map(|a| v[a].round() as i64).collect();
            let inside = ijk
                .iter()
                .zip(volume.geometry.dims)
                .all(|(&i, n)| i >= 0 && (i as usize) < n);
            let value = inside
                .then(|| volume.value_at(ijk[0] as usize, ijk[1] as usize, ijk[2] as usize))
                .flatten();
            serde_json::json!({"point_lps_mm": p, "inside": inside, "voxel": ijk, "value": value})
        })
        .collect();
    if json {
        let out = serde_json::json!({"kind": kind, "value": value, "unit": unit, "points": at});
        say!("{}", serde_json::to_string_pretty(&out)?);
    } else {
        say!("{kind} {value:.3} {unit}");
        for (n, a) in at.iter().enumerate() {
            let inside = a["inside"].as_bool().unwrap_or(false);
            let value = a["value"]
                .as_f64()
                .map_or_else(|| "-".to_string(), |v| format!("{v}"));
            say!(
                "  point {}: {} {}",
                n + 1,
                a["point_lps_mm"],
                if inside {
                    format!("voxel {} value {value}", a["voxel"])
                } else {
                    "outside the volume".to_string()
                }
            );
        }
    }
    Ok(MeasuredMarkup {
        kind: if kind == "distance" {
            twinplan::plan::MarkupKind::Distance
        } else {
            twinplan::plan::MarkupKind::Angle
        },
        points,
        reference: twinplan::plan::file::Reference::of(&volume),
    })
}

/// What `measure` measured, for `--add-to`.
pub struct MeasuredMarkup {
    kind: twinplan::plan::MarkupKind,
    points: Vec<[f64; 3]>,
    reference: twinplan::plan::file::Reference,
}

/// Appends a measured markup to a plan file (atomically), creating it for the series.
pub fn add_to_plan(path: &Path, m: MeasuredMarkup, name: Option<String>) -> Result<()> {
    use twinplan::document::Command;
    use twinplan::plan::{file, placing};
    // Held from the read to the write: concurrent `--add-to` runs each add their markup.
    let _lock = file::lock(path, || {
        tell!("the plan is locked by another twinplan process; waiting…")
    })?;
    let mut f = if path.exists() {
        file::read_for(path, &m.reference)?
    } else {
        file::PlanFile::new(m.reference.clone(), twinplan::plan::Plan::default())
    };
    let placement = placing::Placement {
        kind: m.kind,
        points: m.points,
    };
    let mut markup = placement
        .finish(&mut f.plan)
        .context("the points do not make a complete markup")?;
    if let Some(n) = name {
        markup.name = n;
    }
    let label = format!("{} {}", markup.name, markup.label());
    f.plan
        .apply(Command::AddMarkup(markup))
        .map_err(|e| anyhow::anyhow!("{e}"))?;
    file::write(path, &f)?;
    say!("added {label} to {}", path.display());
    Ok(())
}
