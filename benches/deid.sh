#!/bin/bash
# De-identification side by side: GDCM's gdcmanon (PS 3.15 E.1 Basic Profile, the original
# attributes encrypted into the files with a throw-away certificate, as its basic mode
# requires) and `twinplan anonymize`, fresh process each, the same 400-file 512x512 series
# (../shared/bench/make_volume.py + write_series.py, or SERIES), each writing a new output
# folder; alternating, RUNS runs each, medians and their ratio.
# usage: [SERIES=/path/to/series] [RUNS=3] [TP_ARGS=--sync] benches/deid.sh
# (TP_ARGS: options for twinplan, e.g. --sync to flush its output before it exits, which
# gdcmanon does not do)
set -euo pipefail
cd "$(dirname "$0")/.."
T=target/release/twinplan
B=../shared/bench
W=$(mktemp -d)
trap 'rm -rf "$W"' EXIT
command -v gdcmanon >/dev/null || { apt-get update -qq && apt-get install -y -qq libgdcm-tools; }
if [ -z "${SERIES:-}" ]; then
  python3 $B/make_volume.py 512 512 400 "$W/vol" > /dev/null
  python3 $B/write_series.py "$W/vol" "$W/series" > /dev/null
  SERIES="$W/series"
fi
openssl req -x509 -newkey rsa:2048 -keyout "$W/key.pem" -out "$W/cert.pem" -days 1 -nodes \
  -subj /CN=bench 2>/dev/null
export TWINPLAN_DATA_DIR="$W/data"
now() { date +%s.%N; }
gd=(); tp=()
for r in $(seq "${RUNS:-3}"); do
  rm -rf "$W/g" "$W/t"; mkdir -p "$W/g"
  sync; t0=$(now); gdcmanon -c "$W/cert.pem" -i "$SERIES" -o "$W/g" -r --continue >/dev/null 2>&1; t1=$(now)
  gd+=("$(echo "$t1 - $t0" | bc)")
  sync; t0=$(now); "$T" anonymize "$SERIES" --out "$W/t" ${TP_ARGS:-} >/dev/null; t1=$(now)
  tp+=("$(echo "$t1 - $t0" | bc)")
done
python3 - "${gd[*]}" "${tp[*]}" "$(ls "$W/g" | wc -l)" "$(ls "$W/t" | wc -l)" <<'PY'
import statistics, sys
g = [float(x) for x in sys.argv[1].split()]; t = [float(x) for x in sys.argv[2].split()]
print(f"gdcmanon runs {g} s -> median {statistics.median(g):.2f} s ({sys.argv[3]} files)")
print(f"twinplan runs {t} s -> median {statistics.median(t):.2f} s ({sys.argv[4]} files)")
print(f"ratio twinplan / gdcmanon: {statistics.median(t) / statistics.median(g):.2f}")
PY
