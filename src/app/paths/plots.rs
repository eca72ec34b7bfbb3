//! The plots along a path: diameters (minimal, maximal, area-equivalent, inscribed), the
//! curvature, and the straightened or stretched reformat under them, sharing one axis.

use super::*;

/// The selected path's diameters and curvature along it; the hovered point is marked and
/// shared with the views.
pub(super) fn plot(
    ui: &mut egui::Ui,
    ws: &Workspace,
    view: &ViewState,
    structures: &[PlanStructure],
    path: &CatheterPath,
    pui: &mut PathUi,
) {
    let Some(r) = report_of(path) else { return };
    let device = path.device.clone();
    let title = match &path.fit {
        Some(f) => format!(
            "{} — {} · largest SFAR {:.2}",
            path.name, f.device.name, f.max_sfar
        ),
        None => format!("{} — no device chosen", path.name),
    };
    ui.horizontal(|ui| {
        ui.label(RichText::new(title).strong());
        ui.label(RichText::new(path.label()).weak());
        ui.separator();
        ui.selectable_value(&mut pui.cpr_stretched, false, "Straightened")
            .on_hover_text("The path straightened: lengths along it read true");
        ui.selectable_value(&mut pui.cpr_stretched, true, "Stretched")
            .on_hover_text("Lines along one direction: the vessel's course in that plane");
        ui.add(
            egui::Slider::new(&mut pui.cpr_angle_deg, -180.0..=180.0)
                .suffix("°")
                .text("about the path"),
        );
        ui.separator();
        let length = r.length_mm;
        let play = if pui.playing {
            "⏸ Pause"
        } else {
            "▶ Fly through"
        };
        if ui.button(play).clicked() {
            pui.playing = !pui.playing;
            if pui.fly_mm >= length - 1.0 {
                pui.fly_mm = 0.0;
            }
            pui.fly_tick = None;
        }
        let moved = ui
            .add(egui::Slider::new(&mut pui.fly_mm, 0.0..=length).suffix(" mm"))
            .changed();
        if pui.playing {
            // 25 mm of vessel a second, as fast as frames come.
            let now = std::time::Instant::now();
            if let Some(t) = pui.fly_tick {
                pui.fly_mm = (pui.fly_mm + 25.0 * now.duration_since(t).as_secs_f64()).min(length);
            }
            pui.fly_tick = Some(now);
            if pui.fly_mm >= length {
                pui.playing = false;
            }
            ui.ctx().request_repaint();
        }
        if pui.playing || moved {
            pui.fly_on = Some(path.id);
            let i = r
                .along_mm
                .partition_point(|&a| a < pui.fly_mm)
                .min(r.along_mm.len() - 1);
            pui.hover = Some((path.id, i));
            pui.hover_from_view = true;
        }
    });
    // The point the views show: the one under the pointer (in a plot or in 3D), else where
    // the fly-through is once it was moved or played (the views stay there when the
    // slider is let go), else the narrowest.
    let hovered = pui
        .hover
        .filter(|(id, i)| *id == path.id && *i < r.along_mm.len())
        .map(|(_, i)| i)
        .or_else(|| {
            (pui.fly_on == Some(path.id)).then(|| {
                r.along_mm
                    .partition_point(|&a| a < pui.fly_mm)
                    .min(r.along_mm.len() - 1)
            })
        });
    // What is left under the header, less the read-out line (which takes the rest).
    let below = 16.0 + 2.0 * ui.spacing().item_spacing.y + 2.0;
    let height = (ui.available_height() - below).max(250.0);
    let width = ui.available_width();
    let lumen = pui.lumen(ws, structures, path);
    let cpr = pui.cpr_texture(ui.ctx(), ws, view, path);
    let (shown, curved, reformatted) = ui
        .horizontal(|ui| {
            let (shown, reformatted) = ui
                .vertical(|ui| {
                    let reformatted = cpr.map(|(tex, length, half)| {
                        reformat_plot(
                            ui,
                            path,
                            tex,
                            length,
                            half,
                            hovered.map(|i| r.along_mm[i]),
                            egui::vec2(width * 0.5, height * 0.42),
                        )
                    });
                    let shown = diameter_plot(
                        ui,
                        path,
                        r,
                        hovered,
                        device.as_ref(),
                        width * 0.5,
                        height * 0.55,
                    );
                    (shown, reformatted)
                })
                .inner;
            let curved =
                curvature_plot(ui, path, r, hovered, device.as_ref(), width * 0.15, height);
            let square = height.min(width * 0.16);
            cross_section(ui, path, r, hovered, lumen.as_deref(), square);
            fly_view(ui, path, r, hovered, lumen.as_ref(), pui, square);
            (shown, curved, reformatted)
        })
        .inner;
    let mut plots = vec![&shown, &curved];
    plots.extend(reformatted.as_ref());
    hover_and_readout(ui, path, r, hovered, pui, &plots);
}

pub(super) type Shown = egui_plot::PlotResponse<Option<egui_plot::PlotPoint>>;

pub(super) fn series(along: &[f64], v: &[f64]) -> PlotPoints<'static> {
    along
        .iter()
        .zip(v)
        .map(|(x, y)| [*x, *y])
        .collect::<Vec<_>>()
        .into()
}

/// A plot against the distance from the entry: `add` draws its lines; the hovered point is
/// a vertical line; the pointer's position comes back.
pub(super) fn along_plot<'a>(
    ui: &mut egui::Ui,
    id: (&str, u64),
    size: egui::Vec2,
    y_label: &str,
    legend: bool,
    hovered_x: Option<f64>,
    add: impl FnOnce(&mut egui_plot::PlotUi<'a>) + 'a,
) -> Shown {
    let mut plot = Plot::new(id)
        .link_axis("path-along", [true, false])
        .link_cursor("path-along", [true, false])
        .width(size.x)
        .height(size.y)
        .x_axis_label("mm from the entry")
        .y_axis_label(y_label)
        .allow_scroll(false);
    if legend {
        plot = plot.legend(
            Legend::default()
                .position(egui_plot::Corner::RightBottom)
                .background_alpha(0.6),
        );
    }
    plot.show(ui, move |pu| {
        add(pu);
        if let Some(x) = hovered_x {
            pu.vline(VLine::new("", x).color(Color32::WHITE));
        }
        pu.pointer_coordinate()
    })
}

pub(super) fn diameter_plot(
    ui: &mut egui::Ui,
    path: &CatheterPath,
    r: &crate::catheter::PathReport,
    hovered: Option<usize>,
    device: Option<&crate::catheter::Device>,
    width: f32,
    height: f32,
) -> Shown {
    let series = |v: &[f64]| series(&r.along_mm, v);
    let hovered_x = hovered.map(|i| r.along_mm[i]);
    let id = ("path-diameters", path.id);
    along_plot(
        ui,
        id,
        egui::vec2(width, height),
        "diameter, mm",
        true,
        hovered_x,
        |pu| {
            let lines = [
                (
                    "smallest calliper",
                    &r.min_diameters_mm,
                    Color32::from_rgb(240, 120, 90),
                ),
                (
                    "largest calliper",
                    &r.max_diameters_mm,
                    Color32::from_rgb(120, 170, 240),
                ),
                (
                    "area-equivalent",
                    &r.area_equivalent_diameters_mm,
                    Color32::from_gray(200),
                ),
            ];
            for (name, values, colour) in lines {
                pu.line(Line::new(name, series(values)).color(colour));
            }
            if let Some(d) = device {
                let name = format!("{} outer", d.name);
                pu.hline(
                    HLine::new(name, d.outer_diameter_mm).color(Color32::from_rgb(240, 200, 90)),
                );
            }
        },
    )
}

pub(super) fn curvature_plot(
    ui: &mut egui::Ui,
    path: &CatheterPath,
    r: &crate::catheter::PathReport,
    hovered: Option<usize>,
    device: Option<&crate::catheter::Device>,
    width: f32,
    height: f32,
) -> Shown {
    let curvature: Vec<f64> = r.curvature_per_mm.iter().map(|k| k * 10.0).collect();
    let bend_limit = device.and_then(|d| d.min_bend_radius_mm);
    let hovered_x = hovered.map(|i| r.along_mm[i]);
    let id = ("path-curvature", path.id);
    along_plot(
        ui,
        id,
        egui::vec2(width, height),
        "curvature, 1/cm",
        false,
        hovered_x,
        |pu| {
            let line = Line::new("curvature", series(&r.along_mm, &curvature));
            pu.line(line.color(Color32::from_rgb(160, 220, 140)));
            if let Some(b) = bend_limit {
                let limit = HLine::new("device's bend limit", 10.0 / b);
                pu.hline(limit.color(Color32::from_rgb(60, 190, 240)));
            }
        },
    )
}

/// The reformat as an image in a plot sharing the profile's distance axis.
pub(super) fn reformat_plot(
    ui: &mut egui::Ui,
    path: &CatheterPath,
    texture: egui::TextureId,
    length_mm: f64,
    half_mm: f64,
    hovered_x: Option<f64>,
    size: egui::Vec2,
) -> Shown {
    let id = ("path-reformat", path.id);
    along_plot(ui, id, size, "across, mm", false, hovered_x, move |pu| {
        let centre = egui_plot::PlotPoint::new(0.5 * length_mm, 0.0);
        let extent = egui::vec2(length_mm as f32, (2.0 * half_mm) as f32);
        pu.image(egui_plot::PlotImage::new(
            "reformat", texture, centre, extent,
        ));
    })
}

/// A note in the middle of an empty view box.
pub(super) fn placeholder(painter: &egui::Painter, rect: egui::Rect, text: &str) {
    painter.text(
        rect.center(),
        egui::Align2::CENTER_CENTER,
        text,
        egui::FontId::proportional(12.0),
        Color32::from_gray(150),
    );
}
