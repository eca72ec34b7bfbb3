//! Drawing helpers the views and overlays share: text that stays legible over any image or
//! surface. egui only; no state.

use bevy_egui::egui::{self, Color32, Pos2};

/// Text that stays legible over any image or surface: drawn on a dark backing. Returns
/// where it went.
pub fn overlay_text(
    painter: &egui::Painter,
    pos: Pos2,
    align: egui::Align2,
    text: impl ToString,
    font: egui::FontId,
    colour: Color32,
) -> egui::Rect {
    let galley = painter.layout_no_wrap(text.to_string(), font, colour);
    let rect = align.anchor_size(pos, galley.size());
    painter.rect_filled(rect.expand2(egui::vec2(4.0, 2.0)), 3.0, OVERLAY_BACKING);
    painter.galley(rect.min, galley, colour);
    rect
}

/// The backing behind overlay text: dark enough for white text over bone.
pub const OVERLAY_BACKING: Color32 = Color32::from_rgba_premultiplied(0, 0, 0, 205);
