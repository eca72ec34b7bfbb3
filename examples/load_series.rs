//! Loads one series and prints what a benchmark needs: one JSON line with the wall time of
//! scan and load, the volume's bytes and the process's peak resident memory. Used by
//! `benches/peers.sh` to compare with dcm2niix and the other peers in the same run.
//! usage: cargo run --release --example load_series -- DIR [REPEATS]

use std::time::Instant;

use twinplan::progress::Progress;

fn main() -> anyhow::Result<()> {
    let mut args = std::env::args().skip(1);
    let dir = std::path::PathBuf::from(
        args.next()
            .ok_or_else(|| anyhow::anyhow!("usage: load_series DIR [REPEATS]"))?,
    );
    let repeats: usize = args.next().map(|s| s.parse()).transpose()?.unwrap_or(1);
    let rss_before = twinplan::memory::peak_resident_bytes().unwrap_or(0);
    let mut times = Vec::new();
    let mut scan_times = Vec::new();
    let mut last = None;
    for _ in 0..repeats {
        drop(last.take());
        let progress = Progress::new();
        let t = Instant::now();
        let report = twinplan::dicom::scan(&dir, &progress)?;
        let series = twinplan::dicom::select_series(&report, None)?;
        scan_times.push(t.elapsed().as_secs_f64());
        let v = twinplan::dicom::load_series(series, &progress)?;
        times.push(t.elapsed().as_secs_f64());
        last = Some(v);
    }
    scan_times.sort_by(f64::total_cmp);
    let v = last.ok_or_else(|| anyhow::anyhow!("no repeats"))?;
    times.sort_by(f64::total_cmp);
    println!(
        "{}",
        serde_json::json!({
            "method": "twinplan",
            "seconds_min": times[0],
            "seconds_median": times[times.len() / 2],
            "scan_seconds_median": scan_times[scan_times.len() / 2],
            "dims": v.geometry.dims,
            "volume_bytes": v.size_bytes(),
            "peak_rss_bytes": twinplan::memory::peak_resident_bytes(),
            "rss_before_bytes": rss_before,
        })
    );
    Ok(())
}
