//! The command line: the options of the viewer and of each subcommand, one file per command
//! (its clap arguments and its `run`), and what they share (the value parsers, the progress
//! bar, opening a volume, usage errors). Each command parses, calls the library and prints;
//! output passes the privacy scrubber. Nothing here is used by the library.

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use anyhow::Result;
use clap::{Parser, Subcommand};
use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use twinplan::dicom;
use twinplan::nifti_io;
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

mod anonymize;
pub mod args;
mod audit;
mod convert;
mod info;
mod measure;
mod mesh;
mod package;
mod phantom;
mod plan;
mod plan_info;
mod render;

#[derive(Parser)]
#[command(
    name = "twinplan",
    version,
    about = "Surgical planning on the patient's own anatomy: DICOM/NIfTI volumes with exact patient geometry"
)]
#[command(args_conflicts_with_subcommands = true)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Option<Command>,
    /// Open this DICOM folder/file or NIfTI file in the viewer (default: the bundled sample).
    pub path: Option<PathBuf>,
    /// Viewer window size WIDTHxHEIGHT (default: as it was last closed, else 1600x1000).
    #[arg(long, value_parser = args::parse_window_size)]
    pub size: Option<(u32, u32)>,
    /// Write every frame's duration to this CSV at exit, and quit once all work is done
    /// (responsiveness measurements).
    #[arg(long)]
    pub frame_log: Option<PathBuf>,
    /// With --frame-log: open this second path once the first study is ready.
    #[arg(long, requires = "frame_log")]
    pub then_open: Option<PathBuf>,
    /// Triangles kept per structure (default 400000; more is finer and slower to draw).
    #[arg(long)]
    pub max_triangles: Option<usize>,
    /// Open this plan (measurements, landmarks) with the study; it must belong to its series.
    #[arg(long)]
    pub plan: Option<PathBuf>,
}

#[derive(Subcommand)]
pub enum Command {
    /// List the studies and series in a folder or file, with geometry, warnings and skipped files.
    Info(info::Args),
    /// Convert one series to NIfTI (.nii or .nii.gz), with LPS geometry written as RAS sform/qform.
    Convert(convert::Args),
    /// Segment one structure and write its surface (STL, OBJ or PLY, patient mm).
    Mesh(mesh::Args),
    /// Open a study in the viewer, wait for its structures, save a PNG screenshot and exit
    /// (works under Xvfb; for documentation and CI).
    Render(render::RenderArgs),
    /// Time frames of the 3D scene rendered offscreen (no window or display needed; a Vulkan
    /// driver is): opens the study, waits for its structures, renders N frames while turning
    /// the camera, prints JSON with the frame times. For comparing renderers.
    Frames(render::FramesArgs),
    /// Measure between points given in patient LPS mm (for scripts and tests): a distance
    /// or an angle, with the volume's value at each point.
    Measure(measure::Args),
    /// Plan a catheter path through a vessel: the centred path from an entry to a target
    /// (through waypoints, in order) that never leaves the lumen, with its length, the
    /// lumen diameter along it, the narrowest point, tortuosity and curvature. A target the
    /// lumen does not reach is an error (exit 1) naming the nearest reachable point and the
    /// gap; the path is never bridged.
    Plan(plan::Args),
    /// List a plan file's measurements and landmarks (kind, name, value, unit, points).
    PlanInfo(plan_info::Args),
    /// Write the synthetic CTA phantom: DIR/dicom/ (a CT series, one file per slice) and
    /// DIR/ground_truth.json (centrelines, radii, landmarks, distances, angles and the clinical
    /// cases: the aneurysm, the stenosis and the tortuous iliac, in LPS mm).
    Phantom(phantom::Args),
    /// De-identify DICOM files (PS3.15 Basic Application Level Confidentiality Profile)
    /// into a new folder: identifying attributes replaced, emptied or removed, private
    /// attributes removed, UIDs remapped consistently; pixels untouched.
    Anonymize(anonymize::Args),
    /// Seal a case (the plan, its surfaces, optionally the de-identified series) with the
    /// purpose and consent statement into an encrypted package (age: a passphrase or
    /// recipients' public keys).
    Pack(package::PackArgs),
    /// Open an encrypted case package into a new folder: the statement is shown; a wrong
    /// passphrase or a damaged package writes nothing.
    Unpack(package::UnpackArgs),
    /// Make a key pair for receiving case packages: the identity file (secret) and the
    /// public key senders give to `pack --recipient`.
    Keygen(package::KeygenArgs),
    /// The installation's tamper-evident audit trail: `show` (`--path`: where it is kept),
    /// `verify [FILE]` (exit 1 naming the first entry that does not hold).
    Audit(audit::Args),
}

pub fn run(cli: Cli) -> Result<()> {
    let Some(command) = cli.command else {
        #[cfg(feature = "viewer")]
        return render::viewer(twinplan::app::ViewerOptions {
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
        return render::viewer(());
    };
    match command {
        Command::Info(a) => info::run(a),
        Command::Convert(a) => convert::run(a),
        Command::Mesh(a) => mesh::run(a),
        Command::Render(a) => render::render(a),
        Command::Frames(a) => render::frames(a),
        Command::Measure(a) => measure::run(a),
        Command::Plan(a) => plan::run(a),
        Command::PlanInfo(a) => plan_info::run(a),
        Command::Phantom(a) => phantom::run(a),
        Command::Anonymize(a) => anonymize::run(a),
        Command::Pack(a) => package::pack(a),
        Command::Unpack(a) => package::unpack(a),
        Command::Keygen(a) => package::keygen(a),
        Command::Audit(a) => audit::run(a),
    }
}

/// Runs `work` while a progress bar (stderr) follows `progress`; the bar appears only when
/// the work takes longer than half a second, so quick commands print nothing extra.
pub fn with_progress<T: Send>(label: &str, work: impl FnOnce(&Progress) -> T + Send) -> T {
    let progress = Progress::new();
    let progress = &progress;
    // The watcher waits on this channel between redraws: dropping the sender when the work
    // is done wakes it at once (a plain sleep kept every command waiting up to 50 ms more).
    let (done, finished) = std::sync::mpsc::channel::<()>();
    std::thread::scope(|scope| {
        let watcher = scope.spawn(move || {
            let start = Instant::now();
            let mut bar: Option<ProgressBar> = None;
            while let Err(std::sync::mpsc::RecvTimeoutError::Timeout) =
                finished.recv_timeout(Duration::from_millis(50))
            {
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
        let out = work(progress);
        drop(done);
        let _ = watcher.join();
        out
    })
}

/// Opens a NIfTI file or a DICOM folder/file as one volume.
pub fn open_volume(path: &Path, series: Option<&str>) -> Result<Volume> {
    if nifti_io::is_nifti_path(path) {
        let volume = with_progress("reading", |_| nifti_io::read_nifti(path))?;
        audit(twinplan::audit::Action::OpenStudy, &volume, path, &[]);
        return Ok(volume);
    }
    let (volume, report) = with_progress("loading", |p| dicom::load_path(path, series, p))?;
    if !report.skipped.is_empty() {
        tell!(
            "note: {} file(s) skipped (see `twinplan info`)",
            report.skipped.len()
        );
    }
    audit(twinplan::audit::Action::OpenStudy, &volume, path, &[]);
    Ok(volume)
}

/// Records an action on a study in the user's audit trail; a trail that cannot be written
/// is reported on stderr (what was done is not undone).
pub fn audit(
    action: twinplan::audit::Action,
    volume: &Volume,
    source: &Path,
    extra: &[(&str, &str)],
) {
    if let Some(why) = twinplan::audit::record_study(action, volume, source, extra, "") {
        tell!("warning: not recorded in the audit trail: {why}");
    }
}

/// An error in how the command was called (exit code 2).
#[derive(Debug)]
pub struct UsageError(pub String);

impl std::fmt::Display for UsageError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for UsageError {}

/// Logs the run's peak resident memory, for measurements of a whole run
/// (`TWINPLAN_LOG=twinplan::peak=info`).
pub fn report_peak() {
    if let Some(b) = twinplan::memory::peak_resident_bytes() {
        tracing::info!(target: "twinplan::peak", "peak resident memory {:.1} MB", b as f64 / 1e6);
    }
}
