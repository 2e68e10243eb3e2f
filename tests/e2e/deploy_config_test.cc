// The compose stack's files (#5) checked without Docker: docker-compose and
// promtool validate them; the compose mounts put prometheus.yml, alerts.yml,
// Grafana's provisioning and the dashboard where each program reads them,
// and the services reach each other by name and port; the alert rules cover
// what an operator is paged for; the Grafana dashboard is one Grafana loads
// against the provisioned data source and shows what #5 lists; and every
// metric the dashboard and the alerts name is one the real server exports.
//
// prometheus_stack_test.cc runs the PromQL itself against a real Prometheus;
// deploy_image_test.cc checks the Dockerfile and the health checks,
// deploy_k8s_test.cc the Kubernetes manifests.
#include "tests/e2e/deploy_files.h"
#include "tests/e2e/e2e_support.h"

namespace infini::e2e {
namespace {

// Work of every kind, including failures, so that labelled series exist.
void drive_a_little_traffic(const ServerProcess& server) {
  auto stub = new_stub(server);
  const IngestCall ingest =
      ingest_raw(*stub, text_messages("", {make_document(3000, 1), "More text. "}, true));
  ASSERT_TRUE(ingest.status.ok()) << describe(ingest.status);
  const std::string id = ingest.response.session().id();
  ASSERT_TRUE(ask_raw(*stub, id, "Why?", greedy_params(4)).status.ok());
  ASSERT_TRUE(summarize_raw(*stub, id, greedy_params(4)).status.ok());
  EXPECT_EQ(ask_raw(*stub, "missing", "Why?", greedy_params(4)).status.error_code(),
            grpc::StatusCode::NOT_FOUND);
}

// ---- docker-compose ----

struct Mount {
  std::string source;  // host path (absolute) or volume name
  std::string target;  // container path
  bool bind = false;
};

std::vector<Mount> service_mounts(const YAML::Node& service) {
  std::vector<Mount> mounts;
  for (const auto& v : service["volumes"]) {
    Mount m;
    if (v.IsMap()) {
      m.source = v["source"].as<std::string>("");
      m.target = v["target"].as<std::string>("");
      m.bind = v["type"].as<std::string>("") == "bind";
    } else {
      const std::string spec = v.as<std::string>("");
      const size_t a = spec.find(':');
      if (a == std::string::npos) {  // an anonymous volume
        m.target = spec;
      } else {
        m.source = spec.substr(0, a);
        const size_t b = spec.find(':', a + 1);
        m.target = spec.substr(a + 1, b == std::string::npos ? std::string::npos : b - a - 1);
        m.bind = !m.source.empty() && (m.source[0] == '.' || m.source[0] == '/');
      }
    }
    if (m.bind && fs::path(m.source).is_relative()) {
      m.source = (compose_path().parent_path() / m.source).lexically_normal().string();
    }
    mounts.push_back(m);
  }
  return mounts;
}

// The host path a container path of `service` reads from (through its
// longest matching bind mount); nullopt when no bind mount covers it.
std::optional<fs::path> host_path(const YAML::Node& service, const std::string& container_path) {
  std::optional<fs::path> best;
  size_t best_length = 0;
  for (const auto& m : service_mounts(service)) {
    if (!m.bind) continue;
    std::string target = m.target;
    while (target.size() > 1 && target.back() == '/') target.pop_back();
    const bool covers = container_path == target || container_path.rfind(target + "/", 0) == 0;
    if (!covers || target.size() < best_length) continue;
    best_length = target.size();
    best = (fs::path(m.source) / fs::path(container_path).lexically_relative(target))
               .lexically_normal();
  }
  return best;
}

bool same_file(const fs::path& a, const fs::path& b) {
  std::error_code ec;
  return fs::equivalent(a, b, ec);
}

std::map<std::string, std::string> service_environment(const YAML::Node& service) {
  std::map<std::string, std::string> env;
  const YAML::Node e = service["environment"];
  if (e.IsMap()) {
    for (const auto& kv : e) env[kv.first.as<std::string>()] = kv.second.as<std::string>("");
  } else if (e.IsSequence()) {
    for (const auto& item : e) {
      const std::string s = item.as<std::string>("");
      const size_t eq = s.find('=');
      env[s.substr(0, eq)] = eq == std::string::npos ? "" : s.substr(eq + 1);
    }
  }
  return env;
}

TEST(DeployConfig, ComposeFileValidatesWithDockerCompose) {
  ASSERT_TRUE(fs::exists(kDockerComposeBinary))
      << missing_tool_message(kDockerComposeBinary, "docker-compose");
  ASSERT_TRUE(fs::exists(compose_path())) << compose_path();
  const CommandResult r =
      run_command({kDockerComposeBinary, "-f", compose_path().string(), "config", "-q"}, 60s);
  EXPECT_EQ(r.exit_code, 0) << "docker-compose -f " << compose_path().string() << " config -q:\n"
                            << r.output;
}

TEST(DeployConfig, ComposeServicesWireTheDeployFilesTogether) {
  const YAML::Node compose = load_compose();
  const YAML::Node services = compose["services"];
  for (const char* name : {"infini", "prometheus", "grafana"}) {
    ASSERT_TRUE(services[name]) << "docker-compose.yml has no service `" << name << "`";
  }
  const YAML::Node infini = services["infini"];
  const YAML::Node prometheus = services["prometheus"];
  const YAML::Node grafana = services["grafana"];

  // The server: built from this repository's Dockerfile, health-checked,
  // limited, restarted, with a volume (session snapshots).
  if (infini["build"]) {
    const YAML::Node build = infini["build"];
    const std::string context =
        build.IsMap() ? build["context"].as<std::string>(".") : build.as<std::string>(".");
    const fs::path dir = (compose_path().parent_path() / context).lexically_normal();
    EXPECT_TRUE(same_file(dir, INFINI_SOURCE_DIR))
        << "infini's build context " << context << " is not the repository root";
    const std::string dockerfile =
        build.IsMap() ? build["dockerfile"].as<std::string>("Dockerfile") : "Dockerfile";
    EXPECT_TRUE(fs::exists(dir / dockerfile)) << dir / dockerfile;
  } else {
    EXPECT_TRUE(infini["image"]) << "infini has neither build nor image";
  }
  EXPECT_TRUE(infini["healthcheck"] && yaml_at(infini, "healthcheck", "test"))
      << "infini has no healthcheck";
  const YAML::Node limits = yaml_at(infini, "deploy", "resources", "limits");
  EXPECT_TRUE((limits && limits["memory"]) || infini["mem_limit"])
      << "infini has no memory limit (deploy.resources.limits.memory)";
  EXPECT_TRUE((limits && limits["cpus"]) || infini["cpus"])
      << "infini has no CPU limit (deploy.resources.limits.cpus)";
  for (const char* name : {"infini", "prometheus", "grafana"}) {
    EXPECT_TRUE(services[name]["restart"] || yaml_at(services[name], "deploy", "restart_policy"))
        << name << " has no restart policy";
  }
  EXPECT_FALSE(service_mounts(infini).empty()) << "infini has no volume (session snapshots)";

  // Its flags and environment are ones the server has.
  const auto infini_command = command_words(infini["command"]);
  EXPECT_TRUE(unknown_server_flags(infini_command).empty())
      << "infini's command has flags infini-server does not: "
      << join(unknown_server_flags(infini_command));
  const auto infini_env = service_environment(infini);
  for (const auto& [name, value] : infini_env) {
    if (name.rfind("INFINI_", 0) == 0) {
      EXPECT_TRUE(server_options().env.count(name) > 0)
          << "infini's environment sets " << name << ", which infini-server does not read";
    }
  }
  int metrics_port = kMetricsPort;
  if (auto v = flag_value(infini_command, "--metrics-listen")) metrics_port = port_of(*v);
  if (infini_env.count("INFINI_METRICS_LISTEN")) {
    metrics_port = port_of(infini_env.at("INFINI_METRICS_LISTEN"));
  }

  // Prometheus reads deploy/prometheus/prometheus.yml and, next to it,
  // alerts.yml; its data is on a named volume.
  const auto prometheus_command = command_words(prometheus["command"]);
  const std::string config_file =
      flag_value(prometheus_command, "--config.file").value_or("/etc/prometheus/prometheus.yml");
  const auto config_host = host_path(prometheus, config_file);
  ASSERT_TRUE(config_host) << "prometheus reads " << config_file << ", which no bind mount covers";
  EXPECT_TRUE(same_file(*config_host, prometheus_config_path()))
      << "prometheus's " << config_file << " is " << *config_host << ", not "
      << prometheus_config_path();
  const YAML::Node prometheus_config = YAML::LoadFile(prometheus_config_path().string());
  ASSERT_TRUE(yaml_at(prometheus_config, "rule_files").IsSequence())
      << "prometheus.yml has no rule_files";
  bool reads_alerts = false;
  for (const auto& rule_file : prometheus_config["rule_files"]) {
    const fs::path container =
        (fs::path(config_file).parent_path() / rule_file.as<std::string>("")).lexically_normal();
    const auto host = host_path(prometheus, container.string());
    if (host && same_file(*host, alerts_path())) reads_alerts = true;
  }
  EXPECT_TRUE(reads_alerts) << "no rule_files entry of prometheus.yml is, inside the container, "
                               "deploy/prometheus/alerts.yml";
  const std::string tsdb =
      flag_value(prometheus_command, "--storage.tsdb.path").value_or("/prometheus");
  bool data_volume = false;
  for (const auto& m : service_mounts(prometheus)) {
    if (!m.bind && !m.source.empty() && m.target == tsdb) data_volume = true;
  }
  EXPECT_TRUE(data_volume) << "prometheus keeps its data (" << tsdb << ") on no named volume";

  // Prometheus scrapes the compose service `infini` on its metrics port.
  bool scrapes_infini = false;
  for (const auto& job : prometheus_config["scrape_configs"]) {
    if (job["job_name"].as<std::string>("") != "infini") continue;
    const YAML::Node static_configs = job["static_configs"];
    ASSERT_TRUE(static_configs.IsSequence() && static_configs.size() == 1 &&
                static_configs[0]["targets"].size() == 1)
        << "the infini job should have one static target:\n"
        << yaml_text(job);
    const std::string target = static_configs[0]["targets"][0].as<std::string>("");
    EXPECT_EQ(target, "infini:" + std::to_string(metrics_port))
        << "the infini job's target is not the compose service infini on its metrics port";
    EXPECT_EQ(job["metrics_path"].as<std::string>("/metrics"), "/metrics");
    scrapes_infini = true;
  }
  EXPECT_TRUE(scrapes_infini) << "prometheus.yml has no job `infini`";

  // Grafana reads the provisioning directory and the dashboards directory
  // where the dashboard provider looks.
  const auto grafana_env = service_environment(grafana);
  const std::string provisioning = grafana_env.count("GF_PATHS_PROVISIONING")
                                       ? grafana_env.at("GF_PATHS_PROVISIONING")
                                       : "/etc/grafana/provisioning";
  const auto datasources = host_path(grafana, provisioning + "/datasources/prometheus.yml");
  EXPECT_TRUE(datasources && same_file(*datasources, datasources_path()))
      << "grafana does not see " << datasources_path() << " under " << provisioning;
  const auto provider = host_path(grafana, provisioning + "/dashboards/infini.yml");
  EXPECT_TRUE(provider && same_file(*provider, dashboard_provider_path()))
      << "grafana does not see " << dashboard_provider_path() << " under " << provisioning;
  const YAML::Node providers = YAML::LoadFile(dashboard_provider_path().string())["providers"];
  ASSERT_TRUE(providers.IsSequence() && providers.size() > 0) << "no dashboard provider";
  bool finds_dashboard = false;
  for (const auto& p : providers) {
    const std::string path = yaml_at(p, "options", "path").as<std::string>("");
    const auto host = host_path(grafana, path);
    if (host && fs::exists(*host / "infini.json") &&
        same_file(*host / "infini.json", dashboard_path())) {
      finds_dashboard = true;
    }
  }
  EXPECT_TRUE(finds_dashboard) << "no dashboard provider's options.path is, inside the grafana "
                                  "container, the directory of "
                               << dashboard_path();

  // The data source points at the compose service prometheus.
  const YAML::Node sources = YAML::LoadFile(datasources_path().string())["datasources"];
  ASSERT_TRUE(sources.IsSequence() && sources.size() > 0);
  int prometheus_port = 9090;
  if (auto v = flag_value(prometheus_command, "--web.listen-address")) {
    prometheus_port = port_of(*v);
  }
  for (const auto& s : sources) {
    if (s["type"].as<std::string>("") != "prometheus") continue;
    EXPECT_EQ(s["url"].as<std::string>(""), "http://prometheus:" + std::to_string(prometheus_port))
        << "data source " << s["name"].as<std::string>("") << " does not reach the compose "
        << "service prometheus";
  }
}

// ---- Prometheus config and rules ----

TEST(DeployConfig, PromtoolAcceptsTheConfigAndTheRules) {
  ASSERT_TRUE(fs::exists(kPromtoolBinary)) << missing_tool_message(kPromtoolBinary, "prometheus");
  const CommandResult rules =
      run_command({kPromtoolBinary, "check", "rules", alerts_path().string()});
  EXPECT_EQ(rules.exit_code, 0) << "promtool check rules:\n" << rules.output;
  // check config also checks the rule files it names, relative to itself.
  const CommandResult config =
      run_command({kPromtoolBinary, "check", "config", prometheus_config_path().string()});
  EXPECT_EQ(config.exit_code, 0) << "promtool check config:\n" << config.output;

  const YAML::Node prometheus_config = YAML::LoadFile(prometheus_config_path().string());
  const YAML::Node rule_files = yaml_at(prometheus_config, "rule_files");
  ASSERT_TRUE(rule_files.IsSequence());
  bool names_alerts = false;
  for (const auto& f : rule_files) names_alerts |= f.as<std::string>("") == "alerts.yml";
  EXPECT_TRUE(names_alerts) << "prometheus.yml's rule_files should name alerts.yml (next to it)";
}

// The alerts an operator is paged for (#5): each kind present, each rule
// `<signal> <op> <number>`, with a severity and a summary.
TEST(DeployConfig, AlertRulesCoverWhatAnOperatorIsPagedFor) {
  const auto rules = alert_rules(YAML::LoadFile(alerts_path().string()));
  ASSERT_FALSE(rules.empty()) << alerts_path() << " has no alerting rule";
  std::set<std::string> names;
  std::string all_exprs;
  for (const auto& rule : rules) {
    EXPECT_TRUE(names.insert(rule.name).second) << "two alerts named " << rule.name;
    EXPECT_TRUE(alert_signal(rule.expr).has_value())
        << "alert " << rule.name << ": `" << rule.expr
        << "` is not `<signal> <op> <number>` at the top level";
    EXPECT_FALSE(yaml_at(rule.node, "labels", "severity").as<std::string>("").empty())
        << "alert " << rule.name << " has no severity label";
    EXPECT_FALSE(yaml_at(rule.node, "annotations", "summary").as<std::string>("").empty())
        << "alert " << rule.name << " has no summary annotation";
    EXPECT_EQ(rule.expr.find('$'), std::string::npos)
        << "alert " << rule.name << " uses a template variable: " << rule.expr;
    all_exprs += rule.expr + "\n";
  }
  const auto mentions = [&](const std::string& what) {
    return all_exprs.find(what) != std::string::npos;
  };
  EXPECT_TRUE(mentions("up{job=\"infini\"}")) << "no alert for the server being down";
  EXPECT_TRUE(mentions("infini_rpc_requests_total") && mentions("code"))
      << "no alert on the error ratio";
  EXPECT_TRUE(mentions("histogram_quantile(0.99") && mentions("infini_rpc_duration_seconds_bucket"))
      << "no alert on p99 latency";
  EXPECT_TRUE(mentions("infini_queue_depth") && mentions("infini_queue_capacity"))
      << "no alert on queue saturation (depth against capacity)";
  EXPECT_TRUE(mentions("infini_state_bytes_limit"))
      << "no alert on memory near the configured limit (infini_state_bytes_limit)";
}

// ---- the Grafana dashboard ----

// Grafana provisioning: the data source uids and types.
std::map<std::string, std::string> provisioned_datasources() {
  std::map<std::string, std::string> uids;
  const YAML::Node file = YAML::LoadFile(datasources_path().string());
  for (const auto& s : file["datasources"]) {
    uids[s["uid"].as<std::string>("")] = s["type"].as<std::string>("");
  }
  return uids;
}

TEST(DeployConfig, DashboardIsAValidGrafanaDashboard) {
  ASSERT_TRUE(fs::exists(dashboard_path())) << dashboard_path();
  Json dashboard;
  try {
    dashboard = load_dashboard();
  } catch (const std::exception& e) {
    FAIL() << dashboard_path() << " is not JSON: " << e.what();
  }
  const auto sources = provisioned_datasources();
  ASSERT_EQ(sources.count("prometheus"), 1u)
      << datasources_path() << " provisions no data source with uid `prometheus`";
  EXPECT_EQ(sources.at("prometheus"), "prometheus");

  EXPECT_EQ(dashboard.value("uid", ""), "infini");
  EXPECT_FALSE(dashboard.value("title", "").empty());
  ASSERT_TRUE(dashboard.contains("schemaVersion") &&
              dashboard["schemaVersion"].is_number_integer());
  EXPECT_GE(dashboard["schemaVersion"].get<int>(), 36);
  ASSERT_TRUE(dashboard.contains("panels") && dashboard["panels"].is_array());
  EXPECT_FALSE(dashboard.contains("id") && !dashboard["id"].is_null())
      << "a provisioned dashboard carries id null (Grafana assigns it)";

  // A data source reference resolves to a provisioned one of its type.
  const auto expect_resolves = [&](const Json& ds, const std::string& where) {
    ASSERT_TRUE(ds.is_object()) << where << ": datasource is " << ds.dump()
                                << ", not {\"type\",\"uid\"}";
    const std::string uid = ds.value("uid", "");
    EXPECT_EQ(ds, Json({{"type", "prometheus"}, {"uid", "prometheus"}})) << where;
    EXPECT_TRUE(sources.count(uid) > 0 && sources.at(uid) == ds.value("type", ""))
        << where << ": datasource " << ds.dump() << " is not a provisioned data source";
  };

  std::set<std::string> ids;
  for (const Json& panel : dashboard_panels(dashboard)) {
    const std::string where = "panel " + panel_id_text(panel) + " \"" + panel_title(panel) + "\"";
    ASSERT_TRUE(panel.contains("id") && panel["id"].is_number_integer()) << where << " has no id";
    EXPECT_TRUE(ids.insert(panel["id"].dump()).second) << "two panels with id " << panel["id"];
    ASSERT_TRUE(panel.contains("gridPos")) << where << " has no gridPos";
    const Json& g = panel["gridPos"];
    for (const char* k : {"x", "y", "w", "h"}) {
      ASSERT_TRUE(g.contains(k) && g[k].is_number_integer()) << where << " gridPos." << k;
    }
    EXPECT_TRUE(g["w"].get<int>() > 0 && g["h"].get<int>() > 0 && g["x"].get<int>() >= 0 &&
                g["x"].get<int>() + g["w"].get<int>() <= 24)
        << where << " gridPos " << g.dump();
    if (is_row(panel)) {
      EXPECT_FALSE(panel.contains("targets") && !panel["targets"].empty())
          << where << ": a row has no queries";
      continue;
    }
    EXPECT_FALSE(panel.value("type", "").empty()) << where << " has no type";
    EXPECT_FALSE(panel.value("title", "").empty()) << where << " has no title";
    EXPECT_FALSE(panel.value("description", "").empty()) << where << " has no description";
    const Json unit = panel.value(Json::json_pointer("/fieldConfig/defaults/unit"), Json());
    EXPECT_TRUE(unit.is_string() && !unit.get<std::string>().empty())
        << where << " has no fieldConfig.defaults.unit";
    ASSERT_TRUE(panel.contains("datasource")) << where << " has no datasource";
    expect_resolves(panel["datasource"], where);
    ASSERT_TRUE(panel.contains("targets") && panel["targets"].is_array() &&
                !panel["targets"].empty())
        << where << " has no targets";
    std::set<std::string> ref_ids;
    for (const Json& target : panel["targets"]) {
      const std::string ref = target.value("refId", "");
      const std::string twhere = where + " target " + ref;
      EXPECT_FALSE(ref.empty()) << where << " has a target without refId";
      EXPECT_TRUE(ref_ids.insert(ref).second) << where << " has two targets " << ref;
      ASSERT_TRUE(target.contains("datasource")) << twhere << " has no datasource";
      expect_resolves(target["datasource"], twhere);
      const std::string expr = target.value("expr", "");
      EXPECT_FALSE(expr.empty()) << twhere << " has no expr";
      const std::string fixed = with_rate_interval(expr);
      EXPECT_EQ(fixed.find('$'), std::string::npos)
          << twhere << " uses a template variable other than $__rate_interval: " << expr;
    }
  }

  // Panels do not overlap: the top level, and the panels inside each
  // collapsed row among themselves.
  const auto expect_no_overlap = [](const std::vector<Json>& panels) {
    for (size_t i = 0; i < panels.size(); ++i) {
      for (size_t j = i + 1; j < panels.size(); ++j) {
        const Json& a = panels[i]["gridPos"];
        const Json& b = panels[j]["gridPos"];
        const bool overlap = a["x"].get<int>() < b["x"].get<int>() + b["w"].get<int>() &&
                             b["x"].get<int>() < a["x"].get<int>() + a["w"].get<int>() &&
                             a["y"].get<int>() < b["y"].get<int>() + b["h"].get<int>() &&
                             b["y"].get<int>() < a["y"].get<int>() + a["h"].get<int>();
        EXPECT_FALSE(overlap) << "panels " << panel_title(panels[i]) << " " << a.dump() << " and "
                              << panel_title(panels[j]) << " " << b.dump() << " overlap";
      }
    }
  };
  std::vector<Json> top(dashboard["panels"].begin(), dashboard["panels"].end());
  expect_no_overlap(top);
  for (const Json& panel : top) {
    if (panel.contains("panels") && panel["panels"].is_array() && !panel["panels"].empty()) {
      expect_no_overlap(std::vector<Json>(panel["panels"].begin(), panel["panels"].end()));
    }
  }
}

// The panels #5 asks for, recognised by what their queries read.
TEST(DeployConfig, DashboardShowsWhatAnOperatorWatches) {
  const Json dashboard = load_dashboard();
  std::string all_exprs;
  for (const auto& q : dashboard_queries(dashboard)) all_exprs += q.expr + "\n";
  const auto mentions = [&](const std::string& what) {
    return all_exprs.find(what) != std::string::npos;
  };
  const std::vector<std::pair<std::string, std::vector<std::string>>> wanted = {
      {"request rate and error ratio by method", {"infini_rpc_requests_total", "method", "code"}},
      {"latency p50/p95/p99 by method",
       {"infini_rpc_duration_seconds_bucket", "histogram_quantile(0.5", "histogram_quantile(0.95",
        "histogram_quantile(0.99"}},
      {"time to first token", {"infini_time_to_first_token_seconds_bucket"}},
      {"ingest tokens/s", {"infini_ingested_tokens_total"}},
      {"generated tokens/s", {"infini_generated_tokens_total"}},
      {"active sessions", {"infini_sessions_active"}},
      {"state bytes against KV-cache bytes", {"infini_state_bytes", "infini_kv_equivalent_bytes"}},
      {"compression ratio", {"infini_compression_ratio"}},
      {"queue depth and in-flight requests", {"infini_queue_depth", "infini_requests_in_flight"}},
      {"process memory and CPU", {"process_resident_memory_bytes", "process_cpu_seconds_total"}},
  };
  for (const auto& [what, needles] : wanted) {
    for (const auto& needle : needles) {
      EXPECT_TRUE(mentions(needle))
          << "no panel for " << what << ": no query reads `" << needle << "`";
    }
  }
}

// Every metric name in a dashboard query or an alert rule is one the real
// server exports (or Prometheus's own `up`).
TEST(DeployConfig, DashboardAndAlertsNameOnlyExportedMetrics) {
  auto server = ServerProcess::start();
  drive_a_little_traffic(*server);
  const HttpResponse r = http_get(server->metrics_port(), "/metrics");
  ASSERT_EQ(r.status, 200);
  std::set<std::string> exported = exported_names(r.body);
  exported.insert("up");

  std::map<std::string, std::vector<std::string>> unknown;  // name -> where
  size_t names_checked = 0;
  for (const auto& q : dashboard_queries(load_dashboard())) {
    for (const auto& name : metric_names_in(with_rate_interval(q.expr))) {
      ++names_checked;
      if (exported.count(name) == 0) unknown[name].push_back(q.where());
    }
  }
  for (const auto& rule : alert_rules(YAML::LoadFile(alerts_path().string()))) {
    for (const auto& name : metric_names_in(rule.expr)) {
      ++names_checked;
      if (exported.count(name) == 0) unknown[name].push_back("alert " + rule.name);
    }
  }
  EXPECT_GT(names_checked, 0u);
  for (const auto& [name, places] : unknown) {
    ADD_FAILURE() << "`" << name << "` is not exported by infini-server (named by "
                  << join(places, "; ") << ")";
  }
}

}  // namespace
}  // namespace infini::e2e
