#include "services/insight/feed_tailer.h"

#include <grpcpp/create_channel.h>
#include <grpcpp/security/credentials.h>
#include <grpcpp/support/channel_arguments.h>

#include <algorithm>
#include <set>
#include <string>
#include <utility>

#include "lib/base/log.h"
#include "lib/rpc/status.h"

namespace polku::insight {

std::shared_ptr<grpc::Channel> MakeFeedbackChannel(const std::string& address,
                                                   const rpc::TlsFiles& tls) {
  grpc::ChannelArguments args;
  args.SetInt(GRPC_ARG_KEEPALIVE_TIME_MS, 30'000);
  args.SetInt(GRPC_ARG_KEEPALIVE_TIMEOUT_MS, 10'000);
  args.SetInt(GRPC_ARG_KEEPALIVE_PERMIT_WITHOUT_CALLS, 1);
  // Unusable TLS files also stop the server, which starts with the same.
  return *rpc::MakeChannel(address, tls, args);
}

FeedTailer::FeedTailer(RollupStore& store,
                       std::shared_ptr<grpc::Channel> channel, Options options)
    : store_(store),
      stub_(v1::FeedbackService::NewStub(std::move(channel))),
      options_(options) {}

FeedTailer::~FeedTailer() { Stop(); }

void FeedTailer::Start() {
  thread_ = std::thread([this] { Run(); });
}

void FeedTailer::Stop() {
  {
    absl::MutexLock lock(&mu_);
    stopping_ = true;
    if (open_stream_ != nullptr) open_stream_->TryCancel();
  }
  if (thread_.joinable()) thread_.join();
}

void FeedTailer::Run() {
  absl::Duration backoff = options_.initial_backoff;
  while (true) {
    if (TailOnce()) backoff = options_.initial_backoff;
    absl::MutexLock lock(&mu_);
    // Waits out the backoff, waking at once if Stop is called.
    mu_.AwaitWithTimeout(absl::Condition(&stopping_), backoff);
    if (stopping_) return;
    backoff = std::min(backoff * 2, options_.max_backoff);
  }
}

void FeedTailer::Announce(const v1::WatchEventsResponse& page) const {
  FeedChanges changes;
  if (page.has_erasure()) {
    changes.journeys.emplace_back(page.erasure().tenant(), "");
    changes.sequence = page.erasure().sequence();
  } else {
    if (page.events().empty()) return;
    std::set<std::pair<std::string, std::string>> journeys;
    for (const v1::StoredEvent& event : page.events()) {
      journeys.emplace(event.tenant(), event.journey());
    }
    changes.journeys.assign(journeys.begin(), journeys.end());
    changes.sequence = page.events(page.events_size() - 1).sequence();
  }
  options_.on_applied(changes);
}

bool FeedTailer::TailOnce() {
  absl::StatusOr<int64_t> checkpoint = store_.Checkpoint();
  if (!checkpoint.ok()) {
    log::Error("cannot read the feed checkpoint",
               {{"error", checkpoint.status().ToString()}});
    return false;
  }
  grpc::ClientContext context;
  context.set_deadline(
      absl::ToChronoTime(absl::Now() + options_.stream_deadline));
  {
    absl::MutexLock lock(&mu_);
    if (stopping_) return false;
    open_stream_ = &context;
  }
  v1::WatchEventsRequest request;
  request.set_from_sequence(*checkpoint + 1);
  std::unique_ptr<grpc::ClientReader<v1::WatchEventsResponse>> reader =
      stub_->WatchEvents(&context, request);

  bool applied = false;
  bool feed_checked = false;
  absl::Status apply_status;
  v1::WatchEventsResponse page;
  while (reader->Read(&page)) {
    if (!apply_status.ok()) continue;  // draining after a cancel
    if (!feed_checked) {
      // Another feed's sequences would not continue our checkpoint.
      apply_status = store_.CheckFeed(page.feed_id());
      feed_checked = apply_status.ok();
    }
    if (apply_status.ok()) {
      apply_status = page.has_erasure() ? store_.ApplyErasure(page.erasure())
                                        : store_.Apply(page.events());
    }
    if (apply_status.ok()) {
      applied = true;
      if (options_.on_applied) Announce(page);
    } else {
      // Nothing of the page was counted; the next stream starts again from
      // the checkpoint, which still points before it.
      context.TryCancel();
    }
  }
  const grpc::Status status = reader->Finish();
  bool stopping;
  {
    absl::MutexLock lock(&mu_);
    open_stream_ = nullptr;
    stopping = stopping_;
  }
  if (applied && failed_attempts_ > 0) {
    log::Info("feed stream recovered", {{"failed_attempts", failed_attempts_}});
    failed_attempts_ = 0;
  }
  if (!apply_status.ok()) {
    log::Error("cannot apply a feed page",
               {{"error", apply_status.ToString()}});
  } else if (!stopping && !status.ok() &&
             status.error_code() != grpc::StatusCode::DEADLINE_EXCEEDED) {
    // While polku-feedback is down every attempt fails: say so on the first
    // failure and then once a minute, not on every retry.
    ++failed_attempts_;
    const absl::Time now = absl::Now();
    if (failed_attempts_ == 1 || now - last_warning_ >= absl::Minutes(1)) {
      last_warning_ = now;
      log::Warning("feed stream failed; reconnecting",
                   {{"error", rpc::FromGrpcStatus(status).ToString()},
                    {"from_sequence", request.from_sequence()},
                    {"failed_attempts", failed_attempts_}});
    }
  }
  return applied;
}

}  // namespace polku::insight
