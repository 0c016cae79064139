// The gateway's Prometheus metrics, served as text at GET /metrics:
//
//   polku_gateway_requests_total{transport,method,code}        counter
//   polku_gateway_request_duration_seconds{transport,method}   histogram
//   polku_gateway_in_flight_requests{transport}                gauge
//   polku_gateway_rate_limited_total{limit}                    counter
//   polku_gateway_backend_up{backend}                          gauge (0/1)
//   polku_gateway_rate_limit_buckets                           gauge
//
//   Metrics metrics;
//   Metrics::InFlight in_flight = metrics.Start("grpc");
//   …
//   metrics.Finish("grpc", "/polku.v1.JourneyService/GetJourney",
//                  absl::StatusCode::kOk, latency);
//   std::string text = metrics.Render();
//
// `method` is always a gRPC method path the gateway routes (or "other"), so
// label values stay few no matter what clients send.
#ifndef POLKU_GATEWAY_METRICS_H_
#define POLKU_GATEWAY_METRICS_H_

#include <array>
#include <atomic>
#include <functional>
#include <map>
#include <string>
#include <tuple>

#include "absl/base/thread_annotations.h"
#include "absl/status/status.h"
#include "absl/strings/string_view.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"

namespace polku::gateway {

class Metrics {
 public:
  // Upper bounds of the latency buckets, in seconds.
  static constexpr std::array<double, 12> kBuckets = {
      0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10};

  // Counts a call in flight for its lifetime.
  class InFlight {
   public:
    explicit InFlight(std::atomic<int64_t>* gauge) : gauge_(gauge) {
      if (gauge_ != nullptr) gauge_->fetch_add(1);
    }
    ~InFlight() {
      if (gauge_ != nullptr) gauge_->fetch_sub(1);
    }
    InFlight(InFlight&& other) : gauge_(other.gauge_) {
      other.gauge_ = nullptr;
    }
    InFlight(const InFlight&) = delete;
    InFlight& operator=(const InFlight&) = delete;

   private:
    std::atomic<int64_t>* gauge_;
  };

  // `transport` is "grpc" or "http".
  InFlight Start(absl::string_view transport);
  void Finish(absl::string_view transport, absl::string_view method,
              absl::StatusCode code, absl::Duration latency);
  void RateLimited(absl::string_view limit);
  void SetBackendUp(absl::string_view backend, bool up);
  // Where Render reads how many rate-limit buckets are held
  // (RateLimiter::bucket_count); until set, the gauge is left out.
  void SetRateLimitBuckets(std::function<size_t()> count);

  // Everything, in the Prometheus text exposition format 0.0.4.
  std::string Render() const;

 private:
  struct Histogram {
    std::array<int64_t, kBuckets.size()> counts{};
    int64_t count = 0;
    double sum = 0;
  };

  std::atomic<int64_t> grpc_in_flight_{0};
  std::atomic<int64_t> http_in_flight_{0};
  mutable absl::Mutex mu_;
  std::map<std::tuple<std::string, std::string, std::string>, int64_t> requests_
      ABSL_GUARDED_BY(mu_);
  std::map<std::pair<std::string, std::string>, Histogram> latency_
      ABSL_GUARDED_BY(mu_);
  std::map<std::string, int64_t> rate_limited_ ABSL_GUARDED_BY(mu_);
  std::map<std::string, bool> backend_up_ ABSL_GUARDED_BY(mu_);
  std::function<size_t()> rate_limit_buckets_ ABSL_GUARDED_BY(mu_);
};

}  // namespace polku::gateway

#endif  // POLKU_GATEWAY_METRICS_H_
