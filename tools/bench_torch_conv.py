#!/usr/bin/env python3
"""Times ResNet-18's convolutions in PyTorch (forward, backward-input, backward-weight), for bench_conv's side-by-side.

Reads one layer per line on stdin: "name C H W K R stride pad", and the batch and thread count from argv.
Prints one line per layer: "name fwd_s bwd_in_s bwd_w_s" (median seconds). Reference only: never needed to build or
test the project.
"""
import sys
import time

import torch


def median_time(f, budget=0.3):
    f()
    t0 = time.perf_counter(); f(); one = time.perf_counter() - t0
    reps = max(3, min(1000, int(budget / max(one, 1e-7))))
    ts = []
    for _ in range(reps):
        t0 = time.perf_counter(); f(); ts.append(time.perf_counter() - t0)
    ts.sort()
    return ts[len(ts) // 2]


def main():
    batch, threads = int(sys.argv[1]), int(sys.argv[2])
    budget = float(sys.argv[3]) if len(sys.argv) > 3 else 0.3
    torch.set_num_threads(threads)
    torch.manual_seed(0)
    for line in sys.stdin:
        f = line.split()
        if not f:
            continue
        name = f[0]
        C, H, W, K, R, s, p = map(int, f[1:])
        x = torch.randn(batch, C, H, W)
        w = torch.randn(K, C, R, R)
        with torch.no_grad():
            y = torch.nn.functional.conv2d(x, w, None, s, p)
            dy = torch.randn_like(y)
            fwd = median_time(lambda: torch.nn.functional.conv2d(x, w, None, s, p), budget)
            args = (dy, x, w, None, [s, s], [p, p], [1, 1], False, [0, 0], 1)
            bin_ = median_time(lambda: torch.ops.aten.convolution_backward(*args, [True, False, False]), budget)
            bw = median_time(lambda: torch.ops.aten.convolution_backward(*args, [False, True, False]), budget)
        print(name, fwd, bin_, bw, flush=True)


if __name__ == "__main__":
    main()
