#include "services/cases/store/memory_case_store.h"

#include <algorithm>
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
  explicit MemoryTransaction(Data& data) : data_(data) {}

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
    std::erase_if(data_.audit[tenant], [&](const v1::AuditEntry& e) {
      return std::find(erased.begin(), erased.end(), e.case_id()) !=
             erased.end();
    });
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
  absl::Status AppendAudit(const std::string& tenant,
                           const v1::AuditEntry& entry) override {
    data_.audit[tenant].push_back(entry);
    return absl::OkStatus();
  }
  absl::StatusOr<std::vector<v1::AuditEntry>> Audit(
      const std::string& tenant, const std::string& case_id,
      const std::string& rule_id) override {
    std::vector<v1::AuditEntry> out;
    for (const v1::AuditEntry& e : data_.audit[tenant]) {
      if (!case_id.empty() ? e.case_id() == case_id
                           : e.rule_id() == rule_id && e.case_id().empty()) {
        out.push_back(e);
      }
    }
    return out;
  }

 private:
  Data& data_;
};

absl::Status MemoryCaseStore::Run(
    absl::FunctionRef<absl::StatusOr<bool>(Transaction&)> work) {
  absl::MutexLock lock(&mu_);
  Data copy = data_;
  MemoryTransaction txn(copy);
  absl::StatusOr<bool> commit = work(txn);
  if (!commit.ok()) return commit.status();
  if (*commit) data_ = std::move(copy);
  return absl::OkStatus();
}

}  // namespace polku::cases
