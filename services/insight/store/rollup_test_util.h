// Test helpers: feed events and a scratch database directory.
#ifndef POLKU_SERVICES_INSIGHT_ROLLUP_TEST_UTIL_H_
#define POLKU_SERVICES_INSIGHT_ROLLUP_TEST_UTIL_H_

#include <stdlib.h>

#include <filesystem>
#include <map>
#include <optional>
#include <string>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "gtest/gtest.h"
#include "polku/v1/feedback.pb.h"
#include "services/insight/store/memory_rollup_store.h"

namespace polku::insight::testing {

// 2024-03-01T00:00:00Z, day 19783 since the epoch.
inline constexpr int64_t kMarch1Seconds = 1'709'251'200;
inline constexpr int64_t kMarch1 = 19'783;

struct EventSpec {
  int64_t sequence = 0;
  std::string tenant = "acme";
  std::string journey = "switching";
  int32_t journey_version = 1;
  std::string touchpoint = "web_site";
  std::string stage = "research";
  std::string channel = "web";
  // Seconds after 2024-03-01T00:00Z.
  int64_t offset_seconds = 12 * 3600;
  std::optional<int> csat;
  std::optional<int> nps;
  std::optional<int> ces;
  std::map<std::string, double> measures;
  std::map<std::string, std::string> attributes;
  std::string customer_hash;
};

inline v1::StoredEvent MakeEvent(const EventSpec& spec) {
  v1::StoredEvent stored;
  stored.set_sequence(spec.sequence);
  stored.set_tenant(spec.tenant);
  stored.set_channel(spec.channel);
  stored.set_journey(spec.journey);
  stored.set_journey_version(spec.journey_version);
  stored.set_stage(spec.stage);
  v1::TouchpointEvent* event = stored.mutable_event();
  event->set_event_id(absl::StrCat("e", spec.sequence));
  event->set_touchpoint(spec.touchpoint);
  event->mutable_occurred_at()->set_seconds(kMarch1Seconds +
                                            spec.offset_seconds);
  if (spec.csat) event->set_csat(*spec.csat);
  if (spec.nps) event->set_nps(*spec.nps);
  if (spec.ces) event->set_ces(*spec.ces);
  for (const auto& [name, value] : spec.measures) {
    (*event->mutable_measures())[name] = value;
  }
  for (const auto& [key, value] : spec.attributes) {
    (*event->mutable_attributes())[key] = value;
  }
  stored.set_customer_hash(spec.customer_hash);
  return stored;
}

inline std::string Int128ToString(__int128 value) {
  if (value == 0) return "0";
  const bool negative = value < 0;
  std::string digits;
  while (value != 0) {
    const int digit = static_cast<int>(value % 10);
    digits.insert(digits.begin(),
                  static_cast<char>('0' + (negative ? -digit : digit)));
    value /= 10;
  }
  return negative ? "-" + digits : digits;
}

// Every number of a scorecard read, one group a line, for exact comparison.
inline std::string Describe(const GroupedRollups& rollups) {
  std::string out = absl::StrCat("as_of=", rollups.as_of_sequence, "\n");
  for (const GroupRollup& group : rollups.groups) {
    absl::StrAppend(&out, group.group, " day=", group.day,
                    " events=", group.events,
                    " csat=", absl::StrJoin(group.csat, ","),
                    " nps=", absl::StrJoin(group.nps, ","),
                    " ces=", absl::StrJoin(group.ces, ","));
    for (const auto& [name, sum] : group.measures) {
      absl::StrAppend(&out, " ", name, "=", sum.n, "/", sum.sum_milli, "/",
                      Int128ToString(sum.sum_squares_milli2));
    }
    absl::StrAppend(&out, "\n");
  }
  return out;
}

// A fresh directory under the test's temporary directory.
inline std::string ScratchDir() {
  std::string pattern =
      (std::filesystem::path(::testing::TempDir()) / "insight-XXXXXX");
  const char* dir = mkdtemp(pattern.data());
  EXPECT_NE(dir, nullptr);
  return pattern;
}

// The in-memory store with the conveniences tests of the service side use.
class FakeRollupStore : public MemoryRollupStore {
 public:
  // Counts one event, as a page of it.
  void Add(const v1::StoredEvent& event) {
    google::protobuf::RepeatedPtrField<v1::StoredEvent> page;
    *page.Add() = event;
    EXPECT_TRUE(Apply(page).ok());
  }
  // SaveAlerts calls so far.
  int saves() const { return alert_writes(); }
};

}  // namespace polku::insight::testing

#endif  // POLKU_SERVICES_INSIGHT_ROLLUP_TEST_UTIL_H_
