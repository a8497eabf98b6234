#!/usr/bin/env python3
"""ONNX Runtime's per-layer profile of a PIP Net, to set beside `pipnet bench --profile`'s table. Reference only.

  /usr/bin/python3 tools/profile_ort.py --backbone resnet18|resnet50 --batch 1 --threads 2 [--input 256] [--runs 20]
                                        [--warmup 2] [--dir DIR]

Builds the network tools/bench_peers.py times (make_golden.PipNet(backbone, 64, 68, 10, 32), eval mode; random
weights, or pipnet bench's DIR/weights.safetensors with --dir), exports it the same way (ONNX opset 13, dynamic
batch) to a temporary folder and runs it in onnxruntime-node (tools/profile_ort.js) with the same session options as
tools/bench_ort.js (intra-op threads = --threads, inter-op 1, graph optimisation 'all', sequential) plus ORT's
profiler: --warmup runs, then --runs runs at --batch. From the trace it sums each node's "<node>_kernel_time" over the
timed runs (warm-up runs left out, by their "model_run" spans) and prints one row per node, slowest first:
  ms/run, % of the kernels' sum, the kernel (ORT's op type after fusion: FusedConv = Conv+activation; "nchwc" for
  nodes ORT moved to its NCHWc blocked layout, whose Conv may carry a fused activation the trace does not name (a
  node named .../relu/Relu_output_0_nchwc fused that Relu); "+sum" when a residual Add is fused in as the Conv's 4th
  input), the input, weight and output shapes as the trace gives them (logical NCHW), and the node name.
Then the kernels' sum per run, ORT's own model_run time per run, and the wall time per session.run measured in node.
"""
import argparse
import glob
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile

import torch

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
from bench_peers import HEADS, read_safetensors  # noqa: E402
from make_golden import PipNet  # noqa: E402


def shape(t):  # {"float": [1, 64, 64, 64]} -> "1x64x64x64"
    return "x".join(str(d) for d in next(iter(t.values()))) if t else "-"


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--backbone", default="resnet18")
    ap.add_argument("--batch", type=int, default=1)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--input", type=int, default=256)
    ap.add_argument("--runs", type=int, default=20)
    ap.add_argument("--warmup", type=int, default=2)
    ap.add_argument("--dir", help="pipnet bench's folder: load its weights.safetensors")
    a = ap.parse_args()
    if shutil.which("node") is None:
        sys.exit("profile_ort: node not found (tools/install_deps.sh --ref installs it)")
    if not os.path.isdir(os.path.join(HERE, "node_modules", "onnxruntime-node")):
        sys.exit("profile_ort: tools/node_modules/onnxruntime-node missing (tools/install_deps.sh --ref installs it)")

    net = PipNet(a.backbone, 64, 68, 10, 32)
    if a.dir:
        net.load_state_dict(read_safetensors(os.path.join(a.dir, "weights.safetensors")), strict=False)
    net.eval()
    with tempfile.TemporaryDirectory(prefix="profile_ort_") as tmp:
        onnx = os.path.join(tmp, "model.onnx")
        with torch.no_grad():  # as bench_peers.py exports it
            torch.onnx.export(net, torch.randn(1, 3, a.input, a.input), onnx, input_names=["input"],
                              output_names=HEADS, dynamic_axes={"input": {0: "batch"}}, opset_version=13)
        r = subprocess.run(["node", os.path.join(HERE, "profile_ort.js"), onnx, str(a.input), str(a.threads),
                            str(a.batch), str(a.runs), str(a.warmup), os.path.join(tmp, "ort")],
                           capture_output=True, text=True)
        if r.returncode != 0:
            sys.exit((r.stderr.strip().splitlines() or ["profile_ort: node failed"])[-1])
        wall = json.loads(r.stdout)["wall_ms"]
        traces = sorted(glob.glob(os.path.join(tmp, "ort*.json")), key=os.path.getmtime)
        if not traces:
            sys.exit("profile_ort: ONNX Runtime wrote no profile")
        with open(traces[-1]) as f:
            events = json.load(f)

    # the timed runs: the last --runs "model_run" spans; only kernels inside them count
    spans = sorted((e["ts"], e["ts"] + e["dur"]) for e in events if e.get("name") == "model_run")[-a.runs:]
    inside = lambda t: any(s <= t <= e for s, e in spans)
    rows = {}
    for e in events:
        if e.get("cat") != "Node" or not e["name"].endswith("_kernel_time") or not inside(e["ts"]):
            continue
        name, args = e["name"][:-len("_kernel_time")], e.get("args", {})
        row = rows.setdefault(name, {"us": 0, "op": args.get("op_name", "?"), "args": args})
        row["us"] += e["dur"]
    total = sum(r["us"] for r in rows.values()) / a.runs / 1e3

    print("ONNX Runtime profile: %s batch %d, %dx%d, %d threads, %d runs after %d warm-up; ms per run"
          % (a.backbone, a.batch, a.input, a.input, a.threads, len(spans), a.warmup))
    print("%8s %6s  %-20s %-15s %-13s %-15s %s" % ("ms", "%", "kernel", "input", "weight", "output", "node"))
    for name, r in sorted(rows.items(), key=lambda kv: -kv[1]["us"]):
        ins, outs = r["args"].get("input_type_shape", []), r["args"].get("output_type_shape", [])
        conv_like = "Conv" in r["op"] or r["op"] in ("Gemm", "MatMul")
        kernel = r["op"] + (" nchwc" if name.endswith("_nchwc") else "")
        kernel += " +sum" if conv_like and len(ins) > 3 else ""
        print("%8.3f %5.1f%%  %-20s %-15s %-13s %-15s %s" % (
            r["us"] / a.runs / 1e3, 100 * r["us"] / a.runs / 1e3 / total if total else 0, kernel,
            shape(ins[0]) if ins else "-", shape(ins[1]) if conv_like and len(ins) > 1 else "-",
            shape(outs[0]) if outs else "-", name))
    model_run = sum(e - s for s, e in spans) / len(spans) / 1e3 if spans else float("nan")
    print("total: kernels %.3f ms/run over %d nodes; ORT model_run %.3f ms/run; node wall per session.run: "
          "median %.3f ms, mean %.3f, min %.3f, max %.3f" % (total, len(rows), model_run, statistics.median(wall),
                                                            statistics.mean(wall), min(wall), max(wall)))


if __name__ == "__main__":
    main()
