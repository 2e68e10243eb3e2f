// Runs engine work off gRPC's threads. Tasks of one session run one at a
// time, in the order they were submitted; different sessions run in
// parallel on a fixed pool of workers. The queue is bounded: a full queue
// refuses new work at once (RESOURCE_EXHAUSTED), it never blocks a caller.
#pragma once

#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <functional>
#include <memory>
#include <mutex>
#include <thread>
#include <vector>

namespace infini::server {

// The per-session queue; sessions own one each.
class SerialQueue {
 private:
  friend class Scheduler;
  std::deque<std::function<void()>> tasks_;
  bool scheduled_ = false;  // in the ready list or running
};

class Scheduler {
 public:
  // `workers` threads. A task's OpenMP team (oneDNN's and ours) gets
  // cores / (tasks running now) threads: one session alone uses every core,
  // several share them without oversubscribing.
  Scheduler(int workers, int cores, int64_t capacity);
  ~Scheduler();  // finishes queued tasks, then joins

  // Queues `task` behind the earlier tasks of `queue`. Returns false (and
  // drops the task) when `capacity` tasks are already waiting. Tasks must
  // not throw.
  bool submit(const std::shared_ptr<SerialQueue>& queue, std::function<void()> task);

  // Runs `task` on the calling thread as `queue`'s next task when nothing is
  // queued or running on it; returns false, without running it, otherwise.
  // Tasks submitted meanwhile wait behind it as behind any task. Used to
  // evict an idle session from another session's task without waiting for a
  // worker (which, with every worker busy, could wait for ever). `task` must
  // not throw.
  bool run_if_idle(const std::shared_ptr<SerialQueue>& queue, const std::function<void()>& task);

  int64_t queued() const { return queued_.load(); }
  int workers() const { return static_cast<int>(threads_.size()); }
  int idle_workers();

 private:
  // Each worker sleeps on its own condition variable so that submit() can
  // wake the one that went idle last: under light load one hot thread keeps
  // a session's work, with its OpenMP team, instead of the work hopping
  // between threads (measured: 2 workers alternating ran the server bench
  // about 6% slower than 1; see docs/benchmarks.md).
  struct Worker {
    std::condition_variable wake;
    bool signalled = false;
  };
  void run(int index);
  // Puts `queue` at the back of the ready list and wakes the worker that
  // went idle last, if any. Call with mutex_ held.
  void make_ready(const std::shared_ptr<SerialQueue>& queue);

  const int cores_;
  const int64_t capacity_;
  std::atomic<int> running_{0};
  std::mutex mutex_;
  std::vector<std::unique_ptr<Worker>> workers_;
  std::vector<int> idle_;  // a stack: the most recently idle worker last
  std::deque<std::shared_ptr<SerialQueue>> ready_;
  std::atomic<int64_t> queued_{0};
  bool stopping_ = false;
  std::vector<std::thread> threads_;
};

}  // namespace infini::server
