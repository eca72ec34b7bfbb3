#!/usr/bin/env bash
# Side-by-side decimation benchmark on a real CT bone surface: twinplan's edge collapse
# (today's and, with OLD=path/to/older/decimate_mesh, an older build's) against VTK's
# vtkQuadricDecimation and pyfqmr, in one run, each on the same STL with the mesh already in
# memory. The surface is the head CT's bone preset with the workstation's 12 Taubin
# iterations, before decimation.
# usage: benches/peers_decimate.sh [WORKDIR] [TARGET]   (defaults /tmp/twinplan-bench 400000)
set -euo pipefail
here=$(cd "$(dirname "$0")/.." && pwd)
bench=$here/../shared/bench
data=$here/../shared/testdata/head_ct/dicom
work=${1:-/tmp/twinplan-bench}
target=${2:-400000}
py=${PEERS:-/tmp/peers}/bin/python
mkdir -p "$work"
(cd "$here" && cargo build --release --quiet --no-default-features --bin twinplan --example decimate_mesh)
stl=$work/head_bone_s12.stl
[ -f "$stl" ] || "$here/target/release/twinplan" mesh --preset bone --smooth 12 --out "$stl" "$data"
for i in 1 2 3; do
  echo "== twinplan (run $i)"; "$here/target/release/examples/decimate_mesh" "$stl" "$target"
  if [ -n "${OLD:-}" ]; then echo "== twinplan before (run $i)"; "$OLD" "$stl" "$target"; fi
done
for m in vtk_quadric pyfqmr; do
  for i in 1 2 3; do echo "== $m (run $i)"; "$py" "$bench/anchor_decimate.py" "$stl" "$target" "$m"; done
done
