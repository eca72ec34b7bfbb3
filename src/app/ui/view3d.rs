//! The 3D view's overlay: the rendered scene, the orientation cube, the camera's and
//! clipping controls, and the plan's overlay (markups and paths) with its input.

use super::*;
use crate::app::volume_crop;

/// The two eyes' images composed as the stereo mode says. The anaglyph adds the right eye's
/// green and blue to the left eye's red: a tint with zero alpha blends additively under
/// egui's premultiplied blending, so each channel is exactly one eye's.
fn stereo_images(
    painter: &egui::Painter,
    r: egui::Rect,
    uv: egui::Rect,
    mode: crate::dvr::stereo::StereoMode,
    left: egui::TextureId,
    right: egui::TextureId,
) {
    use crate::dvr::stereo::StereoMode;
    match mode {
        StereoMode::Off => {
            painter.image(left, r, uv, Color32::WHITE);
        }
        StereoMode::Anaglyph => {
            painter.image(
                left,
                r,
                uv,
                Color32::from_rgba_premultiplied(255, 0, 0, 255),
            );
            painter.image(
                right,
                r,
                uv,
                Color32::from_rgba_premultiplied(0, 255, 255, 0),
            );
        }
        StereoMode::SideBySide => {
            let (a, b) = r.split_left_right_at_fraction(0.5);
            painter.image(left, a, uv, Color32::WHITE);
            painter.image(right, b, uv, Color32::WHITE);
        }
        StereoMode::TopBottom => {
            let (a, b) = r.split_top_bottom_at_fraction(0.5);
            painter.image(left, a, uv, Color32::WHITE);
            painter.image(right, b, uv, Color32::WHITE);
        }
    }
}

/// Overlay of the 3D view: standard-view buttons, reset, orientation marker; mouse input.
pub(super) fn view_3d_overlay(
    root: &mut egui::Ui,
    ws: &Workspace,
    view: &ViewState,
    rect: ViewRect,
    (scene, (stereo, right_eye)): (
        Option<egui::TextureId>,
        (crate::dvr::stereo::StereoMode, Option<egui::TextureId>),
    ),
    actions: &mut Vec<UiAction>,
    t: &mut Tools,
) {
    let r = egui::Rect::from_min_size(egui::pos2(rect.x, rect.y), egui::vec2(rect.w, rect.h));
    let response = root.interact(r, egui::Id::new("view-3d"), egui::Sense::click_and_drag());
    let painter = root.painter_at(r);
    // The anatomy, as the camera last rendered it (it renders again only when the scene
    // changes, so a frame drawn for the panels or a slice costs no 3D rendering).
    let uv = egui::Rect::from_min_max(egui::pos2(0.0, 0.0), egui::pos2(1.0, 1.0));
    match (scene, right_eye) {
        (Some(left), Some(right)) => stereo_images(&painter, r, uv, stereo, left, right),
        (Some(id), None) => {
            painter.image(id, r, uv, Color32::WHITE);
        }
        _ => {}
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
    orientation_marker(&painter, &view.camera, r);
    if ws.loaded.is_none() {
        painter.text(
            r.center(),
            egui::Align2::CENTER_CENTER,
            "No series loaded",
            egui::FontId::proportional(13.0),
            Color32::GRAY,
        );
    }
    overlay::draw_on_3d(&painter, view, &t.doc, t.tool, t.paths, r);
    crate::app::edit::draw_on_3d(&painter, t.edit);
    let grid = ws.loaded.as_ref().map(|l| &l.volume.geometry);
    if let Some(g) = grid {
        volume_crop::draw(
            &painter,
            g,
            &view.camera,
            t.volume,
            &t.volume_panel.crop_handles,
            r,
        );
    }
    // Input: the crop box's handles first (they sit on the box), then the plan's overlay.
    if let Some(g) = grid
        && volume_crop::input(
            &response,
            g,
            &view.camera,
            t.volume,
            &mut t.volume_panel.crop_handles,
            r,
        )
    {
        return;
    }
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

/// Orientation marker in the lower left corner: the patient's axes as seen from the camera.
fn orientation_marker(
    painter: &egui::Painter,
    cam: &crate::session::camera::OrbitCamera,
    r: egui::Rect,
) {
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
            painter,
            tip,
            egui::Align2::CENTER_CENTER,
            name,
            egui::FontId::proportional(13.0),
            col,
        );
    }
}
