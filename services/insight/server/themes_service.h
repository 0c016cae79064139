// polku.v1.ThemesService: comment themes and their example comments
// (analytics/themes.h; docs/themes.md, "Themes").
//
// The tenant comes from the gateway's trusted metadata (rpc::CallerFrom); a
// call without one is UNAUTHENTICATED. Both methods read the shared theme
// index (analytics/theme_index.h), on `executor`; with journey_version 0,
// a touchpoint filter also matches the touchpoint's former keys, from
// `lineage` (without one, only the key as given).
//
//   ThemeIndex themes(store, store, *analyzer);
//   ThemesServiceImpl themes_service(executor,
//                                    {.index = &themes, .lineage = &lineage});
//   rpc::Server::Start({…, .services = {&insight, &themes_service}});
#ifndef POLKU_SERVICES_INSIGHT_THEMES_SERVICE_H_
#define POLKU_SERVICES_INSIGHT_THEMES_SERVICE_H_

#include <string>

#include "lib/base/executor.h"
#include "polku/v1/themes.grpc.pb.h"
#include "services/insight/analytics/theme_index.h"
#include "services/insight/server/journey_lineage.h"

namespace polku::insight {

class ThemesServiceImpl final : public v1::ThemesService::CallbackService {
 public:
  struct Options {
    // Required.
    ThemeIndex* index = nullptr;
    JourneyLineage* lineage = nullptr;
  };

  // `executor` and what `options` points to must outlive every call (drain
  // the server first).
  ThemesServiceImpl(Executor& executor, Options options)
      : executor_(executor), options_(options) {}

  grpc::ServerUnaryReactor* GetThemes(grpc::CallbackServerContext* context,
                                      const v1::GetThemesRequest* request,
                                      v1::Themes* response) override;
  grpc::ServerUnaryReactor* ListThemeExamples(
      grpc::CallbackServerContext* context,
      const v1::ListThemeExamplesRequest* request,
      v1::ListThemeExamplesResponse* response) override;

 private:
  // The rename chains for a scope over every version; none otherwise.
  absl::StatusOr<TouchpointSuccessors> SuccessorsFor(const std::string& tenant,
                                                     const v1::Scope& scope);

  Executor& executor_;
  const Options options_;
};

}  // namespace polku::insight

#endif  // POLKU_SERVICES_INSIGHT_THEMES_SERVICE_H_
