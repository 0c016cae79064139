#include "services/journey/journey_service.h"

#include <string>
#include <utility>

#include "absl/container/flat_hash_set.h"
#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "google/protobuf/util/field_mask_util.h"
#include "lib/base/log.h"
#include "lib/base/status_macros.h"
#include "lib/rpc/metadata.h"
#include "lib/rpc/status.h"
#include "lib/rpc/unary.h"
#include "services/journey/channels.h"
#include "services/journey/journey_diff.h"
#include "services/journey/journey_templates.h"
#include "services/journey/journey_validation.h"

namespace polku::journey {
namespace {

using ::google::protobuf::util::FieldMaskUtil;
using ::polku::v1::Channel;
using ::polku::v1::Journey;
using ::polku::v1::WatchJourneysResponse;

// A WatchJourneys call refused before it started.
class RefusedWatch : public grpc::ServerWriteReactor<WatchJourneysResponse> {
 public:
  explicit RefusedWatch(const absl::Status& status) {
    Finish(rpc::ToGrpcStatus(status));
  }
  void OnDone() override { delete this; }
};

// Fields UpdateDraft may name; the key says which journey, and output-only
// fields are the server's.
constexpr absl::string_view kEditableFields[] = {
    "name", "description", "stages", "touchpoints", "outcomes"};

absl::Status CheckUpdateMask(const google::protobuf::FieldMask& mask) {
  for (int i = 0; i < mask.paths_size(); ++i) {
    const std::string& path = mask.paths(i);
    bool editable = false;
    for (absl::string_view field : kEditableFields) {
      if (path == field ||
          (field == "outcomes" && absl::StartsWith(path, "outcomes."))) {
        editable = true;
      }
    }
    if (!editable || !FieldMaskUtil::IsValidPath<Journey>(path)) {
      return absl::InvalidArgumentError(absl::StrCat(
          "update_mask.paths[", i, "]: \"", path,
          "\" is not an editable field (name, description, stages, "
          "touchpoints, outcomes or outcomes.<field>)"));
    }
  }
  return absl::OkStatus();
}

// A published journey as JOURNEY_VIEW_BASIC shows it: what names and dates
// it, none of its map.
Journey BasicView(const Journey& journey) {
  Journey basic;
  basic.set_key(journey.key());
  basic.set_name(journey.name());
  basic.set_version(journey.version());
  basic.set_state(journey.state());
  *basic.mutable_create_time() = journey.create_time();
  *basic.mutable_publish_time() = journey.publish_time();
  basic.set_archived(journey.archived());
  return basic;
}

}  // namespace

JourneyServiceImpl::JourneyServiceImpl(JourneyStore& store)
    : JourneyServiceImpl(store, Options()) {}

JourneyServiceImpl::JourneyServiceImpl(JourneyStore& store, Options options)
    : store_(store), watchers_(options.max_pending_watch_messages) {
  if (options.watch_poll_interval > absl::ZeroDuration()) {
    poller_ = std::thread([this, interval = options.watch_poll_interval] {
      PollForChanges(interval);
    });
  }
}

JourneyServiceImpl::~JourneyServiceImpl() {
  {
    absl::MutexLock lock(&poll_mu_);
    stopping_ = true;
  }
  // Before the store thread goes: the poller schedules work on it.
  if (poller_.joinable()) poller_.join();
}

void JourneyServiceImpl::PollForChanges(absl::Duration interval) {
  absl::MutexLock lock(&poll_mu_);
  while (!poll_mu_.AwaitWithTimeout(absl::Condition(&stopping_), interval)) {
    if (check_queued_) continue;
    check_queued_ = true;
    store_thread_.Schedule([this] {
      CheckForChanges();
      absl::MutexLock lock(&poll_mu_);
      check_queued_ = false;
    });
  }
}

void JourneyServiceImpl::CheckForChanges() {
  // The generation first: the published set read after it is at least as
  // new, so a change committed in between is seen now or on the next check.
  absl::StatusOr<int64_t> generation = store_.PublishedGeneration();
  if (!generation.ok()) return PollFailed(generation.status());
  if (generation_ == *generation) return;
  absl::StatusOr<std::vector<polku::v1::PublishedJourney>> versions =
      store_.ListPublishedVersions();
  if (!versions.ok()) return PollFailed(versions.status());
  if (poll_failing_) {
    log::Info("journey watch: the database answers again");
    poll_failing_ = false;
  }
  generation_ = *generation;
  Announce(*versions);
}

void JourneyServiceImpl::PollFailed(const absl::Status& status) {
  // Once per outage: the poll runs several times a second.
  if (poll_failing_) return;
  poll_failing_ = true;
  log::Warning(
      "journey watch: cannot look for changes made by other replicas; "
      "retrying",
      {{"error", std::string(status.message())}});
}

void JourneyServiceImpl::Announce(
    const std::vector<polku::v1::PublishedJourney>& versions) {
  PublishedIndex::Changes changes = published_.Update(LatestVersions(versions));
  if (changes.removed || changes.skipped) {
    watchers_.SendSnapshotToAll(versions);
    return;
  }
  for (const polku::v1::PublishedJourney& published : changes.published) {
    watchers_.Publish(published.tenant(), published.journey());
  }
}

void JourneyServiceImpl::CloseWatchers() {
  watchers_.CloseAll(absl::UnavailableError("polku-journey is shutting down"));
}

template <typename Response, typename Work>
grpc::ServerUnaryReactor* JourneyServiceImpl::OnStoreThread(
    grpc::CallbackServerContext* context, Response* response, Work work) {
  return rpc::RunUnary<Response>(
      context, response, store_thread_,
      [work = std::move(work)](const rpc::Caller& caller) {
        return work(caller.tenant);
      });
}

absl::StatusOr<absl::flat_hash_set<std::string>>
JourneyServiceImpl::RegisteredChannels(const std::string& tenant) {
  POLKU_ASSIGN_OR_RETURN(std::vector<Channel> own, store_.ListChannels(tenant));
  absl::flat_hash_set<std::string> registered;
  for (const Channel& channel : own) registered.insert(channel.key());
  return registered;
}

absl::Status JourneyServiceImpl::Validate(const std::string& tenant,
                                          const Journey& journey) {
  POLKU_ASSIGN_OR_RETURN(const absl::flat_hash_set<std::string> registered,
                         RegisteredChannels(tenant));
  return ValidateWith(registered, journey);
}

absl::Status JourneyServiceImpl::ValidateWith(
    const absl::flat_hash_set<std::string>& registered,
    const Journey& journey) {
  return ValidateJourney(journey, [&](absl::string_view key) {
    return IsKnownChannel(key) || registered.contains(key);
  });
}

grpc::ServerUnaryReactor* JourneyServiceImpl::CreateJourney(
    grpc::CallbackServerContext* context,
    const polku::v1::CreateJourneyRequest* request, Journey* response) {
  return OnStoreThread(
      context, response,
      [this, request](const std::string& tenant) -> absl::StatusOr<Journey> {
        Journey journey = request->journey();
        if (!request->template_().empty()) {
          POLKU_RETURN_IF_ERROR(ValidateKey(journey.key(), "journey.key"));
          POLKU_ASSIGN_OR_RETURN(Journey start,
                                 JourneyTemplate(request->template_()));
          start.set_key(journey.key());
          if (!journey.name().empty()) start.set_name(journey.name());
          if (!journey.description().empty()) {
            start.set_description(journey.description());
          }
          journey = std::move(start);
        }
        POLKU_RETURN_IF_ERROR(Validate(tenant, journey));
        return store_.CreateJourney(tenant, journey);
      });
}

grpc::ServerUnaryReactor* JourneyServiceImpl::GetJourney(
    grpc::CallbackServerContext* context,
    const polku::v1::GetJourneyRequest* request, Journey* response) {
  return OnStoreThread(
      context, response,
      [this, request](const std::string& tenant) -> absl::StatusOr<Journey> {
        POLKU_RETURN_IF_ERROR(ValidateKey(request->key(), "key"));
        return store_.GetJourney(tenant, request->key(), request->version());
      });
}

grpc::ServerUnaryReactor* JourneyServiceImpl::ListJourneys(
    grpc::CallbackServerContext* context,
    const polku::v1::ListJourneysRequest* request,
    polku::v1::ListJourneysResponse* response) {
  return OnStoreThread(
      context, response,
      [this, request](const std::string& tenant)
          -> absl::StatusOr<polku::v1::ListJourneysResponse> {
        const polku::v1::JourneyView view = request->view();
        if (!polku::v1::JourneyView_IsValid(view)) {
          return absl::InvalidArgumentError(
              absl::StrCat("view: unknown JourneyView ", view));
        }
        POLKU_ASSIGN_OR_RETURN(
            JourneyPage page, store_.ListJourneys(tenant, request->page_size(),
                                                  request->page_token(),
                                                  request->include_archived()));
        polku::v1::ListJourneysResponse list;
        for (Journey& journey : page.journeys) {
          if (view == polku::v1::JOURNEY_VIEW_BASIC) {
            // Nothing of a draft: a journey never published is left out (a
            // page may then hold fewer than page_size; the token still
            // continues after the last journey the store read).
            if (journey.state() != polku::v1::PUBLISHED) continue;
            *list.add_journeys() = BasicView(journey);
          } else {
            *list.add_journeys() = std::move(journey);
          }
        }
        list.set_next_page_token(std::move(page.next_page_token));
        return list;
      });
}

grpc::ServerUnaryReactor* JourneyServiceImpl::PublishJourney(
    grpc::CallbackServerContext* context,
    const polku::v1::PublishJourneyRequest* request, Journey* response) {
  return OnStoreThread(
      context, response,
      [this, request](const std::string& tenant) -> absl::StatusOr<Journey> {
        POLKU_RETURN_IF_ERROR(ValidateKey(request->key(), "key"));
        // Read before the publish transaction, which holds the store.
        POLKU_ASSIGN_OR_RETURN(
            const absl::flat_hash_set<std::string> registered,
            RegisteredChannels(tenant));
        // Validated again: a draft stored under older rules must not become
        // the version feedback is checked against.
        POLKU_ASSIGN_OR_RETURN(
            Journey published,
            store_.PublishDraft(
                tenant, request->key(),
                [&](const Journey& draft,
                    const Journey* latest) -> absl::StatusOr<Journey> {
                  POLKU_RETURN_IF_ERROR(ValidateWith(registered, draft));
                  return PrepareVersion(draft, latest,
                                        request->allow_removals());
                }));
        // Still on the store thread, so no snapshot can fall between the
        // commit and this notification.
        watchers_.Publish(tenant, published);
        published_.Record(tenant, published);
        return published;
      });
}

grpc::ServerUnaryReactor* JourneyServiceImpl::CreateDraft(
    grpc::CallbackServerContext* context,
    const polku::v1::CreateDraftRequest* request, Journey* response) {
  return OnStoreThread(
      context, response,
      [this, request](const std::string& tenant) -> absl::StatusOr<Journey> {
        POLKU_RETURN_IF_ERROR(ValidateKey(request->key(), "key"));
        return store_.ResetDraft(tenant, request->key(),
                                 request->discard_changes());
      });
}

grpc::ServerUnaryReactor* JourneyServiceImpl::UpdateDraft(
    grpc::CallbackServerContext* context,
    const polku::v1::UpdateDraftRequest* request, Journey* response) {
  return OnStoreThread(
      context, response,
      [this, request](const std::string& tenant) -> absl::StatusOr<Journey> {
        const Journey& edit = request->journey();
        POLKU_RETURN_IF_ERROR(ValidateKey(edit.key(), "journey.key"));
        POLKU_RETURN_IF_ERROR(CheckUpdateMask(request->update_mask()));
        Journey draft;
        if (request->update_mask().paths().empty()) {
          draft = edit;
        } else {
          POLKU_ASSIGN_OR_RETURN(draft,
                                 store_.GetVersion(tenant, edit.key(), 0));
          FieldMaskUtil::MergeOptions replace;
          replace.set_replace_message_fields(true);
          replace.set_replace_repeated_fields(true);
          FieldMaskUtil::MergeMessageTo(edit, request->update_mask(), replace,
                                        &draft);
        }
        POLKU_RETURN_IF_ERROR(Validate(tenant, draft));
        return store_.UpdateDraft(tenant, draft);
      });
}

grpc::ServerUnaryReactor* JourneyServiceImpl::GetJourneyVersion(
    grpc::CallbackServerContext* context,
    const polku::v1::GetJourneyVersionRequest* request, Journey* response) {
  return OnStoreThread(
      context, response,
      [this, request](const std::string& tenant) -> absl::StatusOr<Journey> {
        POLKU_RETURN_IF_ERROR(ValidateKey(request->key(), "key"));
        return store_.GetVersion(tenant, request->key(), request->version());
      });
}

grpc::ServerUnaryReactor* JourneyServiceImpl::ListJourneyVersions(
    grpc::CallbackServerContext* context,
    const polku::v1::ListJourneyVersionsRequest* request,
    polku::v1::ListJourneyVersionsResponse* response) {
  return OnStoreThread(
      context, response,
      [this, request](const std::string& tenant)
          -> absl::StatusOr<polku::v1::ListJourneyVersionsResponse> {
        POLKU_RETURN_IF_ERROR(ValidateKey(request->key(), "key"));
        POLKU_ASSIGN_OR_RETURN(
            JourneyPage page,
            store_.ListVersions(tenant, request->key(), request->page_size(),
                                request->page_token()));
        polku::v1::ListJourneyVersionsResponse list;
        for (Journey& journey : page.journeys) {
          *list.add_versions() = std::move(journey);
        }
        list.set_next_page_token(std::move(page.next_page_token));
        return list;
      });
}

grpc::ServerUnaryReactor* JourneyServiceImpl::DiffJourneyVersions(
    grpc::CallbackServerContext* context,
    const polku::v1::DiffJourneyVersionsRequest* request,
    polku::v1::JourneyDiff* response) {
  return OnStoreThread(
      context, response,
      [this, request](
          const std::string& tenant) -> absl::StatusOr<polku::v1::JourneyDiff> {
        POLKU_RETURN_IF_ERROR(ValidateKey(request->key(), "key"));
        POLKU_ASSIGN_OR_RETURN(
            Journey from,
            store_.GetVersion(tenant, request->key(), request->from_version()));
        POLKU_ASSIGN_OR_RETURN(
            Journey to,
            store_.GetVersion(tenant, request->key(), request->to_version()));
        return DiffJourneys(from, to);
      });
}

grpc::ServerUnaryReactor* JourneyServiceImpl::ArchiveJourney(
    grpc::CallbackServerContext* context,
    const polku::v1::ArchiveJourneyRequest* request, Journey* response) {
  return OnStoreThread(
      context, response,
      [this, request](const std::string& tenant) -> absl::StatusOr<Journey> {
        POLKU_RETURN_IF_ERROR(ValidateKey(request->key(), "key"));
        POLKU_ASSIGN_OR_RETURN(Journey archived,
                               store_.Archive(tenant, request->key()));
        // The journey left the published set: subscribers replace their
        // index, so its touchpoints stop accepting feedback.
        absl::StatusOr<std::vector<polku::v1::PublishedJourney>> versions =
            store_.ListPublishedVersions();
        if (versions.ok()) published_.Update(LatestVersions(*versions));
        watchers_.SendSnapshotToAll(versions);
        return archived;
      });
}

grpc::ServerUnaryReactor* JourneyServiceImpl::ListChannels(
    grpc::CallbackServerContext* context,
    const polku::v1::ListChannelsRequest* /*request*/,
    polku::v1::ListChannelsResponse* response) {
  return OnStoreThread(context, response,
                       [this](const std::string& tenant)
                           -> absl::StatusOr<polku::v1::ListChannelsResponse> {
                         polku::v1::ListChannelsResponse list;
                         for (const Channel& channel : BuiltinChannels()) {
                           *list.add_channels() = channel;
                         }
                         POLKU_ASSIGN_OR_RETURN(std::vector<Channel> own,
                                                store_.ListChannels(tenant));
                         for (Channel& channel : own)
                           *list.add_channels() = std::move(channel);
                         return list;
                       });
}

grpc::ServerUnaryReactor* JourneyServiceImpl::CreateChannel(
    grpc::CallbackServerContext* context,
    const polku::v1::CreateChannelRequest* request, Channel* response) {
  return OnStoreThread(
      context, response,
      [this, request](const std::string& tenant) -> absl::StatusOr<Channel> {
        const Channel& channel = request->channel();
        POLKU_RETURN_IF_ERROR(ValidateKey(channel.key(), "channel.key"));
        if (absl::StripAsciiWhitespace(channel.display_name()).empty()) {
          return absl::InvalidArgumentError("channel.display_name: required");
        }
        if (IsKnownChannel(channel.key())) {
          return absl::AlreadyExistsError(absl::StrCat(
              "channel \"", channel.key(), "\" is a built-in channel"));
        }
        return store_.CreateChannel(tenant, channel);
      });
}

grpc::ServerWriteReactor<WatchJourneysResponse>*
JourneyServiceImpl::WatchJourneys(
    grpc::CallbackServerContext* context,
    const polku::v1::WatchJourneysRequest* request) {
  absl::StatusOr<rpc::Caller> caller =
      rpc::CallerFrom(*context, /*allow_internal=*/true);
  if (!caller.ok()) return new RefusedWatch(caller.status());
  JourneyWatchHub::Subscription subscription =
      watchers_.Subscribe(caller->tenant, request->all_versions());
  store_thread_.Schedule([this, id = subscription.id] {
    absl::StatusOr<std::vector<polku::v1::PublishedJourney>> versions =
        store_.ListPublishedVersions();
    // Older subscribers first get whatever other replicas changed, so that
    // every subscriber holds this same state.
    if (versions.ok()) Announce(*versions);
    watchers_.SendSnapshot(id, versions);
  });
  return subscription.reactor;
}

}  // namespace polku::journey
