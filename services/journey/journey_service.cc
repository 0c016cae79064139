#include "services/journey/journey_service.h"

#include <string>
#include <utility>

#include "lib/rpc/metadata.h"
#include "lib/rpc/status.h"
#include "services/journey/channels.h"
#include "services/journey/journey_validation.h"

namespace polku::journey {
namespace {

using ::polku::v1::Journey;
using ::polku::v1::WatchJourneysResponse;

grpc::ServerUnaryReactor* FinishNow(grpc::CallbackServerContext* context,
                                    const absl::Status& status) {
  grpc::ServerUnaryReactor* reactor = context->DefaultReactor();
  reactor->Finish(rpc::ToGrpcStatus(status));
  return reactor;
}

// A WatchJourneys call refused before it started.
class RefusedWatch : public grpc::ServerWriteReactor<WatchJourneysResponse> {
 public:
  explicit RefusedWatch(const absl::Status& status) {
    Finish(rpc::ToGrpcStatus(status));
  }
  void OnDone() override { delete this; }
};

}  // namespace

JourneyServiceImpl::JourneyServiceImpl(JourneyStore& store)
    : JourneyServiceImpl(store, Options()) {}

JourneyServiceImpl::JourneyServiceImpl(JourneyStore& store, Options options)
    : store_(store), watchers_(options.max_pending_watch_messages) {}

void JourneyServiceImpl::CloseWatchers() {
  watchers_.CloseAll(absl::UnavailableError("polku-journey is shutting down"));
}

grpc::ServerUnaryReactor* JourneyServiceImpl::CreateJourney(
    grpc::CallbackServerContext* context,
    const polku::v1::CreateJourneyRequest* request, Journey* response) {
  absl::StatusOr<rpc::Caller> caller = rpc::CallerFrom(*context);
  if (!caller.ok()) return FinishNow(context, caller.status());
  if (absl::Status valid = ValidateJourney(request->journey()); !valid.ok()) {
    return FinishNow(context, valid);
  }
  grpc::ServerUnaryReactor* reactor = context->DefaultReactor();
  store_thread_.Schedule(
      [this, reactor, request, response, tenant = caller->tenant] {
        absl::StatusOr<Journey> created =
            store_.CreateJourney(tenant, request->journey());
        if (created.ok()) *response = *std::move(created);
        reactor->Finish(rpc::ToGrpcStatus(created.status()));
      });
  return reactor;
}

grpc::ServerUnaryReactor* JourneyServiceImpl::GetJourney(
    grpc::CallbackServerContext* context,
    const polku::v1::GetJourneyRequest* request, Journey* response) {
  absl::StatusOr<rpc::Caller> caller = rpc::CallerFrom(*context);
  if (!caller.ok()) return FinishNow(context, caller.status());
  if (absl::Status valid = ValidateKey(request->key(), "key"); !valid.ok()) {
    return FinishNow(context, valid);
  }
  grpc::ServerUnaryReactor* reactor = context->DefaultReactor();
  store_thread_.Schedule(
      [this, reactor, request, response, tenant = caller->tenant] {
        absl::StatusOr<Journey> journey =
            store_.GetJourney(tenant, request->key(), request->version());
        if (journey.ok()) *response = *std::move(journey);
        reactor->Finish(rpc::ToGrpcStatus(journey.status()));
      });
  return reactor;
}

grpc::ServerUnaryReactor* JourneyServiceImpl::ListJourneys(
    grpc::CallbackServerContext* context,
    const polku::v1::ListJourneysRequest* request,
    polku::v1::ListJourneysResponse* response) {
  absl::StatusOr<rpc::Caller> caller = rpc::CallerFrom(*context);
  if (!caller.ok()) return FinishNow(context, caller.status());
  grpc::ServerUnaryReactor* reactor = context->DefaultReactor();
  store_thread_.Schedule(
      [this, reactor, request, response, tenant = caller->tenant] {
        absl::StatusOr<JourneyPage> page = store_.ListJourneys(
            tenant, request->page_size(), request->page_token());
        if (page.ok()) {
          for (Journey& journey : page->journeys) {
            *response->add_journeys() = std::move(journey);
          }
          response->set_next_page_token(std::move(page->next_page_token));
        }
        reactor->Finish(rpc::ToGrpcStatus(page.status()));
      });
  return reactor;
}

grpc::ServerUnaryReactor* JourneyServiceImpl::PublishJourney(
    grpc::CallbackServerContext* context,
    const polku::v1::PublishJourneyRequest* request, Journey* response) {
  absl::StatusOr<rpc::Caller> caller = rpc::CallerFrom(*context);
  if (!caller.ok()) return FinishNow(context, caller.status());
  if (absl::Status valid = ValidateKey(request->key(), "key"); !valid.ok()) {
    return FinishNow(context, valid);
  }
  grpc::ServerUnaryReactor* reactor = context->DefaultReactor();
  store_thread_.Schedule(
      [this, reactor, request, response, tenant = caller->tenant] {
        // Validated again: a draft stored under older rules (or edited
        // later) must not become the version feedback is checked against.
        absl::StatusOr<Journey> published = store_.PublishDraft(
            tenant, request->key(),
            [](const Journey& draft) { return ValidateJourney(draft); });
        if (published.ok()) {
          // Still on the store thread, so no snapshot can fall between the
          // commit and this notification.
          watchers_.Publish(tenant, *published);
          *response = *std::move(published);
        }
        reactor->Finish(rpc::ToGrpcStatus(published.status()));
      });
  return reactor;
}

grpc::ServerUnaryReactor* JourneyServiceImpl::ListChannels(
    grpc::CallbackServerContext* context,
    const polku::v1::ListChannelsRequest* /*request*/,
    polku::v1::ListChannelsResponse* response) {
  absl::StatusOr<rpc::Caller> caller = rpc::CallerFrom(*context);
  if (!caller.ok()) return FinishNow(context, caller.status());
  // The built-in catalogue is in memory, so this one answers inline.
  for (const polku::v1::Channel& channel : BuiltinChannels()) {
    *response->add_channels() = channel;
  }
  return FinishNow(context, absl::OkStatus());
}

grpc::ServerWriteReactor<WatchJourneysResponse>*
JourneyServiceImpl::WatchJourneys(
    grpc::CallbackServerContext* context,
    const polku::v1::WatchJourneysRequest* /*request*/) {
  absl::StatusOr<rpc::Caller> caller =
      rpc::CallerFrom(*context, /*allow_internal=*/true);
  if (!caller.ok()) return new RefusedWatch(caller.status());
  JourneyWatchHub::Subscription subscription =
      watchers_.Subscribe(caller->tenant);
  store_thread_.Schedule([this, id = subscription.id] {
    watchers_.SendSnapshot(id, store_.ListPublishedLatest());
  });
  return subscription.reactor;
}

}  // namespace polku::journey
