// Runs a command line through the shell, as a user would, for the
// end-to-end tests of the `infini` binary and of the Python tools.
#pragma once

#include <sys/wait.h>

#include <array>
#include <cstdio>
#include <string>

namespace infini::testing {

struct CliResult {
  int status = -1;     // the exit status; -1 when it did not exit normally
  std::string output;  // stdout, and stderr unless left out
};

// `command` run by /bin/sh; its stderr is mixed into the output (2>&1), or
// discarded when `with_stderr` is false.
inline CliResult run_shell(const std::string& command, bool with_stderr = true) {
  CliResult r;
  FILE* pipe = popen((command + (with_stderr ? " 2>&1" : " 2>/dev/null")).c_str(), "r");
  if (pipe == nullptr) return r;
  std::array<char, 4096> buf;
  size_t n;
  while ((n = fread(buf.data(), 1, buf.size(), pipe)) > 0) r.output.append(buf.data(), n);
  const int raw = pclose(pipe);
  r.status = WIFEXITED(raw) ? WEXITSTATUS(raw) : -1;
  return r;
}

// The built `infini` with `args` (split as the shell splits them).
inline CliResult run_infini(const std::string& args, bool with_stderr = true) {
  return run_shell(std::string(INFINI_BIN_DIR) + "/infini " + args, with_stderr);
}

}  // namespace infini::testing
