#!/usr/bin/env bash
# Data-parallel training under mpirun (pipnet/dist.h), end to end on a tiny synthetic run:
#   1. 2 ranks with --sync-bn train to the weights of 1 process on the same global batch (tolerance below);
#      without --sync-bn they differ measurably (so the comparison can tell) and the run still learns;
#   2. a run trained on 2 ranks resumes on 1 and ends where 1 process would;
#   3. pipnet test and pipnet infer DIR split over 2 ranks give one process's scores and records;
#   4. a rank that dies stops the job; a rank that stalls makes the others stop with a message after comm_timeout.
# Tolerance: the ranks add the same numbers in a different order (each rank's half of the batch, then the
# all-reduce), so float rounding differs by ~1e-7 relative per step, and Adam can amplify it where a gradient is
# near zero. The check is |A - B| < 1e-4 |A - BEFORE|: the two runs agree to 0.01% of how far training moved them.
# Usage: test_mpi.sh PATH/TO/pipnet PATH/TO/weights_diff MPI_BUILT(ON|OFF). Exit 77 (skipped) without mpirun/MPI.
set -u
pipnet=$1 wdiff=$2 built=$3
command -v mpirun >/dev/null || { echo "skipped: no mpirun (apt-get install openmpi-bin libopenmpi-dev)"; exit 77; }
[[ $built == ON || $built == TRUE || $built == 1 ]] || { echo "skipped: pipnet was built without MPI"; exit 77; }
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1 OMPI_MCA_rmaps_base_oversubscribe=1
mpi=(mpirun -np 2 --oversubscribe --bind-to none)
dir=$(mktemp -d /tmp/pipnet_mpi.XXXX)
trap 'rm -rf "$dir"' EXIT
fail() { echo "FAIL: $*"; exit 1; }
common=(--data synth:48 --test-data synth-test:10 --width 8 --input 64 --batch 8 --epochs 2 --max-batches 3
        --lr 1e-3 --seed 5 --workers 1 --threads 1)
ratio() { "$wdiff" "$dir/before/model.safetensors" "$1/model.safetensors" "$2/model.safetensors" | sed 's/.*ratio \([^ ]*\).*/\1/'; }
below() { awk -v a="$1" -v b="$2" 'BEGIN { exit !(a < b) }'; }

"$pipnet" train "${common[@]}" --lr 0 --epochs 1 --max-batches 1 --out "$dir/before" 2>"$dir/before.log" ||
  fail "reference run failed: $(tail -3 "$dir/before.log")"
"$pipnet" train "${common[@]}" --out "$dir/one" 2>"$dir/one.log" || fail "1 process failed: $(tail -3 "$dir/one.log")"
"${mpi[@]}" "$pipnet" train "${common[@]}" --sync-bn on --out "$dir/two" >"$dir/two.log" 2>&1 ||
  fail "2 ranks failed: $(tail -5 "$dir/two.log")"
grep -q "data-parallel over 2 ranks (mpi): 4 images per rank per step, synchronised BatchNorm" "$dir/two.log" ||
  fail "no data-parallel banner: $(head -5 "$dir/two.log")"
[[ $(grep -c "training resnet18" "$dir/two.log") == 1 ]] || fail "more than rank 0 printed the banner"
r_sync=$(ratio "$dir/one" "$dir/two")
below "$r_sync" 1e-4 || fail "2 ranks with --sync-bn differ from 1 process by $r_sync of the training movement"
echo "ok: 2 ranks, sync-bn: |A-B| / |A-BEFORE| = $r_sync (< 1e-4)"

"${mpi[@]}" "$pipnet" train "${common[@]}" --epochs 4 --out "$dir/nosync" >"$dir/nosync.log" 2>&1 ||
  fail "2 ranks without sync-bn failed: $(tail -5 "$dir/nosync.log")"
"$pipnet" train "${common[@]}" --epochs 4 --out "$dir/one4" 2>/dev/null || fail "1 process, 4 epochs failed"
r_nosync=$(ratio "$dir/one4" "$dir/nosync")
below "$(awk -v a="$r_sync" 'BEGIN { print 10 * a }')" "$r_nosync" ||
  fail "per-rank BatchNorm should differ visibly from the whole batch's (ratio $r_nosync vs $r_sync)"
first=$(awk -F, 'NR == 2 { print $3 }' "$dir/nosync/log.csv") last=$(awk -F, 'NR == 5 { print $3 }' "$dir/nosync/log.csv")
below "$last" "$first" || fail "without sync-bn the loss did not fall: epoch 1 $first, epoch 4 $last"
echo "ok: 2 ranks, per-rank BN: ratio $r_nosync (the comparison tells them apart); loss $first -> $last"

"${mpi[@]}" "$pipnet" train "${common[@]}" --sync-bn on --epochs 1 --out "$dir/re" >"$dir/re.log" 2>&1 ||
  fail "2-rank first half failed: $(tail -5 "$dir/re.log")"
"$pipnet" train --resume --out "$dir/re" --epochs 2 2>"$dir/re2.log" || fail "resume on 1 rank failed: $(tail -3 "$dir/re2.log")"
r_re=$(ratio "$dir/one" "$dir/re")
below "$r_re" 1e-4 || fail "trained on 2 ranks, resumed on 1: differs from 1 process by $r_re"
echo "ok: epoch 1 on 2 ranks, epoch 2 on 1 rank: ratio $r_re against 1 process"

# distributed test and infer: each rank takes a slice; the scores and the records equal one process's
"$pipnet" test --run "$dir/one" --json "$dir/t1.json" >/dev/null 2>&1 || fail "test, 1 process"
"${mpi[@]}" "$pipnet" test --run "$dir/one" --json "$dir/t2.json" >"$dir/t2.log" 2>&1 || fail "test on 2 ranks: $(tail -3 "$dir/t2.log")"
cmp <(grep -v ms_per "$dir/t1.json") <(grep -v ms_per "$dir/t2.json") || fail "test on 2 ranks scores differently"
mkdir -p "$dir/img"
for k in 1 2 3 4 5; do "$pipnet" synth --n 1 --size 64 --seed $k --out "$dir/img/f$k.png" >/dev/null || fail "synth"; done
"$pipnet" infer "$dir/img" --run "$dir/one" --whole-image --out "$dir/i1" >"$dir/i1.json" 2>/dev/null || fail "infer, 1 process"
"${mpi[@]}" "$pipnet" infer "$dir/img" --run "$dir/one" --whole-image --out "$dir/i2" >"$dir/i2.json" 2>"$dir/i2.log" ||
  fail "infer on 2 ranks: $(tail -3 "$dir/i2.log")"
strip() { sed 's/"ms": [0-9.]*//g' "$1"; }
cmp <(strip "$dir/i1.json") <(strip "$dir/i2.json") || fail "infer on 2 ranks gives other records"
[[ $(ls "$dir/i2" | wc -l) == 5 ]] || fail "infer on 2 ranks drew $(ls "$dir/i2" | wc -l) of 5 images"
echo "ok: test and infer split over 2 ranks give one process's scores and records"

start=$SECONDS
"${mpi[@]}" "$pipnet" train "${common[@]}" --epochs 3 --die-at-step 2 --die-rank 1 --comm-timeout 30 --out "$dir/die" \
  >"$dir/die.log" 2>&1 && fail "the job went on after a rank died"
(( SECONDS - start < 30 )) || fail "a dead rank took $((SECONDS - start)) s to stop the job"
grep -qi "rank 1\|exited\|exit code" "$dir/die.log" || fail "no message names the dead rank: $(tail -5 "$dir/die.log")"
echo "ok: rank 1 killed at step 2: the job stopped in $((SECONDS - start)) s"

start=$SECONDS
timeout 120 "${mpi[@]}" "$pipnet" train "${common[@]}" --epochs 3 --stall-at-step 2 --die-rank 1 --comm-timeout 5 \
  --out "$dir/stall" >"$dir/stall.log" 2>&1 && fail "the job went on after a rank stalled"
took=$((SECONDS - start))
grep -q "rank 0 of 2: .* did not complete within 5 s (comm_timeout): another rank has died or stalled" "$dir/stall.log" ||
  fail "no timeout message: $(tail -5 "$dir/stall.log")"
(( took < 60 )) || fail "a stalled rank took $took s to stop the job"
echo "ok: rank 1 stalled at step 2: rank 0 gave up after comm_timeout 5 s, the job ended in $took s"
