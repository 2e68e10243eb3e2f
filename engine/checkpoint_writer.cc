#include "engine/checkpoint_writer.h"

#include <cerrno>
#include <cmath>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <numbers>
#include <random>
#include <set>

#include "engine/error.h"
#include "engine/float_convert.h"

namespace infini {
namespace {

// Normal samples from mt19937_64 by Box-Muller. std::normal_distribution is
// implementation-defined, so this keeps a seed's weights the same across
// standard libraries (up to libm's last-bit differences in log/sin/cos).
class NormalSampler {
 public:
  explicit NormalSampler(uint64_t seed) : engine_(seed) {}

  float next(float stddev) {
    if (has_spare_) {
      has_spare_ = false;
      return static_cast<float>(spare_ * stddev);
    }
    // u1 in (0, 1] so log(u1) is finite; u2 in [0, 1).
    const double u1 = (static_cast<double>(engine_() >> 11) + 1.0) * 0x1.0p-53;
    const double u2 = static_cast<double>(engine_() >> 11) * 0x1.0p-53;
    const double radius = std::sqrt(-2.0 * std::log(u1));
    const double angle = 2.0 * std::numbers::pi * u2;
    spare_ = radius * std::sin(angle);
    has_spare_ = true;
    return static_cast<float>(radius * std::cos(angle) * stddev);
  }

 private:
  std::mt19937_64 engine_;
  double spare_ = 0.0;
  bool has_spare_ = false;
};

int64_t element_count(const std::vector<int64_t>& shape) {
  int64_t n = 1;
  for (int64_t dim : shape) n *= dim;
  return n;
}

std::string shape_text(const std::vector<int64_t>& shape) {
  std::string out = "[";
  for (size_t i = 0; i < shape.size(); ++i) {
    if (i > 0) out += ", ";
    out += std::to_string(shape[i]);
  }
  return out + "]";
}

// Appends `count` values starting at `values` to `out` as `dtype` bytes (LE).
void encode(const float* values, size_t count, DType dtype, std::vector<char>* out) {
  out->resize(count * dtype_size(dtype));
  char* dst = out->data();
  switch (dtype) {
    case DType::kF32:
      std::memcpy(dst, values, count * sizeof(float));
      break;
    case DType::kBF16:
      for (size_t i = 0; i < count; ++i) {
        const uint16_t h = float_to_bf16(values[i]);
        std::memcpy(dst + 2 * i, &h, sizeof h);
      }
      break;
    case DType::kF16:
      for (size_t i = 0; i < count; ++i) {
        const uint16_t h = float_to_f16(values[i]);
        std::memcpy(dst + 2 * i, &h, sizeof h);
      }
      break;
  }
}

void write_or_throw(std::ofstream& out, const char* bytes, size_t size, const std::string& path) {
  out.write(bytes, static_cast<std::streamsize>(size));
  if (!out) {
    throw EngineError(ErrorCode::kInternal, path + ": write failed: " + std::strerror(errno));
  }
}

}  // namespace

void write_safetensors(const std::string& path, const std::vector<NamedTensor>& tensors,
                       DType dtype) {
  nlohmann::ordered_json header = nlohmann::ordered_json::object();
  std::set<std::string> names;
  uint64_t offset = 0;
  for (const NamedTensor& tensor : tensors) {
    if (tensor.name.empty() || tensor.name == "__metadata__") {
      throw EngineError(ErrorCode::kInvalidArgument,
                        path + ": invalid tensor name \"" + tensor.name + "\"");
    }
    if (!names.insert(tensor.name).second) {
      throw EngineError(ErrorCode::kInvalidArgument,
                        path + ": tensor \"" + tensor.name + "\" given twice");
    }
    for (int64_t dim : tensor.shape) {
      if (dim < 0) {
        throw EngineError(ErrorCode::kInvalidArgument, path + ": tensor \"" + tensor.name +
                                                           "\" has negative shape " +
                                                           shape_text(tensor.shape));
      }
    }
    const int64_t numel = element_count(tensor.shape);
    if (static_cast<uint64_t>(numel) != tensor.values.size()) {
      throw EngineError(ErrorCode::kInvalidArgument,
                        path + ": tensor \"" + tensor.name + "\" has shape " +
                            shape_text(tensor.shape) + " (" + std::to_string(numel) +
                            " elements) but " + std::to_string(tensor.values.size()) + " values");
    }
    const uint64_t bytes = static_cast<uint64_t>(numel) * dtype_size(dtype);
    header[tensor.name] = {{"dtype", dtype_name(dtype)},
                           {"shape", tensor.shape},
                           {"data_offsets", {offset, offset + bytes}}};
    offset += bytes;
  }

  std::string header_text = header.dump();
  // Pad with spaces so the data section starts 8-byte aligned, as the
  // reference implementation does.
  header_text.append((8 - header_text.size() % 8) % 8, ' ');

  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  if (!out) {
    throw EngineError(ErrorCode::kInvalidArgument,
                      path + ": cannot create safetensors file: " + std::strerror(errno));
  }
  unsigned char length[8];
  uint64_t header_size = header_text.size();
  for (int i = 0; i < 8; ++i) length[i] = static_cast<unsigned char>(header_size >> (8 * i));
  write_or_throw(out, reinterpret_cast<const char*>(length), sizeof length, path);
  write_or_throw(out, header_text.data(), header_text.size(), path);

  // Convert in chunks so a large embedding does not need a second full copy.
  constexpr size_t kChunk = 1 << 20;
  std::vector<char> buffer;
  for (const NamedTensor& tensor : tensors) {
    for (size_t start = 0; start < tensor.values.size(); start += kChunk) {
      const size_t count = std::min(kChunk, tensor.values.size() - start);
      encode(tensor.values.data() + start, count, dtype, &buffer);
      write_or_throw(out, buffer.data(), buffer.size(), path);
    }
  }
  out.close();
  if (!out) {
    throw EngineError(ErrorCode::kInternal, path + ": closing the file failed");
  }
}

std::vector<NamedTensor> random_weights(const ModelConfig& config, uint64_t seed, float init_std,
                                        float gate_logit, bool with_bias) {
  config.validate("random_weights");
  if (!(init_std >= 0.0f) || !std::isfinite(init_std)) {
    throw EngineError(ErrorCode::kInvalidArgument,
                      "random_weights: init_std must be a finite non-negative number");
  }
  if (!std::isfinite(gate_logit)) {
    throw EngineError(ErrorCode::kInvalidArgument, "random_weights: gate_logit must be finite");
  }
  NormalSampler sampler(seed);
  std::vector<NamedTensor> out;

  auto normal = [&](std::string name, std::vector<int64_t> shape, float stddev) {
    NamedTensor t{std::move(name), std::move(shape), {}};
    t.values.resize(static_cast<size_t>(element_count(t.shape)));
    for (float& v : t.values) v = sampler.next(stddev);
    out.push_back(std::move(t));
  };
  auto constant = [&](std::string name, std::vector<int64_t> shape, float value) {
    NamedTensor t{std::move(name), std::move(shape), {}};
    t.values.assign(static_cast<size_t>(element_count(t.shape)), value);
    out.push_back(std::move(t));
  };

  const int64_t hidden = config.hidden_size;
  const int64_t inter = config.intermediate_size;
  normal("model.embed_tokens.weight", {config.vocab_size, hidden}, 1.0f);
  for (int64_t i = 0; i < config.num_layers; ++i) {
    const std::string prefix = "model.layers." + std::to_string(i) + ".";
    constant(prefix + "input_layernorm.weight", {hidden}, 1.0f);
    normal(prefix + "self_attn.q_proj.weight", {config.q_size(), hidden}, init_std);
    if (with_bias) normal(prefix + "self_attn.q_proj.bias", {config.q_size()}, init_std);
    normal(prefix + "self_attn.k_proj.weight", {config.kv_size(), hidden}, init_std);
    if (with_bias) normal(prefix + "self_attn.k_proj.bias", {config.kv_size()}, init_std);
    normal(prefix + "self_attn.v_proj.weight", {config.kv_size(), hidden}, init_std);
    if (with_bias) normal(prefix + "self_attn.v_proj.bias", {config.kv_size()}, init_std);
    normal(prefix + "self_attn.o_proj.weight", {hidden, config.q_size()}, init_std);
    constant(prefix + "self_attn.memory_gate", {config.num_heads}, gate_logit);
    constant(prefix + "post_attention_layernorm.weight", {hidden}, 1.0f);
    normal(prefix + "mlp.gate_proj.weight", {inter, hidden}, init_std);
    normal(prefix + "mlp.up_proj.weight", {inter, hidden}, init_std);
    normal(prefix + "mlp.down_proj.weight", {hidden, inter}, init_std);
  }
  constant("model.norm.weight", {hidden}, 1.0f);
  if (!config.tie_word_embeddings) {
    normal("lm_head.weight", {config.vocab_size, hidden}, init_std);
  }
  return out;
}

void write_checkpoint(const std::string& dir, const ModelConfig& config,
                      const std::vector<NamedTensor>& tensors, DType dtype) {
  config.validate(dir);
  std::error_code ec;
  std::filesystem::create_directories(dir, ec);
  if (ec) {
    throw EngineError(ErrorCode::kInvalidArgument,
                      dir + ": cannot create checkpoint directory: " + ec.message());
  }
  const std::filesystem::path root(dir);
  const std::string config_path = (root / "config.json").string();
  {
    std::ofstream out(config_path, std::ios::binary | std::ios::trunc);
    if (!out) {
      throw EngineError(ErrorCode::kInvalidArgument,
                        config_path + ": cannot create file: " + std::strerror(errno));
    }
    out << config.to_json() << "\n";
    out.close();
    if (!out) throw EngineError(ErrorCode::kInternal, config_path + ": write failed");
  }
  write_safetensors((root / "model.safetensors").string(), tensors, dtype);
}

}  // namespace infini
