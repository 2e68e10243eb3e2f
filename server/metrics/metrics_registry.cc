#include "server/metrics/metrics_registry.h"

#include <algorithm>
#include <charconv>
#include <cmath>
#include <stdexcept>

namespace infini::server {
namespace {

bool is_name_start(char c) { return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_'; }
bool is_name_char(char c) { return is_name_start(c) || (c >= '0' && c <= '9'); }

bool is_valid_name(const std::string& name) {
  if (name.empty() || !is_name_start(name[0])) return false;
  return std::all_of(name.begin(), name.end(), is_name_char);
}

void check_metric_name(const std::string& name) {
  if (!is_valid_name(name)) {
    throw std::invalid_argument("invalid metric name '" + name +
                                "': must match [a-zA-Z_][a-zA-Z0-9_]*");
  }
}

void check_label_names(const std::string& metric, const std::vector<std::string>& label_names,
                       bool histogram) {
  for (size_t i = 0; i < label_names.size(); ++i) {
    const std::string& label = label_names[i];
    if (!is_valid_name(label)) {
      throw std::invalid_argument("metric '" + metric + "': invalid label name '" + label +
                                  "': must match [a-zA-Z_][a-zA-Z0-9_]*");
    }
    if (label.starts_with("__")) {
      throw std::invalid_argument("metric '" + metric + "': label name '" + label +
                                  "' is reserved (leading \"__\")");
    }
    if (histogram && label == "le") {
      throw std::invalid_argument("histogram '" + metric + "': label name 'le' is reserved");
    }
    for (size_t j = 0; j < i; ++j) {
      if (label_names[j] == label) {
        throw std::invalid_argument("metric '" + metric + "': duplicate label name '" + label +
                                    "'");
      }
    }
  }
}

void check_upper_bounds(const std::string& metric, const std::vector<double>& bounds) {
  for (size_t i = 0; i < bounds.size(); ++i) {
    if (!std::isfinite(bounds[i])) {
      throw std::invalid_argument("histogram '" + metric +
                                  "': bucket bounds must be finite (+Inf is implicit)");
    }
    if (i > 0 && !(bounds[i] > bounds[i - 1])) {
      throw std::invalid_argument("histogram '" + metric +
                                  "': bucket bounds must be strictly increasing");
    }
  }
}

const char* type_name(MetricType type) {
  switch (type) {
    case MetricType::kCounter:
      return "counter";
    case MetricType::kGauge:
      return "gauge";
    case MetricType::kHistogram:
      return "histogram";
  }
  return "untyped";
}

// `{a="x",b="y"` without the closing brace, or "" when there are no labels
// and no extra label will follow.
void append_labels(std::string& out, const std::vector<std::string>& names,
                   const std::vector<std::string>& values, const std::string* le = nullptr) {
  if (names.empty() && le == nullptr) return;
  out += '{';
  for (size_t i = 0; i < names.size(); ++i) {
    if (i > 0) out += ',';
    out += names[i];
    out += "=\"";
    out += escape_label_value(values[i]);
    out += '"';
  }
  if (le != nullptr) {
    if (!names.empty()) out += ',';
    out += "le=\"";
    out += *le;
    out += '"';
  }
  out += '}';
}

void append_sample(std::string& out, const std::string& name, const std::string& suffix,
                   const std::vector<std::string>& label_names,
                   const std::vector<std::string>& label_values, double value,
                   const std::string* le = nullptr) {
  out += name;
  out += suffix;
  append_labels(out, label_names, label_values, le);
  out += ' ';
  out += format_metric_value(value);
  out += '\n';
}

}  // namespace

std::string format_metric_value(double value) {
  if (std::isnan(value)) return "NaN";
  if (std::isinf(value)) return value > 0 ? "+Inf" : "-Inf";
  // Exact integers (counts, bytes) print as integers, never as 1e+06.
  constexpr double kExactIntegerLimit = 9007199254740992.0;  // 2^53
  if (value == std::trunc(value) && std::fabs(value) <= kExactIntegerLimit) {
    return std::to_string(static_cast<int64_t>(value));
  }
  char buffer[64];
  auto result = std::to_chars(buffer, buffer + sizeof(buffer), value);  // shortest round trip
  return std::string(buffer, result.ptr);
}

namespace {

// The exposition format's escapes: backslash and newline always, the double
// quote only inside a label value (HELP text is not quoted).
std::string escape(std::string_view text, bool quote) {
  std::string out;
  out.reserve(text.size());
  for (char c : text) {
    if (c == '\\') {
      out += "\\\\";
    } else if (c == '\n') {
      out += "\\n";
    } else if (c == '"' && quote) {
      out += "\\\"";
    } else {
      out += c;
    }
  }
  return out;
}

}  // namespace

std::string escape_label_value(std::string_view value) { return escape(value, true); }

std::string escape_help(std::string_view help) { return escape(help, false); }

// --- Histogram ---------------------------------------------------------------

Histogram::Histogram(std::shared_ptr<const std::vector<double>> upper_bounds)
    : upper_bounds_(std::move(upper_bounds)),
      buckets_(new std::atomic<uint64_t>[upper_bounds_->size() + 1]) {
  for (size_t i = 0; i <= upper_bounds_->size(); ++i) buckets_[i].store(0);
}

void Histogram::observe_n(double value, uint64_t count) {
  if (count == 0) return;
  const std::vector<double>& bounds = *upper_bounds_;
  // First bound >= value (Prometheus buckets are "less than or equal");
  // NaN compares false everywhere and lands in +Inf, as in client_golang.
  size_t index = std::lower_bound(bounds.begin(), bounds.end(), value) - bounds.begin();
  if (std::isnan(value)) index = bounds.size();
  buckets_[index].fetch_add(count, std::memory_order_relaxed);
  sum_.add(value * static_cast<double>(count));
}

Histogram::Snapshot Histogram::snapshot() const {
  Snapshot snapshot;
  snapshot.cumulative.resize(upper_bounds_->size() + 1);
  uint64_t running = 0;
  for (size_t i = 0; i <= upper_bounds_->size(); ++i) {
    running += buckets_[i].load(std::memory_order_relaxed);
    snapshot.cumulative[i] = running;
  }
  // _count is the +Inf bucket by construction, so the two never disagree
  // even while observations race with a scrape.
  snapshot.count = running;
  snapshot.sum = sum_.get();
  return snapshot;
}

// --- Family ------------------------------------------------------------------

template <>
std::unique_ptr<Counter> Family<Counter>::make_series() const {
  return std::make_unique<Counter>();
}
template <>
std::unique_ptr<Gauge> Family<Gauge>::make_series() const {
  return std::make_unique<Gauge>();
}
template <>
std::unique_ptr<Histogram> Family<Histogram>::make_series() const {
  return std::make_unique<Histogram>(upper_bounds_);
}

template <typename S>
S& Family<S>::with(const std::vector<std::string>& label_values) {
  if (label_values.size() != label_names_.size()) {
    throw std::invalid_argument("metric '" + name_ + "' takes " +
                                std::to_string(label_names_.size()) + " label value(s), got " +
                                std::to_string(label_values.size()));
  }
  {
    std::shared_lock lock(mutex_);
    auto it = series_.find(label_values);
    if (it != series_.end()) return *it->second;
  }
  std::unique_lock lock(mutex_);
  auto [it, inserted] = series_.try_emplace(label_values);
  if (inserted) it->second = make_series();
  return *it->second;
}

template <typename S>
void Family<S>::for_each(
    const std::function<void(const std::vector<std::string>&, const S&)>& f) const {
  std::shared_lock lock(mutex_);
  for (const auto& [values, series] : series_) f(values, *series);
}

template class Family<Counter>;
template class Family<Gauge>;
template class Family<Histogram>;

// --- MetricsRegistry ---------------------------------------------------------

void MetricsRegistry::reserve_names(MetricType type, const std::string& name,
                                    const std::vector<std::string>& label_names) {
  check_metric_name(name);
  check_label_names(name, label_names, type == MetricType::kHistogram);
  std::vector<std::string> names = {name};
  if (type == MetricType::kHistogram) {
    names.push_back(name + "_bucket");
    names.push_back(name + "_sum");
    names.push_back(name + "_count");
  }
  for (const std::string& n : names) {
    if (std::find(exposed_names_.begin(), exposed_names_.end(), n) != exposed_names_.end()) {
      throw std::invalid_argument("metric '" + name + "': name '" + n + "' is already registered");
    }
  }
  exposed_names_.insert(exposed_names_.end(), names.begin(), names.end());
}

template <typename F>
F& MetricsRegistry::add(MetricType type, const std::string& help, std::unique_ptr<F> Entry::*slot,
                        std::unique_ptr<F> family) {
  F& added = *family;
  if (added.label_names().empty()) added.with();
  auto entry = std::make_unique<Entry>();
  entry->type = type;
  entry->help = help;
  (*entry).*slot = std::move(family);
  families_.push_back(std::move(entry));
  return added;
}

CounterFamily& MetricsRegistry::counter(const std::string& name, const std::string& help,
                                        const std::vector<std::string>& label_names) {
  std::lock_guard lock(mutex_);
  reserve_names(MetricType::kCounter, name, label_names);
  return add(MetricType::kCounter, help, &Entry::counter,
             std::unique_ptr<CounterFamily>(new CounterFamily(name, label_names)));
}

GaugeFamily& MetricsRegistry::gauge(const std::string& name, const std::string& help,
                                    const std::vector<std::string>& label_names) {
  std::lock_guard lock(mutex_);
  reserve_names(MetricType::kGauge, name, label_names);
  return add(MetricType::kGauge, help, &Entry::gauge,
             std::unique_ptr<GaugeFamily>(new GaugeFamily(name, label_names)));
}

HistogramFamily& MetricsRegistry::histogram(const std::string& name, const std::string& help,
                                            const std::vector<double>& upper_bounds,
                                            const std::vector<std::string>& label_names) {
  std::lock_guard lock(mutex_);
  check_metric_name(name);
  check_upper_bounds(name, upper_bounds);
  reserve_names(MetricType::kHistogram, name, label_names);
  return add(MetricType::kHistogram, help, &Entry::histogram,
             std::unique_ptr<HistogramFamily>(new HistogramFamily(name, label_names, upper_bounds)));
}

void MetricsRegistry::add_collect_hook(std::function<void()> hook) {
  std::lock_guard lock(render_mutex_);
  hooks_.push_back(std::move(hook));
}

std::string MetricsRegistry::render() {
  std::lock_guard render_lock(render_mutex_);
  for (const auto& hook : hooks_) hook();

  // Entries are never removed and their addresses are stable, so the list
  // can be copied and rendered without holding the registration lock.
  std::vector<const Entry*> entries;
  {
    std::lock_guard lock(mutex_);
    entries.reserve(families_.size());
    for (const auto& entry : families_) entries.push_back(entry.get());
  }

  // A counter's or a gauge's samples: one value per series.
  const auto append_values = [](const auto& family, std::string& body, std::string& name) {
    name = family.name();
    family.for_each([&](const std::vector<std::string>& values, const auto& series) {
      append_sample(body, name, "", family.label_names(), values, series.value());
    });
  };
  std::string out;
  for (const Entry* entry : entries) {
    std::string body;
    std::string name;
    switch (entry->type) {
      case MetricType::kCounter:
        append_values(*entry->counter, body, name);
        break;
      case MetricType::kGauge:
        append_values(*entry->gauge, body, name);
        break;
      case MetricType::kHistogram: {
        const HistogramFamily& family = *entry->histogram;
        name = family.name();
        const std::vector<double>& bounds = *family.upper_bounds_;
        std::vector<std::string> le_text;
        for (double bound : bounds) le_text.push_back(format_metric_value(bound));
        le_text.push_back("+Inf");
        family.for_each([&](const std::vector<std::string>& values, const Histogram& h) {
          Histogram::Snapshot s = h.snapshot();
          for (size_t i = 0; i < le_text.size(); ++i) {
            append_sample(body, name, "_bucket", family.label_names(), values,
                          static_cast<double>(s.cumulative[i]), &le_text[i]);
          }
          append_sample(body, name, "_sum", family.label_names(), values, s.sum);
          append_sample(body, name, "_count", family.label_names(), values,
                        static_cast<double>(s.count));
        });
        break;
      }
    }
    if (body.empty()) continue;
    out += "# HELP " + name + " " + escape_help(entry->help) + "\n";
    out += "# TYPE " + name + " " + type_name(entry->type) + "\n";
    out += body;
  }
  return out;
}

}  // namespace infini::server
