// Where change alerts are kept (v1::Alert, keyed by tenant and Alert.id), so
// that first_seen survives restarts. The change monitor writes them after
// evaluating rollups; ListAlerts and WatchAlerts read them.
#ifndef POLKU_SERVICES_INSIGHT_STORE_ALERT_STORE_H_
#define POLKU_SERVICES_INSIGHT_STORE_ALERT_STORE_H_

#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "polku/v1/insight.pb.h"

namespace polku::insight {

class AlertStore {
 public:
  virtual ~AlertStore() = default;

  // Inserts or replaces each alert. INVALID_ARGUMENT without a tenant or
  // for an alert without an id (nothing is saved then).
  virtual absl::Status SaveAlerts(const std::string& tenant,
                                  const std::vector<v1::Alert>& alerts) = 0;
  // A tenant's alerts, of one journey or (empty) every journey, newest
  // first_seen first; cleared ones only if asked.
  virtual absl::StatusOr<std::vector<v1::Alert>> LoadAlerts(
      const std::string& tenant, const std::string& journey,
      bool include_cleared) = 0;
};

}  // namespace polku::insight

#endif  // POLKU_SERVICES_INSIGHT_STORE_ALERT_STORE_H_
