// The state budget counts slots: one per state in memory, given back when a
// slot is destroyed, reset or moved over.
#include "server/sessions/state_budget.h"

#include <gtest/gtest.h>

#include <atomic>
#include <thread>
#include <vector>

namespace infini::server {
namespace {

TEST(StateBudgetTest, ReservesUntilTheNextStatePassesTheLimit) {
  StateBudget budget(/*state_bytes=*/100, /*max_state_bytes=*/250);
  auto a = budget.try_reserve();
  auto b = budget.try_reserve();
  ASSERT_TRUE(a.has_value());
  ASSERT_TRUE(b.has_value());
  EXPECT_FALSE(budget.try_reserve().has_value());  // a third would be 300 > 250
  EXPECT_EQ(budget.in_use(), 2);
  a->reset();
  EXPECT_FALSE(a->held());
  EXPECT_EQ(budget.in_use(), 1);
  EXPECT_TRUE(budget.try_reserve().has_value());  // reserved and dropped at once
  EXPECT_EQ(budget.in_use(), 1);
}

TEST(StateBudgetTest, SlotsGoBackWhenDestroyedOrMovedOver) {
  StateBudget budget(10, 20);
  {
    StateBudget::Slot kept = std::move(*budget.try_reserve());
    StateBudget::Slot other = std::move(*budget.try_reserve());
    EXPECT_EQ(budget.in_use(), 2);
    kept = std::move(other);  // kept's own slot goes back, other's moves in
    EXPECT_TRUE(kept.held());
    EXPECT_FALSE(other.held());
    EXPECT_EQ(budget.in_use(), 1);
  }
  EXPECT_EQ(budget.in_use(), 0);
  StateBudget::Slot none;  // default: holds nothing, gives nothing back
  EXPECT_FALSE(none.held());
  none.reset();
  EXPECT_EQ(budget.in_use(), 0);
}

TEST(StateBudgetTest, ZeroBudgetHoldsNoState) {
  StateBudget budget(10, 0);
  EXPECT_FALSE(budget.try_reserve().has_value());
  EXPECT_EQ(budget.in_use(), 0);
}

TEST(StateBudgetTest, ConcurrentReservationsNeverPassTheLimit) {
  StateBudget budget(1, 8);
  std::vector<std::thread> threads;
  std::atomic<int> most{0};
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&] {
      for (int i = 0; i < 2000; ++i) {
        auto slot = budget.try_reserve();
        const int64_t now = budget.in_use();
        int seen = most.load();
        while (now > seen && !most.compare_exchange_weak(seen, static_cast<int>(now))) {
        }
      }
    });
  }
  for (auto& t : threads) t.join();
  EXPECT_LE(most.load(), 8);
  EXPECT_EQ(budget.in_use(), 0);
}

}  // namespace
}  // namespace infini::server
