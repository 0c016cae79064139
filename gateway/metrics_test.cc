#include "gateway/metrics.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

namespace polku::gateway {
namespace {

using ::testing::HasSubstr;

TEST(MetricsTest, RendersCountersHistogramsAndGauges) {
  Metrics metrics;
  {
    Metrics::InFlight in_flight = metrics.Start("grpc");
    EXPECT_THAT(
        metrics.Render(),
        HasSubstr("polku_gateway_in_flight_requests{transport=\"grpc\"} 1\n"));
    metrics.Finish("grpc", "/polku.v1.JourneyService/GetJourney",
                   absl::StatusCode::kOk, absl::Milliseconds(20));
  }
  metrics.Finish("http", "/polku.v1.JourneyService/GetJourney",
                 absl::StatusCode::kNotFound, absl::Seconds(3));
  metrics.Finish("grpc", "/evil/\"method\"", absl::StatusCode::kUnimplemented,
                 absl::Milliseconds(1));
  metrics.RateLimited("tenant");
  metrics.SetBackendUp("journey", true);
  metrics.SetBackendUp("insight", false);
  EXPECT_THAT(metrics.Render(),
              ::testing::Not(HasSubstr("polku_gateway_rate_limit_buckets")));
  metrics.SetRateLimitBuckets([] { return size_t{7}; });
  std::string text = metrics.Render();
  EXPECT_THAT(text, HasSubstr("# TYPE polku_gateway_rate_limit_buckets gauge\n"
                              "polku_gateway_rate_limit_buckets 7\n"));
  EXPECT_THAT(
      text,
      HasSubstr("polku_gateway_in_flight_requests{transport=\"grpc\"} 0\n"));
  EXPECT_THAT(
      text,
      HasSubstr(
          "polku_gateway_requests_total{transport=\"grpc\",method=\"/polku.v1."
          "JourneyService/GetJourney\",code=\"OK\"} 1\n"));
  EXPECT_THAT(
      text,
      HasSubstr(
          "polku_gateway_requests_total{transport=\"http\",method=\"/polku.v1."
          "JourneyService/GetJourney\",code=\"NOT_FOUND\"} 1\n"));
  // Unknown methods are one label value, whatever the client sent.
  EXPECT_THAT(text, HasSubstr("method=\"other\",code=\"UNIMPLEMENTED\"} 1\n"));
  EXPECT_THAT(
      text,
      HasSubstr(
          "polku_gateway_request_duration_seconds_bucket{transport=\"grpc\","
          "method=\"/polku.v1.JourneyService/GetJourney\",le=\"0.025\"} 1\n"));
  EXPECT_THAT(
      text,
      HasSubstr(
          "polku_gateway_request_duration_seconds_bucket{transport=\"grpc\","
          "method=\"/polku.v1.JourneyService/GetJourney\",le=\"0.01\"} 0\n"));
  EXPECT_THAT(
      text,
      HasSubstr(
          "polku_gateway_request_duration_seconds_bucket{transport=\"http\","
          "method=\"/polku.v1.JourneyService/GetJourney\",le=\"+Inf\"} 1\n"));
  EXPECT_THAT(
      text,
      HasSubstr("polku_gateway_rate_limited_total{limit=\"tenant\"} 1\n"));
  EXPECT_THAT(text,
              HasSubstr("polku_gateway_rate_limited_total{limit=\"key\"} 0\n"));
  EXPECT_THAT(text,
              HasSubstr("polku_gateway_backend_up{backend=\"journey\"} 1\n"));
  EXPECT_THAT(text,
              HasSubstr("polku_gateway_backend_up{backend=\"insight\"} 0\n"));
  EXPECT_THAT(
      text,
      HasSubstr("# TYPE polku_gateway_request_duration_seconds histogram\n"));
}

}  // namespace
}  // namespace polku::gateway
