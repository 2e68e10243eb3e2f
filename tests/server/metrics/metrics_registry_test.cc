#include "server/metrics/metrics_registry.h"

#include <gtest/gtest.h>

#include <cmath>
#include <limits>
#include <stdexcept>
#include <thread>
#include <vector>

namespace infini::server {
namespace {

TEST(MetricsRegistryTest, RendersExactTextInRegistrationOrder) {
  MetricsRegistry registry;
  CounterFamily& requests =
      registry.counter("demo_requests_total", "Requests served.", {"method", "code"});
  Gauge& depth = registry.gauge("demo_queue_depth", "Waiting requests.").with();
  Histogram& latency = registry.histogram("demo_latency_seconds", "Latency.", {0.1, 1, 2.5}).with();
  registry.counter("demo_unused_total", "Never touched.", {"method"});  // no series: left out

  requests.with({"Ingest", "OK"}).inc();
  requests.with({"Ingest", "OK"}).inc(2);
  requests.with({"Ask", "NOT_FOUND"}).inc();
  depth.set(3);
  latency.observe(0.05);
  latency.observe(0.1);  // le is inclusive
  latency.observe(2);
  latency.observe(100);

  EXPECT_EQ(registry.render(),
            "# HELP demo_requests_total Requests served.\n"
            "# TYPE demo_requests_total counter\n"
            "demo_requests_total{method=\"Ask\",code=\"NOT_FOUND\"} 1\n"
            "demo_requests_total{method=\"Ingest\",code=\"OK\"} 3\n"
            "# HELP demo_queue_depth Waiting requests.\n"
            "# TYPE demo_queue_depth gauge\n"
            "demo_queue_depth 3\n"
            "# HELP demo_latency_seconds Latency.\n"
            "# TYPE demo_latency_seconds histogram\n"
            "demo_latency_seconds_bucket{le=\"0.1\"} 2\n"
            "demo_latency_seconds_bucket{le=\"1\"} 2\n"
            "demo_latency_seconds_bucket{le=\"2.5\"} 3\n"
            "demo_latency_seconds_bucket{le=\"+Inf\"} 4\n"
            "demo_latency_seconds_sum 102.15\n"
            "demo_latency_seconds_count 4\n");
}

TEST(MetricsRegistryTest, UnlabelledFamiliesRenderZeroBeforeFirstUse) {
  MetricsRegistry registry;
  registry.counter("a_total", "A.");
  registry.histogram("b_seconds", "B.", {1});
  EXPECT_EQ(registry.render(),
            "# HELP a_total A.\n# TYPE a_total counter\na_total 0\n"
            "# HELP b_seconds B.\n# TYPE b_seconds histogram\n"
            "b_seconds_bucket{le=\"1\"} 0\nb_seconds_bucket{le=\"+Inf\"} 0\n"
            "b_seconds_sum 0\nb_seconds_count 0\n");
}

TEST(MetricsRegistryTest, EscapesLabelValuesAndHelp) {
  MetricsRegistry registry;
  CounterFamily& family =
      registry.counter("escape_total", "Back\\slash and\nnewline \"quoted\".", {"path"});
  family.with({"C:\\dir \"x\"\nnext"}).inc();
  EXPECT_EQ(registry.render(),
            "# HELP escape_total Back\\\\slash and\\nnewline \"quoted\".\n"
            "# TYPE escape_total counter\n"
            "escape_total{path=\"C:\\\\dir \\\"x\\\"\\nnext\"} 1\n");
  EXPECT_EQ(escape_label_value("plain"), "plain");
  EXPECT_EQ(escape_label_value("a\\b\"c\nd"), "a\\\\b\\\"c\\nd");
}

TEST(MetricsRegistryTest, HistogramBucketsAreCumulative) {
  MetricsRegistry registry;
  Histogram& h = registry.histogram("h_seconds", "H.", {1, 2, 3}).with();
  for (double v : {0.5, 1.5, 1.5, 2.5, 2.5, 2.5, 10.0}) h.observe(v);
  h.observe_n(3.0, 4);  // on the bound: counts in le="3"
  Histogram::Snapshot s = h.snapshot();
  EXPECT_EQ(s.cumulative, (std::vector<uint64_t>{1, 3, 10, 11}));
  EXPECT_EQ(s.count, 11u);
  EXPECT_DOUBLE_EQ(s.sum, 0.5 + 3.0 + 7.5 + 10.0 + 12.0);
  h.observe(std::numeric_limits<double>::quiet_NaN());  // lands in +Inf only
  EXPECT_EQ(h.snapshot().cumulative, (std::vector<uint64_t>{1, 3, 10, 12}));
}

TEST(MetricsRegistryTest, FormatsNumbersForPromtool) {
  EXPECT_EQ(format_metric_value(0), "0");
  EXPECT_EQ(format_metric_value(-0.0), "0");
  EXPECT_EQ(format_metric_value(42), "42");
  EXPECT_EQ(format_metric_value(1e6), "1000000");
  EXPECT_EQ(format_metric_value(9007199254740992.0), "9007199254740992");
  EXPECT_EQ(format_metric_value(-3), "-3");
  EXPECT_EQ(format_metric_value(0.001), "0.001");
  EXPECT_EQ(format_metric_value(2.5), "2.5");
  EXPECT_EQ(format_metric_value(1e21), "1e+21");
  EXPECT_EQ(format_metric_value(std::numeric_limits<double>::infinity()), "+Inf");
  EXPECT_EQ(format_metric_value(-std::numeric_limits<double>::infinity()), "-Inf");
  EXPECT_EQ(format_metric_value(std::numeric_limits<double>::quiet_NaN()), "NaN");
  // Non-integers round-trip exactly.
  for (double v : {0.1, 1.0 / 3.0, 1e-7, 123456.789}) {
    EXPECT_EQ(std::stod(format_metric_value(v)), v) << format_metric_value(v);
  }
}

TEST(MetricsRegistryTest, ConcurrentUpdatesSumExactly) {
  MetricsRegistry registry;
  CounterFamily& family = registry.counter("c_total", "C.", {"worker"});
  Gauge& gauge = registry.gauge("g", "G.").with();
  Histogram& h = registry.histogram("h_seconds", "H.", {0.5}).with();
  constexpr int kThreads = 8;
  constexpr int kPerThread = 20000;
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      // Half the threads share one series, found through the family each time.
      for (int i = 0; i < kPerThread; ++i) {
        family.with({t % 2 == 0 ? "even" : std::to_string(t)}).inc();
        gauge.add(0.5);
        h.observe(0.25);
      }
    });
  }
  for (std::thread& t : threads) t.join();
  EXPECT_EQ(family.with({"even"}).value(), kThreads / 2 * kPerThread);
  EXPECT_EQ(family.with({"1"}).value(), kPerThread);
  EXPECT_EQ(gauge.value(), 0.5 * kThreads * kPerThread);
  Histogram::Snapshot s = h.snapshot();
  EXPECT_EQ(s.count, static_cast<uint64_t>(kThreads * kPerThread));
  EXPECT_EQ(s.cumulative[0], s.count);
  EXPECT_EQ(s.sum, 0.25 * kThreads * kPerThread);
}

TEST(MetricsRegistryTest, SeriesReferencesAreStable) {
  MetricsRegistry registry;
  CounterFamily& family = registry.counter("s_total", "S.", {"k"});
  Counter* first = &family.with({"a"});
  for (int i = 0; i < 1000; ++i) family.with({std::to_string(i)});
  EXPECT_EQ(first, &family.with({"a"}));
}

TEST(MetricsRegistryTest, CounterIgnoresNegativeIncrements) {
  MetricsRegistry registry;
  Counter& c = registry.counter("n_total", "N.").with();
  c.inc(2);
  c.inc(-1);
  c.inc(std::nan(""));
  EXPECT_EQ(c.value(), 2);
}

TEST(MetricsRegistryTest, RejectsBadNamesAndDuplicates) {
  MetricsRegistry registry;
  EXPECT_THROW(registry.counter("", "x"), std::invalid_argument);
  EXPECT_THROW(registry.counter("1abc_total", "x"), std::invalid_argument);
  EXPECT_THROW(registry.counter("has-dash_total", "x"), std::invalid_argument);
  EXPECT_THROW(registry.counter("has space", "x"), std::invalid_argument);
  EXPECT_THROW(registry.counter("rule:recorded", "x"), std::invalid_argument);
  EXPECT_THROW(registry.gauge("g", "x", {"bad-label"}), std::invalid_argument);
  EXPECT_THROW(registry.gauge("g", "x", {"__reserved"}), std::invalid_argument);
  EXPECT_THROW(registry.gauge("g", "x", {"a", "a"}), std::invalid_argument);
  EXPECT_THROW(registry.histogram("h", "x", {1}, {"le"}), std::invalid_argument);
  EXPECT_THROW(registry.histogram("h", "x", {2, 1}), std::invalid_argument);
  EXPECT_THROW(registry.histogram("h", "x", {1, 1}), std::invalid_argument);
  EXPECT_THROW(registry.histogram("h", "x", {1, std::numeric_limits<double>::infinity()}),
               std::invalid_argument);

  registry.counter("dup_total", "x");
  EXPECT_THROW(registry.counter("dup_total", "x"), std::invalid_argument);
  EXPECT_THROW(registry.gauge("dup_total", "x"), std::invalid_argument);
  registry.histogram("lat_seconds", "x", {1});
  EXPECT_THROW(registry.counter("lat_seconds_count", "x"), std::invalid_argument);
  EXPECT_THROW(registry.gauge("lat_seconds_bucket", "x"), std::invalid_argument);

  // Failed registrations leave nothing behind.
  registry.gauge("g", "x", {"label"});
  registry.histogram("h", "x", {1});

  CounterFamily& labelled = registry.counter("l_total", "x", {"a", "b"});
  EXPECT_THROW(labelled.with({"only one"}), std::invalid_argument);
  EXPECT_THROW(labelled.with({"1", "2", "3"}), std::invalid_argument);
}

TEST(MetricsRegistryTest, CollectHooksRunBeforeEachRender) {
  MetricsRegistry registry;
  Gauge& g = registry.gauge("hooked", "H.").with();
  int calls = 0;
  registry.add_collect_hook([&] { g.set(++calls); });
  EXPECT_NE(registry.render().find("hooked 1\n"), std::string::npos);
  EXPECT_NE(registry.render().find("hooked 2\n"), std::string::npos);
}

}  // namespace
}  // namespace infini::server
