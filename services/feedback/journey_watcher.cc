#include "services/feedback/journey_watcher.h"

#include <algorithm>
#include <utility>

#include "lib/base/log.h"

namespace polku::feedback {

JourneyWatcher::JourneyWatcher(std::shared_ptr<grpc::ChannelInterface> channel,
                               TouchpointIndex& index,
                               std::function<void()> on_loaded,
                               JourneyWatcherOptions options)
    : stub_(polku::v1::JourneyService::NewStub(std::move(channel))),
      index_(index),
      on_loaded_(std::move(on_loaded)),
      options_(options) {}

JourneyWatcher::~JourneyWatcher() { Stop(); }

void JourneyWatcher::Start() {
  thread_ = std::thread([this] { Run(); });
}

void JourneyWatcher::Stop() {
  {
    absl::MutexLock lock(&mu_);
    stopping_ = true;
    if (call_ != nullptr) call_->TryCancel();
  }
  if (thread_.joinable()) thread_.join();
}

int JourneyWatcher::connections() const {
  absl::MutexLock lock(&mu_);
  return connections_;
}

void JourneyWatcher::Run() {
  absl::Duration backoff = options_.initial_backoff;
  while (true) {
    const bool got_full_set = WatchOnce();
    // A stream that delivered the full set was healthy; start over from the
    // shortest wait rather than punishing a planned reconnect.
    if (got_full_set) backoff = options_.initial_backoff;
    absl::MutexLock lock(&mu_);
    if (stopping_) return;
    // Waits, but wakes at once for Stop.
    mu_.AwaitWithTimeout(absl::Condition(this, &JourneyWatcher::Stopping),
                         backoff);
    if (stopping_) return;
    backoff = std::min(backoff * 2, options_.max_backoff);
  }
}

bool JourneyWatcher::WatchOnce() {
  grpc::ClientContext context;
  context.set_deadline(
      absl::ToChronoTime(absl::Now() + options_.call_deadline));
  {
    absl::MutexLock lock(&mu_);
    if (stopping_) return false;
    call_ = &context;
    ++connections_;
  }
  // Service to service: no tenant metadata, so the stream carries every
  // tenant's journeys; every version of each, for back-filled history.
  polku::v1::WatchJourneysRequest request;
  request.set_all_versions(true);
  std::unique_ptr<grpc::ClientReader<polku::v1::WatchJourneysResponse>> reader =
      stub_->WatchJourneys(&context, request);
  polku::v1::WatchJourneysResponse response;
  bool got_full_set = false;
  while (reader->Read(&response)) {
    if (response.reset()) {
      index_.Reset(response.journeys());
      got_full_set = true;
      log::Info("touchpoint index loaded",
                {{"journey_versions", response.journeys_size()}});
      if (!loaded_) {
        loaded_ = true;
        if (on_loaded_) on_loaded_();
      }
    } else if (got_full_set) {
      for (const polku::v1::PublishedJourney& published : response.journeys()) {
        index_.Apply(published);
        log::Info("journey published",
                  {{"tenant", published.tenant()},
                   {"journey", published.journey().key()},
                   {"version", published.journey().version()}});
      }
    }
    // An update before the full set breaks the protocol; the reset that
    // must follow replaces the index anyway, so it is simply not applied.
  }
  const grpc::Status status = reader->Finish();
  bool stopping;
  {
    absl::MutexLock lock(&mu_);
    call_ = nullptr;
    stopping = stopping_;
  }
  if (!stopping && !(got_full_set && status.error_code() ==
                                         grpc::StatusCode::DEADLINE_EXCEEDED)) {
    log::Warning("journey watch ended; reconnecting",
                 {{"code", static_cast<int>(status.error_code())},
                  {"error", status.error_message()}});
  }
  return got_full_set;
}

}  // namespace polku::feedback
