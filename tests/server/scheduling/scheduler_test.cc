#include "server/scheduling/scheduler.h"

#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <future>
#include <mutex>
#include <thread>
#include <vector>

namespace infini::server {
namespace {

using namespace std::chrono_literals;

TEST(SchedulerTest, TasksOfOneSessionRunInOrderOneAtATime) {
  Scheduler scheduler(4, 2, 10000);
  auto queue = std::make_shared<SerialQueue>();
  std::vector<int> order;
  std::atomic<int> inside{0};
  std::atomic<bool> overlap{false};
  for (int i = 0; i < 500; ++i) {
    ASSERT_TRUE(scheduler.submit(queue, [&, i] {
      if (++inside > 1) overlap = true;
      order.push_back(i);  // safe only if tasks never overlap
      --inside;
    }));
  }
  while (scheduler.queued() > 0 || inside > 0) std::this_thread::sleep_for(1ms);
  std::this_thread::sleep_for(10ms);
  EXPECT_FALSE(overlap);
  ASSERT_EQ(order.size(), 500u);
  for (int i = 0; i < 500; ++i) EXPECT_EQ(order[i], i);
}

TEST(SchedulerTest, DifferentSessionsRunInParallel) {
  Scheduler scheduler(2, 2, 100);
  auto a = std::make_shared<SerialQueue>(), b = std::make_shared<SerialQueue>();
  std::atomic<int> inside{0}, peak{0};
  auto task = [&] {
    const int now = ++inside;
    int seen = peak.load();
    while (now > seen && !peak.compare_exchange_weak(seen, now)) {
    }
    std::this_thread::sleep_for(100ms);
    --inside;
  };
  ASSERT_TRUE(scheduler.submit(a, task));
  ASSERT_TRUE(scheduler.submit(b, task));
  std::this_thread::sleep_for(50ms);
  EXPECT_EQ(peak.load(), 2);
}

// One task at a time on an idle pool goes to the worker that went idle
// last, so a lone session keeps one hot thread (and its OpenMP team).
TEST(SchedulerTest, WorkArrivingOneTaskAtATimeStaysOnOneWorker) {
  Scheduler scheduler(4, 4, 100);
  auto q = std::make_shared<SerialQueue>();
  std::vector<std::thread::id> ran_on;
  std::mutex mu;
  for (int i = 0; i < 50; ++i) {
    while (scheduler.idle_workers() < 4) std::this_thread::sleep_for(100us);
    ASSERT_TRUE(scheduler.submit(q, [&] {
      std::lock_guard lock(mu);
      ran_on.push_back(std::this_thread::get_id());
    }));
  }
  while (scheduler.idle_workers() < 4) std::this_thread::sleep_for(100us);
  std::lock_guard lock(mu);
  ASSERT_EQ(ran_on.size(), 50u);
  for (size_t i = 1; i < ran_on.size(); ++i) EXPECT_EQ(ran_on[i], ran_on[0]) << "task " << i;
}

TEST(SchedulerTest, FullQueueRefusesAtOnce) {
  Scheduler scheduler(1, 1, 2);
  auto q = std::make_shared<SerialQueue>();
  std::atomic<bool> release{false};
  ASSERT_TRUE(scheduler.submit(q, [&] {
    while (!release) std::this_thread::sleep_for(1ms);
  }));
  while (scheduler.queued() > 0) std::this_thread::sleep_for(1ms);  // the worker holds it
  EXPECT_TRUE(scheduler.submit(q, [] {}));
  EXPECT_TRUE(scheduler.submit(std::make_shared<SerialQueue>(), [] {}));
  const auto start = std::chrono::steady_clock::now();
  EXPECT_FALSE(scheduler.submit(q, [] {}));  // capacity 2 waiting: refused
  EXPECT_LT(std::chrono::steady_clock::now() - start, 100ms);
  release = true;
}

TEST(SchedulerTest, DestructorFinishesQueuedWork) {
  std::atomic<int> done{0};
  {
    Scheduler scheduler(2, 2, 100);
    for (int i = 0; i < 20; ++i) {
      ASSERT_TRUE(scheduler.submit(std::make_shared<SerialQueue>(), [&] {
        std::this_thread::sleep_for(1ms);
        ++done;
      }));
    }
  }
  EXPECT_EQ(done.load(), 20);
}

// Eviction runs a task on an idle session's queue from another thread:
// inline, in order with the queue's own tasks, never on a busy queue.
TEST(SchedulerTest, RunIfIdleRunsInlineOnlyOnAnIdleQueue) {
  Scheduler scheduler(2, 2, 100);
  auto queue = std::make_shared<SerialQueue>();
  std::atomic<bool> inline_done{false};
  std::atomic<bool> later_saw_inline_done{false};
  std::promise<void> later_ran;
  std::thread::id ran_on;
  EXPECT_TRUE(scheduler.run_if_idle(queue, [&] {
    ran_on = std::this_thread::get_id();
    // Submitted while the inline task runs: waits behind it.
    ASSERT_TRUE(scheduler.submit(queue, [&] {
      later_saw_inline_done = inline_done.load();
      later_ran.set_value();
    }));
    std::this_thread::sleep_for(20ms);  // room for a wrong scheduler to start it early
    inline_done = true;
  }));
  EXPECT_EQ(ran_on, std::this_thread::get_id());
  later_ran.get_future().wait();
  EXPECT_TRUE(later_saw_inline_done);

  // A queue with a task running is not idle: nothing runs inline.
  std::promise<void> started, release;
  auto release_future = release.get_future().share();
  ASSERT_TRUE(scheduler.submit(queue, [&, release_future] {
    started.set_value();
    release_future.wait();
  }));
  started.get_future().wait();
  bool ran = false;
  EXPECT_FALSE(scheduler.run_if_idle(queue, [&] { ran = true; }));
  EXPECT_FALSE(ran);
  release.set_value();
}

}  // namespace
}  // namespace infini::server
