#include "server/sessions/session_snapshot.h"

#include <gtest/gtest.h>

#include <atomic>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <map>
#include <limits>
#include <new>
#include <optional>
#include <random>

#include "tests/engine/test_support.h"

// The largest single allocation made through operator new, so that a test
// can show that a hostile length is refused before anything is allocated
// for it (without relying on the ASan build's allocation limit).
namespace {
std::atomic<size_t> largest_allocation{0};
}  // namespace

// Out of line, so that GCC does not see free() paired with new at call sites
// (-Wmismatched-new-delete).
[[gnu::noinline]] void* operator new(size_t n) {
  size_t seen = largest_allocation.load(std::memory_order_relaxed);
  while (n > seen && !largest_allocation.compare_exchange_weak(seen, n)) {
  }
  if (void* p = std::malloc(n == 0 ? 1 : n)) return p;
  throw std::bad_alloc();
}
[[gnu::noinline]] void operator delete(void* p) noexcept { std::free(p); }
[[gnu::noinline]] void operator delete(void* p, size_t) noexcept { std::free(p); }

namespace infini::server {
namespace {

using Kind = SnapshotError::Kind;
using infini::testing::TempDir;

const std::string kModel = "fnv1a64:0123456789abcdef";

// Every field set to something other than its default.
SessionSnapshot full_snapshot(size_t floats = 37) {
  SessionSnapshot s;
  s.id = "0123456789abcdef0123456789abcdef";
  s.tenant = "acme-prod.eu_1";
  s.labels = {{"tenant", "acme"},
              {std::string("odd\0key", 7), std::string("\xff\xfe\n\0 value", 10)},
              {"", "empty key"},
              {"empty value", ""}};
  s.created_at_ns = 1'700'000'000'123'456'789;
  s.last_used_ns = -5;  // times are not interpreted here
  s.tokens = 1234;
  s.segments = 9;
  s.state.resize(floats);
  std::mt19937 rng(7);
  std::normal_distribution<float> normal;
  for (float& v : s.state) v = normal(rng);
  if (floats >= 5) {
    s.state[0] = -0.0f;
    s.state[1] = std::numeric_limits<float>::infinity();
    s.state[2] = std::numeric_limits<float>::quiet_NaN();
    s.state[3] = std::numeric_limits<float>::denorm_min();
    s.state[4] = std::numeric_limits<float>::max();
  }
  s.pending_ids = {0, 5, 31999, std::numeric_limits<int32_t>::max()};
  s.pending_text = std::string(" half a word \xe2\x82", 15);
  s.pending_start = 2;
  s.utf8_needed = 1;
  s.utf8_lower = 0x80;
  s.utf8_upper = 0x9F;
  s.utf8_offset = 987'654'321'000;
  return s;
}

void expect_equal(const SessionSnapshot& a, const SessionSnapshot& b) {
  EXPECT_EQ(a.id, b.id);
  EXPECT_EQ(a.tenant, b.tenant);
  EXPECT_EQ(a.labels, b.labels);
  EXPECT_EQ(a.created_at_ns, b.created_at_ns);
  EXPECT_EQ(a.last_used_ns, b.last_used_ns);
  EXPECT_EQ(a.tokens, b.tokens);
  EXPECT_EQ(a.segments, b.segments);
  ASSERT_EQ(a.state.size(), b.state.size());
  // Bit for bit: NaN and -0 included.
  if (!a.state.empty()) {
    EXPECT_EQ(std::memcmp(a.state.data(), b.state.data(), a.state.size() * sizeof(float)), 0);
  }
  EXPECT_EQ(a.pending_ids, b.pending_ids);
  EXPECT_EQ(a.pending_text, b.pending_text);
  EXPECT_EQ(a.pending_start, b.pending_start);
  EXPECT_EQ(a.utf8_needed, b.utf8_needed);
  EXPECT_EQ(a.utf8_lower, b.utf8_lower);
  EXPECT_EQ(a.utf8_upper, b.utf8_upper);
  EXPECT_EQ(a.utf8_offset, b.utf8_offset);
}

// The error decode reports, or nullopt (and a test failure) when it accepts.
std::optional<SnapshotError> error_of(std::string_view bytes, const std::string& model = kModel) {
  try {
    decode_snapshot(bytes, model);
  } catch (const SnapshotError& e) {
    return e;
  }
  return std::nullopt;
}

template <typename T>
void patch(std::string& bytes, size_t at, T value) {
  ASSERT_LE(at + sizeof(T), bytes.size());
  std::memcpy(bytes.data() + at, &value, sizeof(T));
}

uint32_t load_u32(const std::string& bytes, size_t at) {
  uint32_t value = 0;
  std::memcpy(&value, bytes.data() + at, sizeof value);
  return value;
}

// Recomputes the checksum so that only the patched field is wrong.
void reseal(std::string& bytes) {
  const size_t sealed = bytes.size() - 8;
  const uint64_t sum = fnv1a64(std::string_view(bytes).substr(0, sealed));
  std::memcpy(bytes.data() + sealed, &sum, 8);
}

// Offsets of the body's fields for `s` encoded with `model` (the layout of
// session_snapshot.cc, restated here so that a change to it shows).
struct Offsets {
  explicit Offsets(const SessionSnapshot& s, const std::string& model = kModel) {
    identity = 24;
    id = identity + 4 + model.size();
    tenant = id + 4 + s.id.size();
    labels = tenant + 4 + s.tenant.size();
    size_t at = labels + 4;
    first_label_key = at;
    for (const auto& [k, v] : s.labels) at += 8 + k.size() + v.size();
    created_at = at;
    tokens = at + 16;
    segments = at + 24;
    state = at + 32;
    pending_ids = state + 8 + 4 * s.state.size();
    pending_text = pending_ids + 8 + 4 * s.pending_ids.size();
    pending_start = pending_text + 8 + s.pending_text.size();
    utf8_needed = pending_start + 1;
    utf8_offset = utf8_needed + 12;
    end = utf8_offset + 8;
  }
  size_t identity, id, tenant, labels, first_label_key, created_at, tokens, segments, state, pending_ids,
      pending_text, pending_start, utf8_needed, utf8_offset, end;
};

TEST(SessionSnapshotTest, RoundTripKeepsEveryField) {
  const SessionSnapshot s = full_snapshot();
  const std::string bytes = encode_snapshot(s, kModel);
  EXPECT_EQ(bytes.substr(0, 8), "INFINISS");
  EXPECT_EQ(Offsets(s).end + 8, bytes.size()) << "layout differs from the documented one";
  expect_equal(decode_snapshot(bytes, kModel), s);
  EXPECT_EQ(encode_snapshot(s, kModel), bytes) << "encoding is not deterministic";
}

TEST(SessionSnapshotTest, RoundTripOfAnEmptySession) {
  SessionSnapshot s;
  s.id = "x";
  const std::string bytes = encode_snapshot(s, kModel);
  const SessionSnapshot back = decode_snapshot(bytes, kModel);
  expect_equal(back, s);
  EXPECT_TRUE(back.labels.empty());
  EXPECT_TRUE(back.state.empty());
  EXPECT_TRUE(back.pending_ids.empty());
  EXPECT_TRUE(back.pending_text.empty());
}

TEST(SessionSnapshotTest, RoundTripOfALargeState) {
  const SessionSnapshot s = full_snapshot(3 << 20);  // 12 MiB of floats
  const std::string bytes = encode_snapshot(s, kModel);
  EXPECT_GT(bytes.size(), s.state.size() * 4);
  expect_equal(decode_snapshot(bytes, kModel), s);
}

TEST(SessionSnapshotTest, EncodeRefusesAnInvalidPendingStart) {
  SessionSnapshot s = full_snapshot();
  s.pending_start = 3;
  EXPECT_THROW(encode_snapshot(s, kModel), std::invalid_argument);
}

TEST(SessionSnapshotTest, TruncatedAtAnyLength) {
  const std::string bytes = encode_snapshot(full_snapshot(), kModel);
  for (size_t length : {size_t{0}, size_t{10}, size_t{24}, size_t{31}, size_t{32}, size_t{100},
                        bytes.size() - 8, bytes.size() - 1}) {
    const auto e = error_of(std::string_view(bytes).substr(0, length));
    ASSERT_TRUE(e) << "accepted the first " << length << " bytes";
    EXPECT_EQ(e->kind(), Kind::kTruncated) << length << ": " << e->what();
  }
  EXPECT_STREQ(error_of("")->what(), "snapshot is 0 bytes, shorter than the 32-byte frame");
  const std::string what = error_of(std::string_view(bytes).substr(0, bytes.size() - 1))->what();
  EXPECT_NE(what.find(std::to_string(bytes.size())), std::string::npos) << what;
  EXPECT_NE(what.find(std::to_string(bytes.size() - 1)), std::string::npos) << what;
}

TEST(SessionSnapshotTest, AppendedBytesAreCorrupt) {
  std::string bytes = encode_snapshot(full_snapshot(), kModel);
  bytes += "extra";
  const auto e = error_of(bytes);
  ASSERT_TRUE(e);
  EXPECT_EQ(e->kind(), Kind::kCorrupt) << e->what();
}

TEST(SessionSnapshotTest, WrongMagicIsNotASnapshot) {
  std::string bytes = encode_snapshot(full_snapshot(), kModel);
  bytes[0] = 'X';
  reseal(bytes);
  EXPECT_EQ(error_of(bytes)->kind(), Kind::kNotASnapshot);
  EXPECT_EQ(error_of(std::string(64, 'a'))->kind(), Kind::kNotASnapshot);
  EXPECT_EQ(error_of("{\"this is\": \"a config.json, not a snapshot at all\"}")->kind(),
            Kind::kNotASnapshot);
}

TEST(SessionSnapshotTest, FutureVersionIsRefusedWithAnUpgradeHint) {
  for (uint32_t version : {kSnapshotVersion + 1, 0xffffffffu}) {
    std::string bytes = encode_snapshot(full_snapshot(), kModel);
    patch<uint32_t>(bytes, 8, version);
    reseal(bytes);
    const auto e = error_of(bytes);
    ASSERT_TRUE(e);
    EXPECT_EQ(e->kind(), Kind::kFutureVersion) << e->what();
    const std::string what = e->what();
    EXPECT_NE(what.find(std::to_string(version)), std::string::npos) << what;
    EXPECT_NE(what.find(std::to_string(kSnapshotVersion)), std::string::npos) << what;
    EXPECT_NE(what.find("upgrade"), std::string::npos) << what;
  }
}

TEST(SessionSnapshotTest, VersionZeroIsCorrupt) {
  std::string bytes = encode_snapshot(full_snapshot(), kModel);
  patch<uint32_t>(bytes, 8, 0);
  reseal(bytes);
  EXPECT_EQ(error_of(bytes)->kind(), Kind::kCorrupt);
}

TEST(SessionSnapshotTest, ChecksumMismatchIsCorrupt) {
  std::string bytes = encode_snapshot(full_snapshot(), kModel);
  bytes[Offsets(full_snapshot()).state + 8 + 3] ^= 0x10;
  const auto e = error_of(bytes);
  ASSERT_TRUE(e);
  EXPECT_EQ(e->kind(), Kind::kCorrupt);
  EXPECT_STREQ(e->what(), "checksum mismatch: the file is damaged");
}

TEST(SessionSnapshotTest, EverySingleBitFlipIsAnError) {
  SessionSnapshot s = full_snapshot(8);
  s.labels = {{"k", std::string("\x01\x80", 2)}};
  s.tenant = "t";
  const std::string bytes = encode_snapshot(s, kModel);
  ASSERT_GT(bytes.size(), 150u);
  ASSERT_LT(bytes.size(), 260u);
  for (size_t bit = 0; bit < bytes.size() * 8; ++bit) {
    std::string flipped = bytes;
    flipped[bit / 8] = static_cast<char>(flipped[bit / 8] ^ (1 << (bit % 8)));
    try {
      decode_snapshot(flipped, kModel);
      ADD_FAILURE() << "accepted a flip of bit " << bit;
    } catch (const SnapshotError&) {
    }
  }
}

TEST(SessionSnapshotTest, OtherModelIsNamed) {
  const std::string other = "fnv1a64:fedcba9876543210";
  const auto e = error_of(encode_snapshot(full_snapshot(), other));
  ASSERT_TRUE(e);
  EXPECT_EQ(e->kind(), Kind::kOtherModel);
  const std::string what = e->what();
  EXPECT_NE(what.find(other), std::string::npos) << what;
  EXPECT_NE(what.find(kModel), std::string::npos) << what;

  // A long or binary identity is shortened and made printable.
  const std::string hostile = std::string(1000, 'z') + "\n\x01";
  const std::string long_what = error_of(encode_snapshot(full_snapshot(), hostile))->what();
  EXPECT_LT(long_what.size(), 200u) << long_what;
  EXPECT_EQ(long_what.find('\n'), std::string::npos);
}

// A length patched to something huge, with a valid checksum: refused as
// corrupt, naming the field, before anything is allocated for it.
TEST(SessionSnapshotTest, HostileLengthsAreCorruptAndAllocateNothing) {
  const SessionSnapshot s = full_snapshot();
  const Offsets at(s);
  const std::string good = encode_snapshot(s, kModel);
  // The counter sees a real state's allocation.
  largest_allocation = 0;
  decode_snapshot(encode_snapshot(full_snapshot(100000), kModel), kModel);
  ASSERT_GE(largest_allocation, 400000u);
  struct Case {
    size_t offset;
    int width;  // 4 or 8 bytes
    uint64_t value;
    const char* field;
  };
  const uint64_t huge = uint64_t{1} << 40;
  const Case cases[] = {
      {at.id, 4, 0xffffffffu, "id"},
      {at.tenant, 4, 0xffffffffu, "tenant"},
      {at.labels, 4, 0xffffffffu, "labels"},
      {at.first_label_key, 4, 0x7fffffffu, "label key"},
      {at.state, 8, huge, "state"},
      {at.state, 8, ~uint64_t{0}, "state"},
      {at.state, 8, (good.size() - at.state) / 4 + 1, "state"},
      {at.pending_ids, 8, huge, "pending_ids"},
      {at.pending_ids, 8, ~uint64_t{0} / 2, "pending_ids"},
      {at.pending_text, 8, huge, "pending_text"},
      {at.pending_text, 8, ~uint64_t{0}, "pending_text"},
  };
  for (const Case& c : cases) {
    std::string bytes = good;
    if (c.width == 4) {
      patch<uint32_t>(bytes, c.offset, static_cast<uint32_t>(c.value));
    } else {
      patch<uint64_t>(bytes, c.offset, c.value);
    }
    reseal(bytes);
    largest_allocation = 0;
    const auto e = error_of(bytes);
    const size_t largest = largest_allocation;
    ASSERT_TRUE(e) << c.field << " = " << c.value;
    EXPECT_EQ(e->kind(), Kind::kCorrupt) << e->what();
    EXPECT_NE(std::string(e->what()).find(c.field), std::string::npos) << e->what();
    EXPECT_LT(largest, 64u * 1024) << c.field << " = " << c.value << " allocated " << largest;
  }
}

TEST(SessionSnapshotTest, AbsurdFieldValuesAreCorrupt) {
  const SessionSnapshot s = full_snapshot();
  const Offsets at(s);
  const std::string good = encode_snapshot(s, kModel);
  auto corrupt_with = [&](auto&& edit, const char* field) {
    std::string bytes = good;
    edit(bytes);
    reseal(bytes);
    const auto e = error_of(bytes);
    ASSERT_TRUE(e) << field;
    EXPECT_EQ(e->kind(), Kind::kCorrupt) << e->what();
    EXPECT_NE(std::string(e->what()).find(field), std::string::npos) << e->what();
  };
  corrupt_with([&](std::string& b) { patch<uint8_t>(b, at.pending_start, 3); }, "pending_start");
  corrupt_with([&](std::string& b) { patch<int64_t>(b, at.tokens, -1); }, "tokens");
  corrupt_with([&](std::string& b) { patch<int64_t>(b, at.segments, -1); }, "segments");
  corrupt_with([&](std::string& b) { patch<int64_t>(b, at.segments, s.tokens + 1); }, "segments");
  corrupt_with([&](std::string& b) { patch<uint32_t>(b, at.utf8_needed, 4); }, "utf8");
  corrupt_with([&](std::string& b) { patch<uint32_t>(b, at.utf8_needed + 4, 0x41); }, "utf8");
  corrupt_with([&](std::string& b) { patch<int64_t>(b, at.utf8_offset, -2); }, "utf8_offset");
  corrupt_with([&](std::string& b) { patch<int32_t>(b, at.pending_ids + 8, -7); }, "pending_ids");
  corrupt_with([&](std::string& b) { patch<uint32_t>(b, 12, 1); }, "reserved");
  // Two labels with the same key.
  SessionSnapshot two;
  two.labels = {{"a", "1"}, {"b", "2"}};
  std::string bytes = encode_snapshot(two, kModel);
  const size_t second_key = Offsets(two).first_label_key + 4 + 1 + 4 + 1 + 4;
  ASSERT_EQ(bytes[second_key], 'b');
  bytes[second_key] = 'a';
  reseal(bytes);
  EXPECT_EQ(error_of(bytes)->kind(), Kind::kCorrupt);
  // A body that goes on after the last field.
  bytes = good;
  bytes.insert(bytes.size() - 8, "more");
  patch<uint64_t>(bytes, 16, good.size() - 32 + 4);
  reseal(bytes);
  EXPECT_EQ(error_of(bytes)->kind(), Kind::kCorrupt);
  EXPECT_NE(std::string(error_of(bytes)->what()).find("after the last field"), std::string::npos);
}

// tests/fuzz/make-corpus writes seeds from the layout comment with its own
// (Python) writer: the C++ reader must agree with it field by field.
TEST(SessionSnapshotTest, ReadsASnapshotWrittenFromTheLayoutAlone) {
  const std::filesystem::path seed = std::filesystem::path(INFINI_SOURCE_DIR) /
                                     "tests/fuzz/corpus/session_snapshot/pending_text_and_ids";
  std::ifstream in(seed, std::ios::binary);
  ASSERT_TRUE(in) << seed;
  const std::string bytes((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  const SessionSnapshot s = decode_snapshot(bytes, "fnv1a64:0123456789abcdef");
  EXPECT_EQ(s.id, "0123456789abcdef0123456789abcdef");
  EXPECT_EQ(s.tenant, "team-a.prod_1");
  EXPECT_EQ(s.labels, (std::map<std::string, std::string>{{"k", ""}, {"team", "search"}}));
  EXPECT_EQ(s.created_at_ns, 1700000000000000000);
  EXPECT_EQ(s.last_used_ns, 1700000000500000000);
  EXPECT_EQ(s.tokens, 128);
  EXPECT_EQ(s.segments, 2);
  ASSERT_EQ(s.state.size(), 32u);
  EXPECT_EQ(s.state[1], -1.25f);
  EXPECT_EQ(s.pending_ids, (std::vector<int32_t>{5, 17, 900}));
  EXPECT_EQ(s.pending_text, "half a wo");
  EXPECT_EQ(s.pending_start, 1);
  EXPECT_EQ(s.utf8_needed, 1u);
  EXPECT_EQ(s.utf8_offset, 4242);
  EXPECT_EQ(encode_snapshot(s, "fnv1a64:0123456789abcdef"), bytes);
}

// Version 1 (before tenants) is still read, as a session of tenant "".
TEST(SessionSnapshotTest, ReadsVersion1AsTenantEmpty) {
  const std::filesystem::path seed = std::filesystem::path(INFINI_SOURCE_DIR) /
                                     "tests/fuzz/corpus/session_snapshot/version1_without_tenant";
  std::ifstream in(seed, std::ios::binary);
  ASSERT_TRUE(in) << seed;
  const std::string seed_bytes((std::istreambuf_iterator<char>(in)),
                               std::istreambuf_iterator<char>());
  ASSERT_EQ(seed_bytes.substr(8, 1), std::string(1, '\1'));
  const SessionSnapshot from_seed = decode_snapshot(seed_bytes, "fnv1a64:0123456789abcdef");
  EXPECT_EQ(from_seed.tenant, "");
  EXPECT_EQ(from_seed.labels.at("team"), "search");
  EXPECT_EQ(from_seed.tokens, 128);
  EXPECT_EQ(from_seed.pending_text, "wo");

  // This writer's version 2 bytes turned into version 1: the tenant field
  // cut out, the header's version and size set back, resealed.
  SessionSnapshot s = full_snapshot();
  s.tenant = "";
  std::string bytes = encode_snapshot(s, kModel);
  const Offsets at(s);
  bytes.erase(at.tenant, 4);
  patch<uint32_t>(bytes, 8, 1);
  patch<uint64_t>(bytes, 16, bytes.size() - 32);
  reseal(bytes);
  expect_equal(decode_snapshot(bytes, kModel), s);
  // ...and written again, it is version 2.
  EXPECT_EQ(load_u32(encode_snapshot(s, kModel), 8), 2u);
}

TEST(SessionSnapshotTest, TenantOutsideTheTokenFileCharsetIsCorrupt) {
  SessionSnapshot s = full_snapshot();
  s.tenant = "abc";
  std::string bytes = encode_snapshot(s, kModel);
  bytes[Offsets(s).tenant + 4 + 1] = '/';
  reseal(bytes);
  const auto e = error_of(bytes);
  ASSERT_TRUE(e);
  EXPECT_EQ(e->kind(), Kind::kCorrupt);
  EXPECT_NE(std::string(e->what()).find("tenant"), std::string::npos) << e->what();
}

TEST(SessionSnapshotTest, Fnv1a64KnownValues) {
  EXPECT_EQ(fnv1a64(""), 0xcbf29ce484222325ULL);
  EXPECT_EQ(fnv1a64("a"), 0xaf63dc4c8601ec8cULL);
  EXPECT_EQ(fnv1a64("foobar"), 0x85944171f73967e8ULL);
  EXPECT_EQ(fnv1a64("bar", fnv1a64("foo")), fnv1a64("foobar"));
}

void write_file(const std::string& path, const std::string& bytes) {
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out.write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
  ASSERT_TRUE(out.good()) << path;
}

TEST(ModelIdentityTest, HashesConfigThenWeights) {
  TempDir dir;
  const std::string config = "{\"hidden_size\": 32}\n";
  // A valid safetensors file (the identity lists a checkpoint's weight files
  // through its reader) whose payload spans more than one read block.
  const size_t payload = 2 * 1024 * 1024 + 12344;
  const std::string header = "{\"w\":{\"dtype\":\"F32\",\"shape\":[" +
                             std::to_string(payload / 4) + "],\"data_offsets\":[0," +
                             std::to_string(payload) + "]}}";
  std::string weights(8, '\0');
  for (size_t i = 0; i < 8; ++i) weights[i] = static_cast<char>((header.size() >> (8 * i)) & 0xff);
  weights += header;
  std::mt19937 rng(3);
  for (size_t i = 0; i < payload; ++i) weights += static_cast<char>(rng());
  write_file(dir.file("config.json"), config);
  write_file(dir.file("model.safetensors"), weights);

  const std::string id = model_identity(dir.path());
  char expected[17];
  std::snprintf(expected, sizeof(expected), "%016llx",
                static_cast<unsigned long long>(fnv1a64(config + weights)));
  EXPECT_EQ(id, std::string("fnv1a64:") + expected);
  EXPECT_EQ(model_identity(dir.path()), id) << "same directory, same identity";

  TempDir copy;
  write_file(copy.file("config.json"), config);
  write_file(copy.file("model.safetensors"), weights);
  EXPECT_EQ(model_identity(copy.path()), id) << "same files elsewhere, same identity";

  weights[weights.size() / 2] ^= 1;
  write_file(copy.file("model.safetensors"), weights);
  EXPECT_NE(model_identity(copy.path()), id) << "one changed weight byte";
  weights[weights.size() / 2] ^= 1;
  write_file(copy.file("model.safetensors"), weights);
  write_file(copy.file("config.json"), "{\"hidden_size\": 33}\n");
  EXPECT_NE(model_identity(copy.path()), id) << "a changed config";
}

TEST(ModelIdentityTest, MissingFileIsNamed) {
  TempDir dir;
  write_file(dir.file("config.json"), "{}");
  try {
    model_identity(dir.path());
    FAIL() << "no model.safetensors, yet an identity";
  } catch (const std::runtime_error& e) {
    EXPECT_NE(std::string(e.what()).find("model.safetensors"), std::string::npos) << e.what();
  }
  try {
    model_identity(dir.file("nowhere"));
    FAIL() << "no directory, yet an identity";
  } catch (const std::runtime_error& e) {
    EXPECT_NE(std::string(e.what()).find("config.json"), std::string::npos) << e.what();
  }
}

}  // namespace
}  // namespace infini::server
