#include "lib/feed/feed_tailer.h"

#include <grpcpp/create_channel.h>
#include <grpcpp/security/credentials.h>
#include <grpcpp/support/channel_arguments.h>

#include <algorithm>
#include <deque>
#include <optional>
#include <set>
#include <string>
#include <utility>

#include "absl/synchronization/notification.h"
#include "lib/base/log.h"
#include "lib/rpc/status.h"

namespace polku::feed {
namespace {

// A stream's end that is worth a warning: its deadline passing is routine.
bool StreamFailed(const grpc::Status& status) {
  return !status.ok() &&
         status.error_code() != grpc::StatusCode::DEADLINE_EXCEEDED;
}

}  // namespace

std::shared_ptr<grpc::Channel> MakeFeedbackChannel(const std::string& address,
                                                   const rpc::TlsFiles& tls) {
  grpc::ChannelArguments args;
  args.SetInt(GRPC_ARG_KEEPALIVE_TIME_MS, 30'000);
  args.SetInt(GRPC_ARG_KEEPALIVE_TIMEOUT_MS, 10'000);
  args.SetInt(GRPC_ARG_KEEPALIVE_PERMIT_WITHOUT_CALLS, 1);
  // Unusable TLS files also stop the server, which starts with the same.
  return *rpc::MakeChannel(address, tls, args);
}

// The pages the stream's reader thread has read and the tailer thread has
// not yet applied, at most about `max_events` events (an erasure counts as
// one): the reader waits for room, so gRPC's flow control slows
// polku-feedback's writes to this stream.
class FeedTailer::PageQueue {
 public:
  explicit PageQueue(int max_events) : max_events_(std::max(max_events, 1)) {}

  // Waits for room; drops the page once the queue has ended.
  void Push(v1::WatchEventsResponse page) {
    absl::MutexLock lock(&mu_);
    mu_.Await(absl::Condition(this, &PageQueue::HasRoomOrEnded));
    if (ended_) return;
    events_ += Weight(page);
    pages_.push_back(std::move(page));
  }

  // Nothing more will be pushed: the stream ended, or the tailer gave up on
  // it. Pages already queued can still be taken.
  void End() {
    absl::MutexLock lock(&mu_);
    ended_ = true;
  }

  // Waits for a page, then until `not_before` unless `max_events` wait or
  // the queue has ended, and takes either the erasure at the front or the
  // event pages before the next erasure, up to `max_events`, as one page.
  // nullopt once the queue has ended and is empty.
  // With `idle_until`, an empty page (neither events nor an erasure, which
  // the feed never sends) when nothing came by then.
  std::optional<v1::WatchEventsResponse> Take(
      absl::Time not_before, absl::Time idle_until = absl::InfiniteFuture()) {
    absl::MutexLock lock(&mu_);
    if (!mu_.AwaitWithDeadline(
            absl::Condition(this, &PageQueue::HasPagesOrEnded), idle_until)) {
      return v1::WatchEventsResponse();
    }
    mu_.AwaitWithDeadline(absl::Condition(this, &PageQueue::FullOrEnded),
                          not_before);
    if (pages_.empty()) return std::nullopt;
    v1::WatchEventsResponse taken = std::move(pages_.front());
    pages_.pop_front();
    int weight = Weight(taken);
    while (!taken.has_erasure() && !pages_.empty() &&
           !pages_.front().has_erasure() &&
           weight + Weight(pages_.front()) <= max_events_) {
      weight += Weight(pages_.front());
      for (v1::StoredEvent& event : *pages_.front().mutable_events()) {
        *taken.add_events() = std::move(event);
      }
      pages_.pop_front();
    }
    events_ -= weight;
    return taken;
  }

 private:
  // What a page counts against `max_events`: its events, and at least one,
  // so that a run of erasures is bounded too.
  static int Weight(const v1::WatchEventsResponse& page) {
    return std::max(page.events_size(), 1);
  }

  bool HasRoomOrEnded() const ABSL_SHARED_LOCKS_REQUIRED(mu_) {
    return events_ < max_events_ || ended_;
  }
  bool HasPagesOrEnded() const ABSL_SHARED_LOCKS_REQUIRED(mu_) {
    return !pages_.empty() || ended_;
  }
  bool FullOrEnded() const ABSL_SHARED_LOCKS_REQUIRED(mu_) {
    return events_ >= max_events_ || ended_;
  }

  const int max_events_;
  absl::Mutex mu_;
  std::deque<v1::WatchEventsResponse> pages_ ABSL_GUARDED_BY(mu_);
  int events_ ABSL_GUARDED_BY(mu_) = 0;
  bool ended_ ABSL_GUARDED_BY(mu_) = false;
};

FeedTailer::FeedTailer(FeedSink& store,
                       std::shared_ptr<grpc::Channel> channel, Options options)
    : store_(store),
      stub_(v1::FeedbackService::NewStub(channel)),
      reports_(v1::FeedReaderService::NewStub(std::move(channel))),
      options_(options) {}

FeedTailer::~FeedTailer() { Stop(); }

bool FeedTailer::StopRequested() const {
  absl::MutexLock lock(&mu_);
  return stopping_;
}

void FeedTailer::Start() {
  thread_ = std::thread([this] { Run(); });
}

void FeedTailer::Stop() {
  {
    absl::MutexLock lock(&mu_);
    stopping_ = true;
    if (open_stream_ != nullptr) open_stream_->TryCancel();
    if (open_report_ != nullptr) open_report_->TryCancel();
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

void FeedTailer::ReportProgress(int64_t applied_sequence) {
  if (options_.reader.empty() || feed_id_.empty()) return;
  grpc::ClientContext context;
  context.set_deadline(
      absl::ToChronoTime(absl::Now() + options_.report_deadline));
  {
    absl::MutexLock lock(&mu_);
    if (stopping_) return;
    open_report_ = &context;
  }
  v1::ReportProgressRequest request;
  request.set_reader(options_.reader);
  request.set_feed_id(feed_id_);
  request.set_applied_sequence(applied_sequence);
  v1::ReportProgressResponse response;
  // Synchronous on the tailer thread, which applies the next page only
  // after: bounded by the short deadline, and Stop cancels it.
  const grpc::Status status = reports_->ReportProgress(&context, request,
                                                       &response);
  {
    absl::MutexLock lock(&mu_);
    open_report_ = nullptr;
  }
  last_report_ = absl::Now();
  if (status.ok()) {
    report_failed_ = false;
    return;
  }
  // Once per run of failures: the next report carries the progress anyway.
  if (!report_failed_) {
    log::Warning("cannot report the feed progress; erasure receipts wait "
                 "for the next report",
                 {{"reader", options_.reader},
                  {"applied_sequence", applied_sequence},
                  {"error", rpc::FromGrpcStatus(status).ToString()}});
  }
  report_failed_ = true;
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
  // So that polku-feedback (perhaps restarted) knows this reader again
  // without waiting for a page.
  ReportProgress(*checkpoint);
  v1::WatchEventsRequest request;
  request.set_from_sequence(*checkpoint + 1);
  std::unique_ptr<grpc::ClientReader<v1::WatchEventsResponse>> reader =
      stub_->WatchEvents(&context, request);

  // A thread of its own reads the stream, so that pages arriving while one
  // is applied queue up and are applied together.
  PageQueue queue(options_.max_events_per_apply);
  // It reads until the stream ends, which it does soon after a cancel.
  // Read also fails on a page that does not parse, and then the server still
  // holds the stream open: only a cancel would end Finish's wait before the
  // deadline. A stream the server ended has its status already, so a Finish
  // that takes longer than finish_grace means an unparsed page.
  absl::Notification reads_done;
  absl::Notification finishing;
  absl::Notification finished;
  bool finish_timed_out = false;
  std::thread reading([&] {
    v1::WatchEventsResponse page;
    while (reader->Read(&page)) queue.Push(std::move(page));
    queue.End();
    reads_done.Notify();
    finishing.WaitForNotification();
    if (!finished.WaitForNotificationWithTimeout(options_.finish_grace)) {
      finish_timed_out = true;
      context.TryCancel();
    }
  });

  bool applied = false;
  bool feed_checked = false;
  absl::Status apply_status;
  absl::Time next_apply = absl::InfinitePast();
  int64_t applied_through = *checkpoint;
  // While a report has failed, an idle feed still retries it every
  // report_interval: an EraseCustomer may be waiting for it.
  const auto idle_until = [&] {
    return report_failed_ ? absl::Now() + options_.report_interval
                          : absl::InfiniteFuture();
  };
  while (std::optional<v1::WatchEventsResponse> page =
             queue.Take(next_apply, idle_until())) {
    // Stop ends the wait for the interval: what waited is read again later.
    if (StopRequested()) break;
    if (!page->has_erasure() && page->events().empty()) {
      ReportProgress(applied_through);
      continue;
    }
    next_apply = absl::Now() + options_.apply_interval;
    if (!feed_checked) {
      // Another feed's sequences would not continue our checkpoint.
      apply_status = store_.CheckFeed(page->feed_id());
      feed_checked = apply_status.ok();
      if (feed_checked) feed_id_ = page->feed_id();
    }
    if (apply_status.ok()) {
      apply_status = page->has_erasure() ? store_.ApplyErasure(page->erasure())
                                         : store_.Apply(page->events());
    }
    if (!apply_status.ok()) {
      // Nothing of the page was counted; the next stream starts again from
      // the checkpoint, which still points before it.
      context.TryCancel();
      break;
    }
    applied = true;
    applied_through = page->has_erasure()
                          ? page->erasure().sequence()
                          : page->events(page->events_size() - 1).sequence();
    if (options_.on_applied) Announce(*page);
    // An erasure at once: an EraseCustomer call may be waiting for it.
    if ((page->has_erasure() || !page->events().empty()) &&
        (page->has_erasure() || report_failed_ ||
         absl::Now() - last_report_ >= options_.report_interval)) {
      ReportProgress(applied_through);
    }
  }
  queue.End();  // unblocks the reader if it waits for room
  reads_done.WaitForNotification();
  finishing.Notify();
  const grpc::Status status = reader->Finish();
  finished.Notify();
  reading.join();
  // Our cancel ended it; a status that came in late anyway is the real one.
  const bool unparsed =
      finish_timed_out && status.error_code() == grpc::StatusCode::CANCELLED;
  bool stopped;
  {
    absl::MutexLock lock(&mu_);
    open_stream_ = nullptr;
    stopped = stopping_;
  }
  if (applied && failed_attempts_ > 0) {
    log::Info("feed stream recovered", {{"failed_attempts", failed_attempts_}});
    failed_attempts_ = 0;
  }
  if (!apply_status.ok()) {
    log::Error("cannot apply a feed page",
               {{"error", apply_status.ToString()}});
  } else if (!stopped && (unparsed || StreamFailed(status))) {
    // While polku-feedback is down every attempt fails: say so on the first
    // failure and then once a minute, not on every retry.
    ++failed_attempts_;
    const absl::Time now = absl::Now();
    if (failed_attempts_ == 1 || now - last_warning_ >= absl::Minutes(1)) {
      last_warning_ = now;
      const absl::Status error =
          unparsed ? absl::InternalError(
                         "a page of the feed could not be parsed (corrupt, or "
                         "polku-feedback runs an incompatible version)")
                   : rpc::FromGrpcStatus(status);
      log::Warning("feed stream failed; reconnecting",
                   {{"error", error.ToString()},
                    {"from_sequence", request.from_sequence()},
                    {"failed_attempts", failed_attempts_}});
    }
  }
  return applied;
}

}  // namespace polku::feed
