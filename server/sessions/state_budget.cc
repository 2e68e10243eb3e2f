#include "server/sessions/state_budget.h"

namespace infini::server {

StateBudget::StateBudget(int64_t state_bytes, int64_t max_state_bytes)
    : state_bytes_(state_bytes), max_state_bytes_(max_state_bytes) {}

void StateBudget::Slot::reset() {
  if (budget_ != nullptr) std::exchange(budget_, nullptr)->give_back();
}

std::optional<StateBudget::Slot> StateBudget::try_reserve() {
  std::lock_guard<std::mutex> lock(mutex_);
  if ((in_use_ + 1) * state_bytes_ > max_state_bytes_) return std::nullopt;
  ++in_use_;
  return Slot(this);
}

int64_t StateBudget::in_use() const {
  std::lock_guard<std::mutex> lock(mutex_);
  return in_use_;
}

void StateBudget::give_back() {
  std::lock_guard<std::mutex> lock(mutex_);
  --in_use_;
}

}  // namespace infini::server
