#include "services/insight/server/index_warmer.h"

#include <string>
#include <tuple>
#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/synchronization/notification.h"
#include "gtest/gtest.h"
#include "services/insight/store/rollup_test_util.h"

namespace polku::insight {
namespace {

using testing::FakeRollupStore;
using testing::MakeEvent;

TEST(IndexWarmerTest, LoadsEveryJourneyWithEvents) {
  FakeRollupStore store;
  google::protobuf::RepeatedPtrField<v1::StoredEvent> page;
  int64_t sequence = 0;
  for (const char* tenant : {"acme", "globex"}) {
    for (const char* journey : {"switching", "onboarding"}) {
      for (int i = 0; i < 5; ++i) {
        *page.Add() = MakeEvent({.sequence = ++sequence,
                                 .tenant = tenant,
                                 .journey = journey,
                                 .customer_hash = absl::StrCat("c", i)});
      }
    }
  }
  // Without a customer: counted, but no touch.
  *page.Add() = MakeEvent({.sequence = ++sequence});
  ASSERT_TRUE(store.Apply(page).ok());
  TouchIndex index(store, store);
  IndexWarmer warmer(store, index);
  warmer.Start();
  warmer.WaitUntilDone();
  EXPECT_EQ(index.events(), 20);
  // Warm: a read finds every event already held.
  size_t customers = 0;
  ASSERT_TRUE(index
                  .Read("globex", "onboarding",
                        [&](const TouchView& view) {
                          customers = view.customers();
                          EXPECT_EQ(view.as_of(), sequence);
                        })
                  .ok());
  EXPECT_EQ(customers, 5u);
  EXPECT_EQ(index.events(), 20);
  warmer.Stop();
}

// A ledger that never ends: warming stops only because it is asked to.
class EndlessLedger final : public LedgerReader {
 public:
  absl::StatusOr<int64_t> ScanLedger(
      const ScorecardQuery& query,
      absl::FunctionRef<absl::Status(const CountedEvent&)> visit) override {
    CountedEvent event;
    event.customer_hash = "c";
    std::get<0>(event.key) = query.tenant;
    std::get<1>(event.key) = query.journey;
    std::get<2>(event.key) = 1;
    std::get<3>(event.key) = "web_site";
    std::get<4>(event.key) = "research";
    std::get<5>(event.key) = "web";
    for (int64_t sequence = 1;; ++sequence) {
      event.sequence = sequence;
      if (sequence == 1000) scanning_.Notify();
      if (absl::Status status = visit(event); !status.ok()) return status;
    }
  }
  absl::StatusOr<std::vector<CountedEvent>> LedgerEvents(
      const std::string&, std::vector<int64_t>) override {
    return absl::UnimplementedError("not read by the warmer");
  }
  absl::Notification scanning_;
};

TEST(IndexWarmerTest, StopEndsALoadInProgress) {
  FakeRollupStore store;
  store.Add(MakeEvent({.sequence = 1, .customer_hash = "c"}));
  EndlessLedger ledger;
  TouchIndex index(store, ledger);
  IndexWarmer warmer(store, index);
  warmer.Start();
  ledger.scanning_.WaitForNotification();
  warmer.Stop();  // returns: the scan ended at its next event
  warmer.WaitUntilDone();
  // Nothing half-read is held.
  EXPECT_EQ(index.events(), 0);
}

}  // namespace
}  // namespace polku::insight
