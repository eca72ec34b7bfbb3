//! Stereo geometry for the 3D view: two eyes on the camera's right axis, `separation` apart,
//! looking parallel, each image shifted so that points at the `convergence` distance fall on
//! the same pixel in both (an off-axis pair: no keystone, unlike toed-in cameras). A point
//! nearer than the convergence plane then lies further right in the left eye's image than in
//! the right eye's (it stands out of the screen). Defaults follow the photographers' 1/30
//! rule from the distance to what is looked at. Depends on `session::camera` only.

use nalgebra::Point3;
use serde::{Deserialize, Serialize};

use crate::session::camera::OrbitCamera;

/// How the two eyes' images reach the viewer.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum StereoMode {
    #[default]
    Off,
    /// Red–cyan: the left eye's image in red, the right eye's in green and blue.
    Anaglyph,
    /// Left eye in the left half, right eye in the right half (3D monitors, headset mirrors).
    SideBySide,
    /// Left eye in the top half, right eye in the bottom half.
    TopBottom,
}

impl StereoMode {
    pub const ALL: [StereoMode; 4] = [
        StereoMode::Off,
        StereoMode::Anaglyph,
        StereoMode::SideBySide,
        StereoMode::TopBottom,
    ];

    pub fn name(self) -> &'static str {
        match self {
            StereoMode::Off => "off",
            StereoMode::Anaglyph => "anaglyph",
            StereoMode::SideBySide => "side-by-side",
            StereoMode::TopBottom => "top-bottom",
        }
    }

    pub fn label(self) -> &'static str {
        match self {
            StereoMode::Off => "Off",
            StereoMode::Anaglyph => "Anaglyph (red–cyan)",
            StereoMode::SideBySide => "Side by side",
            StereoMode::TopBottom => "Top / bottom",
        }
    }

    pub fn from_name(s: &str) -> Option<StereoMode> {
        Self::ALL
            .into_iter()
            .find(|m| m.name() == s.to_ascii_lowercase())
    }

    /// Size of each eye's image in a view of `w × h` pixels.
    pub fn eye_size(self, w: u32, h: u32) -> (u32, u32) {
        match self {
            StereoMode::SideBySide => ((w / 2).max(1), h),
            StereoMode::TopBottom => (w, (h / 2).max(1)),
            StereoMode::Off | StereoMode::Anaglyph => (w, h),
        }
    }
}

/// Which eye.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Eye {
    Left,
    Right,
}

impl Eye {
    fn sign(self) -> f64 {
        match self {
            Eye::Left => -1.0,
            Eye::Right => 1.0,
        }
    }
}

/// Eye separation and convergence distance (mm in the scene).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Stereo {
    pub separation_mm: f64,
    pub convergence_mm: f64,
}

impl Stereo {
    /// Converges on what the camera orbits; separation a thirtieth of that distance.
    pub fn defaults(camera: &OrbitCamera) -> Stereo {
        Stereo {
            separation_mm: camera.distance_mm / 30.0,
            convergence_mm: camera.distance_mm,
        }
    }

    /// Focal length in pixels for an image `height` pixels high.
    fn focal_px(camera: &OrbitCamera, height: f64) -> f64 {
        0.5 * height / (camera.fov_y_rad * 0.5).tan()
    }

    /// The eye's camera: the centre camera moved half the separation along its right axis.
    pub fn eye_camera(&self, camera: &OrbitCamera, eye: Eye) -> OrbitCamera {
        let mut c = *camera;
        c.target_mm += camera.right() * (eye.sign() * 0.5 * self.separation_mm);
        c
    }

    /// How far (pixels, + = right) the eye's image is shifted in an image `height` pixels
    /// high: what makes the convergence plane coincide in both eyes.
    pub fn shift_px(&self, camera: &OrbitCamera, eye: Eye, height: f64) -> f64 {
        // A point on the axis at the convergence distance appears, in an eye displaced by
        // ±s/2, at ∓f·(s/2)/C: the shift brings it back to the centre.
        eye.sign() * Self::focal_px(camera, height) * 0.5 * self.separation_mm
            / self.convergence_mm.max(1e-6)
    }

    /// Pixel (x right, y down) of a patient point in one eye's `width × height` image.
    pub fn pixel(
        &self,
        camera: &OrbitCamera,
        eye: Eye,
        p: &Point3<f64>,
        width: f64,
        height: f64,
    ) -> Option<(f64, f64)> {
        let (x, y) = self.eye_camera(camera, eye).pixel(p, width, height)?;
        Some((x + self.shift_px(camera, eye, height), y))
    }

    /// Horizontal offset, left eye's x minus right eye's, of a point at `depth_mm` along the
    /// view axis, in an image `height` pixels high: f·s·(1/Z − 1/C).
    pub fn disparity_px(&self, camera: &OrbitCamera, depth_mm: f64, height: f64) -> f64 {
        Self::focal_px(camera, height)
            * self.separation_mm
            * (1.0 / depth_mm - 1.0 / self.convergence_mm.max(1e-6))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::session::camera::StandardView;

    fn camera() -> OrbitCamera {
        OrbitCamera::framing(
            &Point3::new(-100.0, -100.0, -150.0),
            &Point3::new(100.0, 100.0, 150.0),
            StandardView::Anterior,
        )
    }

    #[test]
    fn points_on_the_convergence_plane_coincide_and_nearer_ones_cross() {
        let cam = camera();
        let s = Stereo::defaults(&cam);
        let (w, h) = (800.0, 600.0);
        let at_convergence = cam.target_mm + cam.right() * 20.0 + cam.up() * 10.0;
        let l = s.pixel(&cam, Eye::Left, &at_convergence, w, h).unwrap();
        let r = s.pixel(&cam, Eye::Right, &at_convergence, w, h).unwrap();
        assert!(
            (l.0 - r.0).abs() < 1e-9 && (l.1 - r.1).abs() < 1e-9,
            "{l:?} {r:?}"
        );
        for depth in [
            0.5 * cam.distance_mm,
            0.8 * cam.distance_mm,
            1.5 * cam.distance_mm,
        ] {
            let p = cam.eye_mm() + cam.forward() * depth + cam.right() * 7.0;
            let l = s.pixel(&cam, Eye::Left, &p, w, h).unwrap();
            let r = s.pixel(&cam, Eye::Right, &p, w, h).unwrap();
            let expected = s.disparity_px(&cam, depth, h);
            assert!(
                (l.0 - r.0 - expected).abs() < 1e-6,
                "{} vs {expected}",
                l.0 - r.0
            );
            assert_eq!(expected > 0.0, depth < cam.distance_mm);
        }
    }

    #[test]
    fn modes_name_and_split_the_view() {
        for m in StereoMode::ALL {
            assert_eq!(StereoMode::from_name(m.name()), Some(m));
        }
        assert_eq!(StereoMode::SideBySide.eye_size(800, 600), (400, 600));
        assert_eq!(StereoMode::TopBottom.eye_size(800, 600), (800, 300));
        assert_eq!(StereoMode::Anaglyph.eye_size(800, 600), (800, 600));
    }
}
