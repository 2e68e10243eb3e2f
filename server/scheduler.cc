#include "server/scheduler.h"

#include <omp.h>

#include <algorithm>

namespace infini::server {

Scheduler::Scheduler(int workers, int cores, int64_t capacity)
    : cores_(cores < 1 ? 1 : cores), capacity_(capacity) {
  for (int i = 0; i < workers; ++i) threads_.emplace_back([this] { run(); });
}

Scheduler::~Scheduler() {
  {
    std::lock_guard<std::mutex> lock(mutex_);
    stopping_ = true;
  }
  ready_cv_.notify_all();
  for (auto& t : threads_) t.join();
}

bool Scheduler::submit(const std::shared_ptr<SerialQueue>& queue, std::function<void()> task) {
  {
    std::lock_guard<std::mutex> lock(mutex_);
    if (queued_.load() >= capacity_) return false;
    queue->tasks_.push_back(std::move(task));
    ++queued_;
    if (queue->scheduled_) return true;
    queue->scheduled_ = true;
    ready_.push_back(queue);
  }
  ready_cv_.notify_one();
  return true;
}

void Scheduler::run() {
  while (true) {
    std::shared_ptr<SerialQueue> queue;
    std::function<void()> task;
    {
      std::unique_lock<std::mutex> lock(mutex_);
      ready_cv_.wait(lock, [this] { return stopping_ || !ready_.empty(); });
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
        ready_.push_back(queue);  // behind other sessions: fair turns
      }
    }
    ready_cv_.notify_one();
  }
}

}  // namespace infini::server
