// A bound on streaming calls open at once (--max-streams). Each Ingest, Ask,
// Summarize, ExportSession and ImportSession holds a slot from its start to
// its end; past the bound a new stream is refused at once, before it reads
// or queues anything, rather than waiting behind the others.
#pragma once

#include <atomic>
#include <cstdint>

namespace infini::server {

class StreamSlots {
 public:
  explicit StreamSlots(int64_t capacity) : capacity_(capacity) {}

  // A held slot; released when destroyed or moved from.
  class Slot {
   public:
    Slot() = default;
    Slot(Slot&& other) noexcept : owner_(other.owner_) { other.owner_ = nullptr; }
    Slot& operator=(Slot&& other) noexcept;
    Slot(const Slot&) = delete;
    Slot& operator=(const Slot&) = delete;
    ~Slot() { release(); }
    bool held() const { return owner_ != nullptr; }
    void release();

   private:
    friend class StreamSlots;
    explicit Slot(StreamSlots* owner) : owner_(owner) {}
    StreamSlots* owner_ = nullptr;
  };

  // Throws LimitExceeded(Limit::kStreams) when all slots are held.
  Slot acquire();

  int64_t open() const { return open_.load(std::memory_order_relaxed); }
  int64_t capacity() const { return capacity_; }

 private:
  const int64_t capacity_;
  std::atomic<int64_t> open_{0};
};

}  // namespace infini::server
