// The observability stack of #5 run for real, without Docker: the real
// infini-server, a real Prometheus scraping it with (a loopback copy of)
// deploy/prometheus/prometheus.yml and evaluating deploy/prometheus/alerts.yml,
// and traffic from the client library. Every query of every panel of the
// Grafana dashboard and the signal of every alert rule must return data
// from Prometheus's HTTP API, the target must be up, every rule healthy, and
// the server-down alert must go off when the server stops.
//
// With INFINI_DASHBOARD_DUMP=DIR the test also writes, for every dashboard
// query, Prometheus's query_range answer over the traffic window (step 1 s)
// to DIR/<panel id>-<refId>.json, and the dashboard to DIR/dashboard.json,
// for a script to plot.
#include <deque>

#include "tests/e2e/e2e_support.h"
#include "tests/e2e/prometheus_process.h"

namespace infini::e2e {
namespace {

// Long enough for rate() over a few scrapes (every second here) to see
// every counter move. INFINI_DASHBOARD_SECONDS makes it longer for the
// picture scripts/render-dashboard draws from INFINI_DASHBOARD_DUMP.
std::chrono::seconds traffic_duration() {
  const char* text = std::getenv("INFINI_DASHBOARD_SECONDS");
  const int seconds = text != nullptr ? std::atoi(text) : 0;
  return std::chrono::seconds(seconds > 12 ? seconds : 12);
}

// Work of every kind from a background thread until stopped: sessions
// ingested in several chunks, asks and summaries of a few tokens, forks,
// lists, deletes, and two kinds of failed call, each round repeating all
// of them so that every labelled series keeps moving.
class Traffic {
 public:
  explicit Traffic(const ServerProcess& server)
      : client_(server.channel(), client::ClientOptions{.call_timeout = 30s}),
        thread_([this] { run(); }) {}
  ~Traffic() { stop(); }

  void stop() {
    stop_ = true;
    if (thread_.joinable()) thread_.join();
  }
  int rounds() const { return rounds_; }
  // The first call that should have worked and did not ("" when none).
  std::string unexpected_error() const {
    std::lock_guard lock(mutex_);
    return unexpected_;
  }

 private:
  void run() {
    std::deque<std::string> sessions;
    client::GenerationParams params;
    params.max_tokens = 6;
    params.stop = {kNeverStop};
    for (int round = 0; !stop_; ++round) {
      try {
        client::IngestOptions options;
        options.chunk_bytes = 700;
        options.labels = {{"source", "prometheus-stack-test"}};
        const auto ingested = client_.ingest(make_document(2500, round), options);
        const std::string id = ingested.session().id();
        sessions.push_back(id);
        client::IngestOptions more;
        more.session_id = id;
        client_.ingest("And a little more text for the same session. ", more);
        client_.ask(id, "What is the document about?", params);
        client_.summarize(id, params);
        client_.get_session(id);
        client_.list_sessions(10);
        const auto fork = client_.fork_session(id);
        client_.delete_session(fork.id());
        // An empty session, kept for a round like the others.
        if (!empty_.empty()) client_.delete_session(empty_);
        empty_ = client_.create_session().id();
        while (sessions.size() > 3) {
          client_.delete_session(sessions.front());
          sessions.pop_front();
        }
      } catch (const std::exception& e) {
        std::lock_guard lock(mutex_);
        if (unexpected_.empty()) unexpected_ = e.what();
      }
      // Failures, for the error ratio and the code label.
      try {
        client_.ask("no-such-session", "Why?", params);
      } catch (const std::exception&) {
      }
      try {
        client_.get_session("");
      } catch (const std::exception&) {
      }
      ++rounds_;
      std::this_thread::sleep_for(100ms);  // a shared machine: leave it some air
    }
  }

  client::InfiniClient client_;
  std::atomic<bool> stop_{false};
  std::atomic<int> rounds_{0};
  mutable std::mutex mutex_;
  std::string unexpected_;
  std::string empty_;
  std::thread thread_;  // last: starts once everything above exists
};

// Polls `ready` every 200 ms until it is true or `timeout` passes.
bool poll(const std::function<bool()>& ready, std::chrono::milliseconds timeout) {
  const auto end = std::chrono::steady_clock::now() + timeout;
  while (true) {
    if (ready()) return true;
    if (std::chrono::steady_clock::now() >= end) return false;
    std::this_thread::sleep_for(200ms);
  }
}

// The `infini` job's target from /api/v1/targets (null when absent).
Json infini_target(const PrometheusProcess& prometheus) {
  const Json targets = prometheus.get_json("/api/v1/targets")
                           .value(Json::json_pointer("/data/activeTargets"), Json::array());
  for (const Json& t : targets) {
    if (t.value(Json::json_pointer("/labels/job"), "") == "infini") return t;
  }
  return Json();
}

// A query's outcome: "" when it returned data, else what went wrong.
struct QueryOutcome {
  std::string problem;
  bool nan_only = false;
  size_t series = 0;
};

QueryOutcome check_query(const PrometheusProcess& prometheus, const std::string& expr) {
  QueryOutcome outcome;
  Json answer;
  try {
    answer = prometheus.query(expr);
  } catch (const std::exception& e) {
    outcome.problem = e.what();
    return outcome;
  }
  if (answer.value("status", "") != "success") {
    outcome.problem = answer.value("errorType", "") + ": " + answer.value("error", answer.dump());
    return outcome;
  }
  const Json& data = answer["data"];
  const std::string type = data.value("resultType", "");
  const Json& result = data["result"];
  if (type == "scalar" || type == "string") {
    outcome.series = 1;
    outcome.nan_only = result.is_array() && result.size() == 2 && result[1] == "NaN";
    return outcome;
  }
  if (!result.is_array() || result.empty()) {
    outcome.problem = "an empty result";
    return outcome;
  }
  outcome.series = result.size();
  outcome.nan_only = std::all_of(result.begin(), result.end(), [](const Json& s) {
    return s.contains("value") && s["value"][1] == "NaN";
  });
  return outcome;
}

// The value of a one-series instant query (NaN when it has no such answer).
double scalar_value(const PrometheusProcess& prometheus, const std::string& expr) {
  const Json answer = prometheus.query(expr);
  const Json result = answer.value(Json::json_pointer("/data/result"), Json());
  if (answer.value("status", "") != "success" || !result.is_array() || result.size() != 1) {
    return NAN;
  }
  return std::stod(result[0]["value"][1].get<std::string>());
}

void dump_dashboard_data(const PrometheusProcess& prometheus, const fs::path& dir, double start,
                         double end) {
  fs::create_directories(dir);
  fs::copy_file(dashboard_path(), dir / "dashboard.json", fs::copy_options::overwrite_existing);
  for (const auto& q : dashboard_queries(load_dashboard())) {
    const Json answer = prometheus.query_range(with_rate_interval(q.expr), start, end, 1.0);
    std::ofstream(dir / (q.panel_id + "-" + q.ref_id + ".json")) << answer.dump() << "\n";
  }
  std::printf("dashboard data (%.0f s) written to %s\n", end - start, dir.c_str());
}

TEST(PrometheusStack, DashboardAndAlertQueriesReturnDataFromARealPrometheus) {
  ASSERT_TRUE(fs::exists(kPrometheusBinary))
      << missing_tool_message(kPrometheusBinary, "prometheus");
  const auto queries = dashboard_queries(load_dashboard());
  const auto rules = alert_rules(YAML::LoadFile(alerts_path().string()));
  ASSERT_FALSE(queries.empty()) << "the dashboard has no queries";
  ASSERT_FALSE(rules.empty()) << "alerts.yml has no alerting rules";

  // INFINI_DASHBOARD_MODEL: a real model for scripts/render-dashboard's
  // picture (the test's random checkpoint is tiny, so its compression is not
  // what a deployment shows).
  std::vector<std::string> server_args;
  if (const char* model = std::getenv("INFINI_DASHBOARD_MODEL"); model != nullptr && *model) {
    server_args = {"--model", model};
  }
  auto server = ServerProcess::start(server_args);
  TempDir config_dir("infini-e2e-prometheus-config");
  const fs::path config = write_test_prometheus_config(config_dir.path(), server->metrics_port());
  auto prometheus = PrometheusProcess::start(config);
  const auto test_start = std::chrono::steady_clock::now();
  const double traffic_start = unix_now();
  Traffic traffic(*server);

  // The target is scraped and up.
  Json target;
  const bool up = poll(
      [&] {
        target = infini_target(*prometheus);
        return target.is_object() && target.value("health", "") == "up";
      },
      15s);
  ASSERT_TRUE(up) << "Prometheus's infini target is not up: " << target.dump(2) << "\nconfig:\n"
                  << read_file(config);
  EXPECT_EQ(target["labels"].value("instance", ""),
            "127.0.0.1:" + std::to_string(server->metrics_port()));

  std::this_thread::sleep_until(test_start + traffic_duration());
  traffic.stop();
  const double traffic_end = unix_now();
  EXPECT_EQ(traffic.unexpected_error(), "") << "a call of the traffic failed";
  std::printf("traffic: %d rounds in %.1f s\n", traffic.rounds(), traffic_end - traffic_start);
  EXPECT_GE(traffic.rounds(), 3);

  // A scrape after the traffic, and every rule evaluated once.
  EXPECT_TRUE(
      poll([&] { return scalar_value(*prometheus, "timestamp(up{job=\"infini\"})") > traffic_end; },
           10s))
      << "no scrape after the traffic";
  Json rules_answer;
  EXPECT_TRUE(poll(
      [&] {
        rules_answer = prometheus->get_json("/api/v1/rules");
        for (const Json& group : rules_answer["data"]["groups"]) {
          for (const Json& rule : group["rules"]) {
            if (rule.value("health", "") == "unknown") return false;
          }
        }
        return true;
      },
      10s))
      << "rules not evaluated yet:\n"
      << rules_answer.dump(2);

  EXPECT_EQ(scalar_value(*prometheus, "up{job=\"infini\"}"), 1.0);

  // Every dashboard query returns data.
  std::vector<std::string> nan_only;
  for (const auto& q : queries) {
    const std::string expr = with_rate_interval(q.expr);
    const QueryOutcome outcome = check_query(*prometheus, expr);
    EXPECT_EQ(outcome.problem, "") << q.where() << ": `" << expr << "`";
    if (outcome.problem.empty() && outcome.nan_only) nan_only.push_back(q.where() + ": " + expr);
  }
  // Every alert's signal returns data.
  for (const auto& rule : rules) {
    const auto signal = alert_signal(rule.expr);
    if (!signal) {
      ADD_FAILURE() << "alert " << rule.name << ": `" << rule.expr
                    << "` is not `<signal> <op> <number>`";
      continue;
    }
    const QueryOutcome outcome = check_query(*prometheus, *signal);
    EXPECT_EQ(outcome.problem, "") << "alert " << rule.name << " signal `" << *signal << "`";
    if (outcome.problem.empty() && outcome.nan_only) {
      nan_only.push_back("alert " + rule.name + ": " + *signal);
    }
  }
  for (const auto& n : nan_only) std::printf("NaN only: %s\n", n.c_str());
  EXPECT_TRUE(nan_only.empty()) << nan_only.size()
                                << " queries return only NaN under steady traffic (listed above)";

  // Every alert rule is loaded and healthy.
  std::map<std::string, Json> loaded;
  for (const Json& group : rules_answer["data"]["groups"]) {
    for (const Json& rule : group["rules"]) {
      if (rule.value("type", "") == "alerting") loaded[rule.value("name", "")] = rule;
    }
  }
  for (const auto& rule : rules) {
    ASSERT_TRUE(loaded.count(rule.name)) << "alert " << rule.name << " is not loaded";
    const Json& r = loaded[rule.name];
    EXPECT_EQ(r.value("health", ""), "ok") << "alert " << rule.name << ": " << r.dump();
    std::printf("alert %-32s %s\n", rule.name.c_str(), r.value("state", "?").c_str());
  }

  if (const char* dir = std::getenv("INFINI_DASHBOARD_DUMP"); dir != nullptr && *dir != '\0') {
    dump_dashboard_data(*prometheus, dir, traffic_start, unix_now());
  }

  // The server-down alert goes off once the server stops.
  std::string down_alert;
  for (const auto& rule : rules) {
    if (rule.expr.find("up{job=\"infini\"}") != std::string::npos) down_alert = rule.name;
  }
  ASSERT_FALSE(down_alert.empty()) << "no alert reads up{job=\"infini\"}";
  server->stop();
  std::string state;
  EXPECT_TRUE(poll(
      [&] {
        const Json answer = prometheus->get_json("/api/v1/rules");
        for (const Json& group : answer.value(Json::json_pointer("/data/groups"), Json::array())) {
          for (const Json& rule : group["rules"]) {
            if (rule.value("name", "") == down_alert) state = rule.value("state", "");
          }
        }
        return state == "pending" || state == "firing";
      },
      10s))
      << "alert " << down_alert << " is " << state << " with the server stopped";
  std::printf("total %.1f s\n",
              std::chrono::duration<double>(std::chrono::steady_clock::now() - test_start).count());
}

}  // namespace
}  // namespace infini::e2e
