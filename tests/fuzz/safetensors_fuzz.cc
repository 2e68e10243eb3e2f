// Bytes as a .safetensors file -> SafetensorsFile::parse, the checks open() runs on
// a mapped file. Every input either loads, and then each tensor converts to
// float32 reading only bytes of the input (the parser copies them to an
// exact-size buffer, so ASan sees any read past the end), or is refused with an
// EngineError (kCorruptData or kUnsupported) that names the file. Anything else is
// a finding: a crash, a sanitizer report, another exception, an allocation above
// libFuzzer's -rss_limit_mb.
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "engine/error.h"
#include "engine/safetensors.h"
#include "tests/fuzz/fuzz_check.h"

namespace infini {
namespace {

constexpr char kOrigin[] = "fuzz.safetensors";

void check_loaded(const SafetensorsFile& file, size_t input_size) {
  uint64_t tensor_bytes = 0;
  for (const std::string& name : file.names()) {
    fuzz::check(file.has(name), "names() lists a tensor that has() denies");
    const TensorView& tensor = file.tensor(name);
    const int64_t numel = tensor.numel();
    fuzz::check(numel >= 0, "negative element count");
    // Non-overlapping tensors inside the input: their bytes add up to less than it.
    fuzz::check(static_cast<uint64_t>(numel) <= input_size, "tensor larger than the input");
    tensor_bytes += static_cast<uint64_t>(numel) * dtype_size(tensor.dtype);
    fuzz::check(tensor_bytes <= input_size, "tensors hold more bytes than the input");
    fuzz::check(tensor.to_f32().size() == static_cast<size_t>(numel), "to_f32 size");
  }
  try {
    file.tensor("\x01not a tensor");
    fuzz::fail("tensor() of an absent name returned");
  } catch (const EngineError& e) {
    fuzz::check(e.code() == ErrorCode::kNotFound, "absent tensor is not kNotFound");
  }
}

}  // namespace
}  // namespace infini

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace infini;
  const std::string_view bytes(reinterpret_cast<const char*>(data), size);
  std::unique_ptr<SafetensorsFile> file;
  try {
    file = SafetensorsFile::parse(bytes, kOrigin);
  } catch (const EngineError& e) {
    const std::string_view message = e.what();
    if (e.code() != ErrorCode::kCorruptData && e.code() != ErrorCode::kUnsupported) {
      fuzz::fail(std::string("unexpected error code ") + error_code_name(e.code()) + ": " +
                 e.what());
    }
    if (!message.starts_with(std::string(kOrigin) + ": ")) {
      fuzz::fail(std::string("error without the file's name: ") + e.what());
    }
    return 0;
  } catch (const std::exception& e) {
    fuzz::fail(std::string("exception other than EngineError: ") + e.what());
  }
  check_loaded(*file, size);
  return 0;
}
