#include "lib/base/log.h"

#include <string>

#include "gtest/gtest.h"

namespace polku::log {
namespace {

std::string Json(const Value& v) {
  std::string out;
  v.AppendJson(out);
  return out;
}

TEST(LogTest, EscapesStringsAsJson) {
  std::string out;
  AppendJsonString("say \"hi\"\\\n\x01 äö", out);
  EXPECT_EQ(out, "\"say \\\"hi\\\"\\\\\\n\\u0001 äö\"");
}

TEST(LogTest, EncodesEveryValueKind) {
  EXPECT_EQ(Json("text"), "\"text\"");
  EXPECT_EQ(Json(42), "42");
  EXPECT_EQ(Json(int64_t{-7}), "-7");
  EXPECT_EQ(Json(1.5), "1.5");
  EXPECT_EQ(Json(true), "true");
  EXPECT_EQ(Json(0.0 / 0.0), "null");
}

TEST(LogTest, WritesOneJsonLinePerCall) {
  SetServiceName("polku-test");
  testing::internal::CaptureStderr();
  Info("request", {{"method", "/polku.v1.X/Y"}, {"latency_ms", 1.25}});
  std::string line = testing::internal::GetCapturedStderr();
  ASSERT_FALSE(line.empty());
  EXPECT_EQ(line.back(), '\n');
  EXPECT_EQ(line.find('\n'), line.size() - 1);
  EXPECT_NE(line.find("\"service\":\"polku-test\""), std::string::npos);
  EXPECT_NE(line.find("\"msg\":\"request\",\"method\":\"/polku.v1.X/Y\",\"latency_ms\":1.25}"),
            std::string::npos);
}

}  // namespace
}  // namespace polku::log
