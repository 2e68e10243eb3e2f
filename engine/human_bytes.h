// Byte counts as a person reads them ("398.0 KiB", "1.2 GiB"), for the
// server's start-up log and the reports of `infini run` and `infini eval`.
#pragma once

#include <cstdio>
#include <string>

namespace infini {

// Binary units up to TiB; one decimal past bytes ("512 B", "1.5 KiB").
inline std::string human_bytes(double bytes) {
  const char* units[] = {"B", "KiB", "MiB", "GiB", "TiB"};
  int u = 0;
  while (bytes >= 1024.0 && u < 4) bytes /= 1024.0, ++u;
  char buf[32];
  std::snprintf(buf, sizeof buf, u == 0 ? "%.0f %s" : "%.1f %s", bytes, units[u]);
  return buf;
}

}  // namespace infini
