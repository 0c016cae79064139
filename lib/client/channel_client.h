// The channel client: what a channel system (a contact centre, a shop's
// tills, a survey widget) links to so that every piece of feedback reaches
// Polku exactly once, without the caller having to think about retries.
//
//   polku::client::ChannelClientOptions options;
//   options.max_batch_events = 500;
//   auto client = polku::client::ChannelClient::Create(
//       "gateway.example:7070", channel_key, options,
//       [](const polku::client::EventReport& report) {
//         // ACCEPTED / DUPLICATE (with the feed sequence), REJECTED (field,
//         // reason) or GAVE_UP (the last error): once per event.
//       });
//   absl::Status queued = client->Submit(event);  // RESOURCE_EXHAUSTED if full
//   client->Flush(absl::Seconds(30));
//
// How it behaves:
//  * Submit puts the event into a bounded local buffer and returns at once;
//    when `buffer_capacity` events are waiting or in flight it answers
//    RESOURCE_EXHAUSTED (SubmitWithin waits up to a timeout for room
//    instead). The buffer never grows beyond its capacity.
//  * Background senders take events from the buffer in batches (up to
//    `max_batch_events`, waiting at most `max_batch_delay` for a batch to
//    fill) and send them with FeedbackService.SubmitEvents (Transport::
//    kBatches) or as messages on a FeedbackService.StreamEvents stream
//    (Transport::kStream, at most `stream_window` events unanswered per
//    stream; a stream is replaced after `stream_max_age`). Every call has a
//    deadline and `authorization: Bearer <key>`.
//  * UNAVAILABLE, RESOURCE_EXHAUSTED, DEADLINE_EXCEEDED and CANCELLED (which
//    a gRPC C++ server answers to a call that reaches it just as it begins
//    to shut down; the client itself cancels only when closed) are retried with
//    capped exponential backoff and jitter; a `retry-after-ms` trailing
//    metadata value from the server replaces the computed delay. A retry
//    re-sends exactly the same events (the same event_id and content), so
//    the server answers DUPLICATE for any event the failed attempt did store.
//    When a stream breaks, the events it had not answered are sent again, in
//    their order, on the next stream.
//    Any other error ends the events with GAVE_UP at once; so do running out
//    of `max_attempts` or of `retry_budget`.
//  * The callback runs once per event, on a sender thread (several sender
//    threads may call it at the same time); it must not call Flush or Close.
//  * The client keeps one gRPC channel and one stub for its whole life.
#ifndef POLKU_LIB_CLIENT_CHANNEL_CLIENT_H_
#define POLKU_LIB_CLIENT_CHANNEL_CLIENT_H_

#include <grpcpp/channel.h>

#include <cstdint>
#include <functional>
#include <memory>
#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "polku/v1/common.pb.h"

namespace polku::client {

struct ChannelClientOptions {
  enum class Transport {
    // Unary SubmitEvents calls, one batch each.
    kBatches,
    // A StreamEvents stream per sender; each batch is one stream message.
    kStream,
  };
  Transport transport = Transport::kBatches;
  // Events per SubmitEvents call or stream message (the server enforces its
  // own maximum).
  int max_batch_events = 500;
  // How long a sender waits for a batch to fill before sending what it has.
  absl::Duration max_batch_delay = absl::Milliseconds(5);
  // Events buffered or in flight at most; Submit refuses beyond this.
  int buffer_capacity = 10'000;
  // Calls in flight at once (one sender thread each).
  int senders = 1;
  // Deadline of every unary call; a stream's deadline is stream_max_age +
  // call_timeout from its start.
  absl::Duration call_timeout = absl::Seconds(10);
  // Events written to a stream and not yet answered, at most.
  int stream_window = 2'000;
  // After this long a stream takes no new events and is closed once
  // answered; the next events go on a new stream.
  absl::Duration stream_max_age = absl::Seconds(20);
  // Backoff before the first retry; doubles per retry up to max_backoff.
  // The actual delay is drawn uniformly from [backoff / 2, backoff].
  absl::Duration initial_backoff = absl::Milliseconds(50);
  absl::Duration max_backoff = absl::Seconds(5);
  // Attempts per event, the first included; 0 = no limit.
  int max_attempts = 0;
  // Time from an event's first attempt after which it is not retried again.
  absl::Duration retry_budget = absl::Minutes(5);
  // Seed of the jitter; a fixed seed makes delays reproducible in tests.
  uint64_t jitter_seed = 0;
  // Set on every call (SubmitEventsRequest / StreamEventsRequest
  // history_version): events older than their journey's first version are
  // validated against this version of it (importing history).
  int32_t history_version = 0;
  // A dry run: every call is SubmitEvents with validate_only, so events are
  // answered ACCEPTED or REJECTED and nothing is stored. Needs
  // Transport::kBatches.
  bool validate_only = false;
};

// What finally became of one submitted event.
struct EventReport {
  enum class Outcome {
    // Stored now by the server; `sequence` is its feed position.
    kAccepted,
    // Stored earlier (e.g. by an attempt whose answer was lost); `sequence`
    // is the original position.
    kDuplicate,
    // The server refused the event; `field` and `reason` say why. Never
    // retried: the same event would be refused again.
    kRejected,
    // Not known to be stored: the call failed with a non-retryable error,
    // the retries ran out, or the client was closed. `status` says which.
    // The event may or may not be stored; re-submitting it later is safe.
    kGaveUp,
  };
  std::string event_id;
  Outcome outcome = Outcome::kGaveUp;
  int64_t sequence = 0;
  std::string field;
  std::string reason;
  absl::Status status;
  // Calls that carried the event.
  int attempts = 0;
};

// "ACCEPTED", "DUPLICATE", "REJECTED", "GAVE_UP".
const char* OutcomeName(EventReport::Outcome outcome);

class ChannelClient {
 public:
  using ReportCallback = std::function<void(const EventReport&)>;

  // A client of the FeedbackService at `address` (the gateway, or
  // polku-feedback directly with trusted metadata in tests) using `api_key`.
  static absl::StatusOr<std::unique_ptr<ChannelClient>> Create(
      const std::string& address, const std::string& api_key,
      const ChannelClientOptions& options, ReportCallback on_report);

  // The same over an existing channel (tests, in-process servers).
  static absl::StatusOr<std::unique_ptr<ChannelClient>> Create(
      std::shared_ptr<grpc::Channel> channel, const std::string& api_key,
      const ChannelClientOptions& options, ReportCallback on_report);

  // Closes with no grace period (see Close).
  ~ChannelClient();

  ChannelClient(const ChannelClient&) = delete;
  ChannelClient& operator=(const ChannelClient&) = delete;

  // Buffers `event` for sending. RESOURCE_EXHAUSTED when the buffer is
  // full, INVALID_ARGUMENT without an event_id, FAILED_PRECONDITION after
  // Close. An OK answer means the callback will report the event once.
  absl::Status Submit(polku::v1::TouchpointEvent event);

  // Like Submit, but waits up to `timeout` for room in the buffer.
  absl::Status SubmitWithin(polku::v1::TouchpointEvent event,
                            absl::Duration timeout);

  // Waits until every event submitted so far has been reported. False if
  // `timeout` passed first.
  bool Flush(absl::Duration timeout);

  // Refuses further events, waits up to `grace` for the buffered ones, then
  // cancels what is still in flight or waiting (reported GAVE_UP,
  // CANCELLED) and stops the senders. Idempotent.
  void Close(absl::Duration grace);

  // Events buffered or in flight.
  int pending() const;

 private:
  class Impl;
  explicit ChannelClient(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace polku::client

#endif  // POLKU_LIB_CLIENT_CHANNEL_CLIENT_H_
