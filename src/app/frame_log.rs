//! The responsiveness figures (`--frame-log`): every frame's interval and main-thread time
//! split by schedule (with the main thread's CPU time in it), when the study became
//! interactive and when each surface reached the scene and was first drawn; written as CSV
//! at exit. Measures only; changes nothing it measures (but opens the second study of a
//! `--then-open` run once the first is ready).

use std::io::Write;
use std::time::{Duration, Instant};

use bevy::ecs::system::SystemParam;
use bevy::prelude::*;

use super::scene::SceneRedraw;
use super::state::{Jobs, UiAction, Workspace};
use super::{Options, ViewerOptions, since_launch};

/// Registers the frame log and the schedules that time each part of a frame.
pub struct FrameLogPlugin;

impl Plugin for FrameLogPlugin {
    fn build(&self, app: &mut App) {
        app.init_resource::<FrameLog>()
            .add_systems(First, frame_start)
            .add_systems(AfterPreUpdate, |mut log: ResMut<FrameLog>| {
                log.marks[0] = Some(Instant::now())
            })
            .add_systems(AfterUpdate, |mut log: ResMut<FrameLog>| {
                log.marks[1] = Some(Instant::now())
            })
            .add_systems(AfterPostUpdate, |mut log: ResMut<FrameLog>| {
                log.marks[2] = Some(Instant::now())
            })
            .add_systems(Last, frame_end)
            .add_systems(Update, frame_log);
        let mut order = app
            .world_mut()
            .resource_mut::<bevy::app::MainScheduleOrder>();
        order.insert_after(PreUpdate, AfterPreUpdate);
        order.insert_after(Update, AfterUpdate);
        order.insert_after(PostUpdate, AfterPostUpdate);
    }
}

/// What the frame log reads each frame.
#[derive(SystemParam)]
struct Seen<'w> {
    time: Res<'w, Time>,
    ws: Res<'w, Workspace>,
    jobs: Res<'w, Jobs>,
    redraw: Res<'w, SceneRedraw>,
    options: Res<'w, Options>,
    volume: Option<Res<'w, super::volume::VolumeState>>,
}

/// Frame times and milestones: (time since launch, frame interval, main-thread work of the
/// previous frame, background busy, whether the previous frame rendered the 3D view, and
/// that work split by schedule with the main thread's CPU time in it).
#[derive(Resource, Default)]
pub(super) struct FrameLog {
    frames: Vec<(f64, f64, f64, bool, bool, FrameSplit)>,
    update_started: Option<Instant>,
    /// The main thread's CPU clock when the frame started.
    cpu_started: Option<Duration>,
    /// Ends of PreUpdate, Update and PostUpdate in this frame.
    marks: [Option<Instant>; 3],
    last_update_ms: f64,
    last_split: FrameSplit,
    first_interactive_s: Option<f64>,
    pub(super) second_opened: bool,
    /// The revision of each structure's surface last seen in the scene.
    seen: std::collections::HashMap<u64, u64>,
    /// When each surface (preview or full) first reached the scene: (s, structure, kind,
    /// triangles).
    surfaces: Vec<(f64, String, &'static str, usize)>,
    /// When each of those was first drawn (the 3D view rendered after it arrived, with no
    /// pipeline still compiling), and the render count at its arrival.
    drawn: Vec<(Option<f64>, u64)>,
    /// When the volume rendering's texture was handed to the renderer (s, render count then)
    /// and when the 3D view was first drawn with it.
    volume_in_scene: Option<(f64, u64)>,
    volume_drawn: Option<f64>,
    /// When the full-resolution volume replaced the preview (progressive upload), and when
    /// it was first drawn.
    volume_full: Option<(f64, u64)>,
    volume_full_drawn: Option<f64>,
}

/// Where a frame's main-thread time went (ms): First and PreUpdate (input, egui's input),
/// Update (our systems), PostUpdate (egui panels and layout, transforms, visibility), Last;
/// and the main thread's CPU time over the frame — much less than the sum means it waited
/// (a lock, or no core free), not that it computed.
#[derive(Clone, Copy, Default, Debug)]
pub(super) struct FrameSplit {
    pre_update_ms: f64,
    update_ms: f64,
    post_update_ms: f64,
    last_ms: f64,
    cpu_ms: f64,
}

/// Schedules run after PreUpdate, Update and PostUpdate only to time them.
#[derive(bevy::ecs::schedule::ScheduleLabel, Debug, Clone, PartialEq, Eq, Hash)]
struct AfterPreUpdate;

#[derive(bevy::ecs::schedule::ScheduleLabel, Debug, Clone, PartialEq, Eq, Hash)]
struct AfterUpdate;

#[derive(bevy::ecs::schedule::ScheduleLabel, Debug, Clone, PartialEq, Eq, Hash)]
struct AfterPostUpdate;

/// CPU time the calling thread has used (Unix; zero elsewhere, where the frame log then
/// shows no CPU split).
#[cfg(not(unix))]
fn thread_cpu_time() -> Duration {
    Duration::ZERO
}

fn frame_log(
    seen: Seen,
    mut log: ResMut<FrameLog>,
    mut actions: MessageWriter<UiAction>,
    mut exits: MessageReader<AppExit>,
) {
    let Seen {
        time,
        ws,
        jobs,
        redraw,
        options,
        volume,
    } = seen;
    let t = since_launch().as_secs_f64();
    let busy = !jobs.running.is_empty();
    let work = log.last_update_ms;
    let split = log.last_split;
    log.frames.push((
        t,
        time.delta_secs_f64() * 1000.0,
        work,
        busy,
        redraw.active(),
        split,
    ));
    for s in &ws.structures {
        if let Some(b) = &s.built
            && log.seen.get(&s.id) != Some(&s.revision)
        {
            log.seen.insert(s.id, s.revision);
            let kind = if s.preview { "preview" } else { "full" };
            log.surfaces
                .push((t, s.recipe.name.clone(), kind, b.triangles));
            log.drawn.push((None, redraw.rendered));
        }
    }
    for (drawn, at) in log.drawn.iter_mut() {
        if drawn.is_none() && redraw.rendered > *at {
            *drawn = Some(t);
        }
    }
    if log.volume_in_scene.is_none() && volume.as_ref().is_some_and(|v| v.uploaded.is_some()) {
        log.volume_in_scene = Some((t, redraw.rendered));
    }
    if let Some((_, at)) = log.volume_in_scene
        && log.volume_drawn.is_none()
        && redraw.rendered > at
    {
        log.volume_drawn = Some(t);
    }
    if log.volume_full.is_none()
        && volume
            .as_ref()
            .and_then(|v| v.uploaded.as_ref())
            .is_some_and(|u| u.full)
    {
        log.volume_full = Some((t, redraw.rendered));
    }
    if let Some((_, at)) = log.volume_full
        && log.volume_full_drawn.is_none()
        && redraw.rendered > at
    {
        log.volume_full_drawn = Some(t);
    }
    if log.first_interactive_s.is_none() && ws.loaded.is_some() {
        log.first_interactive_s = Some(t);
        tracing::info!("first interactive frame {t:.3} s after launch");
    }
    if let Some(second) = &options.0.then_open
        && !log.second_opened
        && ws.loaded.is_some()
        && jobs.is_idle()
    {
        log.second_opened = true;
        actions.write(UiAction::Open(second.clone()));
    }
    if exits.read().next().is_some() {
        write_frame_log(&log, &options.0);
    }
}

fn frame_start(mut log: ResMut<FrameLog>) {
    log.update_started = Some(Instant::now());
    log.cpu_started = Some(thread_cpu_time());
    log.marks = [None; 3];
}

/// Main-thread work of this frame (all schedules, not the render thread's or the wait for
/// it), split by schedule. A frame over 100 ms is named in the debug log with its split.
fn frame_end(mut log: ResMut<FrameLog>) {
    let (Some(start), Some(cpu)) = (log.update_started.take(), log.cpu_started.take()) else {
        return;
    };
    let end = Instant::now();
    let ms = |a: Instant, b: Instant| b.saturating_duration_since(a).as_secs_f64() * 1000.0;
    let [m0, m1, m2] = log.marks.map(|m| m.unwrap_or(start));
    log.last_update_ms = ms(start, end);
    log.last_split = FrameSplit {
        pre_update_ms: ms(start, m0),
        update_ms: ms(m0, m1),
        post_update_ms: ms(m1, m2),
        last_ms: ms(m2, end),
        cpu_ms: thread_cpu_time().saturating_sub(cpu).as_secs_f64() * 1000.0,
    };
    if log.last_update_ms > 100.0 {
        tracing::debug!(
            "slow frame: {:.0} ms on the main thread ({:?})",
            log.last_update_ms,
            log.last_split
        );
    }
}

pub(super) fn write_frame_log(log: &FrameLog, options: &ViewerOptions) {
    let Some(path) = &options.frame_log else {
        return;
    };
    let mut text = String::from(
        "t_s,frame_ms,main_thread_ms,background_busy,rendered_3d,\
         pre_update_ms,update_ms,post_update_ms,last_ms,main_cpu_ms\n",
    );
    for (t, ms, work, busy, rendered, split) in &log.frames {
        text.push_str(&format!(
            "{t:.4},{ms:.3},{work:.3},{},{},{:.3},{:.3},{:.3},{:.3},{:.3}\n",
            u8::from(*busy),
            u8::from(*rendered),
            split.pre_update_ms,
            split.update_ms,
            split.post_update_ms,
            split.last_ms,
            split.cpu_ms
        ));
    }
    if let Some(f) = log.first_interactive_s {
        text.push_str(&format!("# first_interactive_s,{f:.4}\n"));
    }
    if let Some((t, _)) = log.volume_in_scene {
        text.push_str(&format!("# volume_in_scene_s,{t:.4}\n"));
    }
    if let Some(t) = log.volume_drawn {
        text.push_str(&format!("# volume_drawn_s,{t:.4}\n"));
    }
    if let Some(t) = log.volume_full_drawn {
        text.push_str(&format!("# volume_full_resolution_drawn_s,{t:.4}\n"));
    }
    // Surfaces reach the scene in the frame that starts at this time and are drawn in it.
    for ((t, name, kind, triangles), (drawn, _)) in log.surfaces.iter().zip(&log.drawn) {
        text.push_str(&format!(
            "# surface_in_scene_s,{t:.4},{name},{kind},{triangles}\n"
        ));
        if let Some(d) = drawn {
            text.push_str(&format!(
                "# surface_drawn_s,{d:.4},{name},{kind},{triangles}\n"
            ));
        }
    }
    match std::fs::File::create(path).and_then(|mut f| f.write_all(text.as_bytes())) {
        Ok(()) => tracing::info!("frame log written ({} frames)", log.frames.len()),
        Err(e) => tracing::error!("frame log not written: {}", e.kind()),
    }
}

/// CPU time the calling thread has used.
#[cfg(unix)]
fn thread_cpu_time() -> Duration {
    let mut ts = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: clock_gettime only writes the timespec it is given.
    let rc = unsafe { libc::clock_gettime(libc::CLOCK_THREAD_CPUTIME_ID, &mut ts) };
    if rc != 0 {
        return Duration::ZERO;
    }
    Duration::new(
        ts.tv_sec.max(0) as u64,
        ts.tv_nsec.clamp(0, 999_999_999) as u32,
    )
}
