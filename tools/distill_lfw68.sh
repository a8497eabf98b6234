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
  [[ -e "$out/$arm/results.json" && -e "$out/$arm/round$rounds/model.safetensors" ]] && return 0  # done already
  if [[ -e "$out/$arm/distill.txt" ]]; then  # resumed, or run again with more ROUNDS
    nice "$pipnet" distill --resume --rounds "$rounds" --out "$out/$arm" >"$out/$arm.out" 2>>"$out/$arm.log"
  else nice "$pipnet" distill "$@" "${budget[@]}" --transform "$arm" --out "$out/$arm" >"$out/$arm.out" 2>"$out/$arm.log"; fi
  echo "$arm $((SECONDS - t0))" >> "$out/times.txt"
}
run_arm none --data "300w:$data/train" --labelled-fraction 0.1 --split-seed 1
for arm in flip rotate translate; do
  run_arm $arm --data "pts:$out/none/labelled.txt" --unlabelled "pts:$out/none/unlabelled.txt" --teacher "$out/none/round0"
done
# Part 2: the same question with 10x the steps. The budget above gives every round 264 steps, so a round with
# pseudo-labels sees each face about once. Here labelled-only trains 123 epochs of its 360 faces (2706 steps, decay
# after 92) and is the teacher of one translate round of 12 full epochs of the 3600 faces (2700 steps).
long_budget=(--input-size 64 --net-stride 16 --width 16 --batch 16 --lr 1e-3 --eval-every 1000 --seed 1 --test-data "300w:$data/test")
t0=$SECONDS
if [[ ! -e "$out/long_labelled/model.safetensors" ]]; then
  resume=(); [[ -e "$out/long_labelled/checkpoint.safetensors" ]] && resume=(--resume)
  nice "$pipnet" train "${resume[@]}" --data "pts:$out/none/labelled.txt" "${long_budget[@]}" --epochs 123 --decay 92 \
    --out "$out/long_labelled" 2>"$out/long_labelled.log"
  echo "long_labelled $((SECONDS - t0))" >> "$out/times.txt"
fi
t0=$SECONDS
if [[ -e "$out/long_translate/distill.txt" ]]; then
  nice "$pipnet" distill --resume --out "$out/long_translate" >"$out/long_translate.out" 2>>"$out/long_translate.log"
else
  nice "$pipnet" distill --data "pts:$out/none/labelled.txt" --unlabelled "pts:$out/none/unlabelled.txt" \
    --teacher "$out/long_labelled" --transform translate --rounds 1 "${long_budget[@]}" --epochs 12 --decay 9 \
    --out "$out/long_translate" >"$out/long_translate.out" 2>"$out/long_translate.log"
fi
echo "long_translate $((SECONDS - t0))" >> "$out/times.txt"
nice "$pipnet" test --run "$out/long_labelled" --json "$out/long_labelled.json" --ced "$out/long_labelled_ced.png" >/dev/null 2>&1

# The tables: test NME (%) of each arm's rounds (round 0 is the labelled-only model every arm starts from), and
# the NME of each round's pseudo-labels against the unlabelled faces' own labels, which lfw68 has and the method
# never reads.
python3 - "$out" "$rounds" <<'PY'
import json, math, os, sys
out, rounds = sys.argv[1], int(sys.argv[2])
times = {}
for line in open(out + "/times.txt"):
    arm, s = line.split(); times[arm] = times.get(arm, 0) + int(s)
def pts(p):
    v = list(map(float, open(p).read().split("{")[1].split("}")[0].split()))
    return list(zip(v[0::2], v[1::2]))
def pseudo_nme(listfile):  # inter-ocular NME (outer eye corners 36, 45) of the pseudo-labels
    tot = n = 0
    for line in open(listfile):
        image, label = line.split()
        t, p = pts(os.path.splitext(image)[0] + ".pts"), pts(label)
        tot += sum(math.dist(a, b) for a, b in zip(t, p)) / len(t) / math.dist(t[36], t[45]); n += 1
    return 100 * tot / n
cols = " ".join("%9s" % ("round %d" % r) for r in range(rounds + 1))
print("test NME %%, lfw68 test (600 faces)\n%-15s %s %16s %8s" % ("arm", cols, "pseudo-label NME", "wall s"))
for arm in ["none", "flip", "rotate", "translate"]:
    r = json.load(open("%s/%s/results.json" % (out, arm)))["rounds"]
    pl = " / ".join("%.2f" % pseudo_nme("%s/%s/round%d/pseudo.txt" % (out, arm, k)) for k in range(1, rounds + 1))
    print("%-15s %s %16s %8d" % (arm, " ".join("%9.3f" % (100 * x["nme"]) for x in r), pl, times.get(arm, 0)))
lab = json.load(open(out + "/long_labelled.json"))["test"]["merged"]["nme"]
lt = json.load(open(out + "/long_translate/results.json"))["rounds"][1]["nme"]
print("\n2700 steps per model\nlabelled-only   %9.3f %26s %8d" % (100 * lab, "", times.get("long_labelled", 0)))
print("translate r1    %9.3f %26s %8d" % (100 * lt, "%.2f" % pseudo_nme(out + "/long_translate/round1/pseudo.txt"),
                                         times.get("long_translate", 0)))
PY
