#include "services/insight/store/memory_rollup_store.h"

#include <algorithm>
#include <iterator>
#include <limits>
#include <set>

#include "absl/strings/str_cat.h"
#include "lib/base/status_macros.h"

namespace polku::insight {
namespace {

constexpr int64_t kBeforeEverySequence = std::numeric_limits<int64_t>::min();

std::string GroupKey(const RollupKey& key, Grouping grouping) {
  const auto& [tenant, journey, version, touchpoint, stage, channel, day] = key;
  switch (grouping) {
    case Grouping::kStage:
      return stage;
    case Grouping::kChannel:
      return channel;
    case Grouping::kDay:
      return IsoDate(day);
    default:
      return touchpoint;
  }
}

}  // namespace

// Works on a copy of the tables, which replaces them on commit.
class MemoryRollupStore::MemoryTransaction final : public Transaction {
 public:
  explicit MemoryTransaction(MemoryTables tables)
      : tables_(std::move(tables)) {}
  MemoryTables& tables() { return tables_; }

  absl::StatusOr<Checkpoints> ReadCheckpoints() override {
    return Checkpoints{.sequence = tables_.sequence,
                       .feed_id = tables_.feed_id,
                       .projections = tables_.projections};
  }
  absl::Status SaveCheckpoints(
      int64_t sequence,
      const std::map<std::string, int64_t>& projections) override {
    tables_.sequence = sequence;
    for (const auto& [name, at] : projections) tables_.projections[name] = at;
    return absl::OkStatus();
  }
  absl::Status BindFeed(const std::string& feed_id) override {
    tables_.feed_id = feed_id;
    return absl::OkStatus();
  }
  absl::StatusOr<std::vector<CountedEvent>> CustomerEvents(
      const std::string& tenant, const std::string& customer_hash) override {
    std::vector<CountedEvent> events;
    for (const auto& [sequence, event] : tables_.ledger) {
      if (std::get<0>(event.key) == tenant &&
          event.customer_hash == customer_hash) {
        events.push_back(event);
      }
    }
    return events;
  }
  absl::StatusOr<std::vector<CountedEvent>> LedgerAfter(int64_t after,
                                                        int64_t through,
                                                        int limit) override {
    std::vector<CountedEvent> events;
    for (auto it = tables_.ledger.upper_bound(after);
         it != tables_.ledger.end() && it->first <= through &&
         static_cast<int>(events.size()) < limit;
         ++it) {
      events.push_back(it->second);
    }
    return events;
  }
  absl::Status AppendToLedger(absl::Span<const CountedEvent> events) override {
    for (const CountedEvent& event : events) {
      if (!tables_.ledger.emplace(event.sequence, event).second) {
        return absl::AlreadyExistsError(absl::StrCat(
            "sequence ", event.sequence, " is in the ledger already"));
      }
    }
    return absl::OkStatus();
  }
  absl::Status ForgetCustomer(const std::string& tenant,
                              const std::string& customer_hash) override {
    for (auto it = tables_.ledger.begin(); it != tables_.ledger.end();) {
      if (std::get<0>(it->second.key) == tenant &&
          it->second.customer_hash == customer_hash) {
        it = tables_.ledger.erase(it);
      } else {
        ++it;
      }
    }
    return absl::OkStatus();
  }
  absl::Status InsertAttributeChunks(
      absl::Span<const AttributeChunkRow> chunks) override {
    for (const AttributeChunkRow& chunk : chunks) {
      if (!tables_.attribute_chunks
               .emplace(std::pair(chunk.attribute, chunk.first_sequence), chunk)
               .second) {
        return absl::AlreadyExistsError(
            absl::StrCat("attribute chunk ", chunk.attribute, "/",
                         chunk.first_sequence, " is in the index already"));
      }
    }
    return absl::OkStatus();
  }
  absl::Status ReplaceAttributeChunk(int64_t attribute, int64_t first_sequence,
                                     const std::string& events) override {
    auto found = tables_.attribute_chunks.find({attribute, first_sequence});
    if (found != tables_.attribute_chunks.end()) found->second.events = events;
    return absl::OkStatus();
  }
  absl::StatusOr<std::optional<AttributeChunkRow>> AttributeChunkAt(
      int64_t attribute, int64_t sequence) override {
    auto after = tables_.attribute_chunks.upper_bound({attribute, sequence});
    if (after == tables_.attribute_chunks.begin()) return std::nullopt;
    const auto& [key, chunk] = *std::prev(after);
    if (key.first != attribute) return std::nullopt;
    return chunk;
  }
  absl::Status DeleteAttributeChunk(int64_t attribute,
                                    int64_t first_sequence) override {
    tables_.attribute_chunks.erase({attribute, first_sequence});
    return absl::OkStatus();
  }
  absl::Status AddToRollups(
      const std::map<RollupKey, Contribution>& contributions,
      int sign) override {
    for (const auto& [key, add] : contributions) {
      Contribution& row = tables_.rollups[key];
      row.events += sign * add.events;
      for (int i = 0; i < kHistogramColumns; ++i) {
        row.histogram[i] += sign * add.histogram[i];
      }
      for (const auto& [measure, sum] : add.measures) {
        POLKU_ASSIGN_OR_RETURN(
            std::optional<MeasureSum> next,
            NextMeasureSum(row.measures[measure], sum, sign, measure));
        if (next) {
          row.measures[measure] = *next;
        } else {
          row.measures.erase(measure);
        }
      }
      if (row.events == 0) tables_.rollups.erase(key);
    }
    return absl::OkStatus();
  }

 private:
  MemoryTables tables_;
};

class MemoryRollupStore::MemorySnapshot final : public Snapshot {
 public:
  explicit MemorySnapshot(const MemoryTables& tables) : tables_(tables) {}

  absl::StatusOr<Checkpoints> ReadCheckpoints() override {
    return Checkpoints{.sequence = tables_.sequence,
                       .feed_id = tables_.feed_id,
                       .projections = tables_.projections};
  }
  absl::Status SumRollups(const ScorecardQuery& query,
                          GroupedRollups& result) override {
    std::map<std::string, std::pair<Day, Contribution>> groups;
    for (const auto& [key, row] : tables_.rollups) {
      if (!InScope(query, key)) continue;
      auto& [day, sum] = groups[GroupKey(key, query.group_by)];
      if (query.group_by == Grouping::kDay) day = std::get<6>(key);
      sum.events += row.events;
      for (int i = 0; i < kHistogramColumns; ++i) {
        sum.histogram[i] += row.histogram[i];
      }
      for (const auto& [measure, add] : row.measures) {
        POLKU_ASSIGN_OR_RETURN(
            std::optional<MeasureSum> next,
            NextMeasureSum(sum.measures[measure], add, 1, measure));
        sum.measures[measure] = *next;
      }
    }
    for (auto& [key, group] : groups) {
      result.groups.push_back(
          ToGroup(key, group.first, std::move(group.second)));
    }
    return absl::OkStatus();
  }
  absl::Status ScanLedger(
      const ScorecardQuery& query, const LedgerFields& fields,
      absl::FunctionRef<absl::Status(const CountedEvent&)> visit) override {
    // Sequences are the map's keys: start after after_sequence rather than
    // walking past every earlier event (the indexes' checks read only what
    // is new, on every call).
    for (auto it = tables_.ledger.upper_bound(query.after_sequence);
         it != tables_.ledger.end(); ++it) {
      const CountedEvent& event = it->second;
      if (!InScope(query, event.key)) continue;
      if (fields.details && fields.customer && fields.pairs) {
        POLKU_RETURN_IF_ERROR(visit(event));
        continue;
      }
      // What was not asked for is left out as the SQL backends leave it,
      // so that a reader relying on it fails its unit tests too.
      POLKU_RETURN_IF_ERROR(visit(WithFields(event, fields)));
    }
    return absl::OkStatus();
  }
  absl::Status ScanAttributeChunks(
      int64_t attribute, int64_t after_sequence,
      absl::FunctionRef<absl::Status(absl::string_view)> visit) override {
    for (auto it = tables_.attribute_chunks.lower_bound(
             {attribute, kBeforeEverySequence});
         it != tables_.attribute_chunks.end() && it->first.first == attribute;
         ++it) {
      if (it->second.last_sequence <= after_sequence) continue;
      POLKU_RETURN_IF_ERROR(visit(it->second.events));
    }
    return absl::OkStatus();
  }
  absl::StatusOr<std::vector<CountedEvent>> LedgerEventsAt(
      const std::string& tenant, absl::Span<const int64_t> sequences) override {
    std::vector<CountedEvent> events;
    for (const int64_t sequence : sequences) {
      auto found = tables_.ledger.find(sequence);
      if (found != tables_.ledger.end() &&
          std::get<0>(found->second.key) == tenant) {
        events.push_back(found->second);
      }
    }
    return events;
  }
  absl::StatusOr<std::vector<std::pair<std::string, std::string>>>
  JourneysWithEvents() override {
    std::set<std::pair<std::string, std::string>> journeys;
    for (const auto& [key, row] : tables_.rollups) {
      journeys.emplace(std::get<0>(key), std::get<1>(key));
    }
    return std::vector<std::pair<std::string, std::string>>(journeys.begin(),
                                                            journeys.end());
  }
  absl::StatusOr<std::vector<std::pair<std::string, std::string>>> AlertRows(
      const std::string& tenant, const std::string& journey,
      bool include_cleared) override {
    std::vector<const v1::Alert*> alerts;
    for (const auto& [key, alert] : tables_.alerts) {
      if (key.first != tenant) continue;
      if (!journey.empty() && alert.journey() != journey) continue;
      if (!include_cleared && alert.state() == v1::CLEARED) continue;
      alerts.push_back(&alert);
    }
    std::stable_sort(alerts.begin(), alerts.end(),
                     [](const v1::Alert* a, const v1::Alert* b) {
                       return UnixMicros(a->first_seen()) >
                              UnixMicros(b->first_seen());
                     });
    std::vector<std::pair<std::string, std::string>> rows;
    for (const v1::Alert* alert : alerts) {
      rows.emplace_back(alert->id(), alert->SerializeAsString());
    }
    return rows;
  }

 private:
  const MemoryTables& tables_;
};

MemoryRollupStore::MemoryRollupStore(
    std::shared_ptr<MemoryDatabase> db,
    std::vector<std::unique_ptr<Projection>> extra)
    : RollupStore(std::move(extra)), db_(std::move(db)) {}

absl::Status MemoryRollupStore::Write(
    absl::FunctionRef<absl::StatusOr<bool>(Transaction&)> write) {
  absl::MutexLock lock(&db_->mu_);
  MemoryTransaction txn(db_->tables_);
  POLKU_ASSIGN_OR_RETURN(const bool commit, write(txn));
  if (commit) db_->tables_ = std::move(txn.tables());
  return absl::OkStatus();
}

absl::Status MemoryRollupStore::Read(
    absl::FunctionRef<absl::Status(Snapshot&)> read) {
  absl::MutexLock lock(&db_->mu_);
  MemorySnapshot snapshot(db_->tables_);
  return read(snapshot);
}

absl::Status MemoryRollupStore::WriteAlerts(
    const std::string& tenant, const std::vector<v1::Alert>& alerts) {
  ++alert_writes_;
  absl::MutexLock lock(&db_->mu_);
  for (const v1::Alert& alert : alerts) {
    db_->tables_.alerts[{tenant, alert.id()}] = alert;
  }
  return absl::OkStatus();
}

}  // namespace polku::insight
