#!/usr/bin/env bash
# Mutation fuzzing of every reader (examples/fuzz_readers.rs): each DICOM and NIfTI file under
# ../shared/testdata (the hostile/ inputs included) is mutated (bytes flipped, inserted,
# deleted; DICOM lengths, VRs and sequence delimiters corrupted; geometry and rescale values
# set to finite-but-huge numbers, NaN, infinity and degenerate orientations; encapsulated
# fragments split, corrupted and cut off, RLE headers overwritten; NIfTI header fields and
# units set to extremes, inside .nii.gz too), deflate bombs are built and mutated, one input in
# a hundred is a FIFO, and every mutant goes through scan, load and the first default
# structure's surface, whose grid and vertices must be finite numbers.
# One process per core, each single-threaded, different seeds; a process that dies (abort,
# out of memory, watchdog) is restarted with the next seed and its input kept.
# usage: benches/fuzz.sh [MINUTES] [WORKDIR] [PROCESSES]   (defaults 30 /tmp/twinplan-fuzz 2)
# FUZZ_SECONDS overrides MINUTES; FUZZ_BIN runs an already built fuzz_readers (CI runs the one
# `cargo test` built) instead of building the release one.
# Findings land in WORKDIR/findings; the totals are printed at the end, and the script exits 1
# when there is any finding (panic, hang, memory blow-up, non-finite output, dead process).
set -euo pipefail
here=$(cd "$(dirname "$0")/.." && pwd)
minutes=${1:-30}
work=${2:-/tmp/twinplan-fuzz}
procs=${3:-2}
seconds=${FUZZ_SECONDS:-$(( minutes * 60 ))}
corpus=$here/../shared/testdata
if [ -n "${FUZZ_BIN:-}" ]; then
  bin=$FUZZ_BIN
else
  (cd "$here" && cargo build --release --quiet --no-default-features --example fuzz_readers)
  bin=$here/target/release/examples/fuzz_readers
fi
rm -rf "$work"; mkdir -p "$work/findings"
end=$(( $(date +%s) + seconds ))
worker() {
  local p=$1 seed=$1 n=0
  while [ "$(date +%s)" -lt "$end" ]; do
    left=$(( end - $(date +%s) ))
    dir=$work/w$p-$n
    if RAYON_NUM_THREADS=1 "$bin" "$corpus" "$dir" "$left" "$seed" >> "$work/w$p.jsonl" 2>> "$work/w$p.log"; then
      :
    else
      rc=$?
      echo "worker $p seed $seed exited $rc" >> "$work/w$p.log"
      for f in "$dir"/case/*; do [ -e "$f" ] && cp "$f" "$work/findings/died-$rc-$seed-$(basename "$f")"; done
    fi
    cp "$dir"/findings/* "$work/findings/" 2>/dev/null || true
    rm -rf "$dir"
    seed=$(( seed + 1000 )); n=$(( n + 1 ))
  done
}
for p in $(seq "$procs"); do worker "$p" & done
wait
cat "$work"/w*.jsonl
python3 - "$work" <<'PY'
import json, os, sys
work = sys.argv[1]
rows = [json.loads(l) for f in os.listdir(work) if f.endswith(".jsonl") for l in open(os.path.join(work, f)) if l.strip()]
tot = {k: sum(r.get(k, 0) for r in rows) for k in ("inputs", "refused", "loaded_no_surface", "surfaced", "panics", "memory_blowups", "nonfinite_outputs")}
died = sum(1 for f in os.listdir(os.path.join(work, "findings")) if f.startswith("died-"))
hangs = sum(1 for f in os.listdir(os.path.join(work, "findings")) if f.startswith("hang-"))
peak = max((r.get("peak_rss_mb", 0) for r in rows), default=0)
print(json.dumps({**tot, "processes_died": died, "hangs": hangs, "peak_rss_mb": round(peak), "corpus_files": rows[0]["corpus_files"] if rows else 0}))
bad = tot["panics"] + tot["memory_blowups"] + tot["nonfinite_outputs"] + died + hangs + (peak > 2000)
if not rows or tot["inputs"] == 0:
    sys.exit("no input was run")
if bad:
    sys.exit(f"{bad} finding(s) in {work}/findings")
PY
