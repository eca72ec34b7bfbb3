//! Progress and cancellation shared between a long computation and whoever watches it.
//!
//! Every long core function takes a `&Progress`: it reports work done and checks
//! [`Progress::is_cancelled`] between units of work. The CLI polls it for a progress bar;
//! the viewer will poll it from a frame system. Lock-free, no I/O, no UI.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};

#[derive(Debug, Default)]
struct Inner {
    done: AtomicU64,
    total: AtomicU64,
    cancelled: AtomicBool,
}

/// A cloneable handle; clones share the same counters.
#[derive(Debug, Clone, Default)]
pub struct Progress(Arc<Inner>);

impl Progress {
    pub fn new() -> Progress {
        Progress::default()
    }

    /// Sets the amount of work and restarts the count.
    pub fn set_total(&self, total: u64) {
        self.0.total.store(total, Ordering::Relaxed);
        self.0.done.store(0, Ordering::Relaxed);
    }

    pub fn inc(&self, n: u64) {
        self.0.done.fetch_add(n, Ordering::Relaxed);
    }

    /// `(done, total)`.
    pub fn get(&self) -> (u64, u64) {
        (
            self.0.done.load(Ordering::Relaxed),
            self.0.total.load(Ordering::Relaxed),
        )
    }

    pub fn cancel(&self) {
        self.0.cancelled.store(true, Ordering::Relaxed);
    }

    pub fn is_cancelled(&self) -> bool {
        self.0.cancelled.load(Ordering::Relaxed)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn clones_share_state() {
        let p = Progress::new();
        let q = p.clone();
        p.set_total(10);
        q.inc(3);
        assert_eq!(p.get(), (3, 10));
        assert!(!p.is_cancelled());
        q.cancel();
        assert!(p.is_cancelled());
    }
}
