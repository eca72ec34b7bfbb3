#!/bin/bash
# Volume rendering side by side: VTK's GPU ray caster (the one 3D Slicer uses) through
# ../shared/bench/anchor_dvr.py under Xvfb (Mesa llvmpipe), and `twinplan frames --volume`
# on lavapipe, on the same volumes (../shared/bench/make_volume.py), the same 800x600 size,
# the same camera (the bounding sphere framed from the front, as VTK's ResetCamera does:
# `--fit-sphere`), the same sample distance (half the finest spacing), the same MIP window
# (-100..600 HU) and, for composite, the same transfer function (the anchor's points, saved
# as a user preset in a temporary configuration folder). Both time each frame to the end
# of its drawing while the camera turns 2 degrees a frame; medians. Ours runs once per
# texture encoding (TEXTURES, default both: 16-bit floats filtered by the sampler, and the
# stored 16-bit integers interpolated in the shader), each against the same VTK run.
# usage: [TEXTURES="float16 int16"] benches/dvr.sh [VENV_PYTHON]   (a venv with numpy and vtk: see ../shared/bench/README.md)
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${1:-/tmp/peers/bin/python}
B=../shared/bench
T=target/release/twinplan
W=$(mktemp -d)
mkdir -p "$W/config/transfer_functions"
# anchor_dvr.py's composite function, as a twinplan preset (opacity per mm, VTK's unit distance 1).
cat > "$W/config/transfer_functions/user-vtk-anchor.json" <<'JSON'
{"name": "VTK anchor", "modality": "CT", "shading": true, "source": "../shared/bench/anchor_dvr.py",
 "opacity": [[-1000, 0.0], [100, 0.0], [200, 0.35], [400, 0.6], [1500, 0.85]],
 "colour": [[-1000, 0, 0, 0], [100, 0.6, 0.3, 0.2], [200, 0.9, 0.2, 0.2], [400, 1.0, 0.85, 0.7], [1500, 1, 1, 0.95]]}
JSON
for size in "256 256 256" "512 512 400"; do
  set -- $size
  P="$W/vol$1x$2x$3"
  python3 $B/make_volume.py $1 $2 $3 "$P" > /dev/null
  python3 $B/write_series.py "$P" "$P.dcm" > /dev/null
  for mode in composite mip; do
    vtk=$(xvfb-run -a -s "-screen 0 1920x1080x24" "$PY" $B/anchor_dvr.py "$P" 800x600 $mode 20 2>/dev/null | tail -1)
    if [ $mode = mip ]; then ours_mode=mip; else ours_mode=user-vtk-anchor; fi
    for texture in ${TEXTURES:-float16 int16}; do
    ours=$(TWINPLAN_CONFIG_DIR="$W/config" xvfb-run -a -s "-screen 0 1600x1000x24" "$T" frames "$P.dcm" \
      --size 800x600 --frames 20 --volume $ours_mode --window 250,700 --fit-sphere \
      --volume-texture $texture 2>/dev/null | tail -1)
    python3 - "$1x$2x$3" $mode "$vtk" "$ours" <<'PY'
import json, sys
dims, mode, vtk, ours = sys.argv[1], sys.argv[2], json.loads(sys.argv[3]), json.loads(sys.argv[4])
v = ours["volume"]
print(f"{dims} {mode:9s} VTK median {vtk['median_s']*1000:7.0f} ms (first {vtk['first_s']*1000:.0f} ms) | "
      f"twinplan {v['texture']:7s} median {ours['median_ms']:6.0f} ms (first {v['first_frame_ms']:.0f} ms, texture {v['texture_mb']:.0f} MB, step {v['step_mm']} mm) | "
      f"ratio {ours['median_ms']/(vtk['median_s']*1000):.2f}")
PY
    done
  done
done
rm -r "$W"
