#include "services/insight/store/sql_text.h"

#include <cstring>
#include <utility>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "lib/base/status_macros.h"

namespace polku::insight {
namespace {

std::optional<int> ScoreOf(const SqlRow& row, int column) {
  if (row.IsNull(column)) return std::nullopt;
  return static_cast<int>(row.Int(column));
}

// The group of a row whose `column` is the grouping column.
std::pair<std::string, Day> GroupOf(const SqlRow& row, int column,
                                    Grouping grouping) {
  if (grouping == Grouping::kDay) {
    const Day day = row.Int(column);
    return {IsoDate(day), day};
  }
  return {row.Text(column), 0};
}

}  // namespace

SqlWhere RollupWhere(const ScorecardQuery& query,
                     absl::FunctionRef<std::string(int, SqlType)> placeholder,
                     absl::string_view prefix) {
  SqlWhere where;
  const auto column = [prefix](absl::string_view name) {
    return absl::StrCat(prefix, name);
  };
  auto param = [&](SqlValue value, SqlType type) {
    where.params.push_back(std::move(value));
    return placeholder(static_cast<int>(where.params.size()), type);
  };
  const std::string version =
      param(int64_t{query.journey_version}, SqlType::kInteger);
  where.sql = absl::StrCat(
      " WHERE ", column("tenant"), " = ", param(query.tenant, SqlType::kText),
      " AND ", column("journey"), " = ", param(query.journey, SqlType::kText),
      " AND (", version, " = 0 OR ", column("journey_version"), " = ", version,
      ") AND ", column("day"),
      " >= ", param(int64_t{query.start_day}, SqlType::kBigint), " AND ",
      column("day"), " < ", param(int64_t{query.end_day}, SqlType::kBigint));
  if (!query.touchpoints.empty()) {
    std::vector<std::string> in;
    for (const std::string& touchpoint : query.touchpoints) {
      in.push_back(param(touchpoint, SqlType::kText));
    }
    absl::StrAppend(&where.sql, " AND ", column("touchpoint"), " IN (",
                    absl::StrJoin(in, ", "), ")");
  }
  if (!query.stage.empty()) {
    absl::StrAppend(&where.sql, " AND ", column("stage"), " = ",
                    param(query.stage, SqlType::kText));
  }
  if (!query.channel.empty()) {
    absl::StrAppend(&where.sql, " AND ", column("channel"), " = ",
                    param(query.channel, SqlType::kText));
  }
  return where;
}

const char* GroupColumn(Grouping grouping) {
  switch (grouping) {
    case Grouping::kTouchpoint:
      return "touchpoint";
    case Grouping::kStage:
      return "stage";
    case Grouping::kChannel:
      return "channel";
    case Grouping::kDay:
      return "day";
  }
  return "touchpoint";
}

std::string RollupSumsSql(const ScorecardQuery& query,
                          const std::string& where) {
  const char* group = GroupColumn(query.group_by);
  std::vector<std::string> sums = {"SUM(events)"};
  for (const std::string& c : HistogramColumns()) {
    sums.push_back(absl::StrCat("SUM(", c, ")"));
  }
  return absl::StrCat("SELECT ", group, ", ", absl::StrJoin(sums, ", "),
                      " FROM rollups", where, " GROUP BY ", group, " ORDER BY ",
                      group);
}

// Each part of the squares is summed separately (mid and low are below 2³²,
// so their SQL sums cannot overflow before 2³¹ rows) and joined in C++.
std::string MeasureSumsSql(const ScorecardQuery& query,
                           const std::string& where) {
  const char* group = GroupColumn(query.group_by);
  return absl::StrCat(
      "SELECT ", group,
      ", measure, SUM(n), SUM(sum_milli), SUM(sum_squares_high),"
      " SUM(sum_squares_mid), SUM(sum_squares_low) FROM rollup_measures",
      where, " GROUP BY ", group, ", measure ORDER BY ", group, ", measure");
}

std::string LedgerColumns(const LedgerFields& fields) {
  // What is not read stays in its place as '', so LedgerRow reads every
  // variant alike.
  return absl::StrCat(
      "c.sequence, c.tenant, ",
      fields.customer ? "c.customer_hash" : "CAST('' AS TEXT)",
      ", c.journey, c.journey_version, c.touchpoint, c.stage, c.channel,"
      " c.day, c.csat, c.nps, c.ces, ",
      fields.pairs ? "c.attributes, c.measures"
                   : "CAST('' AS TEXT), CAST('' AS TEXT)",
      fields.details ? ", d.occurred_at, d.comment, d.language" : "");
}

std::string LedgerScanSql(const LedgerFields& fields,
                          const std::string& where) {
  return absl::StrCat(
      "SELECT ", LedgerColumns(fields), " FROM counted_events c",
      fields.details ? " LEFT JOIN event_details d ON d.sequence = c.sequence"
                     : "",
      where);
}

SqlWhere LedgerScan(const ScorecardQuery& query, const LedgerFields& fields,
                    absl::FunctionRef<std::string(int, SqlType)> placeholder) {
  SqlWhere scan = RollupWhere(query, placeholder, "c.");
  if (query.after_sequence > 0) {
    // What is new is found by sequence (SQLite: the rowid; PostgreSQL:
    // counted_events_by_sequence): `|| ''` keeps both planners from
    // reading the journey's every row through counted_events_by_journey.
    for (const char* column : {"c.tenant = ", "c.journey = "}) {
      const size_t at = scan.sql.find(column);
      if (at != std::string::npos) {
        scan.sql.replace(at, std::strlen(column) - 3,
                         absl::StrCat(std::string(column, std::strlen(column) - 3),
                                      " || ''"));
      }
    }
    scan.params.push_back(int64_t{query.after_sequence});
    absl::StrAppend(&scan.sql, " AND c.sequence > ",
                    placeholder(static_cast<int>(scan.params.size()),
                                SqlType::kBigint));
  }
  scan.sql = LedgerScanSql(fields, scan.sql);
  return scan;
}

absl::Status AddRollupSums(const SqlRow& row, Grouping grouping,
                           std::map<std::string, size_t>& index,
                           GroupedRollups& result) {
  auto [key, day] = GroupOf(row, 0, grouping);
  Contribution c;
  POLKU_ASSIGN_OR_RETURN(c.events, row.Sum(1));
  for (int i = 0; i < kHistogramColumns; ++i) {
    POLKU_ASSIGN_OR_RETURN(c.histogram[i], row.Sum(2 + i));
  }
  index[key] = result.groups.size();
  result.groups.push_back(ToGroup(std::move(key), day, std::move(c)));
  return absl::OkStatus();
}

absl::Status AddMeasureSums(const SqlRow& row, Grouping grouping,
                            const std::map<std::string, size_t>& index,
                            absl::string_view database,
                            GroupedRollups& result) {
  auto found = index.find(GroupOf(row, 0, grouping).first);
  if (found == index.end()) {
    return absl::DataLossError(absl::StrCat(
        database, " has measure sums without their rollup row; rebuild it"));
  }
  const std::string name = row.Text(1);
  MeasureSum& sum = result.groups[found->second].measures[name];
  POLKU_ASSIGN_OR_RETURN(sum.n, row.Sum(2));
  POLKU_ASSIGN_OR_RETURN(sum.sum_milli, row.Sum(3));
  SquaresParts parts;
  POLKU_ASSIGN_OR_RETURN(parts.high, row.Sum(4));
  POLKU_ASSIGN_OR_RETURN(parts.mid, row.Sum(5));
  POLKU_ASSIGN_OR_RETURN(parts.low, row.Sum(6));
  POLKU_ASSIGN_OR_RETURN(sum.sum_squares_milli2, JoinSquares(parts, name));
  return absl::OkStatus();
}

absl::StatusOr<CountedEvent> LedgerRow(const SqlRow& row, bool details) {
  CountedEvent event;
  event.sequence = row.Int(0);
  event.customer_hash = row.Text(2);
  const Day day = row.Int(8);
  event.key =
      RollupKey{row.Text(1), row.Text(3), static_cast<int32_t>(row.Int(4)),
                row.Text(5), row.Text(6), row.Text(7),
                day};
  event.csat = ScoreOf(row, 9);
  event.nps = ScoreOf(row, 10);
  event.ces = ScoreOf(row, 11);
  event.attributes = DecodePairs(row.Text(12));
  POLKU_ASSIGN_OR_RETURN(event.measures, DecodeMeasures(row.Text(13)));
  // Counted before the details were kept: the day is all that is known.
  event.occurred_at_micros = MidnightMicros(day);
  if (details && !row.IsNull(14)) {
    event.occurred_at_micros = row.Int(14);
    event.comment = row.Text(15);
    event.language = row.Text(16);
  }
  return event;
}

}  // namespace polku::insight
