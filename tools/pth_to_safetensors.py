#!/usr/bin/env python3
"""Converts a PyTorch checkpoint (.pth) to safetensors with the same tensor names, for the C++ engine.

Accepts a plain state_dict (official PIPNet epoch59.pth, torchvision resnet18-f37072fd.pth), or a dict holding one
under 'state_dict' / 'model'. Strips DataParallel's 'module.' prefix. Tensors become float32 (int64 counters such
as num_batches_tracked are kept as I64, which the engine's reader skips).

  pth_to_safetensors.py IN.pth OUT.safetensors [--drop-prefix fc.]   (torchvision: drop the classifier)
"""
import argparse
import json
import struct

import numpy as np
import torch


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("src")
    ap.add_argument("dst")
    ap.add_argument("--drop-prefix", action="append", default=[], help="leave out tensors whose name starts so")
    a = ap.parse_args()
    obj = torch.load(a.src, map_location="cpu")
    for key in ("state_dict", "model"):
        if isinstance(obj, dict) and key in obj and isinstance(obj[key], dict):
            obj = obj[key]
    if not isinstance(obj, dict):
        raise SystemExit("%s: expected a state_dict (a dict of tensors), found %s" % (a.src, type(obj).__name__))
    header, blobs, off = {"__metadata__": {"format": "pt", "source": a.src}}, [], 0
    kept = 0
    for name, t in obj.items():
        if not torch.is_tensor(t):
            continue
        name = name[7:] if name.startswith("module.") else name
        if any(name.startswith(p) for p in a.drop_prefix):
            continue
        arr = t.detach().cpu().numpy()
        if arr.dtype == np.int64:
            dt = "I64"
        else:
            arr, dt = arr.astype(np.float32), "F32"
        b = np.ascontiguousarray(arr).tobytes()
        header[name] = {"dtype": dt, "shape": list(arr.shape), "data_offsets": [off, off + len(b)]}
        blobs.append(b)
        off += len(b)
        kept += 1
    h = json.dumps(header, separators=(",", ":")).encode()
    h += b" " * ((8 - (len(h) + 8) % 8) % 8)
    with open(a.dst + ".tmp", "wb") as f:
        f.write(struct.pack("<Q", len(h)) + h + b"".join(blobs))
    import os
    os.replace(a.dst + ".tmp", a.dst)
    print("%s -> %s: %d tensors" % (a.src, a.dst, kept))


if __name__ == "__main__":
    main()
