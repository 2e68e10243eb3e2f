#include "server/scheduling/cpu_budget.h"

#include <gtest/gtest.h>
#include <sched.h>

namespace infini::server {
namespace {

TEST(CpuBudget, QuotaIsRoundedUpToWholeCores) {
  EXPECT_EQ(cores_from_cpu_max("200000 100000"), 2);
  EXPECT_EQ(cores_from_cpu_max("150000 100000\n"), 2);
  EXPECT_EQ(cores_from_cpu_max("50000 100000"), 1);
  EXPECT_EQ(cores_from_cpu_max("400000 100000"), 4);
}

TEST(CpuBudget, NoQuotaOrUnreadableTextIsNoLimit) {
  EXPECT_EQ(cores_from_cpu_max("max 100000"), std::nullopt);
  EXPECT_EQ(cores_from_cpu_max(""), std::nullopt);
  EXPECT_EQ(cores_from_cpu_max("abc 100000"), std::nullopt);
  EXPECT_EQ(cores_from_cpu_max("100000 0"), std::nullopt);
  EXPECT_EQ(cores_from_cpu_max("-1 100000"), std::nullopt);
  EXPECT_EQ(cores_from_cpu_max("12x 100000"), std::nullopt);
}

TEST(CpuBudget, UsableCoresNeverExceedTheAffinityMask) {
  cpu_set_t set;
  CPU_ZERO(&set);
  ASSERT_EQ(sched_getaffinity(0, sizeof set, &set), 0);
  const int cores = usable_cores();
  EXPECT_GE(cores, 1);
  EXPECT_LE(cores, CPU_COUNT(&set));
}

}  // namespace
}  // namespace infini::server
