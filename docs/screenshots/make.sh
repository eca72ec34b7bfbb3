#!/bin/bash
# Regenerates every screenshot in docs/screenshots with `twinplan render` under Xvfb, from a
# release build (`cargo build --release` first). The real scans come from ../shared/testdata.
set -euo pipefail
cd "$(dirname "$0")/../.."
T=target/release/twinplan
D=docs/screenshots
S=sample_data/phantom_cta/dicom
PLAN=sample_data/phantom_cta/demo.twinplan.json
TD=../shared/testdata
r() { xvfb-run -a -s "-screen 0 1600x1000x24" "$T" render "$@" > /dev/null; }

r --out $D/four-up.png $S
r --layout 3d --out $D/3d-anterior.png $S
r --layout 3d --view left --anonymous --out $D/3d-left-anonymous.png $S
r --layout 3d --slices --out $D/3d-slices.png $S
r --plan $PLAN --focus "Iliac bifurcation" --out $D/measure-angle.png $S
r --plan $PLAN --focus "Aorta diameter" --out $D/measure-distance.png $S
r --layout 3d --plan $PLAN --focus "LAO 30°" --out $D/3d-saved-view.png $S
# Catheter paths: right and left transfemoral access to the arch, planned by the CLI into a
# plan, the vessels see-through so the tubes (the sheaths' diameter, coloured by clearance)
# show inside them; the right 20 F sheath is flagged at the iliac stenosis.
PATHS=$(mktemp -d)
"$T" plan $S --from=-59,-38,-600 --to=11.6,-1.39,-16.4 --device=20F \
  --plan-out "$PATHS/access.twinplan.json" --name "Right transfemoral" > /dev/null
"$T" plan $S --from=74.9,-37.5,-600 --to=11.6,-1.39,-16.4 --device=14F \
  --plan-out "$PATHS/access.twinplan.json" --name "Left transfemoral" > /dev/null
cat > "$PATHS/recipes.json" <<'JSON'
[{"name":"bone","source":{"kind":"preset","preset":"bone","min_hu":680},"seeds_mm":[],"colour":[0.9,0.86,0.74],"opacity":1.0},
 {"name":"vessels","source":{"kind":"preset","preset":"vessels"},"seeds_mm":[[2.0,-38.0,-130.0]],"colour":[0.8,0.12,0.1],"opacity":0.3}]
JSON
r --layout 3d --recipes "$PATHS/recipes.json" --plan "$PATHS/access.twinplan.json" --out $D/paths-3d.png $S
rm -r "$PATHS"
# cta-edit.png and cta-edit-refused.png are the running workstation on the shared CTA,
# `twinplan --plan P ../shared/testdata/cta_aorta/ct_cropped.nii.gz` on an Xvfb display, P
# the path "Descending aorta to brachiocephalic trunk" planned by the CLI as below, its vessel
# made a structure "aortic lumen" (the vessels preset seeded at the entry) in the plan file;
# with xdotool: Edit structure opened, aortic lumen and Erase chosen, the axial slice wheeled
# to S 745.7 mm, two strokes across the trunk (8 and 10 mm), the pointer over the slice for
# the first picture; then a 21 mm stroke across the arch for the second.
# case-package.png is the running workstation opening a case package: `twinplan pack
# sample_data/phantom_cta/dicom --plan sample_data/phantom_cta/demo.twinplan.json --out
# aaa-repair.twinplan --with-images --purpose teaching --consent no --recorded-by "Dr A.
# Surgeon" --note "Vascular course, anonymised teaching case" --passphrase-file PW`, then
# `twinplan --size 1600x1000 aaa-repair.twinplan` on an Xvfb display, the passphrase typed
# with xdotool and Return pressed, the screen grabbed once the statement shows.
# paths-drag.png is the running workstation caught mid-drag (render cannot hold a button):
# `twinplan --plan P.twinplan.json sample_data/phantom_cta/dicom` on an Xvfb display, P planned
# with `--via=20.0,12.0,-300.0` (the aorta's axis), the waypoint grabbed in the 3D view with
# xdotool (mousedown, mousemove up 42 px in steps of 3), the screen grabbed before mouseup.
if [ -d $TD ]; then
  r --out $D/ct-head.png $TD/head_ct/dicom
  r --out $D/ct-body.png $TD/totalsegmentator_ct/tests/reference_files/example_ct_dicom
  r --out $D/mr-brain.png $TD/dcm_qa_12bit/In/12bitUnsigned.dcm
  r --out $D/cta-nifti.png $TD/cta_aorta/ct_cropped.nii.gz
  # The real CTA (a dissection): the lumen grown from an entry in the low descending aorta
  # (cut from the heart, the pulmonary arteries and the veins), a path into the
  # brachiocephalic trunk with a 14 F sheath and one into the false lumen through a tear
  # (narrowest 1.5 mm, flagged for an 8 F sheath); the first path's profile and
  # cross-section below.
  CTA=$TD/cta_aorta/ct_cropped.nii.gz
  W=$(mktemp -d)
  "$T" plan $CTA --from=-2.66,-149.16,555.2 --to=-7.2,-183.7,751.7 --device 14F \
    --plan-out "$W/cta.twinplan.json" --name "Descending aorta to brachiocephalic trunk" > /dev/null
  "$T" plan $CTA --from=-2.66,-149.16,555.2 --to=30.3,-108.7,640.7 --device 8F \
    --plan-out "$W/cta.twinplan.json" --name "Into the false lumen (through a tear)" > /dev/null
  cat > "$W/recipes.json" <<'JSON'
[{"name":"lumen (grown from the entry)","source":{"kind":"preset","preset":"vessels"},"seeds_mm":[[-2.66,-149.16,555.2]],"colour":[0.8,0.12,0.1],"opacity":0.35},
 {"name":"bone","source":{"kind":"preset","preset":"bone","min_hu":900},"seeds_mm":[],"colour":[0.9,0.86,0.74],"opacity":1.0}]
JSON
  r --layout 3d --recipes "$W/recipes.json" --plan "$W/cta.twinplan.json" --out $D/cta-lumen-paths.png $CTA
  # Volume rendering of the real CTA: the CT-angio preset with its transfer-function editor
  # in the panel (no surfaces), the MIP, and the volume fused with the lumen's surface and
  # the first path, cropped to the front half's far side.
  r --volume ct-angio --structures none --out $D/cta-volume-angio.png $CTA
  r --layout 3d --volume mip --structures none --window 500,1800 --out $D/cta-volume-mip.png $CTA
  cat > "$W/lumen.json" <<'JSON'
[{"name":"lumen (grown from the entry)","source":{"kind":"preset","preset":"vessels"},"seeds_mm":[[-2.66,-149.16,555.2]],"colour":[0.95,0.75,0.2],"opacity":1.0}]
JSON
  r --layout 3d --volume ct-bone --recipes "$W/lumen.json" --crop 0,0.45,0,1,1,1 --plan "$W/cta.twinplan.json" --out $D/cta-volume-fused.png $CTA
  rm -r "$W"
  # The head CT in the bone preset, cropped to its right half (the inside of the skull).
  r --layout 3d --volume ct-bone --structures none --view left --crop 0,0,0,0.5,1,1 --out $D/head-volume-bone-crop.png $TD/head_ct/dicom
fi
# The crop box being edited: its edges and the six face handles over the 3D view while the
# panel's crop section is open (it opens by itself when --crop cuts anything).
r --layout 3d --volume ct-bone --structures vessels --view left --crop 0.1,0.25,0.05,0.9,0.75,0.8 --out $D/volume-crop-box.png $S
# The bundled sample as a red–cyan anaglyph (volume and surfaces).
r --layout 3d --volume ct-angio --structures none --stereo anaglyph --out $D/volume-anaglyph.png $S
# The panels alone, cut from the four-up and the angle screenshots.
python3 - <<'PY'
from PIL import Image
d = "docs/screenshots/"
Image.open(d + "four-up.png").crop((0, 50, 362, 770)).save(d + "structures-panel.png")
Image.open(d + "measure-angle.png").crop((0, 528, 432, 752)).save(d + "measurements-panel.png")
PY
