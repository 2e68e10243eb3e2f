#include "server/metrics/process_metrics.h"

#include <sys/resource.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <sstream>
#include <vector>

namespace infini::server {
namespace {

std::optional<std::string> read_file(const char* path) {
  std::ifstream in(path);
  if (!in) return std::nullopt;
  std::ostringstream text;
  text << in.rdbuf();
  return text.str();
}

std::optional<double> read_boot_time_seconds() {
  std::ifstream in("/proc/stat");
  std::string line;
  while (std::getline(in, line)) {
    if (line.starts_with("btime ")) {
      try {
        return std::stod(line.substr(6));
      } catch (const std::exception&) {
        return std::nullopt;
      }
    }
  }
  return std::nullopt;
}

std::optional<double> count_open_fds() {
  std::error_code error;
  std::filesystem::directory_iterator it("/proc/self/fd", error);
  if (error) return std::nullopt;
  double count = 0;
  for (; it != std::filesystem::directory_iterator(); it.increment(error)) {
    if (error) return std::nullopt;
    ++count;
  }
  return count;
}

}  // namespace

std::optional<ProcessStats> parse_proc_stat(const std::string& stat_text, double clock_ticks,
                                            double page_size, double boot_time_seconds) {
  // "pid (comm) state ppid ...": comm may hold spaces and parentheses, so the
  // fields start after the last ')'.
  size_t close = stat_text.rfind(')');
  if (close == std::string::npos || clock_ticks <= 0) return std::nullopt;
  std::istringstream in(stat_text.substr(close + 1));
  std::vector<std::string> fields;  // fields[0] is field 3 of proc(5), "state"
  for (std::string field; in >> field;) fields.push_back(field);
  auto field = [&](int number) { return std::stod(fields.at(number - 3)); };
  try {
    ProcessStats stats;
    stats.cpu_seconds = (field(14) + field(15)) / clock_ticks;  // utime + stime
    stats.start_time_seconds = boot_time_seconds + field(22) / clock_ticks;
    stats.virtual_memory_bytes = field(23);
    stats.resident_memory_bytes = field(24) * page_size;
    return stats;
  } catch (const std::exception&) {  // out_of_range or a non-number
    return std::nullopt;
  }
}

std::optional<ProcessStats> read_process_stats() {
  std::optional<std::string> stat = read_file("/proc/self/stat");
  std::optional<double> boot_time = read_boot_time_seconds();
  if (!stat || !boot_time) return std::nullopt;
  std::optional<ProcessStats> stats =
      parse_proc_stat(*stat, static_cast<double>(sysconf(_SC_CLK_TCK)),
                      static_cast<double>(sysconf(_SC_PAGESIZE)), *boot_time);
  if (!stats) return std::nullopt;
  std::optional<double> open_fds = count_open_fds();
  if (!open_fds) return std::nullopt;
  stats->open_fds = *open_fds;
  rlimit limit{};
  if (getrlimit(RLIMIT_NOFILE, &limit) != 0) return std::nullopt;
  stats->max_fds = static_cast<double>(limit.rlim_cur);
  return stats;
}

void register_process_metrics(MetricsRegistry& registry) {
  Counter& cpu =
      registry
          .counter("process_cpu_seconds_total", "Total user and system CPU time spent in seconds.")
          .with();
  Gauge& open_fds = registry.gauge("process_open_fds", "Number of open file descriptors.").with();
  Gauge& max_fds =
      registry.gauge("process_max_fds", "Maximum number of open file descriptors.").with();
  Gauge& virtual_memory =
      registry.gauge("process_virtual_memory_bytes", "Virtual memory size in bytes.").with();
  Gauge& resident_memory =
      registry.gauge("process_resident_memory_bytes", "Resident memory size in bytes.").with();
  Gauge& start_time = registry
                          .gauge("process_start_time_seconds",
                                 "Start time of the process since unix epoch in seconds.")
                          .with();
  registry.add_collect_hook([&] {
    std::optional<ProcessStats> stats = read_process_stats();
    if (!stats) return;
    cpu.set_total(stats->cpu_seconds);
    open_fds.set(stats->open_fds);
    max_fds.set(stats->max_fds);
    virtual_memory.set(stats->virtual_memory_bytes);
    resident_memory.set(stats->resident_memory_bytes);
    start_time.set(stats->start_time_seconds);
  });
}

}  // namespace infini::server
