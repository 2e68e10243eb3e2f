// The session id rule (server/sessions/session_id.h): what requests, imported
// snapshots and snapshot file names must meet before an id is used.
#include "server/sessions/session_id.h"

#include <gtest/gtest.h>

#include <initializer_list>
#include <string>

namespace infini::server {
namespace {

TEST(SessionId, TheServersOwnAndPlainIdsAreValid) {
  EXPECT_TRUE(is_valid_session_id("0123456789abcdef0123456789abcdef"));
  EXPECT_TRUE(is_valid_session_id("a"));
  EXPECT_TRUE(is_valid_session_id("Tenant_B-session-7"));
  EXPECT_TRUE(is_valid_session_id(std::string(kMaxSessionIdBytes, 'z')));
}

TEST(SessionId, EmptyLongAndOtherCharactersAreNot) {
  EXPECT_FALSE(is_valid_session_id(""));
  EXPECT_FALSE(is_valid_session_id(std::string(kMaxSessionIdBytes + 1, 'z')));
  for (const std::string& id : std::initializer_list<std::string>{"a b", "a\nb", "a/b", "..", "a.b", "a'b", "a\"b", "a\\b", "a:b",
                               "caf\xc3\xa9", std::string("a\0b", 3)}) {
    EXPECT_FALSE(is_valid_session_id(id)) << id;
  }
}

}  // namespace
}  // namespace infini::server
