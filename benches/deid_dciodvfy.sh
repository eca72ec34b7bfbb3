#!/bin/bash
# dciodvfy (Debian dicom3tools) on each input and on its de-identified output: the errors
# the output has that its input did not (values stripped, so an error is the same error
# whatever the value). Up to PER (default 3) DICOM files per folder of INPUT (default
# ../shared/testdata).
# usage: benches/deid_dciodvfy.sh [INPUT] [TWINPLAN_BINARY]
set -uo pipefail
cd "$(dirname "$0")/.."
IN=${1:-../shared/testdata}
T=${2:-target/release/twinplan}
command -v dciodvfy >/dev/null || { apt-get update -qq && apt-get install -y -qq dicom3tools; }
W=$(mktemp -d); trap 'rm -rf "$W"' EXIT
export TWINPLAN_DATA_DIR="$W/data"
errors() { dciodvfy "$1" 2>&1 | grep '^Error' | sed -e 's/<[^>]*>/<>/g' -e 's/\[[0-9]*\]//g' | sort -u; }
n=0; worse=0; new_total=0
while IFS= read -r dir; do
  k=0
  while IFS= read -r f; do
    [ "$k" -lt "${PER:-3}" ] || break
    rm -rf "$W/o"; "$T" anonymize "$f" --out "$W/o" --allow-burned-in >/dev/null 2>&1 || continue
    o=$(ls "$W/o"/*.dcm 2>/dev/null | head -1); [ -n "$o" ] || continue
    k=$((k+1)); n=$((n+1))
    new=$(comm -13 <(errors "$f") <(errors "$o"))
    if [ -n "$new" ]; then
      worse=$((worse+1)); new_total=$((new_total+$(echo "$new" | wc -l)))
      echo "== ${f#$IN/}"; echo "$new"
    fi
  done < <(find "$dir" -maxdepth 1 -type f | sort)
done < <(find "$IN" -type d | sort)
echo "$n files checked; $worse with errors their input did not have ($new_total new errors)"
