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
use super::slices::{SliceCache, plane_colour, slice_view};
use super::state::{StructureItem, ThreeDOptions, UiAction, ViewState, Workspace, plane_index};
use crate::plan::recipe::Recipe;
use crate::segment::Preset;
use crate::session::Level;
use crate::session::banner::Banner;
use crate::session::camera::StandardView;
use crate::session::layout::{Layout, Rect as ViewRect, ViewId, WheelSteps};
use crate::session::modality;
use crate::session::readout::Convention;
use crate::volume::display::{CT_PRESETS, Plane, WindowLevel, auto_window};

/// A running job as the status bar shows it.
#[derive(Debug, Clone)]
pub struct JobLine {
    pub id: u64,
    pub label: String,
    pub fraction: Option<f32>,
    pub seconds: f64,
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
        }
    }
}

const MOUSE_HELP: &str = "Slices: click = move cursor · wheel = next/previous slice · right-drag = window (x) / level (y) · middle- or shift-drag = pan · ctrl-wheel = zoom · double-click = one view\n\
3D: left-drag = orbit · middle- or shift-drag = pan · right-drag or wheel = zoom · Shift + A P L R S I = standard views · Home = reset\n\
Measure: D distance · A angle · L landmark · C curve, then click on a slice or a surface · Enter or double-click ends a curve · Esc cancels · drag a point to move it · Ctrl+Z undo · Ctrl+Shift+Z redo · Ctrl+S save plan\n\
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
#[allow(clippy::too_many_arguments)]
pub fn workstation_ui(
    ctx: &egui::Context,
    ws: &Workspace,
    view: &ViewState,
    jobs: &[JobLine],
    cache: &mut SliceCache,
    st: &mut UiState,
    actions: &mut Vec<UiAction>,
    t: &mut Tools,
) -> Option<ViewRect> {
    cache.begin_frame();
    let mut root = egui::Ui::new(
        ctx.clone(),
        "root".into(),
        egui::UiBuilder::new()
            .layer_id(egui::LayerId::background())
            .max_rect(ctx.viewport_rect()),
    );
    keyboard(ctx, actions);
    markups::keys(ctx, t.doc, t.tool, actions);
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
        super::paths::profile_panel(&mut root, ws, view, t.doc, t.paths);
        egui::Panel::left("left")
            .resizable(true)
            .default_size(330.0)
            .min_size(260.0)
            .show(&mut root, |ui| {
                egui::ScrollArea::vertical().show(ui, |ui| {
                    series_browser(ui, ws, view, actions);
                    ui.separator();
                    structures_panel(ui, ws, view, st, actions);
                    ui.separator();
                    markups::plan_panel(ui, ws, view, t.doc, t.tool, actions);
                    ui.separator();
                    super::paths::paths_panel(ui, ws, t.doc, t.tool, t.paths);
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
                slice_view(&mut root, ws, view, cache, plane, rect, wheel, actions, t)
            }
            None => {
                three_d = Some(rect);
                view_3d_overlay(&mut root, ws, view, rect, st.scene_texture, actions, t);
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
        markups::dialogs(ctx, t.tool, actions);
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
            markups::file_menu(ui, ws, t.doc, t.tool, actions);
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
        ui.menu_button("Edit", |ui| markups::edit_menu(ui, t.doc));
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

fn series_browser(
    ui: &mut egui::Ui,
    ws: &Workspace,
    view: &ViewState,
    actions: &mut Vec<UiAction>,
) {
    ui.heading("Series");
    let Some(catalog) = &ws.catalog else {
        ui.label("Open a DICOM folder or a NIfTI file (File ▸ Open, or drop it on the window).");
        return;
    };
    let current = ws.loaded.as_ref().map(|l| l.key.as_str());
    for (si, study) in catalog.studies.iter().enumerate() {
        let date = Banner::shown_date(&study.date, view.anonymous);
        let patient = if catalog.identities.len() > 1 {
            format!("Patient {}", study.patient + 1)
        } else {
            String::new()
        };
        let description = Banner::shown_description(&study.description, view.anonymous);
        // Only the parts there are, joined: no dangling " · ".
        let parts: Vec<&str> = [patient.as_str(), description, date.as_str()]
            .into_iter()
            .filter(|p| !p.is_empty())
            .collect();
        let title = if description.is_empty() {
            format!("Study {}", parts.join(" · "))
        } else {
            parts.join(" · ")
        };
        egui::CollapsingHeader::new(RichText::new(title).strong())
            .id_salt(("study", si))
            .default_open(true)
            .show(ui, |ui| {
                for s in &study.series {
                    let selected = current == Some(s.key.as_str());
                    let num = s.number.map(|n| format!("#{n} ")).unwrap_or_default();
                    // The loaded series shows the modality it is treated as.
                    let modality = match (&ws.loaded, selected) {
                        (Some(l), true) => l.modality.as_str(),
                        _ => s.modality.as_str(),
                    };
                    let desc = match Banner::shown_description(&s.description, view.anonymous) {
                        "" if view.anonymous => "",
                        "" => "(no description)",
                        d => d,
                    };
                    let text = format!(
                        "{num}{modality} {desc}\n{}×{}×{}{}{}",
                        s.dims[0],
                        s.dims[1],
                        s.dims[2],
                        s.spacing_mm
                            .map(|sp| format!("  {:.2}×{:.2}×{:.2} mm", sp[0], sp[1], sp[2]))
                            .unwrap_or_default(),
                        if s.localizer { "  localizer" } else { "" }
                    );
                    let mut r = ui.selectable_label(selected, text.trim_end());
                    if !s.notes.is_empty() {
                        r = r.on_hover_text(s.notes.join("\n"));
                        ui.label(
                            RichText::new(format!("⚠ {}", s.notes[0]))
                                .small()
                                .color(level_colour(Level::Warning)),
                        );
                    }
                    if r.clicked() && !selected {
                        actions.push(UiAction::LoadSeries(s.key.clone()));
                    }
                    if selected && let Some(l) = &ws.loaded {
                        modality_row(ui, l, actions);
                    }
                }
            });
    }
    if !catalog.skipped.is_empty() {
        ui.label(
            RichText::new(format!("{} file(s) skipped", catalog.skipped.len()))
                .color(level_colour(Level::Warning)),
        );
    }
}

/// "Shown as" for the loaded series: what it is treated as, why, and a way to change it.
fn modality_row(
    ui: &mut egui::Ui,
    loaded: &crate::session::open::LoadedSeries,
    actions: &mut Vec<UiAction>,
) {
    use crate::session::modality::Evidence;
    ui.horizontal(|ui| {
        ui.add_space(14.0);
        ui.label(RichText::new("Shown as").size(12.5));
        let shown = if loaded.modality.is_empty() {
            "unknown".to_string()
        } else {
            loaded.modality.clone()
        };
        egui::ComboBox::from_id_salt("modality")
            .selected_text(shown)
            .width(64.0)
            .show_ui(ui, |ui| {
                for m in modality::CHOICES {
                    if ui
                        .selectable_label(loaded.modality.eq_ignore_ascii_case(m), m)
                        .clicked()
                    {
                        actions.push(UiAction::SetModality(m.to_string()));
                    }
                }
            });
        let why = match loaded.evidence {
            Evidence::Header => "from the DICOM header",
            Evidence::Sidecar => "from the JSON sidecar",
            Evidence::Values => "inferred from the values",
            Evidence::User => "your choice",
            Evidence::Unknown => "the file does not say",
        };
        ui.label(RichText::new(why).size(12.0).color(Color32::from_gray(165)));
    });
}

fn structure_row(
    ui: &mut egui::Ui,
    s: &StructureItem,
    building: bool,
    actions: &mut Vec<UiAction>,
) {
    ui.horizontal(|ui| {
        let mut vis = s.visible;
        if ui
            .checkbox(&mut vis, "")
            .on_hover_text("Show or hide")
            .changed()
        {
            actions.push(UiAction::SetVisible(s.id, vis));
        }
        let mut c = s.recipe.colour;
        if ui.color_edit_button_rgb(&mut c).changed() {
            // A drag in the picker is one step: the press began in an earlier frame.
            let held = ui.input(|i| i.pointer.primary_down() && !i.pointer.primary_pressed());
            actions.push(UiAction::SetColour(s.id, c, held));
        }
        ui.label(RichText::new(&s.recipe.name).strong());
        ui.with_layout(egui::Layout::right_to_left(egui::Align::Center), |ui| {
            if ui.small_button("×").on_hover_text("Remove").clicked() {
                actions.push(UiAction::Remove(s.id));
            }
            if ui.small_button("⟳").on_hover_text("Recompute").clicked() {
                actions.push(UiAction::Rebuild(s.id));
            }
        });
    });
    ui.horizontal(|ui| {
        ui.add_space(28.0);
        let mut o = s.recipe.opacity;
        let slider = ui.add(
            egui::Slider::new(&mut o, 0.05..=1.0)
                .text("opacity")
                .fixed_decimals(2),
        );
        if slider.changed() {
            // The values of one drag are one step: all but its first join the first.
            let held = slider.dragged() && !slider.drag_started();
            actions.push(UiAction::SetOpacity(s.id, o, held));
        }
    });
    ui.horizontal(|ui| {
        ui.add_space(28.0);
        let mut colour = Color32::from_gray(195);
        let text = if building {
            "surfacing…".to_string()
        } else if let Some(e) = &s.error {
            format!("failed: {e}")
        } else if let (Some(b), true) = (&s.built, s.preview) {
            // A preview's figures are rough: say so, and that the full surface is coming.
            colour = Color32::from_rgb(230, 190, 110);
            format!(
                "coarse preview (every 2nd voxel) · ≈ {:.0} mL · refining…",
                b.volume_ml
            )
        } else if let Some(b) = &s.built {
            format!(
                "{} triangles · {:.1} mL{}",
                group_digits(b.triangles),
                b.volume_ml,
                if b.closed { "" } else { " · open" }
            )
        } else {
            String::new()
        };
        ui.label(RichText::new(text).size(12.5).color(colour));
    });
}

/// 1234567 → "1 234 567".
pub fn group_digits(n: usize) -> String {
    let s = n.to_string();
    let mut out = String::new();
    for (i, ch) in s.chars().enumerate() {
        if i > 0 && (s.len() - i).is_multiple_of(3) {
            out.push(' ');
        }
        out.push(ch);
    }
    out
}

fn structures_panel(
    ui: &mut egui::Ui,
    ws: &Workspace,
    view: &ViewState,
    st: &mut UiState,
    actions: &mut Vec<UiAction>,
) {
    ui.heading("Structures");
    if ws.loaded.is_none() {
        ui.label("Load a series first.");
        return;
    }
    if ws.structures.is_empty() {
        ui.label("None yet: add one below.");
    }
    for s in &ws.structures {
        let building = s.built.is_none() && s.error.is_none();
        structure_row(ui, s, building, actions);
        ui.add_space(2.0);
    }
    ui.add_space(4.0);
    let ct = ws.is_ct();
    let unit = if ct { "HU" } else { "values" };
    egui::CollapsingHeader::new("Add structure")
        .default_open(true)
        .show(ui, |ui| {
            if ct {
                ui.horizontal(|ui| {
                    egui::ComboBox::from_id_salt("preset")
                        .selected_text(st.add_preset.name().replace('_', " "))
                        .show_ui(ui, |ui| {
                            for p in Preset::ALL {
                                ui.selectable_value(
                                    &mut st.add_preset,
                                    p,
                                    p.name().replace('_', " "),
                                );
                            }
                        });
                    if ui.button("Add preset").clicked() {
                        actions.push(UiAction::AddStructure(Recipe::preset(st.add_preset)));
                    }
                });
            } else {
                // HU presets mean nothing here; the outline finds its own threshold.
                ui.horizontal(|ui| {
                    if ui
                        .button("Add outline")
                        .on_hover_text("Head or body outline at an automatic (Otsu) threshold")
                        .clicked()
                    {
                        actions.push(UiAction::AddStructure(Recipe::outline()));
                    }
                });
                ui.label(
                    RichText::new(
                        "HU presets apply to CT only. If this series is a CT, set \
                         \"Shown as\" CT in the Series panel.",
                    )
                    .size(12.0)
                    .color(Color32::from_gray(165)),
                );
            }
            ui.horizontal(|ui| {
                ui.label(format!("Range ({unit})"));
                ui.add(egui::DragValue::new(&mut st.add_range.0).speed(5.0));
                ui.label("to");
                ui.add(egui::DragValue::new(&mut st.add_range.1).speed(5.0));
            });
            ui.horizontal(|ui| {
                ui.add(egui::TextEdit::singleline(&mut st.add_name).desired_width(120.0));
                let (lo, hi) = (
                    st.add_range.0.min(st.add_range.1),
                    st.add_range.0.max(st.add_range.1),
                );
                if ui.button("Add range").clicked() {
                    actions.push(UiAction::AddStructure(Recipe::range(&st.add_name, lo, hi)));
                }
                let grow_hint = if ct {
                    "Region-grow the preset's range from the cursor (click a vessel in a slice first)"
                } else {
                    "Region-grow the range from the cursor (click inside the structure first)"
                };
                if ui.button("Grow from cursor").on_hover_text(grow_hint).clicked() {
                    let recipe = if ct {
                        let mut r = Recipe::preset(st.add_preset);
                        r.name = format!("{} (seeded)", r.name);
                        r
                    } else {
                        Recipe::range(&format!("{} (seeded)", st.add_name), lo, hi)
                    };
                    actions.push(UiAction::AddStructure(
                        recipe.with_seeds(vec![view.cursor.position_mm]),
                    ));
                }
            });
        });
}

fn window_panel(ui: &mut egui::Ui, ws: &Workspace, view: &ViewState, actions: &mut Vec<UiAction>) {
    ui.heading("Window");
    let Some(l) = &ws.loaded else { return };
    ui.horizontal_wrapped(|ui| {
        // HU presets only where values are HU.
        if l.is_ct() {
            for (name, w) in CT_PRESETS {
                if ui
                    .selectable_label(view.window_name == name, name)
                    .clicked()
                {
                    actions.push(UiAction::SetWindow(name.into(), w));
                }
            }
        }
        if let Some([center, width]) = l.volume.scanner_window
            && ui
                .selectable_label(view.window_name == "Scanner", "Scanner")
                .on_hover_text("The window stored in the images by the scanner")
                .clicked()
        {
            actions.push(UiAction::SetWindow(
                "Scanner".into(),
                WindowLevel::new(center, width),
            ));
        }
        if ui
            .selectable_label(view.window_name == "Auto", "Auto")
            .clicked()
        {
            actions.push(UiAction::SetWindow("Auto".into(), auto_window(&l.volume)));
        }
    });
    ui.label(
        RichText::new(format!(
            "W {:.0}  L {:.0}",
            view.window.width, view.window.center
        ))
        .monospace()
        .color(Color32::from_gray(200)),
    );
    ui.heading("3D view");
    let mut o: ThreeDOptions = view.options_3d;
    let mut changed = ui
        .checkbox(&mut o.show_crosshair, "Crosshair in 3D")
        .changed();
    changed |= ui.checkbox(&mut o.show_slices, "Slices in 3D").changed();
    ui.horizontal(|ui| {
        ui.label("Clip at cursor");
        let label = |c: Option<(Plane, bool)>| match c {
            None => "off".to_string(),
            Some((p, keep)) => format!("{p:?} {}", if keep { "+" } else { "−" }),
        };
        egui::ComboBox::from_id_salt("clip")
            .selected_text(label(o.clip))
            .show_ui(ui, |ui| {
                let mut choices = vec![None];
                for p in Plane::ALL {
                    choices.push(Some((p, true)));
                    choices.push(Some((p, false)));
                }
                for c in choices {
                    if ui.selectable_label(o.clip == c, label(c)).clicked() {
                        o.clip = c;
                        changed = true;
                    }
                }
            });
    });
    if changed {
        actions.push(UiAction::SetOptions3d(o));
    }
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
            if ui.small_button("Cancel").clicked() {
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

/// Overlay of the 3D view: standard-view buttons, reset, orientation marker; mouse input.
#[allow(clippy::too_many_arguments)]
fn view_3d_overlay(
    root: &mut egui::Ui,
    ws: &Workspace,
    view: &ViewState,
    rect: ViewRect,
    scene: Option<egui::TextureId>,
    actions: &mut Vec<UiAction>,
    t: &mut Tools,
) {
    let r = egui::Rect::from_min_size(egui::pos2(rect.x, rect.y), egui::vec2(rect.w, rect.h));
    let response = root.interact(r, egui::Id::new("view-3d"), egui::Sense::click_and_drag());
    let painter = root.painter_at(r);
    // The anatomy, as the camera last rendered it (it renders again only when the scene
    // changes, so a frame drawn for the panels or a slice costs no 3D rendering).
    if let Some(id) = scene {
        let uv = egui::Rect::from_min_max(egui::pos2(0.0, 0.0), egui::pos2(1.0, 1.0));
        painter.image(id, r, uv, Color32::WHITE);
    }
    let title = overlay_text(
        &painter,
        r.left_top() + egui::vec2(8.0, 6.0),
        egui::Align2::LEFT_TOP,
        "3D",
        egui::FontId::proportional(14.0),
        Color32::from_rgb(150, 170, 230),
    );
    // Buttons along the top edge, on a backing so they read over any surface. A button is
    // lit only while the camera looks exactly from that side.
    let exact = view.camera.standard_view();
    let mut bar = root.new_child(
        egui::UiBuilder::new()
            .max_rect(egui::Rect::from_min_size(
                egui::pos2(title.right() + 12.0, r.top() + 3.0),
                egui::vec2((r.right() - title.right() - 16.0).max(1.0), 28.0),
            ))
            .layout(egui::Layout::left_to_right(egui::Align::Center)),
    );
    egui::Frame::new()
        .fill(OVERLAY_BACKING)
        .corner_radius(4.0)
        .inner_margin(egui::Margin::symmetric(4, 2))
        .show(&mut bar, |bar| {
            bar.horizontal(|bar| {
                for v in StandardView::ALL {
                    let text = RichText::new(v.key().to_string()).color(Color32::from_gray(235));
                    if bar
                        .selectable_label(exact == Some(v), text)
                        .on_hover_text(format!("{} view (Shift+{})", v.name(), v.key()))
                        .clicked()
                    {
                        actions.push(UiAction::StandardView(v));
                    }
                }
                if bar
                    .small_button("Reset")
                    .on_hover_text("Reset zoom and pan (Home)")
                    .clicked()
                {
                    actions.push(UiAction::ResetCamera);
                }
            });
        });
    // Orientation marker: patient axes as seen from the camera.
    let cam = &view.camera;
    let centre = r.left_bottom() + egui::vec2(48.0, -48.0);
    let axes = [
        (nalgebra::Vector3::x(), "L", plane_colour(Plane::Sagittal)),
        (nalgebra::Vector3::y(), "P", plane_colour(Plane::Coronal)),
        (nalgebra::Vector3::z(), "S", plane_colour(Plane::Axial)),
    ];
    let mut drawn: Vec<(f64, egui::Pos2, &str, Color32)> = axes
        .iter()
        .map(|(a, name, col)| {
            let sx = a.dot(&cam.right());
            let sy = a.dot(&cam.up());
            let depth = a.dot(&cam.forward());
            (
                depth,
                centre + egui::vec2(sx as f32 * 34.0, -sy as f32 * 34.0),
                *name,
                *col,
            )
        })
        .collect();
    drawn.sort_by(|a, b| b.0.total_cmp(&a.0));
    painter.circle_filled(centre, 46.0, OVERLAY_BACKING);
    for (_, tip, name, col) in drawn {
        painter.line_segment([centre, tip], egui::Stroke::new(2.5, col));
        overlay_text(
            &painter,
            tip,
            egui::Align2::CENTER_CENTER,
            name,
            egui::FontId::proportional(13.0),
            col,
        );
    }
    if ws.loaded.is_none() {
        painter.text(
            r.center(),
            egui::Align2::CENTER_CENTER,
            "No series loaded",
            egui::FontId::proportional(13.0),
            Color32::GRAY,
        );
    }
    overlay::draw_on_3d(&painter, view, t.doc, t.tool, t.paths, r);
    // Input.
    if overlay::input_3d(root, &response, ws, view, t, r) {
        return;
    }
    if response.double_clicked() {
        actions.push(UiAction::ToggleView(ViewId::ThreeD));
        return;
    }
    let (primary, secondary, middle, shift) = root.input(|i| {
        (
            i.pointer.primary_down(),
            i.pointer.secondary_down(),
            i.pointer.middle_down(),
            i.modifiers.shift,
        )
    });
    let d = response.drag_delta();
    if response.dragged() && d != egui::Vec2::ZERO {
        if middle || (primary && shift) {
            actions.push(UiAction::PanCamera(
                f64::from(d.x),
                f64::from(d.y),
                f64::from(rect.h),
            ));
        } else if secondary {
            actions.push(UiAction::ZoomCamera(
                (1.0 - f64::from(d.y) * 0.005).clamp(0.5, 2.0),
            ));
        } else if primary {
            actions.push(UiAction::OrbitCamera(f64::from(d.x), f64::from(d.y)));
        }
    }
    if response.hovered() {
        let scroll = root.input(|i| i.smooth_scroll_delta.y);
        if scroll != 0.0 {
            actions.push(UiAction::ZoomCamera(
                (1.0 + f64::from(scroll) * 0.002).clamp(0.5, 2.0),
            ));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn group_digits_groups_thousands() {
        assert_eq!(group_digits(1_234_567), "1 234 567");
        assert_eq!(group_digits(12), "12");
    }
}
