//! Knowing when the 3D view's pictures are complete: whether the renderer still compiles
//! pipelines (nothing that needs one is drawn until it is ready), and whether each newly
//! spawned structure mesh was drawn in the render that carried it. The render world reports
//! both through shared atomics; `scene::activate_camera` renders again when they say a frame
//! was drawn without something, and headless screenshots wait for them. No egui.

use bevy::prelude::*;

/// Set while the renderer still compiles pipelines (shaders compile in the background: until
/// they are ready, meshes and panels are not drawn). Headless screenshots wait for it; the
/// 3D view renders once more whenever a pipeline it waited for is ready (`finished` counts
/// them), since the frame that queued it drew without it.
#[derive(Resource, Clone, Default)]
pub struct PipelinesPending(pub std::sync::Arc<PipelineState>);

#[derive(Default)]
pub struct PipelineState {
    pub(super) waiting: std::sync::atomic::AtomicBool,
    pub(super) finished: std::sync::atomic::AtomicU64,
    /// The [`NewMeshes`] generation the render world last checked, and whether every mesh
    /// in it had a compiled pipeline then (it was drawn in that render).
    pub(super) checked: std::sync::atomic::AtomicU64,
    pub(super) drawable: std::sync::atomic::AtomicBool,
}

impl PipelinesPending {
    pub fn get(&self) -> bool {
        self.0.waiting.load(std::sync::atomic::Ordering::Relaxed)
    }

    pub(super) fn finished(&self) -> u64 {
        self.0.finished.load(std::sync::atomic::Ordering::Relaxed)
    }
}

/// Runs in the render world's cleanup, after the pipeline queue was processed in this frame:
/// a pipeline queued and compiled between two unordered runs of this system would otherwise
/// never be seen waiting, and the frame that queued it (drawn without it) never redrawn.
pub(super) fn note_pending_pipelines(
    cache: Res<bevy::render::render_resource::PipelineCache>,
    flag: Res<PipelinesPending>,
    mut waiting_before: Local<Vec<usize>>,
) {
    let waiting: Vec<_> = cache.waiting_pipelines().collect();
    let done = waiting_before
        .iter()
        .filter(|id| !waiting.contains(id))
        .count();
    if done > 0 {
        flag.0
            .finished
            .fetch_add(done as u64, std::sync::atomic::Ordering::Relaxed);
    }
    flag.0
        .waiting
        .store(!waiting.is_empty(), std::sync::atomic::Ordering::Relaxed);
    *waiting_before = waiting;
}

/// Structure meshes spawned and not yet seen drawn. The frame that spawns a mesh may draw
/// without it (the render world can specialise its pipeline only once the mesh asset is
/// prepared, and an entity it skipped is not looked at again), and no later frame was asked
/// for: the surface stayed missing until the next camera move. The render world reports
/// whether every mesh of a generation had a compiled pipeline in the render that carried it
/// ([`check_new_meshes`]); until it does, the 3D view renders again (a few times at most).
#[derive(Resource, Default, Clone)]
pub struct NewMeshes {
    pub generation: u64,
    pub entities: Vec<Entity>,
    /// Renders asked for again because the report said not yet.
    pub(super) retries: u32,
}

/// Most extra renders for one generation (a mesh outside the view is never specialised).
pub(super) const NEW_MESH_RETRIES: u32 = 6;

pub(super) fn extract_new_meshes(
    mut commands: Commands,
    new: bevy::render::Extract<Option<Res<NewMeshes>>>,
) {
    if let Some(n) = new.as_ref() {
        commands.insert_resource(n.as_ref().clone());
    }
}

/// Runs in the render world's cleanup: whether each new mesh got a compiled pipeline in this
/// render (it was then drawn).
pub(super) fn check_new_meshes(
    new: Option<Res<NewMeshes>>,
    cache: Option<Res<bevy::pbr::SpecializedMaterialPipelineCache>>,
    pipelines: Res<bevy::render::render_resource::PipelineCache>,
    flag: Res<PipelinesPending>,
) {
    use std::sync::atomic::Ordering::Relaxed;
    let (Some(new), Some(cache)) = (new, cache) else {
        return;
    };
    if new.generation <= flag.0.checked.load(Relaxed) {
        return;
    }
    let drawable = new.entities.iter().all(|&e| {
        let main = bevy::render::sync_world::MainEntity::from(e);
        cache.values().any(|view| {
            view.get(&main)
                .is_some_and(|&id| pipelines.get_render_pipeline(id).is_some())
        })
    });
    flag.0.drawable.store(drawable, Relaxed);
    flag.0.checked.store(new.generation, Relaxed);
}
