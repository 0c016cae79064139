#include "gateway/fake_backends.h"

#include <grpcpp/health_check_service_interface.h>
#include <grpcpp/server_builder.h>

#include <atomic>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_replace.h"
#include "gateway/caller_auth.h"
#include "lib/rpc/metadata.h"

namespace polku::gateway::testing {

TestKeys::TestKeys()
    : store(*keys::SqliteKeyStore::Open(":memory:")), admin(*store) {
  (void)store->CreateTenant("demo", "Demo");
  admin_key =
      store
          ->CreateKey("demo", "admin",
                      {keys::kScopeAdmin, keys::kScopeJourneysRead,
                       keys::kScopeJourneysWrite, keys::kScopeInsightsRead},
                      "")
          ->key;
  shop_key =
      store->CreateKey("demo", "shop", {keys::kScopeEventsWrite}, "shop")->key;
  insights_key =
      store->CreateKey("demo", "dashboard", {keys::kScopeInsightsRead}, "")
          ->key;
  desk_key = store
                 ->CreateKey("demo", "helpdesk",
                             {keys::kScopeInsightsRead, keys::kScopeActAs}, "")
                 ->key;
}
namespace {

std::vector<std::string> Values(const grpc::CallbackServerContext& context,
                                const char* key) {
  std::vector<std::string> values;
  auto range = context.client_metadata().equal_range(key);
  for (auto it = range.first; it != range.second; ++it) {
    values.emplace_back(it->second.data(), it->second.size());
  }
  return values;
}

std::string First(const grpc::CallbackServerContext& context, const char* key) {
  std::vector<std::string> values = Values(context, key);
  return values.empty() ? "" : values.front();
}

// Counts the health checks the fakes answer (gRPC's own health service,
// which no handler here sees).
class HealthCheckCounter
    : public grpc::experimental::ServerInterceptorFactoryInterface {
 public:
  explicit HealthCheckCounter(std::atomic<int>& checks) : checks_(checks) {}
  grpc::experimental::Interceptor* CreateServerInterceptor(
      grpc::experimental::ServerRpcInfo* info) override {
    if (absl::string_view(info->method()) == "/grpc.health.v1.Health/Check") {
      ++checks_;
    }
    return nullptr;  // Counted; nothing to intercept.
  }

 private:
  std::atomic<int>& checks_;
};

grpc::ServerUnaryReactor* Done(grpc::CallbackServerContext* context,
                               grpc::Status status = grpc::Status::OK) {
  grpc::ServerUnaryReactor* reactor = context->DefaultReactor();
  reactor->Finish(status);
  return reactor;
}

// What one WatchEvents call of the fake sends.
struct WatchScript {
  int64_t from = 1;
  int messages = 3;
  // The message (0-based) that does not parse, if any.
  int garbled = -1;
  // Wait to be cancelled after the last message instead of ending.
  bool endless = false;
};

WatchScript ScriptFor(int64_t from_sequence) {
  switch (from_sequence) {
    case -1:
      return {.messages = 1, .endless = true};
    case -2:
      return {.messages = 2, .garbled = 1, .endless = true};
    case -3:
      return {.messages = 1, .garbled = 0, .endless = true};
    default:
      return {.from = from_sequence};
  }
}

class WatchReactor : public grpc::ServerWriteReactor<v1::WatchEventsResponse> {
 public:
  WatchReactor(std::string tenant, WatchScript script,
               absl::Notification& cancelled)
      : tenant_(std::move(tenant)),
        script_(script),
        next_(script.from),
        cancelled_(cancelled) {
    WriteNext();
  }

  void OnWriteDone(bool ok) override {
    if (!ok) return;  // Cancelled; OnCancel finishes.
    if (sent_ < script_.messages) {
      WriteNext();
    } else if (!script_.endless) {
      FinishOnce(grpc::Status::OK);
    }
  }

  void OnCancel() override {
    if (script_.endless && !cancelled_.HasBeenNotified()) cancelled_.Notify();
    FinishOnce(grpc::Status::CANCELLED);
  }

  void OnDone() override { delete this; }

 private:
  void FinishOnce(const grpc::Status& status) {
    if (!finished_.exchange(true)) Finish(status);
  }

  void WriteNext() {
    message_.Clear();
    v1::StoredEvent* event = message_.add_events();
    event->set_sequence(next_++);
    // Invalid UTF-8 in a string field: sent, but it does not parse.
    event->set_tenant(sent_ == script_.garbled ? "\xff\xfe" : tenant_);
    ++sent_;
    StartWrite(&message_);
  }

  const std::string tenant_;
  const WatchScript script_;
  int64_t next_;
  int sent_ = 0;
  absl::Notification& cancelled_;
  std::atomic<bool> finished_{false};
  v1::WatchEventsResponse message_;
};

// Writes its pages one after another, then finishes.
class ExportReactor
    : public grpc::ServerWriteReactor<v1::ExportEventsResponse> {
 public:
  explicit ExportReactor(std::vector<v1::ExportEventsResponse> pages)
      : pages_(std::move(pages)) {
    OnWriteDone(true);
  }

  void OnWriteDone(bool ok) override {
    if (!ok) return;  // Cancelled: OnCancel finishes.
    if (next_ == pages_.size()) {
      FinishOnce(grpc::Status::OK);
      return;
    }
    StartWrite(&pages_[next_++]);
  }
  void OnCancel() override { FinishOnce(grpc::Status::CANCELLED); }
  void OnDone() override { delete this; }

 private:
  void FinishOnce(const grpc::Status& status) {
    if (!finished_.exchange(true)) Finish(status);
  }

  std::vector<v1::ExportEventsResponse> pages_;
  size_t next_ = 0;
  std::atomic<bool> finished_{false};
};

}  // namespace

void CallLog::Record(const grpc::CallbackServerContext& context,
                     const std::string& method) {
  SeenCall call;
  call.method = method;
  call.tenants = Values(context, rpc::kTenantHeader);
  call.channels = Values(context, rpc::kChannelHeader);
  call.request_ids = Values(context, rpc::kRequestIdHeader);
  call.authorizations = Values(context, "authorization");
  call.actors = Values(context, "x-polku-actor");
  call.deadline = context.deadline();
  absl::MutexLock lock(&mu_);
  calls_.push_back(std::move(call));
}

std::vector<SeenCall> CallLog::calls() const {
  absl::MutexLock lock(&mu_);
  return calls_;
}

SeenCall CallLog::last() const {
  absl::MutexLock lock(&mu_);
  return calls_.empty() ? SeenCall() : calls_.back();
}

std::string DescribeCaller(const grpc::CallbackServerContext& context) {
  return absl::StrCat("tenant=", First(context, rpc::kTenantHeader),
                      " channel=", First(context, rpc::kChannelHeader));
}

grpc::ServerUnaryReactor* FakeFeedback::SubmitEvents(
    grpc::CallbackServerContext* context,
    const v1::SubmitEventsRequest* request,
    v1::SubmitEventsResponse* response) {
  log_.Record(*context, "SubmitEvents");
  if (request->events_size() > 0 &&
      absl::StartsWith(request->events(0).event_id(), "error:")) {
    int code = 0;
    if (absl::SimpleAtoi(request->events(0).event_id().substr(6), &code)) {
      if (code == grpc::StatusCode::RESOURCE_EXHAUSTED) {
        context->AddTrailingMetadata(kRetryAfterMsTrailer, "1500");
      }
      return Done(context, grpc::Status(static_cast<grpc::StatusCode>(code),
                                        "fake failure"));
    }
  }
  if (request->events_size() > 0 &&
      request->events(0).event_id() == "garbled") {
    // Invalid UTF-8 in a string field: sent, but it does not parse.
    response->add_results()->set_reason("\xff\xfe");
    return Done(context, grpc::Status::OK);
  }
  int64_t sequence = 0;
  for (const v1::TouchpointEvent& event : request->events()) {
    v1::EventResult* result = response->add_results();
    result->set_event_id(event.event_id());
    result->set_outcome(v1::EventResult::ACCEPTED);
    result->set_sequence(++sequence);
    result->set_reason(DescribeCaller(*context));
  }
  return Done(context);
}

grpc::ServerWriteReactor<v1::WatchEventsResponse>* FakeFeedback::WatchEvents(
    grpc::CallbackServerContext* context,
    const v1::WatchEventsRequest* request) {
  log_.Record(*context, "WatchEvents");
  return new WatchReactor(First(*context, rpc::kTenantHeader),
                          ScriptFor(request->from_sequence()), watch_cancelled);
}

grpc::ServerWriteReactor<v1::ExportEventsResponse>* FakeFeedback::ExportEvents(
    grpc::CallbackServerContext* context,
    const v1::ExportEventsRequest* request) {
  log_.Record(*context, "ExportEvents");
  std::vector<v1::ExportEventsResponse> pages(2);
  for (int i = 1; i <= 3; ++i) {
    v1::StoredEvent* event = pages[i < 3 ? 0 : 1].add_events();
    event->set_sequence(i);
    event->set_journey(request->journey());
    event->mutable_event()->set_event_id(absl::StrCat("e-", i));
    event->mutable_event()->set_comment(
        absl::StrReplaceAll(DescribeCaller(*context), {{" ", ", "}}));
    *event->mutable_event()->mutable_occurred_at() = request->range().start();
  }
  return new ExportReactor(std::move(pages));
}

grpc::ServerUnaryReactor* FakeJourney::CreateJourney(
    grpc::CallbackServerContext* context,
    const v1::CreateJourneyRequest* request, v1::Journey* response) {
  log_.Record(*context, "CreateJourney");
  *response = request->journey();
  response->set_state(v1::DRAFT);
  response->set_description(DescribeCaller(*context));
  return Done(context);
}

grpc::ServerUnaryReactor* FakeJourney::GetJourney(
    grpc::CallbackServerContext* context, const v1::GetJourneyRequest* request,
    v1::Journey* response) {
  log_.Record(*context, "GetJourney");
  if (request->key() == "missing") {
    return Done(context, grpc::Status(grpc::StatusCode::NOT_FOUND,
                                      "journey \"missing\" not found"));
  }
  response->set_key(request->key());
  response->set_version(request->version());
  response->set_name(DescribeCaller(*context));
  return Done(context);
}

grpc::ServerUnaryReactor* FakeJourney::ListJourneys(
    grpc::CallbackServerContext* context,
    const v1::ListJourneysRequest* request,
    v1::ListJourneysResponse* response) {
  log_.Record(*context, "ListJourneys");
  v1::Journey* journey = response->add_journeys();
  journey->set_name(DescribeCaller(*context));
  journey->set_description(
      absl::StrCat("view=", v1::JourneyView_Name(request->view())));
  response->set_next_page_token(
      absl::StrCat(request->page_size(), "/", request->page_token()));
  return Done(context);
}

grpc::ServerUnaryReactor* FakeJourney::PublishJourney(
    grpc::CallbackServerContext* context,
    const v1::PublishJourneyRequest* request, v1::Journey* response) {
  log_.Record(*context, "PublishJourney");
  response->set_key(request->key());
  response->set_version(1);
  response->set_state(v1::PUBLISHED);
  return Done(context);
}

grpc::ServerUnaryReactor* FakeJourney::ListChannels(
    grpc::CallbackServerContext* context, const v1::ListChannelsRequest*,
    v1::ListChannelsResponse* response) {
  log_.Record(*context, "ListChannels");
  response->add_channels()->set_key("shop");
  return Done(context);
}

grpc::ServerUnaryReactor* FakeInsight::GetScorecard(
    grpc::CallbackServerContext* context,
    const v1::GetScorecardRequest* request, v1::Scorecard* response) {
  log_.Record(*context, "GetScorecard");
  response->set_journey(
      absl::StrCat(request->journey(), " ", DescribeCaller(*context)));
  if (request->has_range()) *response->mutable_range() = request->range();
  response->set_group_by(request->group_by());
  response->set_as_of_sequence(request->journey_version());
  return Done(context);
}

grpc::ServerUnaryReactor* FakeInsight::GetJourneyMap(
    grpc::CallbackServerContext* context,
    const v1::GetJourneyMapRequest* request, v1::JourneyMap* response) {
  log_.Record(*context, "GetJourneyMap");
  response->set_journey(
      absl::StrCat(request->journey(), " ", DescribeCaller(*context)));
  if (request->has_range()) *response->mutable_range() = request->range();
  response->set_journey_version(request->journey_version());
  return Done(context);
}

FakeBackends::FakeBackends() {
  // gRPC's health service (overall status SERVING), as rpc::Server has.
  grpc::EnableDefaultHealthCheckService(true);
  grpc::ServerBuilder builder;
  builder.AddListeningPort("127.0.0.1:0", grpc::InsecureServerCredentials(),
                           &port_);
  builder.RegisterService(&feedback);
  builder.RegisterService(&journey);
  builder.RegisterService(&insight);
  std::vector<
      std::unique_ptr<grpc::experimental::ServerInterceptorFactoryInterface>>
      interceptors;
  interceptors.push_back(std::make_unique<HealthCheckCounter>(health_checks_));
  builder.experimental().SetInterceptorCreators(std::move(interceptors));
  server_ = builder.BuildAndStart();
}

FakeBackends::~FakeBackends() {
  server_->Shutdown(std::chrono::system_clock::now());
}

Backends FakeBackends::Connect() const {
  std::string address = absl::StrCat("127.0.0.1:", port_);
  return Backends::Connect(
      {.feedback = address, .journey = address, .insight = address});
}

}  // namespace polku::gateway::testing
