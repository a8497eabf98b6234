#!/usr/bin/env python3
"""Builds the end-to-end check of a converted checkpoint: a PIPNet ResNet-18 state_dict with random weights is saved
as a .pth (as the official epoch59.pth is), a 256x256 face image is written, and PyTorch's own inference path
(test.py: ToTensor, Normalize, forward in eval mode, forward_pip with neighbour merging) gives the expected 68
landmarks. tools/check_converted.sh converts the .pth and runs `pipnet infer` on the image.

  make_converted_check.py OUTDIR MEANFACE"""
import os
import sys

import numpy as np
import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from make_golden import PipNet, forward_pip_decode, get_meanface  # noqa: E402


def main():
    out, meanface = sys.argv[1], sys.argv[2]
    os.makedirs(out + "/run", exist_ok=True)
    torch.manual_seed(3)
    net = PipNet("resnet18", 64, 68, 10, 32)
    with torch.no_grad():  # trained-like statistics: BN buffers away from their defaults
        for name, b in net.named_buffers():
            if name.endswith("running_mean"):
                b.uniform_(-0.1, 0.1)
            elif name.endswith("running_var"):
                b.uniform_(0.5, 2.0)
        for name, p in net.named_parameters():
            if "_layer" in name and name.endswith("weight"):
                p.normal_(0, 0.01)
    torch.save(net.state_dict(), out + "/epoch59.pth")
    # an image: smooth colour fields, 8-bit, so both sides read the same pixels
    yy, xx = np.mgrid[0:256, 0:256]
    img = np.stack([128 + 100 * np.sin(xx / 23.0), 128 + 90 * np.cos(yy / 17.0), 128 + 60 * np.sin((xx + yy) / 31.0)], -1)
    img = img.clip(0, 255).astype(np.uint8)
    with open(out + "/face.ppm", "wb") as f:
        f.write(b"P6\n256 256\n255\n" + img.tobytes())
    x = torch.from_numpy(img).float().permute(2, 0, 1) / 255.0
    mean, std = torch.tensor([0.485, 0.456, 0.406]).view(3, 1, 1), torch.tensor([0.229, 0.224, 0.225]).view(3, 1, 1)
    x = ((x - mean) / std).unsqueeze(0)
    mf = [float(v) for v in open(meanface).read().split()]
    nb_idx, r1, r2, max_len = get_meanface(mf, 10)
    net.eval()
    with torch.no_grad():
        merged, _ = forward_pip_decode(net(x), r1, r2, max_len, 256, 32, 10)
    np.savetxt(out + "/expected.txt", merged.numpy().reshape(-1, 2))
    with open(out + "/run/config.txt", "w") as f:
        f.write("backbone = resnet18\nwidth = 64\ninput = 256\nstride = 32\nnb = 10\n")
    with open(out + "/run/meanface.txt", "w") as f:
        f.write(" ".join(repr(v) for v in mf) + "\n")
    print("wrote", out)


if __name__ == "__main__":
    main()
