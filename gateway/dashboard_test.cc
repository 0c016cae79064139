#include "gateway/dashboard.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <regex>
#include <string>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"

namespace polku::gateway {
namespace {

using ::testing::HasSubstr;

TEST(DashboardTest, ThePageIsServedAtTheRoot) {
  const DashboardFile* page = FindDashboardFile("/");
  ASSERT_NE(page, nullptr);
  EXPECT_EQ(page->type, "text/html; charset=utf-8");
  EXPECT_THAT(page->body, HasSubstr("<script type=\"module\" "
                                    "src=\"/dashboard/main.js\"></script>"));
  EXPECT_EQ(DashboardFiles().front().path, "/");
  EXPECT_EQ(FindDashboardFile("/dashboard/index.html"), nullptr);
  EXPECT_EQ(FindDashboardFile("/dashboard/nothing.js"), nullptr);
}

// Every file the page or a module refers to is there, with its type: a
// missing module would leave the page blank.
TEST(DashboardTest, EveryReferencedFileIsEmbedded) {
  std::regex page_ref(R"re((?:src|href)="(/dashboard/[^"]+)")re");
  std::regex import_ref(R"re(from '\./([^']+)')re");
  int checked = 0;
  for (const DashboardFile& file : DashboardFiles()) {
    std::string body(file.body);
    EXPECT_FALSE(body.empty()) << file.path;
    const std::regex& ref =
        absl::EndsWith(file.path, ".js") ? import_ref : page_ref;
    for (std::sregex_iterator it(body.begin(), body.end(), ref), end; it != end;
         ++it) {
      std::string target = (*it)[1].str();
      if (!absl::StartsWith(target, "/")) {
        target = absl::StrCat("/dashboard/", target);
      }
      const DashboardFile* found = FindDashboardFile(target);
      ASSERT_NE(found, nullptr) << file.path << " refers to " << target;
      if (absl::EndsWith(target, ".js")) {
        EXPECT_EQ(found->type, "text/javascript; charset=utf-8");
      }
      ++checked;
    }
  }
  EXPECT_GE(checked, 6);
}

TEST(DashboardTest, HeadersForbidCachingWithoutRevalidationAndForeignCode) {
  bool csp = false;
  for (const auto& [name, value] : DashboardHeaders()) {
    if (name == "Content-Security-Policy") {
      csp = true;
      EXPECT_THAT(value, HasSubstr("script-src 'self'"));
      EXPECT_THAT(value, HasSubstr("connect-src 'self'"));
    }
  }
  EXPECT_TRUE(csp);
}

}  // namespace
}  // namespace polku::gateway
