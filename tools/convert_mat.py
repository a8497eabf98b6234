#!/usr/bin/env python3
"""Converts COFW and AFLW from their .mat releases into the official preprocessed layout (spec section 2.2): 256x256
face crops in images_train/ and images_test/, and train.txt / test.txt with one line per crop: the file name, then
2N landmark coordinates normalised to the crop. `pipnet train --data list:OUT/train.txt:OUT/images_train` reads it.

  convert_mat.py cofw COFW_train_color.mat COFW_test_color.mat OUT    (v7.3 / HDF5: needs python3-h5py)
  convert_mat.py aflw AFLWinfo_release.mat AFLW_IMAGE_DIR OUT         (v5: needs python3-scipy)

Crops follow the repo: COFW uses the given box as it is (no enlargement); AFLW clips landmarks to the image and
the box to [0, W-1] x [0, H-1]. Crops are resized bilinearly and written as JPEG quality 95 (as cv2.imwrite).
Needs Debian's python3-numpy and, for writing images, python3-pil.
"""
import os
import sys

import numpy as np


def save_crop(img, x0, y0, x1, y1, path):
    from PIL import Image
    crop = img[int(y0):int(y1), int(x0):int(x1)]
    if crop.size == 0:
        raise SystemExit("%s: empty crop box (%g, %g)-(%g, %g)" % (path, x0, y0, x1, y1))
    Image.fromarray(crop).resize((256, 256), Image.BILINEAR).save(path, quality=95)


def line(name, pts):
    return name + " " + " ".join("%.6f" % v for v in pts.reshape(-1)) + " \n"


def cofw(train_mat, test_mat, out):
    import h5py
    for split, mat, img_key, box_key, phi_key in (("train", train_mat, "IsTr", "bboxesTr", "phisTr"),
                                                  ("test", test_mat, "IsT", "bboxesT", "phisT")):
        os.makedirs(os.path.join(out, "images_" + split), exist_ok=True)
        lines = []
        with h5py.File(mat, "r") as f:
            refs = f[img_key][()].reshape(-1)
            boxes = np.array(f[box_key]).T  # MATLAB is column-major: rows are faces after the transpose
            phis = np.array(f[phi_key]).T
            if len(refs) != len(boxes) or len(boxes) != len(phis):
                raise SystemExit("%s: %d images, %d boxes, %d shapes" % (mat, len(refs), len(boxes), len(phis)))
            for i, ref in enumerate(refs):
                img = np.array(f[ref]).T
                img = np.repeat(img[:, :, None], 3, axis=2) if img.ndim == 2 else img
                H, W = img.shape[:2]
                x, y, w, h = boxes[i]
                xmin, ymin = max(x, 0), max(y, 0)
                xmax, ymax = min(x + w - 1, W - 1), min(y + h - 1, H - 1)
                pts = np.stack([phis[i][:29], phis[i][29:58]], 1)  # 29 x, 29 y, then occlusion flags (ignored)
                norm = np.stack([(pts[:, 0] - xmin) / (xmax - xmin), (pts[:, 1] - ymin) / (ymax - ymin)], 1)
                name = "cofw_%s_%04d.jpg" % (split, i + 1)
                save_crop(img.astype(np.uint8), xmin, ymin, xmax, ymax, os.path.join(out, "images_" + split, name))
                lines.append(line(name, norm))
        open(os.path.join(out, split + ".txt"), "w").writelines(lines)
        print("%s: %d faces -> %s" % (mat, len(lines), os.path.join(out, split + ".txt")))


def aflw(mat, image_dir, out):
    from PIL import Image
    from scipy.io import loadmat
    m = loadmat(mat)
    bbox, data, names, ra = m["bbox"], m["data"], m["nameList"], m["ra"].reshape(-1) - 1  # ra is 1-based
    for split, idx in (("train", ra[:20000]), ("test", ra[20000:])):
        os.makedirs(os.path.join(out, "images_" + split), exist_ok=True)
        lines = []
        for i in idx:
            name = str(names[i][0][0]) if names.dtype == object else str(names[i])
            img = np.array(Image.open(os.path.join(image_dir, name)).convert("RGB"))
            H, W = img.shape[:2]
            xmin, xmax, ymin, ymax = bbox[i]  # the order is xmin, xmax, ymin, ymax
            pts = np.stack([np.clip(data[i][:19], 0, W), np.clip(data[i][19:], 0, H)], 1)
            xmin, ymin, xmax, ymax = max(xmin, 0), max(ymin, 0), min(xmax, W - 1), min(ymax, H - 1)
            norm = np.stack([(pts[:, 0] - xmin) / (xmax - xmin), (pts[:, 1] - ymin) / (ymax - ymin)], 1)
            out_name = "aflw_%s_%05d.jpg" % (split, i + 1)
            save_crop(img, xmin, ymin, xmax, ymax, os.path.join(out, "images_" + split, out_name))
            lines.append(line(out_name, norm))
        open(os.path.join(out, split + ".txt"), "w").writelines(lines)
        print("%s: %d faces -> %s" % (mat, len(lines), os.path.join(out, split + ".txt")))


if __name__ == "__main__":
    if len(sys.argv) != 5 or sys.argv[1] not in ("cofw", "aflw"):
        raise SystemExit(__doc__)
    (cofw if sys.argv[1] == "cofw" else aflw)(*sys.argv[2:])
