//! The views of the selected path: the fly-through from inside the lumen and the
//! cross-section perpendicular to the path, with the point's read-out.

use super::*;

/// The view from inside the vessel at the hovered (or fly-through) point, looking along the
/// path.
pub(super) fn fly_view(
    ui: &mut egui::Ui,
    path: &CatheterPath,
    r: &crate::catheter::PathReport,
    hovered: Option<usize>,
    lumen: Option<&Arc<Lumen>>,
    pui: &mut PathUi,
    side: f32,
) {
    let side = side.max(60.0);
    let (rect, _) = ui.allocate_exact_size(egui::vec2(side, side + 16.0), egui::Sense::hover());
    let painter = ui.painter_at(rect);
    painter.rect_filled(rect, 4.0, Color32::from_gray(18));
    // Where the cross-section is: the hovered point, else the narrowest.
    let narrowest = r
        .points_lps_mm
        .iter()
        .position(|p| *p == r.min_lumen_position_lps_mm)
        .unwrap_or(0);
    let i = hovered
        .unwrap_or(narrowest)
        .min(r.points_lps_mm.len().saturating_sub(1));
    let Some(lumen) = lumen else {
        placeholder(&painter, rect, "growing the lumen…");
        return;
    };
    // The path's length stands for its points: a re-planned path is drawn again.
    let key = (path.id, i, r.length_mm.to_bits());
    let dragging = pui.drag.is_some() && pui.fly.is_some();
    if !dragging && pui.fly.as_ref().is_none_or(|f| f.0 != key) {
        let Some((eye, forward, up)) =
            crate::catheter::flythrough::view_at(&r.points_lps_mm, i, 8.0)
        else {
            return;
        };
        let f = crate::catheter::flythrough::render(lumen, eye, forward, up, 90.0, 160);
        let pixels: Vec<u8> = f.rgb.iter().flat_map(|c| *c).collect();
        let image = egui::ColorImage::from_rgb([f.size, f.size], &pixels);
        let handle = match pui.fly.take() {
            Some((_, mut handle)) => {
                handle.set(image, egui::TextureOptions::LINEAR);
                handle
            }
            None => ui
                .ctx()
                .load_texture("path-fly", image, egui::TextureOptions::LINEAR),
        };
        pui.fly = Some((key, handle));
    }
    if let Some((_, tex)) = &pui.fly {
        let square = egui::Rect::from_min_size(rect.min, egui::vec2(side, side));
        let uv = egui::Rect::from_min_max(egui::pos2(0.0, 0.0), egui::pos2(1.0, 1.0));
        painter.image(tex.id(), square, uv, Color32::WHITE);
    }
    painter.text(
        rect.left_top() + egui::vec2(6.0, 4.0),
        egui::Align2::LEFT_TOP,
        "Inside, looking ahead",
        egui::FontId::proportional(12.0),
        Color32::from_gray(230),
    );
    painter.text(
        rect.left_bottom() + egui::vec2(6.0, -2.0),
        egui::Align2::LEFT_BOTTOM,
        format!(
            "{:.0} mm from the entry",
            r.along_mm.get(i).copied().unwrap_or(0.0)
        ),
        egui::FontId::proportional(11.5),
        Color32::from_gray(220),
    );
}

/// The cross-section perpendicular to the path at the hovered point (the narrowest point
/// when none is): the lumen's contour as the rays found it, its smallest calliper width,
/// and the device's outer diameter as a circle on the path point, to scale, with the
/// figures.
pub(super) fn cross_section(
    ui: &mut egui::Ui,
    path: &CatheterPath,
    r: &crate::catheter::PathReport,
    hovered: Option<usize>,
    lumen: Option<&Lumen>,
    height: f32,
) {
    let n = r.points_lps_mm.len();
    let i = hovered
        .unwrap_or_else(|| {
            r.points_lps_mm
                .iter()
                .position(|p| *p == r.min_lumen_position_lps_mm)
                .unwrap_or(0)
        })
        .min(n.saturating_sub(1));
    let side = height.min(ui.available_width() - 8.0).max(60.0);
    let (rect, _) = ui.allocate_exact_size(egui::vec2(side, side + 16.0), egui::Sense::hover());
    let painter = ui.painter_at(rect);
    painter.rect_filled(rect, 4.0, Color32::from_gray(18));
    let square = egui::Rect::from_min_size(rect.min, egui::vec2(side, side));
    let title = format!(
        "Cross-section at {:.0} mm",
        r.along_mm.get(i).copied().unwrap_or(0.0)
    );
    painter.text(
        square.left_top() + egui::vec2(6.0, 4.0),
        egui::Align2::LEFT_TOP,
        title,
        egui::FontId::proportional(12.0),
        Color32::from_gray(200),
    );
    let Some(lumen) = lumen else {
        placeholder(&painter, square, "growing the lumen…");
        return;
    };
    if n < 2 {
        return;
    }
    let p = r.points_lps_mm[i];
    let (a, b) = (
        r.points_lps_mm[i.saturating_sub(2)],
        r.points_lps_mm[(i + 2).min(n - 1)],
    );
    let t = [b[0] - a[0], b[1] - a[1], b[2] - a[2]];
    let Some(sec) = section::section(lumen, &p, &t, 0.5 * r.diameters_mm[i]) else {
        placeholder(&painter, square, "no section here");
        return;
    };
    let Some(tn) = nalgebra::Vector3::from(t).try_normalize(1e-12) else {
        return;
    };
    let (u, w) = section::plane_axes(tn);
    let centre = nalgebra::Vector3::from(p);
    let flat: Vec<[f64; 2]> = sec
        .contour_lps_mm
        .iter()
        .map(|q| {
            let d = nalgebra::Vector3::from(*q) - centre;
            [d.dot(&u), d.dot(&w)]
        })
        .collect();
    let extent = flat
        .iter()
        .fold(1.0f64, |m, q| m.max(q[0].abs()).max(q[1].abs()));
    let od = path.device.as_ref().map_or(0.0, |d| d.outer_diameter_mm);
    let scale = (0.5 * f64::from(side) - 18.0) / extent.max(0.5 * od + 0.5);
    let mid = square.center() + egui::vec2(0.0, 6.0);
    let to_screen = |q: [f64; 2]| mid + egui::vec2((q[0] * scale) as f32, (-q[1] * scale) as f32);
    let outline: Vec<Pos2> = flat.iter().map(|q| to_screen(*q)).collect();
    // The contour is star-shaped about the path point: a fan from it fills it.
    let fill = Color32::from_rgba_unmultiplied(200, 40, 35, 90);
    let mut fan = egui::Mesh::default();
    fan.colored_vertex(to_screen([0.0, 0.0]), fill);
    for q in &outline {
        fan.colored_vertex(*q, fill);
    }
    let k = outline.len() as u32;
    for j in 0..k {
        fan.add_triangle(0, 1 + j, 1 + (j + 1) % k);
    }
    painter.add(egui::Shape::mesh(fan));
    painter.add(egui::Shape::closed_line(
        outline,
        Stroke::new(2.0, Color32::from_rgb(240, 110, 90)),
    ));
    // The smallest width, across the centroid of the contour along its direction.
    let m = nalgebra::Vector3::from(sec.min_direction);
    let md = [m.dot(&u), m.dot(&w)];
    let c = section::centroid(&sec, &p).map_or([0.0, 0.0], |q| {
        let d = nalgebra::Vector3::from(q) - centre;
        [d.dot(&u), d.dot(&w)]
    });
    let half = 0.5 * sec.min_diameter_mm;
    painter.line_segment(
        [
            to_screen([c[0] - md[0] * half, c[1] - md[1] * half]),
            to_screen([c[0] + md[0] * half, c[1] + md[1] * half]),
        ],
        Stroke::new(1.5, Color32::from_rgb(255, 220, 120)),
    );
    if od > 0.0 {
        let colour = path
            .fit
            .as_ref()
            .and_then(|f| f.sfar.get(i))
            .map_or(tube::PATH_COLOUR, |s| tube::clearance_colour(*s));
        painter.circle_stroke(
            to_screen([0.0, 0.0]),
            (0.5 * od * scale) as f32,
            Stroke::new(2.0, colour32(colour)),
        );
    }
    painter.circle_filled(to_screen([0.0, 0.0]), 2.5, Color32::WHITE);
    // A 5 mm scale bar.
    let bar = (5.0 * scale) as f32;
    let y = square.bottom() - 10.0;
    painter.line_segment(
        [
            egui::pos2(square.right() - 10.0 - bar, y),
            egui::pos2(square.right() - 10.0, y),
        ],
        Stroke::new(2.0, Color32::from_gray(200)),
    );
    painter.text(
        egui::pos2(square.right() - 10.0 - 0.5 * bar, y - 3.0),
        egui::Align2::CENTER_BOTTOM,
        "5 mm",
        egui::FontId::proportional(10.5),
        Color32::from_gray(200),
    );
    painter.text(
        rect.left_bottom() + egui::vec2(6.0, -2.0),
        egui::Align2::LEFT_BOTTOM,
        if sec.open {
            "no vessel section here: most rays leave the lumen (a branch, a contact)".to_string()
        } else {
            format!(
                "min {:.1} · max {:.1} mm · {:.0} mm² · eq. {:.1} mm{}",
                sec.min_diameter_mm,
                sec.max_diameter_mm,
                sec.area_mm2,
                sec.area_equivalent_diameter_mm,
                if sec.bridged_rays > 0 {
                    format!(
                        " · closed across a branch ({} of {} rays)",
                        sec.bridged_rays,
                        sec.contour_lps_mm.len()
                    )
                } else {
                    String::new()
                }
            )
        },
        egui::FontId::proportional(11.5),
        Color32::from_gray(220),
    );
}

/// The point under the pointer in either plot becomes the hovered one; its figures below.
pub(super) fn hover_and_readout(
    ui: &mut egui::Ui,
    path: &CatheterPath,
    r: &crate::catheter::PathReport,
    hovered: Option<usize>,
    pui: &mut PathUi,
    plots: &[&Shown],
) {
    let pointer = plots
        .iter()
        .find(|p| p.response.hovered())
        .and_then(|p| p.inner);
    if let Some(at) = pointer {
        let i = r
            .along_mm
            .partition_point(|&a| a < at.x)
            .min(r.along_mm.len() - 1);
        pui.hover = Some((path.id, i));
    } else if !pui.hover_from_view && pui.hover.is_some_and(|(id, _)| id == path.id) {
        pui.hover = None;
    }
    pui.hover_from_view = false;
    // The line is always there (the views above must not move when it comes and goes).
    let text = match hovered {
        Some(i) => {
            let sfar = path
                .fit
                .as_ref()
                .and_then(|f| f.sfar.get(i))
                .map_or(String::new(), |s| format!(", SFAR {s:.2}"));
            format!(
                "{:.1} mm from the entry: lumen {:.1} × {:.1} mm (area-equivalent {:.1}){sfar}",
                r.along_mm[i],
                r.min_diameters_mm[i],
                r.max_diameters_mm[i],
                r.area_equivalent_diameters_mm[i]
            )
        }
        None => "Point at a plot or at the path in a view for the figures there.".to_string(),
    };
    // The line takes the rest of the panel, so the panel's content is exactly its size
    // whatever it shows (glyphs from another font, such as ×, must not make it taller, and
    // content shorter or taller than the panel makes it shrink or grow frame by frame).
    let (rect, _) = ui.allocate_exact_size(
        egui::vec2(ui.available_width(), ui.available_height().max(16.0)),
        egui::Sense::hover(),
    );
    ui.painter_at(rect).text(
        rect.left_top() + egui::vec2(0.0, 8.0),
        egui::Align2::LEFT_CENTER,
        text,
        egui::FontId::proportional(12.0),
        ui.visuals().text_color(),
    );
}
