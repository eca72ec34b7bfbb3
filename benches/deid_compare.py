#!/usr/bin/env python3
"""De-identification side by side, attribute by attribute: GDCM's gdcmanon (PS 3.15 E.1
basic profile, a throw-away certificate) and `twinplan anonymize`, each run on every DICOM
file of a folder (one process per file, so outputs pair with inputs). For each top-level
attribute of each input: what each tool made of it (kept, changed, emptied, removed), and
the attributes each tool added. Prints, per attribute, every case where one tool keeps the
original value and the other does not, with counts, as a Markdown table.

usage: benches/deid_compare.py INPUT_DIR [TWINPLAN_BINARY]   (needs pydicom, gdcmanon)
"""
import collections
import os
import subprocess
import sys
import tempfile

import pydicom
from pydicom.datadict import keyword_for_tag

inp = sys.argv[1]
tp = sys.argv[2] if len(sys.argv) > 2 else "target/release/twinplan"
work = tempfile.mkdtemp()
subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-keyout", f"{work}/k.pem",
                "-out", f"{work}/c.pem", "-days", "1", "-nodes", "-subj", "/CN=cmp"],
               check=True, capture_output=True)
env = dict(os.environ, TWINPLAN_DATA_DIR=f"{work}/data")


def state(orig, out, tag):
    if tag not in out:
        return "removed"
    v = out[tag].value
    if v in (None, "", b"") or (hasattr(v, "__len__") and len(v) == 0):
        return "emptied"
    return "kept" if v == orig[tag].value else "changed"


pairs = collections.Counter()
added = {"gdcmanon": collections.Counter(), "twinplan": collections.Counter()}
files = 0
tried = 0
for root, _, names in os.walk(inp):
    for n in sorted(names):
        f = os.path.join(root, n)
        try:
            orig = pydicom.dcmread(f)
        except Exception:
            continue
        if "PixelData" not in orig and "SOPClassUID" not in orig:
            continue
        tried += 1
        g, t = f"{work}/g{tried}", f"{work}/t{tried}"
        os.makedirs(g)
        r1 = subprocess.run(["gdcmanon", "-c", f"{work}/c.pem", "-i", f, "-o", f"{g}/out.dcm"],
                            capture_output=True)
        r2 = subprocess.run([tp, "anonymize", f, "--out", t, "--allow-burned-in"],
                            capture_output=True, env=env)
        if r1.returncode != 0 or r2.returncode != 0 or not os.listdir(t):
            continue
        go = pydicom.dcmread(f"{g}/out.dcm")
        to = pydicom.dcmread(os.path.join(t, os.listdir(t)[0]))
        files += 1
        for elem in orig:
            tag = elem.tag
            if tag.group == 0x0002 or tag == 0x7FE00010:
                continue
            key = "private" if tag.is_private else f"({tag.group:04X},{tag.element:04X}) {keyword_for_tag(tag)}"
            pairs[(key, state(orig, go, tag), state(orig, to, tag))] += 1
        for name, out in (("gdcmanon", go), ("twinplan", to)):
            for elem in out:
                if elem.tag not in orig and elem.tag.group != 0x0002:
                    added[name][f"({elem.tag.group:04X},{elem.tag.element:04X}) {keyword_for_tag(elem.tag)}"] += 1

print(f"{files} files compared\n")
print("| attribute | gdcmanon | twinplan | files |")
print("|---|---|---|---|")
for (key, a, b), n in sorted(pairs.items()):
    if (a == "kept") != (b == "kept"):
        print(f"| {key} | {a} | {b} | {n} |")
print("\nAdded by one tool only:\n")
for name, other in (("gdcmanon", "twinplan"), ("twinplan", "gdcmanon")):
    for key, n in sorted(added[name].items()):
        if key not in added[other]:
            print(f"- {name}: {key} ({n} files)")
