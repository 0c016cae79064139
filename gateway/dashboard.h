// The dashboard: a static page (gateway/dashboard/: HTML, ES modules, CSS)
// compiled into the gateway, so that polku-gateway serves it without any
// file of its own. The page is served at `/` and its other files under
// /dashboard/; it talks to the public HTTP API only, with the API key the
// user gives it (see docs/monitoring.md).
//
//   if (const DashboardFile* file = FindDashboardFile(req.path)) {
//     res.set_content(std::string(file->body), std::string(file->type));
//   }
#ifndef POLKU_GATEWAY_DASHBOARD_H_
#define POLKU_GATEWAY_DASHBOARD_H_

#include <string>
#include <utility>
#include <vector>

#include "absl/strings/string_view.h"

namespace polku::gateway {

struct DashboardFile {
  // The URL path: "/" for the page, "/dashboard/<name>" for the rest.
  std::string path;
  // Content-Type, e.g. "text/javascript; charset=utf-8".
  absl::string_view type;
  absl::string_view body;
};

// The file served at `path`, or null.
const DashboardFile* FindDashboardFile(absl::string_view path);

// Every file, the page first.
const std::vector<DashboardFile>& DashboardFiles();

// Response headers for every dashboard file: no caching without
// revalidation, and a Content-Security-Policy that lets the page load only
// its own files and call only this origin.
const std::vector<std::pair<absl::string_view, absl::string_view>>&
DashboardHeaders();

}  // namespace polku::gateway

#endif  // POLKU_GATEWAY_DASHBOARD_H_
