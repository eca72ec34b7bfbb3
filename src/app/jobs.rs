//! The viewer's one background mechanism: [`Jobs`]. A job runs on a thread of its own at
//! lower priority, its parallel loops in `work::pool` (apart from the pool the UI thread
//! uses); it is listed in the status bar with its progress, can be cancelled there, hands
//! partial results on the way (a structure's coarse preview), and wakes the window when it
//! has something. A cancelled or superseded job's results are dropped, never installed.
//! Loads and structures have typed results ([`JobOutput`]); any other feature starts a
//! [`Jobs::task`] and takes its result with [`Jobs::take`]. The only module of the viewer
//! that starts threads (clippy.toml's disallowed-methods). No drawing, no document.

use std::sync::mpsc::{Receiver, Sender, TryRecvError, channel};
use std::sync::{Arc, Mutex};
use std::time::Instant;

use bevy::prelude::*;

use crate::progress::Progress;
use crate::session::open::{Catalog, LoadedSeries, OpenError};
use crate::session::structures::{BuildError, Built};
use std::path::PathBuf;

/// What a job hands back: partial results on the way (a structure's coarse preview), then
/// its final result.
pub enum JobOutput {
    Opened(PathBuf, Result<(Catalog, LoadedSeries), OpenError>),
    Loaded(Result<LoadedSeries, OpenError>),
    Built(u64, Result<Built, BuildError>),
    /// A coarse surface to show until the full one is ready.
    Preview(u64, Built),
    /// A feature's own result (a pick index, a path...): kept until the feature takes it
    /// ([`Jobs::take`]; partial ones with [`Jobs::take_streamed`]).
    Other(Box<dyn std::any::Any + Send + Sync>),
    /// A job that hands everything over as partial results has ended.
    Ended,
}

/// The input side of a job that always works on the newest input ([`Jobs::latest`]):
/// inputs sent while it is busy are overtaken by later ones. Dropping it ends the job.
pub struct Latest<In> {
    pub id: u64,
    tx: Sender<In>,
}

impl<In> Latest<In> {
    /// Hands the job a new input; false when the job has ended.
    pub fn send(&self, input: In) -> bool {
        self.tx.send(input).is_ok()
    }
}

/// What a [`Jobs::latest`] job reads its inputs from.
pub struct Inputs<'a, In> {
    rx: Receiver<In>,
    progress: &'a Progress,
}

impl<In> Inputs<'_, In> {
    /// The newest input, waiting for one if none is there (the ones it overtook are
    /// dropped); None once the job is cancelled or its [`Latest`] dropped.
    pub fn newest(&self) -> Option<In> {
        loop {
            if self.progress.is_cancelled() {
                return None;
            }
            match self.rx.recv_timeout(std::time::Duration::from_millis(50)) {
                Ok(mut input) => {
                    while let Ok(newer) = self.rx.try_recv() {
                        input = newer;
                    }
                    return Some(input);
                }
                Err(std::sync::mpsc::RecvTimeoutError::Timeout) => {}
                Err(std::sync::mpsc::RecvTimeoutError::Disconnected) => return None,
            }
        }
    }
}

/// Wakes the window's event loop (a frame follows at once) when a job has something to
/// hand over, so results are installed as they arrive, not at the next idle redraw.
pub type Waker = Arc<dyn Fn() + Send + Sync>;

/// Hands partial results from a running job to the UI.
pub struct Partial(Sender<JobMessage>, Option<Waker>);

impl Partial {
    pub fn send(&self, out: JobOutput) {
        // The UI may have gone (job cancelled and forgotten): nothing to tell then.
        let _ = self.0.send(JobMessage::Partial(out));
        if let Some(wake) = &self.1 {
            wake();
        }
    }
}

enum JobMessage {
    Partial(JobOutput),
    Done(JobOutput),
}

/// A background job.
pub struct Job {
    pub id: u64,
    pub label: String,
    pub progress: Progress,
    pub started: Instant,
    /// The structure it builds, if any.
    pub structure: Option<u64>,
    /// Whether it opens or loads a series (a new one supersedes it).
    pub loads: bool,
    /// (In a mutex only so the resource is `Sync`; only `poll_jobs` reads it.)
    results: Mutex<Receiver<JobMessage>>,
}

/// The running background jobs.
#[derive(Resource, Default)]
pub struct Jobs {
    pub running: Vec<Job>,
    next_id: u64,
    /// Jobs finished since start (for tests and the status bar).
    pub finished: u64,
    /// Set by the windowed viewer; None under `MinimalPlugins`.
    pub waker: Option<Waker>,
    /// Results of finished feature tasks ([`Jobs::task`]) not yet taken, by job id.
    landed: std::collections::HashMap<u64, Box<dyn std::any::Any + Send + Sync>>,
    /// Partial results of feature jobs ([`Jobs::latest`]) not yet taken, by job id.
    streamed: std::collections::HashMap<u64, Vec<Box<dyn std::any::Any + Send + Sync>>>,
}

impl Jobs {
    /// Starts `work` on a thread of its own at lower priority; its parallel loops run in
    /// the background pool (`work::pool`), never in the pool the UI thread uses.
    pub fn spawn(
        &mut self,
        label: impl Into<String>,
        structure: Option<u64>,
        work: impl FnOnce(&Progress, &Partial) -> JobOutput + Send + 'static,
    ) -> u64 {
        self.spawn_with(label, structure, true, work)
    }

    /// Like [`Jobs::spawn`], with `pooled` false: `work` runs on the job's own thread and
    /// enters the background pool itself (`work::run`) — for work that waits for other jobs
    /// between its parallel stages, which must not wait while holding a pool thread (another
    /// job's stage could be running nested on it, and never finish).
    pub(super) fn spawn_with(
        &mut self,
        label: impl Into<String>,
        structure: Option<u64>,
        pooled: bool,
        work: impl FnOnce(&Progress, &Partial) -> JobOutput + Send + 'static,
    ) -> u64 {
        let progress = Progress::new();
        let p = progress.clone();
        let (tx, rx) = channel();
        let label = label.into();
        let waker = self.waker.clone();
        // The one place the viewer starts threads (clippy.toml's disallowed-methods).
        #[allow(clippy::disallowed_methods)]
        let started = std::thread::Builder::new()
            .name("twinplan-job".into())
            .spawn(move || {
                crate::work::lower_priority();
                let partial = Partial(tx.clone(), waker.clone());
                let out = if pooled {
                    crate::work::run(|| work(&p, &partial))
                } else {
                    work(&p, &partial)
                };
                let _ = tx.send(JobMessage::Done(out));
                if let Some(wake) = &waker {
                    wake();
                }
            });
        if let Err(e) = started {
            // The receiver's sender is gone: poll_jobs reports the job as failed.
            tracing::error!("cannot start a thread for {label}: {e}");
        }
        self.next_id += 1;
        self.running.push(Job {
            id: self.next_id,
            label,
            progress,
            started: Instant::now(),
            structure,
            loads: false,
            results: Mutex::new(rx),
        });
        self.next_id
    }

    /// Starts a job that opens or loads a series: any such job still running is
    /// cancelled first (the last click wins).
    pub(super) fn spawn_load(
        &mut self,
        label: &str,
        work: impl FnOnce(&Progress, &Partial) -> JobOutput + Send + 'static,
    ) -> u64 {
        for j in self.running.iter().filter(|j| j.loads) {
            j.progress.cancel();
        }
        let id = self.spawn(label, None, work);
        if let Some(j) = self.running.last_mut() {
            j.loads = true;
        }
        id
    }

    pub fn is_idle(&self) -> bool {
        self.running.is_empty()
    }

    /// Starts a feature's background task (listed in the status bar, cancellable there, the
    /// window woken when it lands); its result waits for [`Jobs::take`]. A cancelled task's
    /// result is dropped, and so is a `()` (work done for its effect: an audit entry, files
    /// removed).
    pub fn task<T: Send + Sync + 'static>(
        &mut self,
        label: impl Into<String>,
        work: impl FnOnce(&Progress) -> T + Send + 'static,
    ) -> u64 {
        self.spawn(label, None, move |p, _| JobOutput::Other(Box::new(work(p))))
    }

    /// Starts a job that works on the newest of the inputs sent to the returned handle (a
    /// drag re-planned for each move: moves that arrive while it is busy are overtaken);
    /// `work` reads them with [`Inputs::newest`] and hands each answer to `emit`, which
    /// wakes the window; the feature takes them with [`Jobs::take_streamed`]. Listed and
    /// cancellable like any job; it ends when the handle is dropped or it is cancelled.
    pub fn latest<In, Out>(
        &mut self,
        label: impl Into<String>,
        work: impl FnOnce(&Progress, &Inputs<In>, &dyn Fn(Out)) + Send + 'static,
    ) -> Latest<In>
    where
        In: Send + 'static,
        Out: Send + Sync + 'static,
    {
        let (tx, rx) = channel();
        let id = self.spawn_with(label, None, false, move |p, partial| {
            let inputs = Inputs { rx, progress: p };
            let emit = |out: Out| partial.send(JobOutput::Other(Box::new(out)));
            work(p, &inputs, &emit);
            JobOutput::Ended
        });
        Latest { id, tx }
    }

    /// The progress of the job `id` while it runs (for a panel's own bar and Cancel).
    pub fn progress(&self, id: u64) -> Option<Progress> {
        self.running
            .iter()
            .find(|j| j.id == id)
            .map(|j| j.progress.clone())
    }

    /// The partial results the job `id` handed over since they were last taken.
    pub fn take_streamed<T: 'static>(&mut self, id: u64) -> Vec<T> {
        self.streamed
            .remove(&id)
            .unwrap_or_default()
            .into_iter()
            .filter_map(|b| b.downcast::<T>().ok().map(|b| *b))
            .collect()
    }

    /// The result of the task `id` once it has landed (then forgotten here).
    pub fn take<T: 'static>(&mut self, id: u64) -> Option<T> {
        let b = self.landed.remove(&id)?;
        b.downcast::<T>().ok().map(|b| *b)
    }

    /// Whether the job `id` is still running (false once it landed, failed or was
    /// cancelled and reaped).
    pub fn is_running(&self, id: u64) -> bool {
        self.running.iter().any(|j| j.id == id)
    }

    /// Cancels the job `id` (its result will be dropped).
    pub fn cancel(&mut self, id: u64) {
        if let Some(j) = self.running.iter().find(|j| j.id == id) {
            j.progress.cancel();
        }
        self.landed.remove(&id);
        self.streamed.remove(&id);
    }

    /// Cancels the jobs building `structure` (their results will be dropped).
    pub fn cancel_structure(&mut self, structure: u64) {
        for j in self
            .running
            .iter()
            .filter(|j| j.structure == Some(structure))
        {
            j.progress.cancel();
        }
    }
}

/// A job that ended without a result: its label and the structure it was building.
pub type FailedJob = (String, Option<u64>);

impl Jobs {
    /// Takes what the running jobs handed over: partial and final typed results (with
    /// whether their job was cancelled), feature tasks' results kept for [`Jobs::take`],
    /// and the (label, structure) of jobs that ended without a result and were not
    /// cancelled. Finished jobs leave the list.
    pub fn receive(&mut self) -> (Vec<(bool, JobOutput)>, Vec<FailedJob>) {
        let mut outputs = Vec::new();
        let mut failed = Vec::new();
        let mut i = 0;
        while i < self.running.len() {
            let cancelled = self.running[i].progress.is_cancelled();
            let mut finished = false;
            loop {
                let next = match self.running[i].results.get_mut() {
                    Ok(rx) => rx.try_recv(),
                    Err(_) => Err(TryRecvError::Disconnected),
                };
                match next {
                    Ok(JobMessage::Partial(JobOutput::Other(part))) => {
                        if !cancelled {
                            let id = self.running[i].id;
                            self.streamed.entry(id).or_default().push(part);
                        }
                    }
                    Ok(JobMessage::Partial(out)) => outputs.push((cancelled, out)),
                    Ok(JobMessage::Done(JobOutput::Ended)) => {
                        finished = true;
                        break;
                    }
                    Ok(JobMessage::Done(JobOutput::Other(result))) => {
                        // A task that returns nothing is done when it ends: nothing waits
                        // in `landed` for a `take` no one will call.
                        if !cancelled && !result.is::<()>() {
                            let id = self.running[i].id;
                            self.landed.insert(id, result);
                        }
                        finished = true;
                        break;
                    }
                    Ok(JobMessage::Done(out)) => {
                        outputs.push((cancelled, out));
                        finished = true;
                        break;
                    }
                    Err(TryRecvError::Empty) => break,
                    Err(TryRecvError::Disconnected) => {
                        // The job's thread ended without a result (it could not start, or
                        // failed): say so instead of waiting for ever.
                        if !cancelled {
                            let j = &self.running[i];
                            failed.push((j.label.clone(), j.structure));
                        }
                        finished = true;
                        break;
                    }
                }
            }
            if finished {
                self.running.remove(i);
                self.finished += 1;
            } else {
                i += 1;
            }
        }
        (outputs, failed)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Mutex;

    #[test]
    fn a_job_wakes_the_window_when_it_hands_something_over() {
        let (tx, rx) = std::sync::mpsc::channel::<&'static str>();
        let tx = Mutex::new(tx);
        let mut jobs = Jobs {
            waker: Some(Arc::new(move || {
                if let Ok(t) = tx.lock() {
                    let _ = t.send("woken");
                }
            })),
            ..Jobs::default()
        };
        jobs.spawn("test", None, |_, partial| {
            partial.send(JobOutput::Loaded(Err(OpenError::Cancelled)));
            JobOutput::Loaded(Err(OpenError::Cancelled))
        });
        let wait = std::time::Duration::from_secs(20);
        // Once for the partial result, once for the final one.
        assert_eq!(rx.recv_timeout(wait), Ok("woken"));
        assert_eq!(rx.recv_timeout(wait), Ok("woken"));
        let mut results = 0;
        if let Some(job) = jobs.running.first()
            && let Ok(r) = job.results.lock()
        {
            while r.try_recv().is_ok() {
                results += 1;
            }
        }
        assert_eq!(
            results, 2,
            "both results are there to install when the frame runs"
        );
    }
}
