#include "engine/safetensors.h"

#include <gtest/gtest.h>

#include <cmath>
#include <cstdint>
#include <filesystem>
#include <fstream>
#include <functional>
#include <limits>
#include <nlohmann/json.hpp>
#include <random>
#include <string>
#include <vector>

#include "engine/checkpoint_writer.h"
#include "engine/error.h"
#include "tests/engine/test_support.h"
#include "engine/float_convert.h"
#include "engine/model_config.h"

namespace infini {
namespace {

using nlohmann::json;

using testing::TempDir;

void expect_error(const std::function<void()>& fn, ErrorCode code,
                  const std::vector<std::string>& parts) {
  try {
    fn();
  } catch (const EngineError& e) {
    EXPECT_EQ(e.code(), code) << "code " << error_code_name(e.code()) << ", message: " << e.what();
    for (const std::string& part : parts) {
      EXPECT_NE(std::string(e.what()).find(part), std::string::npos)
          << "message \"" << e.what() << "\" does not mention \"" << part << "\"";
    }
    return;
  }
  ADD_FAILURE() << "expected EngineError(" << error_code_name(code) << ")";
}

void write_bytes(const std::string& path, const std::string& bytes) {
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out.write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
  ASSERT_TRUE(out.good());
}

std::string le64(uint64_t v) {
  std::string out(8, '\0');
  for (int i = 0; i < 8; ++i) out[i] = static_cast<char>((v >> (8 * i)) & 0xff);
  return out;
}

// A file with an exact header text and data section, header length honest.
void write_raw(const std::string& path, const std::string& header, const std::string& data) {
  write_bytes(path, le64(header.size()) + header + data);
}

std::string float_bytes(const std::vector<float>& values) {
  std::string out(values.size() * sizeof(float), '\0');
  std::memcpy(out.data(), values.data(), out.size());
  return out;
}

// One F32 tensor "w" of shape [2, 3] with its 24 bytes, for variations.
json one_tensor_header() {
  return json{{"w", {{"dtype", "F32"}, {"shape", {2, 3}}, {"data_offsets", {0, 24}}}}};
}
const std::string kSixFloats = float_bytes({1, 2, 3, 4, 5, 6});

std::vector<NamedTensor> sample_tensors() {
  return {
      {"model.a", {2, 3}, {1.0f, -2.5f, 0.1f, 3.14159f, -1e-3f, 1234.5f}},
      {"model.b", {4}, {0.0f, -0.0f, 65504.0f, 1e-7f}},
      {"scalar", {}, {7.25f}},
      {"empty", {0, 5}, {}},
  };
}

void expect_round_trip(DType dtype, float (*expected)(float)) {
  TempDir dir;
  const std::string path = dir.file("t.safetensors");
  const auto tensors = sample_tensors();
  write_safetensors(path, tensors, dtype);
  const auto file = SafetensorsFile::open(path);
  EXPECT_EQ(file->path(), path);
  EXPECT_EQ(file->names(), (std::vector<std::string>{"empty", "model.a", "model.b", "scalar"}));
  for (const NamedTensor& t : tensors) {
    SCOPED_TRACE(t.name);
    ASSERT_TRUE(file->has(t.name));
    const TensorView& view = file->tensor(t.name);
    EXPECT_EQ(view.dtype, dtype);
    EXPECT_EQ(view.shape, t.shape);
    EXPECT_EQ(view.numel(), static_cast<int64_t>(t.values.size()));
    const std::vector<float> got = view.to_f32();
    ASSERT_EQ(got.size(), t.values.size());
    for (size_t i = 0; i < got.size(); ++i) {
      const float want = expected(t.values[i]);
      EXPECT_EQ(got[i], want) << "element " << i << " of " << t.values[i];
      EXPECT_EQ(std::signbit(got[i]), std::signbit(want)) << "element " << i;
    }
  }
  EXPECT_FALSE(file->has("model.c"));
}

TEST(SafetensorsTest, RoundTripF32) {
  expect_round_trip(DType::kF32, [](float v) { return v; });
}

TEST(SafetensorsTest, RoundTripBF16) {
  expect_round_trip(DType::kBF16, [](float v) { return bf16_to_float(float_to_bf16(v)); });
  // And the rounding is visible: 0.1 is not a bf16 value.
  EXPECT_NE(bf16_to_float(float_to_bf16(0.1f)), 0.1f);
}

TEST(SafetensorsTest, RoundTripF16) {
  expect_round_trip(DType::kF16, [](float v) { return f16_to_float(float_to_f16(v)); });
}

TEST(SafetensorsTest, F16SpecialValues) {
  TempDir dir;
  const std::string path = dir.file("special.safetensors");
  const float inf = std::numeric_limits<float>::infinity();
  const std::vector<float> values = {
      inf,      -inf, std::nanf(""), 1e6f, std::ldexp(1.0f, -24), std::ldexp(3.0f, -20),
      65504.0f, -0.0f};
  write_safetensors(path, {{"x", {8}, values}}, DType::kF16);
  const std::vector<float> got = SafetensorsFile::open(path)->tensor("x").to_f32();
  EXPECT_EQ(got[0], inf);
  EXPECT_EQ(got[1], -inf);
  EXPECT_TRUE(std::isnan(got[2]));
  EXPECT_EQ(got[3], inf);  // overflow
  EXPECT_EQ(got[4], std::ldexp(1.0f, -24));
  EXPECT_EQ(got[5], std::ldexp(3.0f, -20));  // subnormal half, exact
  EXPECT_EQ(got[6], 65504.0f);
  EXPECT_TRUE(std::signbit(got[7]));
}

TEST(SafetensorsTest, WriterLayout) {
  TempDir dir;
  const std::string path = dir.file("layout.safetensors");
  write_safetensors(path, sample_tensors(), DType::kBF16);
  std::ifstream in(path, std::ios::binary);
  std::string bytes((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  ASSERT_GE(bytes.size(), 8u);
  uint64_t n = 0;
  for (int i = 7; i >= 0; --i) n = (n << 8) | static_cast<unsigned char>(bytes[i]);
  EXPECT_EQ(n % 8, 0u) << "header is padded to a multiple of 8";
  ASSERT_LE(8 + n, bytes.size());
  const std::string header_text = bytes.substr(8, n);
  EXPECT_EQ(header_text.front(), '{');
  EXPECT_EQ(header_text.find_last_not_of(' '), header_text.rfind('}'))
      << "padding is spaces after the JSON";
  // Tensors keep the given order, packed back to back.
  const auto header = nlohmann::ordered_json::parse(header_text);
  std::vector<std::string> order;
  uint64_t offset = 0;
  for (const auto& [name, entry] : header.items()) {
    order.push_back(name);
    EXPECT_EQ(entry.at("dtype"), "BF16");
    EXPECT_EQ(entry.at("data_offsets").at(0).get<uint64_t>(), offset) << name;
    offset = entry.at("data_offsets").at(1).get<uint64_t>();
  }
  EXPECT_EQ(order, (std::vector<std::string>{"model.a", "model.b", "scalar", "empty"}));
  EXPECT_EQ(8 + n + offset, bytes.size());
  EXPECT_EQ(offset, (6 + 4 + 1) * 2u);
}

TEST(SafetensorsTest, HeaderIsPaddedToEightBytes) {
  TempDir dir;
  const std::string path = dir.file("pad.safetensors");
  // Names of eight different lengths give every header length modulo 8.
  for (int extra = 0; extra < 8; ++extra) {
    SCOPED_TRACE(extra);
    write_safetensors(path, {{"t" + std::string(extra, 'x'), {1}, {2.0f}}}, DType::kF32);
    std::ifstream in(path, std::ios::binary);
    std::string bytes((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    uint64_t n = 0;
    for (int i = 7; i >= 0; --i) n = (n << 8) | static_cast<unsigned char>(bytes[i]);
    EXPECT_EQ(n % 8, 0u);
    EXPECT_EQ(bytes.size(), 8 + n + 4);
    EXPECT_EQ(SafetensorsFile::open(path)->tensor("t" + std::string(extra, 'x')).to_f32(),
              std::vector<float>{2.0f});
  }
}

TEST(SafetensorsTest, ReadsUnalignedTensors) {
  TempDir dir;
  const std::string path = dir.file("unaligned.safetensors");
  // A 1-element F16 first puts the F32 tensor at data offset 2, and a
  // 1-element BF16 puts the next F16 tensor at an odd address.
  json header = json::object();
  header["h"] = {{"dtype", "F16"}, {"shape", {1}}, {"data_offsets", {0, 2}}};
  header["f"] = {{"dtype", "F32"}, {"shape", {3}}, {"data_offsets", {2, 14}}};
  // Byte 14 is a gap no tensor claims (U8 padding would be unsupported).
  header["g"] = {{"dtype", "F16"}, {"shape", {2}}, {"data_offsets", {15, 19}}};
  std::string text = header.dump();
  text.append((8 - text.size() % 8) % 8, ' ');
  std::string data;
  const uint16_t one = float_to_f16(1.0f);
  data.append(reinterpret_cast<const char*>(&one), 2);
  data += float_bytes({1.5f, -2.25f, 1e20f});
  data += '\x00';
  const uint16_t g[2] = {float_to_f16(-3.0f), float_to_f16(0.5f)};
  data.append(reinterpret_cast<const char*>(g), 4);
  write_raw(path, text, data);

  const auto file = SafetensorsFile::open(path);
  const TensorView& f = file->tensor("f");
  EXPECT_NE(reinterpret_cast<uintptr_t>(f.data) % alignof(float), 0u) << "test needs misalignment";
  EXPECT_EQ(f.to_f32(), (std::vector<float>{1.5f, -2.25f, 1e20f}));
  const TensorView& gv = file->tensor("g");
  EXPECT_EQ(reinterpret_cast<uintptr_t>(gv.data) % 2, 1u);
  EXPECT_EQ(gv.to_f32(), (std::vector<float>{-3.0f, 0.5f}));
  EXPECT_EQ(file->tensor("h").to_f32(), (std::vector<float>{1.0f}));
}

TEST(SafetensorsTest, ToF32OnHostBuffer) {
  const std::vector<uint16_t> raw = {float_to_bf16(2.0f), float_to_bf16(-0.5f)};
  TensorView view{DType::kBF16, {2, 1}, raw.data()};
  EXPECT_EQ(view.numel(), 2);
  EXPECT_EQ(view.to_f32(), (std::vector<float>{2.0f, -0.5f}));
  TensorView scalar{DType::kF32, {}, nullptr};
  EXPECT_EQ(scalar.numel(), 1);
  TensorView empty{DType::kF32, {3, 0}, nullptr};
  EXPECT_EQ(empty.numel(), 0);
  EXPECT_TRUE(empty.to_f32().empty());
}

TEST(SafetensorsTest, DTypeNamesAndSizes) {
  EXPECT_STREQ(dtype_name(DType::kF32), "F32");
  EXPECT_STREQ(dtype_name(DType::kBF16), "BF16");
  EXPECT_STREQ(dtype_name(DType::kF16), "F16");
  EXPECT_EQ(dtype_size(DType::kF32), 4u);
  EXPECT_EQ(dtype_size(DType::kBF16), 2u);
  EXPECT_EQ(dtype_size(DType::kF16), 2u);
}

TEST(SafetensorsTest, MetadataIsIgnored) {
  TempDir dir;
  const std::string path = dir.file("meta.safetensors");
  json header = one_tensor_header();
  header["__metadata__"] = {{"format", "pt"}};
  write_raw(path, header.dump(), kSixFloats);
  const auto file = SafetensorsFile::open(path);
  EXPECT_EQ(file->names(), std::vector<std::string>{"w"});
  EXPECT_EQ(file->tensor("w").to_f32(), (std::vector<float>{1, 2, 3, 4, 5, 6}));
}

TEST(SafetensorsTest, MissingFile) {
  TempDir dir;
  const std::string path = dir.file("absent.safetensors");
  expect_error([&] { SafetensorsFile::open(path); }, ErrorCode::kNotFound, {path});
}

TEST(SafetensorsTest, DirectoryIsNotAFile) {
  TempDir dir;
  const std::string path = dir.file("");
  expect_error([&] { SafetensorsFile::open(path); }, ErrorCode::kInvalidArgument, {"regular file"});
}

TEST(SafetensorsTest, EmptyFile) {
  TempDir dir;
  const std::string path = dir.file("empty.safetensors");
  write_bytes(path, "");
  expect_error([&] { SafetensorsFile::open(path); }, ErrorCode::kCorruptData,
               {path, "0 bytes", "too short"});
}

TEST(SafetensorsTest, TruncatedHeaderLength) {
  TempDir dir;
  const std::string path = dir.file("short.safetensors");
  write_bytes(path, le64(16).substr(0, 5));
  expect_error([&] { SafetensorsFile::open(path); }, ErrorCode::kCorruptData,
               {path, "5 bytes", "too short"});
}

TEST(SafetensorsTest, TruncatedHeader) {
  TempDir dir;
  const std::string path = dir.file("cut.safetensors");
  const std::string header = one_tensor_header().dump();
  // The length is honest but the file stops halfway through the header.
  write_bytes(path, le64(header.size()) + header.substr(0, header.size() / 2));
  expect_error([&] { SafetensorsFile::open(path); }, ErrorCode::kCorruptData,
               {path, "header length " + std::to_string(header.size()), "larger than"});
}

TEST(SafetensorsTest, HeaderLengthLargerThanFile) {
  TempDir dir;
  const std::string path = dir.file("huge_length.safetensors");
  write_bytes(path, le64(1ull << 40) + "{}");
  expect_error([&] { SafetensorsFile::open(path); }, ErrorCode::kCorruptData,
               {path, "header length 1099511627776", "larger than"});
}

TEST(SafetensorsTest, HeaderLengthOverTheLimit) {
  TempDir dir;
  const std::string path = dir.file("sparse.safetensors");
  const uint64_t length = 200'000'000;
  write_bytes(path, le64(length) + "{");
  std::filesystem::resize_file(path, 8 + length + 16);  // sparse: no real disk use
  expect_error([&] { SafetensorsFile::open(path); }, ErrorCode::kCorruptData,
               {path, "header length 200000000", "limit"});
}

TEST(SafetensorsTest, InvalidJsonHeader) {
  TempDir dir;
  const std::string path = dir.file("badjson.safetensors");
  write_raw(path, "{\"w\": {\"dtype\": \"F32\",", kSixFloats);
  expect_error([&] { SafetensorsFile::open(path); }, ErrorCode::kCorruptData,
               {path, "not valid JSON", "parse error"});
}

TEST(SafetensorsTest, HeaderNotAnObject) {
  TempDir dir;
  const std::string path = dir.file("array.safetensors");
  write_raw(path, "[1, 2, 3]", "");
  expect_error([&] { SafetensorsFile::open(path); }, ErrorCode::kCorruptData,
               {path, "JSON object"});
}

TEST(SafetensorsTest, DuplicateTensorNames) {
  TempDir dir;
  const std::string path = dir.file("dup.safetensors");
  const std::string entry = R"({"dtype":"F32","shape":[2,3],"data_offsets":[0,24]})";
  write_raw(path, "{\"w\":" + entry + ",\"w\":" + entry + "}", kSixFloats);
  expect_error([&] { SafetensorsFile::open(path); }, ErrorCode::kCorruptData,
               {path, "\"w\"", "more than once"});
}

// Replaces one field of tensor "w" and expects open() to fail.
void expect_bad_entry(const std::string& field, const json& value, const std::string& data,
                      ErrorCode code, const std::vector<std::string>& parts) {
  SCOPED_TRACE(field + " = " + value.dump());
  TempDir dir;
  const std::string path = dir.file("bad.safetensors");
  json header = one_tensor_header();
  if (value.is_discarded()) {
    header["w"].erase(field);
  } else {
    header["w"][field] = value;
  }
  write_raw(path, header.dump(), data);
  std::vector<std::string> all = parts;
  all.push_back(path);
  all.push_back("\"w\"");
  expect_error([&] { SafetensorsFile::open(path); }, code, all);
}

TEST(SafetensorsTest, OffsetsOutsideTheDataSection) {
  expect_bad_entry("data_offsets", {0, 24}, kSixFloats.substr(0, 12), ErrorCode::kCorruptData,
                   {"[0, 24]", "12 bytes", "past the end"});
  expect_bad_entry("data_offsets", {100, 124}, kSixFloats, ErrorCode::kCorruptData,
                   {"past the end"});
}

TEST(SafetensorsTest, OffsetsDisagreeWithShape) {
  expect_bad_entry("data_offsets", {0, 20}, kSixFloats, ErrorCode::kCorruptData,
                   {"20 bytes", "needs 24"});
  expect_bad_entry("shape", {2, 2}, kSixFloats, ErrorCode::kCorruptData, {"24 bytes", "needs 16"});
  expect_bad_entry("dtype", "F16", kSixFloats, ErrorCode::kCorruptData, {"needs 12"});
}

TEST(SafetensorsTest, MalformedOffsets) {
  expect_bad_entry("data_offsets", {24, 0}, kSixFloats, ErrorCode::kCorruptData,
                   {"begin after end"});
  expect_bad_entry("data_offsets", {0}, kSixFloats, ErrorCode::kCorruptData, {"[begin, end]"});
  expect_bad_entry("data_offsets", {-8, 16}, kSixFloats, ErrorCode::kCorruptData, {"non-negative"});
  expect_bad_entry("data_offsets", {"0", "24"}, kSixFloats, ErrorCode::kCorruptData,
                   {"[begin, end]"});
  expect_bad_entry("data_offsets", json::value_t::discarded, kSixFloats, ErrorCode::kCorruptData,
                   {"missing \"data_offsets\""});
}

TEST(SafetensorsTest, BadShapes) {
  expect_bad_entry("shape", {-1, 3}, kSixFloats, ErrorCode::kCorruptData, {"non-negative"});
  expect_bad_entry("shape", {2.0, 3}, kSixFloats, ErrorCode::kCorruptData, {"integers"});
  expect_bad_entry("shape", {"2", 3}, kSixFloats, ErrorCode::kCorruptData, {"integers"});
  expect_bad_entry("shape", 6, kSixFloats, ErrorCode::kCorruptData, {"array"});
  expect_bad_entry("shape", json::value_t::discarded, kSixFloats, ErrorCode::kCorruptData,
                   {"missing \"shape\""});
  // A product that wraps around 2^64 must not sneak past the size check.
  expect_bad_entry("shape", {1ull << 32, 1ull << 32, 1}, kSixFloats, ErrorCode::kCorruptData,
                   {"too large"});
  // Even with a zero dimension, the others must not overflow TensorView::numel.
  expect_bad_entry("shape", {1ull << 40, 1ull << 40, 0}, kSixFloats, ErrorCode::kCorruptData,
                   {"too large"});
  expect_bad_entry("shape", {1ull << 63}, kSixFloats, ErrorCode::kCorruptData, {"too large"});
}

TEST(SafetensorsTest, UnknownDType) {
  expect_bad_entry("dtype", "F33", kSixFloats, ErrorCode::kCorruptData, {"unknown dtype", "F33"});
  expect_bad_entry("dtype", "float32", kSixFloats, ErrorCode::kCorruptData, {"float32"});
  expect_bad_entry("dtype", 32, kSixFloats, ErrorCode::kCorruptData, {"string"});
  expect_bad_entry("dtype", json::value_t::discarded, kSixFloats, ErrorCode::kCorruptData,
                   {"missing \"dtype\""});
}

TEST(SafetensorsTest, UnsupportedDTypes) {
  for (const char* dtype : {"F64", "I64", "I32", "U8", "BOOL", "F8_E4M3", "F8_E5M2"}) {
    expect_bad_entry("dtype", dtype, kSixFloats, ErrorCode::kUnsupported, {dtype, "not supported"});
  }
}

TEST(SafetensorsTest, EntryNotAnObject) {
  TempDir dir;
  const std::string path = dir.file("entry.safetensors");
  write_raw(path, R"({"w": [0, 24]})", kSixFloats);
  expect_error([&] { SafetensorsFile::open(path); }, ErrorCode::kCorruptData,
               {path, "\"w\"", "not a JSON object"});
}

TEST(SafetensorsTest, OverlappingTensors) {
  TempDir dir;
  const std::string path = dir.file("overlap.safetensors");
  json header = json::object();
  header["first"] = {{"dtype", "F32"}, {"shape", {4}}, {"data_offsets", {0, 16}}};
  header["second"] = {{"dtype", "F32"}, {"shape", {4}}, {"data_offsets", {8, 24}}};
  write_raw(path, header.dump(), kSixFloats);
  expect_error([&] { SafetensorsFile::open(path); }, ErrorCode::kCorruptData,
               {path, "\"first\"", "\"second\"", "overlap"});
}

TEST(SafetensorsTest, AdjacentAndEmptyTensorsDoNotOverlap) {
  TempDir dir;
  const std::string path = dir.file("adjacent.safetensors");
  json header = json::object();
  header["a"] = {{"dtype", "F32"}, {"shape", {3}}, {"data_offsets", {0, 12}}};
  header["b"] = {{"dtype", "F32"}, {"shape", {3}}, {"data_offsets", {12, 24}}};
  header["none"] = {{"dtype", "F32"}, {"shape", {0}}, {"data_offsets", {4, 4}}};
  write_raw(path, header.dump(), kSixFloats);
  const auto file = SafetensorsFile::open(path);
  EXPECT_EQ(file->tensor("b").to_f32(), (std::vector<float>{4, 5, 6}));
  EXPECT_TRUE(file->tensor("none").to_f32().empty());
}

TEST(SafetensorsTest, TruncatedDataSection) {
  TempDir dir;
  const std::string path = dir.file("truncated.safetensors");
  write_safetensors(path, sample_tensors(), DType::kF32);
  std::filesystem::resize_file(path, std::filesystem::file_size(path) - 3);
  expect_error([&] { SafetensorsFile::open(path); }, ErrorCode::kCorruptData,
               {path, "past the end", "truncated"});
}

TEST(SafetensorsTest, MissingTensorName) {
  TempDir dir;
  const std::string path = dir.file("t.safetensors");
  write_safetensors(path, sample_tensors(), DType::kF32);
  const auto file = SafetensorsFile::open(path);
  expect_error([&] { file->tensor("model.layers.0.self_attn.memory_gate"); }, ErrorCode::kNotFound,
               {path, "\"model.layers.0.self_attn.memory_gate\""});
}

// parse() runs open()'s checks on bytes in memory (the fuzz target's entry point).
TEST(SafetensorsTest, ParseChecksBytesInMemoryLikeOpen) {
  const std::string header = one_tensor_header().dump();
  const std::string bytes = le64(header.size()) + header + kSixFloats;
  const auto file = SafetensorsFile::parse(bytes, "in memory");
  EXPECT_EQ(file->path(), "in memory");
  EXPECT_EQ(file->tensor("w").to_f32(), (std::vector<float>{1, 2, 3, 4, 5, 6}));
  expect_error([&] { SafetensorsFile::parse("", "in memory"); }, ErrorCode::kCorruptData,
               {"in memory", "0 bytes", "too short"});
  expect_error([&] { SafetensorsFile::parse(bytes.substr(0, bytes.size() - 1), "in memory"); },
               ErrorCode::kCorruptData, {"in memory", "past the end"});
}

TEST(SafetensorsWriterTest, RejectsBadInput) {
  TempDir dir;
  const std::string path = dir.file("w.safetensors");
  expect_error(
      [&] {
        write_safetensors(path, {{"x", {2, 2}, {1, 2, 3}}}, DType::kF32);
      },
      ErrorCode::kInvalidArgument, {path, "\"x\"", "4 elements", "3 values"});
  expect_error(
      [&] {
        write_safetensors(path, {{"x", {1}, {1}}, {"x", {1}, {2}}}, DType::kF32);
      },
      ErrorCode::kInvalidArgument, {path, "\"x\"", "twice"});
  expect_error(
      [&] {
        write_safetensors(path, {{"x", {-1}, {}}}, DType::kF32);
      },
      ErrorCode::kInvalidArgument, {path, "negative"});
  const std::string unwritable = dir.file("no/such/dir/w.safetensors");
  expect_error(
      [&] {
        write_safetensors(unwritable, {{"x", {1}, {1}}}, DType::kF32);
      },
      ErrorCode::kInvalidArgument, {unwritable});
}

}  // namespace
}  // namespace infini
