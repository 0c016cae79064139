#include "gateway/dashboard.h"

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "gateway/dashboard_files.h"

namespace polku::gateway {
namespace {

constexpr absl::string_view kPage = "index.html";

absl::string_view TypeOf(absl::string_view name) {
  if (absl::EndsWith(name, ".html")) return "text/html; charset=utf-8";
  if (absl::EndsWith(name, ".js")) return "text/javascript; charset=utf-8";
  if (absl::EndsWith(name, ".css")) return "text/css; charset=utf-8";
  if (absl::EndsWith(name, ".svg")) return "image/svg+xml";
  return "application/octet-stream";
}

std::vector<DashboardFile> Build() {
  std::vector<DashboardFile> files;
  for (const EmbeddedFile& file : kEmbeddedDashboard) {
    if (file.name == kPage) {
      files.insert(files.begin(), {"/", TypeOf(file.name), file.body});
    } else {
      files.push_back({absl::StrCat("/dashboard/", file.name),
                       TypeOf(file.name), file.body});
    }
  }
  for (size_t i = 0; i < kEmbeddedVendorCount; ++i) {
    const EmbeddedFile& file = kEmbeddedVendor[i];
    files.push_back({absl::StrCat("/dashboard/", file.name), TypeOf(file.name),
                     file.body});
  }
  return files;
}

}  // namespace

const std::vector<DashboardFile>& DashboardFiles() {
  static const auto* files = new std::vector<DashboardFile>(Build());
  return *files;
}

const DashboardFile* FindDashboardFile(absl::string_view path) {
  for (const DashboardFile& file : DashboardFiles()) {
    if (file.path == path) return &file;
  }
  return nullptr;
}

const std::vector<std::pair<absl::string_view, absl::string_view>>&
DashboardHeaders() {
  static const auto* headers =
      new std::vector<std::pair<absl::string_view, absl::string_view>>{
          {"Cache-Control", "no-cache"},
          {"X-Content-Type-Options", "nosniff"},
          {"Referrer-Policy", "no-referrer"},
          {"Content-Security-Policy",
           "default-src 'none'; script-src 'self'; style-src 'self'; "
           "img-src 'self' data:; connect-src 'self'; base-uri 'none'; "
           "form-action 'none'; frame-ancestors 'none'"},
      };
  return *headers;
}

}  // namespace polku::gateway
