#!/usr/bin/env bash
# Side-by-side iso-surface benchmark: twinplan's marching cubes against VTK flying edges
# (2 threads), vtkMarchingCubes and scikit-image on the same 512x512x400 volume at 200 HU,
# in one run (volume already in memory for every tool; no border padding, as VTK).
# usage: benches/peers_mesh.sh [WORKDIR]   (default /tmp/twinplan-bench)
set -euo pipefail
here=$(cd "$(dirname "$0")/.." && pwd)
bench=$here/../shared/bench
work=${1:-/tmp/twinplan-bench}
py=${PEERS:-/tmp/peers}/bin/python
mkdir -p "$work"
[ -f "$work/vol.raw" ] || "$py" "$bench/make_volume.py" 512 512 400 "$work/vol"
(cd "$here" && cargo build --release --quiet --example mc_raw)
echo "== twinplan (median of 9 in one process; peak RSS of that process)"
"$here/target/release/examples/mc_raw" "$work/vol" 200 9
for m in vtk_flying_edges vtk_marching_cubes skimage; do
  echo "== $m"
  for i in 1 2 3; do "$py" "$bench/anchor_mc.py" "$work/vol" 200 $m 2; done
done
