// The deploy/ files as the deployment tests read them: the Grafana
// dashboard's panel queries, the Prometheus alert rules, and the metric names
// a PromQL expression refers to.
//
// Conventions these helpers rely on, which the deploy files keep:
// - dashboard exprs use no template variable but $__rate_interval, which a
//   test replaces by a fixed window (Grafana would compute it);
// - every alert expr is `<signal> <op> <number>` at the top level, so the
//   signal alone can be queried and must return data while the server runs.
#pragma once

#include <yaml-cpp/yaml.h>

#include <nlohmann/json.hpp>
#include <set>

#include "tests/e2e/server_process.h"

namespace infini::e2e {

using Json = nlohmann::json;

// The Debian tools the deployment tests run (scripts/install-deps installs them).
inline constexpr const char* kPromtoolBinary = "/usr/bin/promtool";
inline constexpr const char* kDockerComposeBinary = "/usr/bin/docker-compose";

// "X is missing: scripts/install-deps installs ..." for a tool a test needs.
inline std::string missing_tool_message(const std::string& path, const std::string& package) {
  return path + " is missing: scripts/install-deps installs the Debian package `" + package +
         "`, which provides it";
}

inline fs::path deploy_dir() { return fs::path(INFINI_SOURCE_DIR) / "deploy"; }
inline fs::path dashboard_path() { return deploy_dir() / "grafana/dashboards/infini.json"; }
inline fs::path prometheus_config_path() { return deploy_dir() / "prometheus/prometheus.yml"; }
inline fs::path alerts_path() { return deploy_dir() / "prometheus/alerts.yml"; }
inline fs::path datasources_path() {
  return deploy_dir() / "grafana/provisioning/datasources/prometheus.yml";
}
inline fs::path dashboard_provider_path() {
  return deploy_dir() / "grafana/provisioning/dashboards/infini.yml";
}
inline fs::path compose_path() { return deploy_dir() / "docker-compose.yml"; }

inline Json load_dashboard() { return Json::parse(read_file(dashboard_path())); }

// ---- the dashboard ----

// Every panel, the panels of collapsed rows (held inside the row) included.
inline std::vector<Json> dashboard_panels(const Json& dashboard) {
  std::vector<Json> panels;
  if (!dashboard.contains("panels") || !dashboard["panels"].is_array()) return panels;
  for (const Json& panel : dashboard["panels"]) {
    panels.push_back(panel);
    if (panel.contains("panels") && panel["panels"].is_array()) {
      for (const Json& inner : panel["panels"]) panels.push_back(inner);
    }
  }
  return panels;
}

inline bool is_row(const Json& panel) { return panel.value("type", "") == "row"; }

inline std::string panel_title(const Json& panel) {
  return panel.contains("title") && panel["title"].is_string() ? panel["title"].get<std::string>()
                                                               : "(untitled)";
}

inline std::string panel_id_text(const Json& panel) {
  return panel.contains("id") ? panel["id"].dump() : "(no id)";
}

// One query of one panel.
struct PanelQuery {
  std::string panel_id;  // as the JSON has it
  std::string panel_title;
  std::string ref_id;
  std::string expr;  // as written, $__rate_interval and all
  std::string legend_format;

  std::string where() const {
    return "panel " + panel_id + " \"" + panel_title + "\" target " + ref_id;
  }
};

inline std::vector<PanelQuery> dashboard_queries(const Json& dashboard) {
  std::vector<PanelQuery> queries;
  for (const Json& panel : dashboard_panels(dashboard)) {
    if (!panel.contains("targets") || !panel["targets"].is_array()) continue;
    for (const Json& target : panel["targets"]) {
      PanelQuery q;
      q.panel_id = panel_id_text(panel);
      q.panel_title = panel_title(panel);
      q.ref_id = target.value("refId", "");
      q.expr = target.value("expr", "");
      q.legend_format = target.value("legendFormat", "");
      queries.push_back(std::move(q));
    }
  }
  return queries;
}

// Grafana's $__rate_interval (both spellings) replaced by a fixed window.
inline std::string with_rate_interval(std::string expr, const std::string& window = "1m") {
  for (const std::string var : {"${__rate_interval}", "$__rate_interval"}) {
    for (size_t pos; (pos = expr.find(var)) != std::string::npos;)
      expr.replace(pos, var.size(), window);
  }
  return expr;
}

// ---- alert rules ----

struct AlertRule {
  std::string group;
  std::string name;
  std::string expr;
  YAML::Node node;  // the whole rule: labels, annotations, for
};

inline std::vector<AlertRule> alert_rules(const YAML::Node& rules_file) {
  std::vector<AlertRule> rules;
  for (const auto& group : rules_file["groups"]) {
    for (const auto& rule : group["rules"]) {
      if (!rule["alert"]) continue;  // a recording rule
      rules.push_back({group["name"].as<std::string>(""), rule["alert"].as<std::string>(""),
                       rule["expr"].as<std::string>(""), rule});
    }
  }
  return rules;
}

inline std::string trim(const std::string& s) {
  const size_t b = s.find_first_not_of(" \t\r\n");
  if (b == std::string::npos) return "";
  const size_t e = s.find_last_not_of(" \t\r\n");
  return s.substr(b, e - b + 1);
}

// `<signal> <op> <number>` -> `<signal>`; nullopt when the expression does not
// end in a comparison with a number. The shortest prefix is taken whose rest
// is exactly one comparison, so only the final, top-level one is cut.
inline std::optional<std::string> alert_signal(const std::string& expr) {
  static const std::regex comparison(
      R"(^([\s\S]*?)\s*(>=|<=|==|!=|>|<)\s*(bool\s+)?[-+]?([0-9]*\.?[0-9]+([eE][-+]?[0-9]+)?|Inf|inf)\s*$)");
  std::smatch m;
  const std::string text = trim(expr);
  if (!std::regex_match(text, m, comparison)) return std::nullopt;
  const std::string signal = trim(m[1].str());
  if (signal.empty()) return std::nullopt;
  return signal;
}

// ---- PromQL ----

// The metric names a PromQL expression selects: identifiers left once string
// literals, label matchers ({...}), range and subquery windows ([...]),
// grouping lists (by (...), on (...), ...), numbers and durations, keywords
// and function calls are taken away.
inline std::set<std::string> metric_names_in(const std::string& expr) {
  std::string text = expr;
  static const std::regex strings(R"("(?:[^"\\]|\\.)*"|'(?:[^'\\]|\\.)*'|`[^`]*`)");
  static const std::regex matchers(R"(\{[^}]*\})");
  static const std::regex windows(R"(\[[^\]]*\])");
  static const std::regex grouping(
      R"(\b(by|without|on|ignoring|group_left|group_right)\s*\([^)]*\))");
  text = std::regex_replace(text, strings, " ");
  text = std::regex_replace(text, matchers, " ");
  text = std::regex_replace(text, windows, " ");
  text = std::regex_replace(text, grouping, " ");
  static const std::set<std::string> keywords = {
      "and",      "or",         "unless",      "bool", "offset", "by",  "without", "on",
      "ignoring", "group_left", "group_right", "inf",  "nan",    "Inf", "NaN"};
  static const std::regex token(R"([0-9][0-9a-zA-Z_.]*|[a-zA-Z_:][a-zA-Z0-9_:]*)");
  std::set<std::string> names;
  for (auto it = std::sregex_iterator(text.begin(), text.end(), token);
       it != std::sregex_iterator(); ++it) {
    const std::string name = it->str();
    if (std::isdigit(static_cast<unsigned char>(name[0]))) continue;  // a number or duration
    if (keywords.count(name) > 0) continue;
    size_t after = static_cast<size_t>(it->position() + it->length());
    while (after < text.size() && std::isspace(static_cast<unsigned char>(text[after]))) ++after;
    if (after < text.size() && text[after] == '(') continue;  // a function or aggregation
    names.insert(name);
  }
  return names;
}

// The metric names the server's exposition holds (histograms as their
// _bucket, _sum and _count series: a bare histogram name selects nothing).
inline std::set<std::string> exported_names(const std::string& exposition) {
  std::set<std::string> names;
  std::istringstream in(exposition);
  std::string line;
  while (std::getline(in, line)) {
    if (line.empty() || line[0] == '#') continue;
    names.insert(line.substr(0, line.find_first_of("{ ")));
  }
  return names;
}

// ---- YAML ----

// A YAML file's documents (a manifest may hold several, split by ---).
inline std::vector<YAML::Node> load_yaml_documents(const fs::path& path) {
  std::vector<YAML::Node> docs;
  for (auto& doc : YAML::LoadAllFromFile(path.string())) {
    if (doc && !doc.IsNull()) docs.push_back(doc);
  }
  return docs;
}

// node[k1][k2]... without yaml-cpp's exceptions (a missing key inside a
// missing key throws there): an undefined node, falsy and empty to iterate,
// whose as<T>(fallback) is the fallback, when a step is missing.
template <typename... Keys>
YAML::Node yaml_at(const YAML::Node& node, const Keys&... keys) {
  const std::vector<std::string> path{std::string(keys)...};
  YAML::Node current = node;
  for (const auto& key : path) {
    const YAML::Node& view = current;  // const: a lookup adds nothing
    if (!view.IsDefined() || !view.IsMap()) return YAML::Node(YAML::NodeType::Undefined);
    const YAML::Node child = view[key];
    if (!child) return YAML::Node(YAML::NodeType::Undefined);
    current.reset(child);  // reset rebinds; operator= would overwrite the node's value
  }
  return current;
}

inline YAML::Node load_compose() { return YAML::LoadFile(compose_path().string()); }

inline std::string yaml_text(const YAML::Node& node) {
  YAML::Emitter out;
  out << node;
  return out.c_str();
}

// ---- the server's ports, flags and environment, as the deploy files use them ----

// The ports the server listens on by default, which the deploy files publish.
inline constexpr int kGrpcPort = 50051;
inline constexpr int kMetricsPort = 9464;

inline std::string join(const std::vector<std::string>& parts, const std::string& sep = " ") {
  std::string out;
  for (size_t i = 0; i < parts.size(); ++i) out += (i ? sep : "") + parts[i];
  return out;
}

// The server's flags and environment variables, from its --help.
struct ServerOptions {
  std::set<std::string> flags;  // "--listen", ...
  std::set<std::string> env;    // "INFINI_LISTEN", ...
};

inline const ServerOptions& server_options() {
  static const ServerOptions options = [] {
    ServerOptions o;
    const CommandResult r = run_command({server_binary(), "--help"}, 30s);
    if (r.exit_code != 0) {
      throw std::runtime_error(server_binary() + " --help failed (exit " +
                               std::to_string(r.exit_code) + "): " + r.output);
    }
    static const std::regex flag(R"((--[a-z][a-z0-9-]*))");
    static const std::regex env(R"(\b(INFINI_[A-Z0-9_]+)\b)");
    for (auto it = std::sregex_iterator(r.output.begin(), r.output.end(), flag);
         it != std::sregex_iterator(); ++it) {
      o.flags.insert((*it)[1].str());
    }
    for (auto it = std::sregex_iterator(r.output.begin(), r.output.end(), env);
         it != std::sregex_iterator(); ++it) {
      o.env.insert((*it)[1].str());
    }
    return o;
  }();
  return options;
}

// A command (a YAML list or a string) as words.
inline std::vector<std::string> command_words(const YAML::Node& node) {
  std::vector<std::string> words;
  if (!node) return words;
  if (node.IsSequence()) {
    for (const auto& w : node) words.push_back(w.as<std::string>(""));
  } else {
    std::istringstream in(node.as<std::string>(""));
    for (std::string w; in >> w;) words.push_back(w);
  }
  return words;
}

// The value of `--name=value` or `--name value` in `words`.
inline std::optional<std::string> flag_value(const std::vector<std::string>& words,
                                             const std::string& name) {
  for (size_t i = 0; i < words.size(); ++i) {
    if (words[i].rfind(name + "=", 0) == 0) return words[i].substr(name.size() + 1);
    if (words[i] == name && i + 1 < words.size()) return words[i + 1];
  }
  return std::nullopt;
}

// `--flags` of `words` that the server does not have.
inline std::vector<std::string> unknown_server_flags(const std::vector<std::string>& words) {
  std::vector<std::string> unknown;
  for (const auto& w : words) {
    if (w.rfind("--", 0) != 0) continue;
    const std::string name = w.substr(0, w.find('='));
    if (server_options().flags.count(name) == 0) unknown.push_back(name);
  }
  return unknown;
}

// "host:port" -> port; -1 when there is none.
inline int port_of(const std::string& address) {
  const size_t colon = address.rfind(':');
  if (colon == std::string::npos) return -1;
  try {
    return std::stoi(address.substr(colon + 1));
  } catch (const std::exception&) {
    return -1;
  }
}

}  // namespace infini::e2e
