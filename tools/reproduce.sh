#!/usr/bin/env bash
# Reproductions of the paper's tables on the real-photo set lfw68 (../shared/data/lfw68: 3600 training and 600 test
# faces, 68 dlib points), each under one budget that every arm shares, so that the comparison is fair even though it
# is far smaller than the paper's.
#
#   tools/reproduce.sh table2 [OUT]   the heads (the seed paper's head comparison, §4.3): Coord Net, Map Net at net
#                                     stride 4 / 2 / 1 and PIP, all ResNet-18 from scratch, then a markdown table of
#                                     test NME / FR@0.1 / AUC@0.1 beside the paper's 300W numbers -> OUT/table2.md
#
# The budget (environment): INPUT=128 crops, WIDTH=64 (ResNet-18 as torchvision), BATCH=16, EPOCHS=12 "epochs" of
# MAX_BATCHES=50 batches (9,600 images: what trained the shipped models/pipnet_r18_lfw68), Adam LR=2e-4, x0.1 after
# DECAY=9, SEED=1. Each arm starts from its paper preset (coord_r18_l1, map_{4,2,1}_16_60_r18_l2,
# pip_32_16_60_r18_l2_l1_10_1_nb10) for its head and loss, and the budget then overrides the preset's batch, epochs
# and schedule (Coord Net's own recipe is batch 32 for 120 epochs). Only the heads differ.
# A killed arm resumes where it stopped when the script is started again; a finished arm is not trained again.
# PIPNET=build/pipnet, LFW68=../shared/data/lfw68. Map Net at stride 1 holds 256 channels at INPUT x INPUT per
# layer: at 128 about 1.5 GB per batch of 16 in training, and it is the slowest arm.
set -eu
what=${1:-}
out=${2:-runs/table2}
pipnet=${PIPNET:-build/pipnet}
data=${LFW68:-../shared/data/lfw68}
[[ "$what" == table2 ]] || { echo "usage: tools/reproduce.sh table2 [OUT]   (the only table so far)"; exit 2; }
[[ -d "$data/train" ]] || { echo "no $data/train (set LFW68=DIR)"; exit 2; }
[[ -x "$pipnet" ]] || { echo "no $pipnet (build first, or set PIPNET=...)"; exit 2; }
budget=(--input-size "${INPUT:-128}" --width "${WIDTH:-64}" --batch "${BATCH:-16}" --epochs "${EPOCHS:-12}"
        --max-batches "${MAX_BATCHES:-50}" --lr "${LR:-2e-4}" --decay "${DECAY:-9}" --seed "${SEED:-1}"
        --eval-every 100000 --data "300w:$data/train" --test-data "300w:$data/test")
export OMP_WAIT_POLICY=${OMP_WAIT_POLICY:-passive}  # shared machines: see tools/distill_lfw68.sh
mkdir -p "$out"
# arm name, preset, the paper's 300W NME (%) for that head (seed paper, ResNet-18)
arms=("coord coord_r18_l1 5.31" "map4 map_4_16_60_r18_l2 4.52" "map2 map_2_16_60_r18_l2 3.78"
      "map1 map_1_16_60_r18_l2 3.54" "pip pip_32_16_60_r18_l2_l1_10_1_nb10 3.52")
for a in "${arms[@]}"; do
  read -r arm preset paper <<<"$a"
  run="$out/$arm"
  t0=$SECONDS
  if [[ ! -e "$run/model.safetensors" ]]; then
    if [[ -e "$run/checkpoint.safetensors" ]]; then
      nice "$pipnet" train --resume --out "$run" 2>>"$run.log"
    else
      nice "$pipnet" train --preset "$preset" "${budget[@]}" --out "$run" 2>"$run.log"
    fi
    echo "$arm $((SECONDS - t0))" >> "$out/times.txt"
  fi
  nice "$pipnet" test --run "$run" --json "$run/test.json" >/dev/null 2>>"$run.log"
done

# The table: the merged block of each run's test.json ({"nme": ..., "fr_0.1": ..., "auc_0.1": ...}).
field() { sed -n 's/.*"merged": {[^}]*"'"$2"'": \([0-9.eE+-]*\).*/\1/p' "$1"; }
{
  echo "| head | preset | lfw68 NME % | FR@0.1 % | AUC@0.1 | train s | paper 300W NME % |"
  echo "|---|---|---|---|---|---|---|"
  for a in "${arms[@]}"; do
    read -r arm preset paper <<<"$a"
    j="$out/$arm/test.json"
    secs=$(awk -v a="$arm" '$1 == a {s += $2} END {print s + 0}' "$out/times.txt" 2>/dev/null || echo "?")
    awk -v arm="$arm" -v preset="$preset" -v paper="$paper" -v secs="$secs" -v n="$(field "$j" nme)" \
        -v fr="$(field "$j" fr_0.1)" -v auc="$(field "$j" auc_0.1)" \
        'BEGIN { printf "| %s | `%s` | %.3f | %.2f | %.4f | %s | %s |\n", arm, preset, 100 * n, 100 * fr, auc, secs, paper }'
  done
  echo
  echo "Budget: input ${INPUT:-128}, width ${WIDTH:-64}, batch ${BATCH:-16}, ${EPOCHS:-12} epochs of ${MAX_BATCHES:-50} batches," \
       "Adam ${LR:-2e-4} decayed x0.1 after epoch ${DECAY:-9}, seed ${SEED:-1}; lfw68 test set (600 faces), inter-ocular NME."
  echo "The paper's column is 300W full (ResNet-18, 256x256, 60 epochs; Coord Net 120): a reference for the order, not the values."
} > "$out/table2.md"
cat "$out/table2.md"
