#!/usr/bin/env bash
# A PyTorch PIPNet checkpoint (.pth, random weights) converted to safetensors gives, through `pipnet infer` (BN
# folded, no grad), the same 68 landmarks as PyTorch's test-time path, within 1e-4 of the crop width.
# Needs Debian's python3-torch and ../shared/data/pipnet-meanface. Usage: tools/check_converted.sh [build-dir]
set -euo pipefail
cd "$(dirname "$0")/.."
build=${1:-build}
d=${TMPDIR:-/tmp}/pipnet_converted
rm -rf "$d"
/usr/bin/python3 tools/make_converted_check.py "$d" ../shared/data/pipnet-meanface/data_300W.txt
/usr/bin/python3 tools/pth_to_safetensors.py "$d/epoch59.pth" "$d/run/model.safetensors"
"$build/pipnet" infer --run "$d/run" --image "$d/face.ppm" --out "$d/infer" > "$d/ours.json"
/usr/bin/python3 - "$d" <<'PY'
import json, sys
import numpy as np
d = sys.argv[1]
ours = np.array(json.load(open(d + "/ours.json"))[0]["points"]) / 256.0  # pixels of the 256x256 crop -> crop widths
want = np.loadtxt(d + "/expected.txt")
err = np.abs(ours - want).max()
print("68 landmarks, max |pipnet - pytorch| = %.3e crop widths (bar 1e-4)" % err)
sys.exit(0 if err < 1e-4 else 1)
PY
