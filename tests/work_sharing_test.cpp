// WorkSharing (src/core/work_sharing.h): every part runs once, idle helpers take parts while the caller
// is busy, a part's exception reaches the caller, and help() ends at close().
#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <stdexcept>
#include <thread>
#include <vector>

#include "core/work_sharing.h"

namespace facesearch {
namespace {

// Helper threads in help() for the life of the object.
struct Helpers {
  WorkSharing sharing;
  std::vector<std::jthread> threads;
  explicit Helpers(int n) {
    for (int i = 0; i < n; ++i) threads.emplace_back([this] { sharing.help(); });
  }
  ~Helpers() {
    sharing.close();
    threads.clear();
  }
};

TEST(WorkSharing, EveryPartRunsOnceWithOrWithoutHelpers) {
  for (const int helpers : {0, 1, 3}) {
    Helpers h(helpers);
    std::vector<std::atomic<int>> runs(1000);
    h.sharing.run(runs.size(), [&](size_t i) { ++runs[i]; });
    for (size_t i = 0; i < runs.size(); ++i) ASSERT_EQ(runs[i].load(), 1) << "part " << i << ", " << helpers << " helpers";
  }
  std::vector<int> order;
  run_parts(nullptr, 5, [&](size_t i) { order.push_back(int(i)); });
  EXPECT_EQ(order, (std::vector<int>{0, 1, 2, 3, 4}));  // no sharing: in order on this thread
}

TEST(WorkSharing, AHelperTakesPartsWhileTheCallerIsBusy) {
  Helpers h(1);
  const auto caller = std::this_thread::get_id();
  std::atomic<int> by_helper{0};
  h.sharing.run(4, [&](size_t i) {
    if (std::this_thread::get_id() != caller) {
      ++by_helper;
      return;
    }
    // The caller takes part 0 first and holds it until the helper has run one of the others (a
    // minute is a failure bound, not a timing assumption: the helper is idle and waiting).
    if (i == 0) {
      const auto give_up = std::chrono::steady_clock::now() + std::chrono::minutes(1);
      while (by_helper == 0 && std::chrono::steady_clock::now() < give_up) std::this_thread::yield();
    }
  });
  EXPECT_GE(by_helper.load(), 1);
}

TEST(WorkSharing, APartsErrorReachesTheCallerAfterTheOthersFinish) {
  Helpers h(2);
  std::atomic<int> finished{0};
  EXPECT_THROW(h.sharing.run(50,
                             [&](size_t i) {
                               if (i == 7) throw std::runtime_error("part 7 failed");
                               ++finished;
                             }),
               std::runtime_error);
  EXPECT_EQ(finished.load(), 49);
  // The sharing still works after a failed job.
  std::atomic<int> again{0};
  h.sharing.run(10, [&](size_t) { ++again; });
  EXPECT_EQ(again.load(), 10);
}

TEST(WorkSharing, NestedJobsAndCloseEndHelp) {
  Helpers h(2);
  std::atomic<int> leaves{0};
  h.sharing.run(6, [&](size_t) { h.sharing.run(5, [&](size_t) { ++leaves; }); });
  EXPECT_EQ(leaves.load(), 30);
  h.sharing.close();
  h.threads.clear();  // joins: help() returned
  std::atomic<int> alone{0};
  h.sharing.run(3, [&](size_t) { ++alone; });  // after close: on the caller alone
  EXPECT_EQ(alone.load(), 3);
}

}  // namespace
}  // namespace facesearch
