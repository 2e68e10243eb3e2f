#include "engine/float_convert.h"

namespace infini {

float f16_to_float(uint16_t h) {
  const uint32_t sign = static_cast<uint32_t>(h & 0x8000u) << 16;
  const uint32_t exponent = (h >> 10) & 0x1fu;
  uint32_t mantissa = h & 0x3ffu;
  uint32_t bits;
  if (exponent == 0x1fu) {
    // Inf or NaN; the payload is kept so a NaN stays a NaN.
    bits = sign | 0x7f800000u | (mantissa << 13);
  } else if (exponent != 0) {
    bits = sign | ((exponent + (127 - 15)) << 23) | (mantissa << 13);
  } else if (mantissa == 0) {
    bits = sign;  // signed zero
  } else {
    // Subnormal half (mantissa * 2^-24) is a normal float: shift the leading
    // one up to the implicit position, lowering the exponent as we go.
    uint32_t float_exponent = 127 - 15 + 1;
    while ((mantissa & 0x400u) == 0) {
      mantissa <<= 1;
      --float_exponent;
    }
    bits = sign | (float_exponent << 23) | ((mantissa & 0x3ffu) << 13);
  }
  float f;
  std::memcpy(&f, &bits, sizeof f);
  return f;
}

uint16_t float_to_f16(float f) {
  uint32_t bits;
  std::memcpy(&bits, &f, sizeof bits);
  const uint16_t sign = static_cast<uint16_t>((bits >> 16) & 0x8000u);
  const uint32_t magnitude = bits & 0x7fffffffu;

  if (magnitude > 0x7f800000u) {
    // NaN: quiet it and keep what fits of the payload.
    return static_cast<uint16_t>(sign | 0x7e00u | ((magnitude >> 13) & 0x3ffu));
  }
  if (magnitude >= 0x47800000u) {
    return static_cast<uint16_t>(sign | 0x7c00u);  // >= 2^16 (or inf): inf
  }
  if (magnitude >= 0x38800000u) {
    // Normal half (>= 2^-14). Rounding may carry into the exponent, which is
    // exactly right, up to and including overflow to inf (0x7c00).
    const uint32_t exponent = (magnitude >> 23) - (127 - 15);
    uint32_t h = (exponent << 10) | ((magnitude >> 13) & 0x3ffu);
    const uint32_t rest = magnitude & 0x1fffu;
    if (rest > 0x1000u || (rest == 0x1000u && (h & 1u))) ++h;
    return static_cast<uint16_t>(sign | h);
  }
  if (magnitude <= 0x33000000u) {
    return sign;  // <= 2^-25: rounds to zero (2^-25 itself ties to even zero)
  }
  // Subnormal half: the value in units of 2^-24, rounded to nearest even. A
  // result of 0x400 is the smallest normal, which is the correct encoding.
  const uint32_t mantissa = (magnitude & 0x7fffffu) | 0x800000u;
  const uint32_t shift = 126 - (magnitude >> 23);  // 14 .. 24
  uint32_t h = mantissa >> shift;
  const uint32_t rest = mantissa & ((1u << shift) - 1);
  const uint32_t half = 1u << (shift - 1);
  if (rest > half || (rest == half && (h & 1u))) ++h;
  return static_cast<uint16_t>(sign | h);
}

}  // namespace infini
