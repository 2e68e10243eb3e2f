// The registry: ids by tenant, the session-count limits, and the budget
// slots its entries hold (given back on removal, expiry, eviction and its
// own destruction); the eviction candidate is the least recently used idle
// resident session.
#include "server/sessions/session_registry.h"

#include <gtest/gtest.h>

#include "server/service_error.h"
#include "tests/engine/tiny_model_suite.h"

namespace infini::server {
namespace {

class SessionRegistryTest : public infini::testing::TinyModelSuite {
 protected:
  static std::shared_ptr<Session> session(const std::string& id, const std::string& tenant,
                                          int64_t used_at = -1) {
    auto s = std::make_shared<Session>(id, tenant, Labels{},
                                       DocumentReader(tokenizer_, model_->new_session()));
    if (used_at >= 0) s->last_used_ns = used_at;  // otherwise now
    return s;
  }
  static SessionLimits limits(int64_t max_sessions, int64_t per_tenant = 0) {
    SessionLimits l;
    l.max_sessions = max_sessions;
    l.max_sessions_per_tenant = per_tenant;
    return l;
  }
  static Fault fault_of(const std::function<void()>& fn, std::string* message = nullptr) {
    try {
      fn();
    } catch (const ServiceError& e) {
      if (message != nullptr) *message = e.what();
      return e.fault();
    }
    ADD_FAILURE() << "no ServiceError";
    return Fault::kBadRequest;
  }

  StateBudget budget_{1, 100};
};

TEST_F(SessionRegistryTest, AnotherTenantsSessionIsNotFoundWordForWord) {
  SessionRegistry registry(limits(10));
  registry.insert(session("a", "alice"), std::move(*budget_.try_reserve()));
  EXPECT_EQ(registry.get("a", "alice")->id, "a");
  std::string theirs, missing;
  EXPECT_EQ(fault_of([&] { registry.get("a", "bob"); }, &theirs), Fault::kUnknownSession);
  EXPECT_EQ(fault_of([&] { registry.get("b", "bob"); }, &missing), Fault::kUnknownSession);
  EXPECT_EQ(theirs.find("'a'"), missing.find("'b'"));
  EXPECT_EQ(theirs.substr(theirs.find("' ")), missing.substr(missing.find("' ")));
  EXPECT_FALSE(registry.remove("a", "bob"));
  EXPECT_EQ(registry.count(), 1);
}

TEST_F(SessionRegistryTest, RefusesADuplicateIdAndSessionsPastTheLimits) {
  SessionRegistry registry(limits(3, 2));
  registry.insert(session("a", "t"), std::move(*budget_.try_reserve()));
  EXPECT_EQ(fault_of([&] { registry.insert(session("a", "u"), {}); }), Fault::kSessionExists);
  registry.insert(session("b", "t"), {});
  std::string message;
  EXPECT_EQ(fault_of([&] { registry.check_room("t"); }, &message), Fault::kLimit);
  EXPECT_NE(message.find("--max-sessions-per-tenant"), std::string::npos) << message;
  registry.insert(session("c", "u"), {});
  EXPECT_EQ(fault_of([&] { registry.insert(session("d", "v"), {}); }, &message), Fault::kLimit);
  EXPECT_NE(message.find("--max-sessions"), std::string::npos) << message;
  EXPECT_EQ(registry.count(), 3);
  EXPECT_EQ(budget_.in_use(), 1) << "refused inserts hold no slot";
}

TEST_F(SessionRegistryTest, EntriesHoldTheirSlotsUntilRemovedEvictedOrDestroyed) {
  {
    SessionRegistry registry(limits(10));
    auto a = session("a", "");
    auto b = session("b", "");
    registry.insert(a, std::move(*budget_.try_reserve()));
    registry.insert(b, std::move(*budget_.try_reserve()));
    registry.insert(session("c", ""), {});  // registered as evicted
    EXPECT_EQ(budget_.in_use(), 2);
    EXPECT_EQ(registry.resident_count(), 2);
    EXPECT_EQ(registry.evicted_count(), 1);

    registry.mark_evicted(*a);
    EXPECT_FALSE(a->resident);
    EXPECT_EQ(budget_.in_use(), 1);
    registry.mark_resident(*a, std::move(*budget_.try_reserve()));
    EXPECT_TRUE(a->resident);
    EXPECT_EQ(budget_.in_use(), 2);

    EXPECT_TRUE(registry.remove("b", ""));
    EXPECT_FALSE(registry.holds(b));
    EXPECT_EQ(budget_.in_use(), 1);
    // Reloaded after its removal (a call that found it before): the slot is
    // not kept for a session nobody can find.
    registry.mark_resident(*b, std::move(*budget_.try_reserve()));
    EXPECT_EQ(budget_.in_use(), 1);
  }
  EXPECT_EQ(budget_.in_use(), 0) << "a destroyed registry gives every slot back";
}

TEST_F(SessionRegistryTest, TheEvictionCandidateIsTheLeastRecentlyUsedIdleResident) {
  SessionRegistry registry(limits(10));
  auto oldest = session("a", "", 100);
  auto older = session("b", "", 200);
  auto newer = session("c", "", 300);
  auto evicted = session("d", "", 50);
  registry.insert(oldest, std::move(*budget_.try_reserve()));
  registry.insert(older, std::move(*budget_.try_reserve()));
  registry.insert(newer, std::move(*budget_.try_reserve()));
  registry.insert(evicted, {});
  EXPECT_EQ(registry.eviction_candidate(nullptr, {}), oldest);
  EXPECT_EQ(registry.eviction_candidate(oldest.get(), {}), older) << "never the requester";
  EXPECT_EQ(registry.eviction_candidate(nullptr, {oldest.get()}), older) << "nor one tried";
  ++older->users;
  EXPECT_EQ(registry.eviction_candidate(oldest.get(), {}), newer) << "nor one in use";
  ++newer->users;
  EXPECT_EQ(registry.eviction_candidate(oldest.get(), {}), nullptr);
}

TEST_F(SessionRegistryTest, ExpiryRemovesIdleSessionsOnly) {
  SessionRegistry registry(limits(10));
  const auto now = Clock::now();
  auto old_idle = session("a", "");
  auto old_held = session("b", "");
  auto fresh = session("c", "");
  for (auto* s : {&old_idle, &old_held}) {
    (*s)->last_used_ns = std::chrono::duration_cast<std::chrono::nanoseconds>(
                             (now - std::chrono::hours(1)).time_since_epoch())
                             .count();
  }
  ++old_held->users;  // a quiet Ingest stream
  registry.insert(old_idle, std::move(*budget_.try_reserve()));
  registry.insert(old_held, {});
  registry.insert(fresh, {});
  EXPECT_EQ(registry.expire(now - std::chrono::minutes(1)), std::vector<std::string>{"a"});
  EXPECT_EQ(registry.count(), 2);
  EXPECT_EQ(budget_.in_use(), 0);
}

TEST_F(SessionRegistryTest, PagesATenantsSessionsInIdOrder) {
  SessionRegistry registry(limits(10));
  for (const char* id : {"e", "a", "c", "b", "d"}) {
    registry.insert(session(id, std::string(id) == "c" ? "other" : "me"), {});
  }
  auto first = registry.list(2, "", "me");
  ASSERT_EQ(first.sessions.size(), 2u);
  EXPECT_EQ(first.sessions[0]->id, "a");
  EXPECT_EQ(first.sessions[1]->id, "b");
  EXPECT_EQ(first.next_token, "b");
  auto second = registry.list(2, first.next_token, "me");
  ASSERT_EQ(second.sessions.size(), 2u);
  EXPECT_EQ(second.sessions[0]->id, "d");
  EXPECT_EQ(second.sessions[1]->id, "e");
  EXPECT_EQ(second.next_token, "");
}

}  // namespace
}  // namespace infini::server
