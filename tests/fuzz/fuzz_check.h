// What a fuzz target does when an invariant fails: says which, then traps, so that
// libFuzzer reports a crash and keeps the input.
#pragma once

#include <cstdio>
#include <string>

namespace infini::fuzz {

[[noreturn]] inline void fail(const std::string& what) {
  std::fprintf(stderr, "fuzz invariant failed: %s\n", what.c_str());
  std::fflush(stderr);
  __builtin_trap();
}

// `what` is a literal: building a message on every call would slow the targets.
inline void check(bool ok, const char* what) {
  if (!ok) fail(what);
}

}  // namespace infini::fuzz
