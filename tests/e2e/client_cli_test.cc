// infini-client (the binary) against the same in-process fake service as
// the library tests: what it prints, sends and exits with.
#include <sys/wait.h>

#include "tests/e2e/fake_long_context.h"

namespace infini::client {
namespace {

class ClientCliTest : public ClientLibraryTest {};

// ---- infini-client against the same fake ----

struct CliResult {
  int exit_code = -1;
  std::string out;
  std::string err;
};

// `environment`: assignments put before the command, as a shell reads them.
CliResult run_cli(const std::string& args, const std::string& environment = "") {
  const auto err_path = std::filesystem::temp_directory_path() /
                        ("infini_client_test_" + std::to_string(::getpid()) + ".err");
  const std::string command = environment + " " + std::string(INFINI_BIN_DIR) + "/infini-client " +
                              args + " 2>" + err_path.string();
  CliResult result;
  std::FILE* pipe = ::popen(command.c_str(), "r");
  if (pipe == nullptr) return result;
  char buf[4096];
  size_t got;
  while ((got = std::fread(buf, 1, sizeof buf, pipe)) > 0) result.out.append(buf, got);
  const int status = ::pclose(pipe);
  result.exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  std::ifstream err(err_path);
  result.err.assign(std::istreambuf_iterator<char>(err), std::istreambuf_iterator<char>());
  std::filesystem::remove(err_path);
  return result;
}

TEST_F(ClientCliTest, CliIngestPrintsTheSessionIdAndSendsTheFile) {
  const auto path = std::filesystem::temp_directory_path() /
                    ("infini_client_doc_" + std::to_string(::getpid()) + ".txt");
  const std::string doc = make_document(5000);
  std::ofstream(path, std::ios::binary) << doc;
  const CliResult r = run_cli("--server " + address_ + " ingest " + path.string() +
                              " --chunk-bytes 1K --label team=search --no-progress");
  std::filesystem::remove(path);
  EXPECT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(r.out, "new-1\n");
  EXPECT_NE(r.err.find("tokens"), std::string::npos) << r.err;
  EXPECT_NE(r.err.find("compression 16.0x"), std::string::npos) << r.err;
  const auto messages = only_ingest();
  ASSERT_EQ(messages.size(), (doc.size() + 1023) / 1024);
  EXPECT_EQ(messages[0].create().labels().at("team"), "search");
  std::string joined;
  for (const auto& m : messages) joined += m.text_bytes();
  EXPECT_TRUE(joined == doc);
}

TEST_F(ClientCliTest, CliAskStreamsTextToStdoutAndUsageToStderr) {
  const CliResult r = run_cli("ask s01 'why?' --server " + address_ +
                              " --max-tokens 9 --stop END --stop STOP --temperature 0.5");
  EXPECT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(r.out, "The answer is 42.");
  EXPECT_NE(r.err.find("finish: stop, prompt 11 tokens, generated 5 tokens"), std::string::npos)
      << r.err;
  std::lock_guard lock(service_.mu);
  EXPECT_EQ(service_.last_ask.question(), "why?");
  EXPECT_EQ(service_.last_ask.params().max_tokens(), 9);
  EXPECT_EQ(service_.last_ask.params().stop_size(), 2);
}

TEST_F(ClientCliTest, CliSessionsLsPrintsATableOfEveryPage) {
  const CliResult ls = run_cli("sessions ls --page-size 2 --server " + address_);
  EXPECT_EQ(ls.exit_code, 0) << ls.err;
  std::istringstream lines(ls.out);
  std::vector<std::string> rows;
  for (std::string line; std::getline(lines, line);) rows.push_back(line);
  ASSERT_EQ(rows.size(), 8u) << ls.out;
  EXPECT_EQ(rows[0].rfind("ID", 0), 0u);
  EXPECT_NE(rows[0].find("LAST USED"), std::string::npos);
  EXPECT_EQ(rows[4].rfind("s03", 0), 0u);
  EXPECT_NE(rows[4].find("3,000"), std::string::npos) << rows[4];
  EXPECT_NE(rows[4].find("37.5x"), std::string::npos) << rows[4];
}

TEST_F(ClientCliTest, CliErrorsExitOneWithCodeAndUsageErrorsExitTwo) {
  const CliResult missing = run_cli("--server " + address_ + " sessions get missing");
  EXPECT_EQ(missing.exit_code, 1);
  EXPECT_EQ(missing.err, "infini-client: NOT_FOUND: session missing not found\n");
  const CliResult env = run_cli("sessions get missing", "INFINI_SERVER=" + address_);
  EXPECT_EQ(env.exit_code, 1);
  EXPECT_EQ(env.err, "infini-client: NOT_FOUND: session missing not found\n");
  const CliResult slow = run_cli("--server " + address_ + " --timeout 0.2 sessions get slow");
  EXPECT_EQ(slow.exit_code, 1);
  EXPECT_EQ(slow.err.rfind("infini-client: DEADLINE_EXCEEDED: ", 0), 0u) << slow.err;
  EXPECT_EQ(run_cli("ask s01").exit_code, 2);
  EXPECT_EQ(run_cli("ingest file --bogus").exit_code, 2);
  EXPECT_EQ(run_cli("sessions frobnicate").exit_code, 2);
  EXPECT_EQ(run_cli("ask --help").exit_code, 0);
}

}  // namespace
}  // namespace infini::client
