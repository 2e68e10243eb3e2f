// Every operation of the backend seam (engine/backend.h) on each backend and
// compute dtype against the CPU backend in fp32, the engine's reference
// path (itself checked against the PyTorch reference by golden_test.cc).
// Inputs are the same host floats uploaded to both; outputs are downloaded
// and compared relative to the largest reference value.
//
// Tolerances. fp32: 1e-4 relative, the design's bound for the fp32 path (a
// TF32 product, 10 significant bits, would fail it, as it should).
// bf16, products (linear, attention, memory retrieval and update): bf16
// keeps 8 significant bits, so rounding an operand costs up to 2^-9 relative
// and a product of two rounded operands up to 2^-8 = 0.39%. Products of
// length K accumulate in fp32, so the sum's error is the rounding errors of
// its K terms, of random sign: about 2^-8 * sqrt(K) * rms(term), against a
// sum of size about sqrt(K) * rms(term): ~0.4% of the typical output, and
// the largest of a few thousand outputs stays within 4-5x that. 2e-2 bounds
// it with margin, and a wrong index, head mapping, mask or RoPE position
// moves outputs by 10-100% of the largest. bf16, everything else: norms,
// softmax statistics, SwiGLU, the gate and the memory are fp32 on every
// backend (backend.h), so those keep the fp32 bound.
#include <gtest/gtest.h>

#include <cmath>
#include <memory>
#include <random>
#include <vector>

#include "engine/backend.h"
#include "tests/engine/backend_cases.h"
#include "tests/engine/test_support.h"

namespace infini {
namespace {

using testing::BackendCase;
using testing::relative_error;

constexpr double kF32Tolerance = 1e-4;
constexpr double kBF16ProductTolerance = 2e-2;

std::vector<float> random_values(size_t n, uint64_t seed, float scale = 1.0f) {
  std::mt19937_64 rng(seed);
  std::normal_distribution<float> normal(0.0f, scale);
  std::vector<float> out(n);
  for (auto& v : out) v = normal(rng);
  return out;
}

// The same data on the backend under test and on the reference.
struct Both {
  Tensor test, ref;
  Both rows(int64_t begin, int64_t count) const {
    return {test.row_range(begin, count), ref.row_range(begin, count)};
  }
  Both cols(int64_t begin, int64_t count) const {
    return {test.col_range(begin, count), ref.col_range(begin, count)};
  }
};

class BackendOpsTest : public ::testing::TestWithParam<BackendCase> {
 protected:
  void SetUp() override {
    INFINI_SKIP_UNLESS_AVAILABLE(GetParam());
    be_ = make_backend(GetParam().backend, GetParam().dtype);
    ref_ = make_backend("cpu", ComputeDType::kF32);
  }

  double products() const {
    return GetParam().dtype == ComputeDType::kF32 ? kF32Tolerance : kBF16ProductTolerance;
  }

  Both upload(const std::vector<float>& host, int64_t rows, int64_t cols) {
    EXPECT_EQ(host.size(), static_cast<size_t>(rows * cols));
    return {be_->upload(host.data(), rows, cols), ref_->upload(host.data(), rows, cols)};
  }
  Both random(int64_t rows, int64_t cols, uint64_t seed, float scale = 1.0f) {
    return upload(random_values(static_cast<size_t>(rows * cols), seed, scale), rows, cols);
  }
  Both zeros(int64_t rows, int64_t cols) {
    return {be_->allocate(rows, cols), ref_->allocate(rows, cols)};
  }
  std::vector<float> on_test(const Tensor& t) {
    be_->synchronize();
    std::vector<float> out(static_cast<size_t>(t.rows() * t.cols()));
    be_->download(t, out.data());
    return out;
  }
  std::vector<float> on_ref(const Tensor& t) {
    std::vector<float> out(static_cast<size_t>(t.rows() * t.cols()));
    ref_->download(t, out.data());
    return out;
  }
  // Compares the whole tensor (views included: the columns or rows around a
  // view must stay as the reference left them).
  void expect_close(const Both& t, double tolerance, const std::string& what) {
    const auto got = on_test(t.test), want = on_ref(t.ref);
    for (float v : got) ASSERT_TRUE(std::isfinite(v)) << what << ": not finite";
    const double error = relative_error(got, want);
    EXPECT_LT(error, tolerance) << what;
    RecordProperty(what, std::to_string(error));
  }

  std::unique_ptr<Backend> be_, ref_;
};

TEST_P(BackendOpsTest, UploadDownloadCopyAndFillAreExact) {
  const auto host = random_values(12 * 20, 1);
  Tensor t = be_->upload(host.data(), 12, 20);
  EXPECT_EQ(on_test(t), host) << "upload then download";

  Tensor fresh = be_->allocate(9, 33);
  for (float v : on_test(fresh)) ASSERT_EQ(v, 0.0f) << "allocate must zero-fill";

  // copy: a column view of t into a row range of a wider tensor's columns.
  Tensor dst = be_->allocate(16, 40);
  Tensor dst_view = dst.row_range(3, 12).col_range(5, 7);
  be_->copy(t.col_range(4, 7), dst_view);
  auto got = on_test(dst);
  for (int64_t r = 0; r < 16; ++r) {
    for (int64_t c = 0; c < 40; ++c) {
      const bool inside = r >= 3 && r < 15 && c >= 5 && c < 12;
      const float want = inside ? host[static_cast<size_t>((r - 3) * 20 + 4 + (c - 5))] : 0.0f;
      ASSERT_EQ(got[static_cast<size_t>(r * 40 + c)], want) << r << "," << c;
    }
  }
  std::vector<float> slice;  // download of a view: its rows, packed
  for (int64_t r = 0; r < 12; ++r) {
    for (int64_t c = 4; c < 11; ++c) slice.push_back(host[static_cast<size_t>(r * 20 + c)]);
  }
  EXPECT_EQ(on_test(dst_view), slice);
  EXPECT_EQ(on_test(t.col_range(4, 7)), slice);

  // fill_zero of a view zeroes it and nothing else.
  Tensor view = t.row_range(2, 5).col_range(3, 11);
  be_->fill_zero(view);
  got = on_test(t);
  for (int64_t r = 0; r < 12; ++r) {
    for (int64_t c = 0; c < 20; ++c) {
      const bool inside = r >= 2 && r < 7 && c >= 3 && c < 14;
      const size_t i = static_cast<size_t>(r * 20 + c);
      ASSERT_EQ(got[i], inside ? 0.0f : host[i]) << r << "," << c;
    }
  }
}

TEST_P(BackendOpsTest, Embed) {
  const int64_t vocab = 50, hidden = 40;
  const auto values = random_values(static_cast<size_t>(vocab * hidden), 2);
  auto table_test = be_->upload_linear(values.data(), vocab, hidden, nullptr);
  auto table_ref = ref_->upload_linear(values.data(), vocab, hidden, nullptr);
  const std::vector<int32_t> ids = {0, 49, 7, 7, 23, 1};
  const int64_t n = static_cast<int64_t>(ids.size());
  Both out = zeros(n + 2, hidden);
  Both rows = out.rows(1, n);
  be_->embed(ids.data(), n, *table_test, rows.test);
  ref_->embed(ids.data(), n, *table_ref, rows.ref);
  const auto got = on_test(out.test), want = on_ref(out.ref);
  if (GetParam().dtype == ComputeDType::kF32) {
    EXPECT_EQ(got, want) << "an fp32 embedding lookup is a copy";
  } else {
    // The table is held in bf16 (shared with a tied lm_head): each value is
    // rounded to 8 significant bits: half a unit in the last place, 2^-8 relative at most.
    for (size_t i = 0; i < got.size(); ++i) {
      ASSERT_NEAR(got[i], want[i], std::fabs(want[i]) * 0x1p-8f) << i;
    }
    EXPECT_EQ(got[0], 0.0f);  // row 0 of `out` is outside the view
  }
}

struct LinearCase {
  int64_t m, k, n;
  bool bias, views;
};

TEST_P(BackendOpsTest, Linear) {
  const LinearCase cases[] = {{1, 64, 48, false, false},   {7, 96, 80, true, false},
                              {64, 192, 160, true, false}, {33, 48, 1024, false, false},
                              {5, 64, 96, false, true},    {130, 128, 72, true, true}};
  uint64_t seed = 10;
  for (const LinearCase& c : cases) {
    const std::string what = "linear " + std::to_string(c.m) + "x" + std::to_string(c.k) + "x" +
                             std::to_string(c.n) + (c.bias ? " bias" : "") +
                             (c.views ? " views" : "");
    SCOPED_TRACE(what);
    const auto w = random_values(static_cast<size_t>(c.n * c.k), ++seed, 0.1f);
    const auto b = random_values(static_cast<size_t>(c.n), ++seed, 0.5f);
    const float* bias = c.bias ? b.data() : nullptr;
    auto wt = be_->upload_linear(w.data(), c.n, c.k, bias);
    auto wr = ref_->upload_linear(w.data(), c.n, c.k, bias);
    EXPECT_EQ(wt->out_features(), c.n);
    EXPECT_EQ(wt->in_features(), c.k);
    // Views as the model makes them: x a column block of a wider tensor, y
    // a column block whose neighbours must stay untouched.
    Both x_all = random(c.m, c.k + (c.views ? 24 : 0), ++seed);
    Both x = c.views ? x_all.cols(16, c.k) : x_all;
    Both y_all = random(c.m, c.n + (c.views ? 32 : 0), ++seed);
    Both y = c.views ? y_all.cols(8, c.n) : y_all;
    be_->linear(x.test, *wt, y.test);
    ref_->linear(x.ref, *wr, y.ref);
    expect_close(y_all, products(), what);
  }
}

TEST_P(BackendOpsTest, LinearOnUnalignedViews) {
  // Column offsets of 3 and 5 floats: views need not start on a vector or
  // 16-byte boundary (the contract allows any view).
  const int64_t m = 9, k = 40, n = 24;
  const auto w = random_values(static_cast<size_t>(n * k), 3, 0.1f);
  const auto b = random_values(static_cast<size_t>(n), 4);
  auto wt = be_->upload_linear(w.data(), n, k, b.data());
  auto wr = ref_->upload_linear(w.data(), n, k, b.data());
  Both x = random(m, k + 7, 5).cols(3, k);
  Both y_all = random(m, n + 9, 6);
  Both y = y_all.cols(5, n);
  be_->linear(x.test, *wt, y.test);
  ref_->linear(x.ref, *wr, y.ref);
  expect_close(y_all, products(), "linear on unaligned views");
}

TEST_P(BackendOpsTest, RmsNormAddAndSwiglu) {
  for (const int64_t n : {1, 13, 70}) {
    SCOPED_TRACE("rows " + std::to_string(n));
    const int64_t hidden = 192, inter = 160;
    Both x = random(n, hidden, 20 + n, 3.0f);
    Both weight = random(1, hidden, 21);
    Both y = zeros(n, hidden);
    be_->rms_norm(x.test, weight.test, 1e-6f, y.test);
    ref_->rms_norm(x.ref, weight.ref, 1e-6f, y.ref);
    expect_close(y, kF32Tolerance, "rms_norm");
    // On views, and in place on the tail of a wider tensor.
    Both wide = random(n, hidden + 16, 22 + n);
    Both normed = zeros(n, hidden + 8);
    Both normed_view = normed.cols(8, hidden);
    be_->rms_norm(wide.test.col_range(16, hidden), weight.test, 1e-5f, normed_view.test);
    ref_->rms_norm(wide.ref.col_range(16, hidden), weight.ref, 1e-5f, normed_view.ref);
    expect_close(normed, kF32Tolerance, "rms_norm on views");

    Both sum = random(n, hidden, 23 + n);
    be_->add(sum.test, x.test);
    ref_->add(sum.ref, x.ref);
    expect_close(sum, kF32Tolerance, "add");
    Both part = sum.cols(32, 64);
    be_->add(part.test, wide.test.col_range(0, 64));
    ref_->add(part.ref, wide.ref.col_range(0, 64));
    expect_close(sum, kF32Tolerance, "add on views");

    // SwiGLU reads gate and up as the two halves of one product, as the model does.
    Both gate_up = random(n, 2 * inter, 24 + n, 6.0f);
    Both act = zeros(n, inter);
    be_->swiglu(gate_up.test.col_range(0, inter), gate_up.test.col_range(inter, inter), act.test);
    ref_->swiglu(gate_up.ref.col_range(0, inter), gate_up.ref.col_range(inter, inter), act.ref);
    expect_close(act, kF32Tolerance, "swiglu");
  }
}

AttentionShape attention_shape(int64_t heads, int64_t kv_heads, int64_t head_dim, int64_t segment,
                               double theta) {
  return {heads, kv_heads, head_dim, segment, default_rope_inv_freq(theta, head_dim)};
}

// Llama 3.2's rotary frequencies (rope_scaling llama3, factor 32), with the
// original context scaled down to 256 so that a 160-token segment turns the
// interpolated band by whole radians.
AttentionShape llama3_attention_shape() {
  ModelConfig c;
  c.head_dim = 64;
  c.rope_theta = 500000.0;
  c.rope_llama3 = Llama3RopeScaling{32.0, 1.0, 4.0, 256};
  return {8, 2, 64, 160, c.rope_inv_freq()};
}

TEST_P(BackendOpsTest, RmsNormHeads) {
  // Qwen3's q/k norm: each head_dim block of a row on its own, in place on
  // the q or k columns of a fused q,k,v product, as the model calls it.
  for (const int64_t d : {int64_t{16}, int64_t{64}, int64_t{128}}) {
    for (const int64_t n : {1, 13, 70}) {
      const std::string what =
          "rms_norm_heads d" + std::to_string(d) + " rows " + std::to_string(n);
      SCOPED_TRACE(what);
      const int64_t heads = 4, kv_heads = 2;
      const int64_t width = (heads + 2 * kv_heads) * d;
      const auto host = random_values(static_cast<size_t>(n * width), 200 + d + n, 3.0f);
      Both qkv = upload(host, n, width);
      Both weight = random(1, d, 201 + d);
      Both k = qkv.cols(heads * d, kv_heads * d);
      be_->rms_norm_heads(k.test, weight.test, 1e-6f, k.test);
      ref_->rms_norm_heads(k.ref, weight.ref, 1e-6f, k.ref);
      expect_close(qkv, kF32Tolerance, what);  // q and v columns untouched
      // What it means: the plain rms_norm of each head's d values.
      const auto got = on_test(qkv.test);
      for (int64_t r = 0; r < n; ++r) {
        for (int64_t h = 0; h < kv_heads; ++h) {
          const size_t at = static_cast<size_t>(r * width + (heads + h) * d);
          Tensor one = ref_->upload(host.data() + at, 1, d);
          Tensor normed = ref_->allocate(1, d);
          ref_->rms_norm(one, weight.ref, 1e-6f, normed);
          std::vector<float> want(static_cast<size_t>(d));
          ref_->download(normed, want.data());
          const std::vector<float> have(got.begin() + static_cast<long>(at),
                                        got.begin() + static_cast<long>(at) + d);
          ASSERT_LT(relative_error(have, want), kF32Tolerance) << "row " << r << " head " << h;
        }
      }
    }
  }
}

// Head layouts the engine meets: GQA and MHA, head_dim 12 (not a multiple
// of 8), 16, 48 (the demo model) and 64 (SmolLM2, Llama), a segment that
// is not a multiple of a kernel's block, and Llama 3's scaled frequencies.
std::vector<AttentionShape> attention_shapes() {
  return {attention_shape(4, 2, 16, 32, 10000.0), attention_shape(4, 4, 12, 24, 10000.0),
          attention_shape(4, 4, 48, 64, 10000.0), attention_shape(8, 2, 64, 160, 500000.0),
          llama3_attention_shape()};
}

std::string describe(const AttentionShape& s) {
  return "H" + std::to_string(s.num_heads) + " Hkv" + std::to_string(s.num_kv_heads) + " d" +
         std::to_string(s.head_dim) + " S" + std::to_string(s.segment_size);
}

TEST_P(BackendOpsTest, GateMix) {
  for (const AttentionShape& s : attention_shapes()) {
    SCOPED_TRACE(describe(s));
    const int64_t n = 11, width = s.num_heads * s.head_dim;
    std::vector<float> logits(static_cast<size_t>(s.num_heads));
    const float some[] = {-30.0f, -1.0f, 0.0f, 2.5f, 40.0f};
    for (size_t h = 0; h < logits.size(); ++h) logits[h] = some[h % 5];
    Both gate = upload(logits, 1, s.num_heads);
    Both mem = random(n, width, 30);
    Both dot = random(n, width, 31);
    be_->gate_mix(mem.test, gate.test, s, dot.test);
    ref_->gate_mix(mem.ref, gate.ref, s, dot.ref);
    expect_close(dot, kF32Tolerance, "gate_mix");
  }
}

struct Window {
  int64_t first, n;
};

TEST_P(BackendOpsTest, LocalAttention) {
  uint64_t seed = 40;
  for (const AttentionShape& s : attention_shapes()) {
    const int64_t S = s.segment_size, d = s.head_dim;
    const int64_t qs = s.num_heads * d, kvs = s.num_kv_heads * d;
    // Decode (n = 1) at the start, inside and at the end of a segment; a
    // full segment; chunks starting inside one.
    const Window windows[] = {{0, 1}, {5, 1},         {S - 1, 1}, {0, S},
                              {3, 7}, {S / 2, S / 2}, {1, S - 1}};
    for (const Window w : windows) {
      const std::string what =
          describe(s) + " first " + std::to_string(w.first) + " n " + std::to_string(w.n);
      SCOPED_TRACE(what);
      // q is the first block of a fused q,k,v product, as in the model.
      Both qkv = random(w.n, qs + 2 * kvs, ++seed);
      auto keys = random_values(static_cast<size_t>(S * kvs), ++seed);
      auto values = random_values(static_cast<size_t>(S * kvs), ++seed);
      // Rows past first + n belong to no query (stale rows of the previous
      // segment in the model): large values there show any read past the mask.
      for (size_t i = static_cast<size_t>((w.first + w.n) * kvs); i < keys.size(); ++i) {
        keys[i] = 1e3f;
        values[i] = -1e3f;
      }
      Both k = upload(keys, S, kvs), v = upload(values, S, kvs);
      Both out = random(w.n, qs, ++seed);  // overwritten
      RotatedKeys test_rotated, ref_rotated;  // none cached yet: every key rotated here
      be_->local_attention(qkv.test.col_range(0, qs), k.test, v.test, w.first, s, test_rotated,
                           out.test);
      ref_->local_attention(qkv.ref.col_range(0, qs), k.ref, v.ref, w.first, s, ref_rotated,
                            out.ref);
      expect_close(out, products(), "local_attention " + what);
    }
  }
}

// A norm z as a fold leaves it: sums of elu(k) + 1 over a segment.
std::vector<float> positive_norm(int64_t kv_heads, int64_t d, uint64_t seed) {
  auto z = random_values(static_cast<size_t>(kv_heads * d), seed);
  for (auto& v : z) v = 8.0f + 4.0f * std::fabs(v);
  return z;
}

TEST_P(BackendOpsTest, MemoryRetrieve) {
  uint64_t seed = 70;
  for (const AttentionShape& s : attention_shapes()) {
    SCOPED_TRACE(describe(s));
    const int64_t d = s.head_dim, qs = s.num_heads * d, kvs = s.num_kv_heads * d;
    for (const int64_t n : {int64_t{1}, int64_t{9}, s.segment_size}) {
      Both qkv = random(n, qs + 2 * kvs, ++seed);
      Both memory = random(kvs, d, ++seed);
      Both norm = upload(positive_norm(s.num_kv_heads, d, ++seed), s.num_kv_heads, d);
      Both out = random(n, qs, ++seed);
      be_->memory_retrieve(qkv.test.col_range(0, qs), memory.test, norm.test, s, out.test);
      ref_->memory_retrieve(qkv.ref.col_range(0, qs), memory.ref, norm.ref, s, out.ref);
      expect_close(out, products(), "memory_retrieve rows " + std::to_string(n));
    }
  }
}

TEST_P(BackendOpsTest, MemoryRetrieveIsZeroWhereTheDenominatorIsZero) {
  const AttentionShape s = attention_shape(8, 2, 16, 32, 10000.0);
  const int64_t d = s.head_dim, qs = s.num_heads * d, kvs = s.num_kv_heads * d, n = 6;
  const int64_t group = s.num_heads / s.num_kv_heads;
  Both q = random(n, qs, 80);
  // kv head 0 never written (M = 0, z = 0), kv head 1 written.
  auto m = random_values(static_cast<size_t>(kvs * d), 81);
  std::fill(m.begin(), m.begin() + d * d, 0.0f);
  auto z = positive_norm(s.num_kv_heads, d, 82);
  std::fill(z.begin(), z.begin() + d, 0.0f);
  Both memory = upload(m, kvs, d), norm = upload(z, s.num_kv_heads, d);
  Both out = random(n, qs, 83);
  be_->memory_retrieve(q.test, memory.test, norm.test, s, out.test);
  ref_->memory_retrieve(q.ref, memory.ref, norm.ref, s, out.ref);
  const auto got = on_test(out.test);
  for (int64_t r = 0; r < n; ++r) {
    for (int64_t h = 0; h < group; ++h) {  // the query heads of kv head 0
      for (int64_t i = 0; i < d; ++i) {
        ASSERT_EQ(got[static_cast<size_t>(r * qs + h * d + i)], 0.0f)
            << "row " << r << " head " << h;
      }
    }
  }
  expect_close(out, products(), "memory_retrieve, one kv head empty");
}

TEST_P(BackendOpsTest, MemoryUpdateLinearAndDelta) {
  uint64_t seed = 90;
  for (const AttentionShape& s : attention_shapes()) {
    const int64_t d = s.head_dim, kvs = s.num_kv_heads * d, S = s.segment_size;
    for (const MemoryUpdate rule : {MemoryUpdate::kLinear, MemoryUpdate::kDelta}) {
      for (const bool empty : {true, false}) {
        const std::string what = describe(s) + " " + memory_update_name(rule) +
                                 (empty ? " from empty memory" : " onto a written memory");
        SCOPED_TRACE(what);
        Both keys = random(S, kvs, ++seed), values = random(S, kvs, ++seed);
        Both memory = empty ? zeros(kvs, d) : random(kvs, d, ++seed, 0.3f);
        Both norm = empty ? zeros(s.num_kv_heads, d)
                          : upload(positive_norm(s.num_kv_heads, d, ++seed), s.num_kv_heads, d);
        be_->memory_update(keys.test, values.test, rule, s, memory.test, norm.test);
        ref_->memory_update(keys.ref, values.ref, rule, s, memory.ref, norm.ref);
        expect_close(memory, products(), "memory M, " + what);
        expect_close(norm, products(), "norm z, " + what);
        // A second fold onto the first.
        be_->memory_update(values.test, keys.test, rule, s, memory.test, norm.test);
        ref_->memory_update(values.ref, keys.ref, rule, s, memory.ref, norm.ref);
        expect_close(memory, products(), "memory M after two folds, " + what);
      }
    }
  }
}

TEST_P(BackendOpsTest, DeltaOnAnEmptyMemoryEqualsLinear) {
  // The delta rule subtracts sigma(K) M / sigma(K) z; on a memory never
  // written the denominator is 0 and the retrieval must count as 0, not NaN.
  const AttentionShape s = attention_shape(4, 2, 16, 32, 10000.0);
  const int64_t d = s.head_dim, kvs = s.num_kv_heads * d;
  auto keys = be_->upload(random_values(static_cast<size_t>(32 * kvs), 100).data(), 32, kvs);
  auto values = be_->upload(random_values(static_cast<size_t>(32 * kvs), 101).data(), 32, kvs);
  Tensor m_linear = be_->allocate(kvs, d), z_linear = be_->allocate(s.num_kv_heads, d);
  Tensor m_delta = be_->allocate(kvs, d), z_delta = be_->allocate(s.num_kv_heads, d);
  be_->memory_update(keys, values, MemoryUpdate::kLinear, s, m_linear, z_linear);
  be_->memory_update(keys, values, MemoryUpdate::kDelta, s, m_delta, z_delta);
  const auto delta = on_test(m_delta);
  for (float v : delta) ASSERT_TRUE(std::isfinite(v));
  EXPECT_LT(relative_error(delta, on_test(m_linear)), products());
  EXPECT_LT(relative_error(on_test(z_delta), on_test(z_linear)), kF32Tolerance);
}

INSTANTIATE_TEST_SUITE_P(backend_parity, BackendOpsTest,
                         ::testing::ValuesIn(testing::all_backend_cases()),
                         [](const auto& info) { return testing::backend_case_name(info.param); });

}  // namespace
}  // namespace infini
