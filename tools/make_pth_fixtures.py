#!/usr/bin/env python3
"""Writes the .pth fixtures of tests/test_pth.cpp with torch.save, so that the engine's reader is tested on files
PyTorch itself wrote. The values are formulas (aranges) that the test recomputes, so no reference file is needed.

  tools/make_pth_fixtures.py tests/data/pth        (needs python3-torch: tools/install_deps.sh --ref)

  state_zip.pth      the zip container (PyTorch >= 1.6):
    a     float32 [3, 4]        arange(12) - 5.5
    a_t   float32 [4, 3]        a.t(): the same storage, transposed strides
    row   float32 [4]           a[1]: the same storage at offset 4
    h     float16 [2, 3]        arange(6) * 0.25 - 0.5
    l     int64   [5]           arange(5) * 1000 - 2000
    nested.w  float64 [2, 2]    [[1.5, -2.25], [1e-3, 4]] (a dict inside the dict: dotted name)
    step  (an int: metadata)    7
  state_legacy.pth   the same tensors with _use_new_zipfile_serialization=False (the pre-1.6 container)
  pipnet_r18_s64.pth an official-layout PIPNet state_dict (make_golden.py's twin: ResNet-18 at width 4, net stride 64,
                     5 landmarks, 2 neighbours, random weights and BN statistics), saved from nn.DataParallel
                     ("module." names) as the official training does
  pipnet_r18_s64.safetensors  the same converted by tools/pth_to_safetensors.py: `pipnet import` must give these
                     tensors bitwise
"""
import os
import subprocess
import sys
from collections import OrderedDict

import torch


def state():
    a = torch.arange(12, dtype=torch.float32).reshape(3, 4) - 5.5
    sd = OrderedDict()
    sd["a"] = a
    sd["a_t"] = a.t()
    sd["row"] = a[1]
    sd["h"] = (torch.arange(6, dtype=torch.float32) * 0.25 - 0.5).to(torch.float16).reshape(2, 3)
    sd["l"] = torch.arange(5, dtype=torch.int64) * 1000 - 2000
    sd["nested"] = OrderedDict(w=torch.tensor([[1.5, -2.25], [1e-3, 4.0]], dtype=torch.float64))
    sd["step"] = 7
    return sd


def pipnet_fixture(out):
    sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
    from make_golden import PipNet
    torch.manual_seed(5)
    net = PipNet("resnet18", 4, 5, 2, 64)
    for name, b in net.named_buffers():
        if name.endswith("running_mean"):
            b.copy_(torch.randn_like(b) * 0.1)
        elif name.endswith("running_var"):
            b.copy_(torch.rand_like(b) + 0.5)
    for p in net.parameters():
        p.data.copy_(torch.randn_like(p) * 0.2)
    pth = os.path.join(out, "pipnet_r18_s64.pth")
    torch.save(torch.nn.DataParallel(net).state_dict(), pth)
    here = os.path.dirname(os.path.abspath(__file__))
    subprocess.check_call([sys.executable, os.path.join(here, "pth_to_safetensors.py"), pth,
                           os.path.join(out, "pipnet_r18_s64.safetensors")])


def main():
    out = sys.argv[1] if len(sys.argv) > 1 else "tests/data/pth"
    os.makedirs(out, exist_ok=True)
    pipnet_fixture(out)
    torch.save(state(), os.path.join(out, "state_zip.pth"))
    torch.save(state(), os.path.join(out, "state_legacy.pth"), _use_new_zipfile_serialization=False)
    print("wrote", out, "with torch", torch.__version__)


if __name__ == "__main__":
    main()
