// Test helpers for EventStore implementations: events, batches, and calls
// that wait (boundedly) for the store's answer.
#ifndef POLKU_SERVICES_FEEDBACK_EVENT_STORE_TEST_UTIL_H_
#define POLKU_SERVICES_FEEDBACK_EVENT_STORE_TEST_UTIL_H_

#include <gtest/gtest.h>

#include <string>
#include <variant>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/synchronization/notification.h"
#include "absl/time/time.h"
#include "services/feedback/event_store.h"

namespace polku::feedback::testing {

inline constexpr absl::Duration kWait = absl::Seconds(20);

// The secret every test store hashes with.
inline std::string TestSecret() { return std::string(32, 'k'); }

inline ValidEvent Event(const std::string& event_id, int csat = 4,
                        const std::string& customer = "customer-42") {
  ValidEvent valid;
  valid.event.set_event_id(event_id);
  valid.event.set_touchpoint("shop_in_shop_sales");
  valid.event.set_customer(customer);
  valid.event.mutable_occurred_at()->set_seconds(1'714'557'600);  // 2024-05-01
  valid.event.set_csat(csat);
  (*valid.event.mutable_attributes())["store_id"] = "helsinki-1";
  (*valid.event.mutable_attributes())["agent_id"] = "a-7";
  valid.touchpoint = {.journey = "switching",
                      .journey_version = 2,
                      .stage = "purchase",
                      .channel = "shop"};
  return valid;
}

inline EventBatch Batch(std::vector<ValidEvent> events,
                        const std::string& tenant = "demo",
                        const std::string& channel = "shop") {
  return EventBatch{tenant, channel, std::move(events)};
}

// A submission whose answer arrives in `out`.
struct Pending {
  absl::Notification done;
  absl::StatusOr<std::vector<polku::v1::EventResult>> out;
};

// Submits and waits for the answer.
inline absl::StatusOr<std::vector<polku::v1::EventResult>> SubmitAndWait(
    EventStore& store, EventBatch batch) {
  Pending pending;
  store.Submit(std::move(batch), [&](auto results) {
    pending.out = std::move(results);
    pending.done.Notify();
  });
  if (!pending.done.WaitForNotificationWithTimeout(kWait)) {
    return absl::DeadlineExceededError("no answer from the store");
  }
  return std::move(pending.out);
}

// Erases and waits.
inline absl::StatusOr<EraseResult> Erase(EventStore& store,
                                         const std::string& tenant,
                                         const std::string& customer,
                                         bool suppress) {
  absl::Notification done;
  absl::StatusOr<EraseResult> out;
  store.Erase(tenant, customer, suppress, [&](auto result) {
    out = std::move(result);
    done.Notify();
  });
  if (!done.WaitForNotificationWithTimeout(kWait)) {
    return absl::DeadlineExceededError("no answer from the store");
  }
  return out;
}

// The stored events of the feed (erasures left out).
inline std::vector<polku::v1::StoredEvent> StoredEvents(
    EventStore& store, const std::string& tenant = "", int64_t from = 1,
    int limit = 1000) {
  std::vector<polku::v1::StoredEvent> events;
  auto entries = store.ReadFeed(tenant, from, limit);
  EXPECT_TRUE(entries.ok()) << entries.status();
  if (!entries.ok()) return events;
  for (FeedEntry& entry : *entries) {
    if (auto* event = std::get_if<polku::v1::StoredEvent>(&entry)) {
      events.push_back(std::move(*event));
    }
  }
  return events;
}

}  // namespace polku::feedback::testing

#endif  // POLKU_SERVICES_FEEDBACK_EVENT_STORE_TEST_UTIL_H_
