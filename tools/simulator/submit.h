// Sending simulated feedback through the gateway: the journeys to simulate
// come from ListJourneys (admin key), each channel's events go out with that
// channel's key in batches.
//
//   POLKU_ASSIGN_OR_RETURN(auto journeys, ListPublishedJourneys(*journey_stub, admin_key));
//   POLKU_ASSIGN_OR_RETURN(ChannelSummary summary,
//                          SubmitChannel(*feedback_stub, shop_key, sim.events["shop"]));
#ifndef POLKU_TOOLS_SIMULATOR_SUBMIT_H_
#define POLKU_TOOLS_SIMULATOR_SUBMIT_H_

#include <cstdint>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "polku/v1/feedback.grpc.pb.h"
#include "polku/v1/journey.grpc.pb.h"
#include "tools/journeys/gateway_client.h"

namespace polku::sim {

// Every published journey of the caller's tenant (all pages).
absl::StatusOr<std::vector<v1::Journey>> ListPublishedJourneys(
    v1::JourneyService::StubInterface& stub, absl::string_view admin_key,
    absl::Duration timeout = absl::Seconds(10));

struct SubmitOptions {
  int batch_size = 500;
  // Deadline of each SubmitEvents call.
  absl::Duration timeout = absl::Seconds(30);
  // A journey published moments ago may not have reached polku-feedback's
  // touchpoint index yet, so "unknown touchpoint" rejections are re-sent for
  // this long (only those events; the rest of the batch is stored).
  absl::Duration index_wait = absl::Seconds(20);
  // UNAVAILABLE (and DEADLINE_EXCEEDED) are retried with the same event ids.
  tools::RetryPolicy retry;
};

struct ChannelSummary {
  int64_t accepted = 0;
  int64_t duplicate = 0;
  int64_t rejected = 0;
  // The first few rejections, "event_id: field: reason".
  std::vector<std::string> rejections;
};

// Submits `events` with `key`. An error means a call failed outright (for
// example UNAUTHENTICATED); per-event rejections are counted instead.
absl::StatusOr<ChannelSummary> SubmitChannel(v1::FeedbackService::StubInterface& stub,
                                             absl::string_view key,
                                             const std::vector<v1::TouchpointEvent>& events,
                                             const SubmitOptions& options = {});

}  // namespace polku::sim

#endif  // POLKU_TOOLS_SIMULATOR_SUBMIT_H_
