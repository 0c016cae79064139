#include "gateway/metrics.h"

#include <utility>

#include "absl/strings/str_cat.h"
#include "gateway/authz.h"

namespace polku::gateway {
namespace {

// A label value; only routed method names and fixed words reach here, but
// escape anyway.
std::string Label(absl::string_view value) {
  std::string out;
  for (char c : value) {
    if (c == '\\' || c == '"') out.push_back('\\');
    if (c == '\n') {
      out += "\\n";
      continue;
    }
    out.push_back(c);
  }
  return out;
}

}  // namespace

Metrics::InFlight Metrics::Start(absl::string_view transport) {
  return InFlight(transport == "http" ? &http_in_flight_ : &grpc_in_flight_);
}

void Metrics::Finish(absl::string_view transport, absl::string_view method,
                     absl::StatusCode code, absl::Duration latency) {
  std::string name(FindRoute(method).ok() ? method : "other");
  double seconds = absl::ToDoubleSeconds(latency);
  absl::MutexLock lock(&mu_);
  ++requests_[{std::string(transport), name, absl::StatusCodeToString(code)}];
  Histogram& histogram = latency_[{std::string(transport), name}];
  for (size_t i = 0; i < kBuckets.size(); ++i) {
    if (seconds <= kBuckets[i]) ++histogram.counts[i];
  }
  ++histogram.count;
  histogram.sum += seconds;
}

void Metrics::RateLimited(absl::string_view limit) {
  absl::MutexLock lock(&mu_);
  ++rate_limited_[std::string(limit)];
}

void Metrics::SetBackendUp(absl::string_view backend, bool up) {
  absl::MutexLock lock(&mu_);
  backend_up_[std::string(backend)] = up;
}

void Metrics::SetRateLimitBuckets(std::function<size_t()> count) {
  absl::MutexLock lock(&mu_);
  rate_limit_buckets_ = std::move(count);
}

std::string Metrics::Render() const {
  std::string out;
  absl::MutexLock lock(&mu_);
  out +=
      "# HELP polku_gateway_requests_total Calls answered, by transport, "
      "method and gRPC code.\n"
      "# TYPE polku_gateway_requests_total counter\n";
  for (const auto& [labels, count] : requests_) {
    const auto& [transport, method, code] = labels;
    absl::StrAppend(&out, "polku_gateway_requests_total{transport=\"",
                    Label(transport), "\",method=\"", Label(method),
                    "\",code=\"", code, "\"} ", count, "\n");
  }
  out +=
      "# HELP polku_gateway_request_duration_seconds Call latency at the "
      "gateway.\n"
      "# TYPE polku_gateway_request_duration_seconds histogram\n";
  for (const auto& [labels, histogram] : latency_) {
    std::string common =
        absl::StrCat("transport=\"", Label(labels.first), "\",method=\"",
                     Label(labels.second), "\"");
    for (size_t i = 0; i < kBuckets.size(); ++i) {
      absl::StrAppend(&out, "polku_gateway_request_duration_seconds_bucket{",
                      common, ",le=\"", kBuckets[i], "\"} ",
                      histogram.counts[i], "\n");
    }
    absl::StrAppend(&out, "polku_gateway_request_duration_seconds_bucket{",
                    common, ",le=\"+Inf\"} ", histogram.count, "\n",
                    "polku_gateway_request_duration_seconds_sum{", common, "} ",
                    histogram.sum, "\n",
                    "polku_gateway_request_duration_seconds_count{", common,
                    "} ", histogram.count, "\n");
  }
  absl::StrAppend(
      &out,
      "# HELP polku_gateway_in_flight_requests Calls being served now.\n"
      "# TYPE polku_gateway_in_flight_requests gauge\n"
      "polku_gateway_in_flight_requests{transport=\"grpc\"} ",
      grpc_in_flight_.load(), "\n",
      "polku_gateway_in_flight_requests{transport=\"http\"} ",
      http_in_flight_.load(), "\n");
  out +=
      "# HELP polku_gateway_rate_limited_total Calls refused by a rate "
      "limit, by limit (key or tenant).\n"
      "# TYPE polku_gateway_rate_limited_total counter\n";
  for (const char* limit : {"key", "tenant"}) {
    auto it = rate_limited_.find(limit);
    absl::StrAppend(&out, "polku_gateway_rate_limited_total{limit=\"", limit,
                    "\"} ", it == rate_limited_.end() ? 0 : it->second, "\n");
  }
  out +=
      "# HELP polku_gateway_backend_up Whether the backend answered its last "
      "health check SERVING.\n"
      "# TYPE polku_gateway_backend_up gauge\n";
  for (const auto& [backend, up] : backend_up_) {
    absl::StrAppend(&out, "polku_gateway_backend_up{backend=\"", Label(backend),
                    "\"} ", up ? 1 : 0, "\n");
  }
  if (rate_limit_buckets_) {
    absl::StrAppend(
        &out,
        "# HELP polku_gateway_rate_limit_buckets Rate-limit buckets held, of "
        "keys and tenants (idle full ones are evicted).\n"
        "# TYPE polku_gateway_rate_limit_buckets gauge\n"
        "polku_gateway_rate_limit_buckets ",
        rate_limit_buckets_(), "\n");
  }
  return out;
}

}  // namespace polku::gateway
