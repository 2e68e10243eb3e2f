// --max-state-bytes: how many session states may be in memory at once. A
// state in memory (a resident session's, or one being allocated or reloaded)
// holds one Slot; the budget is a count of slots, so it needs no scan of the
// sessions and no lock but its own (a leaf: it calls nothing while held).
#pragma once

#include <cstdint>
#include <mutex>
#include <optional>
#include <utility>

namespace infini::server {

class StateBudget {
 public:
  // Room for max_state_bytes / state_bytes states.
  StateBudget(int64_t state_bytes, int64_t max_state_bytes);

  // One state's room, given back when destroyed (or reset).
  class Slot {
   public:
    Slot() = default;
    Slot(Slot&& other) noexcept : budget_(std::exchange(other.budget_, nullptr)) {}
    Slot& operator=(Slot&& other) noexcept {
      if (this != &other) {
        reset();
        budget_ = std::exchange(other.budget_, nullptr);
      }
      return *this;
    }
    Slot(const Slot&) = delete;
    Slot& operator=(const Slot&) = delete;
    ~Slot() { reset(); }

    bool held() const { return budget_ != nullptr; }
    void reset();

   private:
    friend class StateBudget;
    explicit Slot(StateBudget* budget) : budget_(budget) {}
    StateBudget* budget_ = nullptr;
  };

  // A slot if one more state fits, none otherwise.
  std::optional<Slot> try_reserve();

  int64_t in_use() const;  // slots held
  int64_t state_bytes() const { return state_bytes_; }
  int64_t max_state_bytes() const { return max_state_bytes_; }

 private:
  void give_back();

  const int64_t state_bytes_;
  const int64_t max_state_bytes_;
  mutable std::mutex mutex_;
  int64_t in_use_ = 0;
};

}  // namespace infini::server
