// Read-only view of a .safetensors file through mmap. The header is checked
// against the file before any tensor is handed out: offsets inside the data
// section, no overlap, byte sizes matching dtype x shape.
#pragma once

#include <cstddef>
#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

namespace infini {

enum class DType { kF32, kBF16, kF16 };

const char* dtype_name(DType dtype);
size_t dtype_size(DType dtype);

// A tensor inside a mapped file (or any host buffer): no ownership.
struct TensorView {
  DType dtype = DType::kF32;
  std::vector<int64_t> shape;
  const void* data = nullptr;
  int64_t numel() const;
  // Converts any dtype to float32.
  std::vector<float> to_f32() const;
};

class SafetensorsFile {
 public:
  // Throws EngineError (kNotFound, kCorruptData, kUnsupported) with the path.
  static std::unique_ptr<SafetensorsFile> open(const std::string& path);
  // The same checks on a file's bytes already in memory, copied; `origin` stands
  // for the path in errors. The copy is exactly as long as the bytes, so under
  // ASan (the fuzz target) any read past their end is caught.
  static std::unique_ptr<SafetensorsFile> parse(std::string_view bytes, const std::string& origin);
  ~SafetensorsFile();
  SafetensorsFile(const SafetensorsFile&) = delete;
  SafetensorsFile& operator=(const SafetensorsFile&) = delete;

  bool has(const std::string& name) const;
  // Throws EngineError(kNotFound) naming the tensor and the file.
  const TensorView& tensor(const std::string& name) const;
  std::vector<std::string> names() const;
  const std::string& path() const { return path_; }
  // Drops the mapped pages that lie wholly inside `view` (a tensor of this
  // file) from the process's resident set; reading it again faults them back
  // in from the page cache. A no-op for parse()'s in-memory copy.
  void release(const TensorView& view) const;

 private:
  SafetensorsFile() = default;
  // Validates the header of the `size` bytes at `base` and fills tensors_.
  void read_header(const unsigned char* base, uint64_t size);

  std::string path_;
  void* mapping_ = nullptr;  // from open()
  size_t mapping_size_ = 0;
  std::unique_ptr<unsigned char[]> bytes_;  // from parse()
  std::map<std::string, TensorView> tensors_;
};

}  // namespace infini
