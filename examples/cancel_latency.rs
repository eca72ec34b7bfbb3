//! How fast background work stops when the user presses Cancel: opens PATH (as the
//! workstation does), then builds each default structure as the workstation's job does
//! (coarse preview, then the full surface) and cancels it after a range of delays, so the
//! cancel lands in every stage (segmentation, surface, smoothing, decimation). Prints one
//! JSON line per attempt (structure, delay, milliseconds from cancel to return, whether it
//! returned cancelled) and a summary with the worst case. Runs in the background pool, as
//! the workstation's jobs do. For the issue 9 figures (`benches/README.md`).
//! usage: cargo run --release --no-default-features --example cancel_latency -- PATH

// A measuring harness, not the application: it starts its own threads.
#![allow(clippy::disallowed_methods)]

use std::time::{Duration, Instant};

use twinplan::progress::Progress;
use twinplan::session::{open, structures};

/// Runs `work` on a thread of its own (in the background pool, as a job does), cancels it
/// after `delay`, and returns whether it ended with an error (cancelled) and how many
/// milliseconds it took to return once cancelled (None when it had finished before the
/// cancel came).
fn cancel_after<T: Send + 'static, E: Send + 'static>(
    delay: Duration,
    work: impl FnOnce(&Progress) -> Result<T, E> + Send + 'static,
) -> anyhow::Result<(bool, Option<f64>)> {
    let progress = Progress::new();
    let p = progress.clone();
    let job = std::thread::spawn(move || {
        let failed = twinplan::work::run(|| work(&p).is_err());
        (failed, Instant::now())
    });
    std::thread::sleep(delay);
    let at = Instant::now();
    progress.cancel();
    let (failed, ended) = job
        .join()
        .map_err(|_| anyhow::anyhow!("the job thread panicked"))?;
    let stop_ms = (ended > at).then(|| (ended - at).as_secs_f64() * 1000.0);
    Ok((failed, stop_ms))
}

fn main() -> anyhow::Result<()> {
    let path = std::path::PathBuf::from(
        std::env::args()
            .nth(1)
            .ok_or_else(|| anyhow::anyhow!("usage: cancel_latency PATH"))?,
    );
    // Opening itself, cancelled early and late.
    let mut worst_ms: f64 = 0.0;
    for delay_ms in [5u64, 20, 60, 150] {
        let target = path.clone();
        let (cancelled, ms) = cancel_after(Duration::from_millis(delay_ms), move |p| {
            open::open_path(&target, p)
        })?;
        worst_ms = worst_ms.max(ms.unwrap_or(0.0));
        println!(
            "{}",
            serde_json::json!({"stage": "open", "delay_ms": delay_ms, "stop_ms": ms, "cancelled": cancelled})
        );
    }
    let (_, loaded) = open::open_path(&path, &Progress::new())?;
    let recipes = structures::default_recipes(
        &loaded.volume,
        &loaded.modality,
        loaded.contrast_peak_hu(),
        &[],
    );
    for recipe in recipes {
        // How long an uncancelled build takes, to spread the cancels over it.
        let t = Instant::now();
        twinplan::work::run(|| {
            structures::build_progressively(&loaded.volume, &recipe, &Progress::new(), &|_| {})
        })?;
        let full_s = t.elapsed().as_secs_f64();
        for step in 1..=12 {
            let delay = Duration::from_secs_f64(full_s * f64::from(step) / 13.0);
            let volume = std::sync::Arc::clone(&loaded.volume);
            let r = recipe.clone();
            let (cancelled, ms) = cancel_after(delay, move |p| {
                structures::build_progressively(&volume, &r, p, &|_| {})
            })?;
            worst_ms = worst_ms.max(ms.unwrap_or(0.0));
            println!(
                "{}",
                serde_json::json!({
                    "stage": recipe.name, "full_build_s": full_s,
                    "delay_s": delay.as_secs_f64(), "stop_ms": ms, "cancelled": cancelled,
                    "finished_before_cancel": ms.is_none()
                })
            );
        }
    }
    println!("{}", serde_json::json!({ "worst_stop_ms": worst_ms }));
    Ok(())
}
