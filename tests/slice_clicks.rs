//! Clicks on the MPR views land where the user clicked: a screen point on a slice view maps
//! to the patient position (LPS mm) of what is drawn there — on an oblique, anisotropic
//! volume, zoomed and panned — and a distance measured by two clicks on the edge of the
//! phantom's aorta in an axial slice matches its true diameter. Core only (the same mapping
//! the viewer's slice views use, `SliceMapping::patient_at_screen`).

use nalgebra::{Point3, Rotation3, Unit, Vector3};
use ndarray::Array3;
use twinplan::phantom::{PhantomOptions, generate};
use twinplan::plan::{Markup, MarkupKind};
use twinplan::progress::Progress;
use twinplan::session::layout::{Rect, SliceMapping, SliceViewState};
use twinplan::volume::display::{Plane, Slice, reslice, sample};
use twinplan::volume::{Geometry, Volume};

/// The screen point of continuous slice pixel `(u, v)`'s centre, worked out here from what
/// a slice view shows (the slice fitted into the rect, centred, zoomed, panned), not with
/// the mapping under test.
fn screen_of(slice: &Slice, rect: Rect, state: &SliceViewState, u: f64, v: f64) -> (f64, f64) {
    let (w, h) = (slice.width as f64, slice.height as f64);
    let scale = (f64::from(rect.w) / w).min(f64::from(rect.h) / h) * state.zoom;
    let cx = f64::from(rect.x) + f64::from(rect.w) / 2.0 + state.pan_px[0];
    let cy = f64::from(rect.y) + f64::from(rect.h) / 2.0 + state.pan_px[1];
    (
        cx + (u + 0.5 - w / 2.0) * scale,
        cy + (v + 0.5 - h / 2.0) * scale,
    )
}

/// Continuous pixel of a patient point in the slice's plane, from the plane's axes.
fn pixel_of(slice: &Slice, p: &Point3<f64>) -> (f64, f64) {
    let (du, dv, _) = slice.plane.axes();
    let d = p - slice.origin_mm;
    (d.dot(&du) / slice.pixel_mm, d.dot(&dv) / slice.pixel_mm)
}

fn views() -> Vec<(Rect, SliceViewState)> {
    vec![
        (Rect::new(0.0, 0.0, 512.0, 512.0), SliceViewState::default()),
        (
            Rect::new(37.5, 120.25, 611.0, 403.0),
            SliceViewState {
                zoom: 2.7,
                pan_px: [-31.4, 17.9],
            },
        ),
        (
            Rect::new(812.0, 4.0, 395.5, 780.0),
            SliceViewState {
                zoom: 0.45,
                pan_px: [12.0, -250.5],
            },
        ),
    ]
}

#[test]
fn a_click_on_a_slice_lands_on_the_patient_point_drawn_there() {
    // Oblique (rotated 27° about a skew axis) and anisotropic (0.6 × 0.9 × 2.5 mm).
    let rot = Rotation3::from_axis_angle(
        &Unit::new_normalize(Vector3::new(0.3, -1.0, 0.6)),
        27f64.to_radians(),
    );
    let dims = [40, 33, 21];
    let g = Geometry::new(
        dims,
        [0.6, 0.9, 2.5],
        [-11.0, 7.5, -30.0],
        rot * Vector3::x(),
        rot * Vector3::y(),
        rot * Vector3::z(),
    );
    let voxels = Array3::from_shape_fn((dims[2], dims[1], dims[0]), |(k, j, i)| {
        ((i * 37 + j * 101 + k * 797) % 1500) as i16 - 500
    });
    let volume = Volume::new(voxels, g.clone()).expect("shape");
    let inverse = g.voxel_from_patient().expect("invertible");
    let mut checked = 0;
    for plane in Plane::ALL {
        for ijk in [[3, 4, 2], [20, 16, 10], [35, 29, 18], [11, 25, 7]] {
            // A voxel centre, and the slice through it, as when the cursor sits on it.
            let p = g.patient_from_ijk(ijk.map(|x| x as f64));
            let slice = reslice(&volume, plane, &p, None);
            for (rect, state) in views() {
                let map = SliceMapping::for_slice(&slice, rect, &state);
                // A click where the voxel centre is drawn lands on it.
                let (u, v) = pixel_of(&slice, &p);
                let (x, y) = screen_of(&slice, rect, &state, u, v);
                let q = map.patient_at_screen(&slice, x, y);
                assert!(
                    (q - p).norm() < 1e-6,
                    "{plane:?} voxel {ijk:?}: clicked {q}, drawn at {p}"
                );
                // A click on the centre of an MPR pixel lands on that pixel's centre, and
                // what the pixel shows is the volume's value there.
                let (ui, vi) = (u.round() as usize, v.round() as usize);
                let (x, y) = screen_of(&slice, rect, &state, ui as f64, vi as f64);
                let q = map.patient_at_screen(&slice, x, y);
                let (du, dv, n) = plane.axes();
                let centre = slice.origin_mm
                    + du * (ui as f64 * slice.pixel_mm)
                    + dv * (vi as f64 * slice.pixel_mm);
                assert!(
                    (q - centre).norm() < 1e-6,
                    "{plane:?}: pixel ({ui}, {vi}) centre {centre}, clicked {q}"
                );
                assert!((q - p).dot(&n).abs() < 1e-6, "off the slice's plane");
                let r = inverse * q.to_homogeneous();
                let truth = sample(&volume, [r[0], r[1], r[2]]);
                let shown = slice.values[vi * slice.width + ui];
                match truth {
                    Some(t) => assert!(
                        (f64::from(shown) - t).abs() < 1e-3,
                        "{plane:?}: pixel shows {shown}, the volume there is {t}"
                    ),
                    None => assert!(shown.is_nan(), "a pixel outside the volume shows {shown}"),
                }
                checked += 1;
            }
        }
    }
    assert_eq!(checked, 3 * 4 * 3);
}

#[test]
fn two_clicks_across_the_aorta_measure_its_diameter() {
    let phantom = generate(
        &PhantomOptions::default().with_size([256, 256, 200]),
        &Progress::new(),
    )
    .expect("phantom");
    let volume = &phantom.volume;
    let aorta = phantom
        .truth
        .centrelines
        .iter()
        .find(|c| c.name == "aorta")
        .expect("aorta");
    // A stretch of the aorta running along the body's axis, so its axial section is a disc
    // of the true radius; the middle of the most vertical stretch.
    let vertical: Vec<usize> = (1..aorta.points_mm.len() - 1)
        .filter(|&i| {
            let t = Vector3::from(aorta.points_mm[i + 1]) - Vector3::from(aorta.points_mm[i - 1]);
            t.z.abs() / t.norm() > 0.999
        })
        .collect();
    assert!(!vertical.is_empty(), "no vertical stretch of the aorta");
    let at = vertical[vertical.len() / 2];
    let centre = Point3::from(aorta.points_mm[at]);
    let radius = aorta.radii_mm[at];
    let spacing = volume.geometry.spacing_mm[0];
    let slice = reslice(volume, Plane::Axial, &centre, None);
    let view = SliceViewState {
        zoom: 4.0,
        pan_px: [0.0, 0.0],
    };
    let rect = Rect::new(300.0, 40.0, 640.0, 640.0);
    // The user zooms on the vessel: pan so that its centre is in the middle of the view.
    let (cu, cv) = pixel_of(&slice, &centre);
    let (x0, y0) = screen_of(&slice, rect, &view, cu, cv);
    let view = SliceViewState {
        pan_px: [
            f64::from(rect.x + rect.w / 2.0) - x0,
            f64::from(rect.y + rect.h / 2.0) - y0,
        ],
        ..view
    };
    let map = SliceMapping::for_slice(&slice, rect, &view);
    // The edge as the eye finds it: halfway between the lumen's brightness and that of
    // the tissue around it. The user clicks on the pixel where the row crosses it, on
    // each side of the vessel.
    let value = |u: i64, v: i64| f64::from(slice.values[v as usize * slice.width + u as usize]);
    let (ci, vi) = (cu.round() as i64, cv.round() as i64);
    let lumen = value(ci, vi);
    let outside = |dir: i64| value(ci + dir * (2.0 * radius / spacing).round() as i64, vi);
    let mut clicks = Vec::new();
    for dir in [-1i64, 1] {
        let half = 0.5 * (lumen + outside(dir));
        let mut u = ci;
        while value(u + dir, vi) > half {
            u += dir;
        }
        // The pixel nearer the crossing: the last one inside or the first one outside.
        let (inside, beyond) = (value(u, vi) - half, half - value(u + dir, vi));
        let edge = if inside < beyond { u } else { u + dir };
        let (x, y) = screen_of(&slice, rect, &view, edge as f64, vi as f64);
        clicks.push(map.patient_at_screen(&slice, x, y));
    }
    // The distance as the plan measures it.
    let distance = Markup {
        id: 1,
        name: "aorta".into(),
        kind: MarkupKind::Distance,
        points_lps_mm: clicks.iter().map(|c| [c.x, c.y, c.z]).collect(),
        colour: [1.0; 3],
        visible: true,
        locked: false,
        note: String::new(),
    };
    let measured = distance.measurements()[0].value;
    let truth = 2.0 * radius;
    assert!(
        (measured - truth).abs() <= spacing,
        "aorta measured {measured:.2} mm across, true diameter {truth:.2} mm (voxel {spacing:.2} mm)"
    );
    // Both clicks lie on the slice the user looked at.
    for c in &clicks {
        assert!((c.z - centre.z).abs() < 1e-6);
    }
    eprintln!(
        "aorta at z {:.1} mm: measured {measured:.2} mm, true {truth:.2} mm, voxel {spacing:.2} mm",
        centre.z
    );
}
