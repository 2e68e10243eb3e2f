// The engine's side of the CUDA plugin (see cuda_plugin.h): the entry points
// of cuda/cuda_backend.h, answered by loading lib/infini/libinfini-cuda.so on
// first use. Where the library is not there, or cannot load (no CUDA runtime
// on the machine), every entry point reports why.
#include "engine/cuda_plugin.h"

#include <dlfcn.h>

#include <cstdlib>
#include <filesystem>
#include <mutex>

#include "engine/error.h"

namespace infini::cuda {

namespace {

// The outcome of loading the plugin, decided once per process: the library
// stays loaded for the life of the process (its kernels and the backends it
// made must outlive every caller), so it is never dlclose()d.
struct LoadedPlugin {
  const PluginApi* api = nullptr;
  std::string failure;  // why api is null
};

#ifdef INFINI_WITH_CUDA
std::vector<std::string> plugin_candidates() {
  std::vector<std::string> paths;
  if (const char* explicit_path = std::getenv("INFINI_CUDA_PLUGIN"); explicit_path != nullptr &&
                                                                    *explicit_path != '\0') {
    paths.emplace_back(explicit_path);
    return paths;
  }
  std::error_code ec;
  const std::filesystem::path exe = std::filesystem::read_symlink("/proc/self/exe", ec);
  if (!ec) paths.push_back((exe.parent_path() / ".." / "lib" / "infini" / kPluginFileName).string());
  paths.emplace_back(kPluginFileName);  // the loader's own search (LD_LIBRARY_PATH, ldconfig)
  return paths;
}

LoadedPlugin load_plugin() {
  LoadedPlugin out;
  std::string errors;
  for (const std::string& path : plugin_candidates()) {
    const bool by_name = path.find('/') == std::string::npos;
    if (!by_name && !std::filesystem::exists(path)) {
      errors += (errors.empty() ? "" : "; ") + path + ": no such file";
      continue;
    }
    void* handle = dlopen(path.c_str(), RTLD_NOW | RTLD_LOCAL);
    if (handle == nullptr) {
      const char* why = dlerror();
      errors += (errors.empty() ? "" : "; ") + std::string(why != nullptr ? why : path);
      continue;
    }
    using Entry = const PluginApi* (*)();
    auto entry = reinterpret_cast<Entry>(dlsym(handle, kPluginEntryPoint));
    if (entry == nullptr) {
      errors += (errors.empty() ? "" : "; ") + path + " has no " + kPluginEntryPoint;
      continue;
    }
    const PluginApi* api = entry();
    if (api == nullptr || api->abi_version != kPluginAbiVersion) {
      errors += (errors.empty() ? "" : "; ") + path + " is from another build (plugin ABI " +
                std::to_string(api != nullptr ? api->abi_version : -1) + ", expected " +
                std::to_string(kPluginAbiVersion) + ")";
      continue;
    }
    out.api = api;
    return out;
  }
  out.failure = "cannot load the CUDA backend library " + std::string(kPluginFileName) + " (" +
                errors + ")";
  return out;
}
#else
LoadedPlugin load_plugin() {
  return LoadedPlugin{nullptr,
                      "built without the CUDA toolkit (CMake found no nvcc; see INFINI_CUDA "
                      "in CMakeLists.txt)"};
}
#endif

const LoadedPlugin& plugin() {
  static const LoadedPlugin loaded = load_plugin();
  return loaded;
}

const PluginApi& require_plugin(const char* what) {
  const LoadedPlugin& p = plugin();
  if (p.api == nullptr) {
    throw EngineError(ErrorCode::kUnsupported, std::string(what) + " is not available: " + p.failure);
  }
  return *p.api;
}

}  // namespace

bool device_available(std::string* reason) {
  const LoadedPlugin& p = plugin();
  if (p.api == nullptr) {
    if (reason != nullptr) *reason = p.failure;
    return false;
  }
  return p.api->device_available(0, reason);
}

std::unique_ptr<Backend> make_cuda_backend(ComputeDType dtype, int device) {
  return require_plugin("backend 'cuda'").make_backend(dtype, device);
}

std::vector<CublasPeak> measure_cublas_bf16_peak(double seconds_each, int device) {
  return require_plugin("cuBLAS").measure_cublas_bf16_peak(seconds_each, device);
}

std::string device_description(int device) {
  const LoadedPlugin& p = plugin();
  return p.api == nullptr ? "" : p.api->device_description(device);
}

}  // namespace infini::cuda
