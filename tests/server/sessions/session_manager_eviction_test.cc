// Eviction under --max-state-bytes: idle sessions go to disk least recently
// used first, come back exactly as they were, are never chosen while in use,
// still count against --max-sessions; without a snapshot directory the
// budget is RESOURCE_EXHAUSTED at once.
#include <gtest/gtest.h>

#include <atomic>
#include <filesystem>
#include <map>
#include <thread>

#include "engine/checkpoint_writer.h"
#include "server/metrics/metrics.h"
#include "server/scheduling/scheduler.h"
#include "server/sessions/file_session_store.h"
#include "server/sessions/session_manager.h"
#include "server/sessions/session_persistence.h"
#include "server/status.h"
#include "tests/engine/tiny_model_suite.h"

namespace infini::server {
namespace {

namespace fs = std::filesystem;

class SessionEvictionTest : public infini::testing::TinyModelSuite {
 protected:
  void SetUp() override {
    dir_ = fs::temp_directory_path() /
           ("infini-eviction-" + std::to_string(::getpid()) + "-" +
            ::testing::UnitTest::GetInstance()->current_test_info()->name());
    fs::remove_all(dir_);
  }
  void TearDown() override { fs::remove_all(dir_); }

  // A budget of `states` sessions' state.
  SessionLimits limits(int64_t states, int64_t max_sessions = 1024) const {
    SessionLimits l;
    l.max_sessions = max_sessions;
    l.max_state_bytes = states * model_->new_session().state_bytes();
    return l;
  }

  static std::shared_ptr<Session> with_text(SessionManager& sessions, int64_t used_at, int seed) {
    auto s = sessions.create({{"seed", std::to_string(seed)}}, "");
    std::vector<int32_t> ids;
    for (int i = 0; i < 11; ++i) ids.push_back(5 + (seed * 7 + i * 3) % 50);
    s->document.read_ids(*model_, ids);  // no task runs in these tests: the caller is the queue
    s->publish();
    s->last_used_ns = used_at;
    return s;
  }

  static grpc::StatusCode code_of(const std::function<void()>& fn, std::string* message) {
    try {
      fn();
    } catch (const ServiceError& e) {
      *message = e.what();
      return status_code(e.fault());
    }
    return grpc::StatusCode::OK;
  }

  fs::path dir_;
};

TEST_F(SessionEvictionTest, WithoutSnapshotsTheBudgetIsResourceExhausted) {
  SessionManager sessions(model_, tokenizer_, limits(2));
  sessions.create({}, "");
  sessions.create({}, "");
  std::string message;
  EXPECT_EQ(code_of([&] { sessions.create({}, ""); }, &message),
            grpc::StatusCode::RESOURCE_EXHAUSTED);
  EXPECT_NE(message.find("--max-state-bytes"), std::string::npos) << message;
  EXPECT_NE(message.find("--snapshot-dir"), std::string::npos) << message;
  EXPECT_EQ(sessions.count(), 2);
}

TEST_F(SessionEvictionTest, EvictsTheLeastRecentlyUsedAndReloadsItExactly) {
  SessionManager sessions(model_, tokenizer_, limits(2));
  SessionPersistence persistence(std::make_unique<FileSessionStore>(dir_), "test-model");
  Scheduler scheduler(1, 1, 16);
  ServerMetrics metrics;
  sessions.enable_snapshots(&persistence, &scheduler, &metrics);

  auto a = with_text(sessions, 100, 1);
  auto b = with_text(sessions, 200, 2);
  const std::vector<float> a_state = a->document.state().to_host();
  const std::vector<float> b_state = b->document.state().to_host();
  const int64_t a_tokens = a->tokens;

  auto c = with_text(sessions, 300, 3);  // a is the least recently used
  EXPECT_FALSE(a->resident);
  EXPECT_TRUE(b->resident);
  EXPECT_TRUE(c->resident);
  EXPECT_TRUE(fs::exists(dir_ / (a->id + ".snap")));
  EXPECT_EQ(sessions.count(), 3);
  EXPECT_EQ(sessions.resident_count(), 2);
  EXPECT_EQ(sessions.evicted_count(), 1);
  EXPECT_LE(sessions.total_state_bytes(), limits(2).max_state_bytes);
  EXPECT_EQ(a->tokens, a_tokens) << "an evicted session keeps its counts";

  sessions.ensure_resident(*a);  // b is now the least recently used
  EXPECT_TRUE(a->resident);
  EXPECT_FALSE(b->resident);
  EXPECT_EQ(a->document.state().to_host(), a_state);
  EXPECT_EQ(sessions.resident_count(), 2);

  sessions.ensure_resident(*b);
  EXPECT_EQ(b->document.state().to_host(), b_state);
  EXPECT_EQ(sessions.resident_count(), 2);

  const std::string text = metrics.render();
  EXPECT_NE(text.find("infini_session_evictions_total 3"), std::string::npos) << text;
  EXPECT_NE(text.find("infini_session_reloads_total 2"), std::string::npos) << text;
  EXPECT_NE(text.find("infini_session_reload_duration_seconds_count 2"), std::string::npos) << text;
}

TEST_F(SessionEvictionTest, SessionsInUseAreNeverEvicted) {
  SessionManager sessions(model_, tokenizer_, limits(2));
  SessionPersistence persistence(std::make_unique<FileSessionStore>(dir_), "test-model");
  Scheduler scheduler(1, 1, 16);
  sessions.enable_snapshots(&persistence, &scheduler, nullptr);
  auto a = with_text(sessions, 100, 1);
  auto b = with_text(sessions, 200, 2);
  ++a->users;  // an open Ingest stream
  with_text(sessions, 300, 3);
  EXPECT_TRUE(a->resident);
  EXPECT_FALSE(b->resident);

  for (const auto& s : sessions.all()) {
    if (s->resident) ++s->users;
  }
  std::string message;
  EXPECT_EQ(code_of([&] { sessions.create({}, ""); }, &message),
            grpc::StatusCode::RESOURCE_EXHAUSTED);
  EXPECT_NE(message.find("in use"), std::string::npos) << message;
  EXPECT_EQ(sessions.resident_count(), 2);
}

TEST_F(SessionEvictionTest, EvictedSessionsCountAgainstTheSessionLimit) {
  SessionManager sessions(model_, tokenizer_, limits(1, 3));
  SessionPersistence persistence(std::make_unique<FileSessionStore>(dir_), "test-model");
  Scheduler scheduler(1, 1, 16);
  sessions.enable_snapshots(&persistence, &scheduler, nullptr);
  for (int i = 0; i < 3; ++i) with_text(sessions, 100 + i, i);
  EXPECT_EQ(sessions.resident_count(), 1);
  std::string message;
  EXPECT_EQ(code_of([&] { sessions.create({}, ""); }, &message),
            grpc::StatusCode::RESOURCE_EXHAUSTED);
  EXPECT_NE(message.find("--max-sessions"), std::string::npos) << message;
}

TEST_F(SessionEvictionTest, RestoreAllKeepsSessionsPastTheBudgetOnDisk) {
  std::map<std::string, std::vector<float>> states;
  {
    SessionManager sessions(model_, tokenizer_, limits(4));
    SessionPersistence persistence(std::make_unique<FileSessionStore>(dir_), "test-model");
    for (int i = 0; i < 3; ++i) {
      auto s = with_text(sessions, 100 + i, i);
      states[s->id] = s->document.state().to_host();
      persistence.write(sessions.snapshot_of(*s));
    }
  }
  SessionManager sessions(model_, tokenizer_, limits(2));
  SessionPersistence persistence(std::make_unique<FileSessionStore>(dir_), "test-model");
  Scheduler scheduler(1, 1, 16);
  sessions.enable_snapshots(&persistence, &scheduler, nullptr);
  const auto report = sessions.restore_all();
  EXPECT_EQ(report.restored, 3);
  EXPECT_EQ(report.evicted, 1);
  EXPECT_EQ(sessions.resident_count(), 2);
  for (const auto& s : sessions.all()) {
    sessions.ensure_resident(*s);
    EXPECT_EQ(s->document.state().to_host(), states.at(s->id)) << s->id;
    EXPECT_LE(sessions.resident_count(), 2);
  }
  // Shutdown: an evicted session's file is current and counts as written.
  EXPECT_EQ(sessions.persist_all(std::chrono::seconds(30)), 3);
}

TEST_F(SessionEvictionTest, AnUnreadableSnapshotIsAClearErrorAndFreesItsRoom) {
  SessionManager sessions(model_, tokenizer_, limits(1));
  SessionPersistence persistence(std::make_unique<FileSessionStore>(dir_), "test-model");
  Scheduler scheduler(1, 1, 16);
  sessions.enable_snapshots(&persistence, &scheduler, nullptr);
  auto a = with_text(sessions, 100, 1);
  auto b = with_text(sessions, 200, 2);
  ASSERT_FALSE(a->resident);
  fs::remove(dir_ / (a->id + ".snap"));
  std::string message;
  EXPECT_EQ(code_of([&] { sessions.ensure_resident(*a); }, &message), grpc::StatusCode::INTERNAL);
  EXPECT_NE(message.find("cannot be reloaded"), std::string::npos) << message;
  EXPECT_FALSE(a->resident);
  EXPECT_LE(sessions.resident_count(), 1);
  // The slot it held was given back: another session still fits.
  sessions.ensure_resident(*b);
  EXPECT_TRUE(b->resident);
}

// Three client threads, three workers, six sessions, room for two: every
// call either reads its chunk (reloading and evicting as needed) or is
// refused whole with RESOURCE_EXHAUSTED, and each session ends exactly as a
// session that read the same chunks without any eviction. (For the TSan run.)
TEST_F(SessionEvictionTest, ConcurrentCallsStayExactUnderEviction) {
  SessionManager sessions(model_, tokenizer_, limits(2));
  SessionPersistence persistence(std::make_unique<FileSessionStore>(dir_), "test-model");
  Scheduler scheduler(3, 3, 100000);
  sessions.enable_snapshots(&persistence, &scheduler, nullptr);
  constexpr int kSessions = 6, kClients = 3, kCalls = 60;
  std::vector<std::shared_ptr<Session>> all;
  for (int i = 0; i < kSessions; ++i) all.push_back(sessions.create({}, ""));
  const auto chunk = [](int c) {
    std::vector<int32_t> ids;
    for (int k = 0; k < 5; ++k) ids.push_back(5 + (c * 13 + k * 7) % 60);
    return ids;
  };
  std::vector<std::vector<int>> applied(kSessions);  // each touched only on its session's queue
  std::atomic<int> pending{0}, refused{0};
  std::vector<std::thread> clients;
  for (int t = 0; t < kClients; ++t) {
    clients.emplace_back([&, t] {
      for (int n = 0; n < kCalls; ++n) {
        const int i = (t * 7 + n * 5) % kSessions;
        const int c = t * 1000 + n;
        ++pending;
        ASSERT_TRUE(scheduler.submit(all[i]->queue, [&, i, c] {
          Session& s = *all[i];
          try {
            sessions.ensure_resident(s);
            s.document.read_ids(*model_, chunk(c));
            s.publish();
            s.touch();
            applied[i].push_back(c);
          } catch (const ServiceError& e) {
            EXPECT_EQ(status_code(e.fault()), grpc::StatusCode::RESOURCE_EXHAUSTED) << e.what();
            ++refused;
          }
          --pending;
        }));
      }
    });
  }
  for (auto& t : clients) t.join();
  while (pending > 0) std::this_thread::sleep_for(std::chrono::milliseconds(1));
  EXPECT_LE(sessions.resident_count(), 2);

  int read = 0;
  SessionManager reference(model_, tokenizer_, limits(kSessions));
  for (int i = 0; i < kSessions; ++i) {
    auto expected = reference.create({}, "");
    for (const int c : applied[i]) expected->document.read_ids(*model_, chunk(c));
    read += static_cast<int>(applied[i].size());
    std::vector<float> actual;
    ASSERT_TRUE(scheduler.run_if_idle(all[i]->queue, [&] {
      sessions.ensure_resident(*all[i]);
      actual = all[i]->document.state().to_host();
    }));
    EXPECT_EQ(actual, expected->document.state().to_host()) << "session " << i;
    EXPECT_EQ(all[i]->document.pending_ids(), expected->document.pending_ids()) << "session " << i;
  }
  EXPECT_EQ(read + refused.load(), kClients * kCalls);
  EXPECT_GT(read, 0);
}

}  // namespace
}  // namespace infini::server
