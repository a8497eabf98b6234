#!/usr/bin/env bash
# pipnet infer VIDEO (issue #13): a clip made by ffmpeg from two lfw68 photos (the first repeated under fresh noise
# in every frame, a still face seen by a noisy sensor; then a cut to the second) goes in; out come one JSON line per
# frame and an annotated video with as many frames. On the still face every landmark movement is jitter, and
# --smooth must lower it (mean |delta| between consecutive frames) by at least 20%. Bad videos give one line and
# exit 2. Skips (77) without ffmpeg, python3 or ../shared/data.
# Usage: test_video.sh PATH/TO/pipnet
set -u
pipnet=$1
shared=$(dirname "$0")/../../shared/data
for p in ffmpeg ffprobe; do command -v $p >/dev/null || { echo "skipped: $p is not installed"; exit 77; }; done
[[ -x /usr/bin/python3 ]] || { echo "skipped: /usr/bin/python3 absent"; exit 77; }
[[ -f "$shared/faceboxes/FaceBoxesV2.pth" && -d "$shared/lfw68/test" ]] || { echo "skipped: ../shared/data absent"; exit 77; }
source "$(dirname "$0")/cli_lib.sh"  # dir, fail, expect_error

# A small landmark run: any trained network will do, the test is about the video path and the smoothing.
"$pipnet" train --data synth:32 --width 4 --input-size 64 --batch 8 --epochs 1 --threads 2 --workers 1 \
  --out "$dir/run" 2>"$dir/train.log" || fail "tiny run: $(tail -2 "$dir/train.log")"

# 16 frames (1.6 s at 10 fps) of a still face under noise, then 8 of another face.
a="$shared/lfw68/test/Aaron_Patterson_0001.jpg" b="$shared/lfw68/test/Aaron_Pena_0001.jpg"
ffmpeg -v error -y -loop 1 -framerate 10 -t 1.6 -i "$a" -loop 1 -framerate 10 -t 0.8 -i "$b" -filter_complex \
  "[0]crop=240:240:5:5,noise=alls=12:allf=t[x];[1]crop=240:240:5:5[y];[x][y]concat=n=2:v=1[v]" \
  -map "[v]" -c:v libx264 -pix_fmt yuv420p -r 10 "$dir/clip.mp4" || fail "ffmpeg could not make the clip"
count() { ffprobe -v error -count_frames -select_streams v:0 -show_entries stream=nb_read_frames -of csv=p=0 "$1"; }
n=$(count "$dir/clip.mp4")
[[ $n -ge 20 ]] || fail "the clip has $n frames"

for mode in raw smooth; do
  flags=(); [[ $mode == smooth ]] && flags=(--smooth)
  "$pipnet" infer "$dir/clip.mp4" --run "$dir/run" --out "$dir/$mode" --threads 2 "${flags[@]}" >"$dir/$mode.stdout" \
    2>"$dir/$mode.log" || fail "infer $mode: $(tail -2 "$dir/$mode.log")"
  [[ $(wc -l <"$dir/$mode.stdout") == "$n" ]] || fail "$mode: $(wc -l <"$dir/$mode.stdout") JSON lines for $n frames"
  cmp -s "$dir/$mode.stdout" "$dir/$mode/clip.jsonl" || fail "$mode: clip.jsonl differs from what was printed"
  m=$(count "$dir/$mode/clip_landmarks.mp4") || fail "$mode: ffprobe cannot read the annotated video"
  [[ $m == "$n" ]] || fail "$mode: the annotated video has $m frames, the clip $n"
  ls "$dir/$mode" | grep -q tmp && fail "$mode: a temporary file was left: $(ls "$dir/$mode")"
done
grep -q "frames/s" "$dir/raw.log" || fail "no rate in the summary: $(cat "$dir/raw.log")"

/usr/bin/python3 "$(dirname "$0")/../tools/video_jitter.py" "$dir/raw.stdout" "$dir/smooth.stdout" || fail "the JSON lines or the jitter"

# bad videos: corrupt, no frames, a folder named like a video, ffmpeg missing; each names the file
head -c 4000 /dev/urandom >"$dir/bad.mp4"
expect_error "corrupt video" "bad.mp4: not a video ffmpeg can read" "$pipnet" infer "$dir/bad.mp4" --run "$dir/run" --out "$dir/e1"
printf 'YUV4MPEG2 W64 H48 F10:1 Ip A1:1 C420jpeg\n' >"$dir/empty.y4m"
expect_error "video without frames" "empty.y4m: the video has no frames" "$pipnet" infer "$dir/empty.y4m" --run "$dir/run" --out "$dir/e2"
ls "$dir/e2" 2>/dev/null | grep -q . && fail "a video without frames left files: $(ls "$dir/e2")"
expect_error "no ffmpeg" "apt-get install ffmpeg" env PATH=/nonexistent "$pipnet" infer "$dir/clip.mp4" --run "$dir/run"
expect_error "--smooth on a photo" "videos only" "$pipnet" infer "$a" --run "$dir/run" --smooth
expect_error "--box on a video" "always detected" "$pipnet" infer "$dir/clip.mp4" --run "$dir/run" --box 0,0,10,10
echo "ok: bad videos, a missing ffmpeg and misplaced flags give one line"
echo "1 passed, 0 failed"
