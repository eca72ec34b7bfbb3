//! The left panel's sections: the series browser, the modality row, the structures (each
//! with its visibility, colour, opacity and figures; adding one) and window/level.

use super::*;

pub(super) fn series_browser(
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
pub(super) fn modality_row(
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

pub(super) fn structure_row(
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
        // The name takes what the buttons leave (cut short, in full on hover).
        let room = (ui.available_width() - 112.0).max(40.0);
        ui.allocate_ui(egui::vec2(room, ui.spacing().interact_size.y), |ui| {
            ui.add(egui::Label::new(RichText::new(&s.recipe.name).strong()).truncate())
                .on_hover_text(&s.recipe.name);
        });
        ui.with_layout(egui::Layout::right_to_left(egui::Align::Center), |ui| {
            if ui.small_button("×").on_hover_text("Remove").clicked() {
                actions.push(UiAction::Remove(s.id));
            }
            if ui.small_button("⟳").on_hover_text("Recompute").clicked() {
                actions.push(UiAction::Rebuild(s.id));
            }
            let no_go = s.recipe.no_go;
            let label = RichText::new("no-go").size(12.0);
            let label = if no_go {
                label.color(Color32::from_rgb(255, 150, 120))
            } else {
                label
            };
            if ui
                .selectable_label(no_go, label)
                .on_hover_text(
                    "No catheter path enters a no-go structure (a false lumen, a thrombus, a \
                     stent-graft to avoid); a path that would is refused, naming it",
                )
                .clicked()
            {
                actions.push(UiAction::SetNoGo(s.id, !no_go));
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
            let n = s.recipe.edits.len();
            format!(
                "{} triangles · {:.1} mL{}{}",
                group_digits(b.triangles),
                b.volume_ml,
                if b.closed { "" } else { " · open" },
                match n {
                    0 => String::new(),
                    1 => " · 1 hand edit".to_string(),
                    n => format!(" · {n} hand edits"),
                }
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

pub(super) fn structures_panel(
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
                let grow_hint = "Region-grow the Range above from the cursor: the voxels in \
                                 range connected to it (click inside the structure first)";
                if ui
                    .button("Grow from cursor")
                    .on_hover_text(grow_hint)
                    .clicked()
                {
                    let recipe = Recipe::range(&format!("{} (seeded)", st.add_name), lo, hi);
                    actions.push(UiAction::AddStructure(
                        recipe.with_seeds(vec![view.cursor.position_mm]),
                    ));
                }
            });
        });
}

pub(super) fn window_panel(
    ui: &mut egui::Ui,
    ws: &Workspace,
    view: &ViewState,
    actions: &mut Vec<UiAction>,
) {
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
    changed |= ui
        .checkbox(&mut o.exact_transparency, "Exact transparency")
        .on_hover_text(
            "Translucent surfaces blended in depth order at every pixel. Off: sorted per \
             structure, faster, with bands where a surface overlaps itself.",
        )
        .changed();
    ui.horizontal(|ui| {
        ui.label("Clip at cursor");
        // The side kept, in the patient's terms (the planes' normals point superior,
        // posterior and to the patient's left).
        let label = |c: Option<(Plane, bool)>| match c {
            None => "off".to_string(),
            Some((Plane::Axial, true)) => "axial: keep above (superior)".into(),
            Some((Plane::Axial, false)) => "axial: keep below (inferior)".into(),
            Some((Plane::Coronal, true)) => "coronal: keep behind (posterior)".into(),
            Some((Plane::Coronal, false)) => "coronal: keep in front (anterior)".into(),
            Some((Plane::Sagittal, true)) => "sagittal: keep the patient's left".into(),
            Some((Plane::Sagittal, false)) => "sagittal: keep the patient's right".into(),
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
