#include "services/insight/server/insight_service.h"

#include <algorithm>
#include <deque>
#include <functional>
#include <optional>
#include <utility>
#include <vector>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "lib/base/log.h"
#include "lib/rpc/metadata.h"
#include "lib/rpc/push_stream.h"
#include "lib/rpc/status.h"
#include "lib/rpc/unary.h"
#include "services/insight/analytics/consistency.h"
#include "services/insight/analytics/journey_map.h"
#include "services/insight/analytics/trend.h"

namespace polku::insight {
namespace {

constexpr int kDefaultAlertPageSize = 100;
constexpr int kMaxAlertPageSize = 1000;

// ListAlerts' order: newest first_seen first, then by id.
bool AlertBefore(const v1::Alert& a, const v1::Alert& b) {
  if (a.first_seen().seconds() != b.first_seen().seconds()) {
    return a.first_seen().seconds() > b.first_seen().seconds();
  }
  if (a.first_seen().nanos() != b.first_seen().nanos()) {
    return a.first_seen().nanos() > b.first_seen().nanos();
  }
  return a.id() < b.id();
}

// A page token names the last alert sent: "seconds:nanos:id".
std::string TokenAfter(const v1::Alert& alert) {
  return absl::StrCat(alert.first_seen().seconds(), ":",
                      alert.first_seen().nanos(), ":", alert.id());
}

absl::StatusOr<v1::Alert> ParseToken(const std::string& token) {
  std::vector<std::string> parts =
      absl::StrSplit(token, absl::MaxSplits(':', 2));
  v1::Alert position;
  int64_t seconds = 0;
  int32_t nanos = 0;
  if (parts.size() != 3 || !absl::SimpleAtoi(parts[0], &seconds) ||
      !absl::SimpleAtoi(parts[1], &nanos)) {
    return absl::InvalidArgumentError(
        "page_token: not a token from a previous ListAlerts response");
  }
  position.mutable_first_seen()->set_seconds(seconds);
  position.mutable_first_seen()->set_nanos(nanos);
  position.set_id(parts[2]);
  return position;
}

absl::Status NeedsJourneys(JourneySource* journeys) {
  if (journeys != nullptr) return absl::OkStatus();
  return absl::UnavailableError(
      "journey definitions are unavailable (no polku-journey configured)");
}

std::string RowsOf(const v1::Scorecard& card) {
  v1::Scorecard rows;
  *rows.mutable_rows() = card.rows();
  *rows.mutable_total() = card.total();
  return rows.SerializeAsString();
}

// rpc::RunUnary for the caller's tenant.
template <typename Response>
grpc::ServerUnaryReactor* RunUnary(
    grpc::CallbackServerContext* context, Response* response,
    Executor& executor,
    std::function<absl::StatusOr<Response>(const std::string& tenant)> work) {
  return rpc::RunUnary<Response>(
      context, response, executor,
      [work = std::move(work)](const rpc::Caller& caller) {
        return work(caller.tenant);
      });
}

}  // namespace

// One WatchAlerts call: the open alerts first, then the monitor's updates.
// Updates that arrive before the initial alerts are sent wait behind them.
class AlertStream final : public rpc::PushStream<v1::AlertUpdate> {
 public:
  AlertStream(InsightServiceImpl& service, std::string tenant,
              std::string journey)
      : PushStream([&service, this] { service.RemoveStream(this); }),
        tenant_(std::move(tenant)),
        journey_(std::move(journey)) {}

  bool Wants(const std::string& tenant, const v1::Alert& alert) const {
    return tenant == tenant_ && (journey_.empty() || alert.journey() == journey_);
  }

  // Pinned by the caller.
  void Deliver(const v1::Alert& alert) {
    v1::AlertUpdate update;
    *update.mutable_alert() = alert;
    absl::MutexLock lock(&initial_mu_);
    if (!initial_sent_) {
      held_.push_back(std::move(update));
      return;
    }
    Send(std::move(update));
  }

  // Pinned by the caller; on the executor.
  void SendInitial(AlertStore& store) {
    absl::StatusOr<std::vector<v1::Alert>> open =
        store.LoadAlerts(tenant_, journey_, /*include_cleared=*/false);
    if (!open.ok()) {
      End(rpc::ToGrpcStatus(open.status()));
      return;
    }
    absl::MutexLock lock(&initial_mu_);
    for (v1::Alert& alert : *open) {
      v1::AlertUpdate update;
      *update.mutable_alert() = std::move(alert);
      update.set_initial(true);
      Send(std::move(update));
    }
    for (v1::AlertUpdate& update : held_) Send(std::move(update));
    held_.clear();
    initial_sent_ = true;
  }

 private:
  const std::string tenant_;
  const std::string journey_;
  absl::Mutex initial_mu_;
  bool initial_sent_ ABSL_GUARDED_BY(initial_mu_) = false;
  std::vector<v1::AlertUpdate> held_ ABSL_GUARDED_BY(initial_mu_);
};

// One WatchScorecard call.
class ScorecardStream final : public rpc::PushStream<v1::Scorecard> {
 public:
  ScorecardStream(InsightServiceImpl& service, std::string tenant,
                  v1::GetScorecardRequest request)
      : PushStream([&service, this] { service.RemoveStream(this); }),
        service_(service),
        tenant_(std::move(tenant)),
        request_(std::move(request)) {}

  bool Watches(const std::string& tenant, const std::string& journey) const {
    return tenant == tenant_ && (journey.empty() || journey == request_.journey());
  }

  // Computes the scorecard and sends it if it moved on. Pinned by the
  // caller; on the executor.
  void Refresh() {
    absl::MutexLock lock(&refresh_mu_);  // one refresh at a time, in order
    absl::StatusOr<v1::Scorecard> card = ComputeScorecard(
        service_.store_, tenant_, request_,
        service_.SuccessorsFor(tenant_, request_.journey(),
                               request_.group_by() == v1::GROUP_BY_UNSPECIFIED ||
                                       request_.group_by() ==
                                           v1::GROUP_BY_TOUCHPOINT
                                   ? request_.journey_version()
                                   : -1));
    if (!card.ok()) {
      if (!sent_any_) End(rpc::ToGrpcStatus(card.status()));
      return;  // a later refresh may succeed; the last card stays right
    }
    std::string rows = RowsOf(*card);
    if (sent_any_ && (card->as_of_sequence() == last_sequence_ ||
                      rows == last_rows_)) {
      return;
    }
    sent_any_ = true;
    last_sequence_ = card->as_of_sequence();
    last_rows_ = std::move(rows);
    Send(*std::move(card));
  }

 private:
  InsightServiceImpl& service_;
  const std::string tenant_;
  const v1::GetScorecardRequest request_;
  absl::Mutex refresh_mu_;
  bool sent_any_ ABSL_GUARDED_BY(refresh_mu_) = false;
  int64_t last_sequence_ ABSL_GUARDED_BY(refresh_mu_) = 0;
  std::string last_rows_ ABSL_GUARDED_BY(refresh_mu_);
};

InsightServiceImpl::InsightServiceImpl(RollupReader& rollups,
                                       AlertStore& alerts, Executor& executor,
                                       Options options)
    : store_(rollups), alerts_(alerts), executor_(executor), options_(options) {
  pump_ = std::thread([this] { RunScorecardPump(); });
}

InsightServiceImpl::~InsightServiceImpl() { Stop(); }

void InsightServiceImpl::Stop() {
  {
    absl::MutexLock lock(&streams_mu_);
    stopping_ = true;
  }
  if (pump_.joinable()) pump_.join();
}

TouchpointSuccessors InsightServiceImpl::SuccessorsFor(
    const std::string& tenant, const std::string& journey,
    int32_t journey_version) {
  if (options_.lineage == nullptr || journey_version != 0 || journey.empty()) {
    return {};
  }
  absl::StatusOr<TouchpointSuccessors> chain =
      options_.lineage->Successors(tenant, journey);
  if (!chain.ok()) {
    // Still right, only less merged: rows under a renamed touchpoint's
    // earlier keys stay apart until polku-journey answers again.
    log::Warning("answer without the rename chain",
                 {{"journey", journey}, {"error", chain.status().ToString()}});
    return {};
  }
  return *std::move(chain);
}

grpc::ServerUnaryReactor* InsightServiceImpl::GetScorecard(
    grpc::CallbackServerContext* context,
    const v1::GetScorecardRequest* request, v1::Scorecard* response) {
  return RunUnary<v1::Scorecard>(
      context, response, executor_, [this, request](const std::string& tenant) {
        const bool by_touchpoint =
            request->group_by() == v1::GROUP_BY_UNSPECIFIED ||
            request->group_by() == v1::GROUP_BY_TOUCHPOINT;
        return ComputeScorecard(
            store_, tenant, *request,
            SuccessorsFor(tenant, request->journey(),
                          by_touchpoint ? request->journey_version() : -1));
      });
}

grpc::ServerUnaryReactor* InsightServiceImpl::GetTrend(
    grpc::CallbackServerContext* context, const v1::GetTrendRequest* request,
    v1::Trend* response) {
  return RunUnary<v1::Trend>(
      context, response, executor_, [this, request](const std::string& tenant) {
        const v1::Scope& scope = request->scope();
        return ComputeTrend(
            store_, tenant, *request,
            scope.touchpoint().empty() && scope.touchpoints().empty()
                ? TouchpointSuccessors()
                : SuccessorsFor(tenant, scope.journey(),
                                scope.journey_version()),
            options_.clock->Now());
      });
}

grpc::ServerUnaryReactor* InsightServiceImpl::ListAlerts(
    grpc::CallbackServerContext* context, const v1::ListAlertsRequest* request,
    v1::ListAlertsResponse* response) {
  return RunUnary<v1::ListAlertsResponse>(
      context, response, executor_,
      [this, request](
          const std::string& tenant) -> absl::StatusOr<v1::ListAlertsResponse> {
        if (request->page_size() < 0) {
          return absl::InvalidArgumentError(
              "page_size: must not be negative (0 = 100, at most 1000)");
        }
        const int page_size =
            request->page_size() == 0
                ? kDefaultAlertPageSize
                : std::min(request->page_size(), kMaxAlertPageSize);
        std::optional<v1::Alert> after;
        if (!request->page_token().empty()) {
          absl::StatusOr<v1::Alert> position = ParseToken(request->page_token());
          if (!position.ok()) return position.status();
          after = *std::move(position);
        }
        absl::StatusOr<std::vector<v1::Alert>> alerts = alerts_.LoadAlerts(
            tenant, request->journey(), request->include_cleared());
        if (!alerts.ok()) return alerts.status();
        std::sort(alerts->begin(), alerts->end(), AlertBefore);
        auto begin = alerts->begin();
        if (after) {
          begin = std::upper_bound(alerts->begin(), alerts->end(), *after,
                                   AlertBefore);
        }
        v1::ListAlertsResponse page;
        for (auto it = begin; it != alerts->end(); ++it) {
          if (page.alerts_size() == page_size) {
            page.set_next_page_token(TokenAfter(page.alerts(page_size - 1)));
            break;
          }
          *page.add_alerts() = *it;
        }
        return page;
      });
}

grpc::ServerUnaryReactor* InsightServiceImpl::GetConsistency(
    grpc::CallbackServerContext* context,
    const v1::GetConsistencyRequest* request, v1::Consistency* response) {
  return RunUnary<v1::Consistency>(
      context, response, executor_,
      [this, request](
          const std::string& tenant) -> absl::StatusOr<v1::Consistency> {
        if (request->journey().empty()) {
          return absl::InvalidArgumentError(
              "journey: required (the journey key)");
        }
        if (request->journey_version() < 0) {
          return absl::InvalidArgumentError(
              "journey_version: must be 0 (every version) or a version "
              "number");
        }
        if (absl::Status s = NeedsJourneys(options_.journeys); !s.ok()) return s;
        absl::StatusOr<v1::Journey> journey = options_.journeys->Journey(
            tenant, request->journey(), request->journey_version());
        if (!journey.ok()) return journey.status();
        return ComputeConsistency(store_, tenant, *request, *journey,
                                  options_.tests);
      });
}

grpc::ServerUnaryReactor* InsightServiceImpl::GetJourneyMap(
    grpc::CallbackServerContext* context,
    const v1::GetJourneyMapRequest* request, v1::JourneyMap* response) {
  return RunUnary<v1::JourneyMap>(
      context, response, executor_,
      [this, request](
          const std::string& tenant) -> absl::StatusOr<v1::JourneyMap> {
        if (request->journey().empty()) {
          return absl::InvalidArgumentError(
              "journey: required (the journey key)");
        }
        if (request->journey_version() < 0) {
          return absl::InvalidArgumentError(
              "journey_version: must be 0 (the latest) or a version number");
        }
        if (absl::Status s = NeedsJourneys(options_.journeys); !s.ok()) return s;
        absl::StatusOr<v1::Journey> drawn = options_.journeys->Journey(
            tenant, request->journey(), request->journey_version());
        if (!drawn.ok()) return drawn.status();
        absl::StatusOr<v1::Journey> latest = drawn;
        if (request->journey_version() != 0) {
          latest = options_.journeys->Journey(tenant, request->journey(), 0);
          if (!latest.ok()) return latest.status();
        }
        return ComputeJourneyMap(store_, alerts_, tenant, *request, *drawn, *latest,
                                 options_.clock->Now(), options_.tests);
      });
}

grpc::ServerWriteReactor<v1::AlertUpdate>* InsightServiceImpl::WatchAlerts(
    grpc::CallbackServerContext* context,
    const v1::WatchAlertsRequest* request) {
  absl::StatusOr<rpc::Caller> caller = rpc::CallerFrom(*context);
  auto* stream = new AlertStream(*this, caller.ok() ? caller->tenant : "",
                                 request->journey());
  if (!caller.ok()) {
    stream->End(rpc::ToGrpcStatus(caller.status()));
    return stream;
  }
  bool draining;
  {
    absl::MutexLock lock(&streams_mu_);
    draining = draining_;
    if (!draining) {
      // Registered before the initial alerts are read, so no update between
      // the two is lost.
      alert_streams_.insert(stream);
      stream->Pin();
    }
  }
  // Ended outside the lock: ending may run OnDone, which takes it.
  if (draining) {
    stream->End(grpc::Status(grpc::StatusCode::UNAVAILABLE,
                             "server shutting down; watch again"));
    return stream;
  }
  executor_.Schedule([this, stream] {
    stream->SendInitial(alerts_);
    stream->Unpin();
  });
  return stream;
}

grpc::ServerWriteReactor<v1::Scorecard>* InsightServiceImpl::WatchScorecard(
    grpc::CallbackServerContext* context,
    const v1::GetScorecardRequest* request) {
  absl::StatusOr<rpc::Caller> caller = rpc::CallerFrom(*context);
  auto* stream = new ScorecardStream(
      *this, caller.ok() ? caller->tenant : "", *request);
  if (!caller.ok()) {
    stream->End(rpc::ToGrpcStatus(caller.status()));
    return stream;
  }
  bool draining;
  {
    absl::MutexLock lock(&streams_mu_);
    draining = draining_;
    if (!draining) {
      scorecard_streams_[stream] = false;
      stream->Pin();
    }
  }
  if (draining) {
    stream->End(grpc::Status(grpc::StatusCode::UNAVAILABLE,
                             "server shutting down; watch again"));
    return stream;
  }
  executor_.Schedule([stream] {
    stream->Refresh();
    stream->Unpin();
  });
  return stream;
}

void InsightServiceImpl::FeedApplied(const FeedChanges& changes) {
  absl::MutexLock lock(&streams_mu_);
  for (auto& [stream, marked] : scorecard_streams_) {
    for (const auto& [tenant, journey] : changes.journeys) {
      if (stream->Watches(tenant, journey)) {
        marked = true;
        any_marked_ = true;
      }
    }
  }
}

void InsightServiceImpl::RunScorecardPump() {
  while (true) {
    std::vector<ScorecardStream*> due;
    {
      absl::MutexLock lock(&streams_mu_);
      const auto wake = [this]() ABSL_SHARED_LOCKS_REQUIRED(streams_mu_) {
        return stopping_ || any_marked_;
      };
      streams_mu_.Await(absl::Condition(&wake));
      if (stopping_) return;
      any_marked_ = false;
      for (auto& [stream, marked] : scorecard_streams_) {
        if (!marked) continue;
        marked = false;
        stream->Pin();
        due.push_back(stream);
      }
    }
    for (ScorecardStream* stream : due) {
      executor_.Schedule([stream] {
        stream->Refresh();
        stream->Unpin();
      });
    }
    // At most one round per interval: a busy feed costs each stream one
    // query per interval, however many pages arrive.
    absl::MutexLock lock(&streams_mu_);
    streams_mu_.AwaitWithTimeout(absl::Condition(&stopping_),
                                 options_.scorecard_interval);
    if (stopping_) return;
  }
}

void InsightServiceImpl::AlertChanged(const std::string& tenant,
                                      const v1::Alert& alert) {
  std::vector<AlertStream*> streams;
  {
    absl::MutexLock lock(&streams_mu_);
    for (AlertStream* stream : alert_streams_) {
      if (!stream->Wants(tenant, alert)) continue;
      stream->Pin();
      streams.push_back(stream);
    }
  }
  for (AlertStream* stream : streams) {
    stream->Deliver(alert);
    stream->Unpin();
  }
}

void InsightServiceImpl::EndStreams() {
  std::vector<AlertStream*> alert_streams;
  std::vector<ScorecardStream*> scorecard_streams;
  {
    absl::MutexLock lock(&streams_mu_);
    draining_ = true;
    for (AlertStream* stream : alert_streams_) {
      stream->Pin();
      alert_streams.push_back(stream);
    }
    for (auto& [stream, marked] : scorecard_streams_) {
      stream->Pin();
      scorecard_streams.push_back(stream);
    }
  }
  // Ended outside the lock: ending may run OnDone, which takes it.
  // UNAVAILABLE, as for a watch refused while draining: the client watches
  // again (another replica, or this one after the restart). OK would read
  // as "nothing more will come".
  const grpc::Status shutting_down(grpc::StatusCode::UNAVAILABLE,
                                   "server shutting down; watch again");
  for (AlertStream* stream : alert_streams) {
    stream->End(shutting_down);
    stream->Unpin();
  }
  for (ScorecardStream* stream : scorecard_streams) {
    stream->End(shutting_down);
    stream->Unpin();
  }
}

int InsightServiceImpl::open_streams() const {
  absl::MutexLock lock(&streams_mu_);
  return static_cast<int>(alert_streams_.size() + scorecard_streams_.size());
}

void InsightServiceImpl::RemoveStream(AlertStream* stream) {
  absl::MutexLock lock(&streams_mu_);
  alert_streams_.erase(stream);
}

void InsightServiceImpl::RemoveStream(ScorecardStream* stream) {
  absl::MutexLock lock(&streams_mu_);
  scorecard_streams_.erase(stream);
}

}  // namespace polku::insight
