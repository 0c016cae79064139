#include "services/insight/store/rollup_store.h"

#include <algorithm>
#include <utility>

#include "absl/strings/str_cat.h"
#include "lib/base/log.h"
#include "lib/base/status_macros.h"
#include "services/insight/store/attribute_index.h"

namespace polku::insight {

RollupStore::RollupStore(std::vector<std::unique_ptr<Projection>> extra) {
  projections_.push_back(NewLedgerProjection());
  projections_.push_back(NewAttributeIndexProjection());
  projections_.push_back(NewRollupsProjection());
  for (std::unique_ptr<Projection>& projection : extra) {
    projections_.push_back(std::move(projection));
  }
}

int64_t RollupStore::CheckpointOf(const Checkpoints& checkpoints,
                                  const Projection& projection) {
  if (projection.name() == kLedgerProjection) return checkpoints.sequence;
  auto found = checkpoints.projections.find(projection.name());
  return found == checkpoints.projections.end() ? 0 : found->second;
}

const std::pair<std::string, std::string>* RollupStore::IndexedAttribute(
    const Checkpoints& checkpoints, const ScorecardQuery& query) {
  if (query.attributes.empty()) return nullptr;
  auto index = checkpoints.projections.find(kAttributeIndexProjection);
  const int64_t at = index == checkpoints.projections.end() ? 0 : index->second;
  // Until it has caught up with the ledger, it may miss events.
  if (at < checkpoints.sequence) return nullptr;
  return &query.attributes.front();
}

absl::Status RollupStore::ScanJourney(
    Snapshot& snapshot, const Checkpoints& checkpoints,
    const ScorecardQuery& query, const LedgerFields& fields,
    absl::FunctionRef<absl::Status(const CountedEvent&)> visit) {
  const std::pair<std::string, std::string>* attribute =
      IndexedAttribute(checkpoints, query);
  if (attribute == nullptr) return snapshot.ScanLedger(query, fields, visit);
  // The index holds neither details nor customers: with them, the events
  // found are read from the ledger, a batch of sequences at a time.
  const bool from_ledger = fields.details || fields.customer;
  constexpr size_t kBatch = 500;
  std::vector<int64_t> batch;
  auto read_batch = [&]() -> absl::Status {
    if (batch.empty()) return absl::OkStatus();
    POLKU_ASSIGN_OR_RETURN(const std::vector<CountedEvent> events,
                           snapshot.LedgerEventsAt(query.tenant, batch));
    batch.clear();
    for (const CountedEvent& event : events) {
      // Only what was asked for, as from a scan of the ledger.
      POLKU_RETURN_IF_ERROR(visit(WithFields(event, fields)));
    }
    return absl::OkStatus();
  };
  std::vector<CountedEvent> events;
  POLKU_RETURN_IF_ERROR(snapshot.ScanAttributeChunks(
      AttributeKey(query.tenant, query.journey, attribute->first,
                   attribute->second),
      query.after_sequence, [&](absl::string_view chunk) -> absl::Status {
        events.clear();
        POLKU_RETURN_IF_ERROR(DecodeChunk(chunk, events));
        for (const CountedEvent& event : events) {
          if (event.sequence <= query.after_sequence ||
              !InScope(query, event.key)) {
            continue;
          }
          if (!from_ledger) {
            POLKU_RETURN_IF_ERROR(visit(event));
            continue;
          }
          batch.push_back(event.sequence);
          if (batch.size() == kBatch) POLKU_RETURN_IF_ERROR(read_batch());
        }
        return absl::OkStatus();
      }));
  return read_batch();
}

absl::Status RollupStore::Apply(
    const google::protobuf::RepeatedPtrField<v1::StoredEvent>& events) {
  if (events.empty()) return absl::OkStatus();
  return Write([&](Transaction& txn) -> absl::StatusOr<bool> {
    POLKU_ASSIGN_OR_RETURN(const Checkpoints checkpoints,
                           txn.ReadCheckpoints());
    int64_t last = checkpoints.sequence;
    std::vector<CountedEvent> fresh;
    fresh.reserve(static_cast<size_t>(events.size()));
    for (const v1::StoredEvent& stored : events) {
      if (stored.sequence() <= last) continue;  // counted already
      last = stored.sequence();
      fresh.push_back(FromFeed(stored));
    }
    if (fresh.empty()) return false;
    std::map<std::string, int64_t> advanced;
    for (const std::unique_ptr<Projection>& projection : projections_) {
      const int64_t at = CheckpointOf(checkpoints, *projection);
      // Behind the ledger: it catches up from there, never with a gap.
      if (at < checkpoints.sequence) continue;
      auto first = std::find_if(
          fresh.begin(), fresh.end(),
          [at](const CountedEvent& event) { return event.sequence > at; });
      POLKU_RETURN_IF_ERROR(projection->Apply(
          txn, absl::MakeConstSpan(&*first, fresh.end() - first)));
      // The ledger's own checkpoint is the store's (SaveCheckpoints' first).
      if (projection->name() != kLedgerProjection) {
        advanced[projection->name()] = last;
      }
    }
    POLKU_RETURN_IF_ERROR(txn.SaveCheckpoints(last, advanced));
    return true;
  });
}

absl::Status RollupStore::ApplyErasure(const v1::Erasure& erasure) {
  size_t erased = 0;
  bool applied = false;
  POLKU_RETURN_IF_ERROR(Write([&](Transaction& txn) -> absl::StatusOr<bool> {
    POLKU_ASSIGN_OR_RETURN(const Checkpoints checkpoints,
                           txn.ReadCheckpoints());
    if (erasure.sequence() <= checkpoints.sequence) return false;  // applied
    POLKU_ASSIGN_OR_RETURN(
        std::vector<CountedEvent> counted,
        txn.CustomerEvents(erasure.tenant(), erasure.customer_hash()));
    std::sort(counted.begin(), counted.end(),
              [](const CountedEvent& a, const CountedEvent& b) {
                return a.sequence < b.sequence;
              });
    std::map<std::string, int64_t> advanced;
    for (const std::unique_ptr<Projection>& projection : projections_) {
      const int64_t at = CheckpointOf(checkpoints, *projection);
      // A projection still catching up counted only the events up to its
      // checkpoint; the rest leave the ledger now and never reach it.
      auto end = std::find_if(
          counted.begin(), counted.end(),
          [at](const CountedEvent& event) { return event.sequence > at; });
      POLKU_RETURN_IF_ERROR(projection->Erase(
          txn, erasure,
          absl::MakeConstSpan(counted.data(), end - counted.begin())));
      if (at >= checkpoints.sequence &&
          projection->name() != kLedgerProjection) {
        advanced[projection->name()] = erasure.sequence();
      }
    }
    POLKU_RETURN_IF_ERROR(txn.SaveCheckpoints(erasure.sequence(), advanced));
    erased = counted.size();
    applied = true;
    return true;
  }));
  if (applied) {
    log::Info("customer erased from rollups",
              {{"tenant", erasure.tenant()},
               {"events", static_cast<int64_t>(erased)},
               {"sequence", erasure.sequence()}});
  }
  return absl::OkStatus();
}

absl::Status RollupStore::CheckFeed(const std::string& feed_id) {
  if (feed_id.empty()) return absl::OkStatus();  // a feed without identity
  return Write([&](Transaction& txn) -> absl::StatusOr<bool> {
    POLKU_ASSIGN_OR_RETURN(const Checkpoints checkpoints,
                           txn.ReadCheckpoints());
    if (checkpoints.feed_id == feed_id) return false;
    if (!checkpoints.feed_id.empty()) {
      return absl::FailedPreconditionError(absl::StrCat(
          "the change feed is ", feed_id, " but ", DatabaseName(),
          " counted feed ", checkpoints.feed_id, " up to sequence ",
          checkpoints.sequence,
          "; polku-feedback's database was replaced. Refusing to apply it: ",
          RebuildAdvice()));
    }
    if (checkpoints.sequence > 0) {
      log::Warning(
          "binding a checkpoint of an unknown feed to this feed",
          {{"feed_id", feed_id}, {"checkpoint", checkpoints.sequence}});
    }
    POLKU_RETURN_IF_ERROR(txn.BindFeed(feed_id));
    return true;
  });
}

absl::StatusOr<int64_t> RollupStore::Checkpoint() {
  int64_t sequence = 0;
  POLKU_RETURN_IF_ERROR(Read([&](Snapshot& snapshot) -> absl::Status {
    POLKU_ASSIGN_OR_RETURN(const Checkpoints checkpoints,
                           snapshot.ReadCheckpoints());
    sequence = checkpoints.sequence;
    return absl::OkStatus();
  }));
  return sequence;
}

absl::StatusOr<std::map<std::string, int64_t>>
RollupStore::ProjectionCheckpoints() {
  std::map<std::string, int64_t> result;
  POLKU_RETURN_IF_ERROR(Read([&](Snapshot& snapshot) -> absl::Status {
    POLKU_ASSIGN_OR_RETURN(Checkpoints checkpoints, snapshot.ReadCheckpoints());
    result = std::move(checkpoints.projections);
    result[kLedgerProjection] = checkpoints.sequence;
    return absl::OkStatus();
  }));
  return result;
}

absl::StatusOr<bool> RollupStore::CatchUpStep(int max_events) {
  bool behind = false;
  POLKU_RETURN_IF_ERROR(Write([&](Transaction& txn) -> absl::StatusOr<bool> {
    POLKU_ASSIGN_OR_RETURN(const Checkpoints checkpoints,
                           txn.ReadCheckpoints());
    for (const std::unique_ptr<Projection>& projection : projections_) {
      const int64_t at = CheckpointOf(checkpoints, *projection);
      if (at >= checkpoints.sequence) continue;
      POLKU_ASSIGN_OR_RETURN(
          const std::vector<CountedEvent> events,
          txn.LedgerAfter(at, checkpoints.sequence, std::max(max_events, 1)));
      POLKU_RETURN_IF_ERROR(projection->Apply(txn, events));
      // A last step of exactly max_events has reached the ledger too.
      const bool caught_up =
          static_cast<int>(events.size()) < max_events ||
          (!events.empty() && events.back().sequence >= checkpoints.sequence);
      const int64_t reached =
          caught_up ? checkpoints.sequence : events.back().sequence;
      POLKU_RETURN_IF_ERROR(txn.SaveCheckpoints(
          checkpoints.sequence, {{projection->name(), reached}}));
      log::Info(caught_up ? "projection caught up with the ledger"
                          : "projection catching up with the ledger",
                {{"projection", projection->name()},
                 {"sequence", reached},
                 {"ledger", checkpoints.sequence}});
      behind = true;
      return true;
    }
    return false;
  }));
  return behind;
}

absl::StatusOr<GroupedRollups> RollupStore::Scorecard(
    const ScorecardQuery& query) {
  GroupedRollups result;
  // One snapshot, so the checkpoint and the numbers agree: as_of_sequence is
  // exactly what the numbers include.
  POLKU_RETURN_IF_ERROR(Read([&](Snapshot& snapshot) -> absl::Status {
    POLKU_ASSIGN_OR_RETURN(const Checkpoints checkpoints,
                           snapshot.ReadCheckpoints());
    result.as_of_sequence = checkpoints.sequence;
    if (query.attributes.empty()) return snapshot.SumRollups(query, result);
    // Rollups do not hold attributes: summed from the ledger, exactly as the
    // rollups projection sums.
    std::map<std::string, std::pair<Day, Contribution>> groups;
    POLKU_RETURN_IF_ERROR(ScanJourney(
        snapshot, checkpoints, query,
        LedgerFields{.details = false, .customer = false},
        [&](const CountedEvent& event) -> absl::Status {
          if (!HasAttributes(event.attributes, query.attributes)) {
            return absl::OkStatus();
          }
          const auto& [tenant, journey, version, touchpoint, stage, channel,
                       day] = event.key;
          std::string key = touchpoint;
          if (query.group_by == Grouping::kStage) key = stage;
          if (query.group_by == Grouping::kChannel) key = channel;
          if (query.group_by == Grouping::kDay) key = IsoDate(day);
          // For days the ISO date, whose order is the days' order.
          auto& [group_day, c] = groups[key];
          group_day = query.group_by == Grouping::kDay ? day : 0;
          return Count(event, c);
        }));
    for (auto& [key, group] : groups) {
      result.groups.push_back(
          ToGroup(key, group.first, std::move(group.second)));
    }
    return absl::OkStatus();
  }));
  return result;
}

absl::StatusOr<std::vector<std::pair<std::string, std::string>>>
RollupStore::JourneysWithEvents() {
  std::vector<std::pair<std::string, std::string>> journeys;
  POLKU_RETURN_IF_ERROR(Read([&](Snapshot& snapshot) -> absl::Status {
    POLKU_ASSIGN_OR_RETURN(journeys, snapshot.JourneysWithEvents());
    return absl::OkStatus();
  }));
  return journeys;
}

absl::StatusOr<int64_t> RollupStore::ScanLedger(
    const ScorecardQuery& query,
    absl::FunctionRef<absl::Status(const CountedEvent&)> visit) {
  int64_t as_of = 0;
  POLKU_RETURN_IF_ERROR(Read([&](Snapshot& snapshot) -> absl::Status {
    POLKU_ASSIGN_OR_RETURN(const Checkpoints checkpoints,
                           snapshot.ReadCheckpoints());
    as_of = checkpoints.sequence;
    LedgerFields fields = query.fields;
    fields.pairs = fields.pairs || !query.attributes.empty();
    return ScanJourney(
        snapshot, checkpoints, query, fields,
        [&](const CountedEvent& event) -> absl::Status {
          if (!HasAttributes(event.attributes, query.attributes)) {
            return absl::OkStatus();
          }
          return visit(event);
        });
  }));
  return as_of;
}

absl::StatusOr<std::vector<CountedEvent>> RollupStore::LedgerEvents(
    const std::string& tenant, std::vector<int64_t> sequences) {
  std::sort(sequences.begin(), sequences.end());
  sequences.erase(std::unique(sequences.begin(), sequences.end()),
                  sequences.end());
  std::vector<CountedEvent> events;
  POLKU_RETURN_IF_ERROR(Read([&](Snapshot& snapshot) -> absl::Status {
    POLKU_ASSIGN_OR_RETURN(events, snapshot.LedgerEventsAt(tenant, sequences));
    return absl::OkStatus();
  }));
  return events;
}

absl::Status RollupStore::SaveAlerts(const std::string& tenant,
                                     const std::vector<v1::Alert>& alerts) {
  if (tenant.empty()) return absl::InvalidArgumentError("tenant is required");
  for (const v1::Alert& alert : alerts) {
    if (alert.id().empty()) {
      return absl::InvalidArgumentError(
          absl::StrCat("alert.id is required (alert of journey \"",
                       alert.journey(), "\", key \"", alert.key(), "\")"));
    }
  }
  return WriteAlerts(tenant, alerts);
}

absl::StatusOr<std::vector<v1::Alert>> RollupStore::LoadAlerts(
    const std::string& tenant, const std::string& journey,
    bool include_cleared) {
  std::vector<v1::Alert> alerts;
  POLKU_RETURN_IF_ERROR(Read([&](Snapshot& snapshot) -> absl::Status {
    POLKU_ASSIGN_OR_RETURN(
        const auto rows, snapshot.AlertRows(tenant, journey, include_cleared));
    for (const auto& [id, serialized] : rows) {
      if (!alerts.emplace_back().ParseFromString(serialized)) {
        return absl::DataLossError(absl::StrCat(
            "alert ", id, " in ", DatabaseName(), " is unreadable"));
      }
    }
    return absl::OkStatus();
  }));
  return alerts;
}

}  // namespace polku::insight
