//! The `twinplan` binary: a thin clap front end over the core library.
//!
//! Each subcommand parses arguments, runs one core call with a progress bar on stderr, and
//! prints results on stdout. Exit codes: 0 success, 1 failure, 2 usage error. Errors are
//! printed once, here, with their context chain; patient identity never appears in them.

use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};
use clap::{Parser, Subcommand};
use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};

use twinplan::dicom::{self, info::describe};
use twinplan::nifti_io;
use twinplan::phantom::{self, PhantomOptions};
use twinplan::progress::Progress;
use twinplan::volume::Volume;

// Every line this tool prints goes through the one scrubber (`twinplan::privacy`): a
// patient's name, ID or birth date met in any header never reaches the terminal, a log or
// an error, unless `info --phi` asked for them.
macro_rules! say {
    ($($t:tt)*) => { println!("{}", twinplan::privacy::scrub(&format!($($t)*))) };
}
macro_rules! say_raw {
    ($($t:tt)*) => { print!("{}", twinplan::privacy::scrub(&format!($($t)*))) };
}
macro_rules! tell {
    ($($t:tt)*) => { eprintln!("{}", twinplan::privacy::scrub(&format!($($t)*))) };
}

#[derive(Parser)]
#[command(
    name = "twinplan",
    version,
    about = "Surgical planning on the patient's own anatomy: DICOM/NIfTI volumes with exact patient geometry"
)]
#[command(args_conflicts_with_subcommands = true)]
struct Cli {
    #[command(subcommand)]
    command: Option<Command>,
    /// Open this DICOM folder/file or NIfTI file in the viewer (default: the bundled sample).
    path: Option<PathBuf>,
    /// Viewer window size WIDTHxHEIGHT (default: as it was last closed, else 1600x1000).
    #[arg(long, value_parser = parse_window_size)]
    size: Option<(u32, u32)>,
    /// Write every frame's duration to this CSV at exit, and quit once all work is done
    /// (responsiveness measurements).
    #[arg(long)]
    frame_log: Option<PathBuf>,
    /// With --frame-log: open this second path once the first study is ready.
    #[arg(long, requires = "frame_log")]
    then_open: Option<PathBuf>,
    /// Triangles kept per structure (default 400000; more is finer and slower to draw).
    #[arg(long)]
    max_triangles: Option<usize>,
    /// Open this plan (measurements, landmarks) with the study; it must belong to its series.
    #[arg(long)]
    plan: Option<PathBuf>,
}

#[derive(Subcommand)]
enum Command {
    /// List the studies and series in a folder or file, with geometry, warnings and skipped files.
    Info {
        /// DICOM folder (searched recursively), DICOM file, or NIfTI file.
        path: PathBuf,
        /// Print JSON instead of text.
        #[arg(long)]
        json: bool,
        /// Show patient name, ID and birth date (hidden by default).
        #[arg(long)]
        phi: bool,
    },
    /// Convert one series to NIfTI (.nii or .nii.gz), with LPS geometry written as RAS sform/qform.
    Convert {
        /// DICOM folder or file, or a NIfTI file.
        path: PathBuf,
        /// Series to convert: SeriesInstanceUID, UID#n for a split series, or series number.
        /// Not needed when the folder holds one image series.
        #[arg(long)]
        series: Option<String>,
        /// Output file, ending in .nii or .nii.gz.
        #[arg(long)]
        out: PathBuf,
    },
    /// Segment one structure and write its surface (STL, OBJ or PLY, patient mm).
    Mesh {
        /// DICOM folder or file, or a NIfTI file.
        path: PathBuf,
        /// Series to use (UID, UID#n or series number) when the folder holds several.
        #[arg(long)]
        series: Option<String>,
        /// Named preset: bone, vessels, skin, lung, soft_tissue.
        #[arg(long, group = "selection")]
        preset: Option<String>,
        /// Iso-surface of the volume at this value (HU).
        #[arg(long, group = "selection", allow_hyphen_values = true, value_parser = parse_finite)]
        iso: Option<f64>,
        /// Value range LO:HI (HU).
        #[arg(long, group = "selection", allow_hyphen_values = true, value_parser = parse_range)]
        range: Option<(f64, f64)>,
        /// Seed X,Y,Z in patient LPS mm (repeatable): keep what is connected to it.
        #[arg(long, allow_hyphen_values = true, value_parser = parse_point)]
        seed: Vec<[f64; 3]>,
        /// Taubin smoothing iterations (0 to 1000).
        #[arg(long, default_value_t = 0, value_parser = clap::value_parser!(u32).range(0..=twinplan::surface::MAX_SMOOTH_ITERATIONS as i64))]
        smooth: u32,
        /// Decimate to about this many triangles.
        #[arg(long)]
        target_triangles: Option<usize>,
        /// Do not close surfaces at the volume border.
        #[arg(long)]
        no_pad: bool,
        /// Gaussian σ in mm applied to the binary mask before surfacing (default: none;
        /// seeded structures follow the image intensities instead). 0 to 10 mm.
        #[arg(long, value_parser = parse_sigma)]
        mask_sigma: Option<f64>,
        /// Output file: .stl, .obj or .ply.
        #[arg(long)]
        out: PathBuf,
        /// Print one JSON object with triangle/vertex counts and per-stage seconds on stdout.
        #[arg(long)]
        timings: bool,
    },
    /// Open a study in the viewer, wait for its structures, save a PNG screenshot and exit
    /// (works under Xvfb; for documentation and CI).
    Render {
        /// DICOM folder/file or NIfTI file (default: the bundled sample).
        path: Option<PathBuf>,
        /// Output PNG.
        #[arg(long)]
        out: PathBuf,
        /// Structures to show, comma-separated (default: all).
        #[arg(long, value_delimiter = ',')]
        structures: Option<Vec<String>>,
        /// 3D view: anterior, posterior, left, right, superior, inferior.
        #[arg(long, default_value = "anterior")]
        view: String,
        /// Layout: four-up, axial, coronal, sagittal, 3d.
        #[arg(long, default_value = "four-up")]
        layout: String,
        /// Window size WIDTHxHEIGHT.
        #[arg(long, default_value = "1600x1000", value_parser = parse_window_size)]
        size: (u32, u32),
        /// Views only, without panels.
        #[arg(long)]
        bare: bool,
        /// Hide patient identity (anonymous mode).
        #[arg(long)]
        anonymous: bool,
        /// Show the three slices, textured, in the 3D view.
        #[arg(long)]
        slices: bool,
        /// Structures to build instead of the modality's defaults: a JSON list of recipes
        /// (as the plan file stores them).
        #[arg(long)]
        recipes: Option<PathBuf>,
        /// Positions in the read-outs: anatomical, ras or lps.
        #[arg(long, default_value = "anatomical")]
        coordinates: String,
        /// Open this plan with the study (its measurements drawn in the views).
        #[arg(long)]
        plan: Option<PathBuf>,
        /// With --plan: go to the markup of this name (slices through it, camera framed on
        /// it) and select it, or look from the plan's saved 3D view of this name.
        #[arg(long, requires = "plan")]
        focus: Option<String>,
    },
    /// Time frames of the 3D scene rendered offscreen (no window or display needed; a Vulkan
    /// driver is): opens the study, waits for its structures, renders N frames while turning
    /// the camera, prints JSON with the frame times. For comparing renderers.
    Frames {
        /// DICOM folder/file or NIfTI file (default: the bundled sample).
        path: Option<PathBuf>,
        /// Offscreen image size WIDTHxHEIGHT.
        #[arg(long, default_value = "1600x1000", value_parser = parse_window_size)]
        size: (u32, u32),
        /// Frames to time.
        #[arg(long, default_value_t = 100)]
        frames: usize,
        /// Triangles kept per structure.
        #[arg(long)]
        max_triangles: Option<usize>,
    },
    /// Measure between points given in patient LPS mm (for scripts and tests): a distance
    /// or an angle, with the volume's value at each point.
    Measure {
        /// DICOM folder/file or NIfTI file the points belong to.
        path: PathBuf,
        /// SeriesInstanceUID, UID#n or series number when the folder holds several.
        #[arg(long)]
        series: Option<String>,
        /// Two points X,Y,Z X,Y,Z: their distance in mm.
        #[arg(long, num_args = 2, value_names = ["A", "B"], value_parser = parse_point, conflicts_with = "angle", allow_hyphen_values = true)]
        distance: Option<Vec<[f64; 3]>>,
        /// Three points A VERTEX C: the angle at VERTEX in degrees.
        #[arg(long, num_args = 3, value_names = ["A", "VERTEX", "C"], value_parser = parse_point, allow_hyphen_values = true)]
        angle: Option<Vec<[f64; 3]>>,
        /// Print JSON instead of text.
        #[arg(long)]
        json: bool,
        /// Add the measurement to this plan file (created for the series when it does not
        /// exist; a plan of another series is refused and left untouched).
        #[arg(long, value_name = "PLAN")]
        add_to: Option<PathBuf>,
        /// With --add-to: the markup's name (default: D-n or A-n).
        #[arg(long, requires = "add_to")]
        name: Option<String>,
    },
    /// Plan a catheter path through a vessel: the centred path from an entry to a target
    /// (through waypoints, in order) that never leaves the lumen, with its length, the
    /// lumen diameter along it, the narrowest point, tortuosity and curvature. A target the
    /// lumen does not reach is an error (exit 1) naming the nearest reachable point and the
    /// gap; the path is never bridged.
    Plan(PlanArgs),
    /// List a plan file's measurements and landmarks (kind, name, value, unit, points).
    PlanInfo {
        /// A plan saved by the workstation (.twinplan.json).
        file: PathBuf,
        /// Print CSV (one row per measured value).
        #[arg(long, conflicts_with = "json")]
        csv: bool,
        /// Print JSON.
        #[arg(long)]
        json: bool,
        /// Also write the plan's markups as 3D Slicer markups JSON (.mrk.json) to this file.
        #[arg(long, value_name = "OUT")]
        slicer: Option<PathBuf>,
    },
    /// Write the synthetic CTA phantom: DIR/dicom/ (a CT series, one file per slice) and
    /// DIR/ground_truth.json (centrelines, radii, landmarks, distances, angles and the clinical
    /// cases: the aneurysm, the stenosis and the tortuous iliac, in LPS mm).
    Phantom {
        /// Output folder (created if needed).
        #[arg(long)]
        out: PathBuf,
        /// Grid size NXxNYxNZ (the field of view is fixed: 400 mm wide, 640 mm tall).
        #[arg(long, default_value = "256x256x256", value_parser = parse_size)]
        size: [usize; 3],
        /// Noise standard deviation in HU.
        #[arg(long, default_value_t = 12.0)]
        noise: f64,
        /// Noise seed.
        #[arg(long, default_value_t = 1)]
        seed: u64,
    },
}

/// A finite number (NaN and infinity are words Rust's parser also accepts).
fn parse_finite(s: &str) -> Result<f64, String> {
    match s.trim().parse::<f64>() {
        Ok(v) if v.is_finite() => Ok(v),
        _ => Err(format!("'{s}' is not a finite number")),
    }
}

fn parse_range(s: &str) -> Result<(f64, f64), String> {
    let (a, b) = s.split_once(':').ok_or("expected LO:HI, e.g. 200:600")?;
    let lo = parse_finite(a)?;
    let hi = parse_finite(b)?;
    if lo > hi {
        return Err("LO must not exceed HI".into());
    }
    Ok((lo, hi))
}

fn parse_point(s: &str) -> Result<[f64; 3], String> {
    let v: Vec<f64> = s
        .split(',')
        .map(|t| {
            t.trim()
                .parse::<f64>()
                .map_err(|_| format!("'{t}' is not a number"))
        })
        .collect::<Result<_, _>>()?;
    match v.as_slice() {
        [x, y, z] if v.iter().all(|c| c.is_finite()) => Ok([*x, *y, *z]),
        [_, _, _] => Err("coordinates must be finite numbers (mm)".into()),
        _ => Err("expected X,Y,Z in mm".into()),
    }
}

fn parse_size(s: &str) -> Result<[usize; 3], String> {
    let parts: Vec<&str> = s.split(['x', 'X']).collect();
    let [a, b, c] = parts.as_slice() else {
        return Err("expected NXxNYxNZ, e.g. 256x256x200".into());
    };
    let n = |t: &str| {
        t.trim()
            .parse::<usize>()
            .map_err(|_| format!("'{t}' is not a whole number"))
    };
    Ok([n(a)?, n(b)?, n(c)?])
}

/// Runs `work` while a progress bar (stderr) follows `progress`; the bar appears only when
/// the work takes longer than half a second, so quick commands print nothing extra.
fn with_progress<T: Send>(label: &str, work: impl FnOnce(&Progress) -> T + Send) -> T {
    let progress = Progress::new();
    let done = std::sync::atomic::AtomicBool::new(false);
    std::thread::scope(|scope| {
        let watcher = scope.spawn(|| {
            let start = Instant::now();
            let mut bar: Option<ProgressBar> = None;
            while !done.load(std::sync::atomic::Ordering::Relaxed) {
                std::thread::sleep(Duration::from_millis(50));
                if bar.is_none() && start.elapsed() > Duration::from_millis(500) {
                    let b = ProgressBar::with_draw_target(Some(0), ProgressDrawTarget::stderr());
                    b.set_style(
                        ProgressStyle::with_template("{msg:>10} [{bar:40}] {pos}/{len} {elapsed}")
                            .unwrap_or_else(|_| ProgressStyle::default_bar())
                            .progress_chars("=> "),
                    );
                    b.set_message(label.to_string());
                    bar = Some(b);
                }
                if let Some(b) = &bar {
                    let (d, t) = progress.get();
                    b.set_length(t);
                    b.set_position(d);
                }
            }
            if let Some(b) = bar {
                b.finish_and_clear();
            }
        });
        let out = work(&progress);
        done.store(true, std::sync::atomic::Ordering::Relaxed);
        let _ = watcher.join();
        out
    })
}

#[derive(clap::Args, Debug)]
struct PlanArgs {
    /// DICOM folder/file or NIfTI file (not needed for `--device list`).
    path: Option<PathBuf>,
    /// SeriesInstanceUID, UID#n or series number when the folder holds several.
    #[arg(long)]
    series: Option<String>,
    /// The entry X,Y,Z (patient LPS mm), e.g. in the common femoral artery.
    #[arg(long, value_parser = parse_point, allow_hyphen_values = true)]
    from: Option<[f64; 3]>,
    /// The target X,Y,Z (patient LPS mm).
    #[arg(long, value_parser = parse_point, allow_hyphen_values = true)]
    to: Option<[f64; 3]>,
    /// Waypoints X,Y,Z the path must pass, in order (to force a branch).
    #[arg(long, value_parser = parse_point, allow_hyphen_values = true)]
    via: Vec<[f64; 3]>,
    /// The lumen: the values of this preset (default vessels: contrast-filled blood) ...
    #[arg(long, default_value = "vessels", conflicts_with = "range")]
    structure: String,
    /// ... or this value range LO:HI (HU).
    #[arg(long, allow_hyphen_values = true, value_parser = parse_range)]
    range: Option<(f64, f64)>,
    /// ... grown from these points (default: from the entry), so other vessels and bone of
    /// the same values stay out.
    #[arg(long, value_parser = parse_point, allow_hyphen_values = true)]
    seed: Vec<[f64; 3]>,
    /// The device whose fit is checked: a catalogue name ("Introducer sheath 14 F", or
    /// just "14F"; `--device list` lists them) ...
    #[arg(long, conflicts_with = "device_mm")]
    device: Option<String>,
    /// ... or a device of this outer diameter (mm).
    #[arg(long, value_name = "D", value_parser = parse_positive_mm)]
    device_mm: Option<f64>,
    /// Also write the path and its measures as JSON to this file.
    #[arg(long, value_name = "FILE")]
    json: Option<PathBuf>,
    /// Add the path (its points, device and measures) to this plan file, made for the
    /// series when it does not exist.
    #[arg(long, value_name = "FILE")]
    plan_out: Option<PathBuf>,
    /// The path's name in the plan (default "Path N").
    #[arg(long, requires = "plan_out")]
    name: Option<String>,
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
fn plan_path(a: PlanArgs) -> Result<()> {
    use twinplan::plan::path::{Catalogue, Device, fit};
    use twinplan::segment::{Preset, ValueRange};
    let catalogue = Catalogue::bundled();
    let device = match (&a.device, a.device_mm) {
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
            return Ok(());
        }
        (Some(name), _) => Some(catalogue.find(name).cloned().ok_or_else(|| {
            UsageError(format!(
                "no device {name:?} in the catalogue (`--device list` lists them; \
                 --device-mm D for another)"
            ))
        })?),
        (None, Some(d)) => Some(Device::custom(d, None)),
        (None, None) => None,
    };
    let (Some(path), Some(from), Some(to)) = (&a.path, a.from, a.to) else {
        return Err(UsageError(
            "plan needs the study (PATH), the entry (--from X,Y,Z) and the target (--to X,Y,Z)"
                .into(),
        )
        .into());
    };
    let range = match a.range {
        Some((lo, hi)) => ValueRange::new(lo, hi),
        None => Preset::from_name(&a.structure)
            .ok_or_else(|| {
                UsageError(format!(
                    "unknown structure '{}'; choose one of: {}",
                    a.structure,
                    Preset::ALL.map(|p| p.name()).join(", ")
                ))
            })?
            .range(),
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
    let planned = twinplan::plan::path::plan(&volume, &points, range, &a.seed, &progress)?;
    let (lumen_s, distance_s, search_s, measure_s) = (
        planned.lumen_s,
        planned.distance_s,
        planned.search_s,
        planned.measure_s,
    );
    let (lumen_voxels, settled) = (planned.lumen_voxels, planned.settled);
    let report = planned.report;
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
    let fitted = device.as_ref().map(|d| fit(&report, d));
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
                twinplan::plan::path::devices::Concern::Tight => {
                    format!("SFAR ≥ 1.0 (up to {:.2})", flag.worst)
                }
                twinplan::plan::path::devices::Concern::AtRisk => {
                    format!("SFAR ≥ 1.05 (up to {:.2}): at risk", flag.worst)
                }
                twinplan::plan::path::devices::Concern::Bend => {
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
    say!(
        "times: load {load_s:.2} s, lumen {lumen_s:.2} s, distance {distance_s:.2} s, search \
         {search_s:.3} s, measures {measure_s:.3} s"
    );
    if let Some(out) = &a.json {
        let mut value = serde_json::to_value(&report)?;
        if let Some(m) = value.as_object_mut() {
            if let Some(f) = &fitted {
                m.insert("fit".into(), serde_json::to_value(f)?);
            }
            for (k, v) in [
                ("load_s", load_s),
                ("lumen_s", lumen_s),
                ("distance_s", distance_s),
                ("search_s", search_s),
                ("measure_s", measure_s),
            ] {
                m.insert(k.into(), serde_json::json!(v));
            }
        }
        twinplan::fsutil::write_atomic(out, serde_json::to_string_pretty(&value)?.as_bytes())?;
    }
    if let Some(out) = &a.plan_out {
        use twinplan::plan::{CatheterPath, PathVessel, PlanEdit, file};
        use twinplan::session::structures::Source;
        let reference = file::Reference::of(&volume);
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
            colour: [0.15, 0.75, 0.95],
            visible: true,
            report: Some(report),
            fit: fitted,
            problem: None,
        };
        let name = path.name.clone();
        f.plan
            .apply(PlanEdit::AddPath(path))
            .map_err(|e| anyhow::anyhow!("{e}"))?;
        file::write(out, &f)?;
        say!("added {name} to {}", out.display());
    }
    Ok(())
}

/// Opens a NIfTI file or a DICOM folder/file as one volume.
fn open_volume(path: &Path, series: Option<&str>) -> Result<Volume> {
    if nifti_io::is_nifti_path(path) {
        return with_progress("reading", |_| nifti_io::read_nifti(path)).map_err(Into::into);
    }
    let (volume, report) = with_progress("loading", |p| dicom::load_path(path, series, p))?;
    if !report.skipped.is_empty() {
        tell!(
            "note: {} file(s) skipped (see `twinplan info`)",
            report.skipped.len()
        );
    }
    Ok(volume)
}

fn parse_sigma(s: &str) -> Result<f64, String> {
    use twinplan::surface::{MAX_MASK_SIGMA_MM, MIN_MASK_SIGMA_MM};
    let v = parse_finite(s)?;
    if v == 0.0 || (MIN_MASK_SIGMA_MM..=MAX_MASK_SIGMA_MM).contains(&v) {
        Ok(v)
    } else {
        Err(format!(
            "σ must be 0 or between {MIN_MASK_SIGMA_MM} and {MAX_MASK_SIGMA_MM} mm"
        ))
    }
}

fn parse_window_size(s: &str) -> Result<(u32, u32), String> {
    let (w, h) = s
        .split_once(['x', 'X'])
        .ok_or_else(|| format!("expected WIDTHxHEIGHT, got {s:?}"))?;
    let w: u32 = w
        .trim()
        .parse()
        .map_err(|_| format!("bad width in {s:?}"))?;
    let h: u32 = h
        .trim()
        .parse()
        .map_err(|_| format!("bad height in {s:?}"))?;
    if !(320..=8192).contains(&w) || !(240..=8192).contains(&h) {
        return Err(format!(
            "window size {w}x{h} out of range (320x240 to 8192x8192)"
        ));
    }
    Ok((w, h))
}

#[cfg(feature = "viewer")]
fn viewer(options: twinplan::app::ViewerOptions) -> Result<()> {
    twinplan::app::run(options)
}

#[cfg(not(feature = "viewer"))]
fn viewer<T>(_options: T) -> Result<()> {
    Err(UsageError(
        "this build has no viewer (built without the `viewer` feature); use a subcommand".into(),
    )
    .into())
}

fn run(cli: Cli) -> Result<()> {
    let Some(command) = cli.command else {
        #[cfg(feature = "viewer")]
        return viewer(twinplan::app::ViewerOptions {
            path: cli.path,
            size: cli.size.unwrap_or_else(|| {
                // The size the window had when it was last closed (not for timing runs).
                twinplan::session::prefs::config_dir()
                    .filter(|_| cli.frame_log.is_none())
                    .and_then(|d| twinplan::session::prefs::load(&d).0.window_size)
                    .unwrap_or((1600, 1000))
            }),
            render: None,
            frame_log: cli.frame_log,
            then_open: cli.then_open,
            max_triangles: cli.max_triangles,
            plan: cli.plan,
        });
        #[cfg(not(feature = "viewer"))]
        return viewer(());
    };
    match command {
        #[cfg(feature = "viewer")]
        Command::Render {
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
        } => {
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
                    let list: Vec<twinplan::session::structures::Recipe> =
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
        #[cfg(not(feature = "viewer"))]
        Command::Render { .. } | Command::Frames { .. } => viewer(()),
        #[cfg(feature = "viewer")]
        Command::Frames {
            path,
            size,
            frames,
            max_triangles,
        } => {
            let path = match path {
                Some(p) => p,
                None => twinplan::session::open::sample_path()
                    .ok_or_else(|| anyhow::anyhow!("the bundled sample was not found"))?,
            };
            let stats =
                twinplan::app::headless::bench_frames(&twinplan::app::headless::FrameBench {
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
        Command::Info { path, json, phi } => {
            twinplan::privacy::reveal(phi);
            if nifti_io::is_nifti_path(&path) {
                // The header alone: a small .nii.gz can unpack to gigabytes.
                let v = nifti_io::read_nifti_header(&path)?;
                let g = &v.geometry;
                if json {
                    let out = serde_json::json!({
                        "format": "nifti",
                        "dimensions": g.dims,
                        "spacing_mm": g.spacing_mm,
                        "origin_mm": g.origin_mm,
                        "directions": g.directions,
                        "orientation": g.orientation().to_string(),
                        "value_scale": v.value_scale,
                        "warnings": v.warnings.iter().map(|w| w.to_string()).collect::<Vec<_>>(),
                    });
                    say!("{}", serde_json::to_string_pretty(&out)?);
                } else {
                    say!(
                        "NIfTI {}x{}x{}  {:.3} x {:.3} x {:.3} mm  {}  origin (LPS) {:.2}, {:.2}, {:.2}",
                        g.dims[0],
                        g.dims[1],
                        g.dims[2],
                        g.spacing_mm[0],
                        g.spacing_mm[1],
                        g.spacing_mm[2],
                        g.orientation(),
                        g.origin_mm[0],
                        g.origin_mm[1],
                        g.origin_mm[2]
                    );
                    for w in &v.warnings {
                        say!("  warning: {w}");
                    }
                }
                return Ok(());
            }
            let report = with_progress("scanning", |p| dicom::scan(&path, p))
                .with_context(|| format!("cannot scan {}", path.display()))?;
            let info = describe(&report, phi);
            if json {
                say!("{}", serde_json::to_string_pretty(&info)?);
            } else {
                say_raw!("{}", info.to_text());
            }
            Ok(())
        }
        Command::Convert { path, series, out } => {
            if !nifti_io::is_nifti_path(&out) {
                bail!(UsageError(format!(
                    "--out must end in .nii or .nii.gz: {}",
                    out.display()
                )));
            }
            let volume = open_volume(&path, series.as_deref())?;
            for w in &volume.warnings {
                tell!("warning: {w}");
            }
            let notes = with_progress("writing", |_| nifti_io::write_nifti(&volume, &out))?;
            for n in &notes {
                tell!("note: {n}");
            }
            let g = &volume.geometry;
            say!(
                "wrote {} ({}x{}x{}, {:.3} x {:.3} x {:.3} mm)",
                out.display(),
                g.dims[0],
                g.dims[1],
                g.dims[2],
                g.spacing_mm[0],
                g.spacing_mm[1],
                g.spacing_mm[2]
            );
            Ok(())
        }
        Command::Mesh {
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
            timings,
        } => {
            use twinplan::surface::{Selection, SurfaceOptions};
            if twinplan::mesh::io::MeshFormat::from_path(&out).is_none() {
                bail!(UsageError(format!(
                    "--out must end in .stl, .obj or .ply: {}",
                    out.display()
                )));
            }
            let selection = match (preset, iso, range) {
                (Some(name), None, None) => Selection::Preset(
                    twinplan::segment::Preset::from_name(&name).ok_or_else(|| {
                        UsageError(format!(
                            "unknown preset '{name}'; choose one of: {}",
                            twinplan::segment::Preset::ALL.map(|p| p.name()).join(", ")
                        ))
                    })?,
                ),
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
                bail!(
                    "the selection holds no surface in this volume (0 triangles): nothing written"
                );
            }
            let t = Instant::now();
            twinplan::mesh::io::write_mesh(&mesh, &out)?;
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
        Command::Measure {
            path,
            series,
            distance,
            angle,
            json,
            add_to,
            name,
        } => {
            let added = measure(&path, series.as_deref(), distance, angle, json)?;
            if let Some(plan) = add_to {
                add_to_plan(&plan, added, name)?;
            }
            Ok(())
        }
        Command::Plan(args) => plan_path(args),
        Command::PlanInfo {
            file,
            csv,
            json,
            slicer,
        } => {
            let plan = twinplan::plan::file::read(&file)?;
            if let Some(out) = &slicer {
                let doc = twinplan::plan::slicer::export(&plan.plan);
                twinplan::fsutil::write_atomic(out, &serde_json::to_vec_pretty(&doc)?)
                    .map_err(|e| anyhow::anyhow!("cannot write {}: {e}", out.display()))?;
            }
            if csv {
                say_raw!("{}", plan.plan.markups_csv());
            } else if json {
                say!("{}", serde_json::to_string_pretty(&plan.plan.summary())?);
            } else {
                say_raw!("{}", plan.plan.summary_text());
            }
            Ok(())
        }
        Command::Phantom {
            out,
            size,
            noise,
            seed,
        } => {
            let options = PhantomOptions {
                size,
                noise_hu: noise,
                seed,
            };
            let ph = with_progress("phantom", |p| phantom::generate(&options, p))?;
            let write_options = dicom::write::CtSeriesOptions::default()
                .with_patient(phantom::phantom_patient())
                .with_series_description("CTA phantom arterial")
                .with_uid_seed(format!(
                    "twinplan-phantom-{}x{}x{}-{seed}",
                    size[0], size[1], size[2]
                ));
            let files = with_progress("writing", |p| {
                dicom::write::write_ct_series(
                    &ph.volume,
                    &out.join("dicom"),
                    &write_options,
                    &|k| format!("IM{:05}.dcm", k + 1),
                    p,
                )
            })?;
            let truth = serde_json::to_vec_pretty(&ph.truth)?;
            twinplan::fsutil::write_atomic(&out.join("ground_truth.json"), &truth).with_context(
                || format!("cannot write {}", out.join("ground_truth.json").display()),
            )?;
            say!(
                "wrote {} DICOM files to {}/dicom and the ground truth to ground_truth.json beside it",
                files.len(),
                out.display()
            );
            Ok(())
        }
    }
}

/// `twinplan measure`: the value, and for each point whether it lies in the volume and the
/// nearest voxel's value there.
fn measure(
    path: &Path,
    series: Option<&str>,
    distance: Option<Vec<[f64; 3]>>,
    angle: Option<Vec<[f64; 3]>>,
    json: bool,
) -> Result<MeasuredMarkup> {
    use twinplan::plan::geometry;
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
struct MeasuredMarkup {
    kind: twinplan::plan::MarkupKind,
    points: Vec<[f64; 3]>,
    reference: twinplan::plan::file::Reference,
}

/// Appends a measured markup to a plan file (atomically), creating it for the series.
fn add_to_plan(path: &Path, m: MeasuredMarkup, name: Option<String>) -> Result<()> {
    use twinplan::plan::{PlanEdit, file, placing};
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
        .apply(PlanEdit::AddMarkup(markup))
        .map_err(|e| anyhow::anyhow!("{e}"))?;
    file::write(path, &f)?;
    say!("added {label} to {}", path.display());
    Ok(())
}

/// An error in how the command was called (exit code 2).
#[derive(Debug)]
struct UsageError(String);

impl std::fmt::Display for UsageError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for UsageError {}

/// Logs the run's peak resident memory, for measurements of a whole run
/// (`TWINPLAN_LOG=twinplan::peak=info`).
fn report_peak() {
    if let Some(b) = twinplan::memory::peak_resident_bytes() {
        tracing::info!(target: "twinplan::peak", "peak resident memory {:.1} MB", b as f64 / 1e6);
    }
}

fn main() -> ExitCode {
    #[cfg(feature = "viewer")]
    twinplan::app::mark_launch();
    // Output piped into `head` and cut short ends the process quietly, as other command
    // line tools do, instead of a panic on the next print (Rust ignores SIGPIPE).
    // SAFETY: restoring a signal's default disposition at start-up, before any thread.
    unsafe {
        libc::signal(libc::SIGPIPE, libc::SIG_DFL);
    }
    tracing_subscriber::fmt()
        .with_writer(|| twinplan::privacy::Scrubbed(std::io::stderr()))
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_env("TWINPLAN_LOG")
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("warn")),
        )
        .without_time()
        .init();
    twinplan::privacy::install_panic_hook();
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(e) => {
            report_peak();
            e.exit()
        }
    };
    let result = run(cli);
    report_peak();
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            let usage = e.downcast_ref::<UsageError>().is_some()
                || matches!(
                    e.downcast_ref::<dicom::DicomError>(),
                    Some(dicom::DicomError::Ambiguous { .. } | dicom::DicomError::NoMatch { .. })
                );
            tell!("error: {e:#}");
            if usage {
                ExitCode::from(2)
            } else {
                ExitCode::from(1)
            }
        }
    }
}
