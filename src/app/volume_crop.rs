//! The volume's crop box over the 3D view: its twelve edges drawn where the box is, and a
//! handle at the centre of each of its six faces that the user drags to move that face along
//! its axis, the face following the pointer (the drag projected on the axis as it appears on
//! screen). The box is the one `app::volume` crops the rays with: fractions of the grid's
//! voxel axes, from voxel centre −½ to n − ½, placed through the grid's exact
//! `patient_from_ijk`, so an oblique grid's box is oblique too. Changes only
//! [`VolumeView::crop`]; egui only, no Bevy systems.

use bevy_egui::egui::{self, Color32, Pos2, Stroke};
use nalgebra::{Point3, Vector3};

use super::volume::VolumeView;
use crate::session::camera::OrbitCamera;
use crate::volume::Geometry;

/// The thinnest the box may become along an axis (a fraction of it).
const MIN_EXTENT: f64 = 0.01;
/// How near (pixels) the pointer must be to a handle to grab it.
const GRAB_PX: f32 = 10.0;

/// Which face is grabbed: the axis (i, j, k) and the side (0 = low, 1 = high), with the box
/// as it was when the drag began (the face follows the pointer from there).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Grab {
    pub axis: usize,
    pub side: usize,
    pub start: [[f64; 3]; 2],
    pub pointer: [f64; 2],
}

/// The handles' state: shown or not, the face being dragged, the face under the pointer.
#[derive(Debug, Default, Clone)]
pub struct CropHandles {
    pub shown: bool,
    pub grab: Option<Grab>,
    pub hover: Option<(usize, usize)>,
}

/// The patient position (mm) of a point of the box given as fractions along the voxel axes.
pub fn box_point(g: &Geometry, f: [f64; 3]) -> Point3<f64> {
    g.patient_from_ijk(std::array::from_fn(|a| -0.5 + f[a] * g.dims[a] as f64))
}

/// The centre of a face of the crop box.
pub fn face_centre(g: &Geometry, crop: &[[f64; 3]; 2], axis: usize, side: usize) -> Point3<f64> {
    let f = std::array::from_fn(|a| {
        if a == axis {
            crop[side][a]
        } else {
            0.5 * (crop[0][a] + crop[1][a])
        }
    });
    box_point(g, f)
}

/// The crop fraction of a face moved so that its centre follows the pointer from `from` to
/// `to` (view pixels), as far as the drag runs along the face's axis on screen; None when the
/// axis points at the viewer (it has no direction on screen to drag along).
pub fn dragged_fraction(
    g: &Geometry,
    cam: &OrbitCamera,
    size: (f64, f64),
    grab: &Grab,
    to: [f64; 2],
) -> Option<f64> {
    let (lo, hi) = if grab.side == 0 {
        (0.0, grab.start[1][grab.axis] - MIN_EXTENT)
    } else {
        (grab.start[0][grab.axis] + MIN_EXTENT, 1.0)
    };
    // Where the face's centre lands on screen for a fraction `f` of its axis.
    let at = |f: f64| {
        let mut crop = grab.start;
        crop[grab.side][grab.axis] = f;
        cam.pixel(&face_centre(g, &crop, grab.axis, grab.side), size.0, size.1)
            .map(|(x, y)| Vector3::new(x, y, 0.0))
    };
    let f0 = grab.start[grab.side][grab.axis];
    // The pointer relative to where it grabbed the handle, applied to the handle's centre.
    let target = at(f0)? + Vector3::new(to[0] - grab.pointer[0], to[1] - grab.pointer[1], 0.0);
    // Gauss–Newton on the screen distance: perspective bends the axis's image, so a single
    // linear step would lag behind the pointer on an axis that runs away from the viewer.
    let step = 1e-3;
    let mut f = f0;
    for _ in 0..12 {
        let p = at(f)?;
        let d = (at(f + step)? - p) / step;
        let len2 = d.norm_squared();
        if len2 < 1e-9 {
            return None;
        }
        let next = (f + (target - p).dot(&d) / len2).clamp(lo, hi);
        let done = (next - f).abs() < 1e-9;
        f = next;
        if done {
            break;
        }
    }
    Some(f)
}

const EDGE: Color32 = Color32::from_rgb(235, 200, 70);

/// Draws the box and its handles over the 3D view (rectangle `r`).
pub fn draw(
    painter: &egui::Painter,
    g: &Geometry,
    cam: &OrbitCamera,
    v: &VolumeView,
    h: &CropHandles,
    r: egui::Rect,
) {
    if !h.shown || !v.show {
        return;
    }
    let (w, hgt) = (f64::from(r.width()), f64::from(r.height()));
    let at = |p: &Point3<f64>| {
        cam.pixel(p, w, hgt)
            .map(|(x, y)| r.min + egui::vec2(x as f32, y as f32))
    };
    let crop = &v.crop;
    let corner = |bits: usize| box_point(g, std::array::from_fn(|a| crop[(bits >> a) & 1][a]));
    for a in 0..8usize {
        for axis in 0..3 {
            let b = a | (1 << axis);
            if b != a
                && let (Some(p), Some(q)) = (at(&corner(a)), at(&corner(b)))
            {
                painter.line_segment([p, q], Stroke::new(1.2, EDGE.gamma_multiply(0.8)));
            }
        }
    }
    for axis in 0..3 {
        for side in 0..2 {
            let Some(p) = at(&face_centre(g, crop, axis, side)) else {
                continue;
            };
            let active = h.grab.is_some_and(|gr| (gr.axis, gr.side) == (axis, side))
                || h.hover == Some((axis, side));
            let radius = if active { 7.0 } else { 5.0 };
            painter.circle(
                p,
                radius,
                if active {
                    EDGE
                } else {
                    EDGE.gamma_multiply(0.6)
                },
                Stroke::new(1.5, Color32::from_gray(20)),
            );
        }
    }
}

/// Handles the pointer over the 3D view: grabs the face under it, moves the grabbed face
/// with the drag, lets go on release. True while it has the input (the camera does not
/// turn then).
pub fn input(
    response: &egui::Response,
    g: &Geometry,
    cam: &OrbitCamera,
    v: &mut VolumeView,
    h: &mut CropHandles,
    r: egui::Rect,
) -> bool {
    if !h.shown || !v.show {
        h.grab = None;
        h.hover = None;
        return false;
    }
    let (w, hgt) = (f64::from(r.width()), f64::from(r.height()));
    let local = |p: Pos2| [f64::from(p.x - r.min.x), f64::from(p.y - r.min.y)];
    let nearest = |p: Pos2| {
        let mut best: Option<((usize, usize), f32)> = None;
        for axis in 0..3 {
            for side in 0..2 {
                let Some((x, y)) = cam.pixel(&face_centre(g, &v.crop, axis, side), w, hgt) else {
                    continue;
                };
                let d = (r.min + egui::vec2(x as f32, y as f32)).distance(p);
                if d <= GRAB_PX && best.is_none_or(|(_, bd)| d < bd) {
                    best = Some(((axis, side), d));
                }
            }
        }
        best.map(|(f, _)| f)
    };
    h.hover = response.hover_pos().and_then(nearest);
    // Where the button went down (egui starts a drag only after a few pixels of movement).
    let pressed_at = response
        .ctx
        .input(|i| i.pointer.press_origin())
        .or_else(|| response.interact_pointer_pos());
    if response.drag_started()
        && let Some(p) = pressed_at
        && let Some((axis, side)) = nearest(p)
    {
        h.grab = Some(Grab {
            axis,
            side,
            start: v.crop,
            pointer: local(p),
        });
    }
    let Some(grab) = h.grab else {
        return false;
    };
    if response.dragged()
        && let Some(p) = response.interact_pointer_pos()
        && let Some(f) = dragged_fraction(g, cam, (w, hgt), &grab, local(p))
    {
        v.crop[grab.side][grab.axis] = f;
    }
    if response.drag_stopped() || !response.dragged() {
        h.grab = None;
    }
    true
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::session::camera::StandardView;
    use nalgebra::{Rotation3, Unit};

    /// An oblique, anisotropic grid around the origin.
    fn grid() -> Geometry {
        let rot = Rotation3::from_axis_angle(
            &Unit::new_normalize(Vector3::new(1.0, 2.0, 0.5)),
            25f64.to_radians(),
        );
        let (i, j) = (rot * Vector3::x(), rot * Vector3::y());
        let k = i.cross(&j);
        Geometry::new(
            [120, 100, 60],
            [0.8, 1.1, 1.7],
            [-40.0, -50.0, -45.0],
            i,
            j,
            k,
        )
    }

    #[test]
    fn a_dragged_face_follows_the_pointer_along_its_axis() {
        let g = grid();
        let (lo, hi) = (box_point(&g, [0.0; 3]), box_point(&g, [1.0; 3]));
        let (lo, hi) = (
            Point3::from(lo.coords.inf(&hi.coords)),
            Point3::from(lo.coords.sup(&hi.coords)),
        );
        let size = (800.0, 600.0);
        for view in [
            StandardView::Anterior,
            StandardView::Left,
            StandardView::Superior,
        ] {
            let mut cam = OrbitCamera::framing(&lo, &hi, view);
            cam.orbit(30.0, 20.0);
            let crop = [[0.1, 0.2, 0.0], [0.9, 0.8, 1.0]];
            for axis in 0..3 {
                for side in 0..2 {
                    let c = face_centre(&g, &crop, axis, side);
                    let Some(start) = cam.pixel(&c, size.0, size.1) else {
                        panic!("the face centre is in view");
                    };
                    // Where the face would be at a fraction 0.3 further in: the pointer
                    // goes there.
                    let target_f = if side == 0 {
                        crop[0][axis] + 0.3
                    } else {
                        crop[1][axis] - 0.3
                    };
                    let mut moved = crop;
                    moved[side][axis] = target_f;
                    let to = cam
                        .pixel(&face_centre(&g, &moved, axis, side), size.0, size.1)
                        .expect("in view");
                    let grab = Grab {
                        axis,
                        side,
                        start: crop,
                        pointer: [start.0, start.1],
                    };
                    let f = dragged_fraction(&g, &cam, size, &grab, [to.0, to.1])
                        .expect("the axis shows on screen");
                    assert!(
                        (f - target_f).abs() < 1e-4,
                        "{view:?} axis {axis} side {side}: {f} vs {target_f}"
                    );
                }
            }
        }
    }

    #[test]
    fn a_face_stops_short_of_the_opposite_face_and_of_the_grid() {
        let g = grid();
        let cam = OrbitCamera::framing(
            &Point3::new(-100.0, -100.0, -100.0),
            &Point3::new(100.0, 100.0, 100.0),
            StandardView::Anterior,
        );
        let crop = [[0.4, 0.0, 0.0], [0.6, 1.0, 1.0]];
        let size = (800.0, 600.0);
        let c = cam
            .pixel(&face_centre(&g, &crop, 0, 0), size.0, size.1)
            .expect("in view");
        let far = |side: usize, sign: f64| {
            // The axis as it shows on screen, pushed far along it.
            let c1 = face_centre(&g, &[[0.5, 0.0, 0.0], [0.6, 1.0, 1.0]], 0, 0);
            let p1 = cam.pixel(&c1, size.0, size.1).expect("in view");
            let d = [p1.0 - c.0, p1.1 - c.1];
            let grab = Grab {
                axis: 0,
                side,
                start: crop,
                pointer: [c.0, c.1],
            };
            dragged_fraction(
                &g,
                &cam,
                size,
                &grab,
                [c.0 + sign * 50.0 * d[0], c.1 + sign * 50.0 * d[1]],
            )
            .expect("on screen")
        };
        assert!((far(0, 1.0) - (0.6 - MIN_EXTENT)).abs() < 1e-12);
        assert!(far(0, -1.0).abs() < 1e-12);
        assert!((far(1, 1.0) - 1.0).abs() < 1e-12);
        assert!((far(1, -1.0) - (0.4 + MIN_EXTENT)).abs() < 1e-12);
    }
}
