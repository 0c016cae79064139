// The SQL both database backends of RollupStore share (the same tables and
// columns on SQLite and PostgreSQL), written once: the query conditions with
// each dialect's parameters, the sums a scorecard reads and the decoding of
// their rows. Only statement text and row decoding: each backend runs them
// on its own connection type.
//
//   SqlWhere where = RollupWhere(query, [](int i, SqlType) {
//     return absl::StrCat("?", i);
//   });
//   … Prepare(RollupSumsSql(query, where.sql)), bind where.params …
//   for each row: POLKU_RETURN_IF_ERROR(AddRollupSums(row, query, index,
//   result));
#ifndef POLKU_SERVICES_INSIGHT_STORE_SQL_TEXT_H_
#define POLKU_SERVICES_INSIGHT_STORE_SQL_TEXT_H_

#include <cstdint>
#include <map>
#include <string>
#include <utility>
#include <vector>

#include "absl/functional/function_ref.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "services/insight/store/rollup_math.h"
#include "services/insight/store/rollups.h"

namespace polku::insight {

enum class SqlType { kText, kInteger, kBigint };
// A parameter: text or a number. (A struct, not std::variant: GCC 12 warns
// falsely about variants of strings.)
struct SqlValue {
  SqlValue(int64_t value) : number(value) {}  // NOLINT: implicit on purpose
  SqlValue(std::string value)
      : is_text(true), text(std::move(value)) {}  // NOLINT
  bool is_text = false;
  int64_t number = 0;
  std::string text;
};

struct SqlWhere {
  // " WHERE …", for any table with the rollup key's columns (rollups,
  // rollup_measures, counted_events).
  std::string sql;
  // In placeholder order, from 1.
  std::vector<SqlValue> params;
};

// The query's conditions other than attributes; `placeholder` spells the
// i-th parameter (from 1) of a type in the backend's dialect. Columns are
// named with `prefix` ("c." for counted_events c).
SqlWhere RollupWhere(const ScorecardQuery& query,
                     absl::FunctionRef<std::string(int, SqlType)> placeholder,
                     absl::string_view prefix = "");

// The grouping column, from a fixed list, never from input.
const char* GroupColumn(Grouping grouping);

// SELECT group, SUM(events), SUM(<histogram columns>) … GROUP BY group.
std::string RollupSumsSql(const ScorecardQuery& query,
                          const std::string& where);
// SELECT group, measure, SUM(n), SUM(sum_milli), SUM(each squares part) ….
std::string MeasureSumsSql(const ScorecardQuery& query,
                           const std::string& where);

// The ledger's columns as LedgerRow(row, fields.details) reads them, from
// counted_events `c` (and with details, event_details `d`, LEFT JOINed on
// the sequence); the fields not read as "".
std::string LedgerColumns(const LedgerFields& fields);
// The ledger rows of `where` (on counted_events c).
std::string LedgerScanSql(const LedgerFields& fields, const std::string& where);

// The ledger rows of `query` other than its attribute filters (and after
// its after_sequence), with `fields`.
SqlWhere LedgerScan(const ScorecardQuery& query, const LedgerFields& fields,
                    absl::FunctionRef<std::string(int, SqlType)> placeholder);

// One result row, whichever backend it came from.
class SqlRow {
 public:
  virtual ~SqlRow() = default;
  virtual bool IsNull(int column) const = 0;
  virtual int64_t Int(int column) const = 0;
  // A SUM that must be exact: beyond 64 bits is OUT_OF_RANGE, never wrong.
  virtual absl::StatusOr<int64_t> Sum(int column) const = 0;
  virtual std::string Text(int column) const = 0;
};

// A row of RollupSumsSql into `result`, remembering its position by key in
// `index` for the measure sums.
absl::Status AddRollupSums(const SqlRow& row, Grouping grouping,
                           std::map<std::string, size_t>& index,
                           GroupedRollups& result);
// A row of MeasureSumsSql into its group of `result`.
absl::Status AddMeasureSums(const SqlRow& row, Grouping grouping,
                            const std::map<std::string, size_t>& index,
                            absl::string_view database, GroupedRollups& result);
// A row of LedgerColumns(fields), with the
// details columns when `details`.
absl::StatusOr<CountedEvent> LedgerRow(const SqlRow& row, bool details);

}  // namespace polku::insight

#endif  // POLKU_SERVICES_INSIGHT_STORE_SQL_TEXT_H_
