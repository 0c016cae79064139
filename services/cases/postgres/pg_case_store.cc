#include "services/cases/postgres/pg_case_store.h"

#include <algorithm>
#include <utility>

#include "absl/strings/str_cat.h"
#include "lib/base/log.h"
#include "lib/base/status_macros.h"
#include "services/cases/domain/case_state.h"
#include "services/cases/domain/proto_convert.h"

namespace polku::cases {
namespace {

using postgres::Param;

constexpr absl::Duration kConnectTimeout = absl::Seconds(5);

// Version 1: as SQLite's (sqlite/sqlite_case_store.cc), with names that
// leave room for other components in a shared database.
constexpr char kSchemaV1[] = R"sql(
CREATE TABLE case_feed_checkpoint (
  id INTEGER PRIMARY KEY CHECK (id = 1),
  sequence BIGINT NOT NULL,
  feed_id TEXT NOT NULL
);
INSERT INTO case_feed_checkpoint VALUES (1, 0, '');
CREATE TABLE case_rules (
  tenant TEXT NOT NULL,
  rule_id TEXT NOT NULL,
  body BYTEA NOT NULL,
  PRIMARY KEY (tenant, rule_id)
);
CREATE TABLE cases (
  tenant TEXT NOT NULL,
  case_id TEXT NOT NULL,
  rule_id TEXT NOT NULL,
  customer_hash TEXT NOT NULL,
  period_bucket BIGINT,
  request_id TEXT,
  open BOOLEAN NOT NULL,
  create_micros BIGINT NOT NULL,
  body BYTEA NOT NULL,
  PRIMARY KEY (tenant, case_id)
);
CREATE UNIQUE INDEX cases_once
  ON cases (tenant, rule_id, customer_hash, period_bucket);
CREATE UNIQUE INDEX cases_request ON cases (tenant, request_id);
CREATE INDEX cases_page ON cases (tenant, create_micros DESC, case_id DESC);
CREATE INDEX cases_customer ON cases (tenant, customer_hash);
CREATE INDEX cases_open ON cases (open) WHERE open;
CREATE TABLE case_audit (
  id BIGSERIAL PRIMARY KEY,
  tenant TEXT NOT NULL,
  case_id TEXT NOT NULL,
  rule_id TEXT NOT NULL,
  body BYTEA NOT NULL
);
CREATE INDEX case_audit_case ON case_audit (tenant, case_id, id);
CREATE INDEX case_audit_rule ON case_audit (tenant, rule_id, id);
)sql";

// Version 2: customers' contact wishes (SetContactConsent).
constexpr char kSchemaV2[] = R"sql(
CREATE TABLE case_contact_consent (
  tenant TEXT NOT NULL,
  customer_hash TEXT NOT NULL,
  contact_allowed BOOLEAN NOT NULL,
  actor TEXT NOT NULL,
  update_micros BIGINT NOT NULL,
  PRIMARY KEY (tenant, customer_hash)
);
)sql";

// Version 3: tenants' business calendars (SetBusinessCalendar).
constexpr char kSchemaV3[] = R"sql(
CREATE TABLE case_business_calendars (
  tenant TEXT PRIMARY KEY,
  body BYTEA NOT NULL
);
)sql";

// Version 4: the change sequence WatchCases follows (case_store.h). The
// counter row is the lock: a writer updates it last in its transaction and
// holds it until commit, so the next writer's sequences come after it has
// committed and a reader never sees 12 before 11 (a BIGSERIAL would let
// it, and a follower reading "after 11" would skip 11 for ever).
constexpr char kSchemaChanges[] = R"sql(
CREATE TABLE case_change_counter (
  id INTEGER PRIMARY KEY CHECK (id = 1),
  last BIGINT NOT NULL
);
INSERT INTO case_change_counter VALUES (1, 0);
CREATE TABLE case_changes (
  sequence BIGINT PRIMARY KEY,
  tenant TEXT NOT NULL,
  case_id TEXT NOT NULL,
  body BYTEA NOT NULL
);
CREATE INDEX case_changes_case ON case_changes (tenant, case_id);
)sql";

constexpr char kCaseColumns[] =
    "tenant, customer_hash, period_bucket, request_id, body";

int64_t CreateMicros(const v1::Case& c) {
  return c.create_time().seconds() * 1'000'000 + c.create_time().nanos() / 1000;
}

absl::StatusOr<std::vector<StoredCase>> CasesOf(const postgres::Result& r) {
  std::vector<StoredCase> out;
  for (int i = 0; i < r.rows(); ++i) {
    StoredCase& c = out.emplace_back();
    c.tenant = r.Text(i, 0);
    c.customer_hash = r.Text(i, 1);
    if (!r.IsNull(i, 2)) c.period_bucket = r.Int(i, 2);
    if (!r.IsNull(i, 3)) c.request_id = r.Text(i, 3);
    if (!c.value.ParseFromString(r.Bytes(i, 4))) {
      return absl::DataLossError("cases: a case that does not parse");
    }
  }
  return out;
}

absl::StatusOr<std::optional<StoredCase>> First(const postgres::Result& r) {
  POLKU_ASSIGN_OR_RETURN(std::vector<StoredCase> all, CasesOf(r));
  if (all.empty()) return std::nullopt;
  return std::move(all.front());
}

}  // namespace

class PgCaseStore::PgTransaction final : public Transaction {
 public:
  explicit PgTransaction(postgres::Connection& db) : db_(db) {}

  absl::StatusOr<FeedCheckpoint> ReadCheckpoint() override {
    POLKU_ASSIGN_OR_RETURN(
        postgres::Result r,
        db_.Execute("SELECT sequence, feed_id FROM case_feed_checkpoint "
                    "WHERE id = 1 FOR UPDATE"));
    FeedCheckpoint checkpoint;
    if (r.rows() == 1) {
      checkpoint.sequence = r.Int(0, 0);
      checkpoint.feed_id = r.Text(0, 1);
    }
    return checkpoint;
  }
  absl::Status SaveCheckpoint(int64_t sequence) override {
    return db_
        .Execute("UPDATE case_feed_checkpoint SET sequence = $1 WHERE id = 1",
                 {Param::Int(sequence)})
        .status();
  }
  absl::Status BindFeed(const std::string& feed_id) override {
    return db_
        .Execute("UPDATE case_feed_checkpoint SET feed_id = $1 WHERE id = 1",
                 {Param::Text(feed_id)})
        .status();
  }
  absl::StatusOr<std::vector<v1::CaseRule>> Rules(
      const std::string& tenant) override {
    POLKU_ASSIGN_OR_RETURN(
        postgres::Result r,
        db_.Execute("SELECT body FROM case_rules WHERE tenant = $1 "
                    "ORDER BY rule_id",
                    {Param::Text(tenant)}));
    std::vector<v1::CaseRule> rules(r.rows());
    for (int i = 0; i < r.rows(); ++i) {
      if (!rules[i].ParseFromString(r.Bytes(i, 0))) {
        return absl::DataLossError("cases: a rule that does not parse");
      }
    }
    return rules;
  }
  absl::Status PutRule(const std::string& tenant,
                       const v1::CaseRule& rule) override {
    return db_
        .Execute("INSERT INTO case_rules (tenant, rule_id, body) "
                 "VALUES ($1, $2, $3) ON CONFLICT (tenant, rule_id) "
                 "DO UPDATE SET body = excluded.body",
                 {Param::Text(tenant), Param::Text(rule.rule_id()),
                  Param::Bytes(rule.SerializeAsString())})
        .status();
  }
  absl::StatusOr<bool> InsertCase(const StoredCase& c) override {
    POLKU_ASSIGN_OR_RETURN(
        postgres::Result r,
        db_.Execute(
            "INSERT INTO cases (tenant, case_id, rule_id, customer_hash, "
            "period_bucket, request_id, open, create_micros, body) "
            "VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9) "
            "ON CONFLICT DO NOTHING",
            {Param::Text(c.tenant), Param::Text(c.value.case_id()),
             Param::Text(c.value.rule_id()), Param::Text(c.customer_hash),
             c.period_bucket.has_value() ? Param::Int(*c.period_bucket)
                                         : Param::Null(),
             c.request_id.empty() ? Param::Null() : Param::Text(c.request_id),
             Param::Text(IsOpen(StateFromProto(c.value.state())) ? "true"
                                                                 : "false"),
             Param::Int(CreateMicros(c.value)),
             Param::Bytes(c.value.SerializeAsString())}));
    return r.affected() == 1;
  }
  absl::StatusOr<std::optional<StoredCase>> FindCase(
      const std::string& tenant, const std::string& rule_id,
      const std::string& customer_hash, int64_t period_bucket) override {
    POLKU_ASSIGN_OR_RETURN(
        postgres::Result r,
        db_.Execute(absl::StrCat("SELECT ", kCaseColumns,
                                 " FROM cases WHERE tenant = $1 AND "
                                 "rule_id = $2 AND customer_hash = $3 AND "
                                 "period_bucket = $4"),
                    {Param::Text(tenant), Param::Text(rule_id),
                     Param::Text(customer_hash), Param::Int(period_bucket)}));
    return First(r);
  }
  absl::StatusOr<std::optional<StoredCase>> FindByRequest(
      const std::string& tenant, const std::string& request_id) override {
    POLKU_ASSIGN_OR_RETURN(
        postgres::Result r,
        db_.Execute(absl::StrCat("SELECT ", kCaseColumns,
                                 " FROM cases WHERE tenant = $1 AND "
                                 "request_id = $2"),
                    {Param::Text(tenant), Param::Text(request_id)}));
    return First(r);
  }
  absl::StatusOr<std::optional<StoredCase>> GetCase(
      const std::string& tenant, const std::string& case_id) override {
    POLKU_ASSIGN_OR_RETURN(
        postgres::Result r,
        db_.Execute(absl::StrCat("SELECT ", kCaseColumns,
                                 " FROM cases WHERE tenant = $1 AND "
                                 "case_id = $2 FOR UPDATE"),
                    {Param::Text(tenant), Param::Text(case_id)}));
    return First(r);
  }
  absl::Status UpdateCase(const StoredCase& c) override {
    POLKU_ASSIGN_OR_RETURN(
        postgres::Result r,
        db_.Execute("UPDATE cases SET open = $3, body = $4 "
                    "WHERE tenant = $1 AND case_id = $2",
                    {Param::Text(c.tenant), Param::Text(c.value.case_id()),
                     Param::Text(IsOpen(StateFromProto(c.value.state()))
                                     ? "true"
                                     : "false"),
                     Param::Bytes(c.value.SerializeAsString())}));
    if (r.affected() != 1) {
      return absl::NotFoundError("case vanished during its update");
    }
    return absl::OkStatus();
  }
  absl::StatusOr<std::vector<StoredCase>> CasesPage(
      const std::string& tenant, const std::optional<PagePosition>& after,
      int limit) override {
    POLKU_ASSIGN_OR_RETURN(
        postgres::Result r,
        db_.Execute(
            absl::StrCat("SELECT ", kCaseColumns,
                         " FROM cases WHERE tenant = $1 AND ($2::bigint IS "
                         "NULL OR (create_micros, case_id) < ($2::bigint, "
                         "$3::text)) ORDER BY create_micros DESC, case_id "
                         "DESC LIMIT $4"),
            {Param::Text(tenant),
             after.has_value() ? Param::Int(after->create_micros)
                               : Param::Null(),
             after.has_value() ? Param::Text(after->case_id) : Param::Null(),
             Param::Int(limit)}));
    return CasesOf(r);
  }
  absl::StatusOr<std::vector<StoredCase>> OpenCases() override {
    POLKU_ASSIGN_OR_RETURN(
        postgres::Result r,
        db_.Execute(absl::StrCat("SELECT ", kCaseColumns,
                                 " FROM cases WHERE open ORDER BY tenant, "
                                 "case_id FOR UPDATE")));
    return CasesOf(r);
  }
  absl::StatusOr<int64_t> EraseCustomer(
      const std::string& tenant, const std::string& customer_hash) override {
    // Lock the customer's cases first (in OpenCases' order): a write to one
    // of them that has already inserted its audit entry and change but not
    // committed is waited for, and the statements below, each with a new
    // snapshot, then see and remove what it wrote. Removing first and
    // locking last would miss those rows and leave the customer's case in
    // a change body.
    POLKU_RETURN_IF_ERROR(
        db_.Execute("SELECT case_id FROM cases WHERE tenant = $1 AND "
                    "customer_hash = $2 ORDER BY tenant, case_id FOR UPDATE",
                    {Param::Text(tenant), Param::Text(customer_hash)})
            .status());
    POLKU_RETURN_IF_ERROR(
        db_.Execute("DELETE FROM case_audit WHERE tenant = $1 AND case_id IN "
                    "(SELECT case_id FROM cases WHERE tenant = $1 AND "
                    "customer_hash = $2)",
                    {Param::Text(tenant), Param::Text(customer_hash)})
            .status());
    POLKU_RETURN_IF_ERROR(
        db_.Execute("UPDATE case_changes SET body = ''::bytea WHERE "
                    "tenant = $1 AND case_id IN (SELECT case_id FROM cases "
                    "WHERE tenant = $1 AND customer_hash = $2)",
                    {Param::Text(tenant), Param::Text(customer_hash)})
            .status());
    POLKU_ASSIGN_OR_RETURN(
        postgres::Result r,
        db_.Execute("DELETE FROM cases WHERE tenant = $1 AND "
                    "customer_hash = $2",
                    {Param::Text(tenant), Param::Text(customer_hash)}));
    return r.affected();
  }
  absl::StatusOr<std::vector<StoredCase>> CasesOfCustomer(
      const std::string& tenant, const std::string& customer_hash) override {
    // FOR UPDATE: the consent marks them in this transaction.
    POLKU_ASSIGN_OR_RETURN(
        postgres::Result r,
        db_.Execute(absl::StrCat("SELECT ", kCaseColumns,
                                 " FROM cases WHERE tenant = $1 AND "
                                 "customer_hash = $2 ORDER BY case_id "
                                 "FOR UPDATE"),
                    {Param::Text(tenant), Param::Text(customer_hash)}));
    return CasesOf(r);
  }
  absl::Status PutConsent(const std::string& tenant,
                          const std::string& customer_hash,
                          bool contact_allowed, const std::string& actor,
                          absl::Time time) override {
    return db_
        .Execute("INSERT INTO case_contact_consent (tenant, customer_hash, "
                 "contact_allowed, actor, update_micros) "
                 "VALUES ($1, $2, $3, $4, $5) "
                 "ON CONFLICT (tenant, customer_hash) DO UPDATE SET "
                 "contact_allowed = excluded.contact_allowed, "
                 "actor = excluded.actor, "
                 "update_micros = excluded.update_micros",
                 {Param::Text(tenant), Param::Text(customer_hash),
                  Param::Text(contact_allowed ? "true" : "false"),
                  Param::Text(actor), Param::Int(absl::ToUnixMicros(time))})
        .status();
  }
  absl::StatusOr<std::optional<bool>> ContactAllowed(
      const std::string& tenant, const std::string& customer_hash) override {
    POLKU_ASSIGN_OR_RETURN(
        postgres::Result r,
        db_.Execute("SELECT contact_allowed::int FROM case_contact_consent "
                    "WHERE tenant = $1 AND customer_hash = $2",
                    {Param::Text(tenant), Param::Text(customer_hash)}));
    if (r.rows() == 0) return std::nullopt;
    return r.Int(0, 0) != 0;
  }
  absl::StatusOr<std::optional<v1::TenantBusinessCalendar>> TenantCalendar(
      const std::string& tenant) override {
    POLKU_ASSIGN_OR_RETURN(
        postgres::Result r,
        db_.Execute("SELECT body FROM case_business_calendars "
                    "WHERE tenant = $1",
                    {Param::Text(tenant)}));
    if (r.rows() == 0) return std::nullopt;
    v1::TenantBusinessCalendar calendar;
    if (!calendar.ParseFromString(r.Bytes(0, 0))) {
      return absl::DataLossError(
          "cases: a business calendar that does not parse");
    }
    return calendar;
  }
  absl::Status PutTenantCalendar(
      const std::string& tenant,
      const v1::TenantBusinessCalendar& calendar) override {
    return db_
        .Execute("INSERT INTO case_business_calendars (tenant, body) "
                 "VALUES ($1, $2) ON CONFLICT (tenant) DO UPDATE SET "
                 "body = excluded.body",
                 {Param::Text(tenant),
                  Param::Bytes(calendar.SerializeAsString())})
        .status();
  }
  absl::StatusOr<int64_t> ReserveChangeSequences(int n) override {
    // The row stays locked until this transaction ends (see kSchemaChanges).
    POLKU_ASSIGN_OR_RETURN(
        postgres::Result r,
        db_.Execute("UPDATE case_change_counter SET last = last + $1 "
                    "WHERE id = 1 RETURNING last",
                    {Param::Int(n)}));
    if (r.rows() != 1) return absl::DataLossError("case_change_counter: no row");
    // Other replicas' followers wake on the commit (sent only if it commits).
    POLKU_RETURN_IF_ERROR(
        db_.Execute(absl::StrCat("NOTIFY ", PgCaseStore::kNotifyChannel))
            .status());
    return r.Int(0, 0) - n + 1;
  }
  absl::StatusOr<int64_t> LastChangeSequence() override {
    POLKU_ASSIGN_OR_RETURN(
        postgres::Result r,
        db_.Execute("SELECT last FROM case_change_counter WHERE id = 1"));
    return r.rows() == 1 ? r.Int(0, 0) : 0;
  }
  absl::Status PutChange(int64_t sequence, const std::string& tenant,
                         const std::string& case_id,
                         const std::string& body) override {
    return db_
        .Execute("INSERT INTO case_changes (sequence, tenant, case_id, body) "
                 "VALUES ($1, $2, $3, $4)",
                 {Param::Int(sequence), Param::Text(tenant),
                  Param::Text(case_id), Param::Bytes(body)})
        .status();
  }
  absl::Status PruneChanges(int64_t sequence) override {
    return db_
        .Execute("DELETE FROM case_changes WHERE sequence <= $1",
                 {Param::Int(sequence)})
        .status();
  }
  absl::StatusOr<std::vector<StoredChange>> ChangesAfter(int64_t after,
                                                         int limit) override {
    POLKU_ASSIGN_OR_RETURN(
        postgres::Result r,
        db_.Execute("SELECT sequence, body FROM case_changes "
                    "WHERE sequence > $1 ORDER BY sequence LIMIT $2",
                    {Param::Int(after), Param::Int(limit)}));
    std::vector<StoredChange> out;
    for (int i = 0; i < r.rows(); ++i) {
      out.push_back({r.Int(i, 0), r.Bytes(i, 1)});
    }
    return out;
  }
  absl::Status AppendAudit(const std::string& tenant,
                           const v1::AuditEntry& entry) override {
    return db_
        .Execute("INSERT INTO case_audit (tenant, case_id, rule_id, body) "
                 "VALUES ($1, $2, $3, $4)",
                 {Param::Text(tenant), Param::Text(entry.case_id()),
                  Param::Text(entry.rule_id()),
                  Param::Bytes(entry.SerializeAsString())})
        .status();
  }
  absl::StatusOr<std::vector<v1::AuditEntry>> Audit(
      const std::string& tenant, const std::string& case_id,
      const std::string& rule_id) override {
    POLKU_ASSIGN_OR_RETURN(
        postgres::Result r,
        db_.Execute(!case_id.empty()
                        ? "SELECT body FROM case_audit WHERE tenant = $1 AND "
                          "case_id = $2 ORDER BY id"
                        : "SELECT body FROM case_audit WHERE tenant = $1 AND "
                          "rule_id = $2 AND case_id = '' ORDER BY id",
                    {Param::Text(tenant),
                     Param::Text(!case_id.empty() ? case_id : rule_id)}));
    std::vector<v1::AuditEntry> entries(r.rows());
    for (int i = 0; i < r.rows(); ++i) {
      if (!entries[i].ParseFromString(r.Bytes(i, 0))) {
        return absl::DataLossError("cases: an audit entry that does not parse");
      }
    }
    return entries;
  }

 private:
  postgres::Connection& db_;
};

const std::vector<Migration>& PgCaseStore::Migrations() {
  static const auto* migrations = new std::vector<Migration>{
      {1, kSchemaV1}, {2, kSchemaV2}, {3, kSchemaV3}, {4, kSchemaChanges}};
  return *migrations;
}

PgCaseStore::PgCaseStore(const std::string& url, Options options,
                         int connections)
    : CaseStore(std::move(options)),
      url_(url),
      pool_(url, {.size = connections,
                  .connect_timeout = kConnectTimeout,
                  // An opened case is on the server's disk before the
                  // checkpoint moves past its event.
                  .prepare = [](postgres::Connection& db) {
                    return db.Exec("SET synchronous_commit = on");
                  }}) {}

absl::StatusOr<std::unique_ptr<PgCaseStore>> PgCaseStore::Open(
    const std::string& url, Options options, int connections) {
  std::unique_ptr<PgCaseStore> store(
      new PgCaseStore(url, std::move(options), connections));
  POLKU_RETURN_IF_ERROR(postgres::RunWithRetries(
      store->pool_, kConnectTimeout, "cases", /*transaction=*/false,
      [](postgres::Connection& db) {
        return db.Migrate("cases", Migrations());
      }));
  return store;
}

void PgCaseStore::ListenForCommits(absl::Notification& stop,
                                   absl::FunctionRef<void()> heard) {
  std::unique_ptr<postgres::Connection> db;
  absl::Duration backoff = absl::Milliseconds(100);
  while (!stop.HasBeenNotified()) {
    if (db == nullptr) {
      absl::StatusOr<std::unique_ptr<postgres::Connection>> opened =
          postgres::Connection::Open(url_, kConnectTimeout);
      absl::Status listening =
          opened.ok() ? (*opened)->Exec(absl::StrCat("LISTEN ", kNotifyChannel))
                      : opened.status();
      if (!listening.ok()) {
        log::Warning("cannot listen for other replicas' case changes; "
                     "polling meanwhile",
                     {{"error", std::string(listening.message())},
                      {"retry_ms", absl::ToInt64Milliseconds(backoff)}});
        stop.WaitForNotificationWithTimeout(backoff);
        backoff = std::min(backoff * 2, absl::Seconds(5));
        continue;
      }
      db = *std::move(opened);
      heard();  // what committed while nobody listened
    }
    // Short waits: Stop is noticed within one.
    absl::StatusOr<std::vector<postgres::Connection::Notification>> got =
        db->WaitForNotifications(absl::Milliseconds(250));
    if (!got.ok()) {
      // A connection that breaks again and again is not reopened at once
      // each time: the backoff grows until a wait succeeds.
      db.reset();
      stop.WaitForNotificationWithTimeout(backoff);
      backoff = std::min(backoff * 2, absl::Seconds(5));
      continue;
    }
    backoff = absl::Milliseconds(100);
    if (!got->empty()) heard();
  }
}

absl::Status PgCaseStore::Run(
    absl::FunctionRef<absl::StatusOr<bool>(Transaction&)> work) {
  // Retried when PostgreSQL picks this transaction as a deadlock's victim
  // (ABORTED): `work` starts again from nothing.
  return postgres::RunWithRetries(
      pool_, kConnectTimeout, "cases", /*transaction=*/false,
      [&](postgres::Connection& db) -> absl::Status {
        postgres::Transaction txn(db);
        POLKU_RETURN_IF_ERROR(txn.Begin());
        PgTransaction primitives(db);
        POLKU_ASSIGN_OR_RETURN(const bool commit, work(primitives));
        return commit ? txn.Commit() : txn.Rollback();
      });
}

}  // namespace polku::cases
