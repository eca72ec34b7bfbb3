//! A real render on the Vulkan software rasterizer (lavapipe) under Xvfb: `twinplan render`
//! draws the bundled sample's bone and vessels from the front, and the screenshot must show
//! vessel red where the vessel mesh projects (and bone ivory where only bone projects) and
//! background where nothing does. Where things land is computed independently here, by
//! rasterising the same meshes through `session::camera`. Image statistics with tolerances,
//! not a golden image. Skips with a message where Xvfb or lavapipe is missing (CI has both).
#![cfg(feature = "viewer")]

use std::path::Path;
use std::process::Command;

use twinplan::progress::Progress;
use twinplan::session::camera::{OrbitCamera, StandardView};
use twinplan::session::open::{open_path, sample_path, study_landmarks};
use twinplan::session::structures::{build, default_recipes};
use twinplan::volume::display::bounds_mm;

const W: usize = 800;
const H: usize = 600;

fn have(cmd: &str) -> bool {
    Command::new("sh")
        .args(["-c", &format!("command -v {cmd}")])
        .output()
        .map(|o| o.status.success())
        .unwrap_or(false)
}

fn lavapipe() -> bool {
    ["/usr/share/vulkan/icd.d", "/etc/vulkan/icd.d"]
        .iter()
        .filter_map(|d| std::fs::read_dir(d).ok())
        .flatten()
        .flatten()
        .any(|e| e.file_name().to_string_lossy().starts_with("lvp_icd"))
}

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

fn read_png(path: &Path) -> Vec<[u8; 3]> {
    let decoder = png::Decoder::new(std::io::BufReader::new(
        std::fs::File::open(path).expect("screenshot written"),
    ));
    let mut reader = decoder.read_info().expect("png header");
    let mut buf = vec![0; reader.output_buffer_size().expect("size")];
    let info = reader.next_frame(&mut buf).expect("png data");
    assert_eq!((info.width as usize, info.height as usize), (W, H));
    let channels = info.line_size / W;
    (0..W * H)
        .map(|i| {
            let y = i / W;
            let x = i % W;
            let o = y * info.line_size + x * channels;
            [buf[o], buf[o + 1], buf[o + 2]]
        })
        .collect()
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
    if !have("xvfb-run") || !lavapipe() {
        eprintln!(
            "skipping: needs xvfb-run and mesa-vulkan-drivers (lavapipe); .ci/run installs them"
        );
        return;
    }
    let Some(sample) = sample_path() else {
        eprintln!("skipping: bundled sample not found");
        return;
    };
    let dir = tempfile::tempdir().expect("tempdir");
    let out = dir.path().join("anterior.png");
    let status = Command::new("xvfb-run")
        .args(["-a", "-s", "-screen 0 1024x768x24"])
        .arg(env!("CARGO_BIN_EXE_twinplan"))
        .args(["render", "--layout", "3d", "--bare", "--view", "anterior"])
        .args([
            "--structures",
            "bone,vessels",
            "--size",
            &format!("{W}x{H}"),
        ])
        .arg("--out")
        .arg(&out)
        .arg(&sample)
        .status()
        .expect("xvfb-run runs");
    assert!(status.success(), "render failed: {status}");
    let image = read_png(&out);

    // Independent projection of the same structures.
    let progress = Progress::new();
    let (_, loaded) = open_path(&sample, &progress).expect("sample opens");
    let recipes = default_recipes(&loaded.volume, &study_landmarks(&sample));
    let mesh_of = |name: &str| {
        let r = recipes.iter().find(|r| r.name == name).expect("recipe");
        build(&loaded.volume, r, &progress).expect("builds").mesh
    };
    let (lo, hi) = bounds_mm(&loaded.volume);
    let cam = OrbitCamera::framing(&lo, &hi, StandardView::Anterior);
    let bone = coverage(&mesh_of("bone"), &cam);
    let vessels = coverage(&mesh_of("vessels"), &cam);
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

fn dilate_at(mask: &[bool], i: usize, r: usize) -> bool {
    let (y, x) = (i / W, i % W);
    (y.saturating_sub(r)..=(y + r).min(H - 1))
        .any(|yy| (x.saturating_sub(r)..=(x + r).min(W - 1)).any(|xx| mask[yy * W + xx]))
}
