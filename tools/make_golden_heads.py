#!/usr/bin/env python3
"""Writes a golden file for the paper's baseline heads (issue #14): what PyTorch computes for a Coord Net or a Map Net,
for tests/test_heads.cpp to reproduce.

The trunk is make_golden.py's (torchvision's ResNet / MobileNetV2 `features`, the same parameter names); the heads
are pipnet/coordnet.h and pipnet/mapnet.h restated in PyTorch:
  coord: flatten the stride-32 map -> fc1 (8w) -> bn_fc1 -> ReLU -> fc2 (8w) -> bn_fc2 -> ReLU -> fc3 (2N); L1 loss
         against the labels (u0 v0 u1 v1 ...); decoding is the identity
  map:   deconv_layers = k x [ConvTranspose2d(4, 2, 1, no bias) (4w channels), BatchNorm2d, ReLU], final_layer 1x1
         conv to N heatmaps, k = log2(32 / stride); MSE against Gaussian heatmaps
           H[y][x] = exp(-((x - mx)^2 + (y - my)^2) / (2 sigma^2)), (mx, my) = (u*G - 0.5, v*G - 0.5), sigma = 4/stride
         decoding: arg-max cell, a quarter cell towards the higher neighbour in x and in y where both exist,
         then ((x + 0.5)/G, (y + 0.5)/G)
File layout as make_golden.py's (b"PIPGOLD\\0", u32 version 1, u32 0, safetensors), holding input [B,3,H,W],
landmarks [B,N*2], param.<name> (every parameter and buffer before the step), target.heatmaps (map),
out.coords [B,2N] or out.heatmaps [B,N,G,G], loss.total [1], grad.<name> (every parameter), buf.<name> (the BatchNorm
running statistics after the forward pass), decoded [B,N*2]; the configuration and the margins in __metadata__. With --ref64 the stored results are PyTorch's float64 ones.
Usage: make_golden_heads.py --head coord|map --out FILE [--width 4] [--lms 5] [--input 64] [--stride 4] ...
"""
import argparse
import os
import sys

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from make_golden import PipNet, write  # noqa: E402  (the trunk, and the file writer)


def build(backbone, width, N, head, stride, input_size):
    """make_golden's PipNet with the PIP heads removed and a baseline head added, so the names are the engine's"""
    net = PipNet(backbone, width, N, 0, 32)
    del net.cls_layer, net.x_layer, net.y_layer
    trunk_end = net.features if net.mobilenet else net.layer4  # the trunk's last BatchNorm gives its channels
    C = [m for m in trunk_end.modules() if isinstance(m, nn.BatchNorm2d)][-1].num_features
    if head == "coord":
        g = input_size // 32
        net.fc1 = nn.Linear(C * g * g, 8 * width)
        net.bn_fc1 = nn.BatchNorm1d(8 * width)
        net.fc2 = nn.Linear(8 * width, 8 * width)
        net.bn_fc2 = nn.BatchNorm1d(8 * width)
        net.fc3 = nn.Linear(8 * width, 2 * N)
    else:
        k = {16: 1, 8: 2, 4: 3, 2: 4, 1: 5}[stride]
        mods, c = [], C
        for _ in range(k):
            mods += [nn.ConvTranspose2d(c, 4 * width, 4, 2, 1, bias=False), nn.BatchNorm2d(4 * width), nn.ReLU(inplace=True)]
            c = 4 * width
        net.deconv_layers = nn.Sequential(*mods)
        net.final_layer = nn.Conv2d(c, N, 1)
    return net


def forward(net, head, x):
    """the trunk's stride-32 map (as PipNet.forward at stride 32), then the head"""
    if net.mobilenet:
        f = net.features(x)
    else:
        f = net.maxpool(torch.relu(net.bn1(net.conv1(x))))
        f = net.layer4(net.layer3(net.layer2(net.layer1(f))))
    if head == "coord":
        h = torch.relu(net.bn_fc1(net.fc1(torch.flatten(f, 1))))
        h = torch.relu(net.bn_fc2(net.fc2(h)))
        return net.fc3(h)
    return net.final_layer(net.deconv_layers(f))


def map_targets(lms, N, G, sigma):
    B = lms.shape[0]
    t = np.zeros((B, N, G, G), np.float32)
    xs = np.arange(G, dtype=np.float64)
    for b in range(B):
        for i in range(N):
            mx, my = lms[b, i, 0] * G - 0.5, lms[b, i, 1] * G - 0.5
            d2 = (xs[None, :] - mx) ** 2 + (xs[:, None] - my) ** 2  # [y, x]
            t[b, i] = np.exp(-d2 / (2 * sigma * sigma)).astype(np.float32)
    return t


def decode_maps(hm):
    """arg-max + quarter-cell shift (Simple Baselines' get_final_preds, per axis), to crop coordinates; also the
    smallest margin that decides it (best vs second best, and the neighbour differences)"""
    hm = hm.detach().numpy()
    B, N, G, _ = hm.shape
    out, margin = np.zeros((B, N * 2), np.float32), np.inf
    for b in range(B):
        for i in range(N):
            m = hm[b, i]
            flat = m.flatten()
            best = int(np.argmax(flat))
            srt = np.sort(flat)
            margin = min(margin, srt[-1] - srt[-2])
            r, c = best // G, best % G
            x, y = float(c), float(r)
            if 0 < c < G - 1:
                d = m[r, c + 1] - m[r, c - 1]
                x += 0.25 * np.sign(d)
                margin = min(margin, abs(d))
            if 0 < r < G - 1:
                d = m[r + 1, c] - m[r - 1, c]
                y += 0.25 * np.sign(d)
                margin = min(margin, abs(d))
            out[b, 2 * i], out[b, 2 * i + 1] = (x + 0.5) / G, (y + 0.5) / G
    return out, float(margin)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--out", required=True)
    ap.add_argument("--head", choices=["coord", "map"], required=True)
    ap.add_argument("--backbone", default="resnet18")
    ap.add_argument("--width", type=int, default=4)
    ap.add_argument("--lms", type=int, default=5)
    ap.add_argument("--input", type=int, default=64)
    ap.add_argument("--stride", type=int, default=32, help="map: the heatmaps' stride (1, 2, 4, 8, 16); coord: 32")
    ap.add_argument("--batch", type=int, default=2)
    ap.add_argument("--mode", choices=["train", "eval"], default="train")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--ref64", action="store_true",
                    help="store PyTorch's float64 results as the reference, and PyTorch-float32's own error against "
                         "them in the metadata (torch32_out, torch32_grad, ...), as make_golden.py --ref64")
    a = ap.parse_args()
    torch.manual_seed(a.seed)
    rng = np.random.RandomState(a.seed)
    N = a.lms
    net = build(a.backbone, a.width, N, a.head, a.stride, a.input)
    with torch.no_grad():  # spread every parameter and buffer so that each one matters to the outputs
        for name, p in net.named_parameters():
            if p.dim() == 4 and isinstance(dict(net.named_modules())[name.rsplit(".", 1)[0]], nn.ConvTranspose2d):
                p.normal_(0, (2.0 / (p.shape[0] * 4)) ** 0.5)  # each output of a 4x4/2 deconv reads in*2*2 inputs
            elif p.dim() >= 2:
                fan_in = int(np.prod(p.shape[1:]))
                p.normal_(0, (2.0 / fan_in) ** 0.5 * (0.5 if name.startswith(("final_layer", "fc3")) else 1.0))
            elif name.endswith("weight"):
                p.uniform_(0.5, 1.5)
            else:
                p.uniform_(-0.2, 0.2)
        for name, b in net.named_buffers():
            if name.endswith("running_mean"):
                b.uniform_(-0.1, 0.1)
            elif name.endswith("running_var"):
                b.uniform_(0.5, 2.0)
    net.train(a.mode == "train")
    keep = lambda sd: [(k, v.clone()) for k, v in sd.items() if not k.endswith("num_batches_tracked")]
    state0 = keep(net.state_dict())

    x = torch.randn(a.batch, 3, a.input, a.input)
    lms = rng.uniform(0.1, 0.9, size=(a.batch, N, 2))
    lab = torch.from_numpy(lms.reshape(a.batch, -1).astype(np.float32))
    G = a.input // a.stride
    target = torch.from_numpy(map_targets(lms, N, G, 4.0 / a.stride)) if a.head == "map" else None

    def run(net, x, lab, target):
        """forward, loss, backward: the outputs, the loss, every gradient and the running statistics"""
        out = forward(net, a.head, x)
        loss = F.l1_loss(out, lab) if a.head == "coord" else F.mse_loss(out, target)
        net.zero_grad()
        loss.backward()
        return dict(out=out.detach(), loss=loss.detach().reshape(1),
                    grads=[("grad." + k, p.grad.clone()) for k, p in net.named_parameters()],
                    bufs=[("buf." + k, v) for k, v in keep(net.state_dict()) if "running_" in k])

    import copy
    net64 = copy.deepcopy(net).double() if a.ref64 else None
    res = run(net, x, lab, target)
    meta = dict(head=a.head, backbone=a.backbone, width=a.width, num_lms=N, input_size=a.input, net_stride=a.stride,
                batch=a.batch, mode=a.mode, seed=a.seed, torch=torch.__version__,
                reference="float64" if a.ref64 else "float32")
    if a.ref64:  # the same start in float64 is the reference; PyTorch-float32's own error against it is recorded
        r64 = run(net64, x.double(), lab.double(), target.double() if target is not None else None)

        def err(t32, t64):
            d = (t32.double() - t64).abs().max().item()
            s_ = t64.abs().max().item()
            return d / s_ if s_ > 0 else d
        meta["torch32_out"] = err(res["out"], r64["out"])
        meta["torch32_loss"] = err(res["loss"], r64["loss"])
        # fc1 / fc2's biases feed a training-mode BatchNorm1d, which cancels them: their gradient is 0 in exact
        # arithmetic and rounding noise in float32; their size against the largest gradient is recorded apart
        cancelled = lambda k: a.head == "coord" and a.mode == "train" and k in ("grad.fc1.bias", "grad.fc2.bias")
        meta["torch32_grad"] = max(err(p, q) for (k, p), (_, q) in zip(res["grads"], r64["grads"]) if not cancelled(k))
        if a.head == "coord" and a.mode == "train":
            top = max(p.abs().max().item() for _, p in res["grads"])
            meta["torch32_cancelled"] = max(p.abs().max().item() / top for k, p in res["grads"] if cancelled(k))
        meta["torch32_buf"] = max(err(p, q) for (_, p), (_, q) in zip(res["bufs"], r64["bufs"]))
        res = {k: (v.float() if torch.is_tensor(v) else [(n, t.float()) for n, t in v]) for k, v in r64.items()}
    out = res["out"]
    tensors = [("input", x), ("landmarks", lab)] + [("param." + k, v) for k, v in state0]
    if a.head == "coord":
        meta["l1_margin"] = (out - lab).abs().min().item()
        decoded, meta["decode_margin"] = out.numpy(), 1.0
        tensors += [("out.coords", out)]
    else:
        decoded, meta["decode_margin"] = decode_maps(out)
        meta["decode_margin"] /= out.abs().max().item()  # relative to the maps' scale
        tensors += [("target.heatmaps", target), ("out.heatmaps", out)]
    tensors += [("loss.total", res["loss"])] + res["grads"] + res["bufs"] + [("decoded", decoded)]
    loss = res["loss"]
    write(a.out, tensors, meta)
    print("wrote %s: %s, %d tensors, loss %.6f" % (a.out, meta, len(tensors), loss.item()))


if __name__ == "__main__":
    main()
