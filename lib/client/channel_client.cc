#include "lib/client/channel_client.h"

#include <grpcpp/client_context.h>
#include <grpcpp/create_channel.h>
#include <grpcpp/security/credentials.h>

#include <algorithm>
#include <deque>
#include <limits>
#include <optional>
#include <random>
#include <thread>
#include <utility>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/clock.h"
#include "polku/v1/feedback.grpc.pb.h"

namespace polku::client {
namespace {

using polku::v1::EventResult;
using polku::v1::TouchpointEvent;

constexpr char kRetryAfterHeader[] = "retry-after-ms";

// CANCELLED too: the client cancels only when closing (and then retries
// nothing), so a CANCELLED comes from the server side, and a gRPC C++
// server cancels, unhandled, every call that reaches it in the moment
// between the start of its shutdown and the client hearing of it (gRPC
// core's "zombie" calls): such a call is safe to send again.
bool IsRetryable(grpc::StatusCode code) {
  return code == grpc::StatusCode::UNAVAILABLE ||
         code == grpc::StatusCode::CANCELLED ||
         code == grpc::StatusCode::RESOURCE_EXHAUSTED ||
         code == grpc::StatusCode::DEADLINE_EXCEEDED;
}

absl::Status FromGrpc(const grpc::Status& status) {
  return absl::Status(static_cast<absl::StatusCode>(status.error_code()),
                      status.error_message());
}

// The server's `retry-after-ms` hint, if it sent a valid one.
std::optional<absl::Duration> RetryHint(const grpc::ClientContext& context) {
  const auto& trailers = context.GetServerTrailingMetadata();
  auto it = trailers.find(kRetryAfterHeader);
  if (it == trailers.end()) return std::nullopt;
  int64_t millis = 0;
  if (!absl::SimpleAtoi(absl::string_view(it->second.data(), it->second.size()),
                        &millis) ||
      millis < 0) {
    return std::nullopt;
  }
  return absl::Milliseconds(millis);
}

}  // namespace

const char* OutcomeName(EventReport::Outcome outcome) {
  switch (outcome) {
    case EventReport::Outcome::kAccepted:
      return "ACCEPTED";
    case EventReport::Outcome::kDuplicate:
      return "DUPLICATE";
    case EventReport::Outcome::kRejected:
      return "REJECTED";
    case EventReport::Outcome::kGaveUp:
      return "GAVE_UP";
  }
  return "UNKNOWN";
}

class ChannelClient::Impl {
 public:
  Impl(std::shared_ptr<grpc::Channel> channel, std::string api_key,
       ChannelClientOptions options, ReportCallback on_report)
      : channel_(std::move(channel)),
        stub_(polku::v1::FeedbackService::NewStub(channel_)),
        authorization_(absl::StrCat("Bearer ", api_key)),
        options_(std::move(options)),
        on_report_(std::move(on_report)),
        jitter_(options_.jitter_seed) {
    for (int i = 0; i < options_.senders; ++i) {
      if (options_.transport == ChannelClientOptions::Transport::kStream) {
        senders_.emplace_back([this] { StreamLoop(); });
      } else {
        senders_.emplace_back([this] { BatchLoop(); });
      }
    }
  }

  ~Impl() { Close(absl::ZeroDuration()); }

  absl::Status Submit(TouchpointEvent event, absl::Duration wait) {
    if (event.event_id().empty()) {
      return absl::InvalidArgumentError("event.event_id is required");
    }
    absl::MutexLock lock(&mu_);
    auto has_room = [this]() ABSL_SHARED_LOCKS_REQUIRED(mu_) {
      return closing_ || unfinished_ < options_.buffer_capacity;
    };
    if (wait > absl::ZeroDuration()) {
      mu_.AwaitWithTimeout(absl::Condition(&has_room), wait);
    }
    if (closing_) {
      return absl::FailedPreconditionError("the channel client is closed");
    }
    if (unfinished_ >= options_.buffer_capacity) {
      return absl::ResourceExhaustedError(
          absl::StrCat("the client's buffer holds ", unfinished_,
                       " events, its capacity; retry later"));
    }
    ++unfinished_;
    queue_.push_back(Pending{std::move(event)});
    return absl::OkStatus();
  }

  bool Flush(absl::Duration timeout) {
    absl::MutexLock lock(&mu_);
    ++flushing_;
    auto drained = [this]() ABSL_SHARED_LOCKS_REQUIRED(mu_) {
      return unfinished_ == 0;
    };
    bool done = mu_.AwaitWithTimeout(absl::Condition(&drained), timeout);
    --flushing_;
    return done;
  }

  void Close(absl::Duration grace) {
    {
      absl::MutexLock lock(&mu_);
      if (closed_) return;
      closed_ = true;
      closing_ = true;
    }
    Flush(grace);
    {
      absl::MutexLock lock(&mu_);
      aborting_ = true;
      for (grpc::ClientContext* context : active_calls_) context->TryCancel();
    }
    for (std::thread& sender : senders_) sender.join();
    senders_.clear();
  }

  int pending() const {
    absl::MutexLock lock(&mu_);
    return unfinished_;
  }

 private:
  // An event waiting for its final outcome.
  struct Pending {
    TouchpointEvent event;
    // Calls (or streams) that carried it so far.
    int attempts = 0;
    absl::Time first_attempt = absl::InfiniteFuture();
  };

  // What a retrying sender needs to remember between attempts.
  struct Backoff {
    absl::Duration next;
  };

  bool HasBatchOrStop() const ABSL_SHARED_LOCKS_REQUIRED(mu_) {
    return !queue_.empty() || closing_;
  }
  bool BatchFullOrUrgent() const ABSL_SHARED_LOCKS_REQUIRED(mu_) {
    return static_cast<int>(queue_.size()) >= options_.max_batch_events ||
           closing_ || flushing_ > 0;
  }

  // Up to max_batch_events (and `limit`) events from the front of the
  // queue, after waiting at most max_batch_delay for a full batch.
  std::vector<Pending> TakeBatch(size_t limit)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    if (!aborting_ && !BatchFullOrUrgent()) {
      mu_.AwaitWithTimeout(absl::Condition(this, &Impl::BatchFullOrUrgent),
                           options_.max_batch_delay);
    }
    const size_t take = std::min(
        {queue_.size(), static_cast<size_t>(options_.max_batch_events), limit});
    std::vector<Pending> batch;
    batch.reserve(take);
    for (size_t i = 0; i < take; ++i) {
      batch.push_back(std::move(queue_.front()));
      queue_.pop_front();
    }
    return batch;
  }

  void BatchLoop() {
    while (true) {
      std::vector<Pending> batch;
      {
        absl::MutexLock lock(&mu_);
        mu_.Await(absl::Condition(this, &Impl::HasBatchOrStop));
        if (queue_.empty()) return;  // closing and nothing left
        batch = TakeBatch(std::numeric_limits<size_t>::max());
      }
      SendBatch(batch);
    }
  }

  // Sends one batch with SubmitEvents until every event in it has a final
  // outcome.
  void SendBatch(std::vector<Pending>& batch) {
    polku::v1::SubmitEventsRequest request;
    request.set_validate_only(options_.validate_only);
    request.set_history_version(options_.history_version);
    request.mutable_events()->Reserve(static_cast<int>(batch.size()));
    for (const Pending& pending : batch) *request.add_events() = pending.event;

    Backoff backoff{options_.initial_backoff};
    const absl::Time first_attempt = absl::Now();
    while (true) {
      for (Pending& pending : batch) {
        ++pending.attempts;
        pending.first_attempt = std::min(pending.first_attempt, first_attempt);
      }
      grpc::ClientContext context;
      context.AddMetadata("authorization", authorization_);
      context.set_deadline(
          absl::ToChronoTime(absl::Now() + options_.call_timeout));
      if (!Register(&context)) {
        return GiveUp(batch,
                      absl::CancelledError("the channel client was closed"));
      }
      polku::v1::SubmitEventsResponse response;
      grpc::Status status = stub_->SubmitEvents(&context, request, &response);
      Unregister(&context);

      if (status.ok()) {
        if (response.results_size() != request.events_size()) {
          return GiveUp(
              batch, absl::InternalError(absl::StrCat(
                         "the server answered ", response.results_size(),
                         " results for ", request.events_size(), " events")));
        }
        for (int i = 0; i < response.results_size(); ++i) {
          Report(FromResult(response.results(i), batch[i].attempts));
        }
        return Release(batch.size());
      }
      std::vector<Pending> kept = Retryable(std::move(batch), status);
      if (kept.empty()) return;
      batch = std::move(kept);
      if (!WaitBeforeRetry(context, backoff)) {
        return GiveUp(batch,
                      absl::CancelledError("the channel client was closed"));
      }
    }
  }

  // One stream after another until closed: events from the queue are
  // written as messages, answers come back in order on a reader thread.
  void StreamLoop() {
    Backoff backoff{options_.initial_backoff};
    while (true) {
      std::vector<Pending> cancelled;
      {
        absl::MutexLock lock(&mu_);
        mu_.Await(absl::Condition(this, &Impl::HasBatchOrStop));
        if (queue_.empty()) return;
        if (aborting_) {
          cancelled.assign(std::make_move_iterator(queue_.begin()),
                           std::make_move_iterator(queue_.end()));
          queue_.clear();
        }
      }
      if (!cancelled.empty()) {
        GiveUp(cancelled,
               absl::CancelledError("the channel client was closed"));
        continue;
      }
      grpc::ClientContext context;
      context.AddMetadata("authorization", authorization_);
      context.set_deadline(absl::ToChronoTime(
          absl::Now() + options_.stream_max_age + options_.call_timeout));
      if (!Register(&context)) continue;
      grpc::Status status;
      std::vector<Pending> unanswered = RunStream(context, status);
      Unregister(&context);
      if (status.ok() && unanswered.empty()) {
        backoff.next = options_.initial_backoff;
        continue;
      }
      if (status.ok()) {
        status = grpc::Status(grpc::StatusCode::UNAVAILABLE,
                              "the stream ended before answering every event");
      }
      std::vector<Pending> kept = Retryable(std::move(unanswered), status);
      WaitBeforeRetry(context, backoff);
      absl::MutexLock lock(&mu_);
      // Back to the front, in their order, for the next stream.
      for (auto it = kept.rbegin(); it != kept.rend(); ++it) {
        queue_.push_front(std::move(*it));
      }
    }
  }

  // Runs one stream; the events it carried but did not answer, in order.
  std::vector<Pending> RunStream(grpc::ClientContext& context,
                                 grpc::Status& status) {
    auto stream = stub_->StreamEvents(&context);
    const absl::Time started = absl::Now();
    // Written and not answered, in order; shared with the reader.
    std::deque<Pending> in_flight;
    bool reader_done = false;
    bool out_of_step = false;
    std::thread reader([&] {
      polku::v1::StreamEventsResponse response;
      while (stream->Read(&response)) {
        std::vector<EventReport> reports;
        {
          absl::MutexLock lock(&mu_);
          for (const EventResult& result : response.results()) {
            if (in_flight.empty() ||
                in_flight.front().event.event_id() != result.event_id()) {
              out_of_step = true;
              break;
            }
            reports.push_back(FromResult(result, in_flight.front().attempts));
            in_flight.pop_front();
          }
        }
        for (const EventReport& report : reports) Report(report);
        Release(reports.size());
        if (out_of_step) {
          // Answers that do not match what was sent: trust nothing more
          // from this stream; its unanswered events are sent again.
          context.TryCancel();
          break;
        }
      }
      absl::MutexLock lock(&mu_);
      reader_done = true;
    });

    // Closing with a full window waits for answers like any other write.
    auto can_write = [&]() ABSL_SHARED_LOCKS_REQUIRED(mu_) {
      return reader_done || aborting_ || (closing_ && queue_.empty()) ||
             (!queue_.empty() &&
              static_cast<int>(in_flight.size()) < options_.stream_window);
    };
    while (absl::Now() - started < options_.stream_max_age) {
      polku::v1::StreamEventsRequest request;
      request.set_history_version(options_.history_version);
      {
        absl::MutexLock lock(&mu_);
        mu_.AwaitWithTimeout(absl::Condition(&can_write),
                             absl::Milliseconds(100));
        if (reader_done || aborting_) break;
        const int room =
            options_.stream_window - static_cast<int>(in_flight.size());
        if (queue_.empty() || room <= 0) {
          if (closing_ && queue_.empty()) break;
          continue;
        }
        for (Pending& pending : TakeBatch(room)) {
          ++pending.attempts;
          pending.first_attempt = std::min(pending.first_attempt, started);
          *request.add_events() = pending.event;
          in_flight.push_back(std::move(pending));
        }
      }
      if (request.events_size() == 0) continue;
      if (!stream->Write(request)) break;
    }
    stream->WritesDone();
    reader.join();
    status = stream->Finish();
    absl::MutexLock lock(&mu_);
    if (out_of_step) {
      // The cancellation above is ours, not the caller's: a new stream gets
      // the unanswered events (re-sending is safe, the keys are the same).
      status = grpc::Status(grpc::StatusCode::UNAVAILABLE,
                            "the server's answers did not match the events "
                            "sent; re-sending on a new stream");
    }
    return std::vector<Pending>(std::make_move_iterator(in_flight.begin()),
                                std::make_move_iterator(in_flight.end()));
  }

  // After a failed call: the events worth another attempt. The others get
  // their final GAVE_UP report here.
  std::vector<Pending> Retryable(std::vector<Pending> events,
                                 const grpc::Status& status) {
    const absl::Status error = FromGrpc(status);
    if (!IsRetryable(status.error_code())) {
      GiveUp(events, error);
      return {};
    }
    std::vector<Pending> kept;
    std::vector<Pending> spent;
    const absl::Time now = absl::Now();
    for (Pending& pending : events) {
      const bool out_of_attempts = options_.max_attempts > 0 &&
                                   pending.attempts >= options_.max_attempts;
      const bool out_of_time =
          now - pending.first_attempt >= options_.retry_budget;
      (out_of_attempts || out_of_time ? spent : kept)
          .push_back(std::move(pending));
    }
    if (!spent.empty()) {
      GiveUp(spent,
             absl::Status(error.code(),
                          absl::StrCat("gave up after ", spent.front().attempts,
                                       " attempts: ", error.message())));
    }
    return kept;
  }

  // Sleeps the backoff (or the server's hint); false if the client was
  // closed meanwhile.
  bool WaitBeforeRetry(const grpc::ClientContext& context, Backoff& backoff) {
    absl::Duration delay;
    if (std::optional<absl::Duration> hint = RetryHint(context);
        hint.has_value()) {
      delay = *hint;
    } else {
      delay = Jittered(backoff.next);
      backoff.next = std::min(backoff.next * 2, options_.max_backoff);
    }
    absl::MutexLock lock(&mu_);
    mu_.AwaitWithTimeout(absl::Condition(&aborting_), delay);
    return !aborting_;
  }

  bool Register(grpc::ClientContext* context) {
    absl::MutexLock lock(&mu_);
    if (aborting_) return false;
    active_calls_.push_back(context);
    return true;
  }

  void Unregister(grpc::ClientContext* context) {
    absl::MutexLock lock(&mu_);
    active_calls_.erase(
        std::find(active_calls_.begin(), active_calls_.end(), context));
  }

  static EventReport FromResult(const EventResult& result, int attempts) {
    EventReport report;
    report.event_id = result.event_id();
    report.sequence = result.sequence();
    report.field = result.field();
    report.reason = result.reason();
    report.attempts = attempts;
    switch (result.outcome()) {
      case EventResult::ACCEPTED:
        report.outcome = EventReport::Outcome::kAccepted;
        break;
      case EventResult::DUPLICATE:
        report.outcome = EventReport::Outcome::kDuplicate;
        break;
      case EventResult::REJECTED:
        report.outcome = EventReport::Outcome::kRejected;
        break;
      default:
        report.outcome = EventReport::Outcome::kGaveUp;
        report.status = absl::InternalError("the server answered no outcome");
        break;
    }
    return report;
  }

  void Report(const EventReport& report) {
    if (on_report_) on_report_(report);
  }

  void GiveUp(const std::vector<Pending>& events, const absl::Status& status) {
    for (const Pending& pending : events) {
      EventReport report;
      report.event_id = pending.event.event_id();
      report.outcome = EventReport::Outcome::kGaveUp;
      report.status = status;
      report.attempts = pending.attempts;
      Report(report);
    }
    Release(events.size());
  }

  // Events that got their final report leave the buffer.
  void Release(size_t events) {
    if (events == 0) return;
    absl::MutexLock lock(&mu_);
    unfinished_ -= static_cast<int>(events);
  }

  absl::Duration Jittered(absl::Duration backoff) {
    absl::MutexLock lock(&jitter_mu_);
    std::uniform_real_distribution<double> half_to_one(0.5, 1.0);
    return backoff * half_to_one(jitter_);
  }

  const std::shared_ptr<grpc::Channel> channel_;
  const std::unique_ptr<polku::v1::FeedbackService::Stub> stub_;
  const std::string authorization_;
  const ChannelClientOptions options_;
  const ReportCallback on_report_;

  mutable absl::Mutex mu_;
  std::deque<Pending> queue_ ABSL_GUARDED_BY(mu_);
  // Buffered plus in flight: what the capacity bounds.
  int unfinished_ ABSL_GUARDED_BY(mu_) = 0;
  int flushing_ ABSL_GUARDED_BY(mu_) = 0;
  bool closed_ ABSL_GUARDED_BY(mu_) = false;
  // No new events; senders send what is left.
  bool closing_ ABSL_GUARDED_BY(mu_) = false;
  // Senders stop retrying and cancel their calls.
  bool aborting_ ABSL_GUARDED_BY(mu_) = false;
  std::vector<grpc::ClientContext*> active_calls_ ABSL_GUARDED_BY(mu_);

  absl::Mutex jitter_mu_;
  std::mt19937_64 jitter_ ABSL_GUARDED_BY(jitter_mu_);

  std::vector<std::thread> senders_;
};

absl::StatusOr<std::unique_ptr<ChannelClient>> ChannelClient::Create(
    const std::string& address, const std::string& api_key,
    const ChannelClientOptions& options, ReportCallback on_report) {
  if (address.empty()) return absl::InvalidArgumentError("address is required");
  return Create(
      grpc::CreateChannel(address, grpc::InsecureChannelCredentials()), api_key,
      options, std::move(on_report));
}

absl::StatusOr<std::unique_ptr<ChannelClient>> ChannelClient::Create(
    std::shared_ptr<grpc::Channel> channel, const std::string& api_key,
    const ChannelClientOptions& options, ReportCallback on_report) {
  if (options.max_batch_events < 1) {
    return absl::InvalidArgumentError(
        "options.max_batch_events must be at least 1");
  }
  if (options.buffer_capacity < 1) {
    return absl::InvalidArgumentError(
        "options.buffer_capacity must be at least 1");
  }
  if (options.senders < 1) {
    return absl::InvalidArgumentError("options.senders must be at least 1");
  }
  if (options.call_timeout <= absl::ZeroDuration()) {
    return absl::InvalidArgumentError("options.call_timeout must be positive");
  }
  if (options.initial_backoff <= absl::ZeroDuration() ||
      options.max_backoff < options.initial_backoff) {
    return absl::InvalidArgumentError(
        "options.initial_backoff must be positive and at most "
        "options.max_backoff");
  }
  if (options.validate_only &&
      options.transport != ChannelClientOptions::Transport::kBatches) {
    return absl::InvalidArgumentError(
        "options.validate_only needs Transport::kBatches (SubmitEvents)");
  }
  if (options.history_version < 0) {
    return absl::InvalidArgumentError(
        "options.history_version must be at least 0");
  }
  return std::unique_ptr<ChannelClient>(
      new ChannelClient(std::make_unique<Impl>(std::move(channel), api_key,
                                               options, std::move(on_report))));
}

ChannelClient::ChannelClient(std::unique_ptr<Impl> impl)
    : impl_(std::move(impl)) {}
ChannelClient::~ChannelClient() = default;

absl::Status ChannelClient::Submit(TouchpointEvent event) {
  return impl_->Submit(std::move(event), absl::ZeroDuration());
}

absl::Status ChannelClient::SubmitWithin(TouchpointEvent event,
                                         absl::Duration timeout) {
  return impl_->Submit(std::move(event), timeout);
}

bool ChannelClient::Flush(absl::Duration timeout) {
  return impl_->Flush(timeout);
}

void ChannelClient::Close(absl::Duration grace) { impl_->Close(grace); }

int ChannelClient::pending() const { return impl_->pending(); }

}  // namespace polku::client
