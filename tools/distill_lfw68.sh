#!/usr/bin/env bash
# The real-face experiment of issue #12: lfw68 with 10% of the training faces labelled (split by identity) and the
# rest unlabelled; labelled-only (round 0) against translation-based data distillation with each view set of the
# paper's Table 7 (none, flip, rotate, translate). Every arm trains every round with the same small budget, so
# that the whole experiment fits in about half an hour on 2 shared CPU cores: 64x64 crops, ResNet-18 at width 16 with
# net stride 16 (a 4x4 grid), 12 epochs of 22 batches of 16 (264 steps: what 12 epochs of the 360 labelled faces
# make; a round with pseudo-labels sees a different 352 of its 3600 faces each epoch), Adam 1e-3, x0.1 after 9.
# The `none` arm makes the split and trains round 0; the other arms reuse both (--teacher), so round 0 is shared.
# A killed run continues where it stopped when the script is started again (pipnet distill --resume), and a larger
# ROUNDS adds rounds to a finished experiment. times.txt gets one line per arm and start: its seconds of wall clock.
#   tools/distill_lfw68.sh [OUT]     (PIPNET=build/pipnet, LFW68=../shared/data/lfw68, ROUNDS=2)
set -eu
pipnet=${PIPNET:-build/pipnet}
data=${LFW68:-../shared/data/lfw68}
out=${1:-runs/distill_lfw68}
rounds=${ROUNDS:-2}
[[ -d "$data/train" ]] || { echo "no $data/train (set LFW68=DIR)"; exit 2; }
budget=(--input-size 64 --net-stride 16 --width 16 --batch 16 --epochs 12 --max-batches 22 --lr 1e-3 --decay 9 --eval-every 100
        --seed 1 --test-data "300w:$data/test" --rounds "$rounds")
mkdir -p "$out"
# On a machine shared with other jobs, OpenMP threads that spin while they wait for each other lose most of their
# time slices: the passive policy measured 8x the images/s of the default here (the numbers do not change).
export OMP_WAIT_POLICY=${OMP_WAIT_POLICY:-passive}
run_arm() {  # arm, then the arm's own flags
  local arm=$1; shift
  local t0=$SECONDS
  if [[ -e "$out/$arm/distill.txt" ]]; then  # resumed, or run again with more ROUNDS
    nice "$pipnet" distill --resume --rounds "$rounds" --out "$out/$arm" >"$out/$arm.out" 2>>"$out/$arm.log"
  else nice "$pipnet" distill "$@" "${budget[@]}" --transform "$arm" --out "$out/$arm" >"$out/$arm.out" 2>"$out/$arm.log"; fi
  echo "$arm $((SECONDS - t0))" >> "$out/times.txt"
}
run_arm none --data "300w:$data/train" --labelled-fraction 0.1 --split-seed 1
for arm in flip rotate translate; do
  run_arm $arm --data "pts:$out/none/labelled.txt" --unlabelled "pts:$out/none/unlabelled.txt" --teacher "$out/none/round0"
done
# the table: test NME (%) of each arm's rounds; round 0 is the labelled-only model every arm starts from
python3 - "$out" "$rounds" <<'PY'
import json, sys
out, rounds = sys.argv[1], int(sys.argv[2])
times = {}
for line in open(out + "/times.txt"):
    arm, s = line.split(); times[arm] = times.get(arm, 0) + int(s)
print("%-10s %s %10s" % ("arm", " ".join("%9s" % ("round %d" % r) for r in range(rounds + 1)), "wall s"))
for arm in ["none", "flip", "rotate", "translate"]:
    r = json.load(open("%s/%s/results.json" % (out, arm)))["rounds"]
    print("%-10s %s %10d" % (arm, " ".join("%9.3f" % (100 * x["nme"]) for x in r), times.get(arm, 0)))
PY
