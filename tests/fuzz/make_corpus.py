#!/usr/bin/env python3
"""Writes the seed corpus of the fuzz targets: valid inputs, and every input the robustness audit (issue #11)
found to crash a parser or to be accepted silently wrong. Each file is small (a few KB); the replay test runs all.

  tests/fuzz/make_corpus.py            (re)writes tests/fuzz/corpus/<target>/<seed>
The JPEG seeds (valid.jpg and its cuts) come from stb's writer and are written by this script through the
`jpeg_seed` bytes below, produced once by save_jpeg on a 12x10 gradient. Inputs that libFuzzer found are
added beside these under names starting with "found-".
"""
import os
import struct
import zlib

ROOT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "corpus")


def put(target, name, data):
    d = os.path.join(ROOT, target)
    os.makedirs(d, exist_ok=True)
    with open(os.path.join(d, name), "wb") as f:
        f.write(data if isinstance(data, bytes) else data.encode())


# ---- safetensors ---------------------------------------------------------------------------------------------
def st(header, data=b""):
    h = header.encode() if isinstance(header, str) else header
    return struct.pack("<Q", len(h)) + h + data


f32 = struct.pack("<4f", 1, 2, 3, 4)
put("fuzz_safetensors", "valid-two", st('{"__metadata__":{"k":"v"},"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]},'
                                        '"b":{"dtype":"F32","shape":[1,2],"data_offsets":[8,16]}}', f32))
put("fuzz_safetensors", "valid-i64-f64", st('{"i":{"dtype":"I64","shape":[1],"data_offsets":[0,8]},'
                                            '"d":{"dtype":"F64","shape":[],"data_offsets":[8,16]}}',
                                            struct.pack("<qd", -5, 2.5)))
put("fuzz_safetensors", "valid-empty", st('{"e":{"dtype":"F32","shape":[0,3],"data_offsets":[0,0]}}'))
# 60000 levels (120 KB, the one large seed) overflow an 8 MB stack in a parser without a depth limit
put("fuzz_safetensors", "deep-arrays", st("[" * 60000 + "]" * 60000))
put("fuzz_safetensors", "deep-objects", st('{"a":' * 3000 + "1" + "}" * 3000))
put("fuzz_safetensors", "overlap", st('{"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]},'
                                      '"b":{"dtype":"F32","shape":[2],"data_offsets":[4,12]}}', f32[:12]))
put("fuzz_safetensors", "offsets-past-end", st('{"a":{"dtype":"F32","shape":[4],"data_offsets":[0,16]}}', f32[:8]))
put("fuzz_safetensors", "offsets-reversed", st('{"a":{"dtype":"F32","shape":[2],"data_offsets":[8,0]}}', f32[:8]))
put("fuzz_safetensors", "offsets-wrong-size", st('{"a":{"dtype":"F32","shape":[3],"data_offsets":[0,8]}}', f32[:8]))
put("fuzz_safetensors", "offsets-huge", st('{"a":{"dtype":"F32","shape":[2],"data_offsets":[18446744073709551608,0]}}'))
put("fuzz_safetensors", "numel-overflow", st('{"a":{"dtype":"F32","shape":[4294967296,4294967296],"data_offsets":[0,0]}}'))
put("fuzz_safetensors", "numel-overflow-bytes", st('{"a":{"dtype":"F64","shape":[2305843009213693952],"data_offsets":[0,0]}}'))
put("fuzz_safetensors", "negative-dim", st('{"a":{"dtype":"F32","shape":[-1,-4],"data_offsets":[0,16]}}', f32))
put("fuzz_safetensors", "fraction-dim", st('{"a":{"dtype":"F32","shape":[1.5],"data_offsets":[0,4]}}', f32[:4]))
put("fuzz_safetensors", "bad-number", st('{"a":{"dtype":"F32","shape":[1e999],"data_offsets":[0,--4]}}', f32[:4]))
put("fuzz_safetensors", "i64-overflow", st('{"i":{"dtype":"I64","shape":[1],"data_offsets":[0,8]}}', struct.pack("<q", 1 << 40)))
put("fuzz_safetensors", "header-len-huge", struct.pack("<Q", (1 << 64) - 1) + b"{}")
put("fuzz_safetensors", "nul-in-header", st(b'{"a":\x00}'))
put("fuzz_safetensors", "unicode-escape", st('{"\\u00e9\\ud83d\\ude00":{"dtype":"F32","shape":[1],"data_offsets":[0,4]}}', f32[:4]))
put("fuzz_safetensors", "bad-surrogate", st('{"\\ud83d":1}'))
put("fuzz_safetensors", "duplicate", st('{"a":{"dtype":"F32","shape":[1],"data_offsets":[0,4]},'
                                        '"a":{"dtype":"F32","shape":[1],"data_offsets":[4,8]}}', f32[:8]))
put("fuzz_safetensors", "too-short", b"\x01\x00")


# ---- images --------------------------------------------------------------------------------------------------
def png(w, h, rgb=b"", declared=None):
    def chunk(t, d):
        return struct.pack(">I", len(d)) + t + d + struct.pack(">I", zlib.crc32(t + d) & 0xFFFFFFFF)
    dw, dh = declared or (w, h)
    raw = b"".join(b"\x00" + rgb[y * w * 3:(y + 1) * w * 3] for y in range(h))
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", dw, dh, 8, 2, 0, 0, 0)) +
            chunk(b"IDAT", zlib.compress(raw)) + chunk(b"IEND", b""))


def bmp(w, h, bpp=24):
    stride = (w * bpp + 31) // 32 * 4
    pixels = bytes((i * 37) % 256 for i in range(stride * h))
    return (b"BM" + struct.pack("<IHHI", 54 + len(pixels), 0, 0, 54) +
            struct.pack("<IiiHHIIiiII", 40, w, h, 1, bpp, 0, len(pixels), 2835, 2835, 0, 0) + pixels)


rgb = bytes((i * 13) % 256 for i in range(9 * 7 * 3))
valid_png = png(9, 7, rgb)
valid_bmp = bmp(9, 7)
put("fuzz_image", "valid.png", valid_png)
put("fuzz_image", "valid.bmp", valid_bmp)
put("fuzz_image", "valid.pgm", b"P5\n# comment\n8 8\n255\n" + bytes(range(64)))
put("fuzz_image", "valid.ppm", b"P6 4 3 255\n" + bytes(range(36)))
put("fuzz_image", "zero-height.pgm", b"P5\n16 0\n255\n")
put("fuzz_image", "zero-width.pgm", b"P5\n0 16\n255\n")
put("fuzz_image", "pnm16-no-data.pgm", b"P5 2000 2000 65535")
put("fuzz_image", "pnm16-short.ppm", b"P6\n2 2\n65535\n" + bytes(10))
put("fuzz_image", "truncated.pgm", b"P5\n8 8\n255\n" + bytes(10))
put("fuzz_image", "truncated.bmp", valid_bmp[:len(valid_bmp) // 2])
put("fuzz_image", "truncated-header.bmp", valid_bmp[:30])
put("fuzz_image", "bmp-huge-offset.bmp", valid_bmp[:10] + struct.pack("<I", 0xFFFFFFF0) + valid_bmp[14:])
put("fuzz_image", "bmp-negative-width.bmp", valid_bmp[:18] + struct.pack("<i", -9) + valid_bmp[22:])
put("fuzz_image", "bmp-min-height.bmp", valid_bmp[:22] + struct.pack("<i", -2**31) + valid_bmp[26:])
put("fuzz_image", "truncated.png", valid_png[:len(valid_png) - 16])
put("fuzz_image", "huge.png", png(1, 1, b"\x00\x00\x00", declared=(100000, 100000)))
put("fuzz_image", "big-but-legal-header.png", png(1, 1, b"\x00\x00\x00", declared=(16384, 16384)))
put("fuzz_image", "ascii.pgm", b"P2\n2 2\n255\n1 2 3 4\n")
put("fuzz_image", "tga-lookalike", bytes([0, 0, 2, 0, 0, 0, 0, 0, 0, 0, 0, 0, 4, 0, 4, 0, 24, 0]) + bytes(48))
put("fuzz_image", "empty", b"")
# stbi_write_jpg of a 12x10 gradient at quality 60
jpeg_seed = bytes.fromhex(
    "ffd8ffe000104a46494600010100000100010000ffdb0084000d090a0b0a080d0b0a0b0e0e0d0f13201513121213271c1e17"
    "202e2931302e292d2c333a4a3e333646372c2d405741464c4e525352323e5a615a50604a51524f010e0e0e13111326151526"
    "4f352d354f4f4f4f4f4f4f4f4f4f4f4f4f4f4f4f4f4f4f4f4f4f4f4f4f4f4f4f4f4f4f4f4f4f4f4f4f4f4f4f4f4f4f4f4f4f"
    "4f4f4f4fffc0001108000a000c03012200021101031101ffc401a20000010501010101010100000000000000000102030405"
    "060708090a0b100002010303020403050504040000017d01020300041105122131410613516107227114328191a1082342b1"
    "c11552d1f02433627282090a161718191a25262728292a3435363738393a434445464748494a535455565758595a63646566"
    "6768696a737475767778797a838485868788898a92939495969798999aa2a3a4a5a6a7a8a9aab2b3b4b5b6b7b8b9bac2c3c4"
    "c5c6c7c8c9cad2d3d4d5d6d7d8d9dae1e2e3e4e5e6e7e8e9eaf1f2f3f4f5f6f7f8f9fa010003010101010101010101000000"
    "0000000102030405060708090a0b110002010204040304070504040001027700010203110405213106124151076171132232"
    "8108144291a1b1c109233352f0156272d10a162434e125f11718191a262728292a35363738393a434445464748494a535455"
    "565758595a636465666768696a737475767778797a82838485868788898a92939495969798999aa2a3a4a5a6a7a8a9aab2b3"
    "b4b5b6b7b8b9bac2c3c4c5c6c7c8c9cad2d3d4d5d6d7d8d9dae2e3e4e5e6e7e8e9eaf2f3f4f5f6f7f8f9faffda000c030100"
    "02110311003f00c3f0a2fdcaf55b1744b440c707e95e5be14fe0af4d87fd447feed72663899e1a87b482d7cc211bbb1fffd9")
put("fuzz_image", "valid.jpg", jpeg_seed)
put("fuzz_image", "valid-trailing.jpg", jpeg_seed + b"trailing bytes after EOI")
put("fuzz_image", "truncated.jpg", jpeg_seed[:len(jpeg_seed) * 3 // 4])
put("fuzz_image", "truncated-no-eoi.jpg", jpeg_seed[:-2])
put("fuzz_image", "truncated-header.jpg", jpeg_seed[:40])


# ---- .pts ----------------------------------------------------------------------------------------------------
def pts(n, lines):
    return "version: 1\nn_points: %s\n{\n%s}\n" % (n, "".join(l + "\n" for l in lines))


put("fuzz_pts", "valid", pts(3, ["10.5 20.25", "30 40", "25.75 33"]))
put("fuzz_pts", "valid-crlf", pts(2, ["1 2", "3 4"]).replace("\n", "\r\n"))
put("fuzz_pts", "valid-outside", pts(2, ["-5 -3", "70 50"]))  # a little outside a 64x48 image
put("fuzz_pts", "coord-1e9", pts(2, ["10 20", "1e9 30"]))
put("fuzz_pts", "coord-1e30", pts(2, ["10 20", "1e30 30"]))
put("fuzz_pts", "coord-nan", pts(2, ["nan 20", "10 30"]))
put("fuzz_pts", "coord-inf", pts(2, ["10 -inf", "10 30"]))
put("fuzz_pts", "coord-far-outside-image", pts(2, ["10 20", "60000 30"]))
put("fuzz_pts", "n-fraction", pts("68.7", ["1 2"]))
put("fuzz_pts", "n-1e20", pts("1e20", ["1 2"]))
put("fuzz_pts", "n-int-overflow", pts("2147483648", ["1 2"]))
put("fuzz_pts", "n-negative", pts("-3", ["1 2"]))
put("fuzz_pts", "truncated", "version: 1\nn_points: 2\n{\n1 2\n")
put("fuzz_pts", "count-mismatch", pts(3, ["1 2", "3 4"]))
put("fuzz_pts", "garbage-number", pts(1, ["1x.7 2"]))
put("fuzz_pts", "all-same-point", pts(3, ["5 5", "5 5", "5 5"]))

# ---- the official list format --------------------------------------------------------------------------------
put("fuzz_list", "valid", "a.jpg 0.1 0.2 0.3 0.4 \nb.jpg\nc.jpg 0.5 0.6 0.7 0.8\n")
put("fuzz_list", "valid-outside", "a.jpg -0.2 1.3 0.5 0.5\n")
put("fuzz_list", "coord-1e30", "a.jpg 0.1 0.2\nb.jpg 0.1 1e30\n")
put("fuzz_list", "coord-nan", "a.jpg nan 0.2\n")
put("fuzz_list", "coord-below", "a.jpg 0.5 -1.5\n")
put("fuzz_list", "odd-count", "a.jpg 0.1 0.2 0.3\n")
put("fuzz_list", "count-mismatch", "a.jpg 0.1 0.2 0.3 0.4\nb.jpg 0.1 0.2\n")
put("fuzz_list", "empty", "")


# ---- WFLW ----------------------------------------------------------------------------------------------------
def wflw(first="1.5", box="10 5 50 40", attrs="1 0 0 0 1 0"):
    return " ".join([first] + ["%g" % (3 + (i * 7) % 40) for i in range(195)]) + " %s %s sub/a.jpg\n" % (box, attrs)


put("fuzz_wflw", "valid", wflw() + wflw("20"))
put("fuzz_wflw", "coord-1e30", wflw("1e30"))
put("fuzz_wflw", "coord-inf", wflw("inf"))
put("fuzz_wflw", "box-far-outside", wflw(box="10 5 30000 40"))
put("fuzz_wflw", "box-empty", wflw(box="10 5 10 5"))
put("fuzz_wflw", "box-reversed", wflw(box="50 40 10 5"))
put("fuzz_wflw", "attr-fraction", wflw(attrs="0.5 0 0 0 1 0"))
put("fuzz_wflw", "attr-big", wflw(attrs="7 0 0 0 1 0"))
put("fuzz_wflw", "short-line", "1 2 3\n")
