//! What a slice view needs from a volume, without any UI: window/level mapping with the
//! peers' presets, multiplanar reslicing along the patient axes, and the shared cursor that
//! ties the three slice views and the 3D view together.
//!
//! MPR planes are the patient's axial, coronal and sagittal planes (like Slicer and Horos),
//! whatever the scan's own orientation, sampled trilinearly; screen "right" and "down" follow
//! radiological convention (patient left on screen right for axial and coronal views, head up).
//! Depends on `volume` only.

use nalgebra::{Point3, Vector3};
use rayon::prelude::*;
use serde::{Deserialize, Serialize};

use super::Volume;

/// A display window: values `center ± width/2` map to black…white.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct WindowLevel {
    pub center: f64,
    pub width: f64,
}

impl WindowLevel {
    pub const fn new(center: f64, width: f64) -> WindowLevel {
        WindowLevel { center, width }
    }

    /// Grey level 0–255 of a real-world value (DICOM PS3.3 C.11.2.1.2, linear function).
    pub fn map(&self, value: f64) -> u8 {
        let w = self.width.max(1.0);
        let lo = self.center - 0.5 - (w - 1.0) / 2.0;
        let hi = self.center - 0.5 + (w - 1.0) / 2.0;
        if value <= lo {
            0
        } else if value > hi {
            255
        } else {
            (((value - (self.center - 0.5)) / (w - 1.0) + 0.5) * 255.0)
                .round()
                .clamp(0.0, 255.0) as u8
        }
    }

    /// Right-drag: horizontal motion changes the width, vertical the level (peers' convention:
    /// drag right = wider, drag down = higher level), scaled by the current width.
    pub fn dragged(&self, dx_px: f64, dy_px: f64) -> WindowLevel {
        let k = (self.width / 500.0).max(0.5);
        WindowLevel {
            center: self.center + dy_px * k,
            width: (self.width + dx_px * 2.0 * k).max(1.0),
        }
    }
}

/// Named presets, as radiologists know them.
pub const CT_PRESETS: [(&str, WindowLevel); 5] = [
    ("Soft tissue", WindowLevel::new(40.0, 400.0)),
    ("Bone", WindowLevel::new(400.0, 1800.0)),
    ("Lung", WindowLevel::new(-600.0, 1500.0)),
    ("Brain", WindowLevel::new(40.0, 80.0)),
    ("Angio", WindowLevel::new(300.0, 600.0)),
];

/// A window from the value histogram: the 1st to 99th percentile (for MR, whose values
/// have no absolute meaning).
pub fn auto_window(volume: &Volume) -> WindowLevel {
    let h = super::histogram::Histogram::of(volume);
    if h.total == 0 {
        return WindowLevel::new(0.0, 1.0);
    }
    let (lo, hi) = (h.quantile(0.01), h.quantile(0.99));
    WindowLevel::new(0.5 * (lo + hi), (hi - lo).max(1.0))
}

/// The three standard planes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum Plane {
    Axial,
    Coronal,
    Sagittal,
}

impl Plane {
    pub const ALL: [Plane; 3] = [Plane::Axial, Plane::Coronal, Plane::Sagittal];

    /// Screen right (u), screen down (v) and the plane normal, in LPS.
    pub fn axes(&self) -> (Vector3<f64>, Vector3<f64>, Vector3<f64>) {
        match self {
            // Seen from the feet: patient left on screen right, anterior up.
            Plane::Axial => (Vector3::x(), Vector3::y(), Vector3::z()),
            // Seen from the front: patient left on screen right, head up.
            Plane::Coronal => (Vector3::x(), -Vector3::z(), Vector3::y()),
            // Seen from the patient's left: anterior on screen left, head up.
            Plane::Sagittal => (Vector3::y(), -Vector3::z(), Vector3::x()),
        }
    }

    /// Orientation letters at the (left, right, top, bottom) edges of the view.
    pub fn edge_letters(&self) -> [&'static str; 4] {
        match self {
            Plane::Axial => ["R", "L", "A", "P"],
            Plane::Coronal => ["R", "L", "S", "I"],
            Plane::Sagittal => ["A", "P", "S", "I"],
        }
    }
}

/// A resliced image: `values[v * width + u]` in real units (NaN outside the volume) and
/// where each pixel sits in patient space.
#[derive(Debug, Clone)]
pub struct Slice {
    pub plane: Plane,
    pub width: usize,
    pub height: usize,
    pub values: Vec<f32>,
    /// Patient position of pixel (0, 0).
    pub origin_mm: Point3<f64>,
    pub pixel_mm: f64,
}

impl Slice {
    /// Patient position of pixel `(u, v)` (continuous).
    pub fn patient_at(&self, u: f64, v: f64) -> Point3<f64> {
        let (du, dv, _) = self.plane.axes();
        self.origin_mm + du * (u * self.pixel_mm) + dv * (v * self.pixel_mm)
    }

    /// Pixel `(u, v)` of a patient position projected onto the slice.
    pub fn pixel_of(&self, p: &Point3<f64>) -> (f64, f64) {
        let (du, dv, _) = self.plane.axes();
        let d = p - self.origin_mm;
        (d.dot(&du) / self.pixel_mm, d.dot(&dv) / self.pixel_mm)
    }

    /// Grey pixels for display.
    pub fn to_grey(&self, window: &WindowLevel) -> Vec<u8> {
        self.values
            .iter()
            .map(|v| {
                if v.is_nan() {
                    0
                } else {
                    window.map(f64::from(*v))
                }
            })
            .collect()
    }
}

/// The patient-space box the volume occupies (corner voxel centres).
pub fn bounds_mm(volume: &Volume) -> (Point3<f64>, Point3<f64>) {
    let g = &volume.geometry;
    let mut lo = Point3::new(f64::INFINITY, f64::INFINITY, f64::INFINITY);
    let mut hi = Point3::new(f64::NEG_INFINITY, f64::NEG_INFINITY, f64::NEG_INFINITY);
    for c in 0..8 {
        let ijk = [0, 1, 2].map(|a| {
            if c >> a & 1 == 0 {
                0.0
            } else {
                (g.dims[a] - 1) as f64
            }
        });
        let p = g.patient_from_ijk(ijk);
        lo = lo.inf(&p);
        hi = hi.sup(&p);
    }
    (lo, hi)
}

/// [`sample`] for many points of one volume: the same values, without the per-call
/// indexing checks (a slice of a 512-voxel CT is a million samples, on the UI thread).
struct Sampler<'a> {
    voxels: &'a [i16],
    dims: [usize; 3],
    stride: [usize; 3],
    scale: super::ValueScale,
}

impl<'a> Sampler<'a> {
    /// None when the voxels are not one contiguous array in (k, j, i) order.
    fn new(volume: &'a Volume) -> Option<Sampler<'a>> {
        let d = volume.geometry.dims;
        let voxels = volume.voxels.as_slice()?;
        if volume.voxels.dim() != (d[2], d[1], d[0]) || d.contains(&0) {
            return None;
        }
        Some(Sampler {
            voxels,
            dims: d,
            stride: [1, d[0], d[0] * d[1]],
            scale: volume.value_scale,
        })
    }

    /// Where a continuous index along axis `a` falls: the voxel below (as an offset into
    /// the array), the offset to its neighbour and the fraction towards it; None outside.
    #[inline]
    fn tap(&self, a: usize, x: f64) -> Option<Tap> {
        let n = self.dims[a];
        if !(x >= -1e-6 && x <= (n - 1) as f64 + 1e-6) {
            return None;
        }
        let x = x.clamp(0.0, (n - 1) as f64);
        // x ≥ 0 here, so truncation is the floor (and needs no libm call).
        let base = (x as usize).min(n.saturating_sub(2));
        Some(Tap {
            offset: base * self.stride[a],
            // The neighbour along this axis (itself on an axis one voxel long).
            next: if base + 1 < n { self.stride[a] } else { 0 },
            frac: if n > 1 { x - base as f64 } else { 0.0 },
        })
    }

    /// The trilinear value from the three axes' taps (in axis order i, j, k).
    #[inline]
    fn combine(&self, t: [Tap; 3]) -> f64 {
        let at0 = t[0].offset + t[1].offset + t[2].offset;
        let weight = |a: usize, o: usize| if o == 1 { t[a].frac } else { 1.0 - t[a].frac };
        // The corners in the order (i fastest), each weighed as ((w_i · w_j) · w_k): the
        // same sum, rounded the same way, whichever path samples.
        let mut acc = 0.0;
        let mut corner = |o: [usize; 3]| {
            let w = weight(0, o[0]) * weight(1, o[1]) * weight(2, o[2]);
            if w > 0.0 {
                let at = at0 + o[0] * t[0].next + o[1] * t[1].next + o[2] * t[2].next;
                acc += w * f64::from(self.voxels[at]);
            }
        };
        corner([0, 0, 0]);
        corner([1, 0, 0]);
        corner([0, 1, 0]);
        corner([1, 1, 0]);
        corner([0, 0, 1]);
        corner([1, 0, 1]);
        corner([0, 1, 1]);
        corner([1, 1, 1]);
        self.scale.slope * acc + self.scale.intercept
    }

    #[inline]
    fn sample(&self, ijk: [f64; 3]) -> Option<f64> {
        Some(self.combine([
            self.tap(0, ijk[0])?,
            self.tap(1, ijk[1])?,
            self.tap(2, ijk[2])?,
        ]))
    }
}

/// One axis's part of a trilinear sample (see [`Sampler::tap`]).
#[derive(Clone, Copy)]
struct Tap {
    offset: usize,
    next: usize,
    frac: f64,
}

/// Fills `values` (rows of `width`) for a plane along two voxel axes — a standard plane of
/// a volume acquired along the patient's axes, the usual case — from per-column and
/// per-row taps: the same arithmetic as sampling each pixel, a few times faster. The voxel
/// index of pixel (u, v) is `at0 + u·step_u + v·step_v`. False (nothing written) when the
/// plane is oblique to the voxel grid.
fn fill_along_axes(
    sampler: &Sampler,
    at0: &Vector3<f64>,
    step_u: &Vector3<f64>,
    step_v: &Vector3<f64>,
    width: usize,
    values: &mut [f32],
    parallel: bool,
) -> bool {
    let axis_of = |s: &Vector3<f64>| {
        let nonzero: Vec<usize> = (0..3).filter(|&a| s[a] != 0.0).collect();
        (nonzero.len() == 1).then(|| nonzero[0])
    };
    let (Some(au), Some(av)) = (axis_of(step_u), axis_of(step_v)) else {
        return false;
    };
    if au == av || width == 0 {
        return false;
    }
    let an = 3 - au - av;
    let height = values.len() / width;
    // Bit for bit what the per-pixel path computes: (at0 + v·step_v) + u·step_u, whose
    // other components add exact zeros.
    let columns: Vec<Option<Tap>> = (0..width)
        .map(|u| sampler.tap(au, at0[au] + step_u[au] * u as f64))
        .collect();
    let rows: Vec<Option<Tap>> = (0..height)
        .map(|v| sampler.tap(av, at0[av] + step_v[av] * v as f64))
        .collect();
    let Some(depth) = sampler.tap(an, at0[an]) else {
        values.fill(f32::NAN);
        return true;
    };
    let fill = |(v, row): (usize, &mut [f32])| {
        let Some(row_tap) = rows[v] else {
            row.fill(f32::NAN);
            return;
        };
        for (out, column) in row.iter_mut().zip(&columns) {
            *out = match column {
                Some(col_tap) => {
                    let mut t = [depth; 3];
                    t[au] = *col_tap;
                    t[av] = row_tap;
                    sampler.combine(t) as f32
                }
                None => f32::NAN,
            };
        }
    };
    if parallel {
        values.par_chunks_mut(width).enumerate().for_each(fill);
    } else {
        values.chunks_mut(width).enumerate().for_each(fill);
    }
    true
}

/// Trilinear sample of the real value at a continuous voxel index; None outside.
pub fn sample(volume: &Volume, ijk: [f64; 3]) -> Option<f64> {
    let d = volume.geometry.dims;
    let mut base = [0usize; 3];
    let mut frac = [0.0f64; 3];
    for a in 0..3 {
        let x = ijk[a];
        if !(x >= -1e-6 && x <= (d[a] - 1) as f64 + 1e-6) {
            return None;
        }
        let x = x.clamp(0.0, (d[a] - 1) as f64);
        // x ≥ 0 here, so truncation is the floor (and needs no libm call).
        base[a] = (x as usize).min(d[a].saturating_sub(2));
        frac[a] = if d[a] > 1 { x - base[a] as f64 } else { 0.0 };
    }
    let at = |i: usize, j: usize, k: usize| -> f64 {
        let (i, j, k) = (i.min(d[0] - 1), j.min(d[1] - 1), k.min(d[2] - 1));
        f64::from(volume.voxels[(k, j, i)])
    };
    let mut acc = 0.0;
    for c in 0..8 {
        let o = [c & 1, c >> 1 & 1, c >> 2 & 1];
        let w: f64 = (0..3)
            .map(|a| if o[a] == 1 { frac[a] } else { 1.0 - frac[a] })
            .product();
        if w > 0.0 {
            acc += w * at(base[0] + o[0], base[1] + o[1], base[2] + o[2]);
        }
    }
    Some(volume.value_scale.slope * acc + volume.value_scale.intercept)
}

/// Reslices the volume on `plane` through `through_mm`, covering the volume's bounds with
/// square pixels of `pixel_mm` (the finest in-plane spacing by default).
pub fn reslice(
    volume: &Volume,
    plane: Plane,
    through_mm: &Point3<f64>,
    pixel_mm: Option<f64>,
) -> Slice {
    reslice_with(volume, plane, through_mm, pixel_mm, true)
}

/// [`reslice`] on the calling thread alone, for the window's main thread: a parallel loop
/// there would wait for other threads, which on a busy 2-core machine may not run for
/// tens of milliseconds (a frozen frame); one slice takes a few milliseconds by itself.
pub fn reslice_here(
    volume: &Volume,
    plane: Plane,
    through_mm: &Point3<f64>,
    pixel_mm: Option<f64>,
) -> Slice {
    reslice_with(volume, plane, through_mm, pixel_mm, false)
}

fn reslice_with(
    volume: &Volume,
    plane: Plane,
    through_mm: &Point3<f64>,
    pixel_mm: Option<f64>,
    parallel: bool,
) -> Slice {
    let g = &volume.geometry;
    let pixel_mm = pixel_mm
        .unwrap_or_else(|| g.spacing_mm.iter().copied().fold(f64::INFINITY, f64::min))
        .max(1e-3);
    let (du, dv, n) = plane.axes();
    let (lo, hi) = bounds_mm(volume);
    let span = |axis: &Vector3<f64>| {
        let a = lo.coords.dot(axis);
        let b = hi.coords.dot(axis);
        (a.min(b), a.max(b))
    };
    let (u0, u1) = span(&du);
    let (v0, v1) = span(&dv);
    let width = (((u1 - u0) / pixel_mm).round() as usize + 1).min(8192);
    let height = (((v1 - v0) / pixel_mm).round() as usize + 1).min(8192);
    let depth = through_mm.coords.dot(&n);
    let origin = Point3::from(du * u0 + dv * v0 + n * depth);
    let inv = g.voxel_from_patient();
    let mut values = vec![f32::NAN; width * height];
    let sampler = Sampler::new(volume);
    // Voxel index of pixel (u, v): at0 + u·step_u + v·step_v (the plane is affine in it).
    let to_voxel = inv.map(|inv| {
        let r = inv * origin.to_homogeneous();
        let linear = inv.fixed_view::<3, 3>(0, 0);
        (
            Vector3::new(r[0], r[1], r[2]),
            linear * (du * pixel_mm),
            linear * (dv * pixel_mm),
        )
    });
    if let (Some(sampler), Some((at0, step_u, step_v))) = (&sampler, &to_voxel)
        && fill_along_axes(sampler, at0, step_u, step_v, width, &mut values, parallel)
    {
        return Slice {
            plane,
            width,
            height,
            values,
            origin_mm: origin,
            pixel_mm,
        };
    }
    let fill = |(v, row): (usize, &mut [f32])| {
        let Some((at0, step_u, step_v)) = &to_voxel else {
            return;
        };
        let row_at = at0 + step_v * v as f64;
        for (u, out) in row.iter_mut().enumerate() {
            let r = row_at + step_u * u as f64;
            let ijk = [r[0], r[1], r[2]];
            let value = match &sampler {
                Some(s) => s.sample(ijk),
                None => sample(volume, ijk),
            };
            if let Some(x) = value {
                *out = x as f32;
            }
        }
    };
    if parallel {
        values
            .par_chunks_mut(width.max(1))
            .enumerate()
            .for_each(fill);
    } else {
        values.chunks_mut(width.max(1)).enumerate().for_each(fill);
    }
    Slice {
        plane,
        width,
        height,
        values,
        origin_mm: origin,
        pixel_mm,
    }
}

/// The crosshair shared by every view: one patient point.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Cursor {
    pub position_mm: [f64; 3],
}

impl Cursor {
    /// The cursor at the volume's centre (on the acquired slices; see [`Cursor::snapped`]).
    pub fn centred(volume: &Volume) -> Cursor {
        let (lo, hi) = bounds_mm(volume);
        let c = nalgebra::center(&lo, &hi);
        Cursor {
            position_mm: [c.x, c.y, c.z],
        }
        .snapped(volume)
    }

    /// The cursor moved, along every patient axis that one of the volume's grid axes runs
    /// along, onto the nearest voxel centre: the views across that axis then show acquired
    /// slices (as Horos and Slicer do), not planes interpolated between two of them.
    /// Oblique grids are left alone.
    pub fn snapped(self, volume: &Volume) -> Cursor {
        let g = &volume.geometry;
        let mut p = self.position_mm;
        for a in 0..3 {
            let dir = g.axis(a);
            let Some(b) = (0..3).find(|&b| dir[b].abs() > 1.0 - 1e-9) else {
                continue;
            };
            let step = g.spacing_mm[a] * dir[b];
            if step.abs() < 1e-9 || g.dims[a] == 0 {
                continue;
            }
            let n = ((p[b] - g.origin_mm[b]) / step)
                .round()
                .clamp(0.0, (g.dims[a] - 1) as f64);
            p[b] = g.origin_mm[b] + n * step;
        }
        Cursor { position_mm: p }
    }

    pub fn point(&self) -> Point3<f64> {
        Point3::from(self.position_mm)
    }

    /// Moves to a click at pixel `(u, v)` of a slice (keeps the other coordinate).
    pub fn click(&mut self, slice: &Slice, u: f64, v: f64) {
        let p = slice.patient_at(u, v);
        self.position_mm = [p.x, p.y, p.z];
    }

    /// Wheel: one step along the plane normal by `step_mm` (positive = towards +normal).
    pub fn scroll(&mut self, plane: Plane, steps: f64, step_mm: f64) {
        let (_, _, n) = plane.axes();
        let p = self.point() + n * (steps * step_mm);
        self.position_mm = [p.x, p.y, p.z];
    }

    /// The cursor moved into the volume's box (the region every slice view shows): a click
    /// beside the image or a scroll past the last slice stops at the volume's edge.
    pub fn clamped(self, volume: &Volume) -> Cursor {
        let (lo, hi) = bounds_mm(volume);
        let p = self.point();
        Cursor {
            position_mm: [
                p.x.clamp(lo.x, hi.x),
                p.y.clamp(lo.y, hi.y),
                p.z.clamp(lo.z, hi.z),
            ],
        }
    }

    /// Value under the cursor (real units), if inside the volume.
    pub fn value(&self, volume: &Volume) -> Option<f64> {
        let r = volume.geometry.voxel_from_patient()? * self.point().to_homogeneous();
        sample(volume, [r[0], r[1], r[2]])
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::volume::Geometry;
    use ndarray::Array3;

    fn ramp() -> Volume {
        // value = x + 10 y + 100 z (mm) on a 1 mm grid: trilinear sampling is exact.
        let g = Geometry::axis_aligned([12, 10, 8], [1.0; 3], [-5.0, -4.0, 20.0]);
        let vox = Array3::from_shape_fn((8, 10, 12), |(k, j, i)| {
            let p = g.patient_from_ijk([i as f64, j as f64, k as f64]);
            (p.x + 10.0 * p.y + 100.0 * (p.z - 20.0)) as i16
        });
        Volume::new(vox, g).expect("shape")
    }

    #[test]
    fn the_fast_sampler_gives_the_same_values() {
        // Anisotropic, oblique, rescaled, and one axis a single voxel long.
        for dims in [[7, 5, 4], [6, 9, 1]] {
            let mut g = Geometry::axis_aligned(dims, [0.7, 1.3, 2.5], [3.0, -2.0, 7.0]);
            let (c, s) = (0.3f64.cos(), 0.3f64.sin());
            g.directions = [[c, s, 0.0], [-s, c, 0.0], [0.0, 0.0, 1.0]];
            let vox = Array3::from_shape_fn((dims[2], dims[1], dims[0]), |(k, j, i)| {
                ((i * 37 + j * 101 + k * 7919) % 2000) as i16 - 1000
            });
            let mut v = Volume::new(vox, g).expect("shape");
            v.value_scale = crate::volume::ValueScale {
                slope: 0.5,
                intercept: -3.0,
            };
            let fast = Sampler::new(&v).expect("contiguous");
            let mut n = 0;
            for a in 0..40 {
                for b in 0..40 {
                    for k in 0..6 {
                        let ijk = [
                            a as f64 * 0.19 - 0.5,
                            b as f64 * 0.27 - 0.7,
                            if dims[2] == 1 {
                                0.0
                            } else {
                                k as f64 * 0.83 - 0.4
                            },
                        ];
                        let (x, y) = (fast.sample(ijk), sample(&v, ijk));
                        assert_eq!(x, y, "{dims:?} at {ijk:?}");
                        n += usize::from(y.is_some());
                    }
                }
            }
            assert!(n > 1000, "{n} points inside");
        }
    }

    #[test]
    fn window_mapping_follows_dicom() {
        let w = WindowLevel::new(40.0, 400.0);
        assert_eq!(w.map(-1000.0), 0);
        assert_eq!(w.map(3000.0), 255);
        assert_eq!(w.map(40.0), 128);
        assert!(w.map(100.0) > w.map(0.0));
        let wider = w.dragged(50.0, 0.0);
        assert!(wider.width > w.width && wider.center == w.center);
        let higher = w.dragged(0.0, 20.0);
        assert!(higher.center > w.center);
    }

    #[test]
    fn reslice_and_cursor_round_trip() {
        let v = ramp();
        let mut cursor = Cursor::centred(&v);
        for plane in Plane::ALL {
            let s = reslice(&v, plane, &cursor.point(), None);
            // Click a pixel; the cursor lands on that patient point; the value matches.
            let (u, vv) = (3.0, 2.0);
            cursor.click(&s, u, vv);
            let p = cursor.point();
            let (bu, bv) = s.pixel_of(&p);
            assert!((bu - u).abs() < 1e-9 && (bv - vv).abs() < 1e-9);
            let expected = p.x + 10.0 * p.y + 100.0 * (p.z - 20.0);
            let got = cursor.value(&v).expect("inside");
            assert!(
                (got - expected).abs() < 1e-9,
                "{plane:?}: {got} vs {expected}"
            );
            let px = s.values[vv as usize * s.width + u as usize];
            assert!((f64::from(px) - expected).abs() < 1e-3);
            // Scrolling moves along the normal only.
            let before = cursor.point();
            cursor.scroll(plane, 2.0, 1.0);
            let (_, _, n) = plane.axes();
            assert!(((cursor.point() - before) - n * 2.0).norm() < 1e-12);
        }
    }

    #[test]
    fn cursor_snaps_to_acquired_slices_and_stays_inside() {
        let v = ramp();
        // Slices at z = 20, 21, …, 27; columns at x = −5 … 6.
        let c = Cursor {
            position_mm: [0.3, -2.6, 23.4],
        };
        assert_eq!(c.snapped(&v).position_mm, [0.0, -3.0, 23.0]);
        let far = Cursor {
            position_mm: [100.0, -100.0, 23.0],
        };
        assert_eq!(far.clamped(&v).position_mm, [6.0, -4.0, 23.0]);
        assert_eq!(Cursor::centred(&v).position_mm, [1.0, 1.0, 24.0]);
    }

    #[test]
    fn views_agree_on_the_crosshair() {
        // The pixel of the cursor in every view holds the same value (crosshair sync).
        let v = ramp();
        let cursor = Cursor {
            position_mm: [1.0, 2.0, 24.0],
        };
        let values: Vec<f64> = Plane::ALL
            .iter()
            .map(|&plane| {
                let s = reslice(&v, plane, &cursor.point(), None);
                let (u, vv) = s.pixel_of(&cursor.point());
                f64::from(s.values[vv.round() as usize * s.width + u.round() as usize])
            })
            .collect();
        assert!(
            values.iter().all(|x| (x - values[0]).abs() < 1e-3),
            "{values:?}"
        );
        assert_eq!(Plane::Axial.edge_letters(), ["R", "L", "A", "P"]);
    }
}
