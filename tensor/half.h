// half.h: IEEE 754 binary16 <-> float32, for float16 tensors in PyTorch files and safetensors. Every binary16 value
// is exact in float32 (subnormals included); float32 -> binary16 rounds to nearest, ties to even, overflows to
// infinity and keeps NaN a NaN.
#pragma once
#include <cstdint>
#include <cstring>

inline float half_to_float(uint16_t h) {
  const uint32_t sign = (uint32_t)(h >> 15) << 31, exp = (h >> 10) & 31, man = h & 1023;
  uint32_t bits;
  if (exp == 0 && man == 0) bits = sign;
  else if (exp == 0) {  // subnormal: normalise
    int e = -1;
    uint32_t m = man;
    do { e++; m <<= 1; } while (!(m & 1024));
    bits = sign | (uint32_t)(112 - e) << 23 | (m & 1023) << 13;
  } else if (exp == 31) bits = sign | 0x7f800000u | man << 13;
  else bits = sign | (exp + 112) << 23 | man << 13;
  float f;
  std::memcpy(&f, &bits, 4);
  return f;
}

inline uint16_t float_to_half(float f) {
  uint32_t x;
  std::memcpy(&x, &f, 4);
  const uint16_t sign = (uint16_t)((x >> 16) & 0x8000);
  const uint32_t abs = x & 0x7fffffffu;
  if (abs >= 0x7f800000u) return sign | 0x7c00 | (abs > 0x7f800000u ? 0x200 : 0);  // inf, NaN (quiet)
  if (abs >= 0x477ff000u) return sign | 0x7c00;  // rounds to >= 65520: infinity
  if (abs < 0x38800000u) {  // below 2^-14: a subnormal half (or zero), m * 2^-24
    if (abs < 0x33000000u) return sign;  // below 2^-25: rounds to zero
    const uint32_t e = abs >> 23, m = (abs & 0x7fffff) | 0x800000;  // value = m * 2^(e - 150)
    const int shift = 126 - (int)e;  // to units of 2^-24: m >> (126 - e) with rounding; shift in [14, 24]
    uint32_t q = m >> shift;
    const uint32_t rem = m & ((1u << shift) - 1), half = 1u << (shift - 1);
    if (rem > half || (rem == half && (q & 1))) q++;
    return sign | (uint16_t)q;
  }
  uint32_t q = ((abs - 0x38000000u) >> 13);  // rebias the exponent (127 -> 15), keep 10 mantissa bits
  const uint32_t rem = abs & 0x1fff;
  if (rem > 0x1000 || (rem == 0x1000 && (q & 1))) q++;  // a carry into the exponent is the correct rounding
  return sign | (uint16_t)q;
}
