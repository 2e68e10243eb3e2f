#include "engine/utf8_validator.h"

#include <gtest/gtest.h>

#include <random>
#include <string>

namespace infini {
namespace {

// Feeds `text` cut at every position in `cuts`, committing accepted chunks.
std::optional<int64_t> feed(const std::string& text, size_t chunk) {
  Utf8Validator v;
  for (size_t at = 0; at < text.size(); at += chunk) {
    auto r = v.check(std::string_view(text).substr(at, chunk));
    if (r.invalid_at) return r.invalid_at;
    v.commit(r);
  }
  EXPECT_TRUE(v.complete());
  return std::nullopt;
}

TEST(Utf8ValidatorTest, ValidTextCutAnywhereIsAccepted) {
  const std::string text = "plain ascii, caf\xC3\xA9, \xE2\x82\xAC 20, \xF0\x9F\x98\x80 and \xE4\xB8\xAD\xE6\x96\x87";
  for (size_t chunk = 1; chunk <= text.size(); ++chunk) EXPECT_FALSE(feed(text, chunk)) << chunk;
}

TEST(Utf8ValidatorTest, InvalidBytesAreReportedAtTheirStreamOffset) {
  struct Case {
    std::string text;
    int64_t offset;
  } cases[] = {
      {"abc\xFF", 3},                  // never valid
      {"0123456789abc\xFF", 13},
      {"ab\xC0\xAF", 2},               // overlong '/'
      {"ab\xE0\x80\xAF", 3},           // overlong, caught at the second byte
      {"x\xED\xA0\x80", 2},            // surrogate U+D800
      {"x\xF4\x90\x80\x80", 2},        // past U+10FFFF
      {"x\xC3(", 2},                   // continuation expected
      {"\x80", 0},                     // lone continuation
  };
  for (const auto& c : cases) {
    for (size_t chunk : {size_t{1}, size_t{2}, c.text.size()}) {
      auto at = feed(c.text, chunk);
      ASSERT_TRUE(at.has_value()) << c.text;
      EXPECT_EQ(*at, c.offset) << "chunk " << chunk;
    }
  }
}

TEST(Utf8ValidatorTest, RejectedChunkLeavesNoTrace) {
  Utf8Validator v;
  auto ok = v.check("caf\xC3");  // ends inside a character
  ASSERT_FALSE(ok.invalid_at);
  v.commit(ok);
  EXPECT_FALSE(v.complete());
  auto bad = v.check("\xFF");
  ASSERT_TRUE(bad.invalid_at);
  EXPECT_EQ(*bad.invalid_at, 4);
  // Not committed: the validator still expects the continuation byte.
  auto good = v.check("\xA9 ok");
  EXPECT_FALSE(good.invalid_at);
  v.commit(good);
  EXPECT_TRUE(v.complete());
  EXPECT_EQ(v.offset(), 8);
}

}  // namespace
}  // namespace infini
