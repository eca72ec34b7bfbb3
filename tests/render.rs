//! A real render on the Vulkan software rasterizer (lavapipe) under Xvfb: `twinplan render`
//! draws the bundled sample's bone and vessels from the front, and the screenshot must show
//! vessel red where the vessel mesh projects (and bone ivory where only bone projects) and
//! background where nothing does. Where things land is computed independently here, by
//! rasterising the same meshes through `session::camera`. Image statistics with tolerances,
//! not a golden image. Skips with a message where Xvfb or lavapipe is missing (CI has both).
#![cfg(feature = "viewer")]

mod common;

use common::{can_render, render, xvfb};

use std::path::Path;
use std::process::Command;

use twinplan::progress::Progress;
use twinplan::session::camera::{OrbitCamera, StandardView};
use twinplan::session::open::{open_path, sample_path, study_landmarks};
use twinplan::session::structures::{build, default_recipes};
use twinplan::volume::display::bounds_mm;

const W: usize = 800;
const H: usize = 600;

/// Coverage of a mesh's triangles projected through the camera (no depth).
fn coverage(mesh: &twinplan::mesh::TriMesh, cam: &OrbitCamera) -> Vec<bool> {
    let px: Vec<Option<(f64, f64)>> = mesh
        .positions_mm
        .iter()
        .map(|p| cam.pixel(&nalgebra::Point3::from(*p), W as f64, H as f64))
        .collect();
    let mut cov = vec![false; W * H];
    for t in &mesh.indices {
        let (Some(a), Some(b), Some(c)) = (px[t[0] as usize], px[t[1] as usize], px[t[2] as usize])
        else {
            continue;
        };
        let x0 = a.0.min(b.0).min(c.0).floor().max(0.0) as usize;
        let x1 = (a.0.max(b.0).max(c.0).ceil() as usize).min(W - 1);
        let y0 = a.1.min(b.1).min(c.1).floor().max(0.0) as usize;
        let y1 = (a.1.max(b.1).max(c.1).ceil() as usize).min(H - 1);
        let area = (b.0 - a.0) * (c.1 - a.1) - (c.0 - a.0) * (b.1 - a.1);
        if area.abs() < 1e-12 {
            continue;
        }
        for y in y0..=y1 {
            for x in x0..=x1 {
                let (qx, qy) = (x as f64 + 0.5, y as f64 + 0.5);
                let w0 = (b.0 - qx) * (c.1 - qy) - (c.0 - qx) * (b.1 - qy);
                let w1 = (c.0 - qx) * (a.1 - qy) - (a.0 - qx) * (c.1 - qy);
                let w2 = (a.0 - qx) * (b.1 - qy) - (b.0 - qx) * (a.1 - qy);
                let inside =
                    (w0 >= 0.0 && w1 >= 0.0 && w2 >= 0.0) || (w0 <= 0.0 && w1 <= 0.0 && w2 <= 0.0);
                if inside {
                    cov[y * W + x] = true;
                }
            }
        }
    }
    cov
}

fn dilate(mask: &[bool], r: usize) -> Vec<bool> {
    let mut out = mask.to_vec();
    for y in 0..H {
        for x in 0..W {
            if mask[y * W + x] {
                for yy in y.saturating_sub(r)..=(y + r).min(H - 1) {
                    for xx in x.saturating_sub(r)..=(x + r).min(W - 1) {
                        out[yy * W + xx] = true;
                    }
                }
            }
        }
    }
    out
}

fn is_red(p: [u8; 3]) -> bool {
    let [r, g, b] = p.map(f32::from);
    r > 50.0 && r > 1.7 * g && r > 1.7 * b
}

fn is_bone(p: [u8; 3]) -> bool {
    let [r, g, b] = p.map(f32::from);
    r > 60.0 && g > 0.75 * r && b > 0.55 * r && b < g + 8.0
}

fn is_background(p: [u8; 3]) -> bool {
    p.iter().all(|&c| c < 40)
}

#[test]
fn anterior_render_shows_bone_and_vessels_where_they_project() {
    if !can_render() {
        return;
    }
    let Some(sample) = sample_path() else {
        common::skip("bundled sample not found");
        return;
    };
    let dir = tempfile::tempdir().expect("tempdir");
    let out = dir.path().join("anterior.png");
    let image = render(
        &sample,
        &out,
        (W, H),
        &[
            "--layout",
            "3d",
            "--bare",
            "--view",
            "anterior",
            "--structures",
            "bone,vessels",
        ],
    );

    // Independent projection of the same structures.
    let (bone, vessels) = sample_projection(&sample);
    let near_anything = dilate(
        &bone
            .iter()
            .zip(&vessels)
            .map(|(a, b)| *a || *b)
            .collect::<Vec<_>>(),
        3,
    );
    let bone_near = dilate(&bone, 2);
    let vessels_near = dilate(&vessels, 2);

    let frac = |sel: &dyn Fn(usize) -> bool, pred: &dyn Fn([u8; 3]) -> bool| {
        let idx: Vec<usize> = (0..W * H).filter(|&i| sel(i)).collect();
        let hits = idx.iter().filter(|&&i| pred(image[i])).count();
        (hits as f64 / idx.len().max(1) as f64, idx.len())
    };
    let (red_in_vessels, n_vessel) = frac(&|i| vessels[i] && !bone_near[i], &is_red);
    let (bone_in_bone, n_bone) = frac(&|i| bone[i] && !vessels_near[i], &is_bone);
    let (bg_outside, n_out) = frac(&|i| !near_anything[i], &is_background);
    let red_total = image.iter().filter(|p| is_red(**p)).count();
    let red_stray = (0..W * H)
        .filter(|&i| is_red(image[i]) && !dilate_at(&vessels, i, 3))
        .count();
    eprintln!(
        "vessel-only px {n_vessel}: red {red_in_vessels:.3}; bone-only px {n_bone}: bone {bone_in_bone:.3}; \
         empty px {n_out}: background {bg_outside:.3}; red px {red_total}, stray {red_stray}"
    );
    assert!(n_vessel > 500 && n_bone > 5_000, "projections too small");
    assert!(
        red_in_vessels > 0.8,
        "vessel red where vessels project: {red_in_vessels}"
    );
    assert!(
        bone_in_bone > 0.8,
        "bone colour where bone projects: {bone_in_bone}"
    );
    assert!(bg_outside > 0.97, "background elsewhere: {bg_outside}");
    assert!(
        (red_stray as f64) < 0.02 * red_total as f64,
        "red outside the vessels: {red_stray} of {red_total}"
    );
}

/// Where the bundled sample's default bone and vessel surfaces project in the anterior view
/// (W × H), rasterised here through `session::camera`, independently of the renderer.
fn sample_projection(sample: &Path) -> (Vec<bool>, Vec<bool>) {
    let progress = Progress::new();
    let (_, loaded) = open_path(sample, &progress).expect("sample opens");
    let recipes = default_recipes(
        &loaded.volume,
        &loaded.modality,
        loaded.contrast_peak_hu(),
        &study_landmarks(sample),
    );
    let mesh_of = |name: &str| {
        let r = recipes.iter().find(|r| r.name == name).expect("recipe");
        build(&loaded.volume, r, &progress).expect("builds").mesh
    };
    let (lo, hi) = bounds_mm(&loaded.volume);
    let cam = OrbitCamera::framing(&lo, &hi, StandardView::Anterior);
    (
        coverage(&mesh_of("bone"), &cam),
        coverage(&mesh_of("vessels"), &cam),
    )
}

#[test]
fn the_sample_in_ct_angio_volume_rendering_shows_blood_red_and_bone_ivory() {
    // The study itself, ray cast with the CT-angio preset and no surfaces: contrast blood
    // must show red where the vessel surface projects and bone ivory where bone does (the
    // same projection and colour tests as the surfaces' render above).
    if !can_render() {
        return;
    }
    let Some(sample) = sample_path() else {
        common::skip("bundled sample not found");
        return;
    };
    let dir = tempfile::tempdir().expect("tempdir");
    let out = dir.path().join("volume.png");
    let image = render(
        &sample,
        &out,
        (W, H),
        &[
            "--layout",
            "3d",
            "--bare",
            "--view",
            "anterior",
            "--structures",
            "none",
            "--volume",
            "ct-angio",
        ],
    );
    let (bone, vessels) = sample_projection(&sample);
    let bone_near = dilate(&bone, 2);
    let vessels_near = dilate(&vessels, 2);
    let frac = |sel: &dyn Fn(usize) -> bool, pred: &dyn Fn([u8; 3]) -> bool| {
        let idx: Vec<usize> = (0..W * H).filter(|&i| sel(i)).collect();
        let hits = idx.iter().filter(|&&i| pred(image[i])).count();
        (hits as f64 / idx.len().max(1) as f64, idx.len())
    };
    let (red, n_vessel) = frac(&|i| vessels[i] && !bone_near[i], &is_red);
    let (ivory, n_bone) = frac(&|i| bone[i] && !vessels_near[i], &is_bone);
    // The spine: bone within 25 px of the patient's midline (x = 0), where the ribs and
    // pelvis (thin, partial-volume rims) do not reach.
    let cam = {
        let progress = Progress::new();
        let (_, loaded) = open_path(&sample, &progress).expect("sample opens");
        let (lo, hi) = bounds_mm(&loaded.volume);
        OrbitCamera::framing(&lo, &hi, StandardView::Anterior)
    };
    let (mid_x, _) = cam
        .pixel(
            &nalgebra::Point3::new(0.0, cam.target_mm.y, cam.target_mm.z),
            W as f64,
            H as f64,
        )
        .expect("midline in view");
    let (spine_ivory, n_spine) = frac(
        &|i| bone[i] && !vessels_near[i] && ((i % W) as f64 - mid_x).abs() < 25.0,
        &is_bone,
    );
    eprintln!(
        "volume: vessel-only px {n_vessel}: red {red:.3}; bone-only px {n_bone}: ivory {ivory:.3}; \
         spine px {n_spine}: ivory {spine_ivory:.3}"
    );
    assert!(n_vessel > 500 && n_bone > 5_000, "projections too small");
    assert!(red > 0.8, "blood red where vessels project: {red}");
    assert!(n_spine > 2_000, "spine projection too small");
    assert!(
        spine_ivory > 0.8,
        "spine ivory where it projects: {spine_ivory}"
    );
}

/// A test of a pixel's colour.
type Colour = dyn Fn([u8; 3]) -> bool;

/// Centroids and sizes of the connected blobs of pixels matching `pred` inside `rect`
/// (x, y, w, h), in image coordinates.
fn blobs(
    image: &[[u8; 3]],
    width: usize,
    rect: (usize, usize, usize, usize),
    pred: impl Fn([u8; 3]) -> bool,
) -> Vec<(f64, f64, usize)> {
    let (x0, y0, w, h) = rect;
    common::blobs(w, h, |x, y| pred(image[(y0 + y) * width + x0 + x]))
        .into_iter()
        .map(|(x, y, n)| (x0 as f64 + x, y0 as f64 + y, n))
        .collect()
}

#[test]
fn orientation_markers_land_where_the_letters_say() {
    // The asymmetric phantom (markers on the patient's left, anterior and superior sides) as
    // an oblique series and as one with flipped axes, rendered by the workstation itself on
    // lavapipe: in every slice view each marker lies on the side the radiological convention
    // puts it (the letters are checked against the same views in tests/viewer_logic.rs), and
    // the 3D standard views show what they name.
    use twinplan::session::layout::{Layout, Rect as ViewRect, ViewId};
    if !can_render() {
        return;
    }
    let (w, h) = (800usize, 600usize);
    let dir = tempfile::tempdir().expect("tempdir");
    let recipes = dir.path().join("recipes.json");
    let marker = |name: &str, c: [f64; 3], colour: [f32; 3]| {
        serde_json::json!({"name": name, "source": {"kind": "range", "lo": 500.0, "hi": 3000.0},
            "seeds_mm": [c], "colour": colour, "opacity": 1.0})
    };
    let list = serde_json::json!([
        {"name": "body", "source": {"kind": "range", "lo": -400.0, "hi": 500.0}, "seeds_mm": [],
         "colour": [0.55, 0.55, 0.55], "opacity": 1.0},
        marker("left", common::MARKERS[0].1, [0.9, 0.08, 0.08]),
        marker("anterior", common::MARKERS[1].1, [0.08, 0.85, 0.08]),
        marker("superior", common::MARKERS[2].1, [0.1, 0.2, 0.95]),
    ]);
    std::fs::write(&recipes, list.to_string()).expect("recipes written");
    let recipes_arg = recipes.display().to_string();
    let white = |p: [u8; 3]| p.iter().all(|&c| c >= 250);
    let red = |p: [u8; 3]| {
        let [r, g, b] = p.map(f64::from);
        r > 40.0 && r > 1.8 * g && r > 1.8 * b
    };
    let green = |p: [u8; 3]| {
        let [r, g, b] = p.map(f64::from);
        g > 40.0 && g > 1.6 * r && g > 1.6 * b
    };
    let blue = |p: [u8; 3]| {
        let [r, g, b] = p.map(f64::from);
        b > 40.0 && b > 1.6 * r && b > 1.3 * g
    };
    for (name, grid) in common::orientation_grids() {
        let series = dir.path().join(name);
        common::write_orientation_series(&series, &grid);
        let png = dir.path().join(format!("{name}.png"));

        // Slice views, four-up: the crosshair sits at the volume's centre, the patient origin.
        let image = render(
            &series,
            &png,
            (w, h),
            &["--bare", "--layout", "four-up", "--recipes", &recipes_arg],
        );
        let area = ViewRect::new(0.0, 0.0, w as f32, h as f32);
        for (view, r) in Layout::FourUp.arrange(area, 3.0) {
            if view == ViewId::ThreeD {
                continue;
            }
            let rect = (
                r.x.ceil() as usize,
                r.y.ceil() as usize,
                r.w as usize - 1,
                r.h as usize - 1,
            );
            let (cx, cy) = (f64::from(r.x + r.w / 2.0), f64::from(r.y + r.h / 2.0));
            // The crosshair lines cut a marker through its middle: pieces within a marker's
            // size of each other are one marker.
            let mut found: Vec<(f64, f64, f64)> = Vec::new();
            for (x, y, n) in blobs(&image, w, rect, white)
                .into_iter()
                .filter(|b| b.2 >= 3)
            {
                let n = n as f64;
                match found.iter_mut().find(|f| (f.0 - x).hypot(f.1 - y) < 15.0) {
                    Some(f) => {
                        *f = (
                            (f.0 * f.2 + x * n) / (f.2 + n),
                            (f.1 * f.2 + y * n) / (f.2 + n),
                            f.2 + n,
                        )
                    }
                    None => found.push((x, y, n)),
                }
            }
            let found: Vec<(f64, f64)> = found
                .into_iter()
                .map(|(x, y, _)| (x - cx, y - cy))
                .collect();
            // (screen direction of the marker across, along) per view.
            let expect: [(f64, f64); 2] = match view {
                // Axial: left marker on screen right, anterior up.
                ViewId::Axial => [(1.0, 0.0), (0.0, -1.0)],
                // Coronal: left on screen right, superior up.
                ViewId::Coronal => [(1.0, 0.0), (0.0, -1.0)],
                // Sagittal: anterior on screen left, superior up.
                _ => [(-1.0, 0.0), (0.0, -1.0)],
            };
            assert_eq!(found.len(), 2, "{name} {view:?}: white blobs {found:?}");
            for (ex, ey) in expect {
                assert!(
                    found.iter().any(|(dx, dy)| dx * ex + dy * ey > 20.0
                        && (dx * ey - dy * ex).abs() < 6.0),
                    "{name} {view:?}: no marker towards ({ex}, {ey}): {found:?}"
                );
            }
        }

        // 3D standard views: where each marker must be seen (independent projection).
        let (_, loaded) = open_path(&series, &Progress::new()).expect("series opens");
        let (lo, hi) = bounds_mm(&loaded.volume);
        for view in [
            StandardView::Anterior,
            StandardView::Left,
            StandardView::Posterior,
        ] {
            let image = render(
                &series,
                &png,
                (w, h),
                &[
                    "--bare",
                    "--layout",
                    "3d",
                    "--view",
                    view.name(),
                    "--recipes",
                    &recipes_arg,
                ],
            );
            let cam = OrbitCamera::framing(&lo, &hi, view);
            // The orientation marker (bottom left, a disc of radius 46 px about (48, h − 48))
            // draws the patient axes in the planes' colours: UI, not anatomy.
            let gizmo = |b: &(f64, f64, usize)| (b.0 - 48.0).hypot(b.1 - (h as f64 - 48.0)) < 52.0;
            let seen = |pred: &Colour| {
                blobs(&image, w, (0, 0, w, h), pred)
                    .into_iter()
                    .filter(|b| !gizmo(b))
                    .max_by_key(|b| b.2)
                    .filter(|b| b.2 >= 30)
            };
            let sets: [&Colour; 3] = [&red, &green, &blue];
            for ((marker, centre), pred) in common::MARKERS.iter().zip(sets) {
                let p = nalgebra::Point3::from(*centre);
                let expected = cam.pixel(&p, w as f64, h as f64).expect("in front");
                let hidden = view == StandardView::Posterior && *marker == "anterior";
                match (seen(pred), hidden) {
                    (None, true) => {}
                    (Some(b), true) => {
                        panic!("{name} {view:?}: the {marker} marker shows through the body: {b:?}")
                    }
                    (None, false) => panic!("{name} {view:?}: the {marker} marker is not seen"),
                    (Some((x, y, _)), false) => assert!(
                        (x - expected.0).hypot(y - expected.1) < 25.0,
                        "{name} {view:?}: the {marker} marker seen at ({x:.0}, {y:.0}), expected near ({:.0}, {:.0})",
                        expected.0,
                        expected.1
                    ),
                }
            }
            // What the view names faces the viewer: from the front the anterior marker is at
            // the centre, from the left the left marker.
            let facing = match view {
                StandardView::Anterior => Some(green(image[(h / 2) * w + w / 2])),
                StandardView::Left => Some(red(image[(h / 2) * w + w / 2])),
                _ => None,
            };
            assert!(
                facing.unwrap_or(true),
                "{name} {view:?}: the named side is not facing the viewer"
            );
        }
    }
}

fn dilate_at(mask: &[bool], i: usize, r: usize) -> bool {
    let (y, x) = (i / W, i % W);
    (y.saturating_sub(r)..=(y + r).min(H - 1))
        .any(|yy| (x.saturating_sub(r)..=(x + r).min(W - 1)).any(|xx| mask[yy * W + xx]))
}

fn yellowish(p: [u8; 3]) -> bool {
    p[0] > 190 && p[1] > 150 && p[2] < 130 && p[0] >= p[1]
}

/// A plan opened with `render --plan` is drawn where its points are: the distance's end
/// points and middle, projected through the axial view's own mapping, are in the distance's
/// colour, and are not without the plan. A plan made for another volume is refused.
#[test]
fn a_plans_distance_is_drawn_where_its_points_project_on_the_slice() {
    use twinplan::document::Command as Edit;
    use twinplan::plan::file::{self, PlanFile, Reference};
    use twinplan::plan::placing::Placement;
    use twinplan::plan::{MarkupKind, Plan};
    use twinplan::session::layout::{Rect as ViewRect, SliceMapping, SliceViewState};
    use twinplan::volume::display::{Plane, reslice};
    if !can_render() {
        return;
    }
    let Some(sample) = sample_path() else {
        common::skip("bundled sample not found");
        return;
    };
    let volume = common::load(&sample);
    let dir = tempfile::tempdir().expect("tempdir");
    // Across the aorta at z = -250 mm, as the phantom's truth places it.
    let (a, b) = ([12.06, 13.45, -249.87], [33.71, 13.45, -249.87]);
    let mut plan = Plan::default();
    let m = Placement {
        kind: MarkupKind::Distance,
        points: vec![a, b],
    }
    .finish(&mut plan)
    .expect("complete");
    plan.apply(Edit::AddMarkup(m)).expect("adds");
    let plan_path = dir.path().join("case.twinplan.json");
    file::write(
        &plan_path,
        &PlanFile::new(Reference::of(&volume), plan.clone()),
    )
    .expect("writes");
    let size = (640, 480);
    let args = ["--layout", "axial", "--bare"];
    let plain = render(&sample, &dir.path().join("plain.png"), size, &args);
    let plan_arg = plan_path.to_string_lossy().into_owned();
    let mut with = args.to_vec();
    with.extend(["--plan", &plan_arg, "--focus", "D-1"]);
    let drawn = render(&sample, &dir.path().join("plan.png"), size, &with);

    let slice = reslice(&volume, Plane::Axial, &nalgebra::Point3::from(a), None);
    let rect = ViewRect::new(0.0, 0.0, size.0 as f32, size.1 as f32);
    let map = SliceMapping::for_slice(&slice, rect, &SliceViewState::default());
    let at = |p: [f64; 3]| {
        let (u, v) = slice.pixel_of(&nalgebra::Point3::from(p));
        map.screen_of(u, v)
    };
    let mid = [0, 1, 2].map(|k| (a[k] + b[k]) * 0.5);
    for (what, p) in [("first point", a), ("second point", b), ("middle", mid)] {
        let (x, y) = at(p);
        let near = |img: &[[u8; 3]]| {
            (-1i64..=1).any(|dy| {
                (-1i64..=1).any(|dx| {
                    let (px, py) = (x.round() as i64 + dx, y.round() as i64 + dy);
                    px >= 0
                        && py >= 0
                        && (px as usize) < size.0
                        && (py as usize) < size.1
                        && yellowish(img[py as usize * size.0 + px as usize])
                })
            })
        };
        assert!(near(&drawn), "{what} not drawn at ({x:.1}, {y:.1})");
        assert!(
            !near(&plain),
            "{what}: the plain render is already yellow there"
        );
    }

    // A plan of another volume: refused, the render fails and says why.
    let mut other = Reference::of(&volume);
    other.series_uid = Some("1.2.3.4.5".into());
    other.geometry.dims[0] += 1;
    let foreign = dir.path().join("foreign.twinplan.json");
    file::write(&foreign, &PlanFile::new(other, plan)).expect("writes");
    let before = std::fs::read(&foreign).expect("reads");
    let (_display, mut cmd) = xvfb();
    let out = cmd
        .arg(env!("CARGO_BIN_EXE_twinplan"))
        .args(["render", "--layout", "axial", "--bare", "--size", "320x240"])
        .arg("--plan")
        .arg(&foreign)
        .arg("--out")
        .arg(dir.path().join("foreign.png"))
        .arg(&sample)
        .output()
        .expect("xvfb-run runs");
    assert!(!out.status.success(), "a foreign plan was accepted");
    let said = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        said.contains("1.2.3.4.5") && said.contains("not opened"),
        "the refusal names the plan's series: {said}"
    );
    assert_eq!(
        std::fs::read(&foreign).expect("reads"),
        before,
        "left untouched"
    );
}

/// A planned catheter path is drawn as a tube coloured by clearance where its points
/// project: magenta where the 24 F sheath is at risk (SFAR ≥ 1.05, the femoral artery and
/// the iliac stenosis), green where the aorta leaves it room; neither colour elsewhere.
#[test]
fn a_paths_tube_is_coloured_by_clearance_where_it_projects() {
    if !can_render() {
        return;
    }
    let Some(sample) = sample_path() else {
        common::skip("bundled sample not found");
        return;
    };
    let dir = tempfile::tempdir().expect("tempdir");
    let plan = dir.path().join("access.twinplan.json");
    let status = Command::new(env!("CARGO_BIN_EXE_twinplan"))
        .arg("plan")
        .arg(&sample)
        .args([
            "--from=-59,-38,-600",
            "--to=11.6,-1.39,-16.4",
            "--device=24F",
        ])
        .arg("--plan-out")
        .arg(&plan)
        .stdout(std::process::Stdio::null())
        .status()
        .expect("plan runs");
    assert!(status.success());
    let f = twinplan::plan::file::read(&plan).expect("the plan reads");
    let path = &f.plan.paths[0];
    let report = path.report.as_ref().expect("measured");
    let sfar = &path.fit.as_ref().expect("fitted").sfar;
    // The vessels see-through, so the tube inside shows.
    let recipes = dir.path().join("recipes.json");
    let list = serde_json::json!([{"name": "vessels",
        "source": {"kind": "preset", "preset": "vessels"}, "seeds_mm": [[2.0, -38.0, -130.0]],
        "colour": [0.8, 0.12, 0.1], "opacity": 0.3}]);
    std::fs::write(&recipes, list.to_string()).expect("recipes written");
    let image = render(
        &sample,
        &dir.path().join("paths.png"),
        (W, H),
        &[
            "--layout",
            "3d",
            "--bare",
            "--recipes",
            &recipes.to_string_lossy(),
            "--plan",
            &plan.to_string_lossy(),
        ],
    );
    let magenta = |p: [u8; 3]| {
        let [r, g, b] = p.map(i32::from);
        r > 100 && b > 80 && g * 5 < r.min(b) * 3
    };
    let green = |p: [u8; 3]| {
        let [r, g, b] = p.map(i32::from);
        g > 90 && g > r + 20 && g > b + 20
    };
    let (lo, hi) = bounds_mm(&common::load(&sample));
    let cam = OrbitCamera::framing(&lo, &hi, StandardView::Anterior);
    let mut on_path = vec![false; W * H];
    let near = |x: f64, y: f64, pred: &dyn Fn([u8; 3]) -> bool| {
        (-2i64..=2).any(|dy| {
            (-2i64..=2).any(|dx| {
                let (px, py) = (x.round() as i64 + dx, y.round() as i64 + dy);
                px >= 0
                    && py >= 0
                    && (px as usize) < W
                    && (py as usize) < H
                    && pred(image[py as usize * W + px as usize])
            })
        })
    };
    let (mut risky, mut risky_hit, mut roomy, mut roomy_hit) = (0, 0, 0, 0);
    for (p, s) in report.points_lps_mm.iter().zip(sfar) {
        let Some((x, y)) = cam.pixel(&nalgebra::Point3::from(*p), W as f64, H as f64) else {
            continue;
        };
        for dy in -6i64..=6 {
            for dx in -6i64..=6 {
                let (px, py) = (x.round() as i64 + dx, y.round() as i64 + dy);
                if px >= 0 && py >= 0 && (px as usize) < W && (py as usize) < H {
                    on_path[py as usize * W + px as usize] = true;
                }
            }
        }
        if *s >= 1.06 {
            risky += 1;
            risky_hit += usize::from(near(x, y, &magenta));
        } else if *s < 0.5 {
            roomy += 1;
            roomy_hit += usize::from(near(x, y, &green));
        }
    }
    let stray = (0..W * H)
        .filter(|&i| !on_path[i] && (magenta(image[i]) || green(image[i])))
        .count();
    eprintln!("at risk {risky_hit}/{risky}, roomy {roomy_hit}/{roomy}, stray {stray}");
    assert!(risky > 20 && roomy > 100, "{risky} at risk, {roomy} roomy");
    assert!(
        risky_hit * 10 >= risky * 7,
        "magenta at {risky_hit} of {risky}"
    );
    assert!(
        roomy_hit * 10 >= roomy * 8,
        "green at {roomy_hit} of {roomy}"
    );
    assert!(
        stray < 50,
        "{stray} tube-coloured pixels away from the path"
    );
}
