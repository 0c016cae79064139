#include "services/cases/store/memory_case_store.h"

#include <algorithm>
#include <optional>
#include <tuple>
#include <utility>

#include "services/cases/domain/case_state.h"
#include "services/cases/domain/proto_convert.h"

namespace polku::cases {
namespace {

int64_t CreateMicros(const v1::Case& c) {
  return c.create_time().seconds() * 1'000'000 + c.create_time().nanos() / 1000;
}

}  // namespace

class MemoryCaseStore::MemoryTransaction final : public Transaction {
 public:
  MemoryTransaction(Data& data, const AuditTrails& audit,
                    const Changes& committed)
      : data_(data), audit_(audit), committed_(committed) {}

  // Writes this transaction's audit entries and changes to the committed
  // ones.
  void Commit(AuditTrails& audit, Changes& changes) {
    for (auto& [tenant, entry] : audit_puts_) {
      audit[tenant].push_back(std::move(entry));
    }
    for (const auto& erased : erased_) {
      const std::vector<std::string>& case_ids = erased.second;
      std::erase_if(audit[erased.first], [&](const v1::AuditEntry& e) {
        return std::find(case_ids.begin(), case_ids.end(), e.case_id()) !=
               case_ids.end();
      });
    }
    for (auto& [sequence, change] : puts_) changes[sequence] = std::move(change);
    if (prune_.has_value()) {
      changes.erase(changes.begin(), changes.upper_bound(*prune_));
    }
    for (const auto& [tenant, case_ids] : erased_) {
      for (auto& [sequence, change] : changes) {
        if (std::get<0>(change) == tenant &&
            std::find(case_ids.begin(), case_ids.end(), std::get<1>(change)) !=
                case_ids.end()) {
          std::get<2>(change).clear();
        }
      }
    }
  }

  absl::StatusOr<FeedCheckpoint> ReadCheckpoint() override {
    return data_.checkpoint;
  }
  absl::Status SaveCheckpoint(int64_t sequence) override {
    data_.checkpoint.sequence = sequence;
    return absl::OkStatus();
  }
  absl::Status BindFeed(const std::string& feed_id) override {
    data_.checkpoint.feed_id = feed_id;
    return absl::OkStatus();
  }
  absl::StatusOr<std::vector<v1::CaseRule>> Rules(
      const std::string& tenant) override {
    std::vector<v1::CaseRule> out;
    for (auto it = data_.rules.lower_bound({tenant, ""});
         it != data_.rules.end() && it->first.first == tenant; ++it) {
      out.push_back(it->second);
    }
    return out;
  }
  absl::Status PutRule(const std::string& tenant,
                       const v1::CaseRule& rule) override {
    data_.rules[{tenant, rule.rule_id()}] = rule;
    return absl::OkStatus();
  }
  absl::StatusOr<bool> InsertCase(const StoredCase& c) override {
    for (const auto& [key, other] : data_.cases) {
      if (other.tenant != c.tenant) continue;
      if (c.period_bucket.has_value() && other.period_bucket == c.period_bucket &&
          other.value.rule_id() == c.value.rule_id() &&
          other.customer_hash == c.customer_hash) {
        return false;
      }
      if (!c.request_id.empty() && other.request_id == c.request_id) {
        return false;
      }
    }
    return data_.cases.emplace(std::pair(c.tenant, c.value.case_id()), c)
        .second;
  }
  absl::StatusOr<std::optional<StoredCase>> FindCase(
      const std::string& tenant, const std::string& rule_id,
      const std::string& customer_hash, int64_t period_bucket) override {
    for (const auto& [key, c] : data_.cases) {
      if (c.tenant == tenant && c.value.rule_id() == rule_id &&
          c.customer_hash == customer_hash && c.period_bucket == period_bucket) {
        return c;
      }
    }
    return std::nullopt;
  }
  absl::StatusOr<std::optional<StoredCase>> FindByRequest(
      const std::string& tenant, const std::string& request_id) override {
    for (const auto& [key, c] : data_.cases) {
      if (c.tenant == tenant && c.request_id == request_id) return c;
    }
    return std::nullopt;
  }
  absl::StatusOr<std::optional<StoredCase>> GetCase(
      const std::string& tenant, const std::string& case_id) override {
    auto it = data_.cases.find({tenant, case_id});
    if (it == data_.cases.end()) return std::nullopt;
    return it->second;
  }
  absl::Status UpdateCase(const StoredCase& c) override {
    auto it = data_.cases.find({c.tenant, c.value.case_id()});
    if (it == data_.cases.end()) {
      return absl::NotFoundError("case vanished during its update");
    }
    it->second = c;
    return absl::OkStatus();
  }
  absl::StatusOr<std::vector<StoredCase>> CasesPage(
      const std::string& tenant, const std::optional<PagePosition>& after,
      int limit) override {
    std::vector<const StoredCase*> of_tenant;
    for (const auto& [key, c] : data_.cases) {
      if (c.tenant == tenant) of_tenant.push_back(&c);
    }
    auto key = [](const StoredCase* c) {
      return std::pair(CreateMicros(c->value), c->value.case_id());
    };
    std::sort(of_tenant.begin(), of_tenant.end(),
              [&](const StoredCase* a, const StoredCase* b) {
                return key(a) > key(b);
              });
    std::vector<StoredCase> out;
    for (const StoredCase* c : of_tenant) {
      if (after.has_value() &&
          key(c) >= std::pair(after->create_micros, after->case_id)) {
        continue;
      }
      if (static_cast<int>(out.size()) == limit) break;
      out.push_back(*c);
    }
    return out;
  }
  absl::StatusOr<std::vector<StoredCase>> OpenCases() override {
    std::vector<StoredCase> out;
    for (const auto& [key, c] : data_.cases) {
      if (IsOpen(StateFromProto(c.value.state()))) out.push_back(c);
    }
    return out;
  }
  absl::StatusOr<int64_t> EraseCustomer(
      const std::string& tenant, const std::string& customer_hash) override {
    std::vector<std::string> erased;
    for (auto it = data_.cases.begin(); it != data_.cases.end();) {
      if (it->second.tenant == tenant &&
          it->second.customer_hash == customer_hash) {
        erased.push_back(it->second.value.case_id());
        it = data_.cases.erase(it);
      } else {
        ++it;
      }
    }
    erased_.emplace_back(tenant, erased);
    return static_cast<int64_t>(erased.size());
  }
  absl::StatusOr<std::vector<StoredCase>> CasesOfCustomer(
      const std::string& tenant, const std::string& customer_hash) override {
    std::vector<StoredCase> out;
    for (const auto& [key, c] : data_.cases) {
      if (c.tenant == tenant && c.customer_hash == customer_hash) {
        out.push_back(c);
      }
    }
    return out;
  }
  absl::Status PutConsent(const std::string& tenant,
                          const std::string& customer_hash,
                          bool contact_allowed, const std::string&,
                          absl::Time) override {
    data_.consent[{tenant, customer_hash}] = contact_allowed;
    return absl::OkStatus();
  }
  absl::StatusOr<std::optional<bool>> ContactAllowed(
      const std::string& tenant, const std::string& customer_hash) override {
    auto it = data_.consent.find({tenant, customer_hash});
    if (it == data_.consent.end()) return std::nullopt;
    return it->second;
  }
  absl::StatusOr<std::optional<v1::TenantBusinessCalendar>> TenantCalendar(
      const std::string& tenant) override {
    auto it = data_.calendars.find(tenant);
    if (it == data_.calendars.end()) return std::nullopt;
    return it->second;
  }
  absl::Status PutTenantCalendar(
      const std::string& tenant,
      const v1::TenantBusinessCalendar& calendar) override {
    data_.calendars[tenant] = calendar;
    return absl::OkStatus();
  }
  absl::StatusOr<int64_t> ReserveChangeSequences(int n) override {
    const int64_t first = data_.last_change + 1;
    data_.last_change += n;
    return first;
  }
  absl::StatusOr<int64_t> LastChangeSequence() override {
    return data_.last_change;
  }
  absl::Status PutChange(int64_t sequence, const std::string& tenant,
                         const std::string& case_id,
                         const std::string& body) override {
    puts_.emplace_back(sequence, std::make_tuple(tenant, case_id, body));
    return absl::OkStatus();
  }
  absl::Status PruneChanges(int64_t sequence) override {
    prune_ = std::max(prune_.value_or(sequence), sequence);
    return absl::OkStatus();
  }
  absl::StatusOr<std::vector<StoredChange>> ChangesAfter(int64_t after,
                                                         int limit) override {
    std::vector<StoredChange> out;
    // The committed ones: no algorithm reads its own changes back.
    for (auto it = committed_.upper_bound(after);
         it != committed_.end() && static_cast<int>(out.size()) < limit;
         ++it) {
      out.push_back({it->first, std::get<2>(it->second)});
    }
    return out;
  }
  absl::Status AppendAudit(const std::string& tenant,
                           const v1::AuditEntry& entry) override {
    audit_puts_.emplace_back(tenant, entry);
    return absl::OkStatus();
  }
  absl::StatusOr<std::vector<v1::AuditEntry>> Audit(
      const std::string& tenant, const std::string& case_id,
      const std::string& rule_id) override {
    std::vector<v1::AuditEntry> out;
    auto take = [&](const v1::AuditEntry& e) {
      if (!case_id.empty() ? e.case_id() == case_id
                           : e.rule_id() == rule_id && e.case_id().empty()) {
        out.push_back(e);
      }
    };
    if (auto it = audit_.find(tenant); it != audit_.end()) {
      for (const v1::AuditEntry& e : it->second) take(e);
    }
    for (const auto& [of, e] : audit_puts_) {
      if (of == tenant) take(e);
    }
    return out;
  }

 private:
  Data& data_;
  const AuditTrails& audit_;
  const Changes& committed_;
  std::vector<std::pair<std::string, v1::AuditEntry>> audit_puts_;
  std::vector<std::pair<int64_t, std::tuple<std::string, std::string, std::string>>>
      puts_;
  std::optional<int64_t> prune_;
  std::vector<std::pair<std::string, std::vector<std::string>>> erased_;
};

absl::Status MemoryCaseStore::Run(
    absl::FunctionRef<absl::StatusOr<bool>(Transaction&)> work) {
  absl::MutexLock lock(&mu_);
  Data copy = data_;
  MemoryTransaction txn(copy, audit_, changes_);
  absl::StatusOr<bool> commit = work(txn);
  if (!commit.ok()) return commit.status();
  if (*commit) {
    data_ = std::move(copy);
    txn.Commit(audit_, changes_);
  }
  return absl::OkStatus();
}

}  // namespace polku::cases
