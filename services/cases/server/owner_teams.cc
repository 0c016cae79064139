#include "services/cases/server/owner_teams.h"

#include <grpcpp/client_context.h>

#include "absl/strings/str_cat.h"
#include "lib/base/log.h"
#include "lib/rpc/metadata.h"

namespace polku::cases {

OwnerTeams::Fetch OwnerTeams::FromJourneyService(
    std::shared_ptr<grpc::Channel> channel, absl::Duration timeout) {
  std::shared_ptr<v1::JourneyService::Stub> stub =
      v1::JourneyService::NewStub(std::move(channel));
  return [stub, timeout](const std::string& tenant, const std::string& journey,
                         int version) -> absl::StatusOr<v1::Journey> {
    grpc::ClientContext context;
    context.set_deadline(absl::ToChronoTime(absl::Now() + timeout));
    rpc::AttachCaller({.tenant = tenant}, context);
    v1::GetJourneyVersionRequest request;
    request.set_key(journey);
    request.set_version(version);
    v1::Journey answer;
    grpc::Status status = stub->GetJourneyVersion(&context, request, &answer);
    if (!status.ok()) {
      return absl::Status(static_cast<absl::StatusCode>(status.error_code()),
                          absl::StrCat("polku-journey GetJourneyVersion: ",
                                       status.error_message()));
    }
    return answer;
  };
}

std::string OwnerTeams::Of(const v1::StoredEvent& event) {
  const Key key{event.tenant(), event.journey(), event.journey_version()};
  {
    absl::MutexLock lock(&mu_);
    auto it = versions_.find(key);
    if (it != versions_.end()) {
      auto team = it->second.find(event.event().touchpoint());
      return team == it->second.end() ? std::string() : team->second;
    }
  }
  // Asked without the lock: a slow answer holds up no other version.
  absl::StatusOr<v1::Journey> journey =
      fetch_(event.tenant(), event.journey(), event.journey_version());
  if (!journey.ok()) {
    log::Warning("owner team unknown; the rule's fallback queue takes the case",
                 {{"tenant", event.tenant()},
                  {"journey", event.journey()},
                  {"version", event.journey_version()},
                  {"error", journey.status().ToString()}});
    return "";
  }
  std::map<std::string, std::string> teams;
  for (const v1::Touchpoint& touchpoint : journey->touchpoints()) {
    teams[touchpoint.key()] = touchpoint.owner_team();
  }
  std::string team;
  if (auto it = teams.find(event.event().touchpoint()); it != teams.end()) {
    team = it->second;
  }
  absl::MutexLock lock(&mu_);
  versions_.emplace(key, std::move(teams));
  return team;
}

}  // namespace polku::cases
