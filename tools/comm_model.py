#!/usr/bin/env python3
"""The data-parallel communication model of README "Training on many processes and machines".

Per step each rank all-reduces every gradient: S bytes (float32), in B buckets. A ring all-reduce moves
2 (R-1)/R * S bytes in and out of each rank and takes 2 (R-1) message latencies per bucket. The buckets leave
during the backward pass (pipnet/dist.h), so roughly the backward's share of the step (2/3) can hide them:

    t_allreduce(R) = B * 2 (R-1) * alpha + 2 (R-1)/R * S / bandwidth
    exposed        = max(0, t_allreduce - 2/3 * t_step)
    efficiency     = t_step / (t_step + exposed)

Usage: tools/comm_model.py [--alpha-us 20] [--step R18=1.23,R50=2.6]   (step times in seconds per rank)
S and B are what `mpirun -np 2 pipnet train ...` prints in its first line (R18: 47.9 MB in 2 buckets, R50: 106.9 MB in 4).
"""
import argparse

NETS = {"R18": (47.9e6, 2), "R50": (106.9e6, 4)}


def allreduce_s(net, ranks, gbps, alpha):
    size, buckets = NETS[net]
    return buckets * 2 * (ranks - 1) * alpha + 2 * (ranks - 1) / ranks * size / (gbps / 8 * 1e9)


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--alpha-us", type=float, default=20.0, help="one message's latency, microseconds")
    ap.add_argument("--step", default="R18=1.23,R50=2.6,R18=0.025,R50=0.05",
                    help="NET=seconds per training step of one rank, comma-separated")
    a = ap.parse_args()
    alpha = a.alpha_us * 1e-6
    print("bytes all-reduced per step, and the step time below which the network is no longer hidden (1.5 x t_allreduce)")
    for net, (size, buckets) in NETS.items():
        row = [f"{g} Gb/s: {1e3 * allreduce_s(net, 1 << 20, g, 0):.1f} ms -> step < {1.5e3 * allreduce_s(net, 1 << 20, g, 0):.0f} ms"
               for g in (10, 25, 100)]
        print(f"  {net}: {size / 1e6:.1f} MB in {buckets} buckets;  " + ";  ".join(row))
    print("\nprojected efficiency (weak scaling, the per-rank batch fixed) at 8 / 64 / 512 ranks")
    for item in a.step.split(","):
        net, t = item.split("=")
        t = float(t)
        for g in (10, 25, 100):
            effs = []
            for r in (8, 64, 512):
                exposed = max(0.0, allreduce_s(net, r, g, alpha) - 2 / 3 * t)
                effs.append(f"{100 * t / (t + exposed):3.0f}%")
            print(f"  {net} step {1e3 * t:6.0f} ms, {g:3d} Gb/s: " + " / ".join(effs))


if __name__ == "__main__":
    main()
