#!/usr/bin/env python3
"""Writes a golden file: what PyTorch computes for a PIP Net, for the C++ engine to reproduce.

The network is the official Pip_resnet* / Pip_mbnetv2 (networks.py) on torchvision's ResNet (v1.5) or MobileNetV2
`features`, written out here because Debian ships no torchvision; the targets, loss and decoding follow the official data_utils.py / functions.py
(spec sections 4 and 6). Everything random is drawn here and stored, so the C++ side needs no RNG of PyTorch's.

File layout: b"PIPGOLD\\0", u32 version (1), u32 0, then a safetensors payload holding
  meanface [N,2], nb_idx [N,nb] (i32), input [B,3,H,W], landmarks [B,N*2],
  target.score/off_x/off_y/nb_x/nb_y [B,C,G,G] (full maps, as the repo builds them),
  param.<name> (every parameter and buffer before training), out.cls/x/y/nb_x/nb_y, loss.total/score/x/y/nb_x/nb_y,
  grad.<name>, after.<name> (every parameter and buffer after `steps` Adam steps), decoded.merged/unmerged [B,N*2]
and the configuration in __metadata__. Usage: make_golden.py --out FILE [--backbone resnet18] [--width 64] ...
"""
import argparse
import json
import struct

import numpy as np
import torch
import torch.nn as nn

MAGIC, VERSION = b"PIPGOLD\0", 1


# ---- torchvision's ResNet, only the parts PIP keeps ---------------------------------------------
class BasicBlock(nn.Module):
    expansion = 1

    def __init__(self, inplanes, planes, stride=1, downsample=None):
        super().__init__()
        self.conv1 = nn.Conv2d(inplanes, planes, 3, stride, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(planes)
        self.relu = nn.ReLU(inplace=True)
        self.conv2 = nn.Conv2d(planes, planes, 3, 1, 1, bias=False)
        self.bn2 = nn.BatchNorm2d(planes)
        self.downsample = downsample

    def forward(self, x):
        identity = x if self.downsample is None else self.downsample(x)
        out = self.relu(self.bn1(self.conv1(x)))
        out = self.bn2(self.conv2(out))
        return self.relu(out + identity)


class Bottleneck(nn.Module):
    expansion = 4

    def __init__(self, inplanes, planes, stride=1, downsample=None):
        super().__init__()
        self.conv1 = nn.Conv2d(inplanes, planes, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(planes)
        self.conv2 = nn.Conv2d(planes, planes, 3, stride, 1, bias=False)
        self.bn2 = nn.BatchNorm2d(planes)
        self.conv3 = nn.Conv2d(planes, planes * 4, 1, bias=False)
        self.bn3 = nn.BatchNorm2d(planes * 4)
        self.relu = nn.ReLU(inplace=True)
        self.downsample = downsample

    def forward(self, x):
        identity = x if self.downsample is None else self.downsample(x)
        out = self.relu(self.bn1(self.conv1(x)))
        out = self.relu(self.bn2(self.conv2(out)))
        out = self.bn3(self.conv3(out))
        return self.relu(out + identity)


# ---- torchvision's MobileNetV2 `features` (Sandler et al. 2018), the trunk of the official Pip_mbnetv2 ----------
def make_divisible(v, divisor=8):
    """torchvision's _make_divisible: the nearest multiple of divisor, at least divisor, at most 10% below v"""
    n = max(divisor, int(v + divisor / 2) // divisor * divisor)
    return n + divisor if n < 0.9 * v else n


def conv_bn_relu6(inp, out, k, stride, groups=1):
    """torchvision's Conv2dNormActivation with ReLU6: children 0 (conv), 1 (BN), 2 (ReLU6)"""
    return nn.Sequential(nn.Conv2d(inp, out, k, stride, (k - 1) // 2, groups=groups, bias=False),
                         nn.BatchNorm2d(out), nn.ReLU6(inplace=True))


class InvertedResidual(nn.Module):
    def __init__(self, inp, out, stride, t):
        super().__init__()
        hidden = int(round(inp * t))
        self.use_res = stride == 1 and inp == out
        layers = [] if t == 1 else [conv_bn_relu6(inp, hidden, 1, 1)]  # expand
        layers += [conv_bn_relu6(hidden, hidden, 3, stride, groups=hidden),  # depthwise
                   nn.Conv2d(hidden, out, 1, bias=False), nn.BatchNorm2d(out)]  # project, linear
        self.conv = nn.Sequential(*layers)

    def forward(self, x):
        return x + self.conv(x) if self.use_res else self.conv(x)


def mobilenetv2_features(m):
    """features.0..18 at width multiplier m, and their output channels"""
    table = [(1, 16, 1, 1), (6, 24, 2, 2), (6, 32, 3, 2), (6, 64, 4, 2), (6, 96, 3, 1), (6, 160, 3, 2), (6, 320, 1, 1)]
    inp = make_divisible(32 * m)
    mods = [conv_bn_relu6(3, inp, 3, 2)]
    for t, c, n, s in table:
        out = make_divisible(c * m)
        for i in range(n):
            mods.append(InvertedResidual(inp, out, s if i == 0 else 1, t))
            inp = out
    last = make_divisible(1280 * max(1.0, m))
    mods.append(conv_bn_relu6(inp, last, 1, 1))
    return nn.Sequential(*mods), last


BLOCKS = {"resnet18": (BasicBlock, [2, 2, 2, 2]), "resnet34": (BasicBlock, [3, 4, 6, 3]),
          "resnet50": (Bottleneck, [3, 4, 6, 3]), "resnet101": (Bottleneck, [3, 4, 23, 3])}


class PipNet(nn.Module):
    """Pip_resnet18 / Pip_resnet50 / Pip_resnet101 / Pip_mbnetv2 of the official networks.py, with a width multiplier
    (ResNet: conv1's channels; MobileNetV2: the multiplier x 64, so 64 is torchvision's 1.0)."""

    def __init__(self, backbone, width, num_lms, num_nb, net_stride):
        super().__init__()
        self.num_nb, self.net_stride, self.mobilenet = num_nb, net_stride, backbone == "mobilenetv2"
        if self.mobilenet:  # Pip_mbnetv2: the heads straight on features' stride-32 map
            assert net_stride == 32, "Pip_mbnetv2 has net stride 32 only"
            self.features, C = mobilenetv2_features(width / 64)
            self.heads(C, num_lms, num_nb)
            return
        block, layers = BLOCKS[backbone]
        self.conv1 = nn.Conv2d(3, width, 7, 2, 3, bias=False)
        self.bn1 = nn.BatchNorm2d(width)
        self.maxpool = nn.MaxPool2d(3, 2, 1)
        inplanes = width
        for i, n in enumerate(layers):
            planes, stride = width << i, 1 if i == 0 else 2
            mods = []
            for b in range(n):
                s = stride if b == 0 else 1
                ds = None
                if b == 0 and (s != 1 or inplanes != planes * block.expansion):
                    ds = nn.Sequential(nn.Conv2d(inplanes, planes * block.expansion, 1, s, bias=False),
                                       nn.BatchNorm2d(planes * block.expansion))
                mods.append(block(inplanes, planes, s, ds))
                inplanes = planes * block.expansion
            setattr(self, "layer%d" % (i + 1), nn.Sequential(*mods))
        C, wide = inplanes, 8 * width
        if net_stride >= 64:
            self.layer5 = nn.Conv2d(C, wide, 3, 2, 1)
            self.bn5 = nn.BatchNorm2d(wide)
            C = wide
        if net_stride == 128:
            self.layer6 = nn.Conv2d(wide, wide, 3, 2, 1)
            self.bn6 = nn.BatchNorm2d(wide)
        if net_stride == 16:
            self.deconv1 = nn.ConvTranspose2d(C, wide, 4, 2, 1, bias=False)
            self.bn_deconv1 = nn.BatchNorm2d(wide)
            C = wide
        self.heads(C, num_lms, num_nb)

    def heads(self, C, num_lms, num_nb):
        self.cls_layer = nn.Conv2d(C, num_lms, 1)
        self.x_layer = nn.Conv2d(C, num_lms, 1)
        self.y_layer = nn.Conv2d(C, num_lms, 1)
        if num_nb > 0:  # num_nb 0: the seed paper's head (ECCV), score and offsets only
            self.nb_x_layer = nn.Conv2d(C, num_nb * num_lms, 1)
            self.nb_y_layer = nn.Conv2d(C, num_nb * num_lms, 1)

    def forward(self, x):
        if self.mobilenet:
            return self.head_outputs(self.features(x))
        x = self.maxpool(torch.relu(self.bn1(self.conv1(x))))
        x = self.layer4(self.layer3(self.layer2(self.layer1(x))))
        if self.net_stride >= 64:
            x = torch.relu(self.bn5(self.layer5(x)))
        if self.net_stride == 128:
            x = torch.relu(self.bn6(self.layer6(x)))
        if self.net_stride == 16:
            x = torch.relu(self.bn_deconv1(self.deconv1(x)))
        return self.head_outputs(x)

    def head_outputs(self, x):
        if self.num_nb == 0:
            return self.cls_layer(x), self.x_layer(x), self.y_layer(x), None, None
        return self.cls_layer(x), self.x_layer(x), self.y_layer(x), self.nb_x_layer(x), self.nb_y_layer(x)


# ---- the official data_utils / functions, restated ------------------------------------------------
def get_meanface(meanface, num_nb):
    meanface = np.array(meanface).reshape(-1, 2)
    idx = []
    for i in range(meanface.shape[0]):
        d = np.sum(np.power(meanface - meanface[i], 2), axis=1)
        idx.append(list(np.argsort(d)[1:num_nb + 1]))
    rev = {i: [[], []] for i in range(meanface.shape[0])}
    for i in range(meanface.shape[0]):
        for j in range(num_nb):
            rev[idx[i][j]][0].append(i)
            rev[idx[i][j]][1].append(j)
    if num_nb == 0:
        return idx, [], [], 0
    max_len = max(len(rev[i][0]) for i in rev)
    r1, r2 = [], []
    for i in range(meanface.shape[0]):
        a = (rev[i][0] * (max_len // len(rev[i][0]) + 2))[:max_len]
        b = (rev[i][1] * (max_len // len(rev[i][1]) + 2))[:max_len]
        r1 += a
        r2 += b
    return idx, r1, r2, max_len


def gen_target_pip(target, nb_idx, G):
    N, nb = target.shape[0], len(nb_idx[0])
    score = np.zeros((N, G, G), np.float32)
    lx, ly = np.zeros((N, G, G), np.float32), np.zeros((N, G, G), np.float32)
    nx, ny = np.zeros((nb * N, G, G), np.float32), np.zeros((nb * N, G, G), np.float32)
    for i in range(N):
        mu_x = min(max(int(np.floor(target[i][0] * G)), 0), G - 1)
        mu_y = min(max(int(np.floor(target[i][1] * G)), 0), G - 1)
        score[i, mu_y, mu_x] = 1
        lx[i, mu_y, mu_x] = target[i][0] * G - mu_x
        ly[i, mu_y, mu_x] = target[i][1] * G - mu_y
        for j in range(nb):
            nx[nb * i + j, mu_y, mu_x] = target[nb_idx[i][j]][0] * G - mu_x
            ny[nb * i + j, mu_y, mu_x] = target[nb_idx[i][j]][1] * G - mu_y
    return score, lx, ly, nx, ny


def l1_margin(out, labels, num_nb):
    """Smallest |prediction - target| over the L1 terms: near 0, the sign of the L1 gradient is decided by
    rounding, and two correct implementations may step differently. Golden files should keep it well above 1e-5."""
    _, ox, oy, onx, ony = out
    lmap, lx, ly, lnx, lny = labels
    B, C = lmap.shape[:2]
    ids = torch.argmax(lmap.view(B * C, -1), 1).view(-1, 1)
    ids_nb = ids.repeat(1, num_nb).view(-1, 1)
    sel = lambda t, n, i: torch.gather(t.detach().reshape(B * n * C, -1), 1, i)
    own = min((sel(ox, 1, ids) - sel(lx, 1, ids)).abs().min().item(), (sel(oy, 1, ids) - sel(ly, 1, ids)).abs().min().item())
    if num_nb == 0:
        return own
    m = min(own, (sel(onx, num_nb, ids_nb) - sel(lnx, num_nb, ids_nb)).abs().min().item(),
            (sel(ony, num_nb, ids_nb) - sel(lny, num_nb, ids_nb)).abs().min().item())
    return m


def compute_loss_pip(out, labels, num_nb):
    cls, ox, oy, onx, ony = out
    lmap, lx, ly, lnx, lny = labels
    B, C, H, W = cls.size()
    ids = torch.argmax(lmap.view(B * C, -1), 1).view(-1, 1)
    ids_nb = ids.repeat(1, num_nb).view(-1, 1)
    sel = lambda t, n, i: torch.gather(t.reshape(B * n * C, -1), 1, i)
    l1, l2 = nn.L1Loss(), nn.MSELoss()
    loss_map = l2(cls, lmap)
    loss_x = l1(sel(ox, 1, ids), sel(lx, 1, ids))
    loss_y = l1(sel(oy, 1, ids), sel(ly, 1, ids))
    if num_nb == 0:  # the seed paper's loss: no neighbour terms
        return loss_map, loss_x, loss_y, torch.zeros((), dtype=cls.dtype), torch.zeros((), dtype=cls.dtype)
    loss_nx = l1(sel(onx, num_nb, ids_nb), sel(lnx, num_nb, ids_nb))
    loss_ny = l1(sel(ony, num_nb, ids_nb), sel(lny, num_nb, ids_nb))
    return loss_map, loss_x, loss_y, loss_nx, loss_ny


def forward_pip_decode(out, r1, r2, max_len, input_size, net_stride, num_nb):
    """forward_pip of functions.py on already computed outputs, every image of the batch."""
    cls, ox, oy, onx, ony = [t.detach() if t is not None else None for t in out]
    B, N, H, W = cls.size()
    merged, unmerged = [], []
    for b in range(B):
        ids = torch.max(cls[b].view(N, -1), 1)[1].view(-1, 1)
        sx = torch.gather(ox[b].view(N, -1), 1, ids)
        sy = torch.gather(oy[b].view(N, -1), 1, ids)
        div = 1.0 * input_size / net_stride
        if num_nb == 0:  # nothing to merge: the reported output is the unmerged one
            px = ((ids % W).view(-1, 1).float() + sx) / div
            py = (torch.div(ids, W, rounding_mode="floor").view(-1, 1).float() + sy) / div
            unmerged.append(torch.cat((px, py), 1).flatten())
            merged.append(unmerged[-1])
            continue
        ids_nb = ids.repeat(1, num_nb).view(-1, 1)
        snx = torch.gather(onx[b].view(N * num_nb, -1), 1, ids_nb).view(-1, num_nb)
        sny = torch.gather(ony[b].view(N * num_nb, -1), 1, ids_nb).view(-1, num_nb)
        div = 1.0 * input_size / net_stride
        px = ((ids % W).view(-1, 1).float() + sx) / div
        py = (torch.div(ids, W, rounding_mode="floor").view(-1, 1).float() + sy) / div
        pnx = ((ids % W).view(-1, 1).float() + snx) / div
        pny = (torch.div(ids, W, rounding_mode="floor").view(-1, 1).float() + sny) / div
        tnx = pnx[r1, r2].view(N, max_len)
        tny = pny[r1, r2].view(N, max_len)
        mx = torch.mean(torch.cat((px, tnx), 1), 1).view(-1, 1)
        my = torch.mean(torch.cat((py, tny), 1), 1).view(-1, 1)
        merged.append(torch.cat((mx, my), 1).flatten())
        unmerged.append(torch.cat((px, py), 1).flatten())
    return torch.stack(merged), torch.stack(unmerged)


# ---- the file ------------------------------------------------------------------------------------
def write(path, tensors, meta):
    header, blobs, off = {"__metadata__": {k: str(v) for k, v in meta.items()}}, [], 0
    for name, t in tensors:
        a = np.ascontiguousarray(t.detach().cpu().numpy() if torch.is_tensor(t) else t)
        dt = {np.dtype("float32"): "F32", np.dtype("int32"): "I32"}[a.dtype]
        b = a.tobytes()
        header[name] = {"dtype": dt, "shape": list(a.shape), "data_offsets": [off, off + len(b)]}
        blobs.append(b)
        off += len(b)
    h = json.dumps(header, separators=(",", ":")).encode()
    h += b" " * ((8 - (len(h) + 8) % 8) % 8)
    with open(path, "wb") as f:
        f.write(MAGIC + struct.pack("<II", VERSION, 0) + struct.pack("<Q", len(h)) + h + b"".join(blobs))


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--out", required=True)
    ap.add_argument("--backbone", default="resnet18")
    ap.add_argument("--width", type=int, default=64)
    ap.add_argument("--lms", type=int, default=68)
    ap.add_argument("--nb", type=int, default=10)
    ap.add_argument("--input", type=int, default=256)
    ap.add_argument("--stride", type=int, default=32)
    ap.add_argument("--batch", type=int, default=2)
    ap.add_argument("--mode", choices=["train", "eval"], default="train")
    ap.add_argument("--steps", type=int, default=10)
    ap.add_argument("--lr", type=float, default=1e-4)
    ap.add_argument("--wd", type=float, default=5e-4)
    ap.add_argument("--meanface", default="", help="official meanface file; random points if empty")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--ref64", action="store_true",
                    help="store PyTorch's float64 results as the reference, and PyTorch-float32's own error against "
                         "them in the metadata (torch32_out, torch32_grad, ...)")
    ap.add_argument("--init", choices=["spread", "official"], default="spread",
                    help="spread: every parameter and buffer drawn wide, so each one matters (small fixtures); "
                         "official: torchvision's kaiming fan_out convs, BN at identity, heads N(0, 0.001), as a "
                         "from-scratch training run starts (full-size checks)")
    a = ap.parse_args()
    torch.manual_seed(a.seed)
    rng = np.random.RandomState(a.seed)
    torch.set_num_threads(max(1, torch.get_num_threads()))

    if a.meanface:
        mf = np.array([float(v) for v in open(a.meanface).read().split()], np.float64).reshape(-1, 2)
    else:
        mf = rng.uniform(0.15, 0.85, size=(a.lms, 2))
    N, G = mf.shape[0], a.input // a.stride
    nb_idx, r1, r2, max_len = get_meanface(mf.flatten(), a.nb)

    net = PipNet(a.backbone, a.width, N, a.nb, a.stride)
    with torch.no_grad():
        for name, p in net.named_parameters():
            if a.init != "official":
                break
            if p.dim() == 4 and ("_layer" in name or name.startswith(("layer5", "layer6", "deconv1"))):
                p.normal_(0, 0.001)
            elif p.dim() == 4:
                nn.init.kaiming_normal_(p, mode="fan_out", nonlinearity="relu")
            elif name.endswith("weight"):
                p.fill_(1.0)
            else:
                p.zero_()
    with torch.no_grad():  # spread every parameter and buffer so that each one matters to the outputs
        for name, p in net.named_parameters():
            if a.init == "official":
                break
            if p.dim() == 4:
                fan_in = p.shape[1] * p.shape[2] * p.shape[3]
                p.normal_(0, (2.0 / fan_in) ** 0.5 * (0.5 if "_layer" in name else 1.0))
            elif name.endswith("weight"):
                p.uniform_(0.5, 1.5)
            else:
                p.uniform_(-0.2, 0.2)
        for name, b in net.named_buffers():
            if a.init == "official":
                break
            if name.endswith("running_mean"):
                b.uniform_(-0.1, 0.1)
            elif name.endswith("running_var"):
                b.uniform_(0.5, 2.0)
    net.train(a.mode == "train")
    state0 = [(k, v.clone()) for k, v in net.state_dict().items() if not k.endswith("num_batches_tracked")]

    x = torch.randn(a.batch, 3, a.input, a.input)
    lms = np.clip(mf[None] + rng.uniform(-0.06, 0.06, size=(a.batch, N, 2)), -0.05, 1.05)
    maps = [gen_target_pip(lms[b], nb_idx, G) for b in range(a.batch)]
    labels = [torch.from_numpy(np.stack([m[k] for m in maps])) for k in range(5)]

    def run(net, x, labels):
        """forward, loss, backward, decode, then a.steps Adam steps; returns every checked tensor"""
        opt = torch.optim.Adam(net.parameters(), lr=a.lr, weight_decay=a.wd)
        out = net(x)
        parts = compute_loss_pip(out, labels, a.nb)
        loss = 10 * parts[0] + parts[1] + parts[2] + parts[3] + parts[4]
        opt.zero_grad()
        loss.backward()
        grads = [("grad." + k, p.grad.clone()) for k, p in net.named_parameters()]
        merged, unmerged = forward_pip_decode(out, r1, r2, max_len, a.input, a.stride, a.nb)
        margin = l1_margin(out, labels, a.nb)
        opt.step()
        for _ in range(a.steps - 1):
            o = net(x)
            margin = min(margin, l1_margin(o, labels, a.nb))
            p = compute_loss_pip(o, labels, a.nb)
            l = 10 * p[0] + p[1] + p[2] + p[3] + p[4]
            opt.zero_grad()
            l.backward()
            opt.step()
        after = [("after." + k, v) for k, v in net.state_dict().items() if not k.endswith("num_batches_tracked")]


        res = dict(out=out, parts=parts, loss=loss, grads=grads, after=after, merged=merged, unmerged=unmerged,
                   margin=margin)
        return res

    import copy
    net64 = copy.deepcopy(net).double() if a.ref64 else None
    res = run(net, x, labels)
    margin = res["margin"]
    meta_err = {}
    if a.ref64:  # the same start in float64: the reference; PyTorch's own float32 error against it is recorded
        r64 = run(net64, x.double(), [t.double() for t in labels])

        def err(t32, t64):
            d = (t32.detach().double() - t64.detach()).abs().max().item()
            s_ = t64.detach().abs().max().item()
            return d / s_ if s_ > 0 else d
        meta_err["torch32_out"] = max(err(p, q) for p, q in zip(res["out"], r64["out"]))
        meta_err["torch32_loss"] = max([err(res["loss"], r64["loss"])] + [err(p, q) for p, q in zip(res["parts"], r64["parts"])])
        meta_err["torch32_grad"] = max(err(p, q) for (_, p), (_, q) in zip(res["grads"], r64["grads"]))
        meta_err["torch32_after"] = max(err(p, q) for (_, p), (_, q) in zip(res["after"], r64["after"]))
        res = r64
    out, parts, loss, grads, after = res["out"], res["parts"], res["loss"], res["grads"], res["after"]
    merged, unmerged = res["merged"], res["unmerged"]
    f32 = lambda t: t.detach().float() if torch.is_tensor(t) else t  # (None stays None: no neighbour head)
    out = [f32(t) for t in out]
    parts = [f32(t) for t in parts]
    loss = f32(loss)
    grads = [(k, f32(v)) for k, v in grads]
    after = [(k, f32(v)) for k, v in after]
    merged, unmerged = f32(merged), f32(unmerged)

    tensors = [("meanface", mf.astype(np.float32)), ("nb_idx", np.array(nb_idx, np.int32)), ("input", x),
               ("landmarks", lms.reshape(a.batch, -1).astype(np.float32))]
    tensors += [("target." + n, t) for n, t in zip(["score", "off_x", "off_y", "nb_x", "nb_y"], labels)]
    tensors += [("param." + k, v) for k, v in state0]
    tensors += [("out." + n, t) for n, t in zip(["cls", "x", "y", "nb_x", "nb_y"], out) if t is not None]
    tensors += [("loss.total", loss.reshape(1))]
    tensors += [("loss." + n, t.reshape(1)) for n, t in zip(["score", "x", "y", "nb_x", "nb_y"], parts)]
    tensors += grads + after + [("decoded.merged", merged), ("decoded.unmerged", unmerged)]
    meta = dict(backbone=a.backbone, width=a.width, num_lms=N, num_nb=a.nb, input_size=a.input, net_stride=a.stride,
                batch=a.batch, mode=a.mode, steps=a.steps, lr=a.lr, weight_decay=a.wd, seed=a.seed,
                torch=torch.__version__, l1_margin=margin, init=a.init,
                reference="float64" if a.ref64 else "float32", **meta_err)
    write(a.out, tensors, meta)
    print("wrote %s: %s, %d tensors, loss %.6f" % (a.out, meta, len(tensors), loss.item()))


if __name__ == "__main__":
    main()
