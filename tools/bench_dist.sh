#!/usr/bin/env bash
# Data-parallel throughput on one machine: R ranks x T/R threads beside 1 rank x T threads, ResNet-18 PIP Net at
# batch 16 (256x256, synthetic faces), each configuration run REPS times in turn (A B A B ...). Prints the training
# images/s of every run (from log.csv: the epoch's images over its seconds, start-up excluded), their medians, the
# ratio, and the share of the step the ranks spent waiting for the gradient all-reduce.
#   tools/bench_dist.sh [PIPNET=build/pipnet] [RANKS=2] [THREADS=2] [REPS=3] [BATCHES=8] [BACKBONE=resnet18]
set -euo pipefail
pipnet=${1:-build/pipnet} R=${2:-2} T=${3:-2} reps=${4:-3} nb=${5:-8} bb=${6:-resnet18}
command -v mpirun >/dev/null || { echo "needs mpirun (apt-get install openmpi-bin libopenmpi-dev)"; exit 2; }
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1
dir=$(mktemp -d /tmp/bench_dist.XXXX)
trap 'rm -rf "$dir"' EXIT
common=(--data synth:$((16 * nb)) --test-data "" --backbone "$bb" --batch 16 --epochs 1 --workers 1)
ips() { awk -F, 'NR == 2 { print $10 }' "$1/log.csv"; }
median() { sort -g | awk '{ a[NR] = $1 } END { print (NR % 2) ? a[(NR + 1) / 2] : (a[NR / 2] + a[NR / 2 + 1]) / 2 }'; }
one=() many=() wait=()
for ((k = 0; k < reps; k++)); do
  rm -rf "$dir/a" "$dir/b"
  mpirun -np "$R" --oversubscribe --bind-to none "$pipnet" train "${common[@]}" --threads $((T / R)) --out "$dir/a" 2>"$dir/a.log"
  many+=("$(ips "$dir/a")")
  wait+=("$(sed -n 's/.*all-reduce: \([0-9.]*\)%.*/\1/p' "$dir/a.log")")
  "$pipnet" train "${common[@]}" --threads "$T" --out "$dir/b" 2>/dev/null
  one+=("$(ips "$dir/b")")
  echo "run $((k + 1)): $R ranks x $((T / R)) threads ${many[-1]} img/s (all-reduce wait ${wait[-1]}%), 1 rank x $T threads ${one[-1]} img/s"
done
m1=$(printf '%s\n' "${many[@]}" | median) m0=$(printf '%s\n' "${one[@]}" | median) w=$(printf '%s\n' "${wait[@]}" | median)
echo "median: $R ranks x $((T / R)) threads $m1 img/s, 1 rank x $T threads $m0 img/s, ratio $(awk -v a="$m1" -v b="$m0" 'BEGIN { printf "%.3f", a / b }'); all-reduce wait $w% of the epoch"
