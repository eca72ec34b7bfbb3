//! `twinplan plan`: a catheter path through a vessel from the entry through the waypoints to
//! the target, with its figures, a device's fit, JSON and a plan file entry.

use std::path::{Path, PathBuf};
use std::time::Instant;

use anyhow::Result;
use twinplan::catheter::{
    Catalogue, Constraints, Device, Fit, GUIDEWIRE_MM, Grown, LumenSpec, NoGo, PathReport, fit,
};
use twinplan::volume::Volume;

use super::args::{parse_point, parse_range};
use super::{UsageError, open_volume};

#[derive(clap::Args, Debug)]
pub struct Args {
    /// DICOM folder/file or NIfTI file (not needed for `--device list`).
    pub path: Option<PathBuf>,
    /// SeriesInstanceUID, UID#n or series number when the folder holds several.
    #[arg(long)]
    pub series: Option<String>,
    /// The entry X,Y,Z (patient LPS mm), e.g. in the common femoral artery.
    #[arg(long, value_parser = parse_point, allow_hyphen_values = true)]
    pub from: Option<[f64; 3]>,
    /// The target X,Y,Z (patient LPS mm).
    #[arg(long, value_parser = parse_point, allow_hyphen_values = true)]
    pub to: Option<[f64; 3]>,
    /// Waypoints X,Y,Z the path must pass, in order (to force a branch).
    #[arg(long, value_parser = parse_point, allow_hyphen_values = true)]
    pub via: Vec<[f64; 3]>,
    /// The lumen: "vessels" (the default) measures the vessel's own contrast around the
    /// stops; another preset takes that preset's values ...
    #[arg(long, default_value = "vessels", conflicts_with = "range")]
    pub structure: String,
    /// ... or this value range LO:HI (HU) ...
    #[arg(long, allow_hyphen_values = true, value_parser = parse_range)]
    pub range: Option<(f64, f64)>,
    /// ... grown from the stops and these points, cut where it only touches another
    /// structure (README: "The lumen").
    #[arg(long, value_parser = parse_point, allow_hyphen_values = true)]
    pub seed: Vec<[f64; 3]>,
    /// No path passes a lumen narrower than this (mm; default 0.89, a 0.035-inch guidewire).
    #[arg(long, value_name = "D", value_parser = parse_floor_mm)]
    pub min_diameter_mm: Option<f64>,
    /// A region no path enters: a NIfTI mask in the study's patient space (non-zero
    /// inside), e.g. a false lumen or a thrombus. Repeatable.
    #[arg(long, value_name = "MASK")]
    pub no_go: Vec<PathBuf>,
    /// Also write the lumen the path was planned in as a NIfTI mask (the study's geometry,
    /// as `convert` writes it).
    #[arg(long, value_name = "FILE.nii.gz")]
    pub lumen_out: Option<PathBuf>,
    /// The device whose fit is checked: a catalogue name ("Introducer sheath 14 F", or
    /// just "14F"; `--device list` lists them) ...
    #[arg(long, conflicts_with = "device_mm")]
    pub device: Option<String>,
    /// ... or a device of this outer diameter (mm).
    #[arg(long, value_name = "D", value_parser = parse_positive_mm)]
    pub device_mm: Option<f64>,
    /// Also write the path and its measures as JSON to this file.
    #[arg(long, value_name = "FILE")]
    pub json: Option<PathBuf>,
    /// Add the path (its points, device and measures) to this plan file, made for the
    /// series when it does not exist.
    #[arg(long, value_name = "FILE")]
    pub plan_out: Option<PathBuf>,
    /// The path's name in the plan (default "Path N").
    #[arg(long, requires = "plan_out")]
    pub name: Option<String>,
}

fn parse_floor_mm(s: &str) -> Result<f64, String> {
    let v: f64 = s
        .trim()
        .parse()
        .map_err(|_| format!("{s:?} is not a number"))?;
    if v.is_finite() && (0.0..100.0).contains(&v) {
        Ok(v)
    } else {
        Err(format!("{v} mm is not a lumen diameter"))
    }
}

fn parse_positive_mm(s: &str) -> Result<f64, String> {
    let v: f64 = s
        .trim()
        .parse()
        .map_err(|_| format!("{s:?} is not a number"))?;
    if v.is_finite() && v > 0.0 && v < 100.0 {
        Ok(v)
    } else {
        Err(format!("{v} mm is not a device diameter"))
    }
}

/// `twinplan plan`: the lumen grown from the seeds, its distance transform, the path and its
/// measures, each stage timed.
pub fn run(a: Args) -> Result<()> {
    use twinplan::segment::{Preset, ValueRange};
    let Some(device) = device_of(&a)? else {
        return Ok(());
    };
    let (Some(path), Some(from), Some(to)) = (&a.path, a.from, a.to) else {
        return Err(UsageError(
            "plan needs the study (PATH), the entry (--from X,Y,Z) and the target (--to X,Y,Z)"
                .into(),
        )
        .into());
    };
    let spec = match a.range {
        Some((lo, hi)) => LumenSpec::Range(ValueRange::new(lo, hi)),
        None => match Preset::from_name(&a.structure) {
            Some(Preset::Vessels) => LumenSpec::Auto,
            Some(p) => LumenSpec::Range(p.range()),
            None => {
                return Err(UsageError(format!(
                    "unknown structure '{}'; choose one of: {}",
                    a.structure,
                    Preset::ALL.map(|p| p.name()).join(", ")
                ))
                .into());
            }
        },
    };
    let t = Instant::now();
    let volume = open_volume(path, a.series.as_deref())?;
    let load_s = t.elapsed().as_secs_f64();
    let mut points = vec![(from, "entry".to_string())];
    for (n, v) in a.via.iter().enumerate() {
        points.push((*v, format!("waypoint {}", n + 1)));
    }
    points.push((to, "target".to_string()));
    let progress = twinplan::progress::Progress::new();
    let constraints = Constraints {
        min_diameter_mm: a.min_diameter_mm.unwrap_or(GUIDEWIRE_MM),
        no_go: a
            .no_go
            .iter()
            .map(|p| no_go_region(p, &volume))
            .collect::<Result<_>>()?,
        edits: Vec::new(),
    };
    let planned =
        twinplan::catheter::plan(&volume, &points, spec, &a.seed, &constraints, &progress)?;
    print_lumen(&planned.grown, constraints.min_diameter_mm);
    if let Some(out) = &a.lumen_out {
        write_lumen(out, &volume, &planned.grown)?;
    }
    let (lumen_s, distance_s, search_s, measure_s) = (
        planned.lumen_s,
        planned.distance_s,
        planned.search_s,
        planned.measure_s,
    );
    let (lumen_voxels, settled) = (planned.lumen_voxels, planned.settled);
    let report = planned.report;
    let fitted = print_figures(&report, lumen_voxels, settled, device.as_ref());
    say!(
        "times: load {load_s:.2} s, lumen {lumen_s:.2} s, distance {distance_s:.2} s, search \
         {search_s:.3} s, measures {measure_s:.3} s"
    );
    let times = [
        ("load_s", load_s),
        ("lumen_s", lumen_s),
        ("distance_s", distance_s),
        ("search_s", search_s),
        ("measure_s", measure_s),
    ];
    if let Some(out) = &a.json {
        let lumen = lumen_json(&planned.grown, &constraints);
        write_json(out, &report, fitted.as_ref(), &times, lumen)?;
    }
    if let Some(out) = &a.plan_out {
        add_to_plan(out, &a, &volume, [from, to], device, report, fitted)?;
    }
    Ok(())
}

/// The device `--device`/`--device-mm` name (Some(None): none given); None when the
/// catalogue was listed (`--device list`) and there is nothing more to do.
fn device_of(a: &Args) -> Result<Option<Option<Device>>> {
    let catalogue = Catalogue::bundled();
    Ok(Some(match (&a.device, a.device_mm) {
        (Some(name), _) if name == "list" => {
            for d in &catalogue.devices {
                say!(
                    "{:<28} outer {:.2} mm{}",
                    d.name,
                    d.outer_diameter_mm,
                    d.min_bend_radius_mm
                        .map_or_else(String::new, |r| format!(", bends to {r} mm"))
                );
            }
            return Ok(None);
        }
        (Some(name), _) => Some(catalogue.find(name).cloned().ok_or_else(|| {
            UsageError(format!(
                "no device {name:?} in the catalogue (`--device list` lists them; \
                 --device-mm D for another)"
            ))
        })?),
        (None, Some(d)) => Some(Device::custom(d, None)),
        (None, None) => None,
    }))
}

/// Prints the path's figures and the device's fit (returned, for the JSON and the plan).
fn print_figures(
    report: &PathReport,
    lumen_voxels: usize,
    settled: usize,
    device: Option<&Device>,
) -> Option<Fit> {
    let p = |q: &[f64; 3]| format!("{:.1}, {:.1}, {:.1}", q[0], q[1], q[2]);
    say!(
        "path: {:.1} mm, {} points (lumen {} voxels, {} settled)",
        report.length_mm,
        report.points_lps_mm.len(),
        lumen_voxels,
        settled
    );
    say!(
        "narrowest lumen: {:.1} mm at {} (LPS mm), {:.1} mm from the entry",
        report.min_lumen_diameter_mm,
        p(&report.min_lumen_position_lps_mm),
        report.min_lumen_at_mm
    );
    if report.max_lumen_diameter_mm > 0.0 {
        say!(
            "widest lumen: {:.1} mm at {} (LPS mm)",
            report.max_lumen_diameter_mm,
            p(&report.max_lumen_position_lps_mm)
        );
    } else {
        say!("widest lumen: not measured (no cross-section along the path is closed by a wall)");
    }
    let radius = match report.min_radius_of_curvature_mm {
        Some(r) if r < 1e6 => format!(
            "smallest radius of curvature {r:.1} mm at {}",
            p(&report.min_radius_position_lps_mm)
        ),
        _ => "straight".to_string(),
    };
    say!(
        "tortuosity {:.3} (arc / chord), bends {:.0}° in all ({} of 90° or more), {radius}",
        report.tortuosity,
        report.total_bend_deg,
        report.bends_over_90
    );
    let fitted = device.map(|d| fit(report, d));
    if let Some(f) = &fitted {
        say!(
            "device {} (outer {:.2} mm): largest SFAR {:.2} at {} (LPS mm)",
            f.device.name,
            f.device.outer_diameter_mm,
            f.max_sfar,
            p(&f.max_sfar_position_lps_mm)
        );
        for flag in &f.flags {
            let what = match flag.concern {
                twinplan::catheter::devices::Concern::Tight => {
                    format!("SFAR ≥ 1.0 (up to {:.2})", flag.worst)
                }
                twinplan::catheter::devices::Concern::AtRisk => {
                    format!("SFAR ≥ 1.05 (up to {:.2}): at risk", flag.worst)
                }
                twinplan::catheter::devices::Concern::Bend => {
                    format!("bends to {:.1} mm, tighter than the device", flag.worst)
                }
            };
            say!(
                "  flagged {:.0}–{:.0} mm from the entry: {what}, worst at {}",
                flag.from_mm,
                flag.to_mm,
                p(&flag.position_lps_mm)
            );
        }
    }
    fitted
}

/// Writes the figures, the fit and the stage times as JSON (atomically).
fn write_json(
    out: &Path,
    report: &PathReport,
    fitted: Option<&Fit>,
    times: &[(&str, f64)],
    lumen: serde_json::Value,
) -> Result<()> {
    let mut value = serde_json::to_value(report)?;
    if let Some(m) = value.as_object_mut() {
        m.insert("lumen".into(), lumen);
        if let Some(f) = fitted {
            m.insert("fit".into(), serde_json::to_value(f)?);
        }
        for (k, v) in times {
            m.insert((*k).into(), serde_json::json!(v));
        }
    }
    twinplan::fsutil::write_atomic(out, serde_json::to_string_pretty(&value)?.as_bytes())?;
    Ok(())
}

/// The lumen's line: its volume, how its values were chosen, the contacts it was cut at.
fn print_lumen(grown: &Grown, floor_mm: f64) {
    let l = &grown.levels;
    let how = if l.measured {
        format!(
            "measured around the stops: contrast {:.0} over {:.0}",
            l.peak_hu, l.background_hu
        )
    } else {
        "the given range".to_string()
    };
    say!(
        "lumen: {:.1} mL, core ≥ {:.0}, rim ≥ {:.0}, bright > {:.0} ({how}); no path narrower than \
         {floor_mm:.2} mm",
        grown.volume_ml(),
        l.core_hu,
        l.rim_hu,
        l.bright_hu
    );
    for c in grown.contacts.iter().take(3) {
        say!(
            "  cut from a structure {:.1} mm wide at {:.1}, {:.1}, {:.1} (LPS mm): a neck of {:.1} mm",
            c.sides_mm[1],
            c.at_lps_mm[0],
            c.at_lps_mm[1],
            c.at_lps_mm[2],
            c.neck_mm
        );
    }
}

/// The lumen as the JSON states it.
fn lumen_json(grown: &Grown, constraints: &Constraints) -> serde_json::Value {
    serde_json::json!({
        "volume_ml": grown.volume_ml(),
        "levels": grown.levels,
        "contacts_cut": grown.contacts,
        "min_diameter_mm": constraints.min_diameter_mm,
        "no_go": constraints.no_go.iter().map(|r| r.name.clone()).collect::<Vec<_>>(),
    })
}

/// Writes the lumen as a NIfTI mask on the study's grid (atomically, as `convert` does).
fn write_lumen(out: &Path, volume: &Volume, grown: &Grown) -> Result<()> {
    let mut mask = volume.clone();
    mask.voxels = grown.mask.data.mapv(i16::from);
    mask.value_scale = twinplan::volume::ValueScale {
        slope: 1.0,
        intercept: 0.0,
    };
    twinplan::nifti_io::write_nifti(&mask, out)?;
    say!(
        "wrote the lumen ({:.1} mL) to {}",
        grown.volume_ml(),
        out.display()
    );
    Ok(())
}

/// A no-go region read from a NIfTI mask in the study's patient space: each voxel of the
/// study takes the mask's value at its centre (nearest voxel).
fn no_go_region(path: &Path, volume: &Volume) -> Result<NoGo> {
    let mask = twinplan::nifti_io::read_nifti(path)
        .map_err(|e| anyhow::anyhow!("the no-go mask {}: {e}", path.display()))?;
    let g = &volume.geometry;
    let [ni, nj, nk] = g.dims;
    let [mi, mj, mk] = mask.geometry.dims;
    let voxels = ndarray::Array3::from_shape_fn((nk, nj, ni), |(k, j, i)| {
        let p = g.patient_from_ijk([i as f64, j as f64, k as f64]);
        let m = mask.geometry.ijk_from_patient(&p).map(|x| x.round());
        if m.iter().any(|x| !x.is_finite() || *x < 0.0) {
            return 0;
        }
        let m = m.map(|x| x as usize);
        if m[0] >= mi || m[1] >= mj || m[2] >= mk {
            return 0;
        }
        u8::from(mask.voxels[(m[2], m[1], m[0])] != 0)
    });
    if !voxels.iter().any(|v| *v != 0) {
        return Err(UsageError(format!(
            "the no-go mask {} covers none of the study (is it in the study's patient space?)",
            path.display()
        ))
        .into());
    }
    let name = path
        .file_name()
        .map(|n| {
            n.to_string_lossy()
                .trim_end_matches(".gz")
                .trim_end_matches(".nii")
                .to_string()
        })
        .unwrap_or_else(|| "no-go".into());
    Ok(NoGo { name, voxels })
}

/// Adds the path, its device and figures to the plan file `out` (made for the series when
/// absent; another series' plan is refused), under the plan's lock.
fn add_to_plan(
    out: &Path,
    a: &Args,
    volume: &twinplan::volume::Volume,
    [from, to]: [[f64; 3]; 2],
    device: Option<Device>,
    report: PathReport,
    fitted: Option<Fit>,
) -> Result<()> {
    use twinplan::document::Command;
    use twinplan::plan::recipe::Source;
    use twinplan::plan::{CatheterPath, PathVessel, file};
    let reference = file::Reference::of(volume);
    let _lock = file::lock(out, || {
        tell!("the plan is locked by another twinplan process; waiting…")
    })?;
    let mut f = if out.exists() {
        file::read_for(out, &reference)?
    } else {
        file::PlanFile::new(reference, twinplan::plan::Plan::default())
    };
    let id = f.plan.new_id();
    let source = match a.range {
        Some((lo, hi)) => Source::Range { lo, hi },
        None => Source::Preset {
            preset: a.structure.clone(),
            min_hu: None,
        },
    };
    let path = CatheterPath {
        id,
        name: a
            .name
            .clone()
            .unwrap_or_else(|| format!("Path {}", f.plan.paths.len() + 1)),
        vessel: PathVessel::Grown {
            source,
            seeds_lps_mm: a.seed.clone(),
        },
        entry_lps_mm: from,
        waypoints_lps_mm: a.via.clone(),
        target_lps_mm: to,
        device,
        min_diameter_mm: a.min_diameter_mm,
        colour: [0.15, 0.75, 0.95],
        visible: true,
        report: Some(report),
        fit: fitted,
        problem: None,
    };
    let name = path.name.clone();
    f.plan
        .apply(Command::AddPath(path))
        .map_err(|e| anyhow::anyhow!("{e}"))?;
    file::write(out, &f)?;
    say!("added {name} to {}", out.display());
    Ok(())
}
