#!/usr/bin/env python3
"""tests/test_video.sh's reader of `pipnet infer VIDEO` output: checks the JSON Lines of a raw and a --smooth run
(frame numbers, times, one tracked face of 68 points on the still part before the cut at 1.55 s) and that --smooth
lowers the jitter (mean |delta| of a landmark coordinate between consecutive frames) by at least 20%.
  video_jitter.py RAW.jsonl SMOOTH.jsonl"""
import json, sys
def jitter(path):
    frames = [json.loads(l) for l in open(path)]
    assert [f["frame"] for f in frames] == list(range(len(frames)))
    assert abs(frames[10]["time"] - 1.0) < 1e-3, frames[10]["time"]
    still = [f["faces"] for f in frames if f["time"] < 1.55]  # the still face, before the cut
    assert all(len(f) == 1 for f in still), [len(f) for f in still]
    assert len(still[0][0]["points"]) == 68 and len(still[0][0]["confidence"]) == 68
    assert len({f[0]["track"] for f in still}) == 1, "the still face changed track"
    d = []
    for p, q in zip(still, still[1:]):
        a, b = p[0]["points"], q[0]["points"]
        d.append(sum(abs(u - v) for s, t in zip(a, b) for u, v in zip(s, t)) / (2 * len(a)))
    return sum(d) / len(d)
raw, smooth = jitter(sys.argv[1]), jitter(sys.argv[2])
print("jitter on the still face (mean |delta| of a landmark coordinate between frames): raw %.3f px, --smooth %.3f px (%.0f%% less)" % (raw, smooth, 100 * (1 - smooth / raw)))
assert raw > 0.05, "the noise should move the landmarks a little"
assert smooth < 0.8 * raw, (raw, smooth)
