//! The workstation's panels, as functions over the state that emit [`UiAction`]s: menu bar,
//! patient banner (with the Anonymous toggle), series browser, structures, window presets,
//! status bar with background jobs (progress, Cancel) and notices, the Open dialog,
//! the help window, and the view area (four-up or one view; the 3D view's rectangle is
//! handed to `scene`). [`workstation_ui`] draws everything into an `egui::Context`, so tests
//! can run it on a bare context and read back every string on screen.

use std::path::{Path, PathBuf};

use bevy_egui::egui::{self, Color32, RichText};

use super::file_dialog::FileDialog;
use super::markups;
use super::overlay::{self, Tools};
use super::paint::{OVERLAY_BACKING, overlay_text};
use super::slices::{SliceCache, SlicePane, plane_colour, slice_view};
use super::state::{
    Seen, StructureItem, ThreeDOptions, UiAction, ViewState, Workspace, plane_index,
};
use crate::plan::recipe::Recipe;
use crate::segment::Preset;
use crate::session::Level;
use crate::session::banner::Banner;
use crate::session::camera::StandardView;
use crate::session::layout::{Layout, Rect as ViewRect, ViewId, WheelSteps};
use crate::session::modality;
use crate::session::readout::Convention;
use crate::volume::display::{CT_PRESETS, Plane, WindowLevel, auto_window};

mod panels;
mod view3d;
pub use panels::*;
use view3d::*;

/// A running job as the status bar shows it.
#[derive(Debug, Clone)]
pub struct JobLine {
    /// The job's id ([`JobLine::NOT_A_JOB`] for a step that is no job and cannot be cancelled).
    pub id: u64,
    pub label: String,
    pub fraction: Option<f32>,
    pub seconds: f64,
}

impl JobLine {
    /// The id of a line that shows a step of the viewer's own (the volume's upload).
    pub const NOT_A_JOB: u64 = u64::MAX;
}

/// Panel-local state (not part of the document).
#[derive(bevy::prelude::Resource)]
pub struct UiState {
    pub dialog: Option<FileDialog>,
    /// The id of the notice whose details are open.
    pub notice_open: Option<u64>,
    pub help_open: bool,
    pub add_preset: Preset,
    pub add_range: (f64, f64),
    pub add_name: String,
    /// Hide the panels (headless renders of the views alone).
    pub bare: bool,
    pub screenshot_requested: bool,
    pub last_screenshot: Option<PathBuf>,
    /// Wheel motion not yet turned into whole slices, per slice view.
    pub wheel: [WheelSteps; 3],
    /// The texture the anatomy camera renders the 3D view into (None until it exists).
    pub scene_texture: Option<egui::TextureId>,
    /// Stereo: the mode and the right eye's texture (the scene texture is the left eye's).
    pub stereo: (crate::dvr::stereo::StereoMode, Option<egui::TextureId>),
}

impl Default for UiState {
    fn default() -> Self {
        UiState {
            dialog: None,
            notice_open: None,
            help_open: false,
            add_preset: Preset::Bone,
            add_range: (150.0, 3000.0),
            add_name: "custom".into(),
            bare: false,
            screenshot_requested: false,
            last_screenshot: None,
            wheel: [WheelSteps::default(); 3],
            scene_texture: None,
            stereo: (crate::dvr::stereo::StereoMode::Off, None),
        }
    }
}

const MOUSE_HELP: &str = "Slices: click = move cursor · wheel = next/previous slice · right-drag = window (x) / level (y) · middle- or shift-drag = pan · ctrl-wheel = zoom · double-click = one view\n\
3D: left-drag = orbit · middle- or shift-drag = pan · right-drag or wheel = zoom · Shift + A P L R S I = standard views · Home = reset\n\
Measure: D distance · A angle · L landmark · C curve, then click on a slice or a surface · Enter or double-click ends a curve · Esc cancels · drag a point to move it · Ctrl+Z undo · Ctrl+Shift+Z redo · Ctrl+S save plan\n\
Paths: New path (Catheter paths panel), then click the entry, any waypoints and the target on a slice or a surface · Enter or double-click plans · Esc cancels · drag a stop to re-plan (a stop dropped where the lumen does not reach stays where it last was) · hover the profile to read a point\n\
Keys 1–4 = axial, coronal, sagittal, 3D alone (again = four-up) · 0 = four-up";

fn level_colour(level: Level) -> Color32 {
    match level {
        Level::Info => Color32::from_rgb(150, 190, 230),
        Level::Warning => Color32::from_rgb(235, 190, 80),
        Level::Error => Color32::from_rgb(240, 100, 90),
    }
}

/// Applies the house look once (dark, clinical, readable).
pub fn style(ctx: &egui::Context) {
    ctx.set_visuals(egui::Visuals::dark());
    ctx.all_styles_mut(|s| {
        s.spacing.item_spacing = egui::vec2(8.0, 5.0);
        s.text_styles
            .insert(egui::TextStyle::Body, egui::FontId::proportional(14.0));
        s.text_styles
            .insert(egui::TextStyle::Button, egui::FontId::proportional(14.0));
    });
}

/// Draws the whole workstation; returns where the 3D view went (None when not shown).
pub fn workstation_ui(
    ctx: &egui::Context,
    seen: Seen,
    jobs: &[JobLine],
    cache: &mut SliceCache,
    st: &mut UiState,
    actions: &mut Vec<UiAction>,
    t: &mut Tools,
) -> Option<ViewRect> {
    let Seen { ws, view } = seen;
    cache.begin_frame();
    let mut root = egui::Ui::new(
        ctx.clone(),
        "root".into(),
        egui::UiBuilder::new()
            .layer_id(egui::LayerId::background())
            .max_rect(ctx.viewport_rect()),
    );
    keyboard(ctx, actions);
    markups::keys(ctx, ws, &mut t.doc, t.tool, actions);
    if !st.bare {
        egui::Panel::top("menu").show(&mut root, |ui| menu_bar(ui, ws, view, st, actions, t));
        egui::Panel::top("banner")
            .frame(
                egui::Frame::new()
                    .fill(Color32::from_rgb(28, 36, 48))
                    .inner_margin(egui::Margin::symmetric(10, 6)),
            )
            .show(&mut root, |ui| banner_ui(ui, ws, view, actions));
        egui::Panel::bottom("status")
            .show(&mut root, |ui| status_bar(ui, ws, view, jobs, st, actions));
        super::paths::profile_panel(&mut root, ws, view, &t.doc, t.paths);
        egui::Panel::left("left")
            .resizable(true)
            .default_size(330.0)
            .min_size(260.0)
            .show(&mut root, |ui| {
                egui::ScrollArea::vertical().show(ui, |ui| {
                    series_browser(ui, ws, view, actions);
                    ui.separator();
                    structures_panel(ui, ws, view, st, actions);
                    super::edit::edit_panel(ui, ws, &mut t.doc, t.edit);
                    ui.separator();
                    super::volume_panel::volume_panel(
                        ui,
                        ws,
                        &view.camera,
                        t.volume,
                        t.volume_panel,
                    );
                    ui.separator();
                    markups::plan_panel(ui, ws, view, &mut t.doc, t.tool, actions);
                    ui.separator();
                    super::paths::paths_panel(ui, ws, &mut t.doc, t.tool, t.paths);
                    ui.separator();
                    window_panel(ui, ws, view, actions);
                });
            });
    }
    let area = root.available_rect_before_wrap();
    let area = ViewRect::new(area.left(), area.top(), area.width(), area.height());
    let mut three_d = None;
    for (view_id, rect) in view.layout.arrange(area, 3.0) {
        match view_id.plane() {
            Some(plane) => {
                let wheel = &mut st.wheel[plane_index(plane)];
                slice_view(
                    &mut root,
                    seen,
                    cache,
                    SlicePane { plane, rect },
                    wheel,
                    actions,
                    t,
                )
            }
            None => {
                three_d = Some(rect);
                view_3d_overlay(
                    &mut root,
                    ws,
                    view,
                    rect,
                    (st.scene_texture, st.stereo),
                    actions,
                    t,
                );
            }
        }
    }
    // Slices shown in 3D need their pixels even when their own views are hidden.
    if view.options_3d.show_slices {
        for plane in Plane::ALL {
            cache.refresh(ctx, ws, view, plane);
        }
    }
    if !st.bare {
        dialogs(ctx, ws, view, st, actions);
        let scrub = |text: &str| {
            ws.banner()
                .map_or_else(|| text.to_string(), |b| b.scrub(text, view.anonymous))
        };
        markups::dialogs(ctx, &mut t.doc, t.tool, actions, &scrub);
    }
    three_d
}

fn keyboard(ctx: &egui::Context, actions: &mut Vec<UiAction>) {
    if ctx.memory(|m| m.focused().is_some()) {
        return;
    }
    ctx.input(|i| {
        for (key, view) in [
            (egui::Key::Num1, ViewId::Axial),
            (egui::Key::Num2, ViewId::Coronal),
            (egui::Key::Num3, ViewId::Sagittal),
            (egui::Key::Num4, ViewId::ThreeD),
        ] {
            if i.key_pressed(key) {
                actions.push(UiAction::ToggleView(view));
            }
        }
        if i.key_pressed(egui::Key::Num0) {
            actions.push(UiAction::SetLayout(Layout::FourUp));
        }
        for (key, v) in [
            (egui::Key::A, StandardView::Anterior),
            (egui::Key::P, StandardView::Posterior),
            (egui::Key::L, StandardView::Left),
            (egui::Key::R, StandardView::Right),
            (egui::Key::S, StandardView::Superior),
            (egui::Key::I, StandardView::Inferior),
        ] {
            // Shift: the plain letters D, A, L, C choose the measuring tools.
            if i.key_pressed(key) && i.modifiers.shift && !i.modifiers.ctrl && !i.modifiers.command
            {
                actions.push(UiAction::StandardView(v));
            }
        }
        if i.key_pressed(egui::Key::Home) {
            actions.push(UiAction::ResetCamera);
        }
        if i.key_pressed(egui::Key::Q) && i.modifiers.command {
            actions.push(UiAction::Quit);
        }
    });
}

fn menu_bar(
    ui: &mut egui::Ui,
    ws: &Workspace,
    view: &ViewState,
    st: &mut UiState,
    actions: &mut Vec<UiAction>,
    t: &mut Tools,
) {
    egui::MenuBar::new().ui(ui, |ui| {
        ui.menu_button("File", |ui| {
            if ui.button("Open folder or file…").clicked() {
                let start = ws
                    .catalog
                    .as_ref()
                    .and_then(|c| c.source.parent().map(Path::to_path_buf))
                    .or_else(|| std::env::current_dir().ok())
                    .unwrap_or_else(|| PathBuf::from("/"));
                st.dialog = Some(FileDialog::open_study(&start));
                ui.close();
            }
            ui.menu_button("Open recent", |ui| {
                if ws.recent.is_empty() {
                    ui.label("(none yet)");
                }
                for p in &ws.recent {
                    let shown = ws
                        .banner()
                        .map(|b| b.scrub(&p.display().to_string(), view.anonymous))
                        .unwrap_or_else(|| p.display().to_string());
                    if ui.button(shown).clicked() {
                        actions.push(UiAction::Open(p.clone()));
                        ui.close();
                    }
                }
            });
            if let Some(sample) = crate::session::open::sample_path()
                && ui.button("Open the bundled sample").clicked()
            {
                actions.push(UiAction::Open(sample));
                ui.close();
            }
            ui.separator();
            markups::file_menu(ui, ws, &t.doc, t.tool, actions);
            ui.separator();
            if ui.button("Save screenshot (PNG)").clicked() {
                st.screenshot_requested = true;
                ui.close();
            }
            ui.separator();
            if ui.button("Quit   Ctrl+Q").clicked() {
                actions.push(UiAction::Quit);
                ui.close();
            }
        });
        ui.menu_button("Edit", |ui| markups::edit_menu(ui, &mut t.doc));
        ui.menu_button("View", |ui| {
            if ui.button("Four-up   0").clicked() {
                actions.push(UiAction::SetLayout(Layout::FourUp));
                ui.close();
            }
            for v in ViewId::ALL {
                if ui
                    .button(format!("{} alone   {}", v.name(), v.key()))
                    .clicked()
                {
                    actions.push(UiAction::SetLayout(Layout::Single(v)));
                    ui.close();
                }
            }
            ui.separator();
            ui.menu_button("Stereo", |ui| {
                super::volume_panel::stereo_menu(ui, &view.camera, t.volume);
            });
            ui.menu_button("Coordinates", |ui| {
                for c in Convention::ALL {
                    if ui
                        .selectable_label(view.coordinates == c, c.name())
                        .clicked()
                    {
                        actions.push(UiAction::SetCoordinates(c));
                        ui.close();
                    }
                }
            });
        });
        ui.menu_button("Help", |ui| {
            if ui.button("Mouse and keys").clicked() {
                st.help_open = true;
                ui.close();
            }
        });
    });
}

fn banner_ui(ui: &mut egui::Ui, ws: &Workspace, view: &ViewState, actions: &mut Vec<UiAction>) {
    ui.horizontal(|ui| {
        match ws.banner() {
            Some(b) => {
                ui.label(
                    RichText::new(b.identity_line(view.anonymous))
                        .size(17.0)
                        .strong()
                        .color(Color32::WHITE),
                );
                ui.separator();
                ui.label(
                    RichText::new(b.series_line(view.anonymous))
                        .size(15.0)
                        .color(Color32::from_gray(200)),
                );
            }
            None => {
                ui.label(
                    RichText::new("No study open")
                        .size(17.0)
                        .color(Color32::from_gray(180)),
                );
            }
        }
        ui.with_layout(egui::Layout::right_to_left(egui::Align::Center), |ui| {
            let mut anon = view.anonymous;
            if ui
                .toggle_value(&mut anon, "Anonymous")
                .on_hover_text(
                    "Hide name, ID, birth and study dates and the free-text descriptions \
                     everywhere (teaching, screenshots)",
                )
                .changed()
            {
                actions.push(UiAction::SetAnonymous(anon));
            }
        });
    });
}

fn status_bar(
    ui: &mut egui::Ui,
    ws: &Workspace,
    view: &ViewState,
    jobs: &[JobLine],
    st: &mut UiState,
    actions: &mut Vec<UiAction>,
) {
    ui.horizontal(|ui| {
        // Items with a separator between them, none trailing.
        let mut first = true;
        let mut gap = |ui: &mut egui::Ui| {
            if !std::mem::replace(&mut first, false) {
                ui.separator();
            }
        };
        for j in jobs {
            gap(ui);
            ui.label(&j.label);
            let bar = match j.fraction {
                Some(f) => egui::ProgressBar::new(f)
                    .desired_width(140.0)
                    .show_percentage(),
                // Not animated: an animation redraws the window continuously, and on a
                // software rasteriser that takes the CPU from the work it shows.
                None => egui::ProgressBar::new(0.0)
                    .desired_width(140.0)
                    .text(format!("{:.0} s", j.seconds)),
            };
            ui.add(bar);
            if j.id != JobLine::NOT_A_JOB && ui.small_button("Cancel").clicked() {
                actions.push(UiAction::Cancel(j.id));
            }
        }
        if jobs.is_empty() {
            gap(ui);
            ui.label(RichText::new("Ready").color(Color32::from_gray(170)));
        }
        let n = ws.notices.len();
        for shown in ws.notices.iter().skip(n.saturating_sub(3)) {
            gap(ui);
            let notice = &shown.notice;
            let summary = match ws.banner() {
                Some(b) => b.scrub(&notice.summary, view.anonymous),
                None => notice.summary.clone(),
            };
            let r = ui.add(
                egui::Label::new(
                    RichText::new(format!("● {summary}")).color(level_colour(notice.level)),
                )
                .sense(egui::Sense::click()),
            );
            if r.on_hover_text("Click for details").clicked() {
                st.notice_open = Some(shown.id);
            }
        }
        if let Some(p) = &st.last_screenshot {
            gap(ui);
            ui.label(RichText::new(format!("saved {}", p.display())).small());
        }
    });
    ui.label(
        RichText::new(MOUSE_HELP.lines().next().unwrap_or(""))
            .size(12.5)
            .color(Color32::from_gray(165)),
    );
}

fn dialogs(
    ctx: &egui::Context,
    ws: &Workspace,
    view: &ViewState,
    st: &mut UiState,
    actions: &mut Vec<UiAction>,
) {
    if let Some(id) = st.notice_open {
        match ws.notices.iter().find(|n| n.id == id) {
            Some(shown) => {
                let n = &shown.notice;
                let scrub = |t: &str| match ws.banner() {
                    Some(b) => b.scrub(t, view.anonymous),
                    None => t.to_string(),
                };
                let mut open = true;
                egui::Window::new(RichText::new(scrub(&n.summary)).color(level_colour(n.level)))
                    .id(egui::Id::new("notice"))
                    .open(&mut open)
                    .collapsible(false)
                    .show(ctx, |ui| {
                        egui::ScrollArea::vertical()
                            .max_height(300.0)
                            .show(ui, |ui| {
                                ui.label(scrub(&n.details));
                            });
                        if ui.button("Dismiss").clicked() {
                            actions.push(UiAction::DismissNotice(id));
                            st.notice_open = None;
                        }
                    });
                if !open {
                    st.notice_open = None;
                }
            }
            None => st.notice_open = None,
        }
    }
    if st.help_open {
        let mut open = true;
        egui::Window::new("Mouse and keys")
            .open(&mut open)
            .show(ctx, |ui| {
                for line in MOUSE_HELP.lines() {
                    for part in line.split(" · ") {
                        ui.label(part);
                    }
                    ui.separator();
                }
            });
        st.help_open = open;
    }
    if let Some(d) = &mut st.dialog {
        let (chosen, open) = d.show(ctx);
        if let Some(c) = &chosen {
            actions.push(UiAction::Open(c.path().to_path_buf()));
        }
        if chosen.is_some() || !open {
            st.dialog = None;
        }
    }
}

#[cfg(test)]
mod tests;
