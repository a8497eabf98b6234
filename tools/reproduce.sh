#!/usr/bin/env bash
# Reproductions of the seed paper's tables on the real-photo set lfw68 (../shared/data/lfw68: 3600 training and 600
# test faces, 68 dlib points), each arm under one budget that every arm shares, so that the comparison is fair even
# though it is far smaller than the paper's.
#
#   tools/reproduce.sh table1 [OUT]   net stride 16 / 32 / 64 / 128 of PIP Net (ResNet-18)            -> OUT/table1.md
#   tools/reproduce.sh table2 [OUT]   the heads (§4.3): Coord Net, Map Net at net stride 4 / 2 / 1 and PIP
#                                     (ResNet-18 from scratch)                                          -> OUT/table2.md
#   tools/reproduce.sh table8 [OUT]   batch-1 CPU speed of every head and backbone, one `pipnet bench` run
#                                     (256x256 as the paper; random weights: speed does not depend on them)
#                                                                                                       -> OUT/table8.md
# Each table is also drawn as OUT/tableN.png (pipnet plot). OUT defaults to runs/tableN.
#
# The training budget (environment): INPUT=128 crops, WIDTH=16 (ResNet-18 at a quarter of torchvision's width, so
# that nine arms train in well under an hour on two cores), BATCH=16, EPOCHS=8 "epochs" of MAX_BATCHES=50 batches
# (6,400 images), Adam LR=1e-3, x0.1 after DECAY=6, SEED=1. Each arm starts from its paper preset for its head,
# stride and loss (pip_S_16_60_r18_l2_l1_10_1_nb10, coord_r18_l1, map_{4,2,1}_16_60_r18_l2), and the budget then
# overrides the preset's batch, epochs and schedule (Coord Net's own recipe is batch 32 for 120 epochs): only the
# head or the stride differs between arms. A killed arm resumes where it stopped when the script is started again;
# a finished arm is not trained again. PIPNET=build/pipnet, LFW68=../shared/data/lfw68, THREADS=0 (all cores).
set -eu
what=${1:-}
out=${2:-runs/$what}
pipnet=${PIPNET:-build/pipnet}
data=${LFW68:-../shared/data/lfw68}
case "$what" in table1 | table2 | table8) ;; *) echo "usage: tools/reproduce.sh table1|table2|table8 [OUT]"; exit 2 ;; esac
[[ -x "$pipnet" ]] || { echo "no $pipnet (build first, or set PIPNET=...)"; exit 2; }
export OMP_WAIT_POLICY=${OMP_WAIT_POLICY:-passive}  # shared machines: libgomp's spinning costs 2-17x under load
mkdir -p "$out"

if [[ "$what" == table8 ]]; then
  # The paper's Table 8 (FPS, GPU / CPU): PIP R18 114 / 27.8, R50 61 / 13.6; Map Net S4 102 / 11.9, S2 74 / 3.9,
  # S1 37.6 / 1.1 (its CPU: an i7; ours: whatever runs this, with THREADS threads).
  "$pipnet" bench --backbones resnet18,resnet50,mobilenetv2 --heads pip,coord,map4,map2,map1 --batches 1 \
    --threads "${THREADS:-0}" --no-peers | tee "$out/bench.txt"
  paper() { case "$1" in resnet18/pip) echo "27.8";; resnet50/pip) echo "13.6";; resnet18/map4) echo "11.9";;
            resnet18/map2) echo "3.9";; resnet18/map1) echo "1.1";; *) echo "-";; esac; }
  {
    echo "| backbone / head | params | b=1 ms | CPU FPS | paper CPU FPS |"
    echo "|---|---|---|---|---|"
    grep '^ROW ' "$out/bench.txt" | while read -r _ name params ms fps; do
      echo "| $name | $params | $ms | $fps | $(paper "$name") |"
    done
    echo
    echo "One \`pipnet bench\` run: 256x256, batch 1, BatchNorm folded, decoding included; $(grep -m1 '^pipnet bench' "$out/bench.txt" | sed 's/^pipnet bench: //')."
  } > "$out/table8.md"
  cat "$out/table8.md"
  exit 0
fi

budget=(--input-size "${INPUT:-128}" --width "${WIDTH:-16}" --batch "${BATCH:-16}" --epochs "${EPOCHS:-8}"
        --max-batches "${MAX_BATCHES:-50}" --lr "${LR:-1e-3}" --decay "${DECAY:-6}" --seed "${SEED:-1}"
        --threads "${THREADS:-0}" --eval-every 100000 --data "300w:$data/train" --test-data "300w:$data/test")
[[ -d "$data/train" ]] || { echo "no $data/train (set LFW68=DIR)"; exit 2; }
# arm name, preset, the paper's 300W NME (%) for it (seed paper, ResNet-18), flags of its own
if [[ "$what" == table1 ]]; then
  arms=("stride16 pip_16_16_60_r18_l2_l1_10_1_nb10 3.82" "stride32 pip_32_16_60_r18_l2_l1_10_1_nb10 3.52"
        "stride64 pip_64_16_60_r18_l2_l1_10_1_nb10 3.82" "stride128 pip_128_16_60_r18_l2_l1_10_1_nb10 4.90")
else
  # and PIP on MobileNetV2 (torchvision's layout, multiplier WIDTH/64) beside it, under the same budget
  arms=("coord coord_r18_l1 5.31" "map4 map_4_16_60_r18_l2 4.52" "map2 map_2_16_60_r18_l2 3.78"
        "map1 map_1_16_60_r18_l2 3.54" "pip pip_32_16_60_r18_l2_l1_10_1_nb10 3.52"
        "pip_mbv2 pip_32_16_60_r18_l2_l1_10_1_nb10 - --backbone mobilenetv2")
fi
for a in "${arms[@]}"; do
  read -r arm preset paper extra <<<"$a"
  run="$out/$arm"
  t0=$SECONDS
  if [[ ! -e "$run/model.safetensors" ]]; then
    echo "== $arm ($preset)" >&2
    if [[ -e "$run/checkpoint.safetensors" ]]; then
      nice "$pipnet" train --resume --out "$run" 2>>"$run.log"
    else
      # shellcheck disable=SC2086  # $extra: the arm's own flags, split on purpose
      nice "$pipnet" train --preset "$preset" "${budget[@]}" ${extra:-} --out "$run" 2>"$run.log"
    fi
    echo "$arm $((SECONDS - t0))" >> "$out/times.txt"
  fi
  nice "$pipnet" test --run "$run" --json "$run/test.json" >/dev/null 2>>"$run.log"
done

# The table: the merged block of each run's test.json ({"nme": ..., "fr_0.1": ..., "auc_0.1": ...}).
field() { sed -n 's/.*"merged": {[^}]*"'"$2"'": \([0-9.eE+-]*\).*/\1/p' "$1"; }
{
  echo "| arm | preset | lfw68 NME % | FR@0.1 % | AUC@0.1 | train s | paper 300W NME % |"
  echo "|---|---|---|---|---|---|---|"
  for a in "${arms[@]}"; do
    read -r arm preset paper extra <<<"$a"
    [[ -n "${extra:-}" ]] && preset="$preset $extra"
    j="$out/$arm/test.json"
    secs=$(awk -v a="$arm" '$1 == a {s += $2} END {print s + 0}' "$out/times.txt" 2>/dev/null || echo "?")
    awk -v arm="$arm" -v preset="$preset" -v paper="$paper" -v secs="$secs" -v n="$(field "$j" nme)" \
        -v fr="$(field "$j" fr_0.1)" -v auc="$(field "$j" auc_0.1)" \
        'BEGIN { printf "| %s | `%s` | %.3f | %.2f | %.4f | %s | %s |\n", arm, preset, 100 * n, 100 * fr, auc, secs, paper }'
  done
  echo
  echo "Budget: input ${INPUT:-128}, ResNet-18 width ${WIDTH:-16}, batch ${BATCH:-16}, ${EPOCHS:-8} epochs of" \
       "${MAX_BATCHES:-50} batches, Adam ${LR:-1e-3} decayed x0.1 after epoch ${DECAY:-6}, seed ${SEED:-1};" \
       "lfw68 test set (600 faces), inter-ocular NME, the merged (neighbour-averaged) prediction for PIP."
  echo "The paper's column is 300W full (ResNet-18 at width 64, 256x256, 60 epochs; Coord Net 120): a reference for the" \
       "order, not the values."
} > "$out/$what.md"
cat "$out/$what.md"
runs=() labels=()
for a in "${arms[@]}"; do read -r arm _ <<<"$a"; runs+=("$out/$arm"); labels+=("$arm"); done
"$pipnet" ced --runs "$(IFS=,; echo "${runs[*]}")" --labels "$(IFS=,; echo "${labels[*]}")" --out "$out/$what.png" \
  --title "$what: CED on lfw68 test (merged), one budget" >/dev/null
echo "wrote $out/$what.md and $out/$what.png"
