//! The case packages feature of the workstation: opening a `.twinplan` package (File ▸
//! Open, Open recent, a dropped file or the command line) asks for its passphrase (or an
//! identity file for a package sealed to keys), decrypts it in a job into a private
//! temporary folder, shows the sender's purpose and consent statement, and only when the
//! user goes on opens the de-identified series with the packed plan and records the
//! opening in the audit trail. The unpacked folder lives while the case is open and is
//! removed when another case opens or the viewer closes; the recent list names the package,
//! never the temporary folder, and the packed plan keeps no file (Save asks where). A wrong passphrase or a damaged package is said in the
//! dialog; nothing is kept. File ▸ Export de-identified writes the open series through the
//! Basic Profile into a new folder, as a job, and records it. Depends on `package` (the format), `document` (the plan
//! opened with the series), `state` and `jobs`; no other feature depends on it.

use std::path::{Path, PathBuf};

use bevy::prelude::*;
use bevy_egui::{EguiContexts, EguiPrimaryContextPass, egui};
use zeroize::Zeroize;

use super::document::{PendingPlan, PlanDoc};
use super::jobs::Jobs;
use super::state::{Step, UiAction, Workspace};
use crate::package::{self, Key, Manifest, PackageError};
use crate::session::{Level, Notice};

/// What opening a package came to.
type Opened = Result<(Manifest, tempfile::TempDir), PackageError>;

/// What the user gave to open a package with.
pub enum Opener {
    Passphrase(age::secrecy::SecretString),
    /// An age identity file (read in the job, like the package).
    IdentityFile(PathBuf),
}

#[derive(Default)]
enum Stage {
    #[default]
    Idle,
    /// Asking how to open `path`.
    Ask {
        path: PathBuf,
        passphrase: String,
        identity: String,
        with_identity: bool,
        error: Option<String>,
    },
    /// Decrypting in job `job`.
    Opening {
        path: PathBuf,
        job: u64,
        with_identity: bool,
        identity: String,
    },
    /// Decrypted: the statement shown, waiting for the user.
    Statement {
        path: PathBuf,
        manifest: Box<Manifest>,
        dir: tempfile::TempDir,
    },
}

/// The package being opened, and the open case's unpacked folder.
#[derive(Resource, Default)]
pub struct CasePackages {
    stage: Stage,
    /// The package of the open case and its unpacked folder.
    open: Option<(PathBuf, tempfile::TempDir)>,
    /// De-identified exports running: job id.
    exports: Vec<u64>,
    /// The user went on past the statement: the case opens in the next update.
    accepted: bool,
}

/// What a de-identified export came to: a one-line summary, or why nothing was written.
type Exported = Result<String, String>;

impl CasePackages {
    /// Whether a package dialog is showing or a package is being decrypted.
    pub fn busy(&self) -> bool {
        !matches!(self.stage, Stage::Idle)
    }

    /// Where opening stands: "idle", "asking", "decrypting" or "statement".
    pub fn stage(&self) -> &'static str {
        match self.stage {
            Stage::Idle => "idle",
            Stage::Ask { .. } => "asking",
            Stage::Opening { .. } => "decrypting",
            Stage::Statement { .. } => "statement",
        }
    }

    /// Why the last try to open did not work (shown in the dialog).
    pub fn error(&self) -> Option<&str> {
        match &self.stage {
            Stage::Ask { error, .. } => error.as_deref(),
            _ => None,
        }
    }

    /// The decrypted package's manifest, while its statement is shown.
    pub fn statement(&self) -> Option<&Manifest> {
        match &self.stage {
            Stage::Statement { manifest, .. } => Some(manifest),
            _ => None,
        }
    }

    /// Decrypts the package asked about, in a job (the dialog's Open).
    pub fn unlock(&mut self, jobs: &mut Jobs, opener: Opener) {
        if let Stage::Ask {
            path,
            identity,
            with_identity,
            ..
        } = &self.stage
        {
            let p = path.clone();
            let job = jobs.task("opening the case package", move |_| -> Opened {
                let key = match opener {
                    Opener::Passphrase(p) => Key::Passphrase(p),
                    Opener::IdentityFile(f) => Key::Identities(package::read_identities(&f)?),
                };
                package::unpack_private(&p, &key)
            });
            self.stage = Stage::Opening {
                path: path.clone(),
                job,
                with_identity: *with_identity,
                identity: identity.clone(),
            };
        }
    }

    /// The user read the statement and goes on (the dialog's Open the case): the series
    /// opens with its plan. Nothing happens for a package without images.
    pub fn go_on(&mut self) {
        if self.statement().is_some_and(|m| m.images() > 0) {
            self.accepted = true;
        }
    }

    /// The user stops: the dialog closes, the decrypted folder is removed.
    pub fn cancel(&mut self, jobs: &mut Jobs) {
        self.set_stage(jobs, Stage::Idle);
        self.accepted = false;
    }

    /// Moves to `stage`; a decrypted folder left behind is removed in a job (hundreds of
    /// files: not in a frame).
    fn set_stage(&mut self, jobs: &mut Jobs, stage: Stage) {
        if let Stage::Statement { dir, .. } = std::mem::replace(&mut self.stage, stage) {
            discard(jobs, dir);
        }
    }
}

/// Removes an unpacked case's folder in the background.
fn discard(jobs: &mut Jobs, dir: tempfile::TempDir) {
    jobs.task("removing a closed case's files", move |_| drop(dir));
}

/// The case packages plugin.
pub struct PackagePlugin;

impl Plugin for PackagePlugin {
    fn build(&self, app: &mut App) {
        app.init_resource::<CasePackages>()
            .add_systems(
                Update,
                (
                    (ask_for_packages, export_deidentified, open_accepted).in_set(Step::Actions),
                    (land, land_exports).in_set(Step::Results),
                ),
            )
            .add_systems(EguiPrimaryContextPass, dialogs);
    }
}

/// A package asked to be opened: ask how to open it (the study loader leaves it alone).
fn ask_for_packages(
    mut actions: MessageReader<UiAction>,
    mut cases: ResMut<CasePackages>,
    mut jobs: ResMut<Jobs>,
) {
    for a in actions.read() {
        if let UiAction::Open(path) = a
            && package::is_package_path(path)
        {
            let ask = Stage::Ask {
                path: path.clone(),
                passphrase: String::new(),
                identity: String::new(),
                with_identity: false,
                error: None,
            };
            cases.set_stage(&mut jobs, ask);
        }
    }
}

/// File ▸ Export de-identified: the open series' files through the Basic Profile into a
/// new folder, in a job (the background pool), flushed to disk, recorded in the audit trail.
fn export_deidentified(
    mut actions: MessageReader<UiAction>,
    mut cases: ResMut<CasePackages>,
    mut jobs: ResMut<Jobs>,
    ws: Res<Workspace>,
) {
    for a in actions.read() {
        let UiAction::ExportDeidentified(out) = a else {
            continue;
        };
        let files = ws
            .loaded
            .as_ref()
            .zip(ws.catalog.as_ref())
            .map(|(l, c)| c.files_of(&l.key))
            .unwrap_or_default();
        let out = out.clone();
        let id = jobs.task("exporting the series de-identified", move |p| -> Exported {
            export(&files, &out, p)
        });
        cases.exports.push(id);
    }
}

/// The export itself (a job).
fn export(files: &[PathBuf], out: &Path, progress: &crate::progress::Progress) -> Exported {
    if files.is_empty() {
        return Err("the open series has no DICOM files to export".into());
    }
    if out.exists() && std::fs::read_dir(out).is_ok_and(|mut d| d.next().is_some()) {
        return Err(format!(
            "{} is not empty: choose a new folder name",
            out.display()
        ));
    }
    let trail = crate::audit::Trail::user()
        .ok_or("no data folder for the installation's secret")?
        .map_err(|e| e.to_string())?;
    let d = crate::deid::Deidentifier::new(
        trail
            .installation()
            .keyed_digest("deid-uid", b"twinplan UID remapping"),
        crate::deid::Options::default(),
    );
    let report =
        crate::work::run(|| crate::deid::files::anonymize_files(files, out, &d, false, progress))
            .map_err(|e| format!("cannot write into {}: {}", out.display(), e.kind()))?;
    crate::fsutil::sync_file_system(out);
    let summary = format!(
        "{} file(s) de-identified into {} ({} refused: pixels may show identity, {} skipped)",
        report.written.len(),
        out.display(),
        report.refused.len(),
        report.skipped.len()
    );
    let (source, output) = (
        files
            .first()
            .map(|f| crate::fsutil::folder_of(f).display().to_string())
            .unwrap_or_default(),
        out.display().to_string(),
    );
    if let Some(why) = crate::audit::record(
        crate::audit::Action::Anonymize,
        &[("source", source.as_str()), ("output", output.as_str())],
        &format!(
            "{} written, {} refused, {} skipped, one series, from the workstation",
            report.written.len(),
            report.refused.len(),
            report.skipped.len()
        ),
    ) {
        tracing::warn!("export done, not recorded in the audit trail: {why}");
    }
    if report.written.is_empty() {
        return Err(summary);
    }
    Ok(summary)
}

/// Exports that landed become notices.
fn land_exports(
    mut cases: ResMut<CasePackages>,
    mut jobs: ResMut<Jobs>,
    mut ws: ResMut<Workspace>,
) {
    if cases.exports.is_empty() {
        return;
    }
    let mut running = Vec::new();
    for id in std::mem::take(&mut cases.exports) {
        match jobs.take::<Exported>(id) {
            Some(Ok(summary)) => {
                ws.notify(Notice::new(Level::Info, "De-identified export", summary))
            }
            Some(Err(why)) => ws.notify(Notice::new(
                Level::Error,
                "De-identified export failed",
                why,
            )),
            None if jobs.is_running(id) => running.push(id),
            None => {}
        }
    }
    cases.exports = running;
}

/// The decryption landed: the statement, or back to the question with the reason; the
/// recent list names the open case's package, not its temporary folder.
fn land(
    mut cases: ResMut<CasePackages>,
    mut jobs: ResMut<Jobs>,
    mut ws: ResMut<Workspace>,
    mut doc: ResMut<PlanDoc>,
) {
    if let Some((pkg, dir)) = &cases.open {
        if ws.recent.iter().any(|p| p.starts_with(dir.path())) {
            let pkg = pkg.clone();
            let tmp = dir.path().to_path_buf();
            ws.recent.retain(|p| !p.starts_with(&tmp));
            crate::session::prefs::remember(&mut ws.recent, &pkg);
        }
        // The packed plan is read from the temporary folder, which goes with the case:
        // it keeps no file, so Save asks where.
        if doc.path().is_some_and(|p| p.starts_with(dir.path())) {
            doc.forget_file();
            doc.message = Some((
                true,
                "plan opened from the case package: Save asks where to keep it".into(),
            ));
        }
    }
    let Stage::Opening { job, .. } = &cases.stage else {
        return;
    };
    let job = *job;
    let Some(result) = jobs.take::<Opened>(job) else {
        if !jobs.is_running(job) {
            // Cancelled from the status bar.
            cases.stage = Stage::Idle;
        }
        return;
    };
    let Stage::Opening {
        path,
        with_identity,
        identity,
        ..
    } = std::mem::take(&mut cases.stage)
    else {
        return;
    };
    cases.stage = match result {
        Ok((manifest, dir)) => Stage::Statement {
            path,
            manifest: Box::new(manifest),
            dir,
        },
        Err(e) => Stage::Ask {
            path,
            passphrase: String::new(),
            with_identity: with_identity || matches!(e, PackageError::NeedsIdentity),
            identity,
            error: Some(match e {
                PackageError::NeedsIdentity => {
                    "This package is sealed for recipients' keys: choose your identity file."
                        .to_string()
                }
                e => e.to_string(),
            }),
        },
    };
}

fn dialogs(
    mut contexts: EguiContexts,
    mut cases: ResMut<CasePackages>,
    mut jobs: ResMut<Jobs>,
) -> Result {
    if !cases.busy() {
        return Ok(());
    }
    let ctx = contexts.ctx_mut()?;
    let mut next = None;
    let mut open_case = false;
    let mut unlock = None;
    match &mut cases.stage {
        Stage::Idle => {}
        Stage::Ask {
            path,
            passphrase,
            identity,
            with_identity,
            error,
        } => {
            let mut go = false;
            let mut cancel = false;
            egui::Window::new("Open case package")
                .collapsible(false)
                .resizable(false)
                .anchor(egui::Align2::CENTER_CENTER, egui::Vec2::ZERO)
                .show(ctx, |ui| {
                    ui.label(file_name(path));
                    ui.add_space(6.0);
                    ui.horizontal(|ui| {
                        ui.radio_value(with_identity, false, "Passphrase");
                        ui.radio_value(with_identity, true, "Identity file (age key)");
                    });
                    if *with_identity {
                        ui.add(
                            egui::TextEdit::singleline(identity)
                                .hint_text("/path/to/identity.key")
                                .desired_width(360.0),
                        );
                    } else {
                        let r = ui.add(
                            egui::TextEdit::singleline(passphrase)
                                .password(true)
                                .hint_text("passphrase")
                                .desired_width(360.0),
                        );
                        // Enter in the field opens (a single-line field gives up its focus
                        // on Enter); the field takes the keyboard when nothing else has it.
                        let enter = ui.input(|i| i.key_pressed(egui::Key::Enter));
                        if enter && (r.lost_focus() || r.has_focus()) && !passphrase.is_empty() {
                            go = true;
                        } else if ui.memory(|m| m.focused().is_none()) {
                            r.request_focus();
                        }
                    }
                    if let Some(e) = error {
                        ui.add_space(4.0);
                        ui.colored_label(egui::Color32::from_rgb(240, 110, 90), e.as_str());
                    }
                    ui.add_space(6.0);
                    ui.label(
                        egui::RichText::new(
                            "The package is decrypted into a private temporary folder, \
                             removed when the case closes.",
                        )
                        .small()
                        .weak(),
                    );
                    ui.horizontal(|ui| {
                        let ready = if *with_identity {
                            !identity.trim().is_empty()
                        } else {
                            !passphrase.is_empty()
                        };
                        if ui.add_enabled(ready, egui::Button::new("Open")).clicked() {
                            go = true;
                        }
                        if ui.button("Cancel").clicked() {
                            cancel = true;
                        }
                    });
                });
            if cancel {
                passphrase.zeroize();
                next = Some(Stage::Idle);
            } else if go {
                unlock = Some(if *with_identity {
                    Opener::IdentityFile(PathBuf::from(identity.trim()))
                } else {
                    Opener::Passphrase(age::secrecy::SecretString::from(std::mem::take(passphrase)))
                });
            }
        }
        Stage::Opening { path, .. } => {
            egui::Window::new("Open case package")
                .collapsible(false)
                .resizable(false)
                .anchor(egui::Align2::CENTER_CENTER, egui::Vec2::ZERO)
                .show(ctx, |ui| {
                    // No spinner: it repaints every frame, and on a software rasteriser
                    // each frame took the CPU from the decryption (5.6 s for 16 MB).
                    ui.label(format!(
                        "Decrypting {} … (the status bar shows the time)",
                        file_name(path)
                    ));
                });
        }
        Stage::Statement { path, manifest, .. } => {
            let mut open = false;
            let mut cancel = false;
            let images = manifest.images();
            egui::Window::new("Case package: purpose and consent")
                .collapsible(false)
                .resizable(false)
                .anchor(egui::Align2::CENTER_CENTER, egui::Vec2::ZERO)
                .show(ctx, |ui| {
                    statement(ui, path, manifest, &mut open, &mut cancel)
                });
            if cancel {
                next = Some(Stage::Idle);
            } else if open && images > 0 {
                open_case = true;
            }
        }
    }
    if let Some(n) = next {
        cases.set_stage(&mut jobs, n);
    }
    if let Some(key) = unlock {
        cases.unlock(&mut jobs, key);
    }
    if open_case {
        cases.go_on();
    }
    Ok(())
}

/// The statement was accepted: open the case.
fn open_accepted(
    mut cases: ResMut<CasePackages>,
    mut jobs: ResMut<Jobs>,
    mut pending: ResMut<PendingPlan>,
    ws: Res<Workspace>,
    mut actions: MessageWriter<UiAction>,
) {
    if std::mem::take(&mut cases.accepted) {
        open_the_case(&mut cases, &mut jobs, &mut pending, &ws, &mut actions);
    }
}
/// The user went on: the opening recorded, the series opened with the packed plan.
fn open_the_case(
    cases: &mut CasePackages,
    jobs: &mut Jobs,
    pending: &mut PendingPlan,
    ws: &Workspace,
    actions: &mut MessageWriter<UiAction>,
) {
    if let Stage::Statement {
        path,
        manifest,
        dir,
    } = std::mem::take(&mut cases.stage)
    {
        let detail = manifest.audit_detail();
        let (p, by) = (
            path.display().to_string(),
            manifest.consent.recorded_by.clone(),
        );
        jobs.task("recording the case in the audit trail", move |_| {
            if let Some(why) = crate::audit::record(
                crate::audit::Action::OpenPackage,
                &[("package", p.as_str()), ("recorded_by", by.as_str())],
                &detail,
            ) {
                tracing::warn!("case opened, not recorded in the audit trail: {why}");
            }
        });
        if manifest.has_plan() {
            pending.file = Some(package::plan_path(dir.path()));
            pending.after_volume = ws.volume_revision;
        }
        actions.write(UiAction::Open(dir.path().join("images")));
        // The previous case's folder goes now (in a job); this one's when the next opens.
        if let Some((_, old)) = cases.open.replace((path, dir)) {
            discard(jobs, old);
        }
    }
}

/// The statement and what the package holds, with Open / Cancel.
fn statement(
    ui: &mut egui::Ui,
    path: &Path,
    manifest: &Manifest,
    open: &mut bool,
    cancel: &mut bool,
) {
    let c = &manifest.consent;
    ui.label(egui::RichText::new(file_name(path)).strong());
    ui.add_space(6.0);
    egui::Grid::new("package_statement")
        .num_columns(2)
        .spacing([16.0, 6.0])
        .show(ui, |ui| {
            ui.label("Purpose of use");
            ui.label(egui::RichText::new(c.purpose.name()).strong());
            ui.end_row();
            ui.label("Patient consent");
            if c.consent_obtained {
                ui.label(egui::RichText::new("obtained").strong());
            } else {
                ui.label(
                    egui::RichText::new("NOT obtained")
                        .strong()
                        .color(egui::Color32::from_rgb(240, 170, 60)),
                );
            }
            ui.end_row();
            ui.label("Recorded by");
            ui.label(c.recorded_by.trim());
            ui.end_row();
            if !c.note.trim().is_empty() {
                ui.label("Note");
                ui.label(c.note.trim());
                ui.end_row();
            }
            ui.label("Packaged");
            ui.label(format!("{} ({})", manifest.created, manifest.tool));
            ui.end_row();
            ui.label("Contents");
            ui.label(format!(
                "{}{} surface(s), {} de-identified image(s)",
                if manifest.has_plan() {
                    "the plan, "
                } else {
                    ""
                },
                manifest.surfaces(),
                manifest.images()
            ));
            ui.end_row();
        });
    ui.add_space(6.0);
    if manifest.images() == 0 {
        ui.label(
            "This package carries no images, so its plan has no series to open on here. \
             `twinplan unpack` writes its plan and surfaces (STL) into a folder.",
        );
    } else {
        ui.label(
            egui::RichText::new(
                "Use this case only for the purpose stated. Opening it is recorded in the \
                 audit trail.",
            )
            .small()
            .weak(),
        );
    }
    ui.horizontal(|ui| {
        if ui
            .add_enabled(manifest.images() > 0, egui::Button::new("Open the case"))
            .clicked()
        {
            *open = true;
        }
        if ui.button("Cancel").clicked() {
            *cancel = true;
        }
    });
}

fn file_name(path: &Path) -> String {
    path.file_name()
        .map(|n| n.to_string_lossy().to_string())
        .unwrap_or_else(|| path.display().to_string())
}
