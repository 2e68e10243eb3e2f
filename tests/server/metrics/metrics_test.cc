#include "server/metrics/metrics.h"

#include <gtest/gtest.h>
#include <sys/wait.h>

#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <map>
#include <sstream>
#include <stdexcept>
#include <string>
#include <vector>

#include "server/metrics/process_metrics.h"

namespace infini::server {
namespace {

// sample ("name{labels}") -> value, for every sample line of a render.
std::map<std::string, double> parse_samples(const std::string& text) {
  std::map<std::string, double> samples;
  std::istringstream in(text);
  for (std::string line; std::getline(in, line);) {
    if (line.empty() || line[0] == '#') continue;
    size_t space = line.rfind(' ');
    samples[line.substr(0, space)] = std::strtod(line.c_str() + space + 1, nullptr);
  }
  return samples;
}

// The samples a call moved, with how much; process_* change on their own.
std::map<std::string, double> changes(const std::string& before, const std::string& after) {
  std::map<std::string, double> old_samples = parse_samples(before);
  std::map<std::string, double> delta;
  for (const auto& [key, value] : parse_samples(after)) {
    if (key.starts_with("process_")) continue;
    double d = value - (old_samples.count(key) ? old_samples[key] : 0.0);
    if (d != 0) delta[key] = d;
  }
  return delta;
}

// The _bucket/_sum/_count deltas of `count` observations of `value`.
void expect_observed(std::map<std::string, double>& expected, const std::string& name,
                     const std::string& labels, const std::vector<double>& bounds, double value,
                     double count) {
  const std::string prefix = labels.empty() ? "" : labels + ",";
  for (double bound : bounds) {
    if (value <= bound) {
      std::ostringstream le;
      le << bound;
      expected[name + "_bucket{" + prefix + "le=\"" + le.str() + "\"}"] = count;
    }
  }
  expected[name + "_bucket{" + prefix + "le=\"+Inf\"}"] = count;
  const std::string braces = labels.empty() ? "" : "{" + labels + "}";
  expected[name + "_sum" + braces] = value * count;
  expected[name + "_count" + braces] = count;
}

void expect_changes(const std::map<std::string, double>& actual,
                    const std::map<std::string, double>& expected) {
  for (const auto& [key, value] : expected) {
    auto it = actual.find(key);
    if (it == actual.end()) {
      ADD_FAILURE() << "expected " << key << " to move by " << value << "; it did not";
    } else {
      EXPECT_NEAR(it->second, value, 1e-9) << key;
    }
  }
  for (const auto& [key, value] : actual) {
    EXPECT_TRUE(expected.count(key)) << "unexpected change: " << key << " by " << value;
  }
}

const std::vector<double> kRequestBuckets = {
    0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 25, 50, 100, 300};
const std::vector<double> kSegmentBuckets = {0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005,
                                             0.01,   0.025,   0.05,   0.1,   0.25,   0.5,
                                             1,      2.5,     5,      10};
const std::vector<double> kTtftBuckets = {0.001, 0.005, 0.01, 0.02, 0.04, 0.06, 0.08, 0.1,
                                          0.25,  0.5,   0.75, 1.0,  2.5,  5.0,  7.5,  10.0,
                                          20,    40,    80,   160,  640,  2560};
const std::vector<double> kTpotBuckets = {0.01, 0.025, 0.05, 0.075, 0.1, 0.15, 0.2, 0.3, 0.4, 0.5,
                                          0.75, 1.0,   2.5,  5,     7.5, 10,   20,  40,  80};

TEST(ServerMetricsTest, ExposesTheContractFamilies) {
  // These names are what the Grafana dashboard queries: renaming one is a
  // breaking change.
  ServerMetrics metrics;
  metrics.record_rpc("Ingest", "OK", 0.01);  // labelled families appear once used
  std::vector<std::string> types;
  std::istringstream in(metrics.render());
  for (std::string line; std::getline(in, line);) {
    if (line.starts_with("# TYPE ")) types.push_back(line.substr(7));
  }
  EXPECT_EQ(types, (std::vector<std::string>{
                       "infini_rpc_requests_total counter",
                       "infini_rpc_duration_seconds histogram",
                       "infini_ingested_tokens_total counter",
                       "infini_ingest_chunks_total counter",
                       "infini_ingest_chunk_duration_seconds histogram",
                       "infini_segments_folded_total counter",
                       "infini_segment_fold_duration_seconds histogram",
                       "infini_generated_tokens_total counter",
                       "infini_generation_requests_total counter",
                       "infini_time_to_first_token_seconds histogram",
                       "infini_time_per_output_token_seconds histogram",
                       "infini_sessions_active gauge",
                       "infini_state_bytes gauge",
                       "infini_kv_equivalent_bytes gauge",
                       "infini_compression_ratio gauge",
                       "infini_queue_depth gauge",
                       "infini_requests_in_flight gauge",
                       "infini_queue_capacity gauge",
                       "infini_sessions_limit gauge",
                       "infini_state_bytes_limit gauge",
                       "infini_limit_hits_total counter",
                       "infini_auth_failures_total counter",
                       "infini_streams_open gauge",
                       "infini_streams_limit gauge",
                       "infini_sessions_evicted gauge",
                       "infini_session_evictions_total counter",
                       "infini_session_reloads_total counter",
                       "infini_session_reload_duration_seconds histogram",
                       "process_cpu_seconds_total counter",
                       "process_open_fds gauge",
                       "process_max_fds gauge",
                       "process_virtual_memory_bytes gauge",
                       "process_resident_memory_bytes gauge",
                       "process_start_time_seconds gauge",
                   }));
}

TEST(ServerMetricsTest, FullRenderPassesPromtool) {
  const char* promtool = "/usr/bin/promtool";
  if (!std::filesystem::exists(promtool)) {
    FAIL() << promtool << " not found: scripts/install-deps installs the `prometheus` package";
  }
  ServerMetrics metrics;
  metrics.record_rpc("Ingest", "OK", 0.2);
  metrics.record_rpc("Ask", "NOT_FOUND", 0.0005);
  metrics.record_rpc("Ask \"quoted\"\\\n", "OK", 1e-7);  // escaping must survive promtool
  metrics.record_ingest_chunk(512, 0.03);
  metrics.record_segment_folds(4, 0.02);
  metrics.record_generation(0.3, 11, 1.0);
  metrics.set_queue_depth(2);
  metrics.add_in_flight(1);
  metrics.set_session_totals_source([] { return ServerMetrics::SessionTotals{3, 1000, 123457}; });
  const std::string text = metrics.render();

  std::filesystem::path file = std::filesystem::temp_directory_path() /
                               ("infini_metrics_" + std::to_string(getpid()) + ".txt");
  std::ofstream(file) << text;
  const std::string command =
      std::string(promtool) + " check metrics < '" + file.string() + "' 2>&1";
  FILE* pipe = popen(command.c_str(), "r");
  ASSERT_NE(pipe, nullptr) << "popen failed: " << command;
  std::string output;
  char buffer[4096];
  for (size_t n; (n = fread(buffer, 1, sizeof(buffer), pipe)) > 0;) output.append(buffer, n);
  int status = pclose(pipe);
  std::filesystem::remove(file);
  ASSERT_TRUE(WIFEXITED(status)) << "promtool did not exit normally:\n" << output;
  EXPECT_EQ(WEXITSTATUS(status), 0) << "promtool check metrics failed:\n"
                                    << output << "\n--- rendered text ---\n"
                                    << text;
}

TEST(ServerMetricsTest, RecordRpcMovesItsSeriesOnly) {
  ServerMetrics metrics;
  std::string before = metrics.render();
  metrics.record_rpc("Ingest", "OK", 0.2);
  std::map<std::string, double> expected = {
      {"infini_rpc_requests_total{method=\"Ingest\",code=\"OK\"}", 1}};
  expect_observed(expected, "infini_rpc_duration_seconds", "method=\"Ingest\",code=\"OK\"",
                  kRequestBuckets, 0.2, 1);
  std::string after = metrics.render();
  expect_changes(changes(before, after), expected);

  metrics.record_rpc("Ingest", "OK", 500);  // beyond the last bound: +Inf only
  expected = {{"infini_rpc_requests_total{method=\"Ingest\",code=\"OK\"}", 1}};
  expect_observed(expected, "infini_rpc_duration_seconds", "method=\"Ingest\",code=\"OK\"",
                  kRequestBuckets, 500, 1);
  expect_changes(changes(after, metrics.render()), expected);
}

TEST(ServerMetricsTest, RecordIngestChunk) {
  ServerMetrics metrics;
  std::string before = metrics.render();
  metrics.record_ingest_chunk(512, 0.03);
  std::map<std::string, double> expected = {{"infini_ingested_tokens_total", 512},
                                            {"infini_ingest_chunks_total", 1}};
  expect_observed(expected, "infini_ingest_chunk_duration_seconds", "", kRequestBuckets, 0.03, 1);
  expect_changes(changes(before, metrics.render()), expected);
}

TEST(ServerMetricsTest, RecordSegmentFoldsObservesEachSegment) {
  ServerMetrics metrics;
  std::string before = metrics.render();
  metrics.record_segment_folds(4, 0.02);  // 5 ms per segment, observed 4 times
  std::map<std::string, double> expected = {{"infini_segments_folded_total", 4}};
  expect_observed(expected, "infini_segment_fold_duration_seconds", "", kSegmentBuckets, 0.005, 4);
  std::string after = metrics.render();
  expect_changes(changes(before, after), expected);
  metrics.record_segment_folds(0, 1.0);  // nothing folded: nothing moves
  expect_changes(changes(after, metrics.render()), {});
}

TEST(ServerMetricsTest, RecordGeneration) {
  ServerMetrics metrics;
  std::string before = metrics.render();
  // 11 tokens: the first after 0.3 s, the other 10 in 1 s (0.1 s each).
  metrics.record_generation(0.3, 11, 1.0);
  std::map<std::string, double> expected = {{"infini_generation_requests_total", 1},
                                            {"infini_generated_tokens_total", 11}};
  expect_observed(expected, "infini_time_to_first_token_seconds", "", kTtftBuckets, 0.3, 1);
  expect_observed(expected, "infini_time_per_output_token_seconds", "", kTpotBuckets, 0.1, 10);
  std::string after = metrics.render();
  expect_changes(changes(before, after), expected);

  // No token produced: a request, but no time to first token.
  metrics.record_generation(0.0, 0, 0.0);
  expect_changes(changes(after, metrics.render()), {{"infini_generation_requests_total", 1}});
}

TEST(ServerMetricsTest, QueueDepthAndInFlight) {
  ServerMetrics metrics;
  std::string before = metrics.render();
  metrics.set_queue_depth(7);
  metrics.add_in_flight(3);
  metrics.add_in_flight(-1);
  expect_changes(changes(before, metrics.render()),
                 {{"infini_queue_depth", 7}, {"infini_requests_in_flight", 2}});
}

TEST(ServerMetricsTest, LimitsAreExportedAsSet) {
  ServerMetrics metrics;
  std::string before = metrics.render();
  metrics.set_limits({.queue_capacity = 64, .max_sessions = 10, .max_state_bytes = 1 << 20});
  expect_changes(changes(before, metrics.render()),
                 {{"infini_queue_capacity", 64},
                  {"infini_sessions_limit", 10},
                  {"infini_state_bytes_limit", 1 << 20}});
}

TEST(ServerMetricsTest, SessionTotalsAreReadAtRenderTime) {
  ServerMetrics metrics;
  ServerMetrics::SessionTotals totals{2, 4096, 409600};
  bool fail = false;
  metrics.set_session_totals_source([&] {
    if (fail) throw std::runtime_error("session manager gone");
    return totals;
  });
  auto samples = parse_samples(metrics.render());
  EXPECT_EQ(samples["infini_sessions_active"], 2);
  EXPECT_EQ(samples["infini_state_bytes"], 4096);
  EXPECT_EQ(samples["infini_kv_equivalent_bytes"], 409600);
  EXPECT_EQ(samples["infini_compression_ratio"], 100);

  totals = {0, 0, 0};
  samples = parse_samples(metrics.render());
  EXPECT_EQ(samples["infini_sessions_active"], 0);
  EXPECT_EQ(samples["infini_compression_ratio"], 0);  // no state: 0, not NaN

  // Evicted sessions hold their state on disk: the ratio is over every
  // session's state (4 sessions of 1024 bytes, 1 in memory), not only the
  // resident ones, so eviction does not make it look higher.
  totals = {4, 1024, 409600, 3};
  samples = parse_samples(metrics.render());
  EXPECT_EQ(samples["infini_compression_ratio"], 100);

  totals = {1, 10, 25};
  metrics.render();
  fail = true;  // a failing source keeps the last values and does not fail the scrape
  samples = parse_samples(metrics.render());
  EXPECT_EQ(samples["infini_sessions_active"], 1);
  EXPECT_EQ(samples["infini_compression_ratio"], 2.5);
}

TEST(ServerMetricsTest, ProcessMetricsAreRead) {
  ServerMetrics metrics;
  auto samples = parse_samples(metrics.render());
  EXPECT_GT(samples["process_resident_memory_bytes"], 0);
  EXPECT_GE(samples["process_virtual_memory_bytes"], samples["process_resident_memory_bytes"]);
  EXPECT_GT(samples["process_open_fds"], 0);
  EXPECT_GE(samples["process_max_fds"], samples["process_open_fds"]);
  EXPECT_GE(samples["process_cpu_seconds_total"], 0);
  // Started within the last day and not in the future.
  const double now = static_cast<double>(std::time(nullptr));
  EXPECT_LE(samples["process_start_time_seconds"], now + 1);
  EXPECT_GT(samples["process_start_time_seconds"], now - 86400);
}

TEST(ProcessMetricsTest, ParsesProcStatWithAwkwardCommand) {
  // comm may contain spaces and ')': fields start after the last ')'.
  // Fields 14/15 utime/stime = 250/50 ticks, 22 starttime = 1000 ticks,
  // 23 vsize = 8192000 bytes, 24 rss = 300 pages.
  const std::string stat =
      "1234 (infini ) server) S 1 1234 1234 0 -1 4194560 100 0 0 0 250 50 0 0 20 0 4 0 1000 "
      "8192000 300 18446744073709551615 1 1 0 0 0 0 0 0 0 0 0 0 17 3 0 0 0 0 0";
  std::optional<ProcessStats> stats = parse_proc_stat(stat, 100, 4096, 1.7e9);
  ASSERT_TRUE(stats.has_value());
  EXPECT_DOUBLE_EQ(stats->cpu_seconds, 3.0);
  EXPECT_DOUBLE_EQ(stats->start_time_seconds, 1.7e9 + 10.0);
  EXPECT_DOUBLE_EQ(stats->virtual_memory_bytes, 8192000);
  EXPECT_DOUBLE_EQ(stats->resident_memory_bytes, 300.0 * 4096);
  EXPECT_FALSE(parse_proc_stat("1234 (truncated) S 1 2", 100, 4096, 0).has_value());
  EXPECT_FALSE(parse_proc_stat("garbage", 100, 4096, 0).has_value());
}

}  // namespace
}  // namespace infini::server
