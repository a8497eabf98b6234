#!/usr/bin/env python3
"""PyTorch's side of `pipnet bench`: the official PIP network (tools/make_golden.py's twin) at the same shapes and
thread count. Prints "fps_b1 ips_b16 train_ips_b16". Reference only: never needed to build or test the project.
  bench_torch_pip.py BACKBONE INPUT THREADS [cpu|cuda]"""
import os
import sys
import time

import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from make_golden import PipNet  # noqa: E402


def main():
    bb, S, threads = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
    dev = sys.argv[4] if len(sys.argv) > 4 else "cpu"
    sync = torch.cuda.synchronize if dev == "cuda" else (lambda: None)
    torch.set_num_threads(threads)
    net = PipNet(bb, 64, 68, 10, 32).to(dev)
    x16 = torch.full((16, 3, S, S), 0.1, device=dev)
    opt = torch.optim.Adam(net.parameters(), 1e-4)
    net.train()

    def step():
        opt.zero_grad()
        out = net(x16)
        loss = sum((o * o).mean() for o in out)  # same graph size as PIP's loss
        loss.backward()
        opt.step()
    step()
    sync()
    t0 = time.perf_counter()
    for _ in range(3):
        step()
    sync()
    train = 3 * 16 / (time.perf_counter() - t0)
    net.eval()
    with torch.no_grad():
        def infer(x, reps):
            net(x)
            sync()
            t = time.perf_counter()
            for _ in range(reps):
                out = net(x)
                torch.max(out[0].view(x.shape[0], 68, -1), 2)[1].cpu()  # the argmax of decoding, read back
            return reps * x.shape[0] / (time.perf_counter() - t)
        fps1 = infer(torch.full((1, 3, S, S), 0.1, device=dev), 20)
        ips16 = infer(x16, 3)
    print(fps1, ips16, train)


if __name__ == "__main__":
    main()
