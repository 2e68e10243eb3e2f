// The image of #5 checked without Docker: the Dockerfile builds with the
// CI's own script and runs a non-root server with its ports exposed; its
// runtime stage installs every shared library the binaries load (ldd +
// dpkg here, on the same Debian 12); the model path every configuration
// names is where the image holds the model; the settings of the compose
// service and of the Kubernetes ConfigMap start the real server; and the
// image's HEALTHCHECK and the compose health check, run here against a real
// server, pass while it serves and fail once it stops.
#include "tests/e2e/deploy_files.h"
#include "tests/e2e/dockerfile.h"
#include "tests/e2e/e2e_support.h"

namespace infini::e2e {
namespace {

// `${NAME:-default}` and `${NAME-default}` (compose interpolation) -> default.
std::string compose_default(const std::string& value) {
  static const std::regex var(R"(\$\{[A-Za-z_][A-Za-z0-9_]*:?-([^}]*)\})");
  return std::regex_replace(value, var, "$1");
}

std::map<std::string, std::string> compose_environment(const YAML::Node& service) {
  std::map<std::string, std::string> env;
  const YAML::Node e = service["environment"];
  if (e.IsMap()) {
    for (const auto& kv : e) {
      env[kv.first.as<std::string>()] = compose_default(kv.second.as<std::string>(""));
    }
  } else if (e.IsSequence()) {
    for (const auto& item : e) {
      const std::string s = item.as<std::string>("");
      const size_t eq = s.find('=');
      env[s.substr(0, eq)] = eq == std::string::npos ? "" : compose_default(s.substr(eq + 1));
    }
  }
  return env;
}

// The Kubernetes ConfigMap the Deployment's container reads (all of them merged).
std::map<std::string, std::string> config_map_data() {
  std::map<std::string, std::string> data;
  const fs::path dir = deploy_dir() / "k8s";
  if (!fs::is_directory(dir)) return data;
  for (const auto& e : fs::directory_iterator(dir)) {
    if (e.path().extension() != ".yaml" && e.path().extension() != ".yml") continue;
    for (const auto& doc : load_yaml_documents(e.path())) {
      if (doc["kind"].as<std::string>("") != "ConfigMap") continue;
      for (const auto& kv : doc["data"]) {
        data[kv.first.as<std::string>()] = kv.second.as<std::string>("");
      }
    }
  }
  return data;
}

TEST(DeployImage, DockerfileBuildsWithTheCiScriptAndRunsAsAService) {
  ASSERT_TRUE(fs::exists(dockerfile_path())) << dockerfile_path();
  const auto stages = dockerfile_stages();
  ASSERT_GE(stages.size(), 2u) << "the Dockerfile is not multi-stage";
  for (const auto& s : stages) {
    EXPECT_TRUE(s.from.find("debian:12") != std::string::npos ||
                s.from.find("bookworm") != std::string::npos)
        << "stage " << s.name << " is FROM " << s.from << ", not Debian 12 (by default)";
  }
  // The build stages install dependencies with the CI's script and copy
  // only files that exist.
  bool installs_deps = false;
  for (size_t i = 0; i + 1 < stages.size(); ++i) {
    installs_deps |= stage_has(stages[i], "RUN", "scripts/install-deps");
    for (const auto& ins : stages[i].instructions) {
      if ((ins.keyword != "COPY" && ins.keyword != "ADD") ||
          ins.args.find("--from") != std::string::npos) {
        continue;
      }
      const auto w = operands(ins.args);
      for (size_t k = 0; k + 1 < w.size(); ++k) {
        if (w[k].find_first_of("*?$[") != std::string::npos) continue;
        EXPECT_TRUE(fs::exists(fs::path(INFINI_SOURCE_DIR) / w[k]))
            << ins.keyword << " " << ins.args << ": " << w[k] << " is not in the repository";
      }
    }
  }
  EXPECT_TRUE(installs_deps) << "no build stage RUNs scripts/install-deps (the CI's script)";

  const Stage& runtime = stages.back();
  EXPECT_FALSE(stage_has(runtime, "RUN", "scripts/install-deps"))
      << "the runtime stage should hold the binaries, not the build dependencies";
  EXPECT_TRUE(stage_has(runtime, "COPY", "--from"))
      << "the runtime stage copies nothing from the build";
  EXPECT_FALSE(image_model_dir(runtime).empty()) << "the runtime stage lacks models/demo";

  std::set<std::string> exposed;
  std::string user;
  int healthchecks = 0;
  for (const auto& i : runtime.instructions) {
    if (i.keyword == "EXPOSE") {
      for (const auto& x : shell_words(i.args)) exposed.insert(x.substr(0, x.find('/')));
    }
    if (i.keyword == "USER") user = i.args;
    if (i.keyword == "HEALTHCHECK") ++healthchecks;
  }
  EXPECT_TRUE(exposed.count(std::to_string(kGrpcPort))) << "EXPOSE lacks 50051";
  EXPECT_TRUE(exposed.count(std::to_string(kMetricsPort))) << "EXPOSE lacks 9464";
  EXPECT_FALSE(user.empty()) << "the runtime stage sets no USER (it would run as root)";
  const std::string who = user.substr(0, user.find(':'));
  EXPECT_TRUE(who != "root" && who != "0") << "USER " << user;
  EXPECT_EQ(healthchecks, 1) << "the runtime stage should have one HEALTHCHECK";
  EXPECT_TRUE(stage_has(runtime, "CMD", "infini-server") ||
              stage_has(runtime, "ENTRYPOINT", "infini-server"))
      << "the image does not start infini-server";

  // The image's environment names only variables the server reads.
  for (const auto& [name, value] : stage_env(runtime)) {
    if (name.rfind("INFINI_", 0) == 0) {
      EXPECT_TRUE(server_options().env.count(name))
          << "ENV " << name << " is no variable infini-server reads";
    }
  }
}

// The build stage, given only what its COPYs take from the build context
// (.dockerignore applied), configures with the Dockerfile's own cmake
// command and has the targets it builds; the runtime stage's COPYs from the
// context (the model) find their files too. The compile itself is what CI
// does: the same sources, the packages of the same script.
TEST(DeployImage, BuildStageConfiguresFromItsBuildContext) {
  const auto stages = dockerfile_stages();
  ASSERT_GE(stages.size(), 2u);
  const DockerIgnore ignore = DockerIgnore::load(fs::path(INFINI_SOURCE_DIR) / ".dockerignore");
  const Stage& build = stages.front();
  TempDir root("infini-e2e-image");
  std::string workdir;
  try {
    workdir = lay_out_stage_context(build, INFINI_SOURCE_DIR, ignore, root.path());
  } catch (const std::exception& e) {
    FAIL() << "build stage: " << e.what();
  }

  for (const auto& f : build_inputs_left_out(build, INFINI_SOURCE_DIR, ignore)) {
    ADD_FAILURE() << f << " is a build input under a directory the build stage copies, but "
                  << ".dockerignore leaves it out of the build context";
  }

  // Its configure and build commands, from its RUN lines.
  std::string configure, build_command;
  for (const auto& i : build.instructions) {
    if (i.keyword != "RUN") continue;
    std::string rest = i.args;
    for (size_t pos; !rest.empty();) {
      pos = rest.find("&&");
      const std::string command = trim(rest.substr(0, pos));
      rest = pos == std::string::npos ? "" : rest.substr(pos + 2);
      if (command.rfind("cmake -S", 0) == 0 || command.rfind("cmake -B", 0) == 0) {
        configure = command;
      }
      if (command.rfind("cmake --build", 0) == 0) build_command = command;
    }
  }
  ASSERT_FALSE(configure.empty()) << "the build stage configures with no `cmake -S ... -B ...`";
  ASSERT_FALSE(build_command.empty()) << "the build stage runs no `cmake --build`";
  const fs::path dir = root.path() / fs::path(workdir).relative_path();
  const CommandResult configured =
      run_command({"/bin/sh", "-c", "cd '" + dir.string() + "' && nice " + configure}, 180s);
  ASSERT_EQ(configured.exit_code, 0)
      << "`" << configure << "` in the build stage's files:\n"
      << configured.output.substr(configured.output.size() > 6000 ? configured.output.size() - 6000
                                                                  : 0);

  const auto words = shell_words(build_command);
  const std::string build_dir = flag_value(words, "--build").value_or("build");
  std::vector<std::string> targets;
  for (size_t k = 0; k < words.size(); ++k) {
    if (words[k] != "--target") continue;
    for (size_t n = k + 1; n < words.size() && words[n][0] != '-'; ++n) targets.push_back(words[n]);
  }
  EXPECT_FALSE(targets.empty()) << "`" << build_command << "` names no --target";
  const CommandResult help =
      run_command({"/bin/sh", "-c",
                   "cd '" + dir.string() + "' && cmake --build " + build_dir + " --target help"});
  for (const auto& target : targets) {
    EXPECT_NE(help.output.find("... " + target + "\n"), std::string::npos)
        << "the build stage builds --target " << target << ", which its configure does not define";
  }

  // The runtime stage's own context files.
  TempDir runtime_root("infini-e2e-image");
  try {
    lay_out_stage_context(stages.back(), INFINI_SOURCE_DIR, ignore, runtime_root.path());
  } catch (const std::exception& e) {
    FAIL() << "runtime stage: " << e.what();
  }
  const fs::path model =
      runtime_root.path() / fs::path(image_model_dir(stages.back())).relative_path();
  // The server loads the image's copy of the model.
  try {
    ServerProcess::start({}, model.string());
  } catch (const std::exception& e) {
    ADD_FAILURE() << "infini-server does not load the image's model directory: " << e.what();
  }
}

// apt-get install's packages in a stage's RUNs, outside `case` branches
// (optional extras such as the CUDA runtime, which must not count).
std::set<std::string> installed_packages(const Stage& stage) {
  std::set<std::string> packages;
  for (const auto& i : stage.instructions) {
    if (i.keyword != "RUN" || i.args.find("case ") != std::string::npos) continue;
    const auto words = shell_words(i.args);
    for (size_t k = 0; k + 1 < words.size(); ++k) {
      if (words[k] != "install" || words[k > 0 ? k - 1 : 0].find("apt") == std::string::npos) {
        continue;
      }
      for (size_t n = k + 1; n < words.size(); ++n) {
        const std::string& w = words[n];
        if (w == "&&" || w == ";" || w == "||" || w == "|") break;
        if (w.rfind("-", 0) == 0 || w.find('$') != std::string::npos) continue;
        packages.insert(w);
      }
    }
  }
  return packages;
}

// The runtime stage installs the package of every shared library the
// binaries it copies load (or a package those depend on). This machine is
// Debian 12 like the image, so its ldd and dpkg answer for the image.
TEST(DeployImage, RuntimeStageHasEveryLibraryTheBinariesLoad) {
  const std::string version = trim(read_file("/etc/debian_version"));
  if (version.rfind("12", 0) != 0) {
    GTEST_SKIP() << "this machine is Debian '" << version
                 << "', not Debian 12 like the image: its libraries say nothing about the image's";
  }
  const auto stages = dockerfile_stages();
  ASSERT_GE(stages.size(), 2u);
  const Stage& runtime = stages.back();

  // The binaries the runtime stage copies from the build, as built here.
  std::vector<std::string> binaries;
  for (const auto& i : runtime.instructions) {
    if (i.keyword != "COPY" || i.args.find("--from") == std::string::npos) continue;
    const auto w = operands(i.args);
    for (size_t k = 0; k + 1 < w.size(); ++k) {
      const std::string here = bin_path(fs::path(w[k]).filename().string());
      if (fs::is_regular_file(here)) binaries.push_back(here);
    }
  }
  ASSERT_FALSE(binaries.empty()) << "the runtime stage copies no binary this build has";

  const std::set<std::string> install = installed_packages(runtime);
  ASSERT_FALSE(install.empty()) << "the runtime stage apt-get installs nothing";
  std::vector<std::string> depends = {"/usr/bin/apt-cache", "depends",       "--recurse",
                                      "--no-recommends",    "--no-suggests", "--no-conflicts",
                                      "--no-breaks",        "--no-replaces", "--no-enhances"};
  depends.insert(depends.end(), install.begin(), install.end());
  const CommandResult closure_out = run_command(depends, 60s, /*separate_stderr=*/true);
  ASSERT_EQ(closure_out.exit_code, 0) << join(depends) << ":\n" << closure_out.error_output;
  // What debian:bookworm-slim has already: apt and dpkg need these.
  std::set<std::string> available = {"libc6", "libgcc-s1", "libstdc++6", "zlib1g", "gcc-12-base"};
  std::istringstream lines(closure_out.output);
  for (std::string line; std::getline(lines, line);) {
    if (!line.empty() && line[0] != ' ' && line[0] != '<') available.insert(trim(line));
  }

  // The libraries the binaries load (path -> soname), from ldd.
  std::map<std::string, std::string> libraries;
  for (const auto& binary : binaries) {
    const CommandResult ldd = run_command({"/usr/bin/ldd", binary});
    ASSERT_EQ(ldd.exit_code, 0) << "ldd " << binary << ":\n" << ldd.output;
    static const std::regex needed(R"(^\s*(\S+) => (\S+))");
    std::istringstream in(ldd.output);
    for (std::string line; std::getline(in, line);) {
      std::smatch m;
      if (!std::regex_search(line, m, needed)) continue;
      ASSERT_NE(m[2].str(), "not") << binary << ": " << line;
      // The sanitizer build of these tests (scripts/test --sanitize) links the
      // sanitizer runtimes; the image is a Release build without them.
      static const std::regex sanitizer_runtime(R"(^lib(asan|ubsan|tsan|lsan)\.so)");
      if (std::regex_search(m[1].str(), sanitizer_runtime)) continue;
      libraries[m[2].str()] = m[1].str();
    }
  }
  // Their packages, in one dpkg -S (slow per call); Debian 12 lists some
  // files under /lib and some under /usr/lib, so both spellings are asked.
  std::vector<std::string> search = {"/usr/bin/dpkg", "-S"};
  for (const auto& [path, soname] : libraries) {
    search.push_back(path);
    search.push_back(path.rfind("/usr/", 0) == 0 ? path.substr(4) : "/usr" + path);
  }
  const CommandResult owners = run_command(search, 60s, /*separate_stderr=*/true);
  std::map<std::string, std::string> owner_of;  // path (either spelling) -> package
  std::istringstream owner_lines(owners.output);
  for (std::string line; std::getline(owner_lines, line);) {
    const size_t colon_space = line.find(": /");
    if (colon_space == std::string::npos) continue;
    const std::string package = line.substr(0, line.find_first_of(":,"));
    const std::string path = line.substr(colon_space + 2);
    owner_of[path] = package;
    owner_of[path.rfind("/usr/", 0) == 0 ? path.substr(4) : "/usr" + path] = package;
  }
  std::map<std::string, std::set<std::string>> missing;  // package -> libraries
  for (const auto& [path, soname] : libraries) {
    ASSERT_TRUE(owner_of.count(path)) << path << " (" << soname << ") is in no package";
    if (available.count(owner_of[path]) == 0) missing[owner_of[path]].insert(soname);
  }
  for (const auto& [package, libs] : missing) {
    ADD_FAILURE() << "the runtime stage lacks " << package << " (for "
                  << join(std::vector<std::string>(libs.begin(), libs.end()), ", ")
                  << "): neither installed nor pulled in by "
                  << join({install.begin(), install.end()});
  }
}

// Every configuration that names the model names the directory where the
// image holds it.
TEST(DeployImage, ModelPathIsWhereTheImageHoldsTheModel) {
  const auto stages = dockerfile_stages();
  ASSERT_GE(stages.size(), 2u);
  const Stage& runtime = stages.back();
  const std::string model = image_model_dir(runtime);
  ASSERT_FALSE(model.empty()) << "the runtime stage does not COPY models/demo";
  const auto env = stage_env(runtime);
  std::string workdir = "/";
  for (const auto& i : runtime.instructions) {
    if (i.keyword == "WORKDIR") workdir = (fs::path(workdir) / i.args).lexically_normal().string();
  }
  // The server's default is models/demo relative to the working directory.
  const std::string image_default =
      env.count("INFINI_MODEL") ? env.at("INFINI_MODEL")
                                : (fs::path(workdir) / "models/demo").lexically_normal().string();
  EXPECT_EQ(image_default, model) << "the image's server looks for its model elsewhere";

  const auto compose_env = compose_environment(yaml_at(load_compose(), "services", "infini"));
  if (compose_env.count("INFINI_MODEL")) EXPECT_EQ(compose_env.at("INFINI_MODEL"), model);
  const auto compose_command =
      command_words(yaml_at(load_compose(), "services", "infini", "command"));
  if (auto v = flag_value(compose_command, "--model")) EXPECT_EQ(*v, model);
  const auto data = config_map_data();
  if (data.count("INFINI_MODEL")) EXPECT_EQ(data.at("INFINI_MODEL"), model) << "ConfigMap";
}

// The settings of the compose service and of the ConfigMap are ones the
// server accepts: it starts with them (its addresses and model the test's)
// and exports the limits they set.
TEST(DeployImage, ServerStartsWithTheComposeAndKubernetesSettings) {
  const std::vector<std::pair<std::string, std::map<std::string, std::string>>> sources = {
      {"docker-compose.yml", compose_environment(yaml_at(load_compose(), "services", "infini"))},
      {"the k8s ConfigMap", config_map_data()}};
  for (const auto& [where, env] : sources) {
    SCOPED_TRACE(where);
    std::vector<std::string> flags;
    for (const auto& [name, value] : env) {
      if (name.rfind("INFINI_", 0) != 0) continue;
      if (name == "INFINI_LISTEN" || name == "INFINI_METRICS_LISTEN" || name == "INFINI_MODEL") {
        continue;  // the test's ports and model
      }
      // INFINI_MAX_STATE_BYTES -> --max-state-bytes
      std::string flag = "--" + name.substr(7);
      std::transform(flag.begin(), flag.end(), flag.begin(),
                     [](char c) { return c == '_' ? '-' : static_cast<char>(std::tolower(c)); });
      if (server_options().flags.count(flag) == 0) {
        ADD_FAILURE() << name << " is no variable of infini-server (it has no flag " << flag << ")";
        continue;
      }
      flags.insert(flags.end(), {flag, value});
    }
    std::unique_ptr<ServerProcess> server;
    try {
      server = ServerProcess::start(flags);
    } catch (const std::exception& e) {
      ADD_FAILURE() << "infini-server " << join(flags) << " did not start: " << e.what();
      continue;
    }
    const auto samples = scrape(*server);
    const std::vector<std::pair<std::string, std::string>> limits = {
        {"INFINI_QUEUE_CAPACITY", "infini_queue_capacity"},
        {"INFINI_MAX_SESSIONS", "infini_sessions_limit"},
        {"INFINI_MAX_STATE_BYTES", "infini_state_bytes_limit"}};
    for (const auto& [name, metric] : limits) {
      if (env.count(name)) {
        EXPECT_EQ(metric_value(samples, metric), std::stod(env.at(name))) << metric;
      }
    }
  }
}

// ---- health checks, run for real ----

// A health-check command as the container runs it: exec form (argv) or
// shell form (for /bin/sh -c), in the container's environment.
struct HealthCommand {
  std::vector<std::string> argv;
  std::string shell;
  std::map<std::string, std::string> env;
  std::string text() const { return shell.empty() ? join(argv) : shell; }
};

// HEALTHCHECK [--options] CMD <exec form | shell form>
std::optional<HealthCommand> dockerfile_health_command(const std::string& args) {
  static const std::regex form(R"(^(?:--\S+\s+)*CMD\s+([\s\S]+)$)", std::regex::icase);
  std::smatch m;
  if (!std::regex_match(args, m, form)) return std::nullopt;
  const std::string command = trim(m[1].str());
  HealthCommand h;
  if (command.rfind("[", 0) == 0) {
    try {
      for (const auto& w : Json::parse(command)) h.argv.push_back(w.get<std::string>());
    } catch (const std::exception&) {
      return std::nullopt;
    }
  } else {
    h.shell = command;
  }
  return h;
}

std::string with_port(std::string text, int port) {
  const std::string from = ":" + std::to_string(kGrpcPort);
  for (size_t pos = 0; (pos = text.find(from, pos)) != std::string::npos; pos += from.size()) {
    text.replace(pos, from.size(), ":" + std::to_string(port));
  }
  return text;
}

// Runs `command` here as the container would against a server on
// `grpc_port` instead of 50051: the image's infini-client is
// build/bin/infini-client, ":50051" in the command and its environment is
// ":<grpc_port>", and the client's default server (INFINI_SERVER, unless the
// environment sets it) is 127.0.0.1:<grpc_port>. Shell form runs in
// /bin/sh like Docker's, so `${INFINI_LISTEN##*:}` and the like expand.
CommandResult run_health_command(const HealthCommand& command, int grpc_port) {
  const std::string client = bin_path("infini-client");
  std::vector<std::string> argv;
  if (!command.argv.empty()) {
    for (const auto& a : command.argv) argv.push_back(with_port(a, grpc_port));
    if (fs::path(argv[0]).filename() == "infini-client") argv[0] = client;
  } else {
    static const std::regex program(R"((^|[\s;&|(])(\S*/)?infini-client\b)");
    argv = {"/bin/sh", "-c",
            std::regex_replace(with_port(command.shell, grpc_port), program, "$1" + client)};
  }
  std::vector<std::string> env;
  for (const auto& [k, v] : command.env) env.push_back(k + "=" + with_port(v, grpc_port));
  if (!command.env.count("INFINI_SERVER")) {
    env.push_back("INFINI_SERVER=127.0.0.1:" + std::to_string(grpc_port));
  }
  TempDir dir("infini-health");
  const fs::path log = dir.path() / "output.log";
  const pid_t pid = detail::spawn(argv, log, env);
  CommandResult result;
  if (auto status = detail::wait_for(pid, 20s)) {
    result.exit_code = detail::exit_code_of(*status);
  } else {
    result.timed_out = true;
    ::kill(-pid, SIGKILL);
    detail::wait_for(pid, 5s);
  }
  result.output = read_file(log);
  return result;
}

// The check calls the gRPC health service through a program the test can
// run (infini-client's `health`), passes while the server serves and fails,
// promptly, once it has stopped.
void expect_health_command_tracks_the_server(const HealthCommand& command,
                                             const std::string& where) {
  const std::string text = command.text();
  ASSERT_NE(text.find("infini-client"), std::string::npos)
      << where << " runs `" << text
      << "`; expected `infini-client health` (the image has no other gRPC health client)";
  ASSERT_NE(text.find("health"), std::string::npos) << where << ": " << text;
  auto server = ServerProcess::start();
  const int port = server->grpc_port();
  const CommandResult up = run_health_command(command, port);
  EXPECT_EQ(up.exit_code, 0) << where << " `" << text << "` against a serving server:\n"
                             << up.output;
  server->stop();
  const CommandResult down = run_health_command(command, port);
  EXPECT_NE(down.exit_code, 0) << where << " `" << text << "` passed with the server stopped:\n"
                               << down.output;
  EXPECT_FALSE(down.timed_out) << where << " hung for 20 s with the server stopped";
}

TEST(DeployImage, ImageHealthcheckTracksTheServer) {
  ASSERT_TRUE(fs::exists(dockerfile_path()));
  const auto stages = dockerfile_stages();
  ASSERT_FALSE(stages.empty());
  std::optional<HealthCommand> health;
  for (const auto& i : stages.back().instructions) {
    if (i.keyword == "HEALTHCHECK") health = dockerfile_health_command(i.args);
  }
  ASSERT_TRUE(health.has_value()) << "no HEALTHCHECK CMD in the runtime stage";
  health->env = stage_env(stages.back());
  expect_health_command_tracks_the_server(*health, "the Dockerfile's HEALTHCHECK");
}

TEST(DeployImage, ComposeHealthcheckTracksTheServer) {
  const YAML::Node service = yaml_at(load_compose(), "services", "infini");
  const YAML::Node test = yaml_at(service, "healthcheck", "test");
  ASSERT_TRUE(test) << "infini has no healthcheck";
  HealthCommand command;
  if (test.IsSequence()) {
    const auto words = command_words(test);
    ASSERT_FALSE(words.empty());
    if (words[0] == "CMD") {
      command.argv.assign(words.begin() + 1, words.end());
    } else if (words[0] == "CMD-SHELL") {
      command.shell = join(std::vector<std::string>(words.begin() + 1, words.end()));
    } else {
      FAIL() << "healthcheck test starts with " << words[0] << ", not CMD or CMD-SHELL";
    }
  } else {
    command.shell = test.as<std::string>("");
  }
  // The container's environment: the image's, then the service's.
  const auto stages = dockerfile_stages();
  if (!stages.empty()) command.env = stage_env(stages.back());
  for (const auto& [k, v] : compose_environment(service)) command.env[k] = v;
  expect_health_command_tracks_the_server(command, "docker-compose's infini healthcheck");
}

}  // namespace
}  // namespace infini::e2e
