#!/usr/bin/env python3
"""Writes the FaceBoxesV2 golden file: what PyTorch detects on real photos, for the C++ detector to reproduce.

The network is the official FaceBoxesV2 (PIPNet's FaceBoxesV2/utils/faceboxes.py, written out here): five 3x3/2
conv+BN+ReLU, three inception blocks (1x1; 3x3 avg pool then 1x1; 1x1 then 3x3; 1x1 then two 3x3; concatenated),
two 1x1 + 3x3/2 pairs, and 3x3 loc/conf heads on the three sources (21, 1 and 1 anchors per cell). The detection
follows the official FaceBoxesDetector.detect at im_scale 1 (spec 6.4): BGR minus the integer mean (104, 117, 123),
priors, decoding with variances (0.1, 0.2), softmax, score > threshold, the 5000 best, greedy NMS at IoU 0.3 in
the +1 pixel convention of the Fast R-CNN cpu_nms, at most 750; then the demo's box adjustment (det_box_scale 1.2,
top edge moved down) and clip.

Images are decoded by the same libstb the engine links (ctypes), so both sides start from identical pixels; they
are read from ../shared/data/lfw68/test and never stored: the golden file holds names, numbers and how the
several-face canvas is composed (pasted photos, every `step`-th pixel), and the C++ test rebuilds it.

File layout: b"FBXGOLD\\0", u32 version (1), u32 0, then a safetensors payload:
  compose [K,4] i32 (x, y, step, index into `images`) for the canvas,
  for each case c (0..n-1: the photos in `images` order, then the canvas):
    dets.c [D,5] f32 (x0, y0, x1, y1, score in image pixels, after NMS, best first),
    adjusted.c [D,4] i32 (xmin, ymin, xmax, ymax after the demo's adjustment and clip, inclusive),
    above.c [1] i32 (how many priors scored above the threshold, before NMS),
  raw.loc [P,4], raw.score [P] f32: the network's box regression and face probability for case 0, prior order.
Metadata: images (comma-separated names), canvas_w, canvas_h, canvas_fill, threshold, nms, variances.
Usage: faceboxes_golden.py --weights FaceBoxesV2.pth --images DIR --out FILE [--count 12]
"""
import argparse
import ctypes
import json
import os
import struct
from itertools import product

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F

MAGIC, VERSION = b"FBXGOLD\0", 1
MEAN_BGR = (104, 117, 123)
MIN_SIZES, STEPS, VARIANCES = [[32, 64, 128], [256], [512]], [32, 64, 128], (0.1, 0.2)


# ---- the network ----------------------------------------------------------------------------------
class ConvBnRelu(nn.Module):
    def __init__(self, cin, cout, k, stride=1, pad=0):
        super().__init__()
        self.conv = nn.Conv2d(cin, cout, k, stride, pad, bias=False)
        self.bn = nn.BatchNorm2d(cout, eps=1e-5)

    def forward(self, x):
        return F.relu(self.bn(self.conv(x)))


class Inception(nn.Module):
    def __init__(self):
        super().__init__()
        self.branch1x1 = ConvBnRelu(128, 32, 1)
        self.branch1x1_2 = ConvBnRelu(128, 32, 1)
        self.branch3x3_reduce = ConvBnRelu(128, 24, 1)
        self.branch3x3 = ConvBnRelu(24, 32, 3, 1, 1)
        self.branch3x3_reduce_2 = ConvBnRelu(128, 24, 1)
        self.branch3x3_2 = ConvBnRelu(24, 32, 3, 1, 1)
        self.branch3x3_3 = ConvBnRelu(32, 32, 3, 1, 1)

    def forward(self, x):
        a = self.branch1x1(x)
        b = self.branch1x1_2(F.avg_pool2d(x, 3, 1, 1))  # count_include_pad: always / 9
        c = self.branch3x3(self.branch3x3_reduce(x))
        d = self.branch3x3_3(self.branch3x3_2(self.branch3x3_reduce_2(x)))
        return torch.cat([a, b, c, d], 1)


class FaceBoxesV2(nn.Module):
    def __init__(self):
        super().__init__()
        self.conv1 = ConvBnRelu(3, 8, 3, 2, 1)
        self.conv2 = ConvBnRelu(8, 16, 3, 2, 1)
        self.conv3 = ConvBnRelu(16, 32, 3, 2, 1)
        self.conv4 = ConvBnRelu(32, 64, 3, 2, 1)
        self.conv5 = ConvBnRelu(64, 128, 3, 2, 1)
        self.inception1, self.inception2, self.inception3 = Inception(), Inception(), Inception()
        self.conv6_1 = ConvBnRelu(128, 128, 1)
        self.conv6_2 = ConvBnRelu(128, 256, 3, 2, 1)
        self.conv7_1 = ConvBnRelu(256, 128, 1)
        self.conv7_2 = ConvBnRelu(128, 256, 3, 2, 1)
        self.loc = nn.Sequential(nn.Conv2d(128, 21 * 4, 3, 1, 1), nn.Conv2d(256, 4, 3, 1, 1), nn.Conv2d(256, 4, 3, 1, 1))
        self.conf = nn.Sequential(nn.Conv2d(128, 21 * 2, 3, 1, 1), nn.Conv2d(256, 2, 3, 1, 1), nn.Conv2d(256, 2, 3, 1, 1))

    def forward(self, x):
        for m in (self.conv1, self.conv2, self.conv3, self.conv4, self.conv5, self.inception1, self.inception2,
                  self.inception3):
            x = m(x)
        s1 = x
        s2 = self.conv6_2(self.conv6_1(s1))
        s3 = self.conv7_2(self.conv7_1(s2))
        loc = torch.cat([l(s).permute(0, 2, 3, 1).reshape(1, -1) for s, l in zip((s1, s2, s3), self.loc)], 1)
        conf = torch.cat([c(s).permute(0, 2, 3, 1).reshape(1, -1) for s, c in zip((s1, s2, s3), self.conf)], 1)
        return loc.view(-1, 4), F.softmax(conf.view(-1, 2), dim=-1)


# ---- priors, decoding, NMS, the demo's box ----------------------------------------------------------
def priors(h, w):
    """[P, 4] (cx, cy, sw, sh) relative to the image: per cell, anchors of size 32 densified 4x4, 64 2x2."""
    out = []
    for k, step in enumerate(STEPS):
        fh, fw = -(-h // step), -(-w // step)
        for i, j in product(range(fh), range(fw)):
            for ms in MIN_SIZES[k]:
                sw, sh = ms / w, ms / h
                n = {32: 4, 64: 2}.get(ms, 1)
                offs = [0.5] if n == 1 else [d / n for d in range(n)]
                for dy, dx in product(offs, offs):
                    out += [(j + dx) * step / w, (i + dy) * step / h, sw, sh]
    return torch.tensor(out, dtype=torch.float32).view(-1, 4)


def decode(loc, pri):
    boxes = torch.cat((pri[:, :2] + loc[:, :2] * VARIANCES[0] * pri[:, 2:], pri[:, 2:] * torch.exp(loc[:, 2:] * VARIANCES[1])), 1)
    boxes[:, :2] -= boxes[:, 2:] / 2
    boxes[:, 2:] += boxes[:, :2]
    return boxes


def nms(dets, thresh):
    """Greedy NMS, float32, areas and overlaps with the +1 pixel convention; suppress at IoU >= thresh."""
    x1, y1, x2, y2, s = (dets[:, i] for i in range(5))
    areas = (x2 - x1 + np.float32(1)) * (y2 - y1 + np.float32(1))
    order = np.argsort(-s, kind="stable")
    keep, gone = [], np.zeros(len(dets), bool)
    for a, i in enumerate(order):
        if gone[i]:
            continue
        keep.append(i)
        for j in order[a + 1:]:
            if gone[j]:
                continue
            w = max(np.float32(0), min(x2[i], x2[j]) - max(x1[i], x1[j]) + np.float32(1))
            h = max(np.float32(0), min(y2[i], y2[j]) - max(y1[i], y1[j]) + np.float32(1))
            inter = np.float32(w * h)
            if inter / (areas[i] + areas[j] - inter) >= thresh:
                gone[j] = True
    return keep


def detect(net, rgb, thresh):
    h, w, _ = rgb.shape
    x = torch.from_numpy(np.ascontiguousarray(rgb[:, :, ::-1].transpose(2, 0, 1))).int()
    x = (x - torch.IntTensor(MEAN_BGR).view(3, 1, 1)).float().unsqueeze(0)
    with torch.no_grad():
        loc, conf = net(x)
    boxes = decode(loc, priors(h, w)) * torch.tensor([w, h, w, h], dtype=torch.float32)
    scores = conf[:, 1]
    idx = np.where(scores.numpy() > thresh)[0]
    d = np.hstack((boxes.numpy()[idx], scores.numpy()[idx, None])).astype(np.float32)
    d = d[np.argsort(-d[:, 4], kind="stable")][:5000]
    d = d[nms(d, 0.3)][:750] if len(d) else d.reshape(0, 5)
    return d, len(idx), loc, scores


def adjust(det, w, h, scale=1.2):
    """The demo's face box from a detection, inclusive corners (spec 6.4)."""
    xmin, ymin, xmax, ymax = (int(v) for v in det[:4])
    bw, bh = xmax - xmin, ymax - ymin
    xmax, ymax = xmin + bw - 1, ymin + bh - 1
    xmin -= int(bw * (scale - 1) / 2)
    ymin += int(bh * (scale - 1) / 2)  # the top moves down, as the official demo
    xmax += int(bw * (scale - 1) / 2)
    ymax += int(bh * (scale - 1) / 2)
    return [max(xmin, 0), max(ymin, 0), min(xmax, w - 1), min(ymax, h - 1)]


# ---- images through the engine's own decoder ---------------------------------------------------------
def stb_loader():
    lib = ctypes.CDLL("libstb.so.0")
    lib.stbi_load.restype = ctypes.POINTER(ctypes.c_ubyte)
    lib.stbi_load.argtypes = [ctypes.c_char_p] + [ctypes.POINTER(ctypes.c_int)] * 3 + [ctypes.c_int]

    def load(path):
        w, h, c = ctypes.c_int(), ctypes.c_int(), ctypes.c_int()
        p = lib.stbi_load(path.encode(), ctypes.byref(w), ctypes.byref(h), ctypes.byref(c), 3)
        if not p:
            raise SystemExit(f"{path}: stb cannot decode it")
        a = np.ctypeslib.as_array(p, shape=(h.value, w.value, 3)).copy()
        lib.stbi_image_free(p)
        return a
    return load


def compose(photos, parts, cw, ch, fill):
    canvas = np.full((ch, cw, 3), fill, np.uint8)
    for x, y, step, i in parts:
        sub = photos[i][::step, ::step]
        canvas[y:y + sub.shape[0], x:x + sub.shape[1]] = sub
    return canvas


def write(path, tensors, meta):
    header, blobs, off = {"__metadata__": {k: str(v) for k, v in meta.items()}}, [], 0
    for name, a in tensors:
        a = np.ascontiguousarray(a)
        b = a.tobytes()
        header[name] = {"dtype": {np.dtype("float32"): "F32", np.dtype("int32"): "I32"}[a.dtype],
                        "shape": list(a.shape), "data_offsets": [off, off + len(b)]}
        blobs.append(b)
        off += len(b)
    h = json.dumps(header, separators=(",", ":")).encode()
    h += b" " * ((8 - (len(h) + 8) % 8) % 8)
    with open(path + ".tmp", "wb") as f:
        f.write(MAGIC + struct.pack("<II", VERSION, 0) + struct.pack("<Q", len(h)) + h + b"".join(blobs))
    os.replace(path + ".tmp", path)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--weights", required=True)
    ap.add_argument("--images", required=True, help="a folder of photos (lfw68/test)")
    ap.add_argument("--out", required=True)
    ap.add_argument("--count", type=int, default=12)
    ap.add_argument("--threshold", type=float, default=0.6)
    args = ap.parse_args()
    torch.set_num_threads(1)

    net = FaceBoxesV2().eval()
    sd = torch.load(args.weights, map_location="cpu")
    net.load_state_dict({k[7:] if k.startswith("module.") else k: v for k, v in sd.items()})

    names = sorted(n for n in os.listdir(args.images) if n.endswith(".jpg"))[: args.count]
    load = stb_loader()
    photos = [load(os.path.join(args.images, n)) for n in names]
    # the canvas: a 640x480 frame holding two photos at full size and three at half size (every other pixel)
    cw, ch, fill = 640, 480, 96
    parts = [(20, 30, 1, 0), (300, 10, 1, 1), (40, 320, 2, 2), (300, 300, 2, 3), (470, 320, 2, 4)]
    cases = photos + [compose(photos, parts, cw, ch, fill)]

    tensors = [("compose", np.array(parts, np.int32))]
    for c, im in enumerate(cases):
        d, above, loc, scores = detect(net, im, args.threshold)
        adj = [adjust(r, im.shape[1], im.shape[0]) for r in d]
        tensors += [(f"dets.{c}", d.astype(np.float32)), (f"adjusted.{c}", np.array(adj, np.int32).reshape(-1, 4)),
                    (f"above.{c}", np.array([above], np.int32))]
        if c == 0:
            tensors += [("raw.loc", loc.numpy().astype(np.float32)), ("raw.score", scores.numpy().astype(np.float32))]
        print(f"{'canvas' if c == len(photos) else names[c]}: {len(d)} faces ({above} priors above {args.threshold})"
              + "".join(f"\n  {r[0]:.2f} {r[1]:.2f} {r[2]:.2f} {r[3]:.2f}  {r[4]:.5f}" for r in d))
    write(args.out, tensors, {"images": ",".join(names), "canvas_w": cw, "canvas_h": ch, "canvas_fill": fill,
                              "threshold": args.threshold, "nms": 0.3, "variances": "0.1,0.2"})


if __name__ == "__main__":
    main()
