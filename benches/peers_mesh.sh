#!/usr/bin/env bash
# Side-by-side iso-surface benchmark: twinplan's marching cubes against VTK flying edges
# (2 threads), vtkMarchingCubes and scikit-image on the same 512x512x400 volume at 200 HU,
# in one run (volume already in memory for every tool; no border padding, as VTK).
# Like for like: every tool runs RUNS fresh processes, one extraction each, timed the same
# way (extraction only), and the ratio is of the medians. twinplan's warm figure (median of
# 9 extractions in one process) is printed too, labelled, never as the ratio.
# usage: benches/peers_mesh.sh [WORKDIR] [RUNS]   (defaults /tmp/twinplan-bench 7)
set -euo pipefail
here=$(cd "$(dirname "$0")/.." && pwd)
bench=$here/../shared/bench
work=${1:-/tmp/twinplan-bench}
runs=${2:-7}
py=${PEERS:-/tmp/peers}/bin/python
mkdir -p "$work"
[ -f "$work/vol.raw" ] || "$py" "$bench/make_volume.py" 512 512 400 "$work/vol"
(cd "$here" && cargo build --release --quiet --no-default-features --example mc_raw)
median() { sort -g | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }
field() { sed -E "s/.*\"$1\": ?([0-9.e-]+).*/\1/"; }
echo "== twinplan, cold: $runs fresh processes, one extraction each"
for _ in $(seq "$runs"); do "$here/target/release/examples/mc_raw" "$work/vol" 200 1; done | tee "$work/mc_twinplan.jsonl"
echo "== vtk_flying_edges (2 threads): $runs fresh processes"
for _ in $(seq "$runs"); do "$py" "$bench/anchor_mc.py" "$work/vol" 200 vtk_flying_edges 2; done | tee "$work/mc_vtk.jsonl"
ours=$(field seconds_first < "$work/mc_twinplan.jsonl" | median)
vtk=$(field seconds < "$work/mc_vtk.jsonl" | median)
echo "cold medians: twinplan $ours s, vtkFlyingEdges3D $vtk s, ratio $(awk -v a="$ours" -v b="$vtk" 'BEGIN {printf "%.2f", a / b}')"
echo "== twinplan, warm (labelled: median of 9 in one process; peak RSS of that process)"
"$here/target/release/examples/mc_raw" "$work/vol" 200 9
for m in vtk_marching_cubes skimage; do
  echo "== $m"
  for i in 1 2 3; do "$py" "$bench/anchor_mc.py" "$work/vol" 200 $m 2; done
done
