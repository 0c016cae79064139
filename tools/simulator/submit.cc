#include "tools/simulator/submit.h"

#include <algorithm>
#include <thread>

#include "absl/status/status.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "lib/rpc/status.h"

namespace polku::sim {
namespace {

constexpr size_t kRejectionsKept = 10;

absl::Status CallError(absl::string_view what, const grpc::Status& status) {
  return absl::Status(rpc::FromGrpcStatus(status).code(),
                      absl::StrCat(what, ": ", tools::DescribeStatus(status)));
}

bool IsUnknownTouchpoint(const v1::EventResult& result) {
  return result.outcome() == v1::EventResult::REJECTED &&
         (result.field() == "touchpoint" || absl::EndsWith(result.field(), ".touchpoint"));
}

// One SubmitEvents call, retried while the gateway or backend is unavailable
// or slow; re-sending is safe because event ids are idempotency keys.
absl::StatusOr<v1::SubmitEventsResponse> SubmitOnce(v1::FeedbackService::StubInterface& stub,
                                                    absl::string_view key,
                                                    const v1::SubmitEventsRequest& request,
                                                    const SubmitOptions& options) {
  v1::SubmitEventsResponse response;
  grpc::Status status = tools::CallWithRetry(
      [&] {
        response.Clear();
        grpc::ClientContext context;
        tools::PrepareCall(context, key, options.timeout);
        grpc::Status s = stub.SubmitEvents(&context, request, &response);
        // A deadline may pass after the commit; the retry then sees DUPLICATE.
        if (s.error_code() == grpc::DEADLINE_EXCEEDED ||
            s.error_code() == grpc::RESOURCE_EXHAUSTED) {
          return grpc::Status(grpc::UNAVAILABLE, s.error_message());
        }
        return s;
      },
      options.retry);
  if (!status.ok()) return CallError("SubmitEvents", status);
  if (response.results_size() != request.events_size()) {
    return absl::InternalError(absl::StrCat("SubmitEvents answered ", response.results_size(),
                                            " results for ", request.events_size(), " events"));
  }
  return response;
}

}  // namespace

absl::StatusOr<std::vector<v1::Journey>> ListPublishedJourneys(
    v1::JourneyService::StubInterface& stub, absl::string_view admin_key,
    absl::Duration timeout) {
  std::vector<v1::Journey> journeys;
  v1::ListJourneysRequest request;
  request.set_page_size(100);
  while (true) {
    v1::ListJourneysResponse response;
    grpc::Status status = tools::CallWithRetry([&] {
      response.Clear();
      grpc::ClientContext context;
      tools::PrepareCall(context, admin_key, timeout);
      return stub.ListJourneys(&context, request, &response);
    });
    if (!status.ok()) return CallError("ListJourneys", status);
    for (v1::Journey& journey : *response.mutable_journeys()) {
      if (journey.state() == v1::PUBLISHED) journeys.push_back(std::move(journey));
    }
    if (response.next_page_token().empty()) break;
    request.set_page_token(response.next_page_token());
  }
  return journeys;
}

absl::StatusOr<ChannelSummary> SubmitChannel(v1::FeedbackService::StubInterface& stub,
                                             absl::string_view key,
                                             const std::vector<v1::TouchpointEvent>& events,
                                             const SubmitOptions& options) {
  ChannelSummary summary;
  const absl::Time index_deadline = absl::Now() + options.index_wait;
  const size_t batch_size = static_cast<size_t>(std::max(1, options.batch_size));
  for (size_t begin = 0; begin < events.size(); begin += batch_size) {
    size_t end = std::min(events.size(), begin + batch_size);
    // Positions (into `events`) still to send.
    std::vector<size_t> pending;
    for (size_t i = begin; i < end; ++i) pending.push_back(i);
    absl::Duration backoff = absl::Milliseconds(250);
    while (!pending.empty()) {
      v1::SubmitEventsRequest request;
      for (size_t i : pending) *request.add_events() = events[i];
      auto response = SubmitOnce(stub, key, request, options);
      if (!response.ok()) return response.status();
      bool wait_for_index = absl::Now() < index_deadline;
      std::vector<size_t> again;
      for (int r = 0; r < response->results_size(); ++r) {
        const v1::EventResult& result = response->results(r);
        if (wait_for_index && IsUnknownTouchpoint(result)) {
          again.push_back(pending[r]);
          continue;
        }
        switch (result.outcome()) {
          case v1::EventResult::ACCEPTED: ++summary.accepted; break;
          case v1::EventResult::DUPLICATE: ++summary.duplicate; break;
          default:
            ++summary.rejected;
            if (summary.rejections.size() < kRejectionsKept) {
              summary.rejections.push_back(absl::StrCat(
                  events[pending[r]].event_id(), ": ", result.field(), ": ", result.reason()));
            }
        }
      }
      pending = std::move(again);
      if (!pending.empty()) {
        std::this_thread::sleep_for(absl::ToChronoNanoseconds(backoff));
        backoff = std::min(backoff * 2, absl::Seconds(2));
      }
    }
  }
  return summary;
}

}  // namespace polku::sim
