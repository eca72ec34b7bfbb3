//! The viewer's logic under `MinimalPlugins` (no window, no GPU): opening the bundled sample
//! creates its structures in background tasks; slice index ↔ patient mm ↔ 3D cursor round
//! trip; a click in one view moves the crosshair of all; window/level presets; and the
//! anonymous mode removes identity from every string the panels draw (the whole UI is run
//! on a bare egui context and its text read back).
#![cfg(feature = "viewer")]

use std::time::{Duration, Instant};

use bevy::prelude::*;
use bevy_egui::egui;
use twinplan::app::slices::{SliceCache, depth_of, slice_index, step_mm};
use twinplan::app::state::{Crosshair3d, Jobs, LogicPlugin, UiAction, Workspace};
use twinplan::app::ui::{UiState, workstation_ui};
use twinplan::session::open::sample_path;
use twinplan::volume::display::{Plane, bounds_mm, reslice};

fn loaded_sample_app() -> Option<App> {
    let Some(sample) = sample_path() else {
        eprintln!("skipping: bundled sample not found");
        return None;
    };
    let mut app = App::new();
    app.add_plugins((MinimalPlugins, LogicPlugin));
    app.world_mut().write_message(UiAction::Open(sample));
    let t = Instant::now();
    loop {
        app.update();
        let ws = app.world().resource::<Workspace>();
        let jobs = app.world().resource::<Jobs>();
        if ws.loaded.is_some() && jobs.is_idle() {
            break;
        }
        assert!(
            t.elapsed() < Duration::from_secs(600),
            "sample did not load"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
    Some(app)
}

fn all_text(ctx: &egui::Context, ws: &Workspace, st: &mut UiState) -> String {
    let mut cache = SliceCache::default();
    let mut text = String::new();
    for _ in 0..3 {
        let mut actions = Vec::new();
        let mut out = ctx.run_ui(egui::RawInput::default(), |ui| {
            workstation_ui(ui.ctx(), ws, &[], &mut cache, st, &mut actions);
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
        // CT opens with the soft-tissue window; 40 HU maps to mid grey.
        assert_eq!(ws.window_name, "Soft tissue");
        assert_eq!(ws.window.map(40.0), 128);
        assert_eq!(ws.window.map(-1000.0), 0);
    }

    // Click in the axial view: every view's plane passes through the clicked point, and the
    // 3D crosshair follows.
    let (click, step_axial) = {
        let ws = app.world().resource::<Workspace>();
        let volume = &ws.loaded.as_ref().expect("loaded").volume;
        let axial = reslice(volume, Plane::Axial, &ws.cursor.point(), None);
        let p = axial.patient_at(60.0, 130.0);
        ([p.x, p.y, p.z], step_mm(ws, Plane::Axial))
    };
    app.world_mut().write_message(UiAction::MoveCursor(click));
    app.update();
    {
        let ws = app.world().resource::<Workspace>();
        assert!((depth_of(ws, Plane::Sagittal) - click[0]).abs() < 1e-9);
        assert!((depth_of(ws, Plane::Coronal) - click[1]).abs() < 1e-9);
        assert!((depth_of(ws, Plane::Axial) - click[2]).abs() < 1e-9);
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
        assert_eq!(slice_index(ws, Plane::Axial), Some((i, 200)));
        assert!((depth_of(ws, Plane::Axial) - z).abs() < 1e-9);
    }
    assert!((hi.z - lo.z - 199.0 * 3.2).abs() < 1e-6);

    // Wheel scrolling is one slice per notch (the action a wheel notch emits).
    let before = app.world().resource::<Workspace>().cursor;
    let mut next = before;
    next.scroll(Plane::Axial, 1.0, step_axial);
    app.world_mut()
        .write_message(UiAction::MoveCursor(next.position_mm));
    app.update();
    {
        let ws = app.world().resource::<Workspace>();
        let (i0, _) = {
            let mut tmp = Workspace::default();
            tmp.loaded = ws.loaded.clone();
            tmp.cursor = before;
            slice_index(&tmp, Plane::Axial).expect("index")
        };
        assert_eq!(slice_index(ws, Plane::Axial).expect("index").0, i0 + 1);
    }
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
    let shown = all_text(&ctx, app.world().resource::<Workspace>(), &mut st);
    assert!(
        shown.contains("TWINPHANTOM, ADA"),
        "banner missing: {shown}"
    );
    assert!(shown.contains("Structures") && shown.contains("Axial"));

    app.world_mut().write_message(UiAction::SetAnonymous(true));
    app.update();
    let shown = all_text(&ctx, app.world().resource::<Workspace>(), &mut st);
    assert!(shown.contains("Anonymous"));
    for s in &secrets {
        assert!(
            !shown.contains(s.as_str()),
            "{s:?} still shown in anonymous mode"
        );
    }
    // The rest of the UI is still there.
    assert!(shown.contains("bone") && shown.contains("CTA phantom arterial"));
}
