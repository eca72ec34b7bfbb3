//! The 3D view's camera as plain geometry in patient LPS millimetres: an orbit camera around
//! a target, the six standard views of the peers (anterior, posterior, left, right,
//! superior, inferior), orbit / pan / zoom from mouse motion, and the projection used both by
//! the renderer (through `app::scene`) and by tests that check where anatomy lands in a
//! screenshot. f64 throughout; no Bevy here.

use nalgebra::{Matrix4, Point3, UnitQuaternion, Vector3};
use serde::{Deserialize, Serialize};

/// The six standard views: the patient seen from that side.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, schemars::JsonSchema)]
pub enum StandardView {
    Anterior,
    Posterior,
    Left,
    Right,
    Superior,
    Inferior,
}

impl StandardView {
    pub const ALL: [StandardView; 6] = [
        StandardView::Anterior,
        StandardView::Posterior,
        StandardView::Left,
        StandardView::Right,
        StandardView::Superior,
        StandardView::Inferior,
    ];

    pub fn name(&self) -> &'static str {
        match self {
            StandardView::Anterior => "anterior",
            StandardView::Posterior => "posterior",
            StandardView::Left => "left",
            StandardView::Right => "right",
            StandardView::Superior => "superior",
            StandardView::Inferior => "inferior",
        }
    }

    pub fn from_name(name: &str) -> Option<StandardView> {
        let n = name.to_ascii_lowercase();
        StandardView::ALL
            .into_iter()
            .find(|v| v.name() == n || v.name()[..1] == n)
    }

    /// Keyboard shortcut (A, P, L, R, S, I).
    pub fn key(&self) -> char {
        self.name()
            .chars()
            .next()
            .map(|c| c.to_ascii_uppercase())
            .unwrap_or('?')
    }

    /// Unit vector from the target towards the eye, and the screen-up direction (LPS).
    pub fn eye_direction_and_up(&self) -> (Vector3<f64>, Vector3<f64>) {
        let (x, y, z) = (Vector3::x(), Vector3::y(), Vector3::z());
        match self {
            // LPS: +x = patient left, +y = posterior, +z = superior.
            StandardView::Anterior => (-y, z),
            StandardView::Posterior => (y, z),
            StandardView::Left => (x, z),
            StandardView::Right => (-x, z),
            StandardView::Superior => (z, -y),
            StandardView::Inferior => (-z, -y),
        }
    }
}

/// An orbit camera. `rotation` maps camera axes to patient axes: the camera looks along its
/// −Z, +Y is screen up, +X screen right (the convention Bevy and OpenGL share).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct OrbitCamera {
    pub target_mm: Point3<f64>,
    pub distance_mm: f64,
    pub rotation: UnitQuaternion<f64>,
    /// Vertical field of view.
    pub fov_y_rad: f64,
    /// Where Reset returns to.
    pub home_target_mm: Point3<f64>,
    pub home_distance_mm: f64,
}

impl OrbitCamera {
    pub const FOV_Y_RAD: f64 = 30.0 * std::f64::consts::PI / 180.0;

    /// Frames the box `lo..hi` from a standard view, the whole box visible at any aspect ≥ 0.5.
    pub fn framing(lo: &Point3<f64>, hi: &Point3<f64>, view: StandardView) -> OrbitCamera {
        let target = nalgebra::center(lo, hi);
        // Fit the box's largest side (not its diagonal, which leaves the anatomy small);
        // corners may touch the edge when orbiting.
        let d = hi - lo;
        let radius = (d.x.max(d.y).max(d.z) * 0.55).max(1.0);
        let distance = radius / (Self::FOV_Y_RAD * 0.5).sin() * 1.05;
        let mut cam = OrbitCamera {
            target_mm: target,
            distance_mm: distance,
            rotation: UnitQuaternion::identity(),
            fov_y_rad: Self::FOV_Y_RAD,
            home_target_mm: target,
            home_distance_mm: distance,
        };
        cam.set_view(view);
        cam
    }

    /// Turns to a standard view (target and distance kept).
    pub fn set_view(&mut self, view: StandardView) {
        let (eye_dir, up) = view.eye_direction_and_up();
        // face_towards points the local +Z along `eye_dir`, so the camera looks along −Z.
        self.rotation = UnitQuaternion::face_towards(&eye_dir, &up);
    }

    /// The standard view the camera looks from right now, if it is exactly one (turned to it
    /// and not orbited since; panning and zooming keep the direction).
    pub fn standard_view(&self) -> Option<StandardView> {
        StandardView::ALL.into_iter().find(|v| {
            let (eye_dir, up) = v.eye_direction_and_up();
            let r = UnitQuaternion::face_towards(&eye_dir, &up);
            self.rotation.angle_to(&r) < 1e-6
        })
    }

    /// Back to the framing it was created with, from `view`.
    pub fn reset(&mut self, view: StandardView) {
        self.target_mm = self.home_target_mm;
        self.distance_mm = self.home_distance_mm;
        self.set_view(view);
    }

    /// Looks from `eye` at `target` with `up` as the screen's up (a saved view put back);
    /// the home framing is kept. `None` when eye and target coincide or `up` is along the
    /// line of sight.
    pub fn look(
        &mut self,
        eye: &Point3<f64>,
        target: &Point3<f64>,
        up: &Vector3<f64>,
    ) -> Option<()> {
        let back = eye - target;
        let distance = back.norm();
        if !distance.is_finite() || distance < 1e-6 || up.cross(&back).norm() < 1e-9 * distance {
            return None;
        }
        self.rotation = UnitQuaternion::face_towards(&back, up);
        self.target_mm = *target;
        self.distance_mm = distance;
        Some(())
    }

    pub fn eye_mm(&self) -> Point3<f64> {
        self.target_mm + self.rotation * Vector3::new(0.0, 0.0, self.distance_mm)
    }
    pub fn right(&self) -> Vector3<f64> {
        self.rotation * Vector3::x()
    }
    pub fn up(&self) -> Vector3<f64> {
        self.rotation * Vector3::y()
    }
    /// Viewing direction (from the eye into the scene).
    pub fn forward(&self) -> Vector3<f64> {
        -(self.rotation * Vector3::z())
    }

    /// Left-drag: turn around the patient's head–foot axis (horizontal motion) and around
    /// the screen's horizontal axis (vertical motion), like a turntable.
    pub fn orbit(&mut self, dx_px: f64, dy_px: f64) {
        let k = 0.4f64.to_radians();
        let yaw = UnitQuaternion::from_axis_angle(&Vector3::z_axis(), -dx_px * k);
        let right = nalgebra::Unit::new_normalize(self.right());
        let pitch = UnitQuaternion::from_axis_angle(&right, -dy_px * k);
        let mut r = yaw * pitch * self.rotation;
        r.renormalize();
        self.rotation = r;
    }

    /// Pan: the target follows the mouse (`viewport_h_px` tall view).
    pub fn pan(&mut self, dx_px: f64, dy_px: f64, viewport_h_px: f64) {
        let mm_per_px =
            2.0 * self.distance_mm * (self.fov_y_rad * 0.5).tan() / viewport_h_px.max(1.0);
        self.target_mm += (-self.right() * dx_px + self.up() * dy_px) * mm_per_px;
    }

    /// Zoom by `factor` (>1 = closer), limited to a sensible range.
    pub fn zoom(&mut self, factor: f64) {
        if factor.is_finite() && factor > 0.0 {
            self.distance_mm = (self.distance_mm / factor)
                .clamp(self.home_distance_mm * 0.02, self.home_distance_mm * 20.0);
        }
    }

    /// Near and far planes that enclose a scene of this size.
    pub fn near_far_mm(&self) -> (f64, f64) {
        let near = (self.distance_mm * 0.01).max(0.5);
        (near, self.distance_mm + self.home_distance_mm * 4.0)
    }

    /// Patient → camera.
    pub fn view_matrix(&self) -> Matrix4<f64> {
        let eye = self.eye_mm();
        let inv = self.rotation.inverse();
        inv.to_homogeneous() * Matrix4::new_translation(&(-eye.coords))
    }

    /// Normalised device x, y (−1…1, y up) of a patient point on a view of `aspect`
    /// (width / height), or None behind the camera.
    pub fn project(&self, p: &Point3<f64>, aspect: f64) -> Option<(f64, f64)> {
        let c = self.view_matrix().transform_point(p);
        if c.z >= -1e-6 {
            return None;
        }
        let t = (self.fov_y_rad * 0.5).tan();
        Some((c.x / (-c.z * t * aspect), c.y / (-c.z * t)))
    }

    /// Pixel (x right, y down) of a patient point in a `width × height` view.
    pub fn pixel(&self, p: &Point3<f64>, width: f64, height: f64) -> Option<(f64, f64)> {
        let (x, y) = self.project(p, width / height)?;
        Some(((x + 1.0) * 0.5 * width, (1.0 - y) * 0.5 * height))
    }

    /// The ray through pixel (x right, y down) of a `width × height` view: the eye and the
    /// unit direction into the scene (patient mm). [`OrbitCamera::pixel`] of any point on
    /// it is (x, y).
    pub fn ray(&self, x: f64, y: f64, width: f64, height: f64) -> (Point3<f64>, Vector3<f64>) {
        let t = (self.fov_y_rad * 0.5).tan();
        let aspect = width / height.max(1e-9);
        let ndc_x = x / width.max(1e-9) * 2.0 - 1.0;
        let ndc_y = 1.0 - y / height.max(1e-9) * 2.0;
        let dir_cam = Vector3::new(ndc_x * t * aspect, ndc_y * t, -1.0);
        (self.eye_mm(), (self.rotation * dir_cam).normalize())
    }

    /// The point under pixel (x, y) at the depth of `anchor`: where the pixel's ray meets
    /// the plane through `anchor` facing the camera. A point grabbed in 3D is moved in that
    /// plane, so it keeps its depth whatever lies in front of it. None when the plane is
    /// behind the eye.
    pub fn at_depth_of(
        &self,
        anchor: &Point3<f64>,
        x: f64,
        y: f64,
        width: f64,
        height: f64,
    ) -> Option<Point3<f64>> {
        let forward = self.rotation * Vector3::new(0.0, 0.0, -1.0);
        let (eye, d) = self.ray(x, y, width, height);
        let along = d.dot(&forward);
        let depth = (anchor - eye).dot(&forward);
        if along <= 1e-9 || depth <= 0.0 {
            return None;
        }
        Some(eye + d * (depth / along))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cam(view: StandardView) -> OrbitCamera {
        OrbitCamera::framing(
            &Point3::new(-100.0, -100.0, -300.0),
            &Point3::new(100.0, 100.0, 0.0),
            view,
        )
    }

    #[test]
    fn a_point_dragged_in_3d_keeps_its_depth() {
        let mut c = cam(StandardView::Left);
        c.orbit(25.0, 10.0);
        let (w, h) = (800.0, 600.0);
        let anchor = Point3::new(10.0, -20.0, -150.0);
        let forward = c.rotation * Vector3::new(0.0, 0.0, -1.0);
        let (x, y) = c.pixel(&anchor, w, h).expect("in view");
        // Its own pixel gives it back.
        let back = c.at_depth_of(&anchor, x, y, w, h).expect("in front");
        assert!((back - anchor).norm() < 1e-6);
        // Anywhere else: on that pixel, at the same depth.
        let moved = c
            .at_depth_of(&anchor, x + 40.0, y - 25.0, w, h)
            .expect("in front");
        let (mx, my) = c.pixel(&moved, w, h).expect("in view");
        assert!((mx - x - 40.0).abs() < 1e-6 && (my - y + 25.0).abs() < 1e-6);
        let eye = c.eye_mm();
        assert!(((moved - eye).dot(&forward) - (anchor - eye).dot(&forward)).abs() < 1e-6);
        // Behind the eye: nothing.
        let behind = eye - forward * 10.0;
        assert!(c.at_depth_of(&behind, x, y, w, h).is_none());
    }

    #[test]
    fn a_view_put_back_from_eye_target_and_up_is_the_same_view() {
        let mut c = cam(StandardView::Left);
        c.orbit(37.0, -21.0);
        c.pan(13.0, 7.0, 600.0);
        c.zoom(1.7);
        let (eye, target, up) = (c.eye_mm(), c.target_mm, c.up());
        let mut back = cam(StandardView::Anterior);
        back.look(&eye, &target, &up).expect("a valid view");
        assert!((back.eye_mm() - eye).norm() < 1e-9);
        assert!((back.target_mm - target).norm() < 1e-9);
        assert!((back.up() - up).norm() < 1e-12);
        assert!(back.rotation.angle_to(&c.rotation) < 1e-9);
        let p = Point3::new(20.0, -30.0, 5.0);
        let (a, b) = (c.project(&p, 1.3), back.project(&p, 1.3));
        let (a, b) = (a.expect("in view"), b.expect("in view"));
        assert!((a.0 - b.0).abs() < 1e-9 && (a.1 - b.1).abs() < 1e-9);
        // Degenerate views are refused and change nothing.
        let before = back;
        assert!(back.look(&target, &target, &up).is_none());
        assert!(back.look(&eye, &target, &(eye - target)).is_none());
        assert_eq!(back, before);
    }

    #[test]
    fn a_pixel_ray_projects_back_onto_its_pixel() {
        let mut c = cam(StandardView::Left);
        c.orbit(37.0, -21.0);
        c.pan(13.0, 7.0, 600.0);
        for (x, y) in [(0.0, 0.0), (399.5, 250.25), (800.0, 600.0), (123.0, 456.0)] {
            let (o, d) = c.ray(x, y, 800.0, 600.0);
            assert!((d.norm() - 1.0).abs() < 1e-12);
            for t in [10.0, 250.0, 900.0] {
                let (px, py) = c.pixel(&(o + d * t), 800.0, 600.0).expect("in front");
                assert!((px - x).abs() < 1e-6 && (py - y).abs() < 1e-6, "{px} {py}");
            }
        }
    }

    #[test]
    fn standard_views_put_the_patient_the_right_way_round() {
        let c = Point3::new(0.0, 0.0, -150.0);
        // Anterior: patient left (+x) on screen right, head up.
        let a = cam(StandardView::Anterior);
        let (lx, _) = a.project(&(c + Vector3::x() * 50.0), 1.0).expect("visible");
        let (_, hy) = a.project(&(c + Vector3::z() * 50.0), 1.0).expect("visible");
        assert!(lx > 0.0 && hy > 0.0);
        assert!((a.eye_mm().y - (c.y - a.distance_mm)).abs() < 1e-9);
        // Posterior: patient left on screen left.
        let p = cam(StandardView::Posterior);
        assert!(p.project(&(c + Vector3::x() * 50.0), 1.0).expect("v").0 < 0.0);
        // Left: anterior (−y) on screen left.
        let l = cam(StandardView::Left);
        assert!(l.project(&(c - Vector3::y() * 50.0), 1.0).expect("v").0 < 0.0);
        // Superior: anterior up.
        let s = cam(StandardView::Superior);
        assert!(s.project(&(c - Vector3::y() * 50.0), 1.0).expect("v").1 > 0.0);
        assert!(s.eye_mm().z > c.z);
        for v in StandardView::ALL {
            assert_eq!(StandardView::from_name(v.name()), Some(v));
            let k = cam(v);
            assert!((k.forward().dot(&(k.target_mm - k.eye_mm()).normalize()) - 1.0).abs() < 1e-12);
        }
    }

    #[test]
    fn whole_box_is_in_view_and_orbit_keeps_distance() {
        let mut a = cam(StandardView::Anterior);
        for cx in [-100.0, 100.0] {
            for cy in [-100.0, 100.0] {
                for cz in [-300.0, 0.0] {
                    let (x, y) = a.project(&Point3::new(cx, cy, cz), 1.0).expect("in front");
                    assert!(x.abs() <= 1.0 && y.abs() <= 1.0, "corner outside: {x} {y}");
                }
            }
        }
        let d0 = (a.eye_mm() - a.target_mm).norm();
        assert_eq!(a.standard_view(), Some(StandardView::Anterior));
        let mut turned = a;
        turned.orbit(1.0, 0.0);
        assert_eq!(
            turned.standard_view(),
            None,
            "orbited: no longer exactly anterior"
        );
        a.orbit(90.0 / 0.4, 0.0);
        // A quarter turn lands exactly on a side view, which is lit again.
        assert_eq!(a.standard_view(), Some(StandardView::Right));
        assert!(((a.eye_mm() - a.target_mm).norm() - d0).abs() < 1e-9);
        // A quarter turn to the right-hand side moves the eye from anterior to a side.
        assert!(a.eye_mm().y.abs() < 1e-6 * d0 + 1e-6);
        a.zoom(2.0);
        assert!((a.distance_mm - d0 / 2.0).abs() < 1e-9);
        let t0 = a.target_mm;
        a.pan(100.0, 0.0, 500.0);
        assert!((a.target_mm - t0).dot(&a.right()) < 0.0);
        a.reset(StandardView::Anterior);
        assert_eq!(a, cam(StandardView::Anterior));
        a.pan(10.0, 5.0, 500.0);
        a.zoom(1.5);
        assert_eq!(a.standard_view(), Some(StandardView::Anterior));
        for v in StandardView::ALL {
            a.set_view(v);
            assert_eq!(a.standard_view(), Some(v));
        }
    }
}
