#!/usr/bin/env python3
"""PyTorch's side of `pipnet bench`: the official PIP network (tools/make_golden.py's twin) at the same shapes and
thread count, eager. Prints "ms_b1 fps_b1 ips_b<B>... train_ips_b<B>..." for the batch sizes given (default 16).
Reference only: never needed to build or test the project.
  bench_torch_pip.py BACKBONE INPUT THREADS [cpu|cuda] [B1,B2,...]"""
import os
import sys
import time

import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from make_golden import PipNet  # noqa: E402


def main():
    bb, S, threads = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
    dev = sys.argv[4] if len(sys.argv) > 4 else "cpu"
    batches = [int(b) for b in (sys.argv[5] if len(sys.argv) > 5 else "16").split(",")]
    sync = torch.cuda.synchronize if dev == "cuda" else (lambda: None)
    torch.set_num_threads(threads)
    net = PipNet(bb, 64, 68, 10, 32).to(dev)
    opt = torch.optim.Adam(net.parameters(), 1e-4)
    net.train()
    train = []
    for B in batches:
        xb = torch.full((B, 3, S, S), 0.1, device=dev)

        def step():
            opt.zero_grad()
            out = net(xb)
            loss = sum((o * o).mean() for o in out)  # same graph size as PIP's loss
            loss.backward()
            opt.step()
        step()
        sync()
        t0 = time.perf_counter()
        for _ in range(3):
            step()
        sync()
        train.append(3 * B / (time.perf_counter() - t0))
    net.eval()
    with torch.no_grad():
        def infer(x, reps):
            net(x)
            sync()
            t = time.perf_counter()
            for _ in range(reps):
                out = net(x)
                torch.max(out[0].view(x.shape[0], 68, -1), 2)[1].cpu()  # the argmax of decoding, read back
            return (time.perf_counter() - t) / reps
        s1 = infer(torch.full((1, 3, S, S), 0.1, device=dev), 200 if dev == "cuda" else 20)
        ips = [B / infer(torch.full((B, 3, S, S), 0.1, device=dev), 20 if dev == "cuda" else 3) for B in batches]
    print(1e3 * s1, 1 / s1, *ips, *train)


if __name__ == "__main__":
    main()
