//! The volume ray caster (`shaders/volume.wgsl`, `app::volume`) rendered by `twinplan
//! render` on lavapipe under Xvfb, against analytic truth: a bright ball in an oblique,
//! anisotropic, left-handed grid, seen as a MIP from the anterior view, must appear where the
//! ball's projection through the workstation's camera (`session::camera`, the same framing
//! the viewer uses) says, with the window's grey; its volume rendering and its surface must
//! coincide; an opaque surface in front must hide it; the crop box must remove exactly the
//! half it cuts off. Skips with a message where Xvfb or lavapipe is missing (CI has both).
#![cfg(feature = "viewer")]

mod common;

use std::path::Path;

use nalgebra::{Point3, Rotation3, Unit, Vector3};
use twinplan::session::camera::{OrbitCamera, StandardView};
use twinplan::volume::display::{WindowLevel, bounds_mm};
use twinplan::volume::{Geometry, Volume};

const W: usize = 800;
const H: usize = 600;
const BALL: f64 = 600.0;
const PLATE: f64 = 200.0;
const RADIUS: f64 = 22.0;
/// Window centre 500, width 1001: the ball's 600 maps to grey 153, air (0) to 0.
const WINDOW: WindowLevel = WindowLevel::new(500.0, 1001.0);

/// Oblique (25° about an oblique axis), anisotropic (0.8 × 1.1 × 1.7 mm) and left-handed
/// (k = −i × j) grid around the origin.
fn grid() -> Geometry {
    let rot = Rotation3::from_axis_angle(
        &Unit::new_normalize(Vector3::new(1.0, 2.0, 0.5)),
        25f64.to_radians(),
    );
    let (i, j) = (rot * Vector3::x(), rot * Vector3::y());
    let k = -i.cross(&j);
    let dims = [150, 110, 70];
    let spacing = [0.8, 1.1, 1.7];
    let half = (0..3).fold(Vector3::zeros(), |acc, a| {
        acc + [i, j, k][a] * (0.5 * (dims[a] - 1) as f64 * spacing[a])
    });
    let origin = Vector3::new(5.0, -3.0, 12.0) - half;
    let g = Geometry::new(dims, spacing, [origin.x, origin.y, origin.z], i, j, k);
    assert!(g.direction_matrix().determinant() < 0.0, "left-handed");
    g
}

fn ball_centre() -> Point3<f64> {
    Point3::new(14.0, 0.0, 20.0)
}

/// The ball (and, with `plate`, a 6 mm plate of 200 HU in front of its right half).
fn volume(plate: bool) -> Volume {
    volume_with_ball_at(ball_centre(), plate)
}

fn volume_with_ball_at(c: Point3<f64>, plate: bool) -> Volume {
    let g = grid();
    let [nx, ny, nz] = g.dims;
    let voxels = ndarray::Array3::from_shape_fn((nz, ny, nx), |(k, j, i)| {
        let p = g.patient_from_ijk([i as f64, j as f64, k as f64]);
        if (p - c).norm() <= RADIUS {
            BALL as i16
        } else if plate && p.x < c.x && (p.y - (c.y - 35.0)).abs() < 3.0 && (p.z - c.z).abs() < 30.0
        {
            PLATE as i16
        } else {
            0
        }
    });
    Volume::new(voxels, g).expect("shape")
}

fn write(volume: &Volume, dir: &Path, name: &str) -> std::path::PathBuf {
    let path = dir.join(name);
    twinplan::nifti_io::write_nifti(volume, &path).expect("nifti written");
    path
}

/// The camera the workstation frames the study with from the front.
fn camera(volume: &Volume) -> OrbitCamera {
    let (lo, hi) = bounds_mm(volume);
    OrbitCamera::framing(&lo, &hi, StandardView::Anterior)
}

/// Pixels whose ray through the camera meets the ball (optionally only its part on the
/// kept side of a plane: `n·p ≥ offset`).
fn ball_mask(cam: &OrbitCamera, keep: Option<(Vector3<f64>, f64)>) -> Vec<bool> {
    (0..W * H)
        .map(|idx| {
            common::ray_through_ball(cam, ball_centre(), RADIUS, idx, (W, H)).is_some_and(|ends| {
                match keep {
                    None => true,
                    Some((n, offset)) => ends.iter().any(|p| n.dot(&p.coords) >= offset),
                }
            })
        })
        .collect()
}

fn grey(p: [u8; 3]) -> f64 {
    p.iter().map(|&c| f64::from(c)).sum::<f64>() / 3.0
}

/// Centroid and equivalent radius (√(area/π)) of a mask.
fn disc_of(mask: &[bool]) -> (f64, f64, f64) {
    let (mut sx, mut sy, mut n) = (0.0f64, 0.0f64, 0.0f64);
    for (i, _) in mask.iter().enumerate().filter(|(_, m)| **m) {
        sx += (i % W) as f64 + 0.5;
        sy += (i / W) as f64 + 0.5;
        n += 1.0;
    }
    (
        sx / n.max(1.0),
        sy / n.max(1.0),
        (n / std::f64::consts::PI).sqrt(),
    )
}

/// The largest 4-connected part of a mask (the ball, without the view's buttons and
/// orientation marker, which are drawn over the 3D view).
fn largest_part(mask: &[bool]) -> Vec<bool> {
    let mut label = vec![0u32; W * H];
    let mut best = (0u32, 0usize);
    let mut next = 0u32;
    for start in 0..W * H {
        if !mask[start] || label[start] != 0 {
            continue;
        }
        next += 1;
        let mut stack = vec![start];
        label[start] = next;
        let mut size = 0;
        while let Some(i) = stack.pop() {
            size += 1;
            let (x, y) = (i % W, i / W);
            let mut push = |j: usize| {
                if mask[j] && label[j] == 0 {
                    label[j] = next;
                    stack.push(j);
                }
            };
            if x > 0 {
                push(i - 1);
            }
            if x + 1 < W {
                push(i + 1);
            }
            if y > 0 {
                push(i - W);
            }
            if y + 1 < H {
                push(i + W);
            }
        }
        if size > best.1 {
            best = (next, size);
        }
    }
    label.iter().map(|&l| l == best.0 && l != 0).collect()
}

fn iou(a: &[bool], b: &[bool]) -> f64 {
    let inter = a.iter().zip(b).filter(|(x, y)| **x && **y).count();
    let union = a.iter().zip(b).filter(|(x, y)| **x || **y).count();
    inter as f64 / union.max(1) as f64
}

fn render(path: &Path, out: &Path, args: &[&str]) -> Vec<[u8; 3]> {
    let window = format!("{},{}", WINDOW.center, WINDOW.width);
    let mut all = vec![
        "--layout", "3d", "--bare", "--view", "anterior", "--window", &window,
    ];
    all.extend_from_slice(args);
    common::render(path, out, (W, H), &all)
}

#[test]
fn mip_of_a_ball_in_an_oblique_left_handed_grid_lands_on_its_projection() {
    if !common::can_render() {
        return;
    }
    let dir = tempfile::tempdir().expect("tempdir");
    let vol = volume(false);
    let path = write(&vol, dir.path(), "ball.nii");
    let read = twinplan::nifti_io::read_nifti(&path).expect("reads back");
    assert!(common::grid_mismatch_mm(&read.geometry, &vol.geometry) < 1e-3);
    let cam = camera(&read);
    let image = render(
        &path,
        &dir.path().join("mip.png"),
        &["--volume", "mip", "--structures", "none"],
    );

    let expected = ball_mask(&cam, None);
    let ball_grey = f64::from(WINDOW.map(BALL));
    let measured = largest_part(
        &image
            .iter()
            .map(|p| grey(*p) > 0.5 * ball_grey)
            .collect::<Vec<_>>(),
    );
    let (ex, ey, er) = disc_of(&expected);
    let (mx, my, mr) = disc_of(&measured);
    // The analytic radius of a ball's silhouette on the axis: f·r/√(D² − r²).
    let f = 0.5 * H as f64 / (0.5 * cam.fov_y_rad).tan();
    let d = (cam.eye_mm() - ball_centre()).norm();
    let analytic_r = f * RADIUS / (d * d - RADIUS * RADIUS).sqrt();
    let (px, py) = cam
        .pixel(&ball_centre(), W as f64, H as f64)
        .expect("in front");
    eprintln!(
        "MIP ball: centre ({mx:.2}, {my:.2}) vs projected ({px:.2}, {py:.2}) / mask ({ex:.2}, {ey:.2}); \
         radius {mr:.2} vs analytic {analytic_r:.2} / mask {er:.2} px"
    );
    assert!(
        (mx - px).hypot(my - py) < 2.0,
        "centre off by more than 2 px"
    );
    assert!(
        (mr - analytic_r).abs() < 2.0,
        "radius off by more than 2 px"
    );
    // Inside the silhouette (3 px from its rim) the pixel is the window's grey of 600.
    let centre_px = image[(py as usize) * W + px as usize];
    eprintln!("grey at the centre {centre_px:?}, window maps {BALL} to {ball_grey}");
    for c in centre_px {
        assert!(
            (f64::from(c) - ball_grey).abs() <= 1.0,
            "{centre_px:?} vs {ball_grey}"
        );
    }
    let inner: Vec<usize> = (0..W * H)
        .filter(|&i| {
            let (x, y) = ((i % W) as f64 + 0.5, (i / W) as f64 + 0.5);
            (x - ex).hypot(y - ey) < er - 3.0
        })
        .collect();
    let off = inner
        .iter()
        .filter(|&&i| (grey(image[i]) - ball_grey).abs() > 1.0)
        .count();
    // (Rays grazing the voxelised surface within a few pixels of the rim may peak a little
    // below 600: one in a thousand is allowed.)
    assert!(
        off * 1000 <= inner.len(),
        "{off} of {} inner pixels are not the ball's grey",
        inner.len()
    );

    // The crop box: keep the upper half of the grid along i; only the ball's part there
    // remains.
    let image = render(
        &path,
        &dir.path().join("crop.png"),
        &[
            "--volume",
            "mip",
            "--structures",
            "none",
            "--crop",
            "0.5,0,0,1,1,1",
        ],
    );
    let g = &read.geometry;
    let n = g.axis(0);
    let cut = g.patient_from_ijk([0.5 * g.dims[0] as f64 - 0.5, 0.0, 0.0]);
    let kept = ball_mask(&cam, Some((n, n.dot(&cut.coords))));
    let removed: Vec<bool> = expected.iter().zip(&kept).map(|(a, b)| *a && !*b).collect();
    let measured = largest_part(
        &image
            .iter()
            .map(|p| grey(*p) > 0.5 * ball_grey)
            .collect::<Vec<_>>(),
    );
    let stray = measured
        .iter()
        .zip(&removed)
        .enumerate()
        .filter(|(i, (m, r))| **m && **r && !near(&kept, *i, 2))
        .count();
    let crop_iou = iou(&measured, &kept);
    eprintln!(
        "crop: IoU with the kept half {crop_iou:.4}; {stray} bright px in the removed part \
         (of {})",
        removed.iter().filter(|r| **r).count()
    );
    assert!(
        removed.iter().filter(|r| **r).count() > 2_000,
        "the cut removes a visible part"
    );
    assert!(crop_iou > 0.95, "crop IoU {crop_iou}");
    assert_eq!(stray, 0, "the removed half still shows");
}

fn near(mask: &[bool], i: usize, r: usize) -> bool {
    let (x, y) = (i % W, i / W);
    (y.saturating_sub(r)..=(y + r).min(H - 1))
        .any(|yy| (x.saturating_sub(r)..=(x + r).min(W - 1)).any(|xx| mask[yy * W + xx]))
}

#[test]
fn volume_and_surface_of_the_ball_coincide_and_an_opaque_surface_hides_the_volume() {
    if !common::can_render() {
        return;
    }
    let dir = tempfile::tempdir().expect("tempdir");
    let vol = volume(true);
    let path = write(&vol, dir.path(), "ball_plate.nii");
    let recipes = dir.path().join("recipes.json");
    let list = serde_json::json!([
        {"name": "ball", "source": {"kind": "range", "lo": 300.0, "hi": 3000.0}, "seeds_mm": [],
         "colour": [1.0, 1.0, 1.0], "opacity": 1.0},
        {"name": "plate", "source": {"kind": "range", "lo": 100.0, "hi": 300.0}, "seeds_mm": [],
         "colour": [0.1, 0.9, 0.1], "opacity": 1.0},
    ]);
    std::fs::write(&recipes, list.to_string()).expect("recipes written");
    let recipes = recipes.display().to_string();
    let background = |p: [u8; 3]| p.iter().all(|&c| c < 30);

    // The volume alone (MIP) and the ball's surface alone: the same silhouette.
    let mip = render(
        &path,
        &dir.path().join("v.png"),
        &["--volume", "mip", "--structures", "none"],
    );
    let ball_grey = f64::from(WINDOW.map(BALL));
    let from_volume = largest_part(
        &mip.iter()
            .map(|p| grey(*p) > 0.5 * ball_grey)
            .collect::<Vec<_>>(),
    );
    let surf = render(
        &path,
        &dir.path().join("s.png"),
        &["--recipes", &recipes, "--structures", "ball"],
    );
    let from_surface = largest_part(&surf.iter().map(|p| !background(*p)).collect::<Vec<_>>());
    let both_iou = iou(&from_volume, &from_surface);
    eprintln!(
        "silhouettes: volume {} px, surface {} px, IoU {both_iou:.4}",
        from_volume.iter().filter(|m| **m).count(),
        from_surface.iter().filter(|m| **m).count()
    );
    assert!(
        both_iou >= 0.97,
        "volume and surface silhouettes: IoU {both_iou}"
    );

    // The plate's opaque surface in front of the ball's right half (patient right, image
    // left) together with the volume: where it covers the ball, the plate's green shows, not
    // the ball's grey; beside it the ball still shows.
    let fused = render(
        &path,
        &dir.path().join("f.png"),
        &[
            "--recipes",
            &recipes,
            "--structures",
            "plate",
            "--volume",
            "mip",
        ],
    );
    let cam = camera(&vol);
    let ball = ball_mask(&cam, None);
    let (bx, _) = cam
        .pixel(&ball_centre(), W as f64, H as f64)
        .expect("in front");
    let green = |p: [u8; 3]| f64::from(p[1]) > 1.5 * f64::from(p[0]) && p[1] > 60;
    let covered: Vec<usize> = (0..W * H)
        .filter(|&i| ball[i] && ((i % W) as f64) < bx - 8.0 && !near_edge(&ball, i, 3))
        .collect();
    let open: Vec<usize> = (0..W * H)
        .filter(|&i| ball[i] && ((i % W) as f64) > bx + 8.0 && !near_edge(&ball, i, 3))
        .collect();
    let hidden =
        covered.iter().filter(|&&i| green(fused[i])).count() as f64 / covered.len().max(1) as f64;
    let shown = open
        .iter()
        .filter(|&&i| (grey(fused[i]) - ball_grey).abs() <= 2.0)
        .count() as f64
        / open.len().max(1) as f64;
    eprintln!(
        "fused: plate green over {hidden:.3} of the covered ball ({} px); ball grey on {shown:.3} of the open half ({} px)",
        covered.len(),
        open.len()
    );
    assert!(covered.len() > 1_000 && open.len() > 1_000);
    assert!(
        hidden > 0.98,
        "the opaque plate does not hide the volume: {hidden}"
    );
    assert!(shown > 0.98, "the ball beside the plate: {shown}");
}

/// Whether pixel i lies within r of the mask's edge.
fn near_edge(mask: &[bool], i: usize, r: usize) -> bool {
    let inside = mask[i];
    let (x, y) = (i % W, i / W);
    (y.saturating_sub(r)..=(y + r).min(H - 1))
        .any(|yy| (x.saturating_sub(r)..=(x + r).min(W - 1)).any(|xx| mask[yy * W + xx] != inside))
}

#[test]
fn anaglyph_eyes_see_the_ball_with_the_disparity_its_depth_gives() {
    // A ball 30 mm in front of the convergence plane, rendered as a red–cyan anaglyph with
    // 40 mm between the eyes: the red channel (left eye) and the green and blue channels
    // (right eye) each show it where that eye's off-axis camera projects it, and the two are
    // offset horizontally by f·s·(1/Z − 1/C).
    use twinplan::dvr::stereo::{Eye, Stereo};
    if !common::can_render() {
        return;
    }
    let dir = tempfile::tempdir().expect("tempdir");
    let centre = Point3::new(10.0, -33.0, 15.0);
    let vol = volume_with_ball_at(centre, false);
    let path = write(&vol, dir.path(), "near_ball.nii");
    let cam = camera(&vol);
    let stereo = Stereo {
        separation_mm: 40.0,
        convergence_mm: cam.distance_mm,
    };
    let image = render(
        &path,
        &dir.path().join("anaglyph.png"),
        &[
            "--volume",
            "mip",
            "--structures",
            "none",
            "--stereo",
            "anaglyph",
            "--eye-separation",
            "40",
            "--convergence",
            &cam.distance_mm.to_string(),
        ],
    );
    let ball_grey = f64::from(WINDOW.map(BALL));
    let channel = |c: usize| {
        largest_part(
            &image
                .iter()
                .map(|p| f64::from(p[c]) > 0.5 * ball_grey)
                .collect::<Vec<_>>(),
        )
    };
    let (lx, ly, _) = disc_of(&channel(0));
    let (rx, ry, _) = disc_of(&channel(1));
    let (bx, _, _) = disc_of(&channel(2));
    let (elx, ely) = stereo
        .pixel(&cam, Eye::Left, &centre, W as f64, H as f64)
        .expect("left");
    let (erx, ery) = stereo
        .pixel(&cam, Eye::Right, &centre, W as f64, H as f64)
        .expect("right");
    let depth = (centre - cam.eye_mm()).dot(&cam.forward());
    let expected = stereo.disparity_px(&cam, depth, H as f64);
    eprintln!(
        "anaglyph: red (left eye) at ({lx:.2}, {ly:.2}) vs ({elx:.2}, {ely:.2}); green (right eye) at \
         ({rx:.2}, {ry:.2}) vs ({erx:.2}, {ery:.2}); blue x {bx:.2}; disparity {:.2} px vs {expected:.2} px",
        lx - rx
    );
    assert!(
        expected > 5.0,
        "the ball must stand out of the screen: {expected}"
    );
    assert!(
        (lx - elx).hypot(ly - ely) < 1.0,
        "left eye's ball off its projection"
    );
    assert!(
        (rx - erx).hypot(ry - ery) < 1.0,
        "right eye's ball off its projection"
    );
    assert!((bx - rx).abs() < 0.5, "blue is the right eye's too");
    assert!(
        (lx - rx - expected).abs() < 1.0,
        "disparity {} vs {expected}",
        lx - rx
    );
}

#[test]
fn stored_integers_render_where_floats_do_and_keep_the_values_floats_round() {
    // The same ball at 3001 HU: a 16-bit float holds 3000 or 3002 there (it steps by 2 above
    // 2048), the stored integer holds 3001. Through a window 3 HU wide about 3001, the MIP's
    // grey tells the two apart; silhouettes through an ordinary window must coincide.
    if !common::can_render() {
        return;
    }
    let dir = tempfile::tempdir().expect("tempdir");
    let mut vol = volume(false);
    vol.voxels.mapv_inplace(|v| if v > 0 { 3001 } else { v });
    let path = write(&vol, dir.path(), "ball3001.nii");
    let shot = |texture: &str, window: &str| {
        let name = format!("{texture}-{}.png", window.replace(',', "_"));
        common::render(
            &path,
            &dir.path().join(name),
            (W, H),
            &[
                "--layout",
                "3d",
                "--bare",
                "--view",
                "anterior",
                "--window",
                window,
                "--volume",
                "mip",
                "--structures",
                "none",
                "--volume-texture",
                texture,
            ],
        )
    };
    let cam = camera(&vol);
    let (px, py) = cam
        .pixel(&ball_centre(), W as f64, H as f64)
        .expect("in front");
    let centre = (py as usize) * W + px as usize;
    let narrow = WindowLevel::new(3001.0, 3.0);
    let exact = f64::from(narrow.map(3001.0));
    let ints = shot("int16", "3001,3");
    let floats = shot("float16", "3001,3");
    eprintln!(
        "centre grey: int16 {:?}, float16 {:?}; the window maps 3001 to {exact}, 3000 to {}",
        ints[centre],
        floats[centre],
        narrow.map(3000.0)
    );
    assert!(
        ints[centre]
            .iter()
            .all(|&c| (f64::from(c) - exact).abs() <= 1.0),
        "the stored integers show 3001 exactly: {:?} vs {exact}",
        ints[centre]
    );
    assert!(
        floats[centre]
            .iter()
            .all(|&c| (f64::from(c) - exact).abs() > 20.0),
        "a 16-bit float cannot hold 3001: {:?}",
        floats[centre]
    );

    let ints = shot("int16", "1500,3001");
    let floats = shot("float16", "1500,3001");
    let mask =
        |img: &[[u8; 3]]| largest_part(&img.iter().map(|p| grey(*p) > 100.0).collect::<Vec<_>>());
    let (a, b) = (mask(&ints), mask(&floats));
    let same = iou(&a, &b);
    let differ = ints
        .iter()
        .zip(&floats)
        .filter(|(x, y)| x.iter().zip(y.iter()).any(|(p, q)| p.abs_diff(*q) > 2))
        .count();
    eprintln!(
        "silhouettes int16 vs float16: IoU {same:.4}; {differ} px differ by more than 2 grey"
    );
    assert!(same > 0.995, "IoU {same}");
    assert!(differ * 1000 <= W * H, "{differ} pixels differ");
}
