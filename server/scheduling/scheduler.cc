#include "server/scheduling/scheduler.h"

#include <omp.h>

#include <algorithm>

namespace infini::server {

Scheduler::Scheduler(int workers, int cores, int64_t capacity)
    : cores_(cores < 1 ? 1 : cores), capacity_(capacity) {
  for (int i = 0; i < workers; ++i) workers_.push_back(std::make_unique<Worker>());
  for (int i = 0; i < workers; ++i) threads_.emplace_back([this, i] { run(i); });
}

Scheduler::~Scheduler() {
  {
    std::lock_guard<std::mutex> lock(mutex_);
    stopping_ = true;
    for (auto& w : workers_) {
      w->signalled = true;
      w->wake.notify_one();
    }
  }
  for (auto& t : threads_) t.join();
}

bool Scheduler::submit(const std::shared_ptr<SerialQueue>& queue, std::function<void()> task) {
  std::lock_guard<std::mutex> lock(mutex_);
  if (queued_.load() >= capacity_) return false;
  queue->tasks_.push_back(std::move(task));
  ++queued_;
  if (queue->scheduled_) return true;
  queue->scheduled_ = true;
  make_ready(queue);
  return true;
}

bool Scheduler::run_if_idle(const std::shared_ptr<SerialQueue>& queue,
                            const std::function<void()>& task) {
  {
    std::lock_guard<std::mutex> lock(mutex_);
    if (queue->scheduled_) return false;  // queued or running: not idle
    queue->scheduled_ = true;             // submit() now only queues behind us
  }
  task();
  std::lock_guard<std::mutex> lock(mutex_);
  if (queue->tasks_.empty()) {
    queue->scheduled_ = false;
    return true;
  }
  make_ready(queue);
  return true;
}

void Scheduler::make_ready(const std::shared_ptr<SerialQueue>& queue) {
  ready_.push_back(queue);
  if (idle_.empty()) return;  // every worker busy: one takes it when it loops
  Worker& w = *workers_[idle_.back()];
  idle_.pop_back();
  w.signalled = true;
  w.wake.notify_one();
}

int Scheduler::idle_workers() {
  std::lock_guard<std::mutex> lock(mutex_);
  return static_cast<int>(idle_.size());
}

void Scheduler::run(int index) {
  Worker& self = *workers_[index];
  while (true) {
    std::shared_ptr<SerialQueue> queue;
    std::function<void()> task;
    {
      std::unique_lock<std::mutex> lock(mutex_);
      while (ready_.empty() && !stopping_) {
        self.signalled = false;
        idle_.push_back(index);
        self.wake.wait(lock, [&] { return self.signalled; });
        // Whoever signalled this worker took it off the idle stack.
      }
      if (ready_.empty()) return;  // stopping, and nothing left
      queue = std::move(ready_.front());
      ready_.pop_front();
      task = std::move(queue->tasks_.front());
      queue->tasks_.pop_front();
      --queued_;
    }
    // The team size of OpenMP regions (oneDNN's and ours) this task starts.
    const int running = ++running_;
    omp_set_num_threads(std::max(1, cores_ / running));
    task();
    --running_;
    {
      std::lock_guard<std::mutex> lock(mutex_);
      if (queue->tasks_.empty()) {
        queue->scheduled_ = false;
      } else {
        ready_.push_back(queue);  // behind other sessions: fair turns; this worker loops to it
      }
    }
  }
}

}  // namespace infini::server
