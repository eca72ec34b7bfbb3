//! The volume rendering's panel: show it or not, composite / MIP / MinIP, the preset, the
//! transfer-function editor (the opacity curve over the study's histogram: points dragged,
//! added with a double-click, removed with a right-click; a colour per colour point; a
//! right-drag on the curve shifts and scales it like window/level; saved as a new preset),
//! the crop box, a thick slab along an MPR plane, the sampling step and stereo. It changes
//! only [`VolumeView`]; `app::volume` draws what it says. No Bevy systems here.

use bevy_egui::egui::{self, Color32, Pos2, Rect, Sense, Stroke, Vec2};

use super::state::Workspace;
use super::volume::{VolumeView, all_presets};
use crate::dvr::fit::Encoding;
use crate::dvr::stereo::{Stereo, StereoMode};
use crate::dvr::{Mode, TransferFunction};
use crate::session::camera::OrbitCamera;
use crate::volume::display::Plane;

/// Panel-local state: the name a new preset is saved under, what the last save said.
#[derive(Default, bevy::prelude::Resource)]
pub struct VolumePanelState {
    pub save_name: String,
    pub message: Option<String>,
    /// The function a right-drag started from (shift and scale apply to it, not to the
    /// result of the previous frame's drag).
    drag_from: Option<TransferFunction>,
    /// The presets, read once (the user's from their folder) and again after a save, not
    /// in every frame.
    presets: Option<Vec<crate::dvr::Preset>>,
    /// The crop box's handles in the 3D view (shown while the crop section is open).
    pub crop_handles: super::volume_crop::CropHandles,
}

/// The value range the editor shows: the function's inner points with a margin, within the
/// study's 0.1–99.9 % range.
fn shown_range(tf: &TransferFunction, ws: &Workspace) -> (f64, f64) {
    let inner: Vec<f64> = tf
        .opacity
        .iter()
        .skip(1)
        .take(tf.opacity.len().saturating_sub(2))
        .map(|p| p[0])
        .collect();
    let (mut lo, mut hi) = match (inner.first(), inner.last()) {
        (Some(a), Some(b)) => (*a, *b),
        _ => tf.range(),
    };
    if let Some(l) = ws.loaded.as_ref() {
        lo = lo.min(l.histogram.quantile(0.001));
        hi = hi.max(l.histogram.quantile(0.999));
    }
    let margin = 0.08 * (hi - lo).max(1.0);
    (lo - margin, hi + margin)
}

pub fn volume_panel(
    ui: &mut egui::Ui,
    ws: &Workspace,
    camera: &OrbitCamera,
    v: &mut VolumeView,
    st: &mut VolumePanelState,
) {
    egui::CollapsingHeader::new(egui::RichText::new("Volume rendering").strong())
        .default_open(true)
        .show(ui, |ui| {
            if ws.loaded.is_none() {
                ui.weak("Open a study to render it.");
                return;
            }
            ui.horizontal(|ui| {
                ui.checkbox(&mut v.show, "Show");
                for m in [Mode::Composite, Mode::Mip, Mode::Minip] {
                    ui.selectable_value(&mut v.mode, m, m.name())
                        .on_hover_text(match m {
                            Mode::Composite => "Colour and opacity through the transfer function, shaded",
                            Mode::Mip => "Maximum intensity projection through the window (CT angiography)",
                            Mode::Minip => "Minimum intensity projection through the window (airways)",
                        });
                }
            });
            if v.mode == Mode::Composite {
                let presets = st.presets.get_or_insert_with(all_presets);
                preset_row(ui, ws, v, presets);
                if let Some(tf) = v.function.as_mut() {
                    editor(ui, ws, tf, st);
                }
                save_row(ui, v, st);
            } else {
                ui.weak("Grey levels follow the window (right-drag on a slice).");
            }
            crop_and_slab(ui, v, &mut st.crop_handles);
            ui.horizontal(|ui| {
                ui.label("Sampling");
                ui.add(
                    egui::Slider::new(&mut v.step_fraction, 0.25..=1.0)
                        .text("× finest voxel")
                        .fixed_decimals(2),
                )
                .on_hover_text("Step along each ray; ½ is Slicer's normal quality. Steps are longer while the camera moves.");
            });
            let mut exact = v.texels == Encoding::Int16;
            if ui
                .checkbox(&mut exact, "Exact values")
                .on_hover_text(
                    "Upload the stored integers and interpolate them in the shader: every HU \
                     exact (16-bit floats step by 2 HU above 2048), about 2.5 times slower to draw.",
                )
                .changed()
            {
                v.texels = if exact {
                    Encoding::Int16
                } else {
                    Encoding::Float16
                };
            }
            stereo_menu(ui, camera, v);
        });
}

fn preset_row(
    ui: &mut egui::Ui,
    ws: &Workspace,
    v: &mut VolumeView,
    presets: &[crate::dvr::Preset],
) {
    let modality = ws.loaded.as_ref().map_or("", |l| l.modality.as_str());
    let current = presets
        .iter()
        .find(|p| p.key == v.preset)
        .map_or_else(|| "custom".to_string(), |p| p.function.name.clone());
    egui::ComboBox::from_label("Preset")
        .selected_text(current)
        .show_ui(ui, |ui| {
            for p in presets {
                let fits = p.function.modality.is_empty()
                    || p.function.modality.eq_ignore_ascii_case(modality);
                let label = if p.user {
                    format!("{} (yours)", p.function.name)
                } else {
                    p.function.name.clone()
                };
                let text = if fits {
                    egui::RichText::new(label)
                } else {
                    egui::RichText::new(label).weak()
                };
                let r = ui
                    .selectable_label(v.preset == p.key, text)
                    .on_hover_text(&p.function.source);
                if r.clicked()
                    && let Some(l) = ws.loaded.as_ref()
                {
                    v.apply_preset(p, &l.histogram);
                }
            }
        });
}

/// The opacity curve over the histogram, its points and the colour points.
fn editor(ui: &mut egui::Ui, ws: &Workspace, tf: &mut TransferFunction, st: &mut VolumePanelState) {
    let (lo, hi) = shown_range(tf, ws);
    let width = ui.available_width().clamp(200.0, 420.0);
    let (rect, response) = ui.allocate_exact_size(Vec2::new(width, 120.0), Sense::click_and_drag());
    let painter = ui.painter_at(rect);
    painter.rect_filled(rect, 2.0, Color32::from_gray(22));
    let x_of = |value: f64| rect.left() + ((value - lo) / (hi - lo)) as f32 * rect.width();
    let value_of = |x: f32| lo + f64::from((x - rect.left()) / rect.width()) * (hi - lo);
    let y_of = |opacity: f64| rect.bottom() - opacity as f32 * (rect.height() - 6.0) - 3.0;
    let opacity_of =
        |y: f32| f64::from((rect.bottom() - 3.0 - y) / (rect.height() - 6.0)).clamp(0.0, 1.0);
    // The study's histogram, log counts, as the backdrop.
    if let Some(l) = ws.loaded.as_ref() {
        let bins = 120usize;
        let counts = l.histogram.binned(lo, hi, (hi - lo) / bins as f64);
        let top = counts
            .iter()
            .map(|&c| (c as f64 + 1.0).ln())
            .fold(1.0, f64::max);
        for (i, &c) in counts.iter().enumerate() {
            let h = ((c as f64 + 1.0).ln() / top) as f32 * (rect.height() - 4.0);
            let x0 = rect.left() + i as f32 / bins as f32 * rect.width();
            let x1 = rect.left() + (i + 1) as f32 / bins as f32 * rect.width();
            painter.rect_filled(
                Rect::from_min_max(
                    Pos2::new(x0, rect.bottom() - h),
                    Pos2::new(x1, rect.bottom()),
                ),
                0.0,
                Color32::from_gray(55),
            );
        }
    }
    // The curve, coloured by the function's colour at each point.
    let points: Vec<Pos2> = tf
        .opacity
        .iter()
        .map(|p| Pos2::new(x_of(p[0]), y_of(p[1])))
        .collect();
    for w in points.windows(2) {
        painter.line_segment([w[0], w[1]], Stroke::new(1.5, Color32::from_gray(220)));
    }
    let pointer = response
        .interact_pointer_pos()
        .or_else(|| response.hover_pos());
    let nearest = pointer.and_then(|p| {
        points
            .iter()
            .enumerate()
            .filter(|(_, q)| q.distance(p) < 8.0)
            .min_by(|a, b| a.1.distance(p).total_cmp(&b.1.distance(p)))
            .map(|(i, _)| i)
    });
    for (i, (q, op)) in points.iter().zip(&tf.opacity).enumerate() {
        let c = tf.colour_at(op[0]);
        let fill = Color32::from_rgb(
            (c[0] * 255.0) as u8,
            (c[1] * 255.0) as u8,
            (c[2] * 255.0) as u8,
        );
        let r = if Some(i) == nearest { 5.5 } else { 4.0 };
        painter.circle(*q, r, fill, Stroke::new(1.0, Color32::WHITE));
    }
    // Left-drag moves the nearest point; a double-click adds one; a right-click removes one
    // (the two end points stay); right-drag shifts (horizontal) and scales (vertical).
    let n = tf.opacity.len();
    if response.dragged_by(egui::PointerButton::Primary)
        && let (Some(i), Some(p)) = (nearest, pointer)
    {
        let value = if i == 0 || i + 1 == n {
            tf.opacity[i][0]
        } else {
            value_of(p.x)
        };
        tf.opacity[i] = [value, opacity_of(p.y)];
        tf.keep_sorted();
    }
    if response.double_clicked()
        && nearest.is_none()
        && let Some(p) = pointer
    {
        let value = value_of(p.x);
        let at = tf
            .opacity
            .partition_point(|q| q[0] < value)
            .clamp(1, n.max(1));
        tf.opacity.insert(at, [value, opacity_of(p.y)]);
    }
    if response.secondary_clicked()
        && let Some(i) = nearest
        && i > 0
        && i + 1 < n
        && n > 3
    {
        tf.opacity.remove(i);
    }
    if response.drag_started_by(egui::PointerButton::Secondary) {
        st.drag_from = Some(tf.clone());
    }
    if response.dragged_by(egui::PointerButton::Secondary)
        && let (Some(from), Some(start), Some(now)) = (
            st.drag_from.as_ref(),
            ui.input(|i| i.pointer.press_origin()),
            pointer,
        )
    {
        let per_px = (hi - lo) / f64::from(rect.width());
        let shift = f64::from(now.x - start.x) * per_px;
        let scale = (f64::from(start.y - now.y) / 100.0).exp();
        *tf = from.shifted_scaled(shift, scale);
    }
    if response.drag_stopped() {
        st.drag_from = None;
    }
    if let Some(p) = pointer
        && rect.contains(p)
    {
        let text = format!("{:.0} · opacity {:.2}/mm", value_of(p.x), opacity_of(p.y));
        painter.text(
            rect.left_top() + Vec2::new(4.0, 2.0),
            egui::Align2::LEFT_TOP,
            text,
            egui::FontId::monospace(11.0),
            Color32::from_gray(200),
        );
    }
    response.on_hover_text("Drag a point; double-click to add one, right-click to remove it; right-drag to shift and scale the curve like window/level");
    // The colour points, each with its colour button, along the same axis.
    ui.horizontal_wrapped(|ui| {
        ui.label("Colours");
        let mut remove = None;
        let count = tf.colour.len();
        for (i, c) in tf.colour.iter_mut().enumerate() {
            if c[0] < lo || c[0] > hi {
                continue;
            }
            let mut rgb = [c[1] as f32, c[2] as f32, c[3] as f32];
            let r = ui
                .color_edit_button_rgb(&mut rgb)
                .on_hover_text(format!("at {:.0}; right-click to remove", c[0]));
            if r.secondary_clicked() && i > 0 && i + 1 < count && count > 3 {
                remove = Some(i);
            }
            c[1] = f64::from(rgb[0]);
            c[2] = f64::from(rgb[1]);
            c[3] = f64::from(rgb[2]);
        }
        if let Some(i) = remove {
            tf.colour.remove(i);
        }
    });
    ui.checkbox(&mut tf.shading, "Shading (headlight)");
}

fn save_row(ui: &mut egui::Ui, v: &mut VolumeView, st: &mut VolumePanelState) {
    ui.horizontal(|ui| {
        ui.add(
            egui::TextEdit::singleline(&mut st.save_name)
                .hint_text("new preset name")
                .desired_width(140.0),
        );
        let can = !st.save_name.trim().is_empty() && v.function.is_some();
        if ui
            .add_enabled(can, egui::Button::new("Save preset"))
            .clicked()
            && let Some(tf) = v.function.as_ref()
        {
            let mut named = tf.clone();
            named.name = st.save_name.trim().to_string();
            named.source = "Saved in twinplan by the user.".into();
            st.message = Some(match crate::session::prefs::config_dir() {
                None => "There is no configuration folder to save presets in.".into(),
                Some(dir) => match crate::dvr::save_user_preset(&dir, &named) {
                    Ok(key) => {
                        v.preset = key;
                        st.presets = None;
                        format!("Saved as “{}”.", named.name)
                    }
                    Err(e) => format!("Not saved: {e}"),
                },
            });
        }
    });
    if let Some(m) = &st.message {
        ui.weak(m);
    }
}

fn plane_name(p: Plane) -> &'static str {
    match p {
        Plane::Axial => "axial",
        Plane::Coronal => "coronal",
        Plane::Sagittal => "sagittal",
    }
}

fn crop_and_slab(
    ui: &mut egui::Ui,
    v: &mut VolumeView,
    handles: &mut super::volume_crop::CropHandles,
) {
    let whole = v.crop == [[0.0; 3], [1.0; 3]];
    let open = egui::CollapsingHeader::new("Crop box and slab")
        .default_open(!whole)
        .show(ui, |ui| {
            ui.weak("Drag the box's handles in the 3D view, or:");
            for (axis, name) in ["i (columns)", "j (rows)", "k (slices)"].iter().enumerate() {
                ui.horizontal(|ui| {
                    ui.label(*name);
                    let hi = v.crop[1][axis];
                    ui.add(
                        egui::Slider::new(&mut v.crop[0][axis], 0.0..=hi - 0.01).show_value(false),
                    );
                    let lo = v.crop[0][axis];
                    ui.add(
                        egui::Slider::new(&mut v.crop[1][axis], lo + 0.01..=1.0).show_value(false),
                    );
                });
            }
            if ui.button("Reset crop").clicked() {
                v.crop = [[0.0; 3], [1.0; 3]];
            }
            ui.horizontal(|ui| {
                ui.label("Thick slab");
                let mut plane = v.slab.map(|s| s.0);
                let thickness = v.slab.map_or(20.0, |s| s.1);
                egui::ComboBox::from_id_salt("slab plane")
                    .selected_text(plane.map_or("off", plane_name))
                    .show_ui(ui, |ui| {
                        ui.selectable_value(&mut plane, None, "off");
                        for p in Plane::ALL {
                            ui.selectable_value(&mut plane, Some(p), plane_name(p));
                        }
                    });
                let mut t = thickness;
                if plane.is_some() {
                    ui.add(egui::Slider::new(&mut t, 1.0..=100.0).suffix(" mm"));
                }
                v.slab = plane.map(|p| (p, t));
            })
            .response
            .on_hover_text(
                "Only this thickness about the cursor, across the plane (thick-slab MIP)",
            );
        });
    // The box and its handles are in the 3D view while this section is open.
    handles.shown = open.body_returned.is_some();
}

/// Stereo mode and its eye separation and convergence (also the View ▸ Stereo menu).
pub fn stereo_menu(ui: &mut egui::Ui, camera: &OrbitCamera, v: &mut VolumeView) {
    ui.horizontal(|ui| {
        ui.label("Stereo");
        egui::ComboBox::from_id_salt("stereo mode")
            .selected_text(v.stereo.label())
            .show_ui(ui, |ui| {
                for m in StereoMode::ALL {
                    ui.selectable_value(&mut v.stereo, m, m.label());
                }
            });
    });
    if v.stereo != StereoMode::Off {
        let mut s = v.stereo_params.unwrap_or(Stereo {
            separation_mm: 0.0,
            convergence_mm: 0.0,
        });
        let defaults = s.separation_mm <= 0.0;
        ui.horizontal(|ui| {
            if defaults {
                ui.weak("Eyes: defaults from the view (1/30 of the distance)");
            } else {
                ui.add(egui::Slider::new(&mut s.separation_mm, 1.0..=200.0).text("separation mm"));
            }
        });
        if !defaults {
            ui.add(egui::Slider::new(&mut s.convergence_mm, 50.0..=3000.0).text("convergence mm"));
        }
        ui.horizontal(|ui| {
            if defaults && ui.button("Adjust").clicked() {
                v.stereo_params = Some(Stereo::defaults(camera));
            } else if !defaults {
                v.stereo_params = Some(s);
                if ui.button("Defaults").clicked() {
                    v.stereo_params = None;
                }
            }
        });
    }
}
