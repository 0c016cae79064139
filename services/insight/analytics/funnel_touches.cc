// Funnels and paths over the touch index (touch_index.h): its touches as a
// FunnelSource, with a call's range, channel, version and breakdown.
#include <algorithm>
#include <set>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "services/insight/analytics/funnel.h"
#include "services/insight/analytics/touch_index.h"

namespace polku::insight {
namespace {

// The journey's touches as one call selects them; used while the index's
// view is valid (TouchIndex::Read).
class IndexSource final : public FunnelSource {
 public:
  IndexSource(const TouchView& view, const v1::Journey& journey,
              const FunnelIndexQuery& query)
      : view_(view), query_(query) {
    names_.stages = view.names().stages;
    names_.channels = view.names().channels;
    names_.touchpoints = view.names().touchpoints;
    // Every stage of the map, also those no event reached.
    for (const v1::Stage& stage : journey.stages()) {
      if (std::find(names_.stages.begin(), names_.stages.end(), stage.key()) ==
          names_.stages.end()) {
        names_.stages.push_back(stage.key());
      }
    }
    if (!query.channel.empty()) {
      const auto found = std::find(names_.channels.begin(),
                                   names_.channels.end(), query.channel);
      channel_ = found == names_.channels.end()
                     ? -2
                     : static_cast<int32_t>(found - names_.channels.begin());
    }
    switch (query.group_by) {
      case GroupBy::kEntryChannel:
        names_.groups = names_.channels;
        break;
      case GroupBy::kJourneyVersion: {
        std::set<int16_t> versions;
        for (size_t c = 0; c < view.customers(); ++c) {
          for (const Touch& t : view.touches(c)) versions.insert(t.version);
        }
        version_group_.assign(versions.empty() ? 1 : *versions.rbegin() + 1, 0);
        for (int16_t v : versions) {
          version_group_[v] = static_cast<int32_t>(names_.groups.size());
          names_.groups.push_back(absl::StrCat(v));
        }
        break;
      }
      default:
        names_.groups = {""};
        break;
    }
  }

  const FunnelNames& Names() const override { return names_; }
  size_t customers() const override { return view_.customers(); }
  void Touches(size_t c, std::vector<FunnelTouch>& out) const override {
    out.clear();
    for (const Touch& t : view_.touches(c)) {
      if (t.at < query_.start || t.at >= query_.end) continue;
      if (channel_ != -1 && t.channel != channel_) continue;
      if (query_.journey_version != 0 && t.version != query_.journey_version) {
        continue;
      }
      FunnelTouch touch;
      touch.at = t.at;
      touch.stage = t.stage;
      touch.channel = t.channel;
      touch.touchpoint = t.touchpoint;
      touch.rated = t.rated;
      touch.csat = t.csat;
      touch.nps = t.nps;
      touch.ces = t.ces;
      if (query_.group_by == GroupBy::kEntryChannel) touch.group = t.channel;
      if (query_.group_by == GroupBy::kJourneyVersion) {
        touch.group = version_group_[t.version];
      }
      out.push_back(touch);
    }
  }

 private:
  const TouchView& view_;
  const FunnelIndexQuery& query_;
  FunnelNames names_;
  // -1 = every channel; -2 = one no touch has.
  int32_t channel_ = -1;
  std::vector<int32_t> version_group_;
};

}  // namespace

absl::Status UseTouchIndex(
    TouchIndex& index, const std::string& tenant, const v1::Journey& journey,
    const FunnelIndexQuery& query,
    absl::FunctionRef<void(const FunnelSource& source, int64_t as_of)> use) {
  return index.Read(tenant, journey.key(), [&](const TouchView& view) {
    const IndexSource source(view, journey, query);
    use(source, view.as_of());
  });
}

}  // namespace polku::insight
