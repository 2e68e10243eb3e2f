#include "engine/float_convert.h"

#include <gtest/gtest.h>

#include <cmath>
#include <cstdint>
#include <cstring>
#include <limits>

namespace infini {
namespace {

float from_bits(uint32_t bits) {
  float f;
  std::memcpy(&f, &bits, sizeof f);
  return f;
}

uint32_t to_bits(float f) {
  uint32_t bits;
  std::memcpy(&bits, &f, sizeof bits);
  return bits;
}

constexpr float kInf = std::numeric_limits<float>::infinity();

// An independent, slow reference for float -> f16: the nearest half by
// binary search over the (monotonic) positive encodings, ties to even.
uint16_t reference_float_to_f16(float x) {
  if (std::isnan(x)) return 0x7e00;
  const uint16_t sign = std::signbit(x) ? 0x8000 : 0;
  const double a = std::fabs(static_cast<double>(x));
  // 65520 = 65504 + half an ulp: at or above it, round-to-nearest gives inf.
  if (a >= 65520.0) return sign | 0x7c00;
  uint16_t lo = 0, hi = 0x7bff;  // largest encoding whose value <= a
  while (lo < hi) {
    const uint16_t mid = static_cast<uint16_t>((lo + hi + 1) / 2);
    if (static_cast<double>(f16_to_float(mid)) <= a) {
      lo = mid;
    } else {
      hi = static_cast<uint16_t>(mid - 1);
    }
  }
  if (lo == 0x7bff) return sign | lo;
  const double below = a - f16_to_float(lo);
  const double above = f16_to_float(static_cast<uint16_t>(lo + 1)) - a;
  uint16_t h = lo;
  if (above < below || (above == below && (lo & 1))) h = static_cast<uint16_t>(lo + 1);
  return sign | h;
}

TEST(Bf16Test, KnownValues) {
  EXPECT_EQ(float_to_bf16(1.0f), 0x3f80);
  EXPECT_EQ(float_to_bf16(-2.0f), 0xc000);
  EXPECT_EQ(float_to_bf16(0.0f), 0x0000);
  EXPECT_EQ(float_to_bf16(-0.0f), 0x8000);
  EXPECT_EQ(float_to_bf16(0.1f), 0x3dcd);  // 0x3dcccccd rounds up
  EXPECT_EQ(float_to_bf16(kInf), 0x7f80);
  EXPECT_EQ(float_to_bf16(-kInf), 0xff80);
  EXPECT_EQ(bf16_to_float(0x3f80), 1.0f);
  EXPECT_EQ(bf16_to_float(0xc000), -2.0f);
  EXPECT_EQ(bf16_to_float(0x0001), from_bits(0x00010000));  // subnormal
}

TEST(Bf16Test, RoundsToNearestEven) {
  // 1 + 2^-8 is halfway between 1 and 1 + 2^-7: ties to the even 1.0.
  EXPECT_EQ(float_to_bf16(from_bits(0x3f808000)), 0x3f80);
  // 1 + 3 * 2^-8 is halfway between 0x3f81 and 0x3f82: ties to the even 0x3f82.
  EXPECT_EQ(float_to_bf16(from_bits(0x3f818000)), 0x3f82);
  // Just above and below halfway.
  EXPECT_EQ(float_to_bf16(from_bits(0x3f808001)), 0x3f81);
  EXPECT_EQ(float_to_bf16(from_bits(0x3f807fff)), 0x3f80);
  // The largest float rounds up to inf, as in PyTorch.
  EXPECT_EQ(float_to_bf16(std::numeric_limits<float>::max()), 0x7f80);
}

TEST(Bf16Test, NanStaysNan) {
  for (uint32_t bits : {0x7fc00000u, 0x7f800001u, 0xffc00000u, 0x7f80ffffu, 0x7f810000u}) {
    SCOPED_TRACE(bits);
    const uint16_t h = float_to_bf16(from_bits(bits));
    EXPECT_TRUE(std::isnan(bf16_to_float(h))) << std::hex << h;
  }
}

TEST(Bf16Test, EveryValueRoundTrips) {
  for (uint32_t h = 0; h <= 0xffff; ++h) {
    const float f = bf16_to_float(static_cast<uint16_t>(h));
    if (std::isnan(f)) {
      EXPECT_TRUE(std::isnan(bf16_to_float(float_to_bf16(f)))) << std::hex << h;
    } else {
      ASSERT_EQ(float_to_bf16(f), h) << std::hex << h;
    }
  }
}

TEST(F16Test, KnownValues) {
  EXPECT_EQ(float_to_f16(1.0f), 0x3c00);
  EXPECT_EQ(float_to_f16(-2.0f), 0xc000);
  EXPECT_EQ(float_to_f16(0.0f), 0x0000);
  EXPECT_EQ(float_to_f16(-0.0f), 0x8000);
  EXPECT_EQ(float_to_f16(65504.0f), 0x7bff);
  EXPECT_EQ(float_to_f16(0.1f), 0x2e66);
  EXPECT_EQ(float_to_f16(kInf), 0x7c00);
  EXPECT_EQ(float_to_f16(-kInf), 0xfc00);
  EXPECT_EQ(float_to_f16(std::ldexp(1.0f, -24)), 0x0001);     // smallest subnormal
  EXPECT_EQ(float_to_f16(std::ldexp(1023.0f, -24)), 0x03ff);  // largest subnormal
  EXPECT_EQ(float_to_f16(std::ldexp(1.0f, -14)), 0x0400);     // smallest normal
  EXPECT_EQ(float_to_f16(-std::ldexp(5.0f, -24)), 0x8005);

  EXPECT_EQ(f16_to_float(0x3c00), 1.0f);
  EXPECT_EQ(f16_to_float(0x3555), 0.333251953125f);
  EXPECT_EQ(f16_to_float(0x7bff), 65504.0f);
  EXPECT_EQ(f16_to_float(0x0001), std::ldexp(1.0f, -24));
  EXPECT_EQ(f16_to_float(0x03ff), std::ldexp(1023.0f, -24));
  EXPECT_EQ(f16_to_float(0x8001), -std::ldexp(1.0f, -24));
  EXPECT_EQ(f16_to_float(0x0400), std::ldexp(1.0f, -14));
  EXPECT_EQ(f16_to_float(0x7c00), kInf);
  EXPECT_EQ(f16_to_float(0xfc00), -kInf);
  EXPECT_EQ(to_bits(f16_to_float(0x8000)), 0x80000000u);  // -0 keeps its sign
  EXPECT_TRUE(std::isnan(f16_to_float(0x7c01)));
  EXPECT_TRUE(std::isnan(f16_to_float(0x7e00)));
  EXPECT_TRUE(std::isnan(f16_to_float(0xffff)));
}

TEST(F16Test, Overflow) {
  EXPECT_EQ(float_to_f16(65519.0f), 0x7bff);  // below 65504 + half ulp
  EXPECT_EQ(float_to_f16(65520.0f), 0x7c00);  // the tie rounds to even: inf
  EXPECT_EQ(float_to_f16(-70000.0f), 0xfc00);
  EXPECT_EQ(float_to_f16(1e10f), 0x7c00);
  EXPECT_EQ(float_to_f16(std::numeric_limits<float>::max()), 0x7c00);
}

TEST(F16Test, RoundsToNearestEven) {
  // Normal range: 1 + 2^-11 is halfway between 1 and 1 + 2^-10.
  EXPECT_EQ(float_to_f16(1.0f + std::ldexp(1.0f, -11)), 0x3c00);
  EXPECT_EQ(float_to_f16(1.0f + 3 * std::ldexp(1.0f, -11)), 0x3c02);
  EXPECT_EQ(float_to_f16(std::nextafter(1.0f + std::ldexp(1.0f, -11), 2.0f)), 0x3c01);
  // Mantissa carry into the exponent: 2 - 2^-12 rounds up to 2.
  EXPECT_EQ(float_to_f16(2.0f - std::ldexp(1.0f, -12)), 0x4000);
  // Subnormal range, in units of 2^-24.
  EXPECT_EQ(float_to_f16(std::ldexp(1.0f, -25)), 0x0000);  // 0.5 -> even 0
  EXPECT_EQ(float_to_f16(std::nextafter(std::ldexp(1.0f, -25), 1.0f)), 0x0001);
  EXPECT_EQ(float_to_f16(std::ldexp(3.0f, -25)), 0x0002);     // 1.5 -> even 2
  EXPECT_EQ(float_to_f16(std::ldexp(5.0f, -25)), 0x0002);     // 2.5 -> even 2
  EXPECT_EQ(float_to_f16(std::ldexp(2047.0f, -25)), 0x0400);  // 1023.5 -> smallest normal
  EXPECT_EQ(float_to_f16(std::ldexp(1.0f, -30)), 0x0000);
  EXPECT_EQ(float_to_f16(-std::ldexp(1.0f, -30)), 0x8000);
  EXPECT_EQ(float_to_f16(std::numeric_limits<float>::denorm_min()), 0x0000);
}

TEST(F16Test, NanStaysNan) {
  for (uint32_t bits : {0x7fc00000u, 0x7f800001u, 0xffc00000u, 0x7f801fffu, 0xff800001u}) {
    SCOPED_TRACE(bits);
    const uint16_t h = float_to_f16(from_bits(bits));
    EXPECT_EQ(h & 0x7c00, 0x7c00) << std::hex << h;
    EXPECT_NE(h & 0x03ff, 0) << std::hex << h;
    EXPECT_TRUE(std::isnan(f16_to_float(h)));
  }
}

TEST(F16Test, EveryValueRoundTrips) {
  for (uint32_t h = 0; h <= 0xffff; ++h) {
    const float f = f16_to_float(static_cast<uint16_t>(h));
    if (std::isnan(f)) {
      EXPECT_TRUE(std::isnan(f16_to_float(float_to_f16(f)))) << std::hex << h;
    } else {
      ASSERT_EQ(float_to_f16(f), h) << std::hex << h;
    }
  }
}

TEST(F16Test, MatchesReferenceAcrossFloats) {
  // Every 997th float bit pattern (about 4.3M values, all exponents and signs).
  for (uint64_t bits = 0; bits <= 0xffffffffu; bits += 997) {
    const float f = from_bits(static_cast<uint32_t>(bits));
    if (std::isnan(f)) continue;
    ASSERT_EQ(float_to_f16(f), reference_float_to_f16(f)) << std::hex << bits;
#if defined(__FLT16_MAX__)
    // The compiler's own conversion, where it has one.
    const _Float16 native = static_cast<_Float16>(f);
    uint16_t native_bits;
    std::memcpy(&native_bits, &native, sizeof native_bits);
    ASSERT_EQ(float_to_f16(f), native_bits) << std::hex << bits;
#endif
  }
}

}  // namespace
}  // namespace infini
