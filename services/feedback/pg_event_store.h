// The EventStore on PostgreSQL, for several polku-feedback replicas sharing
// one database. Same behaviour as SqliteEventStore (event_store.h), same
// group commit (group_commit_store.h), plus what replicas need:
//
//   auto store = PgEventStore::Create(url, std::move(hasher), {});
//   POLKU_RETURN_IF_ERROR(store->Connect({}));  // waits for the server
//   store->Submit(batch, done);
//
// Feed order across replicas. PostgreSQL hands out sequence values before
// commit, so with two writers the one holding sequence 7 may commit after
// the one holding 8; a reader that saw 8 and continues from 9 would never
// see 7. Every writer transaction therefore takes the transaction-level
// advisory lock kFeedLock before it takes a sequence, and keeps it until
// COMMIT: transactions that take sequences run one at a time across all
// replicas, and each commits (and becomes visible) before the next can take
// a sequence. Sequences thus become visible in increasing order, and a
// reader that saw N never later finds a new entry below N. The lock costs
// little because one transaction holds a whole group of submissions.
//
// Idempotency across replicas: (tenant, channel, event_id) is UNIQUE and
// the insert is ON CONFLICT DO NOTHING followed by a re-read, so the same
// event sent to two replicas at once is stored once and the second answer
// is DUPLICATE with the first's sequence. (Under the feed lock the first
// read already sees the other replica's committed row; the constraint is
// what guarantees it regardless.) Suppressions are read from the database
// for every batch, as another replica may have recorded one.
//
// Feed readers everywhere learn of commits: each transaction ends with
// pg_notify(kNotifyChannel, last sequence), which PostgreSQL delivers at
// commit, in commit order, to every replica's listener connection; the
// listener publishes it on notifier(). After a lost connection the listener
// reconnects and publishes the highest committed sequence, so nothing
// committed meanwhile goes unannounced.
//
// Durability: every connection sets synchronous_commit = on, whatever the
// server's default, so an acknowledged event is on the server's disk.
//
// Customer secret. Replicas must hash the same customer the same way, so
// they need the same master secret. It is NOT kept in the database: the
// hash exists so that the database alone does not reveal who anyone is,
// and a secret stored beside the hashes would let anyone with a dump
// confirm guesses. Replicas share a secret file instead (a Kubernetes
// Secret mounted into each; see --secret_file). What the database keeps is
// a check value derived from the secret, recorded by the first replica that
// connects (race-safe: INSERT … ON CONFLICT DO NOTHING, then read back); a
// replica with a different secret refuses to start, naming the problem,
// instead of silently splitting customers in two.
//
// While the database is unreachable, submissions and feed reads fail
// UNAVAILABLE with the reason; connections are reopened on the next call, so
// the store recovers by itself when the server is back.
#ifndef POLKU_SERVICES_FEEDBACK_PG_EVENT_STORE_H_
#define POLKU_SERVICES_FEEDBACK_PG_EVENT_STORE_H_

#include <atomic>
#include <cstdint>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/notification.h"
#include "absl/time/time.h"
#include "lib/base/clock.h"
#include "lib/postgres/pool.h"
#include "lib/postgres/postgres.h"
#include "services/feedback/customer_hasher.h"
#include "services/feedback/event_store.h"
#include "services/feedback/group_commit_store.h"

namespace polku::feedback {

struct PgEventStoreOptions {
  // The queue and the writer in front of the database.
  GroupCommitOptions group_commit;
  // Connections for ReadFeedRecords (the writer and the listener have their own).
  int reader_connections = 4;
  // How long a call waits for a connection (or for one to open).
  absl::Duration connection_timeout = absl::Seconds(5);
};

class PgEventStore : public GroupCommitStore {
 public:
  // Held by every transaction that takes feed sequences (see above).
  static constexpr int64_t kFeedLock = 0x706f6c6b75'6664;  // "polku" "fd"
  // NOTIFY channel carrying the last committed sequence.
  static constexpr char kNotifyChannel[] = "polku_feed";

  // Does no I/O. Until Connect succeeded every call answers UNAVAILABLE.
  static std::unique_ptr<PgEventStore> Create(
      std::string url, CustomerHasher hasher,
      const PgEventStoreOptions& options);

  // Waits for the server (see postgres::WaitForServer: logs each failed
  // attempt and backs off), applies the schema migrations, checks the
  // customer secret against the database's, reads the feed id and starts
  // listening for other replicas' commits. Call once.
  absl::Status Connect(const postgres::WaitOptions& wait);

  // Create, then Connect giving up after `wait` (tests, tools).
  static absl::StatusOr<std::unique_ptr<PgEventStore>> Open(
      std::string url, CustomerHasher hasher,
      const PgEventStoreOptions& options,
      absl::Duration wait = absl::Seconds(10));

  ~PgEventStore() override;

  absl::StatusOr<std::vector<FeedRecord>> ReadFeedRecords(
      absl::string_view tenant, int64_t from_sequence, int limit) override;
  absl::Status RecordReaderProgress(absl::string_view reader,
                                    int64_t applied_sequence,
                                    int64_t reported_at) override;
  absl::StatusOr<std::vector<ReaderProgress>> ReadReaderProgress() override;
  absl::StatusOr<std::vector<FeedRecord>> ReadEventRecords(
      const EventQuery& query) override;
  // Empty until connected.
  const std::string& feed_id() const override { return feed_id_; }
  void Stop() override;

  bool connected() const { return connected_.load(); }

  // synchronous_commit as the store's connections see it: "on".
  absl::StatusOr<std::string> SynchronousCommit();

 private:
  PgEventStore(std::string url, CustomerHasher hasher,
               const PgEventStoreOptions& options);

  absl::Status PrepareDatabase(postgres::Connection& db);
  absl::Status WriteGroup(const std::vector<Pending>& group,
                          std::vector<BatchResult>& results,
                          int64_t& last_sequence) override;
  // One batch in a constant number of statements, whatever its size: the
  // keys already taken, the suppressed customers, one INSERT of every new
  // event (and, only if another replica took some of their keys meanwhile,
  // a look at its rows).
  absl::StatusOr<std::vector<polku::v1::EventResult>> WriteBatch(
      postgres::Connection& db, const Pending& pending,
      int64_t& last_sequence);
  // A key's stored sequence and fingerprint.
  struct StoredKey {
    int64_t sequence;
    std::string fingerprint;
  };
  using StoredKeys = absl::flat_hash_map<std::string, StoredKey>;
  // Those of `event_ids` (in pending's tenant and channel) already taken.
  absl::StatusOr<StoredKeys> FindStoredKeys(
      postgres::Connection& db, const Pending& pending,
      const std::vector<std::string>& event_ids);
  // Sequence by event_id of the events stored.
  using StoredSequences = absl::flat_hash_map<std::string, int64_t>;
  // Inserts the events of `pending` at `positions`, taking sequences in that
  // order; keys another replica committed meanwhile are left out.
  absl::StatusOr<StoredSequences> InsertEvents(
      postgres::Connection& db, const Pending& pending,
      const std::vector<size_t>& positions);
  absl::StatusOr<EraseResult> WriteErasure(const EraseOrder& order) override;
  // The writer's connection, once connected.
  absl::StatusOr<postgres::Pool::Lease> WriterConnection();
  void ListenLoop();

  const std::string url_;
  const PgEventStoreOptions options_;
  std::string feed_id_;  // written by Connect before connected_ is set
  std::atomic<bool> connected_{false};

  postgres::Pool writer_pool_;
  postgres::Pool reader_pool_;

  std::thread listener_;
  absl::Notification stop_listening_;
  int wake_fd_ = -1;  // eventfd that interrupts the listener's wait
};

}  // namespace polku::feedback

#endif  // POLKU_SERVICES_FEEDBACK_PG_EVENT_STORE_H_
