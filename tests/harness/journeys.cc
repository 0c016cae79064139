#include "tests/harness/journeys.h"

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

}  // namespace polku::testing
