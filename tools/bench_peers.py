#!/usr/bin/env python3
"""The peers of `pipnet bench`: the same PIP Net (tools/make_golden.py's twin of the official network), with the
same weights, shapes and thread count, in the best CPU runtimes we know of. Reference only: never needed to build,
run or test the project; `tools/install_deps.sh --ref` installs what it uses.

  bench_peers.py --dir DIR --backbone resnet18 --input 256 --threads 2 --batches 16 [--device cpu]

DIR holds what pipnet bench wrote: weights.safetensors (its random initialisation, PyTorch names) and
check.safetensors (one input image and pipnet's eval-mode outputs on it). Each engine's outputs on that image are
checked against pipnet's first (max |a-b| / max |b| per head, at most 1e-4); an engine that disagrees is reported and
not timed. Engines:
  pytorch-eager       torch eager, NCHW (inference and training)
  pytorch-cl-freeze   channels_last + torch.jit.trace + torch.jit.freeze + optimize_for_inference (inference);
                      its training row is eager channels_last
  onnxruntime         torch.onnx export, run by onnxruntime-node (tools/bench_ort.js; its CPU library ships inside the
                      npm package), graph optimisation 'all', intra-op threads = --threads
Timing: batch 1 repeated for 2 s (at least 10 calls), each batch size --reps times (5), training 3 steps (none with
--no-train), after three warm-up calls; medians with min-max. pipnet bench runs this once per round, between its own
timings, and reports medians over the rounds. One line per engine on stdout:
  PEER NAME MAXREL MS_B1 MS_B1_MIN MS_B1_MAX IPS_B... TRAIN_IPS_B...       (nan where an engine has no figure)
or  PEER NAME disagrees|unavailable REASON
"""
import argparse
import json
import os
import statistics
import subprocess
import sys
import time

import numpy as np
import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from make_golden import PipNet  # noqa: E402

HEADS = ["cls", "x", "y", "nb_x", "nb_y"]


def read_safetensors(path):
    with open(path, "rb") as f:
        n = int.from_bytes(f.read(8), "little")
        header = json.loads(f.read(n))
        data = f.read()
    out = {}
    for name, h in header.items():
        if name == "__metadata__":
            continue
        dt = {"F32": np.float32, "F64": np.float64, "I64": np.int64, "I32": np.int32}[h["dtype"]]
        a, b = h["data_offsets"]
        out[name] = torch.from_numpy(np.frombuffer(data[a:b], dt).reshape(h["shape"]).copy())
    return out


def max_rel(outs, want):
    worst = 0.0
    for o, h in zip(outs, HEADS):
        w = want["out." + h]
        o = torch.as_tensor(o).float().reshape(w.shape)
        worst = max(worst, (o - w).abs().max().item() / max(w.abs().max().item(), 1e-12))
    return worst


def timed(fn, seconds=None, reps=None):
    # warm-up: TorchScript's profiling executor optimises for a new input shape only after its first calls (with 3
    # timed calls and one warm-up, frozen ResNet-50's batch 16 measured at a third of its speed)
    for _ in range(3):
        fn()
    ts = []
    t_end = time.perf_counter() + (seconds or 0)
    while (reps and len(ts) < reps) or (seconds and (time.perf_counter() < t_end or len(ts) < 10)):
        t0 = time.perf_counter()
        fn()
        ts.append(time.perf_counter() - t0)
    return statistics.median(ts), min(ts), max(ts)


def line(name, err, b1, ips, train):
    f = lambda v: "nan" if v is None else "%.4f" % v
    print("PEER", name, "%.3g" % err, f(1e3 * b1[0]), f(1e3 * b1[1]), f(1e3 * b1[2]),
          *[f(v) for v in ips], *[f(v) for v in train], flush=True)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--dir", required=True)
    ap.add_argument("--backbone", default="resnet18")
    ap.add_argument("--input", type=int, default=256)
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--batches", default="16")
    ap.add_argument("--device", default="cpu")
    ap.add_argument("--reps", type=int, default=5, help="timed calls per batch size")
    ap.add_argument("--no-train", action="store_true", help="inference only (training columns nan)")
    a = ap.parse_args()
    torch.set_num_threads(a.threads)
    batches = [int(b) for b in a.batches.split(",")]
    S, dev = a.input, a.device
    sync = torch.cuda.synchronize if dev == "cuda" else (lambda: None)
    weights = read_safetensors(os.path.join(a.dir, "weights.safetensors"))
    want = read_safetensors(os.path.join(a.dir, "check.safetensors"))
    x1 = want["input"]

    def fresh():
        net = PipNet(a.backbone, 64, 68, 10, 32)
        missing = net.load_state_dict(weights, strict=False)
        bad = [k for k in missing.missing_keys if not k.endswith("num_batches_tracked")]
        if bad:
            raise SystemExit("bench_peers: weights.safetensors lacks %s" % bad[:3])
        return net.to(dev)

    def train_ips(net, B, channels_last):  # B None: one untimed step at the largest batch (see --no-train below)
        opt = torch.optim.Adam(net.parameters(), 1e-4)
        xb = torch.randn(B or max(batches), 3, S, S, device=dev)
        if channels_last:
            xb = xb.contiguous(memory_format=torch.channels_last)
        net.train()

        def step():
            opt.zero_grad()
            loss = sum((o * o).mean() for o in net(xb))
            loss.backward()
            opt.step()
            sync()
        if B is None:
            step()
            return None
        return B / timed(step, reps=3)[0]

    def infer_row(run, name, train_net, channels_last):
        with torch.no_grad():
            err = max_rel([o.cpu() for o in run(x1.to(dev))], want)
            if err > 1e-4:
                print("PEER", name, "disagrees", "max relative error %.3g against pipnet's outputs" % err, flush=True)
                return

            def call(x):
                def f():
                    out = run(x)
                    torch.max(out[0].reshape(x.shape[0], 68, -1), 2)[1].cpu()  # decoding's argmax, read back
                return f
            b1 = timed(call(x1.to(dev)), seconds=2.0)
            ips = []
            for B in batches:
                xb = torch.randn(B, 3, S, S, device=dev)
                if channels_last:
                    xb = xb.contiguous(memory_format=torch.channels_last)
                ips.append(B / timed(call(xb), reps=a.reps)[0])
        if a.no_train:
            # One untimed training step all the same: the engines after it are then timed in a process that holds
            # the memory a training step leaves, as in a run with training (without it, channels_last + freeze at
            # batch 16 measured 2.5x slower, in every round).
            train = [None] * len(batches)
            if name == "pytorch-eager":
                train_ips(train_net, None, channels_last)
        else:
            train = [train_ips(train_net, B, channels_last) for B in batches]
        line(name, err, b1, ips, train)

    # PyTorch eager
    net = fresh().eval()
    infer_row(lambda x: net(x), "pytorch-eager", fresh(), False)

    # channels_last + TorchScript freeze + optimize_for_inference
    try:
        net = fresh().eval().to(memory_format=torch.channels_last)
        with torch.no_grad():
            traced = torch.jit.trace(net, x1.to(dev).contiguous(memory_format=torch.channels_last))
            frozen = torch.jit.optimize_for_inference(torch.jit.freeze(traced))
        cl = lambda x: frozen(x.contiguous(memory_format=torch.channels_last))
        infer_row(cl, "pytorch-cl-freeze", fresh().to(memory_format=torch.channels_last), True)
    except Exception as e:  # noqa: BLE001 (a peer that cannot run is reported, not fatal)
        print("PEER pytorch-cl-freeze unavailable", str(e).splitlines()[0], flush=True)

    # ONNX Runtime (CPU), through node
    if dev != "cpu":
        return
    here = os.path.dirname(os.path.abspath(__file__))
    if not os.path.isdir(os.path.join(here, "node_modules", "onnxruntime-node")):
        print("PEER onnxruntime unavailable tools/install_deps.sh --ref installs onnxruntime-node", flush=True)
        return
    net = fresh().eval()
    onnx = os.path.join(a.dir, "model.onnx")
    with torch.no_grad():
        torch.onnx.export(net, x1, onnx, input_names=["input"], output_names=HEADS,
                          dynamic_axes={"input": {0: "batch"}}, opset_version=13)
    x1.numpy().astype(np.float32).tofile(os.path.join(a.dir, "check_input.f32"))
    try:
        r = subprocess.run(["node", os.path.join(here, "bench_ort.js"), onnx, os.path.join(a.dir, "check_input.f32"),
                            str(S), str(a.threads), a.batches, str(a.reps)], capture_output=True, text=True, timeout=1800)
    except (OSError, subprocess.TimeoutExpired) as e:
        print("PEER onnxruntime unavailable", str(e).splitlines()[0], flush=True)
        return
    if r.returncode != 0:
        print("PEER onnxruntime unavailable", (r.stderr.strip().splitlines() or ["node failed"])[-1], flush=True)
        return
    res = json.loads(r.stdout)
    outs = [np.fromfile(os.path.join(a.dir, "ort_%s.f32" % h), np.float32) for h in HEADS]
    err = max_rel([torch.from_numpy(o) for o in outs], want)
    if err > 1e-4:
        print("PEER onnxruntime disagrees", "max relative error %.3g against pipnet's outputs" % err, flush=True)
        return
    line("onnxruntime", err, [v / 1e3 for v in res["b1_ms"]], res["ips"], [None] * len(batches))


if __name__ == "__main__":
    main()
