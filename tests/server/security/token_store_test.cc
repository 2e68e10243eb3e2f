#include "server/security/token_store.h"

#include <gtest/gtest.h>
#include <sys/stat.h>

#include <filesystem>
#include <fstream>
#include <string>

#include "server/metrics/metrics.h"
#include "server/security/authenticator.h"
#include "server/status.h"

namespace infini::server {
namespace {

namespace fs = std::filesystem;
using SystemClock = std::chrono::system_clock;

constexpr const char* kAliceToken = "alice-token-0123456789";
constexpr const char* kBobToken = "bob-token-abcdefghijkl";

std::string hex(const TokenDigest& d) {
  static const char* kHex = "0123456789abcdef";
  std::string out;
  for (uint8_t b : d) {
    out += kHex[b >> 4];
    out += kHex[b & 15];
  }
  return out;
}

// The message of parse_token_file's error, or "accepted".
std::string parse_error(const std::string& text) {
  try {
    parse_token_file(text, "tokens.txt");
  } catch (const TokenFileError& e) {
    return e.what();
  }
  return "accepted";
}

class TokenFile {
 public:
  TokenFile() {
    dir_ = fs::temp_directory_path() /
           ("token_store_test_" + std::to_string(::getpid()) + "_" + std::to_string(counter_++));
    fs::create_directories(dir_);
  }
  ~TokenFile() { fs::remove_all(dir_); }
  // Written to a new file renamed into place: a new inode, as editors and
  // Kubernetes secret updates do, so the change is seen whatever the mtime.
  void write(const std::string& text) {
    const fs::path tmp = dir_ / "tokens.tmp";
    std::ofstream(tmp) << text;
    fs::permissions(tmp, fs::perms::owner_read | fs::perms::owner_write);
    fs::rename(tmp, path());
  }
  fs::path path() const { return dir_ / "tokens"; }

 private:
  static inline int counter_ = 0;
  fs::path dir_;
};

TEST(TokenFileTest, ParsesTenantsTokensDigestsAndExpiry) {
  const std::string text = std::string("# comment\n\n") + "alice " + kAliceToken + "\n" +
                           "  bob\tsha256:" + hex(sha256_of(kBobToken)) +
                           "   expires=2027-01-01T00:00:00Z  \r\n" + "team.b_2-x " +
                           "another-token-for-bob" + "\n";
  const auto entries = parse_token_file(text, "tokens.txt");
  ASSERT_EQ(entries.size(), 3u);
  EXPECT_EQ(entries[0].tenant, "alice");
  EXPECT_EQ(entries[0].digest, sha256_of(kAliceToken));
  EXPECT_FALSE(entries[0].expires);
  EXPECT_EQ(entries[0].line, 3);
  EXPECT_EQ(entries[1].tenant, "bob");
  EXPECT_EQ(entries[1].digest, sha256_of(kBobToken));
  ASSERT_TRUE(entries[1].expires);
  EXPECT_EQ(SystemClock::to_time_t(*entries[1].expires), 1798761600);
  EXPECT_EQ(entries[2].tenant, "team.b_2-x");
  EXPECT_TRUE(parse_token_file("", "f").empty());
  EXPECT_TRUE(parse_token_file("# only a comment", "f").empty());
}

TEST(TokenFileTest, ErrorsNameFileAndLineAndNeverTheToken) {
  const std::string secret = "s3cret-value-that-must-not-leak";
  struct Case {
    std::string text;
    std::string expected;  // part of the message
  };
  const Case cases[] = {
      {"# header\nalice " + secret + " extra=1\n",
       "tokens.txt:2: the third field must be expires="},
      {"alice\n", "tokens.txt:1: expected '<tenant> <token> [expires=<time>]', found 1 field"},
      {"alice " + secret + " expires=2027-01-01T00:00:00Z more\n", "tokens.txt:1: expected"},
      {"al/ice " + secret + "\n", "tokens.txt:1: the first field (the tenant) may use only A-Z a-z 0-9 . _ -"},
      {"alice short-token\n", "tokens.txt:1: the token is 11 characters; at least 16"},
      {"alice sha256:abcd\n", "tokens.txt:1: sha256: must be followed by exactly 64 hex digits"},
      {"alice sha256:" + std::string(63, 'a') + "g\n", "sha256: must be followed by exactly 64"},
      {"alice " + secret + " expires=2027-02-30T00:00:00Z\n",
       "tokens.txt:1: expires='2027-02-30T00:00:00Z' is not an RFC 3339 UTC time"},
      {"alice " + secret + " expires=2027-01-01T00:00:00+01:00\n", "is not an RFC 3339 UTC time"},
      {"alice " + secret + " expires=2027-01-01\n", "is not an RFC 3339 UTC time"},
      {"alice " + secret + "\n\nbob " + secret + "\n",
       "tokens.txt:3: the same token as line 1 (tenant alice); every token must be unique"},
      {"alice " + secret + "\nbob sha256:" + hex(sha256_of(secret)) + "\n",
       "tokens.txt:2: the same token as line 1"},
  };
  for (const Case& c : cases) {
    const std::string message = parse_error(c.text);
    EXPECT_NE(message.find(c.expected), std::string::npos) << c.text << " -> " << message;
    EXPECT_EQ(message.find(secret), std::string::npos) << message;
    EXPECT_EQ(message.find(hex(sha256_of(secret))), std::string::npos) << message;
  }
}

TEST(TokenFileTest, Rfc3339UtcOnly) {
  EXPECT_TRUE(parse_rfc3339_utc("2027-01-01T00:00:00Z"));
  EXPECT_TRUE(parse_rfc3339_utc("2028-02-29T23:59:59Z"));
  EXPECT_FALSE(parse_rfc3339_utc("2027-02-29T00:00:00Z"));
  EXPECT_FALSE(parse_rfc3339_utc("2027-13-01T00:00:00Z"));
  EXPECT_FALSE(parse_rfc3339_utc("2027-01-01T24:00:00Z"));
  EXPECT_FALSE(parse_rfc3339_utc("2027-01-01 00:00:00Z"));
  EXPECT_FALSE(parse_rfc3339_utc("2027-01-01T00:00:00"));
  EXPECT_FALSE(parse_rfc3339_utc(""));
}

TEST(TokenStoreTest, LookupByPlainOrDigestAndExpiry) {
  TokenFile file;
  file.write(std::string("alice ") + kAliceToken + "\nbob sha256:" + hex(sha256_of(kBobToken)) +
             " expires=2027-01-01T00:00:00Z\n");
  TokenStore store(file.path());
  EXPECT_EQ(store.size(), 2u);
  const auto before = *parse_rfc3339_utc("2026-12-31T23:59:59Z");
  const auto after = *parse_rfc3339_utc("2027-01-01T00:00:00Z");
  auto alice = store.lookup(kAliceToken, after);
  EXPECT_EQ(alice.outcome, TokenStore::Outcome::kValid);
  EXPECT_EQ(alice.tenant, "alice");
  auto bob = store.lookup(kBobToken, before);
  EXPECT_EQ(bob.outcome, TokenStore::Outcome::kValid);
  EXPECT_EQ(bob.tenant, "bob");
  EXPECT_EQ(store.lookup(kBobToken, after).outcome, TokenStore::Outcome::kExpired);
  EXPECT_EQ(store.lookup(kBobToken, after).tenant, "");
  EXPECT_EQ(store.lookup("not-a-known-token-at-all").outcome, TokenStore::Outcome::kUnknown);
  EXPECT_EQ(store.lookup("").outcome, TokenStore::Outcome::kUnknown);
  // The digest form is a way to write the file, not a token itself.
  EXPECT_EQ(store.lookup("sha256:" + hex(sha256_of(kBobToken))).outcome,
            TokenStore::Outcome::kUnknown);
}

TEST(TokenStoreTest, LoadErrorsNameTheFile) {
  TokenFile file;
  try {
    TokenStore store(file.path());
    ADD_FAILURE() << "a missing file was accepted";
  } catch (const TokenFileError& e) {
    EXPECT_NE(std::string(e.what()).find(file.path().string()), std::string::npos) << e.what();
  }
  file.write("alice short\n");
  try {
    TokenStore store(file.path());
    ADD_FAILURE() << "a bad file was accepted";
  } catch (const TokenFileError& e) {
    EXPECT_NE(std::string(e.what()).find(file.path().string() + ":1:"), std::string::npos)
        << e.what();
  }
}

TEST(TokenStoreTest, ReloadRevokesAndAFailedReloadKeepsTheOldTable) {
  TokenFile file;
  file.write(std::string("alice ") + kAliceToken + "\nbob " + kBobToken + "\n");
  TokenStore store(file.path());
  EXPECT_FALSE(store.reload_if_changed()) << "nothing changed";

  // Bob's token is revoked: removed from the file.
  file.write(std::string("alice ") + kAliceToken + "\n");
  EXPECT_TRUE(store.reload_if_changed());
  EXPECT_EQ(store.lookup(kBobToken).outcome, TokenStore::Outcome::kUnknown);
  EXPECT_EQ(store.lookup(kAliceToken).outcome, TokenStore::Outcome::kValid);

  // A broken file is refused; the tokens in force stay as they were.
  file.write(std::string("alice ") + kAliceToken + "\nbroken-line-without-token\n");
  EXPECT_FALSE(store.reload_if_changed());
  const auto error = store.reload();
  ASSERT_TRUE(error.has_value());
  EXPECT_NE(error->find(":2:"), std::string::npos) << *error;
  EXPECT_EQ(store.lookup(kAliceToken).outcome, TokenStore::Outcome::kValid);
  EXPECT_EQ(store.size(), 1u);

  // A removed file is a failed reload too.
  fs::remove(file.path());
  EXPECT_TRUE(store.reload().has_value());
  EXPECT_EQ(store.lookup(kAliceToken).outcome, TokenStore::Outcome::kValid);

  // Fixed: in force again, with the new token.
  file.write(std::string("carol ") + kBobToken + "\n");
  EXPECT_TRUE(store.reload_if_changed());
  EXPECT_EQ(store.lookup(kBobToken).tenant, "carol");
  EXPECT_EQ(store.lookup(kAliceToken).outcome, TokenStore::Outcome::kUnknown);
}

// The authenticator over metadata values: codes, messages, metric reasons.
TEST(AuthenticatorTest, RefusalsAreUnauthenticatedWithoutTheToken) {
  TokenFile file;
  file.write(std::string("alice ") + kAliceToken + "\nbob " + kBobToken +
             " expires=2020-01-01T00:00:00Z\n");
  TokenStore store(file.path());
  ServerMetrics metrics;
  Authenticator auth(store, &metrics);
  const std::string bearer = std::string("Bearer ") + kAliceToken;
  EXPECT_EQ(auth.authenticate({bearer}), "alice");
  EXPECT_EQ(auth.authenticate({std::string("bearer  ") + kAliceToken}), "alice");

  struct Case {
    std::vector<std::string> values;
    std::string message;
  };
  const Case cases[] = {
      {{}, "missing credentials"},
      {{"Basic " + std::string(kAliceToken)}, "malformed credentials"},
      {{kAliceToken}, "malformed credentials"},
      {{"Bearer"}, "malformed credentials"},
      {{"Bearer "}, "malformed credentials"},
      {{bearer + " extra"}, "malformed credentials"},
      {{bearer, bearer}, "more than one"},
      {{"Bearer wrong-token-0123456789"}, "invalid bearer token"},
      {{std::string("Bearer ") + kBobToken}, "token expired"},
  };
  for (const Case& c : cases) {
    std::vector<std::string_view> views(c.values.begin(), c.values.end());
    try {
      auth.authenticate(views);
      ADD_FAILURE() << "accepted " << c.message;
    } catch (const ServiceError& e) {
      EXPECT_EQ(status_code(e.fault()), grpc::StatusCode::UNAUTHENTICATED);
      EXPECT_NE(std::string(e.what()).find(c.message), std::string::npos) << e.what();
      EXPECT_EQ(std::string(e.what()).find(kAliceToken), std::string::npos) << e.what();
      EXPECT_EQ(std::string(e.what()).find(kBobToken), std::string::npos) << e.what();
    }
  }
  const std::string text = metrics.render();
  EXPECT_NE(text.find("infini_auth_failures_total{reason=\"missing\"} 1"), std::string::npos)
      << text;
  EXPECT_NE(text.find("infini_auth_failures_total{reason=\"invalid\"} 7"), std::string::npos);
  EXPECT_NE(text.find("infini_auth_failures_total{reason=\"expired\"} 1"), std::string::npos);
}

}  // namespace
}  // namespace infini::server
