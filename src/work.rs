//! The pool that long background computations (loading, segmentation, surfaces) run in.
//!
//! A rayon pool of its own, apart from rayon's global pool, whose threads run at the lowest
//! operating-system priority (nice 19 on Linux). A window's main thread that needs a quick
//! parallel computation (a reslice, slice outlines) uses the global pool, which background
//! work never occupies, so it never waits behind a surface being built; and the scheduler
//! gives the UI and render threads the CPU first whenever they want it, while background
//! work still uses every core when they do not. No UI, no I/O.

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
