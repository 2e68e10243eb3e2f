#include "engine/safetensors.h"

#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <bit>
#include <cerrno>
#include <cstring>
#include <limits>
#include <nlohmann/json.hpp>
#include <set>
#include <string_view>

#include "engine/error.h"
#include "engine/float_convert.h"

namespace infini {
namespace {

// safetensors stores little-endian data, and we hand out pointers into it.
static_assert(std::endian::native == std::endian::little,
              "safetensors reader assumes a little-endian host");

using nlohmann::json;

// The reference implementation refuses headers above 100 MB too.
constexpr uint64_t kMaxHeaderBytes = 100'000'000;

// Known safetensors dtypes this build does not load: an error naming them is
// kUnsupported (a valid file we cannot use), anything else is kCorruptData.
constexpr std::string_view kKnownUnsupportedDTypes[] = {
    "F64",  "I64",     "U64",     "I32",     "U32",     "I16",     "U16", "I8", "U8",
    "BOOL", "F8_E4M3", "F8_E5M2", "F8_E8M0", "F6_E2M3", "F6_E3M2", "F4",  "C64"};

[[noreturn]] void corrupt(const std::string& path, const std::string& what) {
  throw EngineError(ErrorCode::kCorruptData, path + ": " + what);
}

[[noreturn]] void too_short(const std::string& path, uint64_t size) {
  corrupt(path,
          "file is " + std::to_string(size) + " bytes, too short for the 8-byte header length");
}

[[noreturn]] void corrupt_tensor(const std::string& path, const std::string& name,
                                 const std::string& what) {
  corrupt(path, "tensor \"" + name + "\": " + what);
}

std::string describe(const json& value) {
  std::string text = value.dump();
  if (text.size() > 60) text = text.substr(0, 57) + "...";
  return text;
}

bool parse_dtype(const std::string& name, DType* dtype) {
  if (name == "F32") {
    *dtype = DType::kF32;
  } else if (name == "BF16") {
    *dtype = DType::kBF16;
  } else if (name == "F16") {
    *dtype = DType::kF16;
  } else {
    return false;
  }
  return true;
}

// A non-negative JSON integer as uint64, or false.
bool as_index(const json& value, uint64_t* out) {
  if (value.is_number_unsigned()) {
    *out = value.get<uint64_t>();
    return true;
  }
  if (value.is_number_integer() && value.get<int64_t>() >= 0) {
    *out = static_cast<uint64_t>(value.get<int64_t>());
    return true;
  }
  return false;
}

struct ByteRange {
  uint64_t begin;
  uint64_t end;
  const std::string* name;
};

}  // namespace

const char* dtype_name(DType dtype) {
  switch (dtype) {
    case DType::kF32:
      return "F32";
    case DType::kBF16:
      return "BF16";
    case DType::kF16:
      return "F16";
  }
  return "unknown";
}

size_t dtype_size(DType dtype) {
  switch (dtype) {
    case DType::kF32:
      return 4;
    case DType::kBF16:
    case DType::kF16:
      return 2;
  }
  return 0;
}

int64_t TensorView::numel() const {
  int64_t n = 1;
  for (int64_t dim : shape) n *= dim;
  return n;
}

std::vector<float> TensorView::to_f32() const {
  const size_t n = static_cast<size_t>(numel());
  std::vector<float> out(n);
  if (n == 0) return out;
  // safetensors does not align tensors, so `data` may be unaligned: read
  // through memcpy only, never through a float* / uint16_t* cast.
  const auto* bytes = static_cast<const unsigned char*>(data);
  switch (dtype) {
    case DType::kF32:
      std::memcpy(out.data(), bytes, n * sizeof(float));
      break;
    case DType::kBF16:
      for (size_t i = 0; i < n; ++i) {
        uint16_t h;
        std::memcpy(&h, bytes + 2 * i, sizeof h);
        out[i] = bf16_to_float(h);
      }
      break;
    case DType::kF16:
      for (size_t i = 0; i < n; ++i) {
        uint16_t h;
        std::memcpy(&h, bytes + 2 * i, sizeof h);
        out[i] = f16_to_float(h);
      }
      break;
  }
  return out;
}

std::unique_ptr<SafetensorsFile> SafetensorsFile::open(const std::string& path) {
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) {
    const int err = errno;
    throw EngineError(ErrorCode::kNotFound,
                      path + ": cannot open safetensors file: " + std::strerror(err));
  }
  struct stat st;
  if (::fstat(fd, &st) != 0) {
    const int err = errno;
    ::close(fd);
    throw EngineError(ErrorCode::kInternal, path + ": fstat failed: " + std::strerror(err));
  }
  if (!S_ISREG(st.st_mode)) {
    ::close(fd);
    throw EngineError(ErrorCode::kInvalidArgument,
                      path + ": not a regular file (expected a .safetensors file)");
  }
  const uint64_t file_size = static_cast<uint64_t>(st.st_size);
  if (file_size < 8) {
    ::close(fd);
    too_short(path, file_size);  // and mmap refuses 0 bytes
  }

  std::unique_ptr<SafetensorsFile> file(new SafetensorsFile());
  file->path_ = path;
  void* mapping = ::mmap(nullptr, file_size, PROT_READ, MAP_PRIVATE, fd, 0);
  const int mmap_errno = errno;
  ::close(fd);  // the mapping keeps the file alive
  if (mapping == MAP_FAILED) {
    throw EngineError(ErrorCode::kInternal, path + ": mmap failed: " + std::strerror(mmap_errno));
  }
  // From here the destructor unmaps, also when validation below throws.
  file->mapping_ = mapping;
  file->mapping_size_ = file_size;
  file->read_header(static_cast<const unsigned char*>(mapping), file_size);
  return file;
}

std::unique_ptr<SafetensorsFile> SafetensorsFile::parse(std::string_view bytes,
                                                        const std::string& origin) {
  std::unique_ptr<SafetensorsFile> file(new SafetensorsFile());
  file->path_ = origin;
  file->bytes_ = std::make_unique_for_overwrite<unsigned char[]>(bytes.size());
  if (!bytes.empty()) std::memcpy(file->bytes_.get(), bytes.data(), bytes.size());
  file->read_header(file->bytes_.get(), bytes.size());
  return file;
}

void SafetensorsFile::read_header(const unsigned char* base, uint64_t file_size) {
  const std::string& path = path_;
  if (file_size < 8) too_short(path, file_size);
  uint64_t header_size = 0;
  for (int i = 7; i >= 0; --i) header_size = (header_size << 8) | base[i];
  if (header_size > file_size - 8) {
    corrupt(path, "header length " + std::to_string(header_size) +
                      " is larger than the file allows (" + std::to_string(file_size - 8) +
                      " bytes after the 8-byte length)");
  }
  if (header_size > kMaxHeaderBytes) {
    corrupt(path, "header length " + std::to_string(header_size) + " exceeds the " +
                      std::to_string(kMaxHeaderBytes) + "-byte limit");
  }

  // Duplicate tensor names would make the header ambiguous; nlohmann keeps the
  // last silently, so catch them while parsing.
  std::set<std::string> seen_keys;
  std::string duplicate;
  const json::parser_callback_t reject_duplicates = [&](int depth, json::parse_event_t event,
                                                        json& parsed) {
    if (event == json::parse_event_t::key && depth == 1 && parsed.is_string()) {
      if (!seen_keys.insert(parsed.get<std::string>()).second && duplicate.empty()) {
        duplicate = parsed.get<std::string>();
      }
    }
    return true;
  };
  json header;
  const char* header_begin = reinterpret_cast<const char*>(base + 8);
  try {
    header = json::parse(header_begin, header_begin + header_size, reject_duplicates);
  } catch (const json::exception& e) {
    corrupt(path, std::string("header is not valid JSON: ") + e.what());
  }
  if (!header.is_object()) {
    corrupt(path, "header must be a JSON object, got " + std::string(header.type_name()));
  }
  if (!duplicate.empty()) corrupt(path, "header names \"" + duplicate + "\" more than once");

  const uint64_t data_begin = 8 + header_size;
  const uint64_t data_size = file_size - data_begin;
  std::vector<ByteRange> ranges;

  for (const auto& [name, entry] : header.items()) {
    if (name == "__metadata__") continue;  // free-form strings; nothing we need
    if (!entry.is_object()) corrupt_tensor(path, name, "entry is not a JSON object");

    auto dtype_it = entry.find("dtype");
    if (dtype_it == entry.end()) corrupt_tensor(path, name, "missing \"dtype\"");
    if (!dtype_it->is_string()) {
      corrupt_tensor(path, name, "\"dtype\" must be a string, got " + describe(*dtype_it));
    }
    const std::string dtype_text = dtype_it->get<std::string>();
    TensorView view;
    if (!parse_dtype(dtype_text, &view.dtype)) {
      const bool known =
          std::find(std::begin(kKnownUnsupportedDTypes), std::end(kKnownUnsupportedDTypes),
                    dtype_text) != std::end(kKnownUnsupportedDTypes);
      if (known) {
        throw EngineError(ErrorCode::kUnsupported,
                          path + ": tensor \"" + name + "\" has dtype " + dtype_text +
                              ", which is not supported (supported: F32, BF16, F16)");
      }
      corrupt_tensor(path, name, "unknown dtype \"" + dtype_text + "\"");
    }

    auto shape_it = entry.find("shape");
    if (shape_it == entry.end()) corrupt_tensor(path, name, "missing \"shape\"");
    if (!shape_it->is_array()) {
      corrupt_tensor(path, name, "\"shape\" must be an array, got " + describe(*shape_it));
    }
    // The product of the non-zero dimensions must fit in int64 (as
    // TensorView::numel computes it), checked without overflowing, so a hostile
    // shape cannot wrap around into a size that happens to match the offsets.
    constexpr uint64_t kMaxElements = static_cast<uint64_t>(std::numeric_limits<int64_t>::max());
    uint64_t nonzero_product = 1;
    bool has_zero = false;
    for (const json& dim : *shape_it) {
      uint64_t d;
      if (!as_index(dim, &d)) {
        corrupt_tensor(path, name,
                       "shape " + describe(*shape_it) + " must hold non-negative integers");
      }
      if (d == 0) {
        has_zero = true;
      } else if (nonzero_product > kMaxElements / d) {
        corrupt_tensor(path, name, "shape " + describe(*shape_it) + " is too large");
      } else {
        nonzero_product *= d;
      }
      view.shape.push_back(static_cast<int64_t>(d));
    }
    const uint64_t numel = has_zero ? 0 : nonzero_product;
    const uint64_t element_size = dtype_size(view.dtype);
    if (numel > std::numeric_limits<uint64_t>::max() / element_size) {
      corrupt_tensor(path, name, "shape " + describe(*shape_it) + " is too large");
    }
    const uint64_t expected_bytes = numel * element_size;

    auto offsets_it = entry.find("data_offsets");
    if (offsets_it == entry.end()) corrupt_tensor(path, name, "missing \"data_offsets\"");
    uint64_t begin = 0;
    uint64_t end = 0;
    if (!offsets_it->is_array() || offsets_it->size() != 2 || !as_index((*offsets_it)[0], &begin) ||
        !as_index((*offsets_it)[1], &end)) {
      corrupt_tensor(path, name,
                     "\"data_offsets\" must be [begin, end] with non-negative integers, got " +
                         describe(*offsets_it));
    }
    if (begin > end) {
      corrupt_tensor(path, name,
                     "data_offsets [" + std::to_string(begin) + ", " + std::to_string(end) +
                         "] has begin after end");
    }
    if (end > data_size) {
      corrupt_tensor(path, name,
                     "data_offsets [" + std::to_string(begin) + ", " + std::to_string(end) +
                         "] reach past the end of the data section (" + std::to_string(data_size) +
                         " bytes); is the file truncated?");
    }
    if (end - begin != expected_bytes) {
      corrupt_tensor(path, name,
                     "data_offsets [" + std::to_string(begin) + ", " + std::to_string(end) +
                         "] span " + std::to_string(end - begin) + " bytes, but " + dtype_text +
                         " " + describe(*shape_it) + " needs " + std::to_string(expected_bytes));
    }

    view.data = base + data_begin + begin;
    auto [it, inserted] = tensors_.emplace(name, std::move(view));
    ranges.push_back({begin, end, &it->first});
  }

  // Empty tensors occupy no bytes and cannot overlap anything.
  std::erase_if(ranges, [](const ByteRange& r) { return r.begin == r.end; });
  std::sort(ranges.begin(), ranges.end(),
            [](const ByteRange& a, const ByteRange& b) { return a.begin < b.begin; });
  for (size_t i = 1; i < ranges.size(); ++i) {
    if (ranges[i].begin < ranges[i - 1].end) {
      corrupt(path, "tensors \"" + *ranges[i - 1].name + "\" [" +
                        std::to_string(ranges[i - 1].begin) + ", " +
                        std::to_string(ranges[i - 1].end) + ") and \"" + *ranges[i].name + "\" [" +
                        std::to_string(ranges[i].begin) + ", " + std::to_string(ranges[i].end) +
                        ") overlap");
    }
  }
}

SafetensorsFile::~SafetensorsFile() {
  if (mapping_ != nullptr) ::munmap(mapping_, mapping_size_);
}

void SafetensorsFile::release(const TensorView& view) const {
  if (mapping_ == nullptr || view.data == nullptr) return;
  // Only whole pages inside the tensor: a page shared with a neighbour may
  // still be read.
  const auto page = static_cast<uintptr_t>(::sysconf(_SC_PAGESIZE));
  const auto begin = reinterpret_cast<uintptr_t>(view.data);
  const uintptr_t end = begin + static_cast<uintptr_t>(view.numel()) * dtype_size(view.dtype);
  const uintptr_t first = (begin + page - 1) / page * page;
  const uintptr_t last = end / page * page;
  const auto base = reinterpret_cast<uintptr_t>(mapping_);
  if (first >= last || first < base || last > base + mapping_size_) return;
  // Advice only: if the kernel declines, the pages simply stay resident.
  ::madvise(reinterpret_cast<void*>(first), last - first, MADV_DONTNEED);
}

bool SafetensorsFile::has(const std::string& name) const { return tensors_.count(name) != 0; }

const TensorView& SafetensorsFile::tensor(const std::string& name) const {
  auto it = tensors_.find(name);
  if (it == tensors_.end()) {
    throw EngineError(ErrorCode::kNotFound, path_ + ": no tensor named \"" + name +
                                                "\" (the file has " +
                                                std::to_string(tensors_.size()) + " tensors)");
  }
  return it->second;
}

std::vector<std::string> SafetensorsFile::names() const {
  std::vector<std::string> out;
  out.reserve(tensors_.size());
  for (const auto& [name, view] : tensors_) out.push_back(name);
  return out;
}

}  // namespace infini
