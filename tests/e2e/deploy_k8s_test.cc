// The Kubernetes manifests of #5 checked without a cluster: they parse,
// the Deployment's and the Service's selectors pick the server's pods, the
// pods are probed through the gRPC health service on 50051 and carry
// resource requests and limits and Prometheus's scrape annotations for
// 9464, the Service exposes both ports onto the container's, and the
// container and its ConfigMap use only flags and variables the server has.
#include "tests/e2e/deploy_files.h"
#include "tests/e2e/e2e_support.h"

namespace infini::e2e {
namespace {

struct K8sObjects {
  std::vector<YAML::Node> all;
  std::set<std::string> manifest_files;  // file names, kustomization.yaml aside
  std::vector<YAML::Node> of_kind(const std::string& kind) const {
    std::vector<YAML::Node> out;
    for (const auto& o : all) {
      if (o["kind"].as<std::string>("") == kind) out.push_back(o);
    }
    return out;
  }
};

K8sObjects load_k8s() {
  K8sObjects objects;
  const fs::path dir = deploy_dir() / "k8s";
  if (!fs::is_directory(dir)) return objects;
  std::vector<fs::path> files;
  for (const auto& e : fs::directory_iterator(dir)) {
    const std::string ext = e.path().extension().string();
    if (ext == ".yaml" || ext == ".yml") files.push_back(e.path());
  }
  std::sort(files.begin(), files.end());
  for (const auto& f : files) {
    bool kustomization = false;
    for (auto& doc : load_yaml_documents(f)) {
      kustomization |= doc["kind"].as<std::string>("") == "Kustomization";
      objects.all.push_back(doc);
    }
    if (!kustomization) objects.manifest_files.insert(f.filename().string());
  }
  return objects;
}

bool labels_select(const YAML::Node& selector, const YAML::Node& labels) {
  if (!selector.IsMap() || selector.size() == 0) return false;
  for (const auto& kv : selector) {
    const std::string key = kv.first.as<std::string>();
    if (!labels[key] || labels[key].as<std::string>("") != kv.second.as<std::string>("")) {
      return false;
    }
  }
  return true;
}

TEST(DeployKubernetes, ManifestsDeployTheServerAsTheImageRunsIt) {
  K8sObjects k8s;
  try {
    k8s = load_k8s();
  } catch (const std::exception& e) {
    FAIL() << "deploy/k8s: a manifest is not YAML: " << e.what();
  }
  ASSERT_FALSE(k8s.all.empty()) << "no manifests in " << deploy_dir() / "k8s";
  for (const auto& o : k8s.all) {
    const bool kustomization = o["kind"].as<std::string>("") == "Kustomization";
    EXPECT_TRUE(o["apiVersion"] && o["kind"] && (kustomization || yaml_at(o, "metadata", "name")))
        << "a manifest object without apiVersion, kind or metadata.name:\n"
        << yaml_text(o);
  }
  // A kustomization lists every manifest of the directory, and only those.
  for (const auto& kustomization : k8s.of_kind("Kustomization")) {
    std::set<std::string> listed;
    for (const auto& r : kustomization["resources"]) listed.insert(r.as<std::string>(""));
    EXPECT_EQ(listed, k8s.manifest_files) << "kustomization.yaml's resources";
  }
  const auto deployments = k8s.of_kind("Deployment");
  const auto services = k8s.of_kind("Service");
  const auto config_maps = k8s.of_kind("ConfigMap");
  ASSERT_EQ(deployments.size(), 1u) << "one Deployment expected";
  ASSERT_EQ(services.size(), 1u) << "one Service expected";
  EXPECT_GE(config_maps.size(), 1u) << "no ConfigMap";

  const YAML::Node deployment = deployments[0];
  const YAML::Node pod = yaml_at(deployment, "spec", "template");
  const YAML::Node pod_labels = yaml_at(pod, "metadata", "labels");
  EXPECT_TRUE(labels_select(yaml_at(deployment, "spec", "selector", "matchLabels"), pod_labels))
      << "the Deployment's selector does not select its own pods";
  const YAML::Node service = services[0];
  EXPECT_TRUE(labels_select(yaml_at(service, "spec", "selector"), pod_labels))
      << "the Service's selector does not select the Deployment's pods";

  // The server's container.
  std::optional<YAML::Node> found;
  for (const auto& c : yaml_at(pod, "spec", "containers")) {
    if (!found && c["name"].as<std::string>("") == "infini") found.emplace(c);
  }
  ASSERT_TRUE(found.has_value()) << "no container named infini in the Deployment";
  const YAML::Node container = *found;
  std::set<int> container_ports;
  for (const auto& p : container["ports"]) container_ports.insert(p["containerPort"].as<int>(0));
  EXPECT_TRUE(container_ports.count(kGrpcPort)) << "the container does not declare port 50051";
  EXPECT_TRUE(container_ports.count(kMetricsPort)) << "the container does not declare port 9464";
  // The gRPC probes ask a real server's health service what the kubelet
  // would (an empty or absent service: the server as a whole).
  auto server = ServerProcess::start();
  for (const char* probe : {"readinessProbe", "livenessProbe", "startupProbe"}) {
    const YAML::Node p = container[probe];
    if (std::string(probe) == "startupProbe" && !p) continue;  // optional
    ASSERT_TRUE(p) << "no " << probe;
    ASSERT_TRUE(p["grpc"]) << probe << " is not a gRPC probe (grpc.health.v1):\n" << yaml_text(p);
    EXPECT_EQ(yaml_at(p, "grpc", "port").as<int>(0), kGrpcPort) << probe;
    const std::string service_name = yaml_at(p, "grpc", "service").as<std::string>("");
    const CommandResult health =
        run_command({bin_path("infini-client"), "--server", server->target(), "health", "--service",
                     service_name});
    EXPECT_EQ(health.exit_code, 0) << probe << " asks for service \"" << service_name
                                   << "\", which the server does not report SERVING:\n"
                                   << health.output;
  }
  for (const char* kind : {"requests", "limits"}) {
    const YAML::Node r = yaml_at(container, "resources", kind);
    EXPECT_TRUE(r && r["cpu"] && r["memory"]) << "resources." << kind << " lacks cpu or memory";
  }

  // Flags and environment are ones the server has.
  std::vector<std::string> words = command_words(container["command"]);
  for (const auto& w : command_words(container["args"])) words.push_back(w);
  EXPECT_TRUE(unknown_server_flags(words).empty())
      << "the container has flags infini-server does not: " << join(unknown_server_flags(words));
  for (const auto& e : container["env"]) {
    const std::string name = e["name"].as<std::string>("");
    if (name.rfind("INFINI_", 0) == 0) {
      EXPECT_TRUE(server_options().env.count(name)) << "env " << name << " is no server variable";
    }
  }
  std::set<std::string> config_map_names;
  for (const auto& cm : config_maps) {
    config_map_names.insert(yaml_at(cm, "metadata", "name").as<std::string>(""));
  }
  bool uses_config_map = false;
  for (const auto& from : container["envFrom"]) {
    const std::string name = yaml_at(from, "configMapRef", "name").as<std::string>("");
    if (name.empty()) continue;
    EXPECT_TRUE(config_map_names.count(name))
        << "envFrom names ConfigMap " << name << ", which deploy/k8s does not define";
    uses_config_map = true;
    for (const auto& cm : config_maps) {
      if (yaml_at(cm, "metadata", "name").as<std::string>("") != name) continue;
      for (const auto& kv : cm["data"]) {
        const std::string key = kv.first.as<std::string>();
        EXPECT_TRUE(server_options().env.count(key))
            << "ConfigMap " << name << " sets " << key << ", which infini-server does not read";
      }
    }
  }
  for (const auto& v : yaml_at(pod, "spec", "volumes")) {
    if (v["configMap"]) uses_config_map = true;
  }
  for (const auto& e : container["env"]) {
    if (yaml_at(e, "valueFrom", "configMapKeyRef")) uses_config_map = true;
  }
  EXPECT_TRUE(uses_config_map) << "the container uses no ConfigMap";

  // Prometheus scrape annotations on the pods (where Prometheus's
  // kubernetes-pods job reads them).
  const YAML::Node annotations = yaml_at(pod, "metadata", "annotations");
  EXPECT_EQ(annotations["prometheus.io/scrape"].as<std::string>(""), "true")
      << "pod annotation prometheus.io/scrape";
  EXPECT_EQ(annotations["prometheus.io/port"].as<std::string>(""), std::to_string(kMetricsPort))
      << "pod annotation prometheus.io/port: not the metrics port";
  EXPECT_EQ(annotations["prometheus.io/path"].as<std::string>("/metrics"), "/metrics")
      << "pod annotation prometheus.io/path";
  // The Service, if annotated too, agrees.
  const YAML::Node service_annotations = yaml_at(service, "metadata", "annotations");
  if (service_annotations["prometheus.io/port"]) {
    EXPECT_EQ(service_annotations["prometheus.io/port"].as<std::string>(""),
              std::to_string(kMetricsPort));
  }

  // The Service exposes both ports, onto the container's.
  std::set<int> service_ports;
  for (const auto& p : yaml_at(service, "spec", "ports")) {
    const int port = p["port"].as<int>(0);
    service_ports.insert(port);
    const YAML::Node target = p["targetPort"];
    if (!target) continue;
    int target_port = -1;
    try {
      target_port = target.as<int>();
    } catch (const YAML::Exception&) {  // a named port
      for (const auto& cp : container["ports"]) {
        if (cp["name"].as<std::string>("") == target.as<std::string>()) {
          target_port = cp["containerPort"].as<int>(0);
        }
      }
    }
    EXPECT_TRUE(container_ports.count(target_port))
        << "Service port " << port << " targets " << yaml_text(target)
        << ", which the container does not declare";
  }
  EXPECT_TRUE(service_ports.count(kGrpcPort)) << "the Service does not expose 50051";
  EXPECT_TRUE(service_ports.count(kMetricsPort)) << "the Service does not expose 9464";
}

}  // namespace
}  // namespace infini::e2e
