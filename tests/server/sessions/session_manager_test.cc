#include "server/sessions/session_manager.h"

#include <gtest/gtest.h>

#include <map>
#include <regex>
#include <set>
#include <thread>

#include "engine/checkpoint_writer.h"
#include "server/rpc/generate_reactor.h"
#include "server/status.h"
#include "tests/engine/tiny_model_suite.h"

namespace infini::server {
namespace {

class SessionManagerTest : public infini::testing::TinyModelSuite {
 protected:
  static grpc::StatusCode code_of(const std::function<void()>& fn, std::string* message = nullptr) {
    try {
      fn();
    } catch (const ServiceError& e) {
      if (message) *message = e.what();
      return status_code(e.fault());
    }
    return grpc::StatusCode::OK;
  }

};

TEST_F(SessionManagerTest, IdsAreRandom128BitHex) {
  std::set<std::string> ids;
  for (int i = 0; i < 1000; ++i) {
    const auto id = new_session_id();
    ASSERT_TRUE(std::regex_match(id, std::regex("[0-9a-f]{32}"))) << id;
    ids.insert(id);
  }
  EXPECT_EQ(ids.size(), 1000u);
}

TEST_F(SessionManagerTest, SessionLimitAndStateLimit) {
  SessionManager by_count(model_, tokenizer_, {2, int64_t{1} << 40});
  by_count.create({}, "");
  by_count.create({}, "");
  std::string message;
  EXPECT_EQ(code_of([&] { by_count.create({}, ""); }, &message), grpc::StatusCode::RESOURCE_EXHAUSTED);
  EXPECT_NE(message.find("--max-sessions"), std::string::npos) << message;

  const int64_t one = model_->new_session().state_bytes();
  SessionManager by_bytes(model_, tokenizer_, {100, one * 3});
  for (int i = 0; i < 3; ++i) by_bytes.create({}, "");
  EXPECT_EQ(code_of([&] { by_bytes.create({}, ""); }, &message), grpc::StatusCode::RESOURCE_EXHAUSTED);
  EXPECT_NE(message.find("--max-state-bytes"), std::string::npos) << message;
  EXPECT_EQ(by_bytes.total_state_bytes(), 3 * one);
}

TEST_F(SessionManagerTest, GetRemoveAndPaging) {
  SessionManager m(model_, tokenizer_, {});
  std::vector<std::string> ids;
  for (int i = 0; i < 5; ++i) ids.push_back(m.create({{"n", std::to_string(i)}}, "")->id);
  std::sort(ids.begin(), ids.end());
  std::vector<std::string> seen;
  std::string token;
  int pages = 0;
  do {
    auto page = m.list(2, token, "");
    for (const auto& s : page.sessions) seen.push_back(s->id);
    token = page.next_token;
    ++pages;
  } while (!token.empty());
  EXPECT_EQ(seen, ids);
  EXPECT_EQ(pages, 3);
  EXPECT_TRUE(m.remove(ids[0], ""));
  EXPECT_FALSE(m.remove(ids[0], ""));
  std::string message;
  EXPECT_EQ(code_of([&] { m.get(ids[0], ""); }, &message), grpc::StatusCode::NOT_FOUND);
  EXPECT_NE(message.find(ids[0]), std::string::npos);
}

TEST_F(SessionManagerTest, ForkCopiesStateAndPendingTextIndependently) {
  SessionManager m(model_, tokenizer_, {});
  auto a = m.create({}, "");
  a->document.read_text(*model_, "The grass is green. The sky is bl", false);
  a->publish();
  auto b = m.fork(*a, {{"kind", "fork"}}, "");
  EXPECT_EQ(b->tokens.load(), a->tokens.load());
  EXPECT_EQ(b->document.encoder().pending_text(), a->document.encoder().pending_text());
  EXPECT_EQ(b->document.pending_ids(), a->document.pending_ids());
  EXPECT_EQ(b->document.state().to_host(), a->document.state().to_host());
  b->document.read_text(*model_, "ue and more words here.", false);
  EXPECT_NE(b->document.tokens(), a->document.tokens());
  EXPECT_EQ(a->document.encoder().pending_text(), " bl");  // waits for the end of the word
  EXPECT_EQ(b->labels.at("kind"), "fork");
}

TEST_F(SessionManagerTest, AnotherTenantsSessionIsNotFoundWordForWord) {
  SessionManager m(model_, tokenizer_, {});
  auto a = m.create({{"owner", "a"}}, "tenant-a");
  auto b = m.create({}, "tenant-b");
  EXPECT_EQ(a->tenant, "tenant-a");
  EXPECT_EQ(m.get(a->id, "tenant-a"), a);

  // The other tenant's answer is the one a nonexistent id gets, but for the id.
  std::string foreign, missing;
  EXPECT_EQ(code_of([&] { m.get(a->id, "tenant-b"); }, &foreign), grpc::StatusCode::NOT_FOUND);
  const std::string unknown_id(32, '0');
  EXPECT_EQ(code_of([&] { m.get(unknown_id, "tenant-b"); }, &missing),
            grpc::StatusCode::NOT_FOUND);
  EXPECT_EQ(foreign, "session '" + a->id + "' not found");
  EXPECT_EQ(missing, "session '" + unknown_id + "' not found");
  EXPECT_EQ(code_of([&] { m.get(a->id, ""); }), grpc::StatusCode::NOT_FOUND);

  EXPECT_FALSE(m.remove(a->id, "tenant-b"));
  EXPECT_EQ(m.count(), 2);

  auto listed = [&](const std::string& tenant) {
    std::vector<std::string> ids;
    for (const auto& s : m.list(100, "", tenant).sessions) ids.push_back(s->id);
    return ids;
  };
  EXPECT_EQ(listed("tenant-a"), std::vector<std::string>{a->id});
  EXPECT_EQ(listed("tenant-b"), std::vector<std::string>{b->id});
  EXPECT_TRUE(listed("").empty());

  // A fork belongs to whoever asked for it.
  auto copy = m.fork(*a, {}, "tenant-a");
  EXPECT_EQ(copy->tenant, "tenant-a");
  EXPECT_EQ(copy->labels.at("owner"), "a");

  // The snapshot keeps the owner.
  SessionSnapshot snap = m.snapshot_of(*a);
  EXPECT_EQ(snap.tenant, "tenant-a");
  EXPECT_TRUE(m.remove(a->id, "tenant-a"));
  auto back = m.restore(snap);
  EXPECT_EQ(back->tenant, "tenant-a");
  EXPECT_EQ(code_of([&] { m.get(a->id, "tenant-b"); }), grpc::StatusCode::NOT_FOUND);
}

TEST_F(SessionManagerTest, PagingSkipsOtherTenants) {
  SessionManager m(model_, tokenizer_, {});
  std::vector<std::string> mine;
  for (int i = 0; i < 6; ++i) {
    auto s = m.create({}, i % 2 == 0 ? "me" : "them");
    if (i % 2 == 0) mine.push_back(s->id);
  }
  std::sort(mine.begin(), mine.end());
  std::vector<std::string> seen;
  std::string token;
  do {
    auto page = m.list(1, token, "me");
    for (const auto& s : page.sessions) seen.push_back(s->id);
    token = page.next_token;
  } while (!token.empty());
  EXPECT_EQ(seen, mine);
}

TEST_F(SessionManagerTest, IdleSessionsExpire) {
  SessionManager m(model_, tokenizer_, {});
  auto old_one = m.create({}, "");
  auto fresh = m.create({}, "");
  old_one->last_used_ns -= int64_t{10'000'000'000};  // used 10 s ago
  auto expired = m.expire_idle(std::chrono::seconds(5));
  ASSERT_EQ(expired.size(), 1u);
  EXPECT_EQ(expired[0], old_one->id);
  EXPECT_EQ(m.count(), 1);
}

TEST(GenerationRequestTest, FieldsAreCheckedAgainstLimits) {
  GenerationLimits limits{16, 100};
  v1::GenerationParams p;
  auto r = generation_request(p, limits, {"\n"});
  EXPECT_EQ(r.max_tokens, 16);
  EXPECT_EQ(r.stop, std::vector<std::string>{"\n"});
  EXPECT_EQ(r.sampling.top_p, 1.0f);
  auto message_of = [&](const v1::GenerationParams& bad) -> std::string {
    try {
      generation_request(bad, limits, {});
    } catch (const ServiceError& e) {
      EXPECT_EQ(status_code(e.fault()), grpc::StatusCode::INVALID_ARGUMENT);
      return e.what();
    }
    return "accepted";
  };
  v1::GenerationParams bad;
  bad.set_max_tokens(101);
  EXPECT_NE(message_of(bad).find("params.max_tokens"), std::string::npos);
  bad = {};
  bad.set_temperature(-1);
  EXPECT_NE(message_of(bad).find("temperature"), std::string::npos);
  bad = {};
  bad.set_top_p(1.5f);
  EXPECT_NE(message_of(bad).find("top_p"), std::string::npos);
  bad = {};
  bad.add_stop("");
  EXPECT_NE(message_of(bad).find("params.stop[0]"), std::string::npos);
}

}  // namespace
}  // namespace infini::server
