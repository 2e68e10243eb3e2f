#include "server/admission/stream_slots.h"

#include "server/admission/limit.h"

namespace infini::server {

StreamSlots::Slot& StreamSlots::Slot::operator=(Slot&& other) noexcept {
  if (this != &other) {
    release();
    owner_ = other.owner_;
    other.owner_ = nullptr;
  }
  return *this;
}

void StreamSlots::Slot::release() {
  if (owner_ != nullptr) owner_->open_.fetch_sub(1, std::memory_order_relaxed);
  owner_ = nullptr;
}

StreamSlots::Slot StreamSlots::acquire() {
  int64_t open = open_.load(std::memory_order_relaxed);
  // Compare-exchange so that concurrent calls never take more than capacity.
  do {
    if (open >= capacity_) {
      throw LimitExceeded(Limit::kStreams,
                          "too many open streams: " + std::to_string(open) + " of " +
                              std::to_string(capacity_) +
                              " are in use (--max-streams); retry later");
    }
  } while (!open_.compare_exchange_weak(open, open + 1, std::memory_order_relaxed));
  return Slot(this);
}

}  // namespace infini::server
