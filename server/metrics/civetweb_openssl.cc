#include "server/metrics/civetweb_openssl.h"

#include <dlfcn.h>

#include <filesystem>
#include <mutex>
#include <stdexcept>

namespace infini::server {

std::string civetweb_openssl_dir() {
  std::error_code ec;
  const std::filesystem::path exe = std::filesystem::read_symlink("/proc/self/exe", ec);
  if (ec) return "/usr/local/lib/infini";
  return (exe.parent_path().parent_path() / "lib" / "infini").string();
}

void load_civetweb_openssl() {
  static std::once_flag once;
  static std::string error;
  std::call_once(once, [] {
    // libcrypto first: libssl's shim depends on it too, and civetweb opens it first.
    for (const char* name : {"libinfini-civetweb-crypto.so", "libinfini-civetweb-ssl.so"}) {
      const std::string path = civetweb_openssl_dir() + "/" + name;
      // RTLD_NODELETE: civetweb keeps function pointers into these for the
      // life of the process.
      if (dlopen(path.c_str(), RTLD_NOW | RTLD_LOCAL | RTLD_NODELETE) == nullptr) {
        const char* reason = dlerror();
        error = "cannot load " + path + " (needed for https on /metrics): " +
                (reason != nullptr ? reason : "unknown reason");
        return;
      }
    }
  });
  if (!error.empty()) throw std::runtime_error(error);
}

}  // namespace infini::server
