#!/usr/bin/env bash
# pipnet distill end to end on a tiny synthetic set: a distillation killed while it pseudo-labels and again while
# a later round trains, then resumed, ends with the same pseudo-labels, weights and table as an uninterrupted one
# (also after a real SIGKILL); --labelled-fraction writes a reusable split; bad input gives one line and exit 2;
# pipnet probe writes its pictures and numbers.
# Usage: test_distill.sh PATH/TO/pipnet
set -u
pipnet=$1
source "$(dirname "$0")/cli_lib.sh"  # dir, fail, expect_error
tiny=(--data synth:32 --unlabelled synth:24:32 --test-data synth-test:8 --width 4 --input-size 64 --batch 8 --epochs 2
      --lr 1e-3 --seed 3 --threads 2 --workers 1 --eval-every 9 --rounds 2 --transform translate+flip)
same() {  # the two distillations agree on every pseudo-label, the final weights and the table
  local a=$1 b=$2 r f
  for r in 1 2; do
    for f in "$a"/round$r/pseudo/*.pts; do cmp -s "$f" "$b/round$r/pseudo/$(basename "$f")" || fail "$b: $(basename "$f") of round $r differs"; done
  done
  cmp -s "$a/round2/model.safetensors" "$b/round2/model.safetensors" || fail "$b: final weights differ from the uninterrupted run"
  cmp -s "$a/results.json" "$b/results.json" || fail "$b: results.json differs: $(cat "$b/results.json")"
}

# 1. uninterrupted
"$pipnet" distill "${tiny[@]}" --out "$dir/a" >"$dir/a.out" 2>"$dir/a.log" || fail "uninterrupted distillation: $(tail -3 "$dir/a.log")"
# 24 unlabelled faces: each gets a pseudo-label, or is counted as left out (a tiny model may put one off the picture)
left=$(sed -n 's/^\([0-9]*\) of 24 faces left out of round 1.*/\1/p' "$dir/a.log")
[[ $(( $(ls "$dir"/a/round1/pseudo/*.pts | wc -l) + ${left:-0} )) == 24 ]] ||
  fail "round 1 should hold 24 pseudo-labels, less those left out (${left:-0})"
grep -q "^2 " "$dir/a.out" || fail "no table row for round 2: $(cat "$dir/a.out")"
python3 -c 'import json,sys; d=json.load(open(sys.argv[1])); assert len(d["rounds"]) == 3' "$dir/a/results.json" 2>/dev/null ||
  [[ ! -x /usr/bin/python3 ]] || fail "results.json: $(cat "$dir/a/results.json")"
[[ -s "$dir/a/results.png" && -s "$dir/a/round2/pseudo_labels.png" ]] || fail "no results.png or contact sheet"
"$pipnet" test --run "$dir/a/round1" --json "$dir/t.json" --ced "$dir/t.png" >/dev/null 2>&1 || fail "a round is not a run directory pipnet test reads"
echo "ok: a tiny distillation writes 24 pseudo-labels per round, the table (stdout, JSON, PNG), and run directories"

# 2. killed after 17 pseudo-labels of round 1, resumed; killed at step 9 of round 2 (epoch 2 of 7 batches each)'s training, resumed
"$pipnet" distill "${tiny[@]}" --out "$dir/b" --die-at 1:label:17 >/dev/null 2>"$dir/b.log"; rc=$?
[[ $rc == 137 ]] || fail "expected the simulated kill (137), got $rc: $(tail -2 "$dir/b.log")"
[[ ! -e "$dir/b/round1/pseudo.txt" ]] || fail "an unfinished labelling must not leave pseudo.txt"
"$pipnet" distill --resume --out "$dir/b" --die-at 2:step:9 >/dev/null 2>"$dir/b2.log"; rc=$?
[[ $rc == 137 ]] || fail "expected the second simulated kill (137), got $rc: $(tail -2 "$dir/b2.log")"
grep -q "round 0: trained already" "$dir/b2.log" || fail "resume retrained round 0: $(head -3 "$dir/b2.log")"
"$pipnet" distill --resume --out "$dir/b" --threads 2 >/dev/null 2>"$dir/b3.log" || fail "resume: $(tail -3 "$dir/b3.log")"
grep -q "resuming .*round2 after epoch 1" "$dir/b3.log" || fail "round 2 did not resume from its checkpoint: $(grep -m2 round "$dir/b3.log")"
same "$dir/a" "$dir/b"
echo "ok: killed while pseudo-labelling and while training, resumed: pseudo-labels, weights and table identical"

# 3. a real SIGKILL while round 1 labels or trains
"$pipnet" distill "${tiny[@]}" --out "$dir/k" >/dev/null 2>"$dir/k.log" &
pid=$!
for _ in $(seq 1 600); do grep -q "round 1" "$dir/k.log" 2>/dev/null && break; sleep 0.05; done
kill -9 $pid 2>/dev/null; wait $pid 2>/dev/null
"$pipnet" distill --resume --out "$dir/k" >/dev/null 2>"$dir/k2.log" || fail "resume after SIGKILL: $(tail -3 "$dir/k2.log")"
same "$dir/a" "$dir/k"
echo "ok: SIGKILL during round 1, resumed: identical to the uninterrupted distillation"

# 4. a resumed distillation keeps its settings; a finished one resumed with more rounds goes on
expect_error "resume with another transform" "keeps its transform" "$pipnet" distill --resume --out "$dir/a" --transform rotate
expect_error "resume changing the model" "keeps its width" "$pipnet" distill --resume --out "$dir/a" --width 8
expect_error "a second distillation into one folder" "already holds a distillation" "$pipnet" distill "${tiny[@]}" --out "$dir/a"
echo "ok: --resume refuses other settings; a folder holds one distillation"

# 5. --labelled-fraction: a split by identity into reusable lists (names carry identities: P_001_0001 ...)
mkdir -p "$dir/faces"
echo "0 1 2" > "$dir/flip3.txt"
"$pipnet" synth --n 1 --size 48 --out "$dir/one.png" >/dev/null || fail "synth"
for p in 1 2 3 4 5 6 7 8 9 10 11 12; do
  for j in 1 2; do
    n=$(printf 'P_%03d_%04d' $p $j)
    cp "$dir/one.png" "$dir/faces/$n.png"
    printf 'version: 1\nn_points: 3\n{\n10 12\n30 11\n20 30\n}\n' > "$dir/faces/$n.pts"
  done
done
"$pipnet" distill --data "300w:$dir/faces" --labelled-fraction 0.25 --split-seed 4 --rounds 0 --test-data "" --num-nb 2 --augment off --flip-table "$dir/flip3.txt" --width 4 \
  --input-size 64 --batch 2 --epochs 1 --threads 2 --out "$dir/s" >/dev/null 2>"$dir/s.log" || fail "split: $(tail -2 "$dir/s.log")"
[[ $(wc -l < "$dir/s/labelled.txt") == 6 && $(wc -l < "$dir/s/unlabelled.txt") == 18 ]] || fail "split sizes: $(wc -l "$dir"/s/*.txt)"
ids() { sed 's#.*/##; s/_[0-9]*\.png .*//' "$1" | sort -u; }
[[ -z $(comm -12 <(ids "$dir/s/labelled.txt") <(ids "$dir/s/unlabelled.txt")) ]] || fail "a person on both sides of the split"
"$pipnet" distill --data "300w:$dir/faces" --labelled-fraction 0.25 --split-seed 4 --rounds 0 --test-data "" --num-nb 2 --augment off --flip-table "$dir/flip3.txt" --width 4 \
  --input-size 64 --batch 2 --epochs 1 --threads 2 --out "$dir/s2" >/dev/null 2>&1 || fail "split again"
cmp -s "$dir/s/labelled.txt" "$dir/s2/labelled.txt" || fail "the same seed made another split"
"$pipnet" test --run "$dir/s/round0" --data "pts:$dir/s/unlabelled.txt" --json "$dir/s.json" --ced "$dir/s.png" >/dev/null 2>&1 ||
  fail "the unlabelled list is not a reusable data spec"
echo "ok: --labelled-fraction splits by identity, deterministically, into lists that are data specs"

# 6. bad input: one line, exit 2, nothing written
expect_error "fraction 0" "--labelled-fraction 0: expected a number in (0, 1)" "$pipnet" distill --data "300w:$dir/faces" --labelled-fraction 0 --out "$dir/z"
expect_error "fraction 1" "expected a number in (0, 1)" "$pipnet" distill --data "300w:$dir/faces" --labelled-fraction 1 --out "$dir/z"
expect_error "fraction 1.5" "--labelled-fraction" "$pipnet" distill --data "300w:$dir/faces" --labelled-fraction 1.5 --out "$dir/z"
expect_error "fraction of synthetic faces" "splits a set of images with .pts files" "$pipnet" distill --data synth:40 --labelled-fraction 0.5 --out "$dir/z"
expect_error "no unlabelled set" "--unlabelled SPEC" "$pipnet" distill --data synth:40 --out "$dir/z"
expect_error "bad unlabelled spec" "unlabelled data 'faces:/x'" "$pipnet" distill --data synth:40 --unlabelled faces:/x --out "$dir/z"
mkdir -p "$dir/nothing"
expect_error "empty unlabelled folder" "no face crops" "$pipnet" distill --data synth:40 --unlabelled "crops:$dir/nothing" --out "$dir/z"
: > "$dir/none.txt"
expect_error "empty box list" "none.txt: no boxes" "$pipnet" distill --data synth:40 --unlabelled "boxes:$dir/none.txt:$dir/faces" --out "$dir/z"
expect_error "bad transform" "transform 'shift'" "$pipnet" distill --data synth:40 --unlabelled synth:8:40 --transform shift --out "$dir/z"
expect_error "bad retrain" "--retrain 'later'" "$pipnet" distill --data synth:40 --unlabelled synth:8:40 --retrain later --out "$dir/z"
expect_error "bad shifts" "shifts '20,x'" "$pipnet" distill --data synth:40 --unlabelled synth:8:40 --shifts 20,x --out "$dir/z"
expect_error "no --out" "--out DIR is required" "$pipnet" distill --data synth:40 --unlabelled synth:8:40
expect_error "unknown flag" "unknown option --bogus" "$pipnet" distill --bogus 1
[[ ! -e "$dir/z" ]] || fail "a refused distillation left $dir/z behind"
"$pipnet" distill --help | grep -q -- "--labelled-fraction F" || fail "distill --help lacks --labelled-fraction"
echo "ok: bad fractions, specs, empty unlabelled sets and flags give one line and exit 2, and write nothing"
# 7. pipnet probe, at a tiny size: both pictures and the numbers (the mean-face claim needs minutes, not seconds)
"$pipnet" probe --out "$dir/probe" --data synth:32 --width 4 --epochs 1 --max-batches 2 --threads 2 >"$dir/probe.out" 2>"$dir/probe.log" ||
  fail "probe: $(tail -2 "$dir/probe.log")"
[[ -s "$dir/probe/black.png" && -s "$dir/probe/noface.png" ]] || fail "probe pictures missing"
grep -q '"black_prediction_nme_to_mean_face"' "$dir/probe/probe.json" && grep -q '"no_face_nme_to_mean_face"' "$dir/probe/probe.json" ||
  fail "probe.json: $(cat "$dir/probe/probe.json")"
expect_error "probe without --out" "--out DIR is required" "$pipnet" probe
expect_error "probe on a missing run" "not a run directory" "$pipnet" probe --out "$dir/p2" --run "$dir/nope"
"$pipnet" probe --help | grep -q -- "--max-batches N" || fail "probe --help lacks --max-batches"
echo "ok: pipnet probe draws black.png and noface.png and writes probe.json"
echo "1 passed, 0 failed"
