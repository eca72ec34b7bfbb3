//! The catheter tool's panels: the paths list with each path's figures and device, the
//! vessel choice, and the profile panel (diameter and curvature plots, the reformat, the
//! cross-section and the fly-through) of the selected path.

use super::*;
use crate::catheter::GUIDEWIRE_MM;

/// The vessel new paths are planned in: the vessels preset grown from the entry, or one
/// of the plan's structures made of image values (e.g. the vessels grown from a seed in
/// the aorta, so a path cannot stray into a vein or bone of the same values).
pub(super) fn vessel_choice(ui: &mut egui::Ui, doc: &PlanDoc, pui: &mut PathUi) {
    let usable: Vec<&PlanStructure> = doc
        .plan()
        .structures
        .iter()
        // Bone, skin, lung and soft tissue are no lumen to plan a catheter in.
        .filter(|s| match &s.recipe.source {
            Source::Preset { preset, .. } => preset == Preset::Vessels.name(),
            other => other.range().is_some(),
        })
        .collect();
    if pui
        .vessel
        .is_some_and(|id| usable.iter().all(|s| s.id != id))
    {
        pui.vessel = None;
    }
    let preset = "vessels, measured at the stops";
    let current = pui
        .vessel
        .and_then(|id| usable.iter().find(|s| s.id == id))
        .map_or(preset.to_string(), |s| describe_structure(s));
    ui.horizontal(|ui| {
        ui.label("Vessel");
        egui::ComboBox::from_id_salt("path-vessel")
            .selected_text(current)
            .width(230.0)
            .show_ui(ui, |ui| {
                ui.selectable_value(&mut pui.vessel, None, preset)
                    .on_hover_text(
                        "Contrast-filled blood grown from the stops: the vessel's own contrast \
                         measured around the entry, cut where it only touches another \
                         structure (a vein, a heart chamber, bone)",
                    );
                for s in &usable {
                    ui.selectable_value(&mut pui.vessel, Some(s.id), describe_structure(s))
                        .on_hover_text(
                            "The voxels of this structure's values connected to its seeds \
                             (to the entry when it has none)",
                        );
                }
            })
            .response
            .on_hover_text("The lumen new paths are planned in");
    });
}

/// A structure's name with how it is made, for the vessel list.
pub(super) fn describe_structure(s: &PlanStructure) -> String {
    let range = s.recipe.range_of();
    let values = range.map_or(String::new(), |r| format!(" ({:.0}..{:.0})", r.lo, r.hi));
    let seeds = match s.recipe.seeds_mm.len() {
        0 => String::new(),
        1 => ", seeded".to_string(),
        n => format!(", {n} seeds"),
    };
    format!("{}{values}{seeds}", s.recipe.name)
}

/// The panel's head: stops placed are planned, the paths' lumens made ready ahead (a stop
/// can then be dragged at once), the New path tool, the vessel choice, and what is running
/// or went wrong.
fn paths_header(
    ui: &mut egui::Ui,
    ws: &Workspace,
    doc: &mut DocWriter,
    tool: &mut MarkupTool,
    pui: &mut PathUi,
) {
    if let Some(stops) = tool.stops_done.take() {
        pui.start(ws, doc, stops);
    }
    pui.follow(ws, doc);
    pui.poll(doc);
    pui.poll_drag(doc);
    // The planned paths' lumens are made ready ahead, so a stop can be dragged at once.
    for path in doc.plan().paths.iter().filter(|p| p.visible) {
        if report_of(path).is_some() {
            let _ = pui.lumen(ws, &doc.plan().structures, path);
        }
    }
    // Another tool chosen, or Escape: the path placement is over.
    if tool
        .placing
        .as_ref()
        .is_none_or(|p| p.kind != crate::plan::MarkupKind::Curve)
    {
        tool.path_stops = false;
    }
    ui.horizontal(|ui| {
        ui.heading("Catheter paths");
        let placing = tool.path_stops && tool.placing.is_some();
        let button = ui
            .add_enabled(
                ws.loaded.is_some() && pui.job.is_none(),
                egui::Button::new("New path").selected(placing),
            )
            .on_hover_text(
                "Click the entry (e.g. the common femoral artery), any waypoints, then the \
                 target, in 3D or on a slice; Enter or a double click plans the centred path \
                 through the chosen vessel's lumen. Drag a path's stops afterwards to re-plan it",
            );
        if button.clicked() {
            if placing {
                tool.placing = None;
                tool.path_stops = false;
            } else {
                tool.start(crate::plan::MarkupKind::Curve);
                tool.path_stops = true;
            }
        }
    });
    vessel_choice(ui, doc, pui);
    if tool.path_stops && tool.placing.is_some() {
        let n = tool.placing.as_ref().map_or(0, |p| p.points.len());
        let next = match n {
            0 => "click the entry",
            1 => "click a waypoint or the target",
            _ => "more waypoints, or Enter to plan to the last point",
        };
        ui.label(
            RichText::new(format!("New path: {next} (Esc cancels)"))
                .color(Color32::from_rgb(240, 200, 90)),
        );
    }
    if let Some(job) = &pui.job {
        ui.horizontal(|ui| {
            ui.spinner();
            ui.label("planning the path…");
            if ui.small_button("Cancel").clicked() {
                job.progress.cancel();
            }
        });
    }
    if let Some(d) = &pui.drag {
        ui.horizontal(|ui| {
            ui.spinner();
            ui.label(if d.ready {
                "re-planning as the stop moves…"
            } else {
                "getting the vessel ready for the drag…"
            });
        });
    }
    if let Some(f) = &pui.failure {
        ui.label(RichText::new(&f.message).color(Color32::from_rgb(240, 110, 90)));
    }
}

/// The paths panel: a path tool button, each path's row, the selected path's plot.
pub fn paths_panel(
    ui: &mut egui::Ui,
    ws: &Workspace,
    doc: &mut DocWriter,
    tool: &mut MarkupTool,
    pui: &mut PathUi,
) {
    paths_header(ui, ws, doc, tool, pui);
    let catalogue = Catalogue::bundled();
    let mut edits = Vec::new();
    let mut show_lumen: Option<CatheterPath> = None;
    // The plot shows the first path until another is picked.
    if pui
        .selected
        .is_none_or(|id| doc.plan().paths.iter().all(|p| p.id != id))
    {
        pui.selected = doc.plan().paths.first().map(|p| p.id);
    }
    for path in &doc.plan().paths {
        let selected = pui.selected == Some(path.id);
        ui.horizontal(|ui| {
            let mut visible = path.visible;
            if ui
                .checkbox(&mut visible, "")
                .on_hover_text("Show in the views")
                .changed()
            {
                let mut p = path.clone();
                p.visible = visible;
                edits.push(Command::SetPath(p));
            }
            let (rect, _) = ui.allocate_exact_size(egui::vec2(12.0, 12.0), egui::Sense::hover());
            ui.painter().rect_filled(rect, 2.0, colour32(path.colour));
            // A long name is cut short (in full on hover): the row must not widen the
            // panel and move the views.
            let name: String = if path.name.chars().count() > 26 {
                path.name.chars().take(25).chain(['…']).collect()
            } else {
                path.name.clone()
            };
            if ui
                .selectable_label(selected, RichText::new(name).strong())
                .on_hover_text(&path.name)
                .clicked()
            {
                pui.selected = Some(path.id);
            }
            if ui
                .small_button("🗑")
                .on_hover_text("Delete the path (undoable)")
                .clicked()
            {
                edits.push(Command::RemovePath(path.id));
            }
            if matches!(path.vessel, PathVessel::Grown { .. })
                && ui
                    .small_button("Lumen")
                    .on_hover_text(
                        "Add the lumen this path is planned in as a structure, to see it, \
                         hide it or colour it (grown from the path's stops as the path's is)",
                    )
                    .clicked()
            {
                show_lumen = Some(path.clone());
            }
        });
        ui.label(RichText::new(path.label()).small());
        ui.label(
            RichText::new(format!(
                "in {} · drag its stops in a view to re-plan",
                path.vessel_label(&doc.plan().structures)
            ))
            .small()
            .weak(),
        );
        let current = path
            .device
            .as_ref()
            .map_or("No device".to_string(), |d| d.name.clone());
        egui::ComboBox::from_id_salt(("path-device", path.id))
            .selected_text(current)
            .width(220.0)
            .show_ui(ui, |ui| {
                if ui
                    .selectable_label(path.device.is_none(), "No device")
                    .clicked()
                {
                    let mut p = path.clone();
                    p.device = None;
                    p.fit = None;
                    edits.push(Command::SetPath(p));
                }
                for d in &catalogue.devices {
                    let on = path.device.as_ref().is_some_and(|x| x.name == d.name);
                    let text = format!("{}  ({:.2} mm)", d.name, d.outer_diameter_mm);
                    if ui.selectable_label(on, text).clicked() && !on {
                        let mut p = path.clone();
                        p.fit = report_of(&p).map(|r| fit(r, d));
                        p.device = Some(d.clone());
                        edits.push(Command::SetPath(p));
                    }
                }
            });
        floor_choice(ui, path, &mut edits);
        if let Some(f) = &path.fit {
            for flag in &f.flags {
                let (what, colour) = match flag.concern {
                    Concern::AtRisk => (
                        format!("SFAR {:.2} ≥ 1.05", flag.worst),
                        Color32::from_rgb(225, 90, 225),
                    ),
                    Concern::Tight => (
                        format!("SFAR {:.2} ≥ 1.0", flag.worst),
                        Color32::from_rgb(235, 80, 70),
                    ),
                    Concern::Bend => (
                        format!("bend {:.0} mm, tighter than the device", flag.worst),
                        Color32::from_rgb(60, 190, 240),
                    ),
                };
                ui.label(
                    RichText::new(format!(
                        "⚑ {:.0}–{:.0} mm: {what}",
                        flag.from_mm, flag.to_mm
                    ))
                    .color(colour)
                    .small(),
                );
            }
        }
        ui.add_space(4.0);
    }
    if doc.plan().paths.is_empty() && pui.job.is_none() {
        ui.label(RichText::new("No paths yet.").weak());
    }
    if let Some(path) = show_lumen {
        let mut seeds: Vec<P> = path.stops().into_iter().map(|(p, _)| p).collect();
        if let PathVessel::Grown { seeds_lps_mm, .. } = &path.vessel {
            seeds.extend(seeds_lps_mm.iter().copied());
        }
        let mut recipe = crate::plan::recipe::Recipe::preset(Preset::Vessels).with_seeds(seeds);
        recipe.name = format!("lumen of {}", path.name);
        recipe.colour = [0.8, 0.12, 0.1];
        recipe.opacity = 0.35;
        edits.push(Command::AddStructure(PlanStructure {
            id: doc.new_id(),
            recipe,
            visible: true,
        }));
    }
    for e in edits {
        if let Command::RemovePath(id) = e
            && pui.selected == Some(id)
        {
            pui.selected = None;
        }
        doc.edit(e);
    }
}

/// The profile of the selected path along the bottom of the window, under the views: its
/// diameters and curvature against the distance from the entry, the hovered point's
/// figures. Nothing when no path has been planned.
pub fn profile_panel(
    root: &mut egui::Ui,
    ws: &Workspace,
    view: &ViewState,
    doc: &PlanDoc,
    pui: &mut PathUi,
) {
    let Some(path) = pui
        .selected
        .and_then(|id| doc.plan().paths.iter().find(|p| p.id == id))
        .filter(|p| report_of(p).is_some())
    else {
        return;
    };
    egui::Panel::bottom("path-profile")
        .resizable(true)
        .default_size(330.0)
        .min_size(200.0)
        .show(root, |ui| {
            plot(ui, ws, view, &doc.plan().structures, path, pui)
        });
}

/// The path's floor: the narrowest lumen it may pass, a 0.035-inch guidewire's unless
/// raised (to a device's outer diameter, for one). One step; the path is planned again.
fn floor_choice(ui: &mut egui::Ui, path: &CatheterPath, edits: &mut Vec<Command>) {
    let floor = path.min_diameter_mm.unwrap_or(GUIDEWIRE_MM);
    let name = |d: f64| {
        if (d - GUIDEWIRE_MM).abs() < 1e-9 {
            format!("{d:.2} mm (0.035″ guidewire)")
        } else {
            format!("{d:.2} mm")
        }
    };
    let mut choices: Vec<(f64, String)> = [GUIDEWIRE_MM, 1.0, 1.5, 2.0, 3.0, 4.0, 5.0, 6.0]
        .into_iter()
        .map(|d| (d, name(d)))
        .collect();
    if let Some(d) = &path.device {
        choices.push((
            d.outer_diameter_mm,
            format!("{:.2} mm ({})", d.outer_diameter_mm, d.name),
        ));
    }
    ui.horizontal(|ui| {
        ui.label(RichText::new("Floor").small()).on_hover_text(
            "The narrowest lumen this path may pass: a target beyond a narrower passage \
                 is refused, naming the passage",
        );
        egui::ComboBox::from_id_salt(("path-floor", path.id))
            .selected_text(name(floor))
            .width(180.0)
            .show_ui(ui, |ui| {
                for (d, text) in choices {
                    if ui
                        .selectable_label((d - floor).abs() < 1e-9, text)
                        .clicked()
                        && (d - floor).abs() >= 1e-9
                    {
                        let mut p = path.clone();
                        p.min_diameter_mm = ((d - GUIDEWIRE_MM).abs() >= 1e-9).then_some(d);
                        edits.push(Command::SetPath(p));
                    }
                }
            });
    });
}
