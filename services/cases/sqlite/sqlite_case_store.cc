#include "services/cases/sqlite/sqlite_case_store.h"

#include <utility>

#include "absl/strings/str_cat.h"
#include "lib/base/status_macros.h"
#include "services/cases/domain/case_state.h"
#include "services/cases/domain/proto_convert.h"

namespace polku::cases {
namespace {

// Version 1. The exactly-once key is cases_once: NULL buckets (cases opened
// by hand) are distinct from each other, as are NULL request ids.
constexpr char kSchemaV1[] = R"sql(
CREATE TABLE feed_checkpoint (
  id INTEGER PRIMARY KEY CHECK (id = 1),
  sequence INTEGER NOT NULL,
  feed_id TEXT NOT NULL
);
INSERT INTO feed_checkpoint VALUES (1, 0, '');
CREATE TABLE rules (
  tenant TEXT NOT NULL,
  rule_id TEXT NOT NULL,
  body BLOB NOT NULL,
  PRIMARY KEY (tenant, rule_id)
) WITHOUT ROWID;
CREATE TABLE cases (
  tenant TEXT NOT NULL,
  case_id TEXT NOT NULL,
  rule_id TEXT NOT NULL,
  customer_hash TEXT NOT NULL,
  period_bucket INTEGER,
  request_id TEXT,
  open INTEGER NOT NULL,
  create_micros INTEGER NOT NULL,
  body BLOB NOT NULL,
  PRIMARY KEY (tenant, case_id)
);
CREATE UNIQUE INDEX cases_once
  ON cases (tenant, rule_id, customer_hash, period_bucket);
CREATE UNIQUE INDEX cases_request ON cases (tenant, request_id);
CREATE INDEX cases_page ON cases (tenant, create_micros DESC, case_id DESC);
CREATE INDEX cases_customer ON cases (tenant, customer_hash);
CREATE INDEX cases_open ON cases (open) WHERE open = 1;
CREATE TABLE audit (
  id INTEGER PRIMARY KEY AUTOINCREMENT,
  tenant TEXT NOT NULL,
  case_id TEXT NOT NULL,
  rule_id TEXT NOT NULL,
  body BLOB NOT NULL
);
CREATE INDEX audit_case ON audit (tenant, case_id, id);
CREATE INDEX audit_rule ON audit (tenant, rule_id, id);
)sql";

// Version 2: customers' contact wishes (SetContactConsent).
constexpr char kSchemaV2[] = R"sql(
CREATE TABLE contact_consent (
  tenant TEXT NOT NULL,
  customer_hash TEXT NOT NULL,
  contact_allowed INTEGER NOT NULL,
  actor TEXT NOT NULL,
  update_micros INTEGER NOT NULL,
  PRIMARY KEY (tenant, customer_hash)
) WITHOUT ROWID;
)sql";

// Version 3: tenants' business calendars (SetBusinessCalendar).
constexpr char kSchemaV3[] = R"sql(
CREATE TABLE business_calendars (
  tenant TEXT PRIMARY KEY,
  body BLOB NOT NULL
) WITHOUT ROWID;
)sql";

// Version 4: the change sequence WatchCases follows (case_store.h): a
// counter, and the changes by sequence (pruned to the newest).
constexpr char kSchemaChanges[] = R"sql(
CREATE TABLE change_counter (
  id INTEGER PRIMARY KEY CHECK (id = 1),
  last INTEGER NOT NULL
);
INSERT INTO change_counter VALUES (1, 0);
CREATE TABLE changes (
  sequence INTEGER PRIMARY KEY,
  tenant TEXT NOT NULL,
  case_id TEXT NOT NULL,
  body BLOB NOT NULL
);
CREATE INDEX changes_case ON changes (tenant, case_id);
)sql";

constexpr char kCaseColumns[] =
    "tenant, customer_hash, period_bucket, request_id, body";

int64_t CreateMicros(const v1::Case& c) {
  return c.create_time().seconds() * 1'000'000 + c.create_time().nanos() / 1000;
}

absl::StatusOr<StoredCase> CaseFromRow(const sqlite::Statement& row) {
  StoredCase c;
  c.tenant = row.ColumnText(0);
  c.customer_hash = row.ColumnText(1);
  if (!row.IsNull(2)) c.period_bucket = row.ColumnInt(2);
  if (!row.IsNull(3)) c.request_id = row.ColumnText(3);
  if (!c.value.ParseFromString(row.ColumnBlob(4))) {
    return absl::DataLossError("cases.db: a case that does not parse");
  }
  return c;
}

}  // namespace

class SqliteCaseStore::SqliteTransaction final : public Transaction {
 public:
  explicit SqliteTransaction(sqlite::Database& db) : db_(db) {}

  absl::StatusOr<FeedCheckpoint> ReadCheckpoint() override {
    POLKU_ASSIGN_OR_RETURN(
        sqlite::Statement * select,
        db_.Prepare("SELECT sequence, feed_id FROM feed_checkpoint"));
    FeedCheckpoint checkpoint;
    POLKU_RETURN_IF_ERROR(select->ForEachRow([&](const sqlite::Statement& row) {
      checkpoint.sequence = row.ColumnInt(0);
      checkpoint.feed_id = row.ColumnText(1);
      return absl::OkStatus();
    }));
    return checkpoint;
  }
  absl::Status SaveCheckpoint(int64_t sequence) override {
    POLKU_ASSIGN_OR_RETURN(
        sqlite::Statement * update,
        db_.Prepare("UPDATE feed_checkpoint SET sequence = ?1"));
    return update->Bind(1, sequence).Run();
  }
  absl::Status BindFeed(const std::string& feed_id) override {
    POLKU_ASSIGN_OR_RETURN(
        sqlite::Statement * update,
        db_.Prepare("UPDATE feed_checkpoint SET feed_id = ?1"));
    return update->Bind(1, feed_id).Run();
  }
  absl::StatusOr<std::vector<v1::CaseRule>> Rules(
      const std::string& tenant) override {
    POLKU_ASSIGN_OR_RETURN(
        sqlite::Statement * select,
        db_.Prepare("SELECT body FROM rules WHERE tenant = ?1 ORDER BY rule_id"));
    std::vector<v1::CaseRule> rules;
    POLKU_RETURN_IF_ERROR(
        select->Bind(1, tenant).ForEachRow([&](const sqlite::Statement& row) {
          if (!rules.emplace_back().ParseFromString(row.ColumnBlob(0))) {
            return absl::DataLossError("cases.db: a rule that does not parse");
          }
          return absl::OkStatus();
        }));
    return rules;
  }
  absl::Status PutRule(const std::string& tenant,
                       const v1::CaseRule& rule) override {
    POLKU_ASSIGN_OR_RETURN(
        sqlite::Statement * upsert,
        db_.Prepare("INSERT INTO rules (tenant, rule_id, body) "
                    "VALUES (?1, ?2, ?3) ON CONFLICT (tenant, rule_id) "
                    "DO UPDATE SET body = excluded.body"));
    return upsert->Bind(1, tenant)
        .Bind(2, rule.rule_id())
        .BindBlob(3, rule.SerializeAsString())
        .Run();
  }
  absl::StatusOr<bool> InsertCase(const StoredCase& c) override {
    POLKU_ASSIGN_OR_RETURN(
        sqlite::Statement * insert,
        db_.Prepare("INSERT INTO cases (tenant, case_id, rule_id, "
                    "customer_hash, period_bucket, request_id, open, "
                    "create_micros, body) "
                    "VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9) "
                    "ON CONFLICT DO NOTHING"));
    insert->Bind(1, c.tenant)
        .Bind(2, c.value.case_id())
        .Bind(3, c.value.rule_id())
        .Bind(4, c.customer_hash);
    if (c.period_bucket.has_value()) {
      insert->Bind(5, *c.period_bucket);
    } else {
      insert->BindNull(5);
    }
    if (c.request_id.empty()) {
      insert->BindNull(6);
    } else {
      insert->Bind(6, c.request_id);
    }
    POLKU_RETURN_IF_ERROR(
        insert->Bind(7, IsOpen(StateFromProto(c.value.state())) ? 1 : 0)
            .Bind(8, CreateMicros(c.value))
            .BindBlob(9, c.value.SerializeAsString())
            .Run());
    return db_.Changes() == 1;
  }
  absl::StatusOr<std::optional<StoredCase>> FindCase(
      const std::string& tenant, const std::string& rule_id,
      const std::string& customer_hash, int64_t period_bucket) override {
    POLKU_ASSIGN_OR_RETURN(
        sqlite::Statement * select,
        db_.Prepare(absl::StrCat(
            "SELECT ", kCaseColumns,
            " FROM cases WHERE tenant = ?1 AND rule_id = ?2 AND "
            "customer_hash = ?3 AND period_bucket = ?4")));
    select->Bind(1, tenant).Bind(2, rule_id).Bind(3, customer_hash).Bind(
        4, period_bucket);
    return One(*select);
  }
  absl::StatusOr<std::optional<StoredCase>> FindByRequest(
      const std::string& tenant, const std::string& request_id) override {
    POLKU_ASSIGN_OR_RETURN(
        sqlite::Statement * select,
        db_.Prepare(absl::StrCat("SELECT ", kCaseColumns,
                                 " FROM cases WHERE tenant = ?1 AND "
                                 "request_id = ?2")));
    select->Bind(1, tenant).Bind(2, request_id);
    return One(*select);
  }
  absl::StatusOr<std::optional<StoredCase>> GetCase(
      const std::string& tenant, const std::string& case_id) override {
    POLKU_ASSIGN_OR_RETURN(
        sqlite::Statement * select,
        db_.Prepare(absl::StrCat("SELECT ", kCaseColumns,
                                 " FROM cases WHERE tenant = ?1 AND "
                                 "case_id = ?2")));
    select->Bind(1, tenant).Bind(2, case_id);
    return One(*select);
  }
  absl::Status UpdateCase(const StoredCase& c) override {
    POLKU_ASSIGN_OR_RETURN(
        sqlite::Statement * update,
        db_.Prepare("UPDATE cases SET open = ?3, body = ?4 "
                    "WHERE tenant = ?1 AND case_id = ?2"));
    POLKU_RETURN_IF_ERROR(
        update->Bind(1, c.tenant)
            .Bind(2, c.value.case_id())
            .Bind(3, IsOpen(StateFromProto(c.value.state())) ? 1 : 0)
            .BindBlob(4, c.value.SerializeAsString())
            .Run());
    if (db_.Changes() != 1) {
      return absl::NotFoundError("case vanished during its update");
    }
    return absl::OkStatus();
  }
  absl::StatusOr<std::vector<StoredCase>> CasesPage(
      const std::string& tenant, const std::optional<PagePosition>& after,
      int limit) override {
    POLKU_ASSIGN_OR_RETURN(
        sqlite::Statement * select,
        db_.Prepare(absl::StrCat(
            "SELECT ", kCaseColumns,
            " FROM cases WHERE tenant = ?1 AND (?2 IS NULL OR "
            "(create_micros, case_id) < (?2, ?3)) "
            "ORDER BY create_micros DESC, case_id DESC LIMIT ?4")));
    select->Bind(1, tenant);
    if (after.has_value()) {
      select->Bind(2, after->create_micros).Bind(3, after->case_id);
    } else {
      select->BindNull(2).BindNull(3);
    }
    select->Bind(4, limit);
    return All(*select);
  }
  absl::StatusOr<std::vector<StoredCase>> OpenCases() override {
    POLKU_ASSIGN_OR_RETURN(
        sqlite::Statement * select,
        db_.Prepare(absl::StrCat("SELECT ", kCaseColumns,
                                 " FROM cases WHERE open = 1")));
    return All(*select);
  }
  absl::StatusOr<int64_t> EraseCustomer(
      const std::string& tenant, const std::string& customer_hash) override {
    POLKU_ASSIGN_OR_RETURN(
        sqlite::Statement * audit,
        db_.Prepare("DELETE FROM audit WHERE tenant = ?1 AND case_id IN "
                    "(SELECT case_id FROM cases WHERE tenant = ?1 AND "
                    "customer_hash = ?2)"));
    POLKU_RETURN_IF_ERROR(audit->Bind(1, tenant).Bind(2, customer_hash).Run());
    POLKU_ASSIGN_OR_RETURN(
        sqlite::Statement * changes,
        db_.Prepare("UPDATE changes SET body = x'' WHERE tenant = ?1 AND "
                    "case_id IN (SELECT case_id FROM cases WHERE tenant = ?1 "
                    "AND customer_hash = ?2)"));
    POLKU_RETURN_IF_ERROR(
        changes->Bind(1, tenant).Bind(2, customer_hash).Run());
    POLKU_ASSIGN_OR_RETURN(
        sqlite::Statement * cases,
        db_.Prepare("DELETE FROM cases WHERE tenant = ?1 AND "
                    "customer_hash = ?2"));
    POLKU_RETURN_IF_ERROR(cases->Bind(1, tenant).Bind(2, customer_hash).Run());
    return db_.Changes();
  }
  absl::StatusOr<std::vector<StoredCase>> CasesOfCustomer(
      const std::string& tenant, const std::string& customer_hash) override {
    POLKU_ASSIGN_OR_RETURN(
        sqlite::Statement * select,
        db_.Prepare(absl::StrCat("SELECT ", kCaseColumns,
                                 " FROM cases WHERE tenant = ?1 AND "
                                 "customer_hash = ?2 ORDER BY case_id")));
    select->Bind(1, tenant).Bind(2, customer_hash);
    return All(*select);
  }
  absl::Status PutConsent(const std::string& tenant,
                          const std::string& customer_hash,
                          bool contact_allowed, const std::string& actor,
                          absl::Time time) override {
    POLKU_ASSIGN_OR_RETURN(
        sqlite::Statement * upsert,
        db_.Prepare("INSERT INTO contact_consent (tenant, customer_hash, "
                    "contact_allowed, actor, update_micros) "
                    "VALUES (?1, ?2, ?3, ?4, ?5) "
                    "ON CONFLICT (tenant, customer_hash) DO UPDATE SET "
                    "contact_allowed = excluded.contact_allowed, "
                    "actor = excluded.actor, "
                    "update_micros = excluded.update_micros"));
    return upsert->Bind(1, tenant)
        .Bind(2, customer_hash)
        .Bind(3, contact_allowed ? 1 : 0)
        .Bind(4, actor)
        .Bind(5, absl::ToUnixMicros(time))
        .Run();
  }
  absl::StatusOr<std::optional<bool>> ContactAllowed(
      const std::string& tenant, const std::string& customer_hash) override {
    POLKU_ASSIGN_OR_RETURN(
        sqlite::Statement * select,
        db_.Prepare("SELECT contact_allowed FROM contact_consent "
                    "WHERE tenant = ?1 AND customer_hash = ?2"));
    std::optional<bool> allowed;
    POLKU_RETURN_IF_ERROR(select->Bind(1, tenant).Bind(2, customer_hash).ForEachRow(
        [&](const sqlite::Statement& row) {
          allowed = row.ColumnInt(0) != 0;
          return absl::OkStatus();
        }));
    return allowed;
  }
  absl::StatusOr<std::optional<v1::TenantBusinessCalendar>> TenantCalendar(
      const std::string& tenant) override {
    POLKU_ASSIGN_OR_RETURN(
        sqlite::Statement * select,
        db_.Prepare("SELECT body FROM business_calendars WHERE tenant = ?1"));
    std::optional<v1::TenantBusinessCalendar> calendar;
    POLKU_RETURN_IF_ERROR(select->Bind(1, tenant).ForEachRow(
        [&](const sqlite::Statement& row) {
          if (!calendar.emplace().ParseFromString(row.ColumnBlob(0))) {
            return absl::DataLossError(
                "cases.db: a business calendar that does not parse");
          }
          return absl::OkStatus();
        }));
    return calendar;
  }
  absl::Status PutTenantCalendar(
      const std::string& tenant,
      const v1::TenantBusinessCalendar& calendar) override {
    POLKU_ASSIGN_OR_RETURN(
        sqlite::Statement * upsert,
        db_.Prepare("INSERT INTO business_calendars (tenant, body) "
                    "VALUES (?1, ?2) ON CONFLICT (tenant) DO UPDATE SET "
                    "body = excluded.body"));
    return upsert->Bind(1, tenant)
        .BindBlob(2, calendar.SerializeAsString())
        .Run();
  }
  absl::StatusOr<int64_t> ReserveChangeSequences(int n) override {
    // BEGIN IMMEDIATE holds the write lock to the commit: one writer at a
    // time, also across connections to the file.
    POLKU_ASSIGN_OR_RETURN(int64_t last, LastChangeSequence());
    POLKU_ASSIGN_OR_RETURN(
        sqlite::Statement * update,
        db_.Prepare("UPDATE change_counter SET last = ?1 WHERE id = 1"));
    POLKU_RETURN_IF_ERROR(update->Bind(1, last + n).Run());
    return last + 1;
  }
  absl::StatusOr<int64_t> LastChangeSequence() override {
    POLKU_ASSIGN_OR_RETURN(
        sqlite::Statement * select,
        db_.Prepare("SELECT last FROM change_counter WHERE id = 1"));
    int64_t last = 0;
    POLKU_RETURN_IF_ERROR(select->ForEachRow([&](const sqlite::Statement& row) {
      last = row.ColumnInt(0);
      return absl::OkStatus();
    }));
    return last;
  }
  absl::Status PutChange(int64_t sequence, const std::string& tenant,
                         const std::string& case_id,
                         const std::string& body) override {
    POLKU_ASSIGN_OR_RETURN(
        sqlite::Statement * insert,
        db_.Prepare("INSERT INTO changes (sequence, tenant, case_id, body) "
                    "VALUES (?1, ?2, ?3, ?4)"));
    return insert->Bind(1, sequence)
        .Bind(2, tenant)
        .Bind(3, case_id)
        .BindBlob(4, body)
        .Run();
  }
  absl::Status PruneChanges(int64_t sequence) override {
    POLKU_ASSIGN_OR_RETURN(
        sqlite::Statement * prune,
        db_.Prepare("DELETE FROM changes WHERE sequence <= ?1"));
    return prune->Bind(1, sequence).Run();
  }
  absl::StatusOr<std::vector<StoredChange>> ChangesAfter(int64_t after,
                                                         int limit) override {
    POLKU_ASSIGN_OR_RETURN(
        sqlite::Statement * select,
        db_.Prepare("SELECT sequence, body FROM changes WHERE sequence > ?1 "
                    "ORDER BY sequence LIMIT ?2"));
    std::vector<StoredChange> out;
    POLKU_RETURN_IF_ERROR(select->Bind(1, after).Bind(2, limit).ForEachRow(
        [&](const sqlite::Statement& row) {
          out.push_back({row.ColumnInt(0), row.ColumnBlob(1)});
          return absl::OkStatus();
        }));
    return out;
  }
  absl::Status AppendAudit(const std::string& tenant,
                           const v1::AuditEntry& entry) override {
    POLKU_ASSIGN_OR_RETURN(
        sqlite::Statement * insert,
        db_.Prepare("INSERT INTO audit (tenant, case_id, rule_id, body) "
                    "VALUES (?1, ?2, ?3, ?4)"));
    return insert->Bind(1, tenant)
        .Bind(2, entry.case_id())
        .Bind(3, entry.rule_id())
        .BindBlob(4, entry.SerializeAsString())
        .Run();
  }
  absl::StatusOr<std::vector<v1::AuditEntry>> Audit(
      const std::string& tenant, const std::string& case_id,
      const std::string& rule_id) override {
    POLKU_ASSIGN_OR_RETURN(
        sqlite::Statement * select,
        db_.Prepare(!case_id.empty()
                        ? "SELECT body FROM audit WHERE tenant = ?1 AND "
                          "case_id = ?2 ORDER BY id"
                        : "SELECT body FROM audit WHERE tenant = ?1 AND "
                          "rule_id = ?2 AND case_id = '' ORDER BY id"));
    std::vector<v1::AuditEntry> entries;
    POLKU_RETURN_IF_ERROR(
        select->Bind(1, tenant)
            .Bind(2, !case_id.empty() ? case_id : rule_id)
            .ForEachRow([&](const sqlite::Statement& row) {
              if (!entries.emplace_back().ParseFromString(row.ColumnBlob(0))) {
                return absl::DataLossError(
                    "cases.db: an audit entry that does not parse");
              }
              return absl::OkStatus();
            }));
    return entries;
  }

 private:
  absl::StatusOr<std::vector<StoredCase>> All(sqlite::Statement& select) {
    std::vector<StoredCase> out;
    POLKU_RETURN_IF_ERROR(select.ForEachRow([&](const sqlite::Statement& row) {
      POLKU_ASSIGN_OR_RETURN(StoredCase c, CaseFromRow(row));
      out.push_back(std::move(c));
      return absl::OkStatus();
    }));
    return out;
  }
  absl::StatusOr<std::optional<StoredCase>> One(sqlite::Statement& select) {
    POLKU_ASSIGN_OR_RETURN(std::vector<StoredCase> all, All(select));
    if (all.empty()) return std::nullopt;
    return std::move(all.front());
  }

  sqlite::Database& db_;
};

const std::vector<sqlite::Migration>& SqliteCaseStore::Migrations() {
  static const auto* migrations =
      new std::vector<sqlite::Migration>{
      {1, kSchemaV1}, {2, kSchemaV2}, {3, kSchemaV3}, {4, kSchemaChanges}};
  return *migrations;
}

absl::StatusOr<std::unique_ptr<SqliteCaseStore>> SqliteCaseStore::Open(
    const std::string& path, Options options, bool durable) {
  sqlite::Database::Options db_options;
  db_options.durable = durable;
  POLKU_ASSIGN_OR_RETURN(std::unique_ptr<sqlite::Database> db,
                         sqlite::Database::Open(path, db_options));
  POLKU_RETURN_IF_ERROR(db->Migrate(Migrations()));
  return std::unique_ptr<SqliteCaseStore>(
      new SqliteCaseStore(std::move(options), std::move(db)));
}

absl::Status SqliteCaseStore::Run(
    absl::FunctionRef<absl::StatusOr<bool>(Transaction&)> work) {
  absl::MutexLock lock(&mu_);
  sqlite::Transaction txn(*db_);
  POLKU_RETURN_IF_ERROR(txn.Begin());
  SqliteTransaction primitives(*db_);
  POLKU_ASSIGN_OR_RETURN(const bool commit, work(primitives));
  return commit ? txn.Commit() : txn.Rollback();
}

}  // namespace polku::cases
