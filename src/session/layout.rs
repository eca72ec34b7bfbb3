//! The view layout and the slice views' screen mapping, as plain geometry: which views are
//! on screen and where (four-up or one view), and how a slice view's zoom and pan map
//! screen points to slice pixels and so to patient millimetres. No UI toolkit here.

use nalgebra::Point3;
use serde::{Deserialize, Serialize};

use crate::volume::display::{Plane, Slice};

/// The four views of the workstation.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum ViewId {
    Axial,
    Coronal,
    Sagittal,
    ThreeD,
}

impl ViewId {
    /// In key order: 1 axial, 2 coronal, 3 sagittal, 4 3D.
    pub const ALL: [ViewId; 4] = [
        ViewId::Axial,
        ViewId::Coronal,
        ViewId::Sagittal,
        ViewId::ThreeD,
    ];

    pub fn plane(&self) -> Option<Plane> {
        match self {
            ViewId::Axial => Some(Plane::Axial),
            ViewId::Coronal => Some(Plane::Coronal),
            ViewId::Sagittal => Some(Plane::Sagittal),
            ViewId::ThreeD => None,
        }
    }

    pub fn name(&self) -> &'static str {
        match self {
            ViewId::Axial => "Axial",
            ViewId::Coronal => "Coronal",
            ViewId::Sagittal => "Sagittal",
            ViewId::ThreeD => "3D",
        }
    }

    /// The number key that shows this view alone.
    pub fn key(&self) -> usize {
        match self {
            ViewId::Axial => 1,
            ViewId::Coronal => 2,
            ViewId::Sagittal => 3,
            ViewId::ThreeD => 4,
        }
    }

    pub fn from_name(name: &str) -> Option<ViewId> {
        let n = name.to_ascii_lowercase();
        ViewId::ALL
            .into_iter()
            .find(|v| v.name().to_ascii_lowercase() == n)
    }
}

/// An axis-aligned screen rectangle (logical pixels, y down).
#[derive(Debug, Clone, Copy, PartialEq, Default, Serialize, Deserialize)]
pub struct Rect {
    pub x: f32,
    pub y: f32,
    pub w: f32,
    pub h: f32,
}

impl Rect {
    pub fn new(x: f32, y: f32, w: f32, h: f32) -> Rect {
        Rect { x, y, w, h }
    }
    pub fn contains(&self, px: f32, py: f32) -> bool {
        px >= self.x && py >= self.y && px < self.x + self.w && py < self.y + self.h
    }
}

/// Four-up or one view filling the area.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum Layout {
    FourUp,
    Single(ViewId),
}

impl Layout {
    /// Where each visible view goes inside `area`, with `gap` pixels between views.
    /// Four-up follows Slicer: axial top left, 3D top right, coronal bottom left, sagittal
    /// bottom right.
    pub fn arrange(&self, area: Rect, gap: f32) -> Vec<(ViewId, Rect)> {
        match self {
            Layout::Single(v) => vec![(*v, area)],
            Layout::FourUp => {
                let w = ((area.w - gap) * 0.5).max(1.0);
                let h = ((area.h - gap) * 0.5).max(1.0);
                let (x1, y1) = (area.x + w + gap, area.y + h + gap);
                vec![
                    (ViewId::Axial, Rect::new(area.x, area.y, w, h)),
                    (ViewId::ThreeD, Rect::new(x1, area.y, w, h)),
                    (ViewId::Coronal, Rect::new(area.x, y1, w, h)),
                    (ViewId::Sagittal, Rect::new(x1, y1, w, h)),
                ]
            }
        }
    }

    /// Double-click or the view's key: a view alone, or back to four-up if it already is.
    pub fn toggled(&self, view: ViewId) -> Layout {
        match self {
            Layout::Single(v) if *v == view => Layout::FourUp,
            _ => Layout::Single(view),
        }
    }
}

/// Zoom and pan of one slice view (zoom 1 = the slice fits the view).
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct SliceViewState {
    pub zoom: f64,
    pub pan_px: [f64; 2],
}

impl Default for SliceViewState {
    fn default() -> Self {
        SliceViewState {
            zoom: 1.0,
            pan_px: [0.0, 0.0],
        }
    }
}

impl SliceViewState {
    /// Ctrl-wheel: zoom about the screen point `(x, y)`, which stays on the same pixel.
    pub fn zoom_about(&mut self, factor: f64, map: &SliceMapping, x: f64, y: f64) {
        let (u, v) = map.slice_of(x, y);
        self.zoom = (self.zoom * factor).clamp(0.25, 40.0);
        let scale = map.fit_scale * self.zoom;
        // The view centre stays put; the origin moves with the scale.
        let centre = [
            map.origin[0] + map.size[0] * map.scale * 0.5,
            map.origin[1] + map.size[1] * map.scale * 0.5,
        ];
        let after = SliceMapping {
            scale,
            origin: [
                centre[0] - map.size[0] * scale * 0.5,
                centre[1] - map.size[1] * scale * 0.5,
            ],
            ..*map
        };
        let (x2, y2) = after.screen_of(u, v);
        self.pan_px[0] += x - x2;
        self.pan_px[1] += y - y2;
    }
}

/// Turns mouse-wheel motion into whole slice steps without losing any: several notches
/// that arrive in one (slow) frame all count, and the fractions a touchpad sends add up.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct WheelSteps {
    carry: f64,
}

/// Wheel units, as windowing systems report them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum WheelUnit {
    /// Notches ("lines").
    Line,
    /// Logical pixels (touchpads): [`WheelSteps::POINTS_PER_STEP`] make one step.
    Point,
    /// Pages: ten steps each.
    Page,
}

impl WheelSteps {
    pub const POINTS_PER_STEP: f64 = 40.0;

    /// Adds one wheel event; returns the whole steps it completes (sign = direction).
    pub fn add(&mut self, unit: WheelUnit, delta: f64) -> i64 {
        if !delta.is_finite() {
            return 0;
        }
        self.carry += match unit {
            WheelUnit::Line => delta,
            WheelUnit::Point => delta / Self::POINTS_PER_STEP,
            WheelUnit::Page => delta * 10.0,
        };
        // A tiny tolerance so 0.1 + 0.2 + … lands on whole steps.
        let steps = (self.carry + self.carry.signum() * 1e-9).trunc();
        self.carry -= steps;
        steps as i64
    }
}

/// Screen ↔ slice pixel mapping of a slice view.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct SliceMapping {
    /// Screen pixels per slice pixel.
    pub scale: f64,
    pub fit_scale: f64,
    /// Screen position of slice pixel (0, 0)'s corner.
    pub origin: [f64; 2],
    /// Slice size in pixels.
    pub size: [f64; 2],
}

impl SliceMapping {
    /// The slice (`width × height` pixels) centred in `rect`, fitted, then zoomed and panned.
    pub fn new(width: usize, height: usize, rect: Rect, state: &SliceViewState) -> SliceMapping {
        let (w, h) = (width.max(1) as f64, height.max(1) as f64);
        let fit = (f64::from(rect.w) / w).min(f64::from(rect.h) / h);
        let scale = fit * state.zoom;
        let cx = f64::from(rect.x) + f64::from(rect.w) * 0.5 + state.pan_px[0];
        let cy = f64::from(rect.y) + f64::from(rect.h) * 0.5 + state.pan_px[1];
        SliceMapping {
            scale,
            fit_scale: fit,
            origin: [cx - w * scale * 0.5, cy - h * scale * 0.5],
            size: [w, h],
        }
    }

    pub fn for_slice(slice: &Slice, rect: Rect, state: &SliceViewState) -> SliceMapping {
        SliceMapping::new(slice.width, slice.height, rect, state)
    }

    /// Screen point of the *centre* of slice pixel `(u, v)` (continuous pixel coordinates).
    pub fn screen_of(&self, u: f64, v: f64) -> (f64, f64) {
        (
            self.origin[0] + (u + 0.5) * self.scale,
            self.origin[1] + (v + 0.5) * self.scale,
        )
    }

    /// Continuous slice pixel under a screen point (inverse of [`Self::screen_of`]).
    pub fn slice_of(&self, x: f64, y: f64) -> (f64, f64) {
        (
            (x - self.origin[0]) / self.scale - 0.5,
            (y - self.origin[1]) / self.scale - 0.5,
        )
    }

    /// The patient point (LPS mm) under a screen point of this view of `slice`: where a
    /// click, a hover or a measurement's point lands.
    pub fn patient_at_screen(&self, slice: &Slice, x: f64, y: f64) -> Point3<f64> {
        let (u, v) = self.slice_of(x, y);
        slice.patient_at(u, v)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn four_up_tiles_the_area() {
        let area = Rect::new(300.0, 40.0, 1000.0, 800.0);
        let views = Layout::FourUp.arrange(area, 4.0);
        assert_eq!(views.len(), 4);
        let total: f32 = views.iter().map(|(_, r)| r.w * r.h).sum();
        assert!((total - (1000.0 * 800.0 - 4.0 * 1000.0 - 4.0 * 800.0 + 16.0)).abs() < 1.0);
        for (i, (_, a)) in views.iter().enumerate() {
            for (_, b) in &views[i + 1..] {
                let overlap_x = a.x < b.x + b.w && b.x < a.x + a.w;
                let overlap_y = a.y < b.y + b.h && b.y < a.y + a.h;
                assert!(!(overlap_x && overlap_y));
            }
        }
        assert_eq!(
            Layout::FourUp.toggled(ViewId::Coronal),
            Layout::Single(ViewId::Coronal)
        );
        assert_eq!(
            Layout::Single(ViewId::Coronal).toggled(ViewId::Coronal),
            Layout::FourUp
        );
        assert_eq!(ViewId::from_name("3d"), Some(ViewId::ThreeD));
    }

    #[test]
    fn wheel_notches_are_never_dropped() {
        let mut w = WheelSteps::default();
        // Three notches in one frame: three steps.
        let frame: i64 = [1.0, 1.0, 1.0]
            .iter()
            .map(|d| w.add(WheelUnit::Line, *d))
            .sum();
        assert_eq!(frame, 3);
        // One event carrying two notches (some systems merge them).
        assert_eq!(w.add(WheelUnit::Line, -2.0), -2);
        // A touchpad: 13 points at a time add up to one step per 40.
        let steps: i64 = (0..40).map(|_| w.add(WheelUnit::Point, 13.0)).sum();
        assert_eq!(steps, 13);
        assert_eq!(w.add(WheelUnit::Page, 1.0), 10);
        assert_eq!(w.add(WheelUnit::Line, f64::NAN), 0);
    }

    #[test]
    fn mapping_round_trips_and_zoom_keeps_the_point() {
        let rect = Rect::new(10.0, 20.0, 400.0, 300.0);
        let mut state = SliceViewState::default();
        let map = SliceMapping::new(200, 100, rect, &state);
        assert!((map.scale - 2.0).abs() < 1e-12);
        let (x, y) = map.screen_of(17.25, 40.5);
        let (u, v) = map.slice_of(x, y);
        assert!((u - 17.25).abs() < 1e-12 && (v - 40.5).abs() < 1e-12);
        // Pixel (0,0)'s corner sits at the left edge, vertically centred band.
        assert!((map.origin[0] - 10.0).abs() < 1e-12);
        let (u0, v0) = map.slice_of(150.0, 120.0);
        state.zoom_about(2.5, &map, 150.0, 120.0);
        let zoomed = SliceMapping::new(200, 100, rect, &state);
        let (u1, v1) = zoomed.slice_of(150.0, 120.0);
        assert!((u1 - u0).abs() < 1e-9 && (v1 - v0).abs() < 1e-9);
        assert!((zoomed.scale - 5.0).abs() < 1e-12);
    }
}
