//! Tests of the scene module.

use super::*;
use bevy::ecs::message::Messages;
use bevy::ecs::system::RunSystemOnce;
use bevy::window::WindowResolution;

fn world_with_view() -> World {
    let mut world = World::new();
    world.init_resource::<SceneRedraw>();
    world.init_resource::<NewMeshes>();
    world.init_resource::<HeadlessSize>();
    world.init_resource::<Workspace>();
    world.init_resource::<ViewState>();
    world.insert_resource(ThreeDRect(Some(ViewRect::new(0.0, 0.0, 400.0, 300.0))));
    world.init_resource::<Messages<RequestRedraw>>();
    world.spawn(Window {
        resolution: WindowResolution::new(800, 600),
        ..default()
    });
    world.spawn((
        AnatomyCamera,
        Camera::default(),
        Transform::default(),
        Projection::default(),
        bevy::camera::visibility::RenderLayers::default(),
    ));
    world
}

/// Runs the end-of-frame switch; whether the camera renders this frame.
fn renders(world: &mut World) -> bool {
    world.run_system_once(activate_camera).expect("runs");
    let mut q = world
        .query_filtered::<(&Camera, &bevy::camera::visibility::RenderLayers), With<AnatomyCamera>>(
        );
    let (camera, layers) = q.single(world).expect("one camera");
    transparency::draws(camera, layers)
}

#[test]
fn the_3d_view_renders_once_per_change_and_not_while_nothing_changes() {
    let mut world = world_with_view();
    assert!(!renders(&mut world), "nothing asked for a render");
    assert!(!renders(&mut world));
    world.resource_mut::<SceneRedraw>().request("test");
    assert!(renders(&mut world), "a change renders in its own frame");
    assert!(!renders(&mut world), "and only then");
    // A pipeline finished compiling: the frame that queued it drew without it.
    let pending = PipelinesPending::default();
    world.insert_resource(pending.clone());
    assert!(!renders(&mut world));
    pending
        .0
        .finished
        .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    assert!(renders(&mut world));
    assert!(!renders(&mut world));
    // A hidden 3D view renders nothing, asked or not; what changed meanwhile is
    // rendered when it shows again.
    world.insert_resource(ThreeDRect(None));
    world.resource_mut::<SceneRedraw>().request("test");
    assert!(!renders(&mut world));
    assert!(!renders(&mut world));
    world.insert_resource(ThreeDRect(Some(ViewRect::new(0.0, 0.0, 400.0, 300.0))));
    assert!(renders(&mut world), "the change made while hidden");
    assert!(!renders(&mut world));
    world.insert_resource(ThreeDRect(None));
    // Offscreen frame timing renders every frame.
    world.insert_resource(HeadlessSize(Some((64, 64))));
    assert!(renders(&mut world) && renders(&mut world));
}

#[test]
fn a_camera_with_exact_transparency_idles_instead_of_switching_off() {
    use bevy::camera::ClearColorConfig;
    use bevy::camera::visibility::RenderLayers;
    let mut world = world_with_view();
    let cam = world
        .query_filtered::<Entity, With<AnatomyCamera>>()
        .single(&world)
        .expect("one camera");
    world.entity_mut(cam).insert(transparency::settings());
    let state = |world: &World| {
        let e = world.entity(cam);
        let c = e.get::<Camera>().expect("camera");
        (
            c.is_active,
            c.clear_color,
            e.get::<RenderLayers>().expect("layers").clone(),
        )
    };
    for _ in 0..2 {
        assert!(!renders(&mut world), "nothing asked for a render");
        let (on, clear, layers) = state(&world);
        // Still extracted (Bevy keeps its fragment lists and resolve pipeline), but it sees
        // nothing and keeps the last picture.
        assert!(on);
        assert!(matches!(clear, ClearColorConfig::None));
        assert_eq!(layers, RenderLayers::none());
    }
    world.resource_mut::<SceneRedraw>().request("test");
    assert!(renders(&mut world));
    let (on, clear, layers) = state(&world);
    assert!(on);
    assert!(matches!(clear, ClearColorConfig::Default));
    assert_eq!(layers, RenderLayers::default());
    assert!(!renders(&mut world), "and only then");
}

#[test]
fn a_new_mesh_not_drawn_in_its_render_is_rendered_again_until_it_is() {
    use std::sync::atomic::Ordering::Relaxed;
    let mut world = world_with_view();
    let pending = PipelinesPending::default();
    world.insert_resource(pending.clone());
    let e = world.spawn_empty().id();
    {
        let mut new = world.resource_mut::<NewMeshes>();
        new.generation = 1;
        new.entities.push(e);
    }
    world
        .resource_mut::<SceneRedraw>()
        .request("structure added");
    assert!(renders(&mut world), "the frame that brings it");
    // The render world has not reported yet: no render, but the loop keeps turning.
    assert!(!renders(&mut world));
    // Reported: not drawn. Rendered again, under a new generation.
    pending.0.checked.store(1, Relaxed);
    pending.0.drawable.store(false, Relaxed);
    assert!(renders(&mut world), "rendered again");
    assert_eq!(world.resource::<NewMeshes>().generation, 2);
    assert!(!renders(&mut world), "waiting for the second report");
    pending.0.checked.store(2, Relaxed);
    pending.0.drawable.store(true, Relaxed);
    assert!(!renders(&mut world), "drawn: nothing more");
    assert!(world.resource::<NewMeshes>().entities.is_empty());
}

#[test]
fn moving_the_camera_asks_for_a_render_and_standing_still_does_not() {
    let mut world = world_with_view();
    world.run_system_once(sync_camera).expect("runs");
    assert!(renders(&mut world), "first placement");
    for _ in 0..3 {
        world.run_system_once(sync_camera).expect("runs");
        assert!(!renders(&mut world), "camera unchanged");
    }
    world.resource_mut::<ViewState>().camera.orbit(25.0, 0.0);
    world.run_system_once(sync_camera).expect("runs");
    assert!(renders(&mut world), "orbited");
}
