//! Structures: named surfaces of the open volume (bone, vessels, skin, …) with their recipe,
//! colour, opacity and figures. A [`Recipe`] is serialisable (it will live in the plan
//! file); [`build`] runs it through `surface` (segment → marching cubes → smooth →
//! decimate) and is what the viewer runs in a background task. No UI here.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use crate::mesh::TriMesh;
use crate::plan::recipe::{Recipe, Source};
use crate::progress::Progress;
use crate::segment::Preset;
use crate::surface::{SurfaceError, SurfaceOptions, surface};
use crate::volume::Volume;

/// The default structures of a series: bone and skin for CT, plus vessels grown from the
/// study's aortic-root landmark when it has one (the bundled sample); in a CT angiogram
/// (`contrast_peak_hu`) bone starts 300 HU above the blood peak, so enhanced vessels are not
/// taken for bone; no skin where the field of view cuts the body ([`field_cuts_the_body`]).
/// The head or body outline at an automatic threshold for MR and for volumes of unknown modality. Other
/// modalities (ultrasound, nuclear medicine, ...) get none.
pub fn default_recipes(
    volume: &Volume,
    modality: &str,
    contrast_peak_hu: Option<f64>,
    landmarks: &[(String, [f64; 3])],
) -> Vec<Recipe> {
    if !crate::session::modality::is_ct(modality) {
        let m = modality.trim().to_ascii_uppercase();
        let outline = (m.is_empty() || m == "MR") && volume.geometry.dims.iter().all(|&n| n > 1);
        return if outline {
            vec![Recipe::outline()]
        } else {
            Vec::new()
        };
    }
    let mut bone = Recipe::preset(Preset::Bone);
    if let (Some(peak), Source::Preset { min_hu, .. }) = (contrast_peak_hu, &mut bone.source) {
        *min_hu = Some((peak + 300.0).max(Preset::Bone.range().lo));
    }
    let mut out = vec![bone];
    if let Some((_, p)) = landmarks.iter().find(|(n, _)| n == "aortic_root") {
        out.push(Recipe::preset(Preset::Vessels).with_seeds(vec![*p]));
    }
    if !field_cuts_the_body(volume) {
        out.push(Recipe::preset(Preset::Skin));
    }
    out
}

/// Whether the field of view cuts through the body (a CT angiogram cropped to the chest):
/// more than a quarter of a side face of the volume (across the rows or the columns) is
/// body. The skin is then no outline of the patient but a box along the crop, with the
/// lungs' vessels showing through where the lungs reach it: it is not made by default.
pub fn field_cuts_the_body(volume: &Volume) -> bool {
    let body_from = Preset::Skin.range().lo;
    let scale = volume.value_scale;
    let v = &volume.voxels;
    let (nk, nj, ni) = v.dim();
    if ni < 2 || nj < 2 || nk < 1 {
        return false;
    }
    let fraction = |face: ndarray::ArrayView2<i16>| {
        let n = face.len().max(1);
        face.iter().filter(|&&x| scale.real(x) > body_from).count() as f64 / n as f64
    };
    use ndarray::s;
    let faces = [
        v.slice(s![.., .., 0]),
        v.slice(s![.., .., ni - 1]),
        v.slice(s![.., 0, ..]),
        v.slice(s![.., nj - 1, ..]),
    ];
    faces.into_iter().map(fraction).fold(0.0, f64::max) > 0.25
}

/// A built surface and its figures.
#[derive(Debug, Clone)]
pub struct Built {
    pub mesh: Arc<TriMesh>,
    pub triangles: usize,
    pub volume_ml: f64,
    pub closed: bool,
    pub seconds: f64,
}

#[derive(Debug, thiserror::Error)]
pub enum BuildError {
    #[error("unknown preset {0:?}")]
    UnknownPreset(String),
    #[error(transparent)]
    Surface(#[from] SurfaceError),
    #[error("nothing in the volume matches this structure's range")]
    Empty,
}

/// Volumes above this many voxels get a coarse preview first in [`build_progressively`].
pub const PREVIEW_MIN_VOXELS: usize = 16_000_000;

/// A coarse preview is made from at most about this many voxels.
pub const PREVIEW_MAX_VOXELS: usize = 10_000_000;

/// The subsampling step of a volume's coarse preview: every second voxel, or every third
/// when that still leaves more than [`PREVIEW_MAX_VOXELS`] (a 512×512×400 CT: its
/// half-resolution skin is 450,000 triangles, which a software rasteriser takes over a
/// second to upload and draw).
pub fn preview_step(voxels: usize) -> usize {
    (2..8)
        .find(|s| voxels / (s * s * s) <= PREVIEW_MAX_VOXELS)
        .unwrap_or(8)
}

/// Previews first: structures started together (the defaults of a newly opened series)
/// build their full-resolution surfaces only once every one of them has shown its coarse
/// preview, so the user sees all the anatomy early instead of one structure finished and
/// another not begun. Each build holds a [`PreviewTicket`] taken when it is started.
#[derive(Debug, Clone, Default)]
pub struct PreviewsFirst(Arc<AtomicUsize>);

impl PreviewsFirst {
    pub fn new() -> PreviewsFirst {
        PreviewsFirst::default()
    }

    /// A place in the batch, taken when a build is started (before any of the batch runs).
    pub fn ticket(&self) -> PreviewTicket {
        self.0.fetch_add(1, Ordering::SeqCst);
        PreviewTicket {
            batch: self.clone(),
            pending: true,
        }
    }

    /// Previews of the batch not yet done.
    pub fn pending(&self) -> usize {
        self.0.load(Ordering::SeqCst)
    }
}

/// One build's place in a [`PreviewsFirst`] batch; its preview counts as done when it is
/// marked so or dropped (a failed or cancelled build never holds the others back).
#[derive(Debug)]
pub struct PreviewTicket {
    batch: PreviewsFirst,
    pending: bool,
}

impl PreviewTicket {
    fn done(&mut self) {
        if std::mem::take(&mut self.pending) {
            self.batch.0.fetch_sub(1, Ordering::SeqCst);
        }
    }

    /// Marks this preview done and waits for the rest of the batch (looking at the cancel
    /// flag every 10 ms).
    fn wait_for_the_batch(&mut self, progress: &Progress) -> Result<(), BuildError> {
        self.done();
        while self.batch.pending() > 0 {
            if progress.is_cancelled() {
                return Err(BuildError::Surface(SurfaceError::Cancelled));
            }
            std::thread::sleep(std::time::Duration::from_millis(10));
        }
        Ok(())
    }
}

impl Drop for PreviewTicket {
    fn drop(&mut self) {
        self.done();
    }
}

/// Volume first: the surfaces of a newly opened study wait until its volume rendering's
/// preview is on screen (or [`VolumeFirst::MOST`] has passed), so the two cores prepare the
/// picture the user sees first rather than share themselves with the surfaces' builds.
/// Shared by the builds (which wait) and the volume rendering (which releases it).
#[derive(Debug, Clone)]
pub struct VolumeFirst(Arc<AtomicBool>);

impl Default for VolumeFirst {
    /// Released: nothing waits.
    fn default() -> Self {
        VolumeFirst(Arc::new(AtomicBool::new(true)))
    }
}

impl VolumeFirst {
    /// The longest a build waits, whatever becomes of the volume.
    pub const MOST: Duration = Duration::from_secs(3);

    /// Held until [`release`](Self::release)d.
    pub fn held() -> VolumeFirst {
        VolumeFirst(Arc::new(AtomicBool::new(false)))
    }

    pub fn release(&self) {
        self.0.store(true, Ordering::SeqCst);
    }

    pub fn released(&self) -> bool {
        self.0.load(Ordering::SeqCst)
    }

    /// Waits (looking every 10 ms) until released, cancelled or `MOST` has passed.
    pub fn wait(&self, progress: &Progress) {
        let start = Instant::now();
        while !self.released() && !progress.is_cancelled() && start.elapsed() < Self::MOST {
            std::thread::sleep(Duration::from_millis(10));
        }
    }
}

/// Like [`build`], but on a large volume first builds the structure from every second
/// voxel (an eighth of the work; every third on the largest, [`preview_step`]) and hands that coarse surface to `preview`, so the user
/// sees the anatomy while the full surface is made. The preview is skipped (not an error)
/// when it fails or comes out empty.
pub fn build_progressively(
    volume: &Volume,
    recipe: &Recipe,
    progress: &Progress,
    preview: &(dyn Fn(Built) + Sync),
) -> Result<Built, BuildError> {
    build_previews_first(
        volume,
        recipe,
        progress,
        preview,
        PreviewsFirst::new().ticket(),
    )
}

/// [`build_progressively`] as one of a batch: the full surface is begun only once every
/// build of the ticket's batch has handed over its preview (or ended). Each stage runs in
/// the background pool (`work::run`); the wait between them does not, so call this from a
/// thread of its own (a job's), not from inside the pool: a build waiting on a pool thread
/// could hold up another build's stage running nested on that thread — a deadlock.
pub fn build_previews_first(
    volume: &Volume,
    recipe: &Recipe,
    progress: &Progress,
    preview: &(dyn Fn(Built) + Sync),
    mut ticket: PreviewTicket,
) -> Result<Built, BuildError> {
    crate::work::run(|| {
        if volume.geometry.voxel_count() < PREVIEW_MIN_VOXELS || progress.is_cancelled() {
            return Ok(());
        }
        {
            let coarse = volume.subsampled(preview_step(volume.geometry.voxel_count()));
            if progress.is_cancelled() {
                return Err(BuildError::Surface(SurfaceError::Cancelled));
            }
            let mut quick = recipe.clone();
            // The coarse mesh is already small: no decimation, light smoothing.
            quick.max_triangles = Some(usize::MAX);
            if let Some(mut options) = quick.options() {
                options.smooth_iterations = options.smooth_iterations.min(4);
                options.target_triangles = None;
                match build_with(&coarse, &options, progress) {
                    Ok(built) => {
                        tracing::info!(
                            "{}: preview built, {} triangles, {:.2} s",
                            recipe.name,
                            built.triangles,
                            built.seconds
                        );
                        preview(built);
                    }
                    Err(e) => tracing::info!("{}: no preview ({e})", recipe.name),
                }
            }
        }
        Ok(())
    })?;
    ticket.wait_for_the_batch(progress)?;
    crate::work::run(|| build(volume, recipe, progress))
}

/// Segments and surfaces one structure (cancellable through `progress`).
pub fn build(volume: &Volume, recipe: &Recipe, progress: &Progress) -> Result<Built, BuildError> {
    let t = std::time::Instant::now();
    let options = recipe.options().ok_or_else(|| match &recipe.source {
        Source::Preset { preset, .. } => BuildError::UnknownPreset(preset.clone()),
        Source::Range { .. } | Source::Outline => BuildError::Empty,
    })?;
    build_with(volume, &options, progress).map(|b| Built {
        seconds: t.elapsed().as_secs_f64(),
        ..b
    })
}

fn build_with(
    volume: &Volume,
    options: &SurfaceOptions,
    progress: &Progress,
) -> Result<Built, BuildError> {
    let t = std::time::Instant::now();
    let (mesh, times) = surface(volume, options, progress)?;
    tracing::info!(
        "surface of {}x{}x{} voxels: segment {:.2} s, surface {:.2} s, smooth {:.2} s, decimate {:.2} s",
        volume.geometry.dims[0],
        volume.geometry.dims[1],
        volume.geometry.dims[2],
        times.segment_s,
        times.surface_s,
        times.smooth_s,
        times.decimate_s
    );
    if mesh.indices.is_empty() {
        return Err(BuildError::Empty);
    }
    let stats = mesh.stats();
    let closed = mesh.check().is_watertight();
    Ok(Built {
        triangles: stats.triangles,
        volume_ml: stats.volume_ml,
        closed,
        mesh: Arc::new(mesh),
        seconds: t.elapsed().as_secs_f64(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::phantom::{PhantomOptions, generate};

    #[test]
    fn previews_stay_small_on_large_volumes() {
        // A chest CT keeps every second voxel; a 512x512x400 volume every third.
        assert_eq!(preview_step(512 * 512 * 275), 2);
        assert_eq!(preview_step(512 * 512 * 400), 3);
        assert_eq!(preview_step(1024 * 1024 * 1000), 5);
        for v in [16_000_000, 80_000_000, 200_000_000, 2_000_000_000] {
            let s = preview_step(v);
            assert!(v / (s * s * s) <= PREVIEW_MAX_VOXELS || s == 8, "{v}: {s}");
        }
    }

    #[test]
    fn full_builds_wait_until_every_preview_of_the_batch_is_done() {
        let batch = PreviewsFirst::new();
        let mut a = batch.ticket();
        let b = batch.ticket();
        let c = batch.ticket();
        assert_eq!(batch.pending(), 3);
        // A failed or cancelled build (its ticket dropped) holds nobody back.
        drop(c);
        assert_eq!(batch.pending(), 2);
        // A waits while B has not shown its preview; cancelling A ends its wait.
        let p = Progress::new();
        let waiter = {
            let p = p.clone();
            #[allow(clippy::disallowed_methods)] // a test watching a build from outside
            std::thread::spawn(move || {
                let r = a.wait_for_the_batch(&p);
                (r.is_ok(), a)
            })
        };
        std::thread::sleep(std::time::Duration::from_millis(50));
        assert!(!waiter.is_finished(), "A began before B's preview");
        p.cancel();
        let (ok, a) = waiter.join().expect("thread");
        assert!(!ok, "a cancelled wait is an error");
        // Once B's preview is done the batch is free: a fresh wait returns at once.
        drop(b);
        assert_eq!(batch.pending(), 0);
        let mut a = a;
        assert!(a.wait_for_the_batch(&Progress::new()).is_ok());
    }

    #[test]
    fn recipes_round_trip_and_build_on_the_phantom() {
        let ph = generate(
            &PhantomOptions::default().with_size([100, 100, 100]),
            &Progress::new(),
        )
        .expect("phantom");
        let landmarks: Vec<(String, [f64; 3])> = ph
            .truth
            .landmarks
            .iter()
            .map(|l| (l.name.clone(), l.position_mm))
            .collect();
        let recipes = default_recipes(&ph.volume, "CT", None, &landmarks);
        let names: Vec<&str> = recipes.iter().map(|r| r.name.as_str()).collect();
        assert_eq!(names, ["bone", "vessels", "skin"]);
        let json = serde_json::to_string(&recipes).expect("serialise");
        let back: Vec<Recipe> = serde_json::from_str(&json).expect("parse");
        assert_eq!(back, recipes);
        for r in &recipes {
            let built = build(&ph.volume, r, &Progress::new()).expect("builds");
            assert!(
                built.triangles > 100 && built.triangles <= crate::plan::recipe::TRIANGLE_BUDGET
            );
            let mut small = r.clone();
            small.max_triangles = Some(2_000);
            if r.name == "bone" {
                let b = build(&ph.volume, &small, &Progress::new()).expect("builds");
                assert!(b.triangles <= 2_000 && b.closed);
            }
            assert!(built.volume_ml > 1.0, "{}: {} mL", r.name, built.volume_ml);
            assert!(built.closed, "{} not closed", r.name);
        }
        // A range that matches nothing is an error, not an empty structure.
        let none = Recipe::range("nothing", 5000.0, 6000.0);
        assert!(matches!(
            build(&ph.volume, &none, &Progress::new()),
            Err(BuildError::Empty)
        ));
        let cancelled = Progress::new();
        cancelled.cancel();
        assert!(build(&ph.volume, &recipes[0], &cancelled).is_err());
    }

    #[test]
    fn surfaces_wait_for_the_volume_until_released_cancelled_or_too_long() {
        let released = VolumeFirst::default();
        let t = std::time::Instant::now();
        released.wait(&Progress::new());
        assert!(t.elapsed() < Duration::from_millis(50));

        let held = VolumeFirst::held();
        let other = held.clone();
        #[allow(clippy::disallowed_methods)] // a build waiting, watched from outside
        let waiter = std::thread::spawn(move || {
            let t = std::time::Instant::now();
            other.wait(&Progress::new());
            t.elapsed()
        });
        std::thread::sleep(Duration::from_millis(100));
        held.release();
        let waited = waiter.join().expect("joins");
        assert!(waited >= Duration::from_millis(90) && waited < Duration::from_secs(1));

        let cancelled = Progress::new();
        cancelled.cancel();
        let t = std::time::Instant::now();
        VolumeFirst::held().wait(&cancelled);
        assert!(t.elapsed() < Duration::from_millis(50));
    }
}
