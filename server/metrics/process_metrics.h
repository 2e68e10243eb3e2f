// The standard process metrics, with the names and meanings of the Prometheus
// client libraries (client_golang's process collector), read from /proc/self
// each time the registry renders.
#pragma once

#include <optional>
#include <string>

#include "server/metrics/metrics_registry.h"

namespace infini::server {

struct ProcessStats {
  double resident_memory_bytes = 0;
  double virtual_memory_bytes = 0;
  double cpu_seconds = 0;         // user + system
  double start_time_seconds = 0;  // since the Unix epoch
  double open_fds = 0;
  double max_fds = 0;  // soft RLIMIT_NOFILE
};

// The fields of /proc/<pid>/stat we need, parsed from its text; nullopt when
// malformed. `clock_ticks` is sysconf(_SC_CLK_TCK), `page_size` in bytes,
// `boot_time_seconds` the btime line of /proc/stat.
std::optional<ProcessStats> parse_proc_stat(const std::string& stat_text, double clock_ticks,
                                            double page_size, double boot_time_seconds);

// Reads /proc/self; nullopt when /proc is unavailable.
std::optional<ProcessStats> read_process_stats();

// Registers process_resident_memory_bytes, process_virtual_memory_bytes,
// process_cpu_seconds_total, process_start_time_seconds, process_open_fds and
// process_max_fds, refreshed by a collect hook. If /proc cannot be read at a
// scrape the previous values stay.
void register_process_metrics(MetricsRegistry& registry);

}  // namespace infini::server
