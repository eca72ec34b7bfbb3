//! The viewer's logic under `MinimalPlugins` (no window, no GPU): opening the bundled sample
//! creates its structures in background tasks; slice index ↔ patient mm ↔ 3D cursor round
//! trip; a click in one view moves the crosshair of all; window/level presets; and the
//! anonymous mode removes identity from every string the panels draw (the whole UI is run
//! on a bare egui context and its text read back).
#![cfg(feature = "viewer")]

mod common;

use std::collections::HashMap;
use std::time::{Duration, Instant};

use bevy::prelude::*;
use bevy_egui::egui;
use twinplan::app::LogicPlugin;
use twinplan::app::document::{DocEdits, DocWriter, PlanDoc};
use twinplan::app::markups::MarkupTool;
use twinplan::app::overlay::Tools;
use twinplan::app::paths::PathUi;
use twinplan::app::slices::{SliceCache, depth_of, slice_index, step_mm};
use twinplan::app::state::{Crosshair3d, Jobs, Seen, UiAction, ViewState, Workspace};
use twinplan::app::ui::{UiState, workstation_ui};
use twinplan::session::layout::{Layout, Rect as ViewRect};
use twinplan::session::open::sample_path;
use twinplan::volume::display::{Plane, bounds_mm, reslice};

fn loaded_sample_app() -> Option<App> {
    let Some(sample) = sample_path() else {
        common::skip("bundled sample not found");
        return None;
    };
    Some(loaded_app(sample))
}

/// An app (logic only) that has opened `path` and built its structures.
fn loaded_app(path: std::path::PathBuf) -> App {
    let mut app = App::new();
    app.add_plugins((MinimalPlugins, LogicPlugin));
    open_and_wait(&mut app, path);
    app
}

fn open_and_wait(app: &mut App, path: std::path::PathBuf) {
    app.world_mut().write_message(UiAction::Open(path));
    app.update();
    let t = Instant::now();
    loop {
        app.update();
        let ws = app.world().resource::<Workspace>();
        let jobs = app.world().resource::<Jobs>();
        if ws.loaded.is_some() && jobs.is_idle() {
            break;
        }
        assert!(t.elapsed() < Duration::from_secs(600), "study did not load");
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// Size of the screen the UI is run on in these tests.
const SCREEN: (f32, f32) = (1600.0, 1000.0);

/// One run of the whole UI: every shape it drew (flattened) and every texture it uploaded.
struct Drawn {
    shapes: Vec<egui::Shape>,
    textures: HashMap<egui::TextureId, egui::ColorImage>,
}

/// One frame of the whole workstation UI at `size` with these input events, on a fresh
/// document and tools: the actions it emitted and what it drew.
fn ui_frame(
    ctx: &egui::Context,
    world: &World,
    (cache, st): (&mut SliceCache, &mut UiState),
    size: (f32, f32),
    events: Vec<egui::Event>,
) -> (Vec<UiAction>, egui::FullOutput) {
    let (ws, view) = (world.resource::<Workspace>(), world.resource::<ViewState>());
    let mut actions = Vec::new();
    let input = egui::RawInput {
        screen_rect: Some(egui::Rect::from_min_size(
            egui::Pos2::ZERO,
            egui::vec2(size.0, size.1),
        )),
        events,
        ..Default::default()
    };
    let out = ctx.run_ui(input, |ui| {
        workstation_ui(
            ui.ctx(),
            Seen { ws, view },
            &[],
            cache,
            st,
            &mut actions,
            &mut Tools {
                doc: DocWriter::new(&PlanDoc::default(), &mut DocEdits::default()),
                tool: &mut MarkupTool::default(),
                paths: &mut PathUi::default(),
                edit: &mut twinplan::app::edit::EditTool::default(),
                volume: &mut Default::default(),
                volume_panel: &mut Default::default(),
            },
        );
    });
    (actions, out)
}

fn draw(ctx: &egui::Context, world: &World, st: &mut UiState) -> Drawn {
    let mut cache = SliceCache::default();
    let mut textures = HashMap::new();
    let mut shapes = Vec::new();
    for _ in 0..3 {
        let (_, mut out) = ui_frame(ctx, world, (&mut cache, st), SCREEN, Vec::new());
        for (id, deltas) in &out.textures_delta.set {
            for d in deltas {
                let egui::ImageData::Color(img) = &d.image;
                if d.pos.is_none() {
                    textures.insert(*id, (**img).clone());
                }
            }
        }
        out.textures_delta.clear();
        shapes.clear();
        for clipped in std::mem::take(&mut out.shapes) {
            flatten(clipped.shape, &mut shapes);
        }
    }
    Drawn { shapes, textures }
}

fn flatten(shape: egui::Shape, out: &mut Vec<egui::Shape>) {
    match shape {
        egui::Shape::Vec(v) => v.into_iter().for_each(|s| flatten(s, out)),
        other => out.push(other),
    }
}

/// Centroids (screen points) of the white blobs of a slice image drawn in `view`.
fn white_blobs(drawn: &Drawn, view: egui::Rect) -> Vec<egui::Pos2> {
    let (mesh, image) = drawn
        .shapes
        .iter()
        .find_map(|s| match s {
            egui::Shape::Mesh(m) if m.texture_id != egui::TextureId::default() => {
                let rect =
                    egui::Rect::from_points(&m.vertices.iter().map(|v| v.pos).collect::<Vec<_>>());
                let image = drawn.textures.get(&m.texture_id)?;
                view.contains(rect.center()).then_some((rect, image))
            }
            _ => None,
        })
        .expect("the view draws its slice image");
    let [w, h] = image.size;
    common::blobs(w, h, |x, y| image.pixels[y * w + x].r() == 255)
        .into_iter()
        .filter(|b| b.2 >= 4)
        .map(|(x, y, _)| {
            let (u, v) = ((x as f32 + 0.5) / w as f32, (y as f32 + 0.5) / h as f32);
            egui::pos2(
                mesh.left() + u * mesh.width(),
                mesh.top() + v * mesh.height(),
            )
        })
        .collect()
}

/// Where the crosshair crosses in `view`: the x of its vertical lines, the y of its
/// horizontal ones.
fn crosshair(drawn: &Drawn, view: egui::Rect) -> egui::Pos2 {
    let (mut x, mut y) = (None, None);
    for s in &drawn.shapes {
        if let egui::Shape::LineSegment { points: [a, b], .. } = s
            && view.contains(*a)
            && view.contains(*b)
        {
            if (a.x - b.x).abs() < 1e-3 && (a.y - b.y).abs() > 1.0 {
                x = Some(a.x);
            } else if (a.y - b.y).abs() < 1e-3 && (a.x - b.x).abs() > 1.0 {
                y = Some(a.y);
            }
        }
    }
    egui::pos2(
        x.expect("vertical crosshair line"),
        y.expect("horizontal crosshair line"),
    )
}

/// The orientation letters drawn in `view`, with their centres.
fn letters(drawn: &Drawn, view: egui::Rect) -> Vec<(String, egui::Pos2)> {
    drawn
        .shapes
        .iter()
        .filter_map(|s| match s {
            egui::Shape::Text(t) => {
                let text = t.galley.text().to_string();
                let centre = t.pos + t.galley.rect.center().to_vec2();
                (["R", "L", "A", "P", "S", "I"].contains(&text.as_str()) && view.contains(centre))
                    .then_some((text, centre))
            }
            _ => None,
        })
        .collect()
}

fn all_text(ctx: &egui::Context, world: &World, st: &mut UiState) -> String {
    let (ws, view) = (world.resource::<Workspace>(), world.resource::<ViewState>());
    let mut cache = SliceCache::default();
    let mut text = String::new();
    for _ in 0..3 {
        let mut actions = Vec::new();
        let mut out = ctx.run_ui(egui::RawInput::default(), |ui| {
            workstation_ui(
                ui.ctx(),
                Seen { ws, view },
                &[],
                &mut cache,
                st,
                &mut actions,
                &mut Tools {
                    doc: DocWriter::new(&PlanDoc::default(), &mut DocEdits::default()),
                    tool: &mut MarkupTool::default(),
                    paths: &mut PathUi::default(),
                    edit: &mut twinplan::app::edit::EditTool::default(),
                    volume: &mut Default::default(),
                    volume_panel: &mut Default::default(),
                },
            );
        });
        // No renderer here: the texture uploads are not needed.
        out.textures_delta.clear();
        text.clear();
        for clipped in &out.shapes {
            collect(&clipped.shape, &mut text);
        }
    }
    text
}

fn collect(shape: &egui::Shape, out: &mut String) {
    match shape {
        egui::Shape::Text(t) => {
            out.push_str(t.galley.text());
            out.push('\n');
        }
        egui::Shape::Vec(v) => v.iter().for_each(|s| collect(s, out)),
        _ => {}
    }
}

#[test]
fn sample_opens_with_structures_and_the_views_stay_in_sync() {
    let Some(mut app) = loaded_sample_app() else {
        return;
    };
    {
        let ws = app.world().resource::<Workspace>();
        let view = app.world().resource::<ViewState>();
        let names: Vec<&str> = ws
            .structures
            .iter()
            .map(|s| s.recipe.name.as_str())
            .collect();
        assert_eq!(names, ["bone", "vessels", "skin"]);
        for s in &ws.structures {
            let b = s.built.as_ref().expect("built");
            assert!(b.triangles > 10_000, "{}: {}", s.recipe.name, b.triangles);
            assert!(b.closed, "{} not closed", s.recipe.name);
        }
        let vessels = ws.structures[1].built.as_ref().expect("vessels");
        // The phantom's arterial tree: aorta 14→… mm radius over ~0.5 m plus branches.
        assert!(
            vessels.volume_ml > 100.0 && vessels.volume_ml < 600.0,
            "{}",
            vessels.volume_ml
        );
        // A CT angiogram (its histogram has a contrast peak near the phantom's 380 HU
        // blood) opens in the Angio window: 300 HU maps to mid grey.
        assert_eq!(view.window_name, "Angio");
        assert_eq!(view.window.map(300.0), 128);
        assert_eq!(view.window.map(-1000.0), 0);
        assert_eq!(ws.modality(), "CT");
    }

    // Click in the axial view: every view's plane passes through the clicked point, and the
    // 3D crosshair follows.
    let (click, step_axial) = {
        let ws = app.world().resource::<Workspace>();
        let view = app.world().resource::<ViewState>();
        let volume = &ws.loaded.as_ref().expect("loaded").volume;
        let axial = reslice(volume, Plane::Axial, &view.cursor.point(), None);
        let p = axial.patient_at(60.0, 130.0);
        ([p.x, p.y, p.z], step_mm(ws, Plane::Axial))
    };
    app.world_mut().write_message(UiAction::MoveCursor(click));
    app.update();
    {
        let view = app.world().resource::<ViewState>();
        assert!((depth_of(view, Plane::Sagittal) - click[0]).abs() < 1e-9);
        assert!((depth_of(view, Plane::Coronal) - click[1]).abs() < 1e-9);
        assert!((depth_of(view, Plane::Axial) - click[2]).abs() < 1e-9);
        let mut q = app
            .world_mut()
            .query_filtered::<&Transform, With<Crosshair3d>>();
        let t = q.single(app.world()).expect("one crosshair");
        for (a, c) in click.iter().enumerate() {
            assert!((f64::from(t.translation[a]) - c).abs() < 1e-3);
        }
    }
    assert!((step_axial - 3.2).abs() < 1e-9, "{step_axial}");

    // Slice index ↔ patient mm: stepping through every 10th axial slice lands on it.
    let (lo, hi) = {
        let ws = app.world().resource::<Workspace>();
        bounds_mm(&ws.loaded.as_ref().expect("loaded").volume)
    };
    for i in (0..200).step_by(10) {
        let z = lo.z + i as f64 * 3.2;
        app.world_mut()
            .write_message(UiAction::MoveCursor([click[0], click[1], z]));
        app.update();
        let ws = app.world().resource::<Workspace>();
        let view = app.world().resource::<ViewState>();
        assert_eq!(slice_index(ws, view, Plane::Axial), Some((i, 200)));
        assert!((depth_of(view, Plane::Axial) - z).abs() < 1e-9);
    }
    assert!((hi.z - lo.z - 199.0 * 3.2).abs() < 1e-6);

    // Wheel scrolling: real wheel events over the axial view, through the UI's own wheel
    // handling, move one slice per notch (down: deeper, toward the feet; up: back).
    let index = |app: &App| {
        let ws = app.world().resource::<Workspace>();
        let view = app.world().resource::<ViewState>();
        slice_index(ws, view, Plane::Axial).expect("index").0
    };
    let i0 = index(&app);
    let notch = |app: &mut App, lines: f32| {
        let actions = wheel_over_axial(app, lines);
        assert!(!actions.is_empty(), "the wheel did nothing");
        for a in actions {
            app.world_mut().write_message(a);
        }
        app.update();
    };
    notch(&mut app, -1.0);
    let i1 = index(&app);
    assert_eq!(i1.abs_diff(i0), 1, "one notch, one slice: {i0} → {i1}");
    notch(&mut app, -1.0);
    notch(&mut app, -1.0);
    let i3 = index(&app);
    assert_eq!(
        i3.abs_diff(i0),
        3,
        "three notches, three slices: {i0} → {i3}"
    );
    notch(&mut app, 3.0);
    assert_eq!(index(&app), i0, "three back, where it began");
}

/// The actions the UI emits for a wheel turned by `lines` notches over the middle of the
/// axial view (four-up layout, no panels).
fn wheel_over_axial(app: &mut App, lines: f32) -> Vec<UiAction> {
    app.world_mut().resource_mut::<ViewState>().layout = Layout::FourUp;
    let world = app.world();
    let area = ViewRect::new(0.0, 0.0, SCREEN.0, SCREEN.1);
    let axial = Layout::FourUp
        .arrange(area, 3.0)
        .into_iter()
        .find(|(v, _)| *v == twinplan::session::layout::ViewId::Axial)
        .expect("axial")
        .1;
    let hover = egui::pos2(axial.x + axial.w / 2.0, axial.y + axial.h / 2.0);
    let ctx = egui::Context::default();
    let mut st = UiState {
        bare: true,
        ..Default::default()
    };
    let mut cache = SliceCache::default();
    let mut actions = Vec::new();
    // A frame to lay the views out under the pointer, then the notch.
    for events in [
        vec![egui::Event::PointerMoved(hover)],
        vec![egui::Event::MouseWheel {
            unit: egui::MouseWheelUnit::Line,
            delta: egui::vec2(0.0, lines),
            phase: egui::TouchPhase::Move,
            modifiers: egui::Modifiers::NONE,
        }],
    ] {
        let (emitted, mut out) = ui_frame(&ctx, world, (&mut cache, &mut st), SCREEN, events);
        out.textures_delta.clear();
        actions = emitted;
    }
    actions
}

#[test]
fn anonymous_mode_removes_identity_from_every_panel() {
    let Some(mut app) = loaded_sample_app() else {
        return;
    };
    let secrets = app
        .world()
        .resource::<Workspace>()
        .banner()
        .expect("banner")
        .secrets();
    assert!(secrets.iter().any(|s| s.contains("TWINPHANTOM")));
    let ctx = egui::Context::default();
    // Open the windows that show details too.
    let mut st = UiState {
        help_open: true,
        ..Default::default()
    };
    let shown = all_text(&ctx, app.world(), &mut st);
    assert!(
        shown.contains("TWINPHANTOM, ADA"),
        "banner missing: {shown}"
    );
    assert!(shown.contains("Structures") && shown.contains("Axial"));
    assert!(
        shown.contains("CTA phantom arterial"),
        "description missing: {shown}"
    );

    app.world_mut().write_message(UiAction::SetAnonymous(true));
    app.update();
    let shown = all_text(&ctx, app.world(), &mut st);
    assert!(shown.contains("Anonymous"));
    for s in &secrets {
        assert!(
            !shown.contains(s.as_str()),
            "{s:?} still shown in anonymous mode"
        );
    }
    // The rest of the UI is still there; the free-text series description is not.
    assert!(shown.contains("bone") && shown.contains("Structures"));
    assert!(
        !shown.contains("CTA phantom arterial"),
        "description shown: {shown}"
    );
}

#[test]
fn every_marker_shows_on_the_side_its_letter_names() {
    // The asymmetric phantom (markers on the patient's left, anterior and superior sides),
    // written as an oblique series and as one with flipped axes, opened in the workstation;
    // the slice views as drawn (their textures where they are put on screen, the crosshair,
    // the edge letters) must show each marker on the side its letter names.
    let area = ViewRect::new(0.0, 0.0, SCREEN.0, SCREEN.1);
    let views = Layout::FourUp.arrange(area, 3.0);
    for (name, grid) in common::orientation_grids() {
        let dir = tempfile::tempdir().expect("tempdir");
        common::write_orientation_series(dir.path(), &grid);
        let mut app = loaded_app(dir.path().to_path_buf());
        app.world_mut()
            .write_message(UiAction::MoveCursor([0.0; 3]));
        app.update();
        let ws = app.world().resource::<Workspace>();
        assert_eq!(
            ws.loaded.as_ref().expect("loaded").volume.geometry.dims,
            [85, 85, 85]
        );
        let ctx = egui::Context::default();
        let mut st = UiState {
            bare: true,
            ..Default::default()
        };
        let drawn = draw(&ctx, app.world(), &mut st);
        for (view, rect) in &views {
            let Some(plane) = view.plane() else { continue };
            let r =
                egui::Rect::from_min_size(egui::pos2(rect.x, rect.y), egui::vec2(rect.w, rect.h));
            let centre = crosshair(&drawn, r);
            let blobs = white_blobs(&drawn, r);
            let shown = letters(&drawn, r);
            assert_eq!(blobs.len(), 2, "{name} {plane:?}: markers seen {blobs:?}");
            assert_eq!(shown.len(), 4, "{name} {plane:?}: letters {shown:?}");
            // The letter on a given side of the crosshair.
            let letter_towards = |d: egui::Vec2| -> String {
                shown
                    .iter()
                    .max_by(|a, b| {
                        let da = (a.1 - centre).normalized().dot(d.normalized());
                        let db = (b.1 - centre).normalized().dot(d.normalized());
                        da.total_cmp(&db)
                    })
                    .map(|l| l.0.clone())
                    .unwrap_or_default()
            };
            // Which marker lies across, which along the view (the ones in this plane).
            let (across, along) = match plane {
                Plane::Axial => ("L", "A"),
                Plane::Coronal => ("L", "S"),
                Plane::Sagittal => ("A", "S"),
            };
            for b in &blobs {
                let d = *b - centre;
                // 58 mm out from the centre at this view's scale: well off the crosshair.
                assert!(d.length() > 20.0, "{name} {plane:?}: marker at the centre");
                let horizontal = d.x.abs() > d.y.abs();
                let expected = if horizontal { across } else { along };
                let side = if horizontal {
                    egui::vec2(d.x.signum(), 0.0)
                } else {
                    egui::vec2(0.0, d.y.signum())
                };
                assert_eq!(
                    letter_towards(side),
                    expected,
                    "{name} {plane:?}: the marker at {d:?} from the centre is under the wrong letter"
                );
            }
            // Radiological convention: patient left on screen right in axial and coronal
            // views, head up in coronal and sagittal, anterior up in axial.
            let pos_of = |l: &str| shown.iter().find(|s| s.0 == l).expect("letter").1;
            match plane {
                Plane::Axial => {
                    assert!(pos_of("L").x > centre.x && pos_of("A").y < centre.y);
                }
                Plane::Coronal => {
                    assert!(pos_of("L").x > centre.x && pos_of("S").y < centre.y);
                }
                Plane::Sagittal => {
                    assert!(pos_of("A").x < centre.x && pos_of("S").y < centre.y);
                }
            }
        }
    }
}

/// All text drawn by one run of the UI (as `all_text`, on the fixed screen).
fn drawn_text(drawn: &Drawn) -> String {
    let mut out = String::new();
    for s in &drawn.shapes {
        if let egui::Shape::Text(t) = s {
            out.push_str(t.galley.text());
            out.push('\n');
        }
    }
    out
}

#[test]
fn anonymous_mode_hides_every_free_text_that_can_name_someone() {
    // A series with a name planted in every free-text attribute that can carry one.
    let dir = tempfile::tempdir().expect("tempdir");
    common::write_phantom_series(dir.path(), [48, 48, 32], true);
    // A path named after the patient, as some exports do.
    let named = dir.path().join("TWINPHANTOM_ADA");
    std::fs::create_dir(&named).expect("mkdir");
    for e in std::fs::read_dir(dir.path()).expect("ls").flatten() {
        if e.path().is_file() {
            std::fs::rename(e.path(), named.join(e.file_name())).expect("move");
        }
    }
    std::fs::write(named.join("notes.txt"), "not dicom").expect("write");
    let mut app = loaded_app(named.clone());
    let ctx = egui::Context::default();
    let mut st = UiState {
        help_open: true,
        ..Default::default()
    };
    let ws = app.world().resource::<Workspace>();
    // Open the skipped-files notice, whose details name the file by its path.
    st.notice_open = ws.notices.first().map(|n| n.id);
    assert!(st.notice_open.is_some(), "a notice names the skipped file");
    let shown = drawn_text(&draw(&ctx, app.world(), &mut st));
    assert!(
        shown.contains("ZQSURNAME01"),
        "series description shown when not anonymous"
    );
    assert!(
        shown.contains("TWINPHANTOM"),
        "identity shown when not anonymous"
    );
    app.world_mut().write_message(UiAction::SetAnonymous(true));
    app.update();
    let ws = app.world().resource::<Workspace>();
    let shown = drawn_text(&draw(&ctx, app.world(), &mut st));
    let mut secrets = ws.banner().expect("banner").secrets();
    secrets.extend(common::planted_needles());
    for s in &secrets {
        assert!(
            !shown.contains(s.as_str()),
            "{s:?} shown in anonymous mode:\n{shown}"
        );
    }
    assert!(
        shown.contains("notes.txt"),
        "the notice details are still there: {shown}"
    );
}

#[test]
fn ct_stored_as_nifti_is_a_ct_and_the_user_can_say_otherwise() {
    let Some(t) = common::testdata() else { return };
    let cta = t.join("cta_aorta/ct_cropped.nii.gz");
    let mut app = loaded_app(cta.clone());
    {
        let ws = app.world().resource::<Workspace>();
        let view = app.world().resource::<ViewState>();
        let l = ws.loaded.as_ref().expect("loaded");
        assert_eq!(l.modality, "CT");
        assert_eq!(l.evidence, twinplan::session::modality::Evidence::Values);
        assert!(
            ws.notices
                .iter()
                .any(|n| n.notice.summary.contains("Treated as CT"))
        );
        // A CT angiogram: the Angio window, bone above the contrast-enhanced blood.
        assert_eq!(view.window_name, "Angio");
        let peak = l.contrast_peak_hu().expect("contrast peak");
        assert!((400.0..=550.0).contains(&peak), "{peak}");
        let names: Vec<&str> = ws
            .structures
            .iter()
            .map(|s| s.recipe.name.as_str())
            .collect();
        // No skin: the field of view cuts through the chest.
        assert_eq!(names, ["bone"]);
        let bone = ws.structures[0].recipe.range_of().expect("range");
        assert!(bone.lo >= peak + 300.0 - 1e-9, "{bone:?}");
        let ctx = egui::Context::default();
        let shown = drawn_text(&draw(&ctx, app.world(), &mut UiState::default()));
        assert!(
            shown.contains("Soft tissue") && shown.contains("Range (HU)"),
            "CT presets and HU"
        );
    }
    // The user says it is an MR: no HU, no CT presets, the automatic outline instead.
    app.world_mut()
        .write_message(UiAction::SetModality("MR".into()));
    app.update();
    let t0 = Instant::now();
    while !app.world().resource::<Jobs>().is_idle() {
        assert!(t0.elapsed() < Duration::from_secs(300));
        app.update();
        std::thread::sleep(Duration::from_millis(20));
    }
    {
        let ws = app.world().resource::<Workspace>();
        let view = app.world().resource::<ViewState>();
        assert_eq!(ws.modality(), "MR");
        assert_eq!(view.window_name, "Auto");
        let names: Vec<&str> = ws
            .structures
            .iter()
            .map(|s| s.recipe.name.as_str())
            .collect();
        assert_eq!(names, ["outline"]);
        assert!(ws.structures[0].built.as_ref().is_some_and(|b| b.closed));
        let ctx = egui::Context::default();
        let shown = drawn_text(&draw(&ctx, app.world(), &mut UiState::default()));
        assert!(
            !shown.contains("Soft tissue") && !shown.contains("Range (HU)"),
            "{shown}"
        );
    }
    // A BIDS sidecar that says MR wins over the values.
    let dir = tempfile::tempdir().expect("tempdir");
    let copy = dir.path().join("sub-01_run-1.nii.gz");
    std::fs::copy(&cta, &copy).expect("copy");
    std::fs::write(
        dir.path().join("sub-01_run-1.json"),
        r#"{"Modality": "MR"}"#,
    )
    .expect("json");
    let app = loaded_app(copy);
    let l = app
        .world()
        .resource::<Workspace>()
        .loaded
        .clone()
        .expect("loaded");
    assert_eq!(l.modality, "MR");
    assert_eq!(l.evidence, twinplan::session::modality::Evidence::Sidecar);
}

#[test]
fn mr_opens_with_an_outline_and_no_hu_presets() {
    let Some(t) = common::testdata() else { return };
    // A Siemens mosaic: 35 slices of 64 × 64 tiled into one 384 × 384 image.
    let app = loaded_app(t.join("dcm_qa_ts/In/1.dcm"));
    let ws = app.world().resource::<Workspace>();
    let entry = ws
        .catalog
        .as_ref()
        .expect("catalog")
        .series()
        .next()
        .expect("series")
        .clone();
    assert_eq!(
        entry.dims,
        [64, 64, 35],
        "the series list shows the loaded dimensions"
    );
    assert_eq!(ws.modality(), "MR");
    let names: Vec<&str> = ws
        .structures
        .iter()
        .map(|s| s.recipe.name.as_str())
        .collect();
    assert_eq!(names, ["outline"]);
    let outline = ws.structures[0].built.as_ref().expect("built");
    // A head: about a litre or two inside, closed.
    assert!(
        outline.closed && (500.0..3000.0).contains(&outline.volume_ml),
        "{}",
        outline.volume_ml
    );
    let ctx = egui::Context::default();
    let shown = drawn_text(&draw(&ctx, app.world(), &mut UiState::default()));
    for ct_only in ["Soft tissue", "Angio", "Lung", "Add preset"] {
        assert!(!shown.contains(ct_only), "{ct_only} offered for MR");
    }
    assert!(shown.contains("Add outline"));
}

#[test]
fn readouts_speak_anatomy_and_overlays_stay_legible() {
    let Some(mut app) = loaded_sample_app() else {
        return;
    };
    // Far outside: the cursor stops at the volume's edge.
    app.world_mut()
        .write_message(UiAction::MoveCursor([1e4, -1e4, 0.0]));
    app.update();
    let (lo, hi, centre) = {
        let ws = app.world().resource::<Workspace>();
        let view = app.world().resource::<ViewState>();
        let (lo, hi) = bounds_mm(&ws.loaded.as_ref().expect("loaded").volume);
        let c = view.cursor.point();
        assert!(
            (c.x - hi.x).abs() < 1e-9 && (c.y - lo.y).abs() < 1e-9,
            "{c:?}"
        );
        (lo, hi, nalgebra::center(&lo, &hi))
    };
    app.world_mut().write_message(UiAction::MoveCursor([
        centre.x,
        centre.y,
        lo.z + 40.0 * 3.2,
    ]));
    app.update();
    let ws = app.world().resource::<Workspace>();
    let view = app.world().resource::<ViewState>();
    let area = ViewRect::new(0.0, 0.0, SCREEN.0, SCREEN.1);
    let views = Layout::FourUp.arrange(area, 3.0);
    let axial = views
        .iter()
        .find(|(v, _)| *v == twinplan::session::layout::ViewId::Axial)
        .expect("axial")
        .1;
    // Hover the middle of the axial view.
    let ctx = egui::Context::default();
    let mut st = UiState {
        bare: true,
        ..Default::default()
    };
    let hover = egui::pos2(axial.x + axial.w / 2.0, axial.y + axial.h / 2.0);
    let mut cache = SliceCache::default();
    let mut shapes = Vec::new();
    for _ in 0..3 {
        let input = egui::RawInput {
            screen_rect: Some(egui::Rect::from_min_size(
                egui::Pos2::ZERO,
                egui::vec2(SCREEN.0, SCREEN.1),
            )),
            events: vec![egui::Event::PointerMoved(hover)],
            ..Default::default()
        };
        let mut out = ctx.run_ui(input, |ui| {
            workstation_ui(
                ui.ctx(),
                Seen { ws, view },
                &[],
                &mut cache,
                &mut st,
                &mut Vec::new(),
                &mut Tools {
                    doc: DocWriter::new(&PlanDoc::default(), &mut DocEdits::default()),
                    tool: &mut MarkupTool::default(),
                    paths: &mut PathUi::default(),
                    edit: &mut twinplan::app::edit::EditTool::default(),
                    volume: &mut Default::default(),
                    volume_panel: &mut Default::default(),
                },
            );
        });
        out.textures_delta.clear();
        shapes.clear();
        for c in std::mem::take(&mut out.shapes) {
            flatten(c.shape, &mut shapes);
        }
    }
    let texts: Vec<String> = shapes
        .iter()
        .filter_map(|s| match s {
            egui::Shape::Text(t) => Some(t.galley.text().to_string()),
            _ => None,
        })
        .collect();
    let all = texts.join("\n");
    // The acquired slice under the axial view: the scanner's image number (the phantom's
    // InstanceNumber is k + 1), its position as a letter and a distance.
    let z = lo.z + 40.0 * 3.2;
    assert!(
        all.contains(&format!("I {:.1} mm   image 41", z.abs())),
        "{all}"
    );
    // Reformatted planes: the grid index. Positions with letters, never signed LPS.
    assert!(
        all.contains("slice ") && !all.contains("S -") && !all.contains("S −"),
        "{all}"
    );
    // The value under the mouse: the nearest voxel's own value, its unit and its index.
    let volume = &ws.loaded.as_ref().expect("loaded").volume;
    let axial_slice = reslice(volume, Plane::Axial, &view.cursor.point(), None);
    let map = twinplan::session::layout::SliceMapping::for_slice(
        &axial_slice,
        axial,
        &Default::default(),
    );
    let (u, v) = map.slice_of(f64::from(hover.x), f64::from(hover.y));
    let p = axial_slice.patient_at(u, v);
    let ([i, j, k], value) = twinplan::session::readout::nearest_voxel(volume, &p).expect("inside");
    assert!(
        all.contains(&format!("voxel {i}, {j}, {k}   {} HU", value as i64).replace('-', "−")),
        "{all}"
    );
    assert!(
        all.contains(&twinplan::session::readout::position(
            &p,
            Default::default()
        )),
        "{all}"
    );
    let _ = hi;
    // Every text over a slice view sits on a dark backing drawn just before it, and after
    // the view's image.
    let image_at = shapes
        .iter()
        .position(
            |s| matches!(s, egui::Shape::Mesh(m) if m.texture_id != egui::TextureId::default()),
        )
        .expect("image");
    for (n, s) in shapes.iter().enumerate() {
        let egui::Shape::Text(t) = s else { continue };
        let rect = egui::Rect::from_min_size(t.pos, t.galley.size());
        if !egui::Rect::from_min_size(egui::pos2(axial.x, axial.y), egui::vec2(axial.w, axial.h))
            .contains_rect(rect)
        {
            continue;
        }
        assert!(n > image_at, "{:?} drawn under the image", t.galley.text());
        let backed = matches!(&shapes[n - 1], egui::Shape::Rect(r) if r.rect.contains_rect(rect) && r.fill.a() >= 150);
        assert!(backed, "{:?} has no backing", t.galley.text());
    }
}

#[test]
fn notices_belong_to_what_is_open_and_quit_quits() {
    let Some(sample) = sample_path() else {
        common::skip("bundled sample not found");
        return;
    };
    // A study with a file that is not DICOM: a notice about it while that study is open.
    let dir = tempfile::tempdir().expect("tempdir");
    common::write_phantom_series(dir.path(), [24, 24, 16], false);
    std::fs::write(dir.path().join("readme.txt"), "hello").expect("write");
    let mut app = loaded_app(dir.path().to_path_buf());
    let ids: Vec<u64> = app
        .world()
        .resource::<Workspace>()
        .notices
        .iter()
        .filter(|n| n.notice.summary.contains("skipped"))
        .map(|n| n.id)
        .collect();
    assert_eq!(ids.len(), 1, "the skipped file");
    app.world_mut()
        .resource_mut::<Workspace>()
        .notices
        .retain(|n| n.id == ids[0]);
    // Dismissing by id removes exactly that notice.
    app.world_mut()
        .resource_mut::<Workspace>()
        .notify(twinplan::session::Notice::new(
            twinplan::session::Level::Info,
            "kept",
            "",
        ));
    app.world_mut()
        .write_message(UiAction::DismissNotice(ids[0]));
    app.update();
    let left: Vec<String> = app
        .world()
        .resource::<Workspace>()
        .notices
        .iter()
        .map(|n| n.notice.summary.clone())
        .collect();
    assert_eq!(left, ["kept"]);
    app.world_mut().resource_mut::<Workspace>().notices.clear();
    // Skipped-file notice again, then another study: it goes with its study.
    open_and_wait(&mut app, dir.path().to_path_buf());
    assert!(
        app.world()
            .resource::<Workspace>()
            .notices
            .iter()
            .any(|n| n.notice.summary.contains("skipped"))
    );
    open_and_wait(&mut app, sample);
    assert!(
        app.world().resource::<Workspace>().notices.is_empty(),
        "notices of the previous study stayed"
    );
    app.world_mut().write_message(UiAction::Quit);
    app.update();
    assert!(app.should_exit().is_some(), "File ▸ Quit ends the app");
}

/// The last click wins: a study opened while another is still loading cancels it, and
/// nothing of the cancelled one is installed. A large series shows each surface first as a
/// coarse preview, labelled as such in the Structures panel, then in full.
#[test]
fn the_last_open_wins_and_previews_say_what_they_are() {
    let (Some(sample), Some(t)) = (sample_path(), common::testdata()) else {
        common::skip("bundled sample or ../shared/testdata not found");
        return;
    };
    let head = t.join("head_ct/dicom");
    let sample_dims =
        twinplan::session::open::open_path(&sample, &twinplan::progress::Progress::new())
            .expect("sample opens")
            .1
            .volume
            .geometry
            .dims;
    let mut app = App::new();
    app.add_plugins((MinimalPlugins, LogicPlugin));
    app.world_mut().write_message(UiAction::Open(head.clone()));
    app.update();
    open_and_wait(&mut app, sample.clone());
    let ws = app.world().resource::<Workspace>();
    let loaded = ws.loaded.as_ref().expect("a study is open");
    assert_eq!(
        loaded.volume.geometry.dims, sample_dims,
        "the first open was installed"
    );
    assert!(
        ws.structures
            .iter()
            .all(|s| s.built.is_some() && !s.preview)
    );

    // The head CT (512×512×140) is large enough for previews.
    app.world_mut().write_message(UiAction::Open(head));
    app.update();
    let ctx = egui::Context::default();
    let mut st = UiState::default();
    let (mut previews, mut labelled) = (0, false);
    let t0 = Instant::now();
    loop {
        app.update();
        let ws = app.world().resource::<Workspace>();
        let shown = ws
            .structures
            .iter()
            .filter(|s| s.preview && s.built.is_some())
            .count();
        if shown > 0 {
            previews = previews.max(shown);
            if !labelled {
                labelled = all_text(&ctx, app.world(), &mut st).contains("coarse preview");
            }
        }
        if ws.loaded.is_some() && app.world().resource::<Jobs>().is_idle() {
            break;
        }
        assert!(
            t0.elapsed() < Duration::from_secs(600),
            "head CT did not finish"
        );
        std::thread::sleep(Duration::from_millis(5));
    }
    let ws = app.world().resource::<Workspace>();
    assert_eq!(
        ws.loaded.as_ref().map(|l| l.volume.geometry.dims),
        Some([512, 512, 140])
    );
    assert!(previews > 0, "no preview was shown");
    assert!(labelled, "a preview was not labelled as one");
    assert!(
        ws.structures
            .iter()
            .all(|s| s.built.is_some() && !s.preview),
        "a preview stayed"
    );
    // Made again, a surface stays on screen in full until its replacement is done.
    let (id, before) = ws
        .structures
        .first()
        .map(|s| (s.id, s.revision))
        .expect("a structure");
    app.world_mut().write_message(UiAction::Rebuild(id));
    let t0 = Instant::now();
    loop {
        app.update();
        let ws = app.world().resource::<Workspace>();
        let item = ws.structures.iter().find(|s| s.id == id).expect("kept");
        assert!(
            item.built.is_some() && !item.preview,
            "the full surface gave way to a preview"
        );
        if item.revision > before && app.world().resource::<Jobs>().is_idle() {
            break;
        }
        assert!(t0.elapsed() < Duration::from_secs(600), "not rebuilt");
        std::thread::sleep(Duration::from_millis(5));
    }
}

/// Every text the workstation drew, with where it went and the clip rectangle of the layer
/// region it was drawn in.
fn texts_laid_out(world: &World, size: (f32, f32)) -> Vec<(String, egui::Rect, egui::Rect)> {
    let ctx = egui::Context::default();
    let mut st = UiState::default();
    let mut cache = SliceCache::default();
    let mut found = Vec::new();
    fn walk(
        shape: &egui::Shape,
        clip: egui::Rect,
        out: &mut Vec<(String, egui::Rect, egui::Rect)>,
    ) {
        match shape {
            egui::Shape::Vec(v) => v.iter().for_each(|s| walk(s, clip, out)),
            egui::Shape::Text(t) if !t.galley.text().trim().is_empty() => {
                let rect = t.galley.rect.translate(t.pos.to_vec2());
                out.push((t.galley.text().to_string(), rect, clip));
            }
            _ => {}
        }
    }
    for _ in 0..3 {
        let (_, mut out) = ui_frame(&ctx, world, (&mut cache, &mut st), size, Vec::new());
        out.textures_delta.clear();
        found.clear();
        for c in &out.shapes {
            walk(&c.shape, c.clip_rect, &mut found);
        }
    }
    found
}

/// The main panels' layout at the workstation's usual sizes: no text cut off at the side of
/// the panel it is drawn in (a panel too narrow for its rows), none off the window, and no
/// two texts on top of each other (a row drawn over another), so a panel that overflows or
/// overlaps fails here.
#[test]
fn the_panels_lay_out_without_text_cut_off_or_overlapping() {
    let Some(app) = loaded_sample_app() else {
        return;
    };
    for size in [(1600.0, 1000.0), (1280.0, 800.0)] {
        let texts = texts_laid_out(app.world(), size);
        assert!(texts.len() > 40, "the panels drew {} texts", texts.len());
        let screen = egui::Rect::from_min_size(egui::Pos2::ZERO, egui::vec2(size.0, size.1));
        let mut problems = Vec::new();
        for (text, rect, clip) in &texts {
            let visible = rect.intersect(*clip);
            // Cut at the side: the panel is too narrow for the row. (Cut at the top or the
            // bottom is a scroll area showing part of a row, as it should.)
            let across = rect.min.x >= clip.min.x - 0.5 && rect.max.x <= clip.max.x + 0.5;
            if visible.is_positive() && !across {
                problems.push(format!("{text:?} at {rect:?} is cut by its panel {clip:?}"));
            }
            if visible.is_positive() && !screen.expand(0.5).contains_rect(*rect) {
                problems.push(format!("{text:?} at {rect:?} is off the window"));
            }
        }
        for (i, (a, ra, ca)) in texts.iter().enumerate() {
            for (b, rb, cb) in &texts[i + 1..] {
                let overlap = ra.intersect(*ca).intersect(rb.intersect(*cb));
                if overlap.is_positive() && overlap.area() > 4.0 {
                    problems.push(format!("{a:?} at {ra:?} overlaps {b:?} at {rb:?}"));
                }
            }
        }
        assert!(
            problems.is_empty(),
            "at {}x{}: {} layout problem(s):\n{}",
            size.0,
            size.1,
            problems.len(),
            problems.join("\n")
        );
    }
}
