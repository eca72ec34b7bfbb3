//! The pool that long background computations (loading, segmentation, surfaces) run in.
//!
//! A rayon pool of its own, apart from rayon's global pool, whose threads run at the lowest
//! operating-system priority (nice 19 on Linux). The window's main thread uses no pool at
//! all: its reslices, slice outlines and clipping run on it alone (the `_here` functions),
//! since even an idle pool's threads may wait tens of milliseconds for a core on a busy
//! 2-core machine while the main thread waits for them; and the scheduler
//! gives the UI and render threads the CPU first whenever they want it, while background
//! work still uses every core when they do not. No UI, no I/O.

// The one place that starts threads of its own (see clippy.toml's disallowed-methods).
#![allow(clippy::disallowed_methods)]

use std::sync::OnceLock;

/// The background pool (created on first use; all cores, lower priority).
pub fn pool() -> &'static rayon::ThreadPool {
    static POOL: OnceLock<rayon::ThreadPool> = OnceLock::new();
    POOL.get_or_init(|| {
        let threads = std::thread::available_parallelism().map_or(2, |n| n.get());
        rayon::ThreadPoolBuilder::new()
            .num_threads(threads)
            .thread_name(|i| format!("twinplan-work-{i}"))
            .start_handler(|_| lower_priority())
            .build()
            .or_else(|_| rayon::ThreadPoolBuilder::new().num_threads(1).build())
            .unwrap_or_else(|e| {
                // Without threads nothing at all can run; this is not an input error.
                panic!("cannot start the background worker threads: {e}")
            })
    })
}

/// Runs `work` in the background pool (its parallel loops stay in that pool) and returns
/// its result; the calling thread waits, so call this from a background task, not the UI.
pub fn run<R: Send>(work: impl FnOnce() -> R + Send) -> R {
    pool().install(work)
}

/// The nice value background threads run at: the lowest priority there is, so that on a
/// 2-core machine the window's main and render threads are never kept waiting by surfacing
/// (background work still gets every cycle they do not want).
pub const BACKGROUND_NICE: i32 = 19;

/// Lowers the calling thread's scheduling priority (Linux: per-thread nice
/// [`BACKGROUND_NICE`], or the process's own if that is lower still); a no-op where that is
/// not possible. The same whichever thread calls it, however often.
///
/// (The `SCHED_IDLE` policy was tried as well, 2026-12-01: the window's stalls were no
/// better, and on 2 cores the surfaces came 1.5–2× later, some previews after 5 s.)
pub fn lower_priority() {
    #[cfg(target_os = "linux")]
    {
        let nice = BACKGROUND_NICE.max(process_nice());
        // SAFETY: gettid and setpriority take plain integers and touch no memory of ours.
        unsafe {
            let tid = libc::syscall(libc::SYS_gettid) as libc::id_t;
            libc::setpriority(libc::PRIO_PROCESS, tid, nice);
        }
    }
}

/// The nice value the software rasteriser's threads get (see [`lower_threads_named`]).
pub const RASTERISER_NICE: i32 = 5;

/// Lowers to `nice` the priority of this process's threads whose name starts with
/// `prefix` (Linux; a no-op elsewhere), returning how many it found. Used for the
/// software rasteriser's worker threads (Mesa's `llvmpipe-N`), which Bevy's renderer starts:
/// at the same priority as the window's threads they draw the 3D view while a UI system
/// stands runnable (`perf sched`: 268 ms on 2 cores); a little lower, input and panels come
/// first and the view is drawn in the time left (which on 2 cores is most of it).
pub fn lower_threads_named(prefix: &str, nice: i32) -> usize {
    #[cfg(target_os = "linux")]
    {
        let Ok(tasks) = std::fs::read_dir("/proc/self/task") else {
            return 0;
        };
        let mut n = 0;
        for t in tasks.flatten() {
            let Ok(tid) = t.file_name().to_string_lossy().parse::<libc::id_t>() else {
                continue;
            };
            let named = std::fs::read_to_string(t.path().join("comm"))
                .is_ok_and(|c| c.trim_end().starts_with(prefix));
            if named {
                // SAFETY: setpriority takes plain integers.
                unsafe {
                    libc::setpriority(libc::PRIO_PROCESS, tid, nice);
                }
                n += 1;
            }
        }
        n
    }
    #[cfg(not(target_os = "linux"))]
    {
        let _ = (prefix, nice);
        0
    }
}

/// The nice value of the process's main thread (whose thread id is the process id).
#[cfg(target_os = "linux")]
fn process_nice() -> i32 {
    // SAFETY: getpid and getpriority take plain integers and touch no memory of ours.
    unsafe {
        *libc::__errno_location() = 0;
        libc::getpriority(libc::PRIO_PROCESS, libc::getpid() as libc::id_t)
    }
}

/// The calling thread's nice value (Linux; 0 elsewhere), for tests and diagnostics.
pub fn current_nice() -> i32 {
    #[cfg(target_os = "linux")]
    // SAFETY: as above.
    unsafe {
        let tid = libc::syscall(libc::SYS_gettid) as libc::id_t;
        *libc::__errno_location() = 0;
        libc::getpriority(libc::PRIO_PROCESS, tid)
    }
    #[cfg(not(target_os = "linux"))]
    0
}

#[cfg(test)]
mod tests {
    use super::*;
    use rayon::prelude::*;

    #[test]
    fn threads_are_found_and_lowered_by_name() {
        let (tx, rx) = std::sync::mpsc::channel();
        let (stop_tx, stop_rx) = std::sync::mpsc::channel::<()>();
        let (started_tx, started_rx) = std::sync::mpsc::channel();
        let t = std::thread::Builder::new()
            .name("twinplan-lowerme".into())
            .spawn(move || {
                // Named by now (the thread names itself as it starts).
                let _ = started_tx.send(());
                let _ = rx.recv();
                let nice = current_nice();
                let _ = stop_rx.recv();
                nice
            })
            .expect("thread");
        started_rx.recv().expect("started");
        // Thread names are cut to 15 bytes by the kernel.
        let found = lower_threads_named("twinplan-lowerm", 7);
        tx.send(()).expect("send");
        stop_tx.send(()).expect("send");
        let nice = t.join().expect("join");
        if cfg!(target_os = "linux") {
            assert_eq!(found, 1);
            assert_eq!(nice, 7.max(current_nice()));
        }
        assert_eq!(lower_threads_named("no-such-thread-", 7), 0);
    }

    #[test]
    fn background_work_runs_in_its_own_lower_priority_pool() {
        let main_nice = current_nice();
        let (nice, in_pool, threads) = run(|| {
            let nices: Vec<i32> = (0..64).into_par_iter().map(|_| current_nice()).collect();
            let names: Vec<bool> = (0..64)
                .into_par_iter()
                .map(|_| {
                    std::thread::current()
                        .name()
                        .is_some_and(|n| n.starts_with("twinplan-work-"))
                })
                .collect();
            (nices, names, rayon::current_num_threads())
        });
        assert!(in_pool.iter().all(|&b| b), "parallel loops left the pool");
        assert_eq!(
            threads,
            std::thread::available_parallelism().map_or(2, |n| n.get())
        );
        if cfg!(target_os = "linux") {
            let expected = BACKGROUND_NICE.max(main_nice);
            assert!(
                nice.iter().all(|&n| n == expected),
                "nice {nice:?}, expected {expected}"
            );
        }
        // The global pool is untouched: its threads keep the caller's priority.
        let g: Vec<i32> = (0..8).into_par_iter().map(|_| current_nice()).collect();
        assert!(g.iter().all(|&n| n == main_nice) || rayon::current_num_threads() == 1);
    }
}
