// How infini-client fails, apart from a failed call (ClientError): main()
// turns each kind into its own exit status, so a script can tell a command
// line it got wrong (2) from something that went wrong while running (1).
#pragma once

#include <stdexcept>
#include <string>
#include <utility>

namespace infini::client::cli {

// A command line the user got wrong: exit 2 with a pointer to --help.
class UsageError : public std::runtime_error {
 public:
  UsageError(const std::string& message, std::string command)
      : std::runtime_error(message), command(std::move(command)) {}
  std::string command;
};

// A local failure (a file that cannot be read): exit 1.
class LocalError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

}  // namespace infini::client::cli
