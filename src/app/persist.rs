//! What the workstation keeps between sessions, in the user's config folder
//! (`session::prefs::config_dir`): the preferences (recent studies and plans, window size,
//! layout, the Anonymous default), read at start and written when they change; and the
//! recovery copy of a plan with unsaved edits (`plan::recovery`), written every 60 s and at
//! every tenth edit, removed once the plan is saved, kept when the window closes with
//! edits unsaved, and offered back at the next start. Only interactive sessions use it:
//! `render` and frame-log runs neither read nor write the user's files. File formats and
//! their atomic writes are the core's; this module decides when.

use std::path::PathBuf;
use std::time::{Duration, Instant};

use bevy::prelude::*;

use super::document::PlanDoc;
use super::markups::MarkupTool;
use super::state::{ViewState, Workspace};
use crate::plan::file::{PlanFile, Reference};
use crate::plan::recovery::{self, Recovery};
use crate::session::prefs::{self, Prefs};
use crate::session::{Level, Notice};

/// The preferences as in use and as last written.
#[derive(Resource)]
pub struct UserPrefs {
    dir: PathBuf,
    pub prefs: Prefs,
    written: Prefs,
    last_write: Option<Instant>,
}

/// When the recovery copy was last written, at which edit count, and whether one exists.
#[derive(Resource)]
struct Autosave {
    last: Instant,
    edits_at_last: usize,
    exists: bool,
}

pub struct PersistPlugin {
    pub dir: PathBuf,
}

impl Plugin for PersistPlugin {
    fn build(&self, app: &mut App) {
        let (loaded, warning) = prefs::load(&self.dir);
        let offered = match recovery::read(&self.dir) {
            Some(Ok(r)) => Some(Box::new(r)),
            Some(Err(why)) => {
                tracing::warn!("recovery copy not read: {why}");
                None
            }
            None => None,
        };
        let found = offered.is_some();
        let world = app.world_mut();
        {
            let mut view = world.resource_mut::<ViewState>();
            if let Some(layout) = loaded.layout {
                view.layout = layout;
            }
            view.anonymous = loaded.anonymous;
            let mut ws = world.resource_mut::<Workspace>();
            ws.recent = loaded.recent_studies.clone();
            if let Some(w) = warning {
                ws.notify(Notice::new(
                    Level::Warning,
                    "Preferences not read",
                    format!("{w}."),
                ));
            }
        }
        {
            let mut tool = world.resource_mut::<MarkupTool>();
            tool.recent_plans = loaded.recent_plans.clone();
            tool.offered_recovery = offered;
        }
        app.insert_resource(UserPrefs {
            dir: self.dir.clone(),
            written: loaded.clone(),
            prefs: loaded,
            last_write: None,
        })
        .insert_resource(Autosave {
            last: Instant::now(),
            edits_at_last: 0,
            exists: found,
        })
        .add_systems(Update, (remember_prefs, autosave))
        .add_systems(Last, on_exit);
    }
}

fn current_prefs(
    up: &UserPrefs,
    ws: &Workspace,
    view: &ViewState,
    doc: &PlanDoc,
    windows: &Query<&Window>,
) -> Prefs {
    let mut p = up.prefs.clone();
    p.recent_studies = ws.recent.clone();
    if let Some(path) = doc.path()
        && p.recent_plans.first().map(PathBuf::as_path) != Some(path)
    {
        prefs::remember(&mut p.recent_plans, path);
    }
    p.layout = Some(view.layout);
    p.anonymous = view.anonymous;
    if let Some(w) = windows.iter().next() {
        p.window_size = Some((w.width().round() as u32, w.height().round() as u32));
    }
    p
}

fn write_prefs(up: &mut UserPrefs) {
    match prefs::save(&up.dir, &up.prefs) {
        Ok(()) => up.written = up.prefs.clone(),
        Err(e) => tracing::warn!("preferences not written: {}", e.kind()),
    }
    up.last_write = Some(Instant::now());
}

/// Writes the preferences when they change (at most once a second: a window being resized
/// changes them every frame).
fn remember_prefs(
    ws: Res<Workspace>,
    view: Res<ViewState>,
    doc: Res<PlanDoc>,
    windows: Query<&Window>,
    mut up: ResMut<UserPrefs>,
    mut tool: ResMut<MarkupTool>,
) {
    let now = current_prefs(&up, &ws, &view, &doc, &windows);
    if now == up.prefs {
        return;
    }
    if now.recent_plans != up.prefs.recent_plans {
        tool.recent_plans = now.recent_plans.clone();
    }
    up.prefs = now;
    if up.prefs != up.written
        && up
            .last_write
            .is_none_or(|t| t.elapsed() > Duration::from_secs(1))
    {
        write_prefs(&mut up);
    }
}

fn recovery_of(ws: &Workspace, doc: &PlanDoc) -> Option<Recovery> {
    let loaded = ws.loaded.as_ref()?;
    let study = ws.catalog.as_ref()?.source.clone();
    let file = PlanFile::new(Reference::of(&loaded.volume), doc.plan().clone());
    Some(Recovery::new(&study, doc.path(), file))
}

fn write_recovery(dir: &std::path::Path, ws: &Workspace, doc: &PlanDoc) -> bool {
    let Some(r) = recovery_of(ws, doc) else {
        return false;
    };
    match recovery::write(dir, &r) {
        Ok(()) => true,
        Err(e) => {
            tracing::warn!("recovery copy not written: {}", e.kind());
            false
        }
    }
}

/// Keeps the recovery copy: every 60 s and every tenth edit while there are unsaved edits;
/// gone once they are saved. The last session's copy stays untouched while it is offered.
fn autosave(
    ws: Res<Workspace>,
    doc: Res<PlanDoc>,
    up: Res<UserPrefs>,
    tool: Res<MarkupTool>,
    mut a: ResMut<Autosave>,
) {
    if tool.offered_recovery.is_some() {
        return;
    }
    let edits = doc.edits_since_save();
    if !doc.dirty() {
        if a.exists {
            recovery::clear(&up.dir);
            a.exists = false;
        }
        a.edits_at_last = 0;
        return;
    }
    if edits < a.edits_at_last {
        a.edits_at_last = 0;
    }
    let new_edits = edits - a.edits_at_last;
    let due = new_edits >= recovery::EVERY_EDITS
        || (new_edits > 0 && a.last.elapsed().as_secs_f64() >= recovery::EVERY_S);
    if due && write_recovery(&up.dir, &ws, &doc) {
        a.exists = true;
        a.edits_at_last = edits;
        a.last = Instant::now();
    }
}

/// On the way out: the preferences as they stand; the recovery copy kept (fresh) when
/// edits are unsaved, else removed.
fn on_exit(
    mut exits: MessageReader<AppExit>,
    ws: Res<Workspace>,
    view: Res<ViewState>,
    doc: Res<PlanDoc>,
    windows: Query<&Window>,
    mut up: ResMut<UserPrefs>,
    tool: Res<MarkupTool>,
) {
    if exits.read().next().is_none() {
        return;
    }
    up.prefs = current_prefs(&up, &ws, &view, &doc, &windows);
    if up.prefs != up.written {
        write_prefs(&mut up);
    }
    if tool.offered_recovery.is_some() {
        // Neither taken nor discarded: offered again next time.
    } else if doc.dirty() {
        write_recovery(&up.dir, &ws, &doc);
    } else {
        recovery::clear(&up.dir);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::app::LogicPlugin;
    use crate::app::markups::MeasurementsPlugin;
    use crate::app::state::{Jobs, UiAction};
    use crate::document::Command;
    use crate::plan::{MarkupKind, placing::Placement};

    fn app_in(dir: &std::path::Path) -> App {
        let mut app = App::new();
        app.add_plugins((MinimalPlugins, LogicPlugin, MeasurementsPlugin));
        app.add_plugins(PersistPlugin {
            dir: dir.to_path_buf(),
        });
        app
    }

    fn open_sample(app: &mut App) {
        let sample = crate::session::open::sample_path().expect("bundled sample");
        app.world_mut().write_message(UiAction::Open(sample));
        let t = Instant::now();
        loop {
            app.update();
            let ws = app.world().resource::<Workspace>();
            if ws.loaded.is_some() && app.world().resource::<Jobs>().is_idle() {
                break;
            }
            assert!(t.elapsed() < Duration::from_secs(300), "did not load");
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    #[test]
    fn unsaved_edits_are_copied_every_tenth_edit_and_offered_back_at_the_next_start() {
        let dir = tempfile::tempdir().expect("tempdir");
        let mut app = app_in(dir.path());
        open_sample(&mut app);
        for k in 0..10 {
            {
                let mut doc = app.world_mut().resource_mut::<PlanDoc>();
                let id = doc.new_id();
                let m = Placement {
                    kind: MarkupKind::Landmark,
                    points: vec![[k as f64, 0.0, -200.0]],
                }
                .finish_as(doc.plan(), id)
                .expect("complete");
                assert!(doc.edit(Command::AddMarkup(m)));
            }
            app.update();
            let copied = recovery::read(dir.path()).is_some();
            assert_eq!(
                copied,
                k == 9,
                "copied only at the tenth edit (edit {})",
                k + 1
            );
        }
        let markups = app.world().resource::<PlanDoc>().plan().markups.clone();
        // The session ends without saving (as a crash would): the next start offers it.
        drop(app);
        let mut next = app_in(dir.path());
        let offered = next
            .world()
            .resource::<MarkupTool>()
            .offered_recovery
            .as_ref()
            .map(|r| r.plan.plan.markups.len());
        assert_eq!(offered, Some(10));
        next.world_mut().write_message(UiAction::RecoverPlan);
        open_sample(&mut next);
        let doc = next.world().resource::<PlanDoc>();
        assert_eq!(doc.plan().markups, markups);
        assert!(doc.dirty(), "recovered, still unsaved");
        // Saved: the copy goes.
        let path = dir.path().join("case.twinplan.json");
        // Saved (a job): the copy goes, and the save is no undo step.
        let steps = next.world().resource::<PlanDoc>().undo_steps();
        next.world_mut()
            .write_message(UiAction::SavePlan(path.clone()));
        let t = Instant::now();
        while next.world().resource::<PlanDoc>().dirty() {
            next.update();
            assert!(t.elapsed() < Duration::from_secs(60), "not saved");
            std::thread::sleep(Duration::from_millis(5));
        }
        assert_eq!(next.world().resource::<PlanDoc>().undo_steps(), steps);
        next.update();
        assert!(recovery::read(dir.path()).is_none());
        // The preferences remember the study and the plan.
        next.update();
        std::thread::sleep(Duration::from_millis(1100));
        next.update();
        let (p, warning) = prefs::load(dir.path());
        assert!(warning.is_none());
        assert_eq!(p.recent_plans.first(), Some(&path));
        assert!(!p.recent_studies.is_empty());
    }

    #[test]
    fn damaged_preferences_are_ignored_with_a_notice() {
        let dir = tempfile::tempdir().expect("tempdir");
        std::fs::write(dir.path().join("preferences.json"), b"{oops").expect("writes");
        let app = app_in(dir.path());
        let ws = app.world().resource::<Workspace>();
        assert!(
            ws.notices
                .iter()
                .any(|n| n.notice.summary == "Preferences not read")
        );
    }
}
