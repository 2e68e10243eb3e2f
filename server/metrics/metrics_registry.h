// A small Prometheus registry: counter, gauge and histogram families with
// labels, rendered in the text exposition format 0.0.4.
//
// Families are registered once (names validated, duplicates rejected); a
// family's `with({label values})` returns a series that lives as long as the
// registry, so call sites look it up once and keep the reference. Updating a
// series is a handful of relaxed atomics: a request path never takes a lock
// beyond that first lookup.
#pragma once

#include <atomic>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <shared_mutex>
#include <string>
#include <string_view>
#include <vector>

namespace infini::server {

// A double that several threads add to without a lock.
class AtomicDouble {
 public:
  void add(double delta) {
    double current = value_.load(std::memory_order_relaxed);
    while (!value_.compare_exchange_weak(current, current + delta, std::memory_order_relaxed)) {
    }
  }
  void set(double value) { value_.store(value, std::memory_order_relaxed); }
  double get() const { return value_.load(std::memory_order_relaxed); }

 private:
  std::atomic<double> value_{0.0};
};

class Counter {
 public:
  // Negative or NaN increments are ignored: a counter only goes up.
  void inc(double delta = 1.0) {
    if (delta > 0) value_.add(delta);
  }
  // For counters that mirror a monotonic total kept elsewhere (process CPU
  // seconds) and are refreshed by a collect hook; never for request paths.
  void set_total(double total) { value_.set(total); }
  double value() const { return value_.get(); }

 private:
  AtomicDouble value_;
};

class Gauge {
 public:
  void set(double value) { value_.set(value); }
  void add(double delta) { value_.add(delta); }
  double value() const { return value_.get(); }

 private:
  AtomicDouble value_;
};

class Histogram {
 public:
  // `upper_bounds` finite and strictly increasing (checked by the registry);
  // the +Inf bucket is implicit.
  explicit Histogram(std::shared_ptr<const std::vector<double>> upper_bounds);

  void observe(double value) { observe_n(value, 1); }
  // `count` observations of the same value in O(1): per-segment or per-token
  // timings measured as one total over many items.
  void observe_n(double value, uint64_t count);

  struct Snapshot {
    std::vector<uint64_t> cumulative;  // one per upper bound, then +Inf
    double sum = 0;
    uint64_t count = 0;  // always equals the +Inf bucket
  };
  Snapshot snapshot() const;

 private:
  std::shared_ptr<const std::vector<double>> upper_bounds_;
  // Non-cumulative per-bucket counts; the last one is +Inf.
  std::unique_ptr<std::atomic<uint64_t>[]> buckets_;
  AtomicDouble sum_;
};

enum class MetricType { kCounter, kGauge, kHistogram };

// One metric family: a name, help text, label names, and its series keyed by
// label values. Series are created on first use and never removed.
template <typename S>
class Family {
 public:
  // The series for these label values (one per label name, in order),
  // created on first use. The reference stays valid for the registry's life.
  // Throws std::invalid_argument on the wrong number of values.
  S& with(const std::vector<std::string>& label_values = {});

  const std::string& name() const { return name_; }
  const std::vector<std::string>& label_names() const { return label_names_; }

 private:
  friend class MetricsRegistry;
  Family(std::string name, std::vector<std::string> label_names,
         std::vector<double> upper_bounds = {})
      : name_(std::move(name)),
        label_names_(std::move(label_names)),
        upper_bounds_(std::make_shared<const std::vector<double>>(std::move(upper_bounds))) {}

  std::unique_ptr<S> make_series() const;
  // Visits series in label-value order, under a shared lock.
  void for_each(const std::function<void(const std::vector<std::string>&, const S&)>& f) const;

  std::string name_;
  std::vector<std::string> label_names_;
  std::shared_ptr<const std::vector<double>> upper_bounds_;  // histograms only
  mutable std::shared_mutex mutex_;
  std::map<std::vector<std::string>, std::unique_ptr<S>> series_;
};

using CounterFamily = Family<Counter>;
using GaugeFamily = Family<Gauge>;
using HistogramFamily = Family<Histogram>;

class MetricsRegistry {
 public:
  MetricsRegistry() = default;
  MetricsRegistry(const MetricsRegistry&) = delete;
  MetricsRegistry& operator=(const MetricsRegistry&) = delete;

  // Register a family. Metric names match [a-zA-Z_][a-zA-Z0-9_]* (no colons:
  // those belong to recording rules); label names match [a-zA-Z_][a-zA-Z0-9_]*,
  // do not start with "__", are unique, and a histogram may not use "le".
  // A name (or a histogram's _bucket/_sum/_count) already exposed throws
  // std::invalid_argument. A family without labels gets its single series
  // now, so it is exposed (as 0) from the first scrape.
  CounterFamily& counter(const std::string& name, const std::string& help,
                         const std::vector<std::string>& label_names = {});
  GaugeFamily& gauge(const std::string& name, const std::string& help,
                     const std::vector<std::string>& label_names = {});
  HistogramFamily& histogram(const std::string& name, const std::string& help,
                             const std::vector<double>& upper_bounds,
                             const std::vector<std::string>& label_names = {});

  // Run at the start of every render(), in the order added: refreshes values
  // that live elsewhere (session totals, /proc). Renders are serialised, so a
  // hook never runs concurrently with itself.
  void add_collect_hook(std::function<void()> hook);

  // Text exposition format 0.0.4: families in registration order, series in
  // label-value order. A labelled family with no series yet is left out.
  std::string render();

 private:
  struct Entry {
    MetricType type;
    std::string help;
    std::unique_ptr<CounterFamily> counter;
    std::unique_ptr<GaugeFamily> gauge;
    std::unique_ptr<HistogramFamily> histogram;
  };
  void reserve_names(MetricType type, const std::string& name,
                     const std::vector<std::string>& label_names);
  // Files a family whose names are reserved, in `slot` of a new entry; one
  // without labels gets its single series now. Call with mutex_ held.
  template <typename F>
  F& add(MetricType type, const std::string& help, std::unique_ptr<F> Entry::*slot,
         std::unique_ptr<F> family);

  std::mutex mutex_;         // families_, exposed_names_
  std::mutex render_mutex_;  // serialises render() and its hooks
  std::vector<std::unique_ptr<Entry>> families_;
  std::vector<std::string> exposed_names_;
  std::vector<std::function<void()>> hooks_;
};

// Exposition helpers, public for tests.
// Shortest text that parses back to `value`: integers without an exponent
// where exact, "+Inf", "-Inf", "NaN".
std::string format_metric_value(double value);
// Label value escaping: backslash, double quote, newline.
std::string escape_label_value(std::string_view value);
// HELP text escaping: backslash, newline.
std::string escape_help(std::string_view help);

}  // namespace infini::server
