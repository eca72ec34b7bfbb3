//! How a folder scan ends on hostile folders: scans DIR to the end (files seen, skipped,
//! folders reached again through links, seconds, peak resident memory), then scans it again
//! and cancels after DELAY_MS, timing how long the scan takes to stop once cancelled. Prints
//! one JSON line. For the issue 9 figures (`benches/README.md`): a folder of 100,000 tiny
//! non-DICOM files, and one whose links loop back into it.
//! usage: cargo run --release --no-default-features --example scan_cancel -- DIR [DELAY_MS]

// A measuring harness, not the application: it starts its own threads.
#![allow(clippy::disallowed_methods)]

use std::time::{Duration, Instant};

use twinplan::progress::Progress;

fn main() -> anyhow::Result<()> {
    let mut args = std::env::args().skip(1);
    let dir = std::path::PathBuf::from(
        args.next()
            .ok_or_else(|| anyhow::anyhow!("usage: scan_cancel DIR [DELAY_MS]"))?,
    );
    let delay_ms: u64 = args.next().map(|s| s.parse()).transpose()?.unwrap_or(300);

    let t = Instant::now();
    let report = twinplan::dicom::scan(&dir, &Progress::new())?;
    let full_s = t.elapsed().as_secs_f64();
    let peak = twinplan::memory::peak_resident_bytes().unwrap_or(0);

    let progress = Progress::new();
    let p = progress.clone();
    let worker = std::thread::spawn(move || {
        let r = twinplan::dicom::scan(&dir, &p);
        (r.is_err(), Instant::now())
    });
    std::thread::sleep(Duration::from_millis(delay_ms));
    let (done_when_cancelled, _) = progress.get();
    let cancelled_at = Instant::now();
    progress.cancel();
    let (stopped_with_error, ended) = worker
        .join()
        .map_err(|_| anyhow::anyhow!("the scan thread panicked"))?;
    let stop_ms = ended.saturating_duration_since(cancelled_at).as_secs_f64() * 1000.0;
    println!(
        "{}",
        serde_json::json!({
            "files_seen": report.files_seen,
            "skipped": report.skipped.len(),
            "series": report.series().count(),
            "repeated_folders": report.repeated_folders,
            "full_scan_s": full_s,
            "peak_rss_mb": peak as f64 / 1e6,
            "cancel_after_ms": delay_ms,
            "progress_when_cancelled": done_when_cancelled,
            "cancelled_scan_returned_error": stopped_with_error,
            "stop_after_cancel_ms": stop_ms,
        })
    );
    Ok(())
}
