// Keeps a reader of polku-feedback's change feed up to date: polku-insight's
// rollups, polku-cases' cases. Both tail the feed through this one class.
//
// A background thread calls FeedbackService.WatchEvents(from = checkpoint+1)
// as an internal caller (no tenant metadata: the feed spans every tenant),
// applies its pages through a FeedSink (which advances the checkpoint
// in the same transaction), and reconnects after an error or the end of the
// stream with capped exponential backoff, resuming from the persisted
// checkpoint. Under load polku-feedback publishes a small page per group
// commit (hundreds a second); the pages that arrive within `apply_interval`
// of the previous apply are applied together, in one transaction, so that
// the reader commits (and fsyncs) a few times a second instead of once a page.
// Streams carry a long deadline and are simply reopened when it expires, so
// no call is ever unbounded. Erasure pages go to
// FeedSink::ApplyErasure. The first page of every stream is checked
// against the feed the checkpoint belongs to (FeedSink::CheckFeed); on a
// mismatch nothing is applied, an error is logged and the tailer keeps
// retrying with backoff, so the problem is loud but nothing is miscounted.
// With Options::reader set, the tailer reports the reader's durable
// checkpoint to polku-feedback (FeedReaderService.ReportProgress, for the
// erasure receipts): at once after an erasure page, after other pages at
// most every `report_interval`, and when a stream opens (once the feed is
// known), so that polku-feedback learns again after either side restarts.
//
//   FeedTailer tailer(store, MakeFeedbackChannel("127.0.0.1:7101"));
//   tailer.Start();
//   …
//   tailer.Stop();   // cancels the open stream; returns promptly
#ifndef POLKU_LIB_FEED_FEED_TAILER_H_
#define POLKU_LIB_FEED_FEED_TAILER_H_

#include <grpcpp/channel.h>
#include <grpcpp/client_context.h>

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "lib/rpc/tls.h"
#include "polku/v1/feed_readers.grpc.pb.h"
#include "polku/v1/feedback.grpc.pb.h"
#include "lib/feed/feed_sink.h"

namespace polku::feed {

// A channel to polku-feedback with keepalive, so a silently dead peer is
// noticed long before the stream's deadline; over (m)TLS with `tls`.
std::shared_ptr<grpc::Channel> MakeFeedbackChannel(
    const std::string& address, const rpc::TlsFiles& tls = {});

// What one apply changed (FeedTailer::Options::on_applied).
struct FeedChanges {
  // (tenant, journey) pairs with new events, ordered; an erasure gives
  // (tenant, "") since it may touch any journey of the tenant.
  std::vector<std::pair<std::string, std::string>> journeys;
  // The checkpoint after the page.
  int64_t sequence = 0;
};

class FeedTailer {
 public:
  struct Options {
    // Backoff before reconnecting: doubles after each attempt that delivered
    // nothing, up to the maximum; resets once a page arrives.
    absl::Duration initial_backoff = absl::Milliseconds(100);
    absl::Duration max_backoff = absl::Seconds(5);
    // Deadline of one WatchEvents stream.
    absl::Duration stream_deadline = absl::Hours(1);
    // How long the stream's status may take once reads have failed. A page
    // that does not parse fails the read while polku-feedback holds the
    // stream open; past this the tailer cancels it and reconnects.
    absl::Duration finish_grace = absl::Seconds(5);
    // Pages arriving within this long of the previous apply wait for it to
    // pass and are then applied together; a page after a quiet spell is
    // applied at once. So the reader lags the feed by at most about this.
    absl::Duration apply_interval = absl::Milliseconds(50);
    // At most this many events per apply (and per transaction); the stream
    // is not read further while this many wait (an erasure counts as one),
    // so a slow disk slows the feed instead of growing memory.
    int max_events_per_apply = 5000;
    // Called on the tailer thread after each apply (durably), so
    // listeners (live scorecards, the change-alert monitor) learn of new
    // data at once. Must not block: record and hand off.
    std::function<void(const FeedChanges&)> on_applied;
    // The reader's identity for progress reports, e.g. rpc::kCasesIdentity
    // (with mTLS, the one its certificate names); empty: no reports.
    std::string reader;
    // Reports after pages other than erasures at most this often.
    absl::Duration report_interval = absl::Seconds(1);
    // Deadline of one report.
    absl::Duration report_deadline = absl::Seconds(2);
  };

  FeedTailer(FeedSink& store, std::shared_ptr<grpc::Channel> channel)
      : FeedTailer(store, std::move(channel), Options()) {}
  FeedTailer(FeedSink& store, std::shared_ptr<grpc::Channel> channel,
             Options options);
  // Stops if still running.
  ~FeedTailer();

  FeedTailer(const FeedTailer&) = delete;
  FeedTailer& operator=(const FeedTailer&) = delete;

  // Starts the background thread; call once.
  void Start();
  // Cancels the open stream and joins the thread. Idempotent.
  void Stop();

 private:
  // The pages read from a stream and not yet applied.
  class PageQueue;

  void Run();
  // One WatchEvents stream, until it ends. True if it applied any page.
  bool TailOnce();
  // Tells options_.on_applied what an applied page changed.
  void Announce(const v1::WatchEventsResponse& page) const;
  bool StopRequested() const;
  // Reports `applied_sequence` of feed `feed_id_` (options_.reader set and
  // the feed known); a failure is retried with the next report.
  void ReportProgress(int64_t applied_sequence);

  FeedSink& store_;
  const std::unique_ptr<v1::FeedbackService::Stub> stub_;
  const std::unique_ptr<v1::FeedReaderService::Stub> reports_;
  const Options options_;

  mutable absl::Mutex mu_;
  bool stopping_ ABSL_GUARDED_BY(mu_) = false;
  // The open stream's context, so Stop can cancel it.
  grpc::ClientContext* open_stream_ ABSL_GUARDED_BY(mu_) = nullptr;
  // The report in flight's context, so Stop can cancel it.
  grpc::ClientContext* open_report_ ABSL_GUARDED_BY(mu_) = nullptr;
  std::thread thread_;

  // Touched only by the tailer thread: throttles the failure warnings.
  int failed_attempts_ = 0;
  absl::Time last_warning_ = absl::InfinitePast();
  // Touched only by the tailer thread: the feed the checkpoint is of (once
  // a page of it was checked), and the reports.
  std::string feed_id_;
  absl::Time last_report_ = absl::InfinitePast();
  // The last report failed: the next page is reported whatever its kind.
  bool report_failed_ = false;
};

}  // namespace polku::feed

#endif  // POLKU_LIB_FEED_FEED_TAILER_H_
