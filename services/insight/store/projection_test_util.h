// A projection for tests: it records, in memory, every event it counted and
// every erased customer's events it gave back, so a test can check that it
// saw each event exactly once and holds nothing of an erased customer.
#ifndef POLKU_SERVICES_INSIGHT_STORE_PROJECTION_TEST_UTIL_H_
#define POLKU_SERVICES_INSIGHT_STORE_PROJECTION_TEST_UTIL_H_

#include <cstdint>
#include <map>
#include <memory>
#include <string>

#include "absl/synchronization/mutex.h"
#include "services/insight/store/projection.h"

namespace polku::insight::testing {

// What a RecordingProjection holds: sequence → times counted (net of
// erasures). Shared by the projections of several stores (replicas).
class ProjectionRecord {
 public:
  void Add(int64_t sequence, int times) {
    absl::MutexLock lock(&mu_);
    held_[sequence] += times;
    if (held_[sequence] == 0) held_.erase(sequence);
  }
  std::map<int64_t, int> held() const {
    absl::MutexLock lock(&mu_);
    return held_;
  }

 private:
  mutable absl::Mutex mu_;
  std::map<int64_t, int> held_ ABSL_GUARDED_BY(mu_);
};

class RecordingProjection final : public Projection {
 public:
  explicit RecordingProjection(std::shared_ptr<ProjectionRecord> record)
      : record_(std::move(record)) {}
  const std::string& name() const override {
    static const std::string* name = new std::string("recording");
    return *name;
  }
  absl::Status Apply(ProjectionStorage&,
                     absl::Span<const CountedEvent> events) override {
    for (const CountedEvent& event : events) record_->Add(event.sequence, 1);
    return absl::OkStatus();
  }
  absl::Status Erase(ProjectionStorage&, const v1::Erasure&,
                     absl::Span<const CountedEvent> counted) override {
    for (const CountedEvent& event : counted) record_->Add(event.sequence, -1);
    return absl::OkStatus();
  }

 private:
  const std::shared_ptr<ProjectionRecord> record_;
};

inline std::vector<std::unique_ptr<Projection>> Recording(
    std::shared_ptr<ProjectionRecord> record) {
  std::vector<std::unique_ptr<Projection>> extra;
  extra.push_back(std::make_unique<RecordingProjection>(std::move(record)));
  return extra;
}

}  // namespace polku::insight::testing

#endif  // POLKU_SERVICES_INSIGHT_STORE_PROJECTION_TEST_UTIL_H_
