#include "tests/harness/journeys.h"

#include "absl/strings/str_cat.h"
#include "grpcpp/client_context.h"
#include "polku/v1/journey.grpc.pb.h"
#include "tests/harness/suite.h"

namespace polku::testing {

v1::Journey MakeJourney(const std::string& key, const std::string& name,
                        const std::vector<std::string>& stages,
                        const std::vector<TouchpointSpec>& touchpoints,
                        const std::string& owner_team) {
  v1::Journey journey;
  journey.set_key(key);
  journey.set_name(name);
  for (const std::string& stage_key : stages) {
    v1::Stage* stage = journey.add_stages();
    stage->set_key(stage_key);
    stage->set_name(stage_key);
  }
  for (const TouchpointSpec& spec : touchpoints) {
    v1::Touchpoint* touchpoint = journey.add_touchpoints();
    touchpoint->set_key(spec.key);
    touchpoint->set_name(spec.key);
    touchpoint->set_stage(spec.stage);
    touchpoint->set_channel(spec.channel);
    touchpoint->set_kind(v1::INTERACTION);
    touchpoint->set_owner_team(owner_team);
  }
  return journey;
}

absl::Status CreateAndPublish(const std::shared_ptr<grpc::Channel>& gateway,
                              const std::string& admin_key,
                              const v1::Journey& journey) {
  auto journeys = v1::JourneyService::NewStub(gateway);
  const auto refused = [](const char* call, const grpc::Status& status) {
    return absl::Status(static_cast<absl::StatusCode>(status.error_code()),
                        absl::StrCat(call, ": ", status.error_message()));
  };
  {
    grpc::ClientContext context;
    Suite::Authorize(context, admin_key);
    v1::CreateJourneyRequest request;
    *request.mutable_journey() = journey;
    v1::Journey created;
    grpc::Status status = journeys->CreateJourney(&context, request, &created);
    if (!status.ok()) return refused("CreateJourney", status);
  }
  grpc::ClientContext context;
  Suite::Authorize(context, admin_key);
  v1::PublishJourneyRequest request;
  request.set_key(journey.key());
  v1::Journey published;
  grpc::Status status = journeys->PublishJourney(&context, request, &published);
  if (!status.ok()) return refused("PublishJourney", status);
  return absl::OkStatus();
}

}  // namespace polku::testing
