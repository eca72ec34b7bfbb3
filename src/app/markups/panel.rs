//! The measuring tool's panel and menus: the plan panel (tools, each markup with its
//! value, note, colour, lock and visibility; saved 3D views), the Edit menu's undo and redo,
//! the File menu's plan entries and the plan's file dialogs (which send actions: the file
//! work is a job of the plan files plugin).

use super::*;

pub(super) fn save_dialog(what: SaveWhat, path: &Path) -> (SaveWhat, FileDialog) {
    let (title, suffixes): (&str, &[&'static str]) = match what {
        SaveWhat::Plan => ("Save plan", &[".twinplan.json"]),
        SaveWhat::Csv => ("Export measurements as CSV", &[".csv"]),
        SaveWhat::Slicer => ("Export to 3D Slicer markups", &[".mrk.json"]),
        SaveWhat::Scene => ("Export the twin as glTF", &[".glb"]),
        SaveWhat::Deidentified => {
            let d = FileDialog::new_folder("Export the series de-identified", path);
            return (what, d);
        }
    };
    (what, FileDialog::save(title, path, suffixes))
}

pub(super) fn open_dialog(import: bool, path: &Path) -> (bool, FileDialog) {
    let dir = path.parent().unwrap_or(path);
    let d = if import {
        FileDialog::open_file("Import 3D Slicer markups", dir, &[".json"])
    } else {
        FileDialog::open_file("Open plan", dir, &[".json"])
    };
    (import, d)
}

/// The Edit menu: undo and redo, named.
pub fn edit_menu(ui: &mut egui::Ui, doc: &mut DocWriter) {
    let undo = doc.undo_label().map(|s| s.to_string());
    let redo = doc.redo_label().map(|s| s.to_string());
    let u = ui.add_enabled(
        undo.is_some(),
        egui::Button::new(format!("Undo {}", undo.unwrap_or_default())).shortcut_text("Ctrl+Z"),
    );
    if u.clicked() {
        doc.undo();
        ui.close();
    }
    let r = ui.add_enabled(
        redo.is_some(),
        egui::Button::new(format!("Redo {}", redo.unwrap_or_default()))
            .shortcut_text("Ctrl+Shift+Z"),
    );
    if r.clicked() {
        doc.redo();
        ui.close();
    }
}

/// File menu entries for the plan.
pub fn file_menu(
    ui: &mut egui::Ui,
    ws: &Workspace,
    doc: &PlanDoc,
    tool: &mut MarkupTool,
    actions: &mut Vec<UiAction>,
) {
    let open = ws.loaded.is_some();
    if ui
        .add_enabled(open, egui::Button::new("Open plan…"))
        .clicked()
    {
        tool.opening = Some(open_dialog(
            false,
            &default_path(doc, SaveWhat::Plan, ws.banner()),
        ));
        ui.close();
    }
    ui.add_enabled_ui(open && !tool.recent_plans.is_empty(), |ui| {
        ui.menu_button("Open recent plan", |ui| {
            let mut chosen = None;
            for p in &tool.recent_plans {
                // File names only: a folder's name can carry the patient's.
                let name = p
                    .file_name()
                    .map_or_else(|| p.display().to_string(), |n| n.to_string_lossy().into());
                if ui
                    .button(name)
                    .on_hover_text("Opened for the series on screen; a plan made for another series is refused")
                    .clicked()
                {
                    chosen = Some(p.clone());
                }
            }
            if let Some(p) = chosen {
                actions.push(UiAction::OpenPlan(p));
                ui.close();
            }
        });
    });
    if ui
        .add_enabled(open, egui::Button::new("Save plan").shortcut_text("Ctrl+S"))
        .clicked()
    {
        match doc.path().map(Path::to_path_buf) {
            Some(p) => actions.push(UiAction::SavePlan(p)),
            None => {
                tool.saving = Some(save_dialog(
                    SaveWhat::Plan,
                    &default_path(doc, SaveWhat::Plan, ws.banner()),
                ))
            }
        }
        ui.close();
    }
    if ui
        .add_enabled(open, egui::Button::new("Save plan as…"))
        .clicked()
    {
        let path = doc
            .path()
            .map(Path::to_path_buf)
            .unwrap_or_else(|| default_path(doc, SaveWhat::Plan, ws.banner()));
        tool.saving = Some(save_dialog(SaveWhat::Plan, &path));
        ui.close();
    }
    let any_surface = ws.structures.iter().any(|s| s.visible && s.built.is_some());
    if ui
        .add_enabled(any_surface, egui::Button::new("Export the twin (glTF)…"))
        .on_hover_text(
            "The visible surfaces with their colours, the plan's landmarks, measurements and \
             paths as named nodes: a .glb file in metres, +Y up, for any glTF viewer or headset",
        )
        .clicked()
    {
        tool.saving = Some(save_dialog(
            SaveWhat::Scene,
            &default_path(doc, SaveWhat::Scene, ws.banner()),
        ));
        ui.close();
    }
    let dicom = ws
        .loaded
        .as_ref()
        .zip(ws.catalog.as_ref())
        .is_some_and(|(l, c)| c.has_files(&l.key));
    if ui
        .add_enabled(dicom, egui::Button::new("Export de-identified…"))
        .on_hover_text(
            "The open series' DICOM files with the PS3.15 Basic Profile applied (names, IDs, \
             dates, UIDs replaced; private attributes removed; pixels untouched) into a new \
             folder; recorded in the audit trail",
        )
        .clicked()
    {
        tool.saving = Some(save_dialog(
            SaveWhat::Deidentified,
            &default_path(doc, SaveWhat::Deidentified, ws.banner()),
        ));
        ui.close();
    }
}

pub(super) const PALETTE: [[f32; 3]; 8] = [
    [1.0, 0.85, 0.2],
    [0.35, 0.9, 1.0],
    [1.0, 0.45, 0.85],
    [0.55, 1.0, 0.45],
    [1.0, 0.55, 0.2],
    [0.7, 0.6, 1.0],
    [1.0, 1.0, 1.0],
    [1.0, 0.3, 0.3],
];

/// The panel's title (the plan's file, • when unsaved), the measuring tools and what the one
/// in use asks for next.
fn tools_row(ui: &mut egui::Ui, doc: &PlanDoc, tool: &mut MarkupTool) {
    let title = match (doc.path(), doc.dirty()) {
        (Some(p), dirty) => format!(
            "Measurements — {}{}",
            p.file_name()
                .map(|n| n.to_string_lossy().into_owned())
                .unwrap_or_default(),
            if dirty { " •" } else { "" }
        ),
        (None, _) => "Measurements".to_string(),
    };
    ui.heading(title);
    ui.horizontal_wrapped(|ui| {
        for (kind, text, key) in [
            (MarkupKind::Distance, "Distance", "D"),
            (MarkupKind::Angle, "Angle", "A"),
            (MarkupKind::Landmark, "Landmark", "L"),
            (MarkupKind::Curve, "Curve", "C"),
            (MarkupKind::ClosedCurve, "Closed curve", ""),
        ] {
            // A path's stops are placed as a curve, but that is the New path tool, not Curve.
            let on = !tool.path_stops && tool.placing.as_ref().is_some_and(|p| p.kind == kind);
            let hint = if key.is_empty() {
                format!(
                    "Place {} (Enter or double-click closes it)",
                    with_article(kind.name())
                )
            } else {
                format!("Place {} ({key})", with_article(kind.name()))
            };
            let r = ui.selectable_label(on, text).on_hover_text(hint);
            if r.clicked() {
                if on {
                    tool.placing = None;
                } else {
                    tool.start(kind);
                    tool.path_stops = false;
                }
            }
        }
    });
    if let Some(pl) = &tool.placing {
        let needed = match pl.kind.points_needed() {
            Some(n) => format!("point {} of {n}", pl.points.len() + 1),
            None => format!(
                "{} point(s); Enter or double-click finishes",
                pl.points.len()
            ),
        };
        ui.label(
            RichText::new(format!(
                "Placing {}: click on a slice or a surface — {needed} · Esc cancels",
                with_article(pl.kind.name())
            ))
            .small()
            .color(Color32::from_rgb(240, 200, 90)),
        );
    }
}

/// The plan panel: tools, every markup (name, kind, value, colour, visibility, lock,
/// rename, delete, go to), and the plan's file commands.
pub fn plan_panel(
    ui: &mut egui::Ui,
    ws: &Workspace,
    view: &ViewState,
    doc: &mut DocWriter,
    tool: &mut MarkupTool,
    actions: &mut Vec<UiAction>,
) {
    tools_row(ui, doc, tool);
    if doc.plan().markups.is_empty() {
        ui.label(RichText::new("No measurements yet.").weak());
    }
    let mut edits = Vec::new();
    egui::Grid::new("markups")
        .striped(true)
        .num_columns(6)
        .show(ui, |ui| {
            for m in &doc.plan().markups {
                // Colour: a swatch with a palette.
                ui.menu_button(RichText::new("■").color(colour32(m.colour, 1.0)), |ui| {
                    ui.horizontal(|ui| {
                        for c in PALETTE {
                            if ui
                                .button(RichText::new("■").color(colour32(c, 1.0)))
                                .clicked()
                            {
                                edits.push(Command::SetColour {
                                    id: m.id,
                                    colour: c,
                                });
                                ui.close();
                            }
                        }
                    });
                });
                let mut visible = m.visible;
                if ui
                    .checkbox(&mut visible, "")
                    .on_hover_text("Show or hide")
                    .changed()
                {
                    edits.push(Command::SetVisible { id: m.id, visible });
                }
                match &mut tool.renaming {
                    Some((id, text)) if *id == m.id => {
                        let r = ui.add(egui::TextEdit::singleline(text).desired_width(90.0));
                        r.request_focus();
                        if r.lost_focus() {
                            let name = text.trim().to_string();
                            if !name.is_empty() && name != m.name {
                                edits.push(Command::Rename { id: m.id, name });
                            }
                            tool.renaming = None;
                        }
                    }
                    _ => {
                        let sel = tool.selected == Some(m.id);
                        let r = ui
                            .selectable_label(sel, &m.name)
                            .on_hover_text(format!("{} · double-click to rename", m.kind.name()));
                        if r.double_clicked() {
                            tool.renaming = Some((m.id, m.name.clone()));
                        } else if r.clicked() {
                            tool.selected = Some(m.id);
                        }
                    }
                }
                let value = match m.kind {
                    MarkupKind::Landmark => m.points_lps_mm.first().map_or(String::new(), |p| {
                        crate::session::readout::position(
                            &nalgebra::Point3::from(*p),
                            view.coordinates,
                        )
                    }),
                    _ => m.label(),
                };
                ui.label(RichText::new(value).monospace());
                ui.horizontal(|ui| {
                    let lock = if m.locked { "🔒" } else { "🔓" };
                    if ui
                        .small_button(lock)
                        .on_hover_text(if m.locked {
                            "Unlock"
                        } else {
                            "Lock (points cannot move)"
                        })
                        .clicked()
                    {
                        edits.push(Command::SetLocked {
                            id: m.id,
                            locked: !m.locked,
                        });
                    }
                    if ui
                        .small_button("Go to")
                        .on_hover_text("Slices through it, the camera framed on it")
                        .clicked()
                        && let Some((lo, hi)) = placing::bounds(m)
                    {
                        tool.selected = Some(m.id);
                        actions.push(UiAction::FocusOn(lo, hi));
                    }
                    if ui.small_button("🗑").on_hover_text("Delete").clicked() {
                        edits.push(Command::RemoveMarkup(m.id));
                    }
                });
                ui.end_row();
            }
        });
    for e in edits {
        doc.edit(e);
    }
    saved_views(ui, ws, view, doc, actions);
    ui.horizontal_wrapped(|ui| {
        let any = !doc.plan().markups.is_empty();
        if ui
            .add_enabled(any, egui::Button::new("Export CSV…"))
            .clicked()
        {
            tool.saving = Some(save_dialog(
                SaveWhat::Csv,
                &default_path(doc, SaveWhat::Csv, ws.banner()),
            ));
        }
        if ui
            .add_enabled(any, egui::Button::new("Export to Slicer…"))
            .on_hover_text("3D Slicer markups JSON (.mrk.json), LPS")
            .clicked()
        {
            tool.saving = Some(save_dialog(
                SaveWhat::Slicer,
                &default_path(doc, SaveWhat::Slicer, ws.banner()),
            ));
        }
        if ui
            .add_enabled(
                ws.loaded.is_some(),
                egui::Button::new("Import from Slicer…"),
            )
            .clicked()
        {
            tool.opening = Some(open_dialog(
                true,
                &default_path(doc, SaveWhat::Slicer, ws.banner()),
            ));
        }
    });
    if let Some((ok, text)) = &doc.message {
        let colour = if *ok {
            Color32::from_gray(170)
        } else {
            Color32::from_rgb(235, 110, 100)
        };
        ui.label(RichText::new(text).small().color(colour));
    }
}

/// "a distance", "an angle".
pub(super) fn with_article(name: &str) -> String {
    let vowel = name.starts_with(['a', 'e', 'i', 'o', 'u']);
    format!("{} {name}", if vowel { "an" } else { "a" })
}

/// The plan's saved 3D views: save the current one, go back to one, delete one (each an
/// undoable edit of the plan).
pub(super) fn saved_views(
    ui: &mut egui::Ui,
    ws: &Workspace,
    view: &ViewState,
    doc: &mut DocWriter,
    actions: &mut Vec<UiAction>,
) {
    ui.horizontal(|ui| {
        ui.label(RichText::new("Saved 3D views").strong());
        if ui
            .add_enabled(ws.loaded.is_some(), egui::Button::new("+ Save view"))
            .on_hover_text("Keep the 3D camera as it is now in the plan")
            .clicked()
        {
            let name = (1..)
                .map(|n| format!("View {n}"))
                .find(|n| doc.plan().bookmarks.iter().all(|b| &b.name != n))
                .unwrap_or_default();
            doc.edit(Command::AddBookmark(bookmark_of(&view.camera, name)));
        }
    });
    let mut remove = None;
    for b in &doc.plan().bookmarks {
        ui.horizontal(|ui| {
            if ui
                .selectable_label(false, &b.name)
                .on_hover_text("Look from here again")
                .clicked()
            {
                actions.push(UiAction::LookFrom {
                    eye: b.eye_lps_mm,
                    target: b.target_lps_mm,
                    up: b.up,
                });
            }
            if ui
                .small_button("🗑")
                .on_hover_text("Delete this view")
                .clicked()
            {
                remove = Some(b.name.clone());
            }
        });
    }
    if let Some(name) = remove {
        doc.edit(Command::RemoveBookmark(name));
    }
}

/// The camera as a plan bookmark.
pub fn bookmark_of(
    camera: &crate::session::camera::OrbitCamera,
    name: String,
) -> crate::plan::CameraBookmark {
    let (e, t, u) = (camera.eye_mm(), camera.target_mm, camera.up());
    crate::plan::CameraBookmark {
        name,
        eye_lps_mm: [e.x, e.y, e.z],
        target_lps_mm: [t.x, t.y, t.z],
        up: [u.x, u.y, u.z],
    }
}

/// A question in the middle of the window, answered by its buttons.
fn question(title: &str) -> egui::Window<'_> {
    egui::Window::new(title)
        .collapsible(false)
        .resizable(false)
        .anchor(egui::Align2::CENTER_CENTER, [0.0, 0.0])
        .default_width(420.0)
}

/// The save and open dialogs for plans and exports, and the offer of the last session's
/// unsaved plan.
pub fn dialogs(
    ctx: &egui::Context,
    doc: &mut DocWriter,
    tool: &mut MarkupTool,
    actions: &mut Vec<UiAction>,
    scrub: &dyn Fn(&str) -> String,
) {
    if let Some(p) = &doc.pending_import {
        let (already, n) = p.counts();
        question("Markups already in the plan").show(ctx, |ui| {
            ui.label(format!(
                "{already} of the {n} markups in this file have the name and kind of \
                     markups already in the plan (the file was imported before?)."
            ));
            ui.horizontal(|ui| {
                let mut choice = None;
                if ui
                    .button("Replace them")
                    .on_hover_text("The plan's markups of those names give way to the file's")
                    .clicked()
                {
                    choice = Some(ImportChoice::Replace);
                }
                if ui
                    .button("Keep both")
                    .on_hover_text("The file's are added, named \"… (imported)\"")
                    .clicked()
                {
                    choice = Some(ImportChoice::KeepBoth);
                }
                if ui.button("Cancel").clicked() {
                    choice = Some(ImportChoice::Cancel);
                }
                if let Some(c) = choice {
                    doc.resolve_import(c);
                }
            });
        });
    }
    if let Some(r) = &tool.offered_recovery {
        let ago = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_secs())
            .saturating_sub(r.written_unix_s);
        let when = match ago {
            0..120 => "a minute ago".to_string(),
            120..7200 => format!("{} minutes ago", ago / 60),
            7200..172_800 => format!("{} hours ago", ago / 3600),
            _ => format!("{} days ago", ago / 86_400),
        };
        let (markups, structures) = (r.plan.plan.markups.len(), r.plan.plan.structures.len());
        let what = if structures > 0 {
            format!("{markups} markup(s) and {structures} structure(s)")
        } else {
            format!("{markups} markup(s)")
        };
        question("Unsaved measurements from the last session").show(ctx, |ui| {
            ui.label(format!(
                "The last session ended before its plan was saved: {what}, copied {when}."
            ));
            ui.label(
                RichText::new("Recover opens that study again with them (unsaved).")
                    .small()
                    .weak(),
            );
            ui.horizontal(|ui| {
                if ui.button("Recover").clicked() {
                    actions.push(UiAction::Open(r.study.clone()));
                    actions.push(UiAction::RecoverPlan);
                }
                if ui.button("Discard").clicked() {
                    actions.push(UiAction::DiscardRecovery);
                }
            });
        });
    }
    if let Some((what, d)) = &mut tool.saving {
        let (chosen, open) = d.show(ctx);
        let done = chosen.is_some();
        if let Some(c) = chosen {
            actions.push(what.action(c.path().to_path_buf()));
        }
        if done || !open {
            tool.saving = None;
        }
    }
    if let Some(path) = doc.confirm_replace.clone() {
        // A file name can carry the patient's: scrubbed when anonymous, as paths are.
        let name = scrub(
            &path
                .file_name()
                .map_or_else(String::new, |n| n.to_string_lossy().into_owned()),
        );
        question("Replace another study's plan?").show(ctx, |ui| {
            ui.label(format!(
                "{name} holds the plan of another series. Saving this study's plan there \
                     replaces it, and its measurements and paths are lost."
            ));
            ui.horizontal(|ui| {
                if ui.button("Replace it").clicked() {
                    actions.push(UiAction::ReplaceOtherPlan(Some(path.clone())));
                }
                if ui.button("Choose another name…").clicked() {
                    tool.saving = Some(save_dialog(SaveWhat::Plan, &path));
                    actions.push(UiAction::ReplaceOtherPlan(None));
                }
                if ui.button("Cancel").clicked() {
                    actions.push(UiAction::ReplaceOtherPlan(None));
                }
            });
        });
    }
    if let Some((import, d)) = &mut tool.opening {
        let (chosen, open) = d.show(ctx);
        let done = chosen.is_some();
        if let Some(c) = chosen {
            let path = c.path().to_path_buf();
            actions.push(if *import {
                UiAction::ImportMarkups(path)
            } else {
                UiAction::OpenPlan(path)
            });
        }
        if done || !open {
            tool.opening = None;
        }
    }
}
