//! Exact transparency (`app::scene::transparency`): a translucent surface that overlaps
//! itself, over an opaque one, rendered by `twinplan render` on lavapipe under Xvfb, must
//! look the same whichever order its triangles are drawn in. The scene is one translucent
//! structure made of two balls, one in front of the other as seen from the front, and an
//! opaque plate behind both. It is stored twice with the same voxels at the same patient
//! positions, once with its rows running from front to back and once from back to front, so
//! marching cubes emits the two balls' triangles in opposite orders. Blended in triangle
//! order (`--transparency sorted`, one structure is one object to sort), one of the two
//! renders draws the far ball over the near one; blended exactly, both must equal the
//! back-to-front one. Skips with a message where Xvfb or lavapipe is missing (CI has both).
#![cfg(feature = "viewer")]

mod common;

use std::path::Path;

use nalgebra::{Point3, Vector3};
use twinplan::session::camera::{OrbitCamera, StandardView};
use twinplan::volume::display::bounds_mm;
use twinplan::volume::{Geometry, Volume};

const W: usize = 800;
const H: usize = 600;
const R: f64 = 18.0;

/// The near (anterior) and far (posterior) ball, side by side enough to overlap in part.
fn balls() -> [Point3<f64>; 2] {
    [Point3::new(-9.0, -22.0, 0.0), Point3::new(9.0, 22.0, 0.0)]
}

/// A 1 mm grid around the origin whose rows (j) run front to back (`+y`, LPS) or back to
/// front.
fn grid(rows_front_to_back: bool) -> Geometry {
    let dims = [100, 140, 70];
    let sign = if rows_front_to_back { 1.0 } else { -1.0 };
    let half = |n: usize| 0.5 * (n - 1) as f64;
    Geometry::new(
        dims,
        [1.0, 1.0, 1.0],
        [-half(dims[0]), -sign * half(dims[1]), -half(dims[2])],
        Vector3::x(),
        Vector3::y() * sign,
        Vector3::z(),
    )
}

/// The balls in `which` (near, far) of 300 HU, a plate of 700 HU behind them (posterior),
/// air elsewhere.
fn volume(rows_front_to_back: bool, which: [bool; 2]) -> Volume {
    let g = grid(rows_front_to_back);
    let [nx, ny, nz] = g.dims;
    let voxels = ndarray::Array3::from_shape_fn((nz, ny, nx), |(k, j, i)| {
        let p = g.patient_from_ijk([i as f64, j as f64, k as f64]);
        if balls()
            .iter()
            .zip(which)
            .any(|(c, shown)| shown && (p - c).norm() <= R)
        {
            300
        } else if (p.y - 55.0).abs() <= 3.0 && p.x.abs() <= 40.0 && p.z.abs() <= 28.0 {
            700
        } else {
            0
        }
    });
    Volume::new(voxels, g).expect("shape")
}

/// Pixels whose ray through the camera meets the ball centred at `c`.
fn hits(cam: &OrbitCamera, c: Point3<f64>) -> Vec<bool> {
    (0..W * H)
        .map(|idx| common::ray_through_ball(cam, c, R, idx, (W, H)).is_some())
        .collect()
}

/// The pixels whose whole (2r+1)² square lies in the mask.
fn erode(mask: &[bool], r: usize) -> Vec<bool> {
    (0..W * H)
        .map(|i| {
            let (x, y) = (i % W, i / W);
            x >= r
                && y >= r
                && x + r < W
                && y + r < H
                && (y - r..=y + r).all(|yy| (x - r..=x + r).all(|xx| mask[yy * W + xx]))
        })
        .collect()
}

/// Mean of the largest channel difference over the pixels of a mask, and the share of them
/// that differ by more than `tolerance`.
fn difference(a: &[[u8; 3]], b: &[[u8; 3]], mask: &[bool], tolerance: u8) -> (f64, f64) {
    let d: Vec<u8> = (0..a.len())
        .filter(|&i| mask[i])
        .map(|i| (0..3).map(|c| a[i][c].abs_diff(b[i][c])).max().unwrap_or(0))
        .collect();
    let n = d.len().max(1) as f64;
    (
        d.iter().map(|&v| f64::from(v)).sum::<f64>() / n,
        d.iter().filter(|&&v| v > tolerance).count() as f64 / n,
    )
}

/// sRGB 8-bit to linear and back (the 3D view blends in linear light).
fn linear(v: u8) -> f64 {
    let c = f64::from(v) / 255.0;
    if c <= 0.04045 {
        c / 12.92
    } else {
        ((c + 0.055) / 1.055).powf(2.4)
    }
}

fn srgb(l: f64) -> u8 {
    let l = l.clamp(0.0, 1.0);
    let c = if l <= 0.003_130_8 {
        l * 12.92
    } else {
        1.055 * l.powf(1.0 / 2.4) - 0.055
    };
    (c * 255.0).round() as u8
}

/// Where both balls cover a pixel, `front` over `back` over the plate, from renders of each
/// ball alone over the plate (`a·C + (1−a)·P` each) and of the plate alone (`P`):
/// `a·Cf + (1−a)·(a·Cb + (1−a)·P) = (F − (1−a)·P) + (1−a)·B`, in linear light.
fn composite(front: &[[u8; 3]], back: &[[u8; 3]], plate: &[[u8; 3]], a: f64) -> Vec<[u8; 3]> {
    (0..front.len())
        .map(|i| {
            [0, 1, 2].map(|c| {
                let (f, b, p) = (linear(front[i][c]), linear(back[i][c]), linear(plate[i][c]));
                srgb(f - (1.0 - a) * p + (1.0 - a) * b)
            })
        })
        .collect()
}

/// Renders the volume with these balls, its rows in this order.
fn render_one(
    dir: &Path,
    recipes: &str,
    front_to_back: bool,
    which: [bool; 2],
    transparency: &str,
) -> Vec<[u8; 3]> {
    let name = format!("rows-{front_to_back}-{}-{}", which[0], which[1]);
    let path = dir.join(format!("{name}.nii"));
    if !path.exists() {
        twinplan::nifti_io::write_nifti(&volume(front_to_back, which), &path)
            .expect("nifti written");
    }
    common::render(
        &path,
        &dir.join(format!("{name}-{transparency}.png")),
        (W, H),
        &[
            "--layout",
            "3d",
            "--bare",
            "--view",
            "anterior",
            "--recipes",
            recipes,
            "--transparency",
            transparency,
        ],
    )
}

const OPACITY: f64 = 0.6;

#[test]
fn a_translucent_surface_over_an_opaque_one_looks_the_same_in_any_triangle_order() {
    if !common::can_render() {
        return;
    }
    let dir = tempfile::tempdir().expect("tempdir");
    let dir = dir.path();
    let vol = volume(true, [true, true]);
    let (lo, hi) = bounds_mm(&vol);
    let cam = OrbitCamera::framing(&lo, &hi, StandardView::Anterior);
    let [near, far] = balls().map(|c| hits(&cam, c));
    // Away from the silhouettes (the surfaces lie within a voxel of the analytic spheres).
    let overlap = erode(
        &near
            .iter()
            .zip(&far)
            .map(|(a, b)| *a && *b)
            .collect::<Vec<_>>(),
        4,
    );
    let either = erode(
        &near
            .iter()
            .zip(&far)
            .map(|(a, b)| *a || *b)
            .collect::<Vec<_>>(),
        4,
    );
    let n_overlap = overlap.iter().filter(|m| **m).count();
    assert!(
        n_overlap > 2000,
        "the balls overlap on screen ({n_overlap} px)"
    );

    let recipes = dir.join("recipes.json");
    let list = serde_json::json!([
        {"name": "balls", "source": {"kind": "range", "lo": 200.0, "hi": 400.0},
         "seeds_mm": [], "colour": [0.12, 0.3, 0.5], "opacity": OPACITY},
        {"name": "plate", "source": {"kind": "range", "lo": 500.0, "hi": 3000.0},
         "seeds_mm": [], "colour": [0.4, 0.4, 0.4], "opacity": 1.0},
    ]);
    std::fs::write(&recipes, list.to_string()).expect("recipes written");
    let recipes = recipes.to_string_lossy().to_string();
    let both = [true, true];
    let exact_fb = render_one(dir, &recipes, true, both, "exact");
    let exact_bf = render_one(dir, &recipes, false, both, "exact");
    let sorted_fb = render_one(dir, &recipes, true, both, "sorted");
    let sorted_bf = render_one(dir, &recipes, false, both, "sorted");
    // The truth from renders without any overlap: each ball alone, the plate alone.
    let near_only = render_one(dir, &recipes, true, [true, false], "exact");
    let far_only = render_one(dir, &recipes, true, [false, true], "exact");
    let plate = render_one(dir, &recipes, true, [false, false], "exact");
    // Light and colours keep every channel below white there (the composite is linear).
    for image in [&near_only, &far_only, &plate, &exact_fb] {
        assert!(
            (0..W * H).all(|i| !either[i] || image[i].iter().all(|&c| c < 255)),
            "a channel saturates"
        );
    }
    let right = composite(&near_only, &far_only, &plate, OPACITY);
    let wrong = composite(&far_only, &near_only, &plate, OPACITY);

    let (exact_mean, exact_off) = difference(&exact_fb, &exact_bf, &either, 6);
    let (sorted_mean, sorted_off) = difference(&sorted_fb, &sorted_bf, &overlap, 6);
    let (truth_mean, truth_off) = difference(&exact_fb, &right, &overlap, 6);
    let (truth_bf_mean, truth_bf_off) = difference(&exact_bf, &right, &overlap, 6);
    let (wrong_mean, _) = difference(&exact_fb, &wrong, &overlap, 6);
    let (sorted_truth_mean, sorted_truth_off) = difference(&sorted_fb, &right, &overlap, 6);
    eprintln!(
        "overlap {n_overlap} px. Exact, the two triangle orders: mean {exact_mean:.2}, \
         {:.2} % over 6. Sorted, the two orders: mean {sorted_mean:.2}, {:.2} % over 6. \
         Exact vs near-over-far composite: mean {truth_mean:.2} / {truth_bf_mean:.2}, \
         {:.2} / {:.2} % over 6; vs far-over-near: mean {wrong_mean:.2}. Sorted vs \
         near-over-far: mean {sorted_truth_mean:.2}, {:.2} % over 6",
        exact_off * 100.0,
        sorted_off * 100.0,
        truth_off * 100.0,
        truth_bf_off * 100.0,
        sorted_truth_off * 100.0,
    );
    // Blended in triangle order, the order shows, and it is not the true composite.
    assert!(
        sorted_off > 0.10 && sorted_truth_off > 0.10,
        "sorted blending should depend on the triangle order"
    );
    // Exact: the same picture either way (but for the two meshes' own small differences),
    // and it is the near ball over the far one over the plate.
    assert!(exact_mean < 2.0 && exact_off < 0.05);
    for (mean, off) in [(truth_mean, truth_off), (truth_bf_mean, truth_bf_off)] {
        assert!(
            mean < 2.0 && off < 0.01,
            "exact vs the depth-ordered composite"
        );
    }
    assert!(wrong_mean > 3.0 * truth_mean.max(1.0));
}

/// One ball of 100 HU (at the far ball's place), the plate of 1000 HU behind it (posterior),
/// soft tissue (0 HU) elsewhere: the CT bone preset shows the plate (opaque) and nothing of
/// the rest, the ball is a surface.
fn ball_and_plate() -> Volume {
    let g = grid(true);
    let [nx, ny, nz] = g.dims;
    let c = balls()[1];
    let voxels = ndarray::Array3::from_shape_fn((nz, ny, nx), |(k, j, i)| {
        let p = g.patient_from_ijk([i as f64, j as f64, k as f64]);
        if (p - c).norm() <= R {
            100
        } else if (p.y - 55.0).abs() <= 3.0 && p.x.abs() <= 40.0 && p.z.abs() <= 28.0 {
            1000
        } else {
            0
        }
    });
    Volume::new(voxels, g).expect("shape")
}

#[test]
fn the_volume_sits_in_depth_order_among_translucent_surfaces() {
    // Exact transparency sorts the volume's ray (one fragment at its opacity-weighted depth)
    // with the surfaces' fragments: seen from behind, the opaque plate of the volume hides
    // the translucent ball behind it; seen from the front, the ball tints the plate.
    if !common::can_render() {
        return;
    }
    let dir = tempfile::tempdir().expect("tempdir");
    let dir = dir.path();
    let vol = ball_and_plate();
    let path = dir.join("ball_and_plate.nii");
    twinplan::nifti_io::write_nifti(&vol, &path).expect("nifti written");
    let recipes = dir.join("recipes.json");
    let list = serde_json::json!([
        {"name": "ball", "source": {"kind": "range", "lo": 50.0, "hi": 150.0},
         "seeds_mm": [], "colour": [0.1, 0.35, 0.8], "opacity": OPACITY},
    ]);
    std::fs::write(&recipes, list.to_string()).expect("recipes written");
    let recipes = recipes.to_string_lossy().to_string();
    let shot = |view: &str, surfaces: bool, volume: bool, transparency: &str| {
        let name = format!("{view}-{surfaces}-{volume}-{transparency}.png");
        let mut args = vec![
            "--layout",
            "3d",
            "--bare",
            "--view",
            view,
            "--transparency",
            transparency,
        ];
        if volume {
            args.extend(["--volume", "ct-bone"]);
        }
        if surfaces {
            args.extend(["--recipes", recipes.as_str()]);
        } else {
            args.extend(["--structures", "none"]);
        }
        common::render(&path, &dir.join(name), (W, H), &args)
    };
    let (lo, hi) = bounds_mm(&vol);
    let mut measured = Vec::new();
    for (view, standard) in [
        ("posterior", StandardView::Posterior),
        ("anterior", StandardView::Anterior),
    ] {
        let cam = OrbitCamera::framing(&lo, &hi, standard);
        let ball = hits(&cam, balls()[1]);
        let alone = shot(view, false, true, "exact");
        let plate: Vec<bool> = alone
            .iter()
            .map(|p| p.iter().map(|&c| u32::from(c)).sum::<u32>() > 300)
            .collect();
        let overlap = erode(
            &ball
                .iter()
                .zip(&plate)
                .map(|(a, b)| *a && *b)
                .collect::<Vec<_>>(),
            4,
        );
        let n = overlap.iter().filter(|m| **m).count();
        assert!(n > 2000, "{view}: the ball and the plate overlap ({n} px)");
        let both = shot(view, true, true, "exact");
        let (over, _) = difference(&both, &alone, &overlap, 6);
        // The ball drawn without the volume: it is there to be hidden.
        let surface = shot(view, true, false, "exact");
        let (shows, _) = difference(&surface, &alone, &overlap, 6);
        let sorted = shot(view, true, true, "sorted");
        let (sorted_over, _) = difference(&sorted, &alone, &overlap, 6);
        eprintln!(
            "{view}: where the ball and the plate overlap ({n} px) the picture differs from \
             the volume alone by a mean of {over:.2} (sorted blending: {sorted_over:.2}); \
             the ball's surface without the volume differs from it by {shows:.2}"
        );
        assert!(shows > 20.0, "{view}: the ball's surface is drawn");
        measured.push(over);
    }
    let [behind, in_front] = [measured[0], measured[1]];
    assert!(
        behind < 2.0,
        "the opaque volume hides the translucent ball behind it"
    );
    assert!(
        in_front > 20.0,
        "the translucent ball in front tints the plate"
    );
}
