#!/usr/bin/env bash
# Side-by-side loader benchmark: twinplan against dcm2niix, SimpleITK/GDCM, pydicom and VTK
# on the same 512x512x400 CT series, in one run on one machine (ratios, not absolute times).
# Needs the peers of ../shared/bench/README.md (python venv at $PEERS, dcm2niix from Debian).
# usage: benches/peers.sh [WORKDIR]   (default /tmp/twinplan-bench)
set -euo pipefail
here=$(cd "$(dirname "$0")/.." && pwd)
bench=$here/../shared/bench
work=${1:-/tmp/twinplan-bench}
py=${PEERS:-/tmp/peers}/bin/python
mkdir -p "$work"
if [ ! -d "$work/series512" ]; then
  "$py" "$bench/make_volume.py" 512 512 400 "$work/vol"
  "$py" "$bench/write_series.py" "$work/vol" "$work/series512"
fi
(cd "$here" && cargo build --release --quiet --example load_series --bin twinplan)
cat "$work"/series512/* > /dev/null   # warm the page cache
median() { sort -g | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }
echo "== twinplan (scan + load, 9 runs in one process)"
"$here/target/release/examples/load_series" "$work/series512" 9
echo "== twinplan peak memory (one load, /usr/bin/time)"
/usr/bin/time -f "maxrss_kb %M" "$here/target/release/examples/load_series" "$work/series512" 1
echo "== dcm2niix (5 runs; its own timer)"
for i in 1 2 3 4 5; do
  rm -rf "$work/nii" && mkdir -p "$work/nii"
  dcm2niix -z n -o "$work/nii" "$work/series512" | sed -n 's/^Conversion required \([0-9.]*\) seconds.*/\1/p'
done | median | sed 's/^/dcm2niix median seconds: /'
for m in sitk pydicom vtk; do
  echo "== $m"
  for i in 1 2 3; do "$py" "$bench/anchor_load.py" "$work/series512" $m; done
done
echo "== twinplan info on 1,000 files (wall time of the CLI, 5 runs)"
if [ ! -d "$work/many" ]; then
  "$here/target/release/twinplan" phantom --out "$work/many" --size 64x64x1000 > /dev/null
fi
for i in 1 2 3 4 5; do
  /usr/bin/time -f "%e" "$here/target/release/twinplan" info "$work/many" 2>&1 >/dev/null | tail -1
done | median | sed 's/^/twinplan info median seconds: /'
