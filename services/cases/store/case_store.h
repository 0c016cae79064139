// polku-cases' store: every algorithm over cases, rules, the audit trail and
// the feed checkpoint, written once over a few primitives each backend
// supplies (SQLite, PostgreSQL, memory), as polku-insight's RollupStore and
// polku-feedback's GroupCommitStore do.
//
//   std::unique_ptr<CaseStore> store = …;  // e.g. SqliteCaseStore::Open
//   POLKU_RETURN_IF_ERROR(store->CheckFeed(page.feed_id()));
//   POLKU_RETURN_IF_ERROR(store->Apply(page.events()));   // opens cases
//   POLKU_ASSIGN_OR_RETURN(v1::Case c, store->UpdateCase(tenant, actor,
//                                                        change, mask));
//
// Exactly once. A rule opens at most one case per (tenant, rule, customer
// hash, period bucket): the backends hold a unique key on those columns, and
// a feed page inserts its cases ("insert unless the key exists") and moves
// the checkpoint in one transaction that first reads the checkpoint under
// the store's write lock (SQLite: the one writer connection; PostgreSQL:
// the checkpoint row, SELECT … FOR UPDATE). So a page delivered twice, a
// replayed feed, a restart in the middle of a page and a second replica on
// the same database all find the case already there and open nothing.
//
// Every change to a case or a rule appends an audit entry (who, when, what)
// in the same transaction as the change.
//
// Every change to a case is also appended, in its transaction, to the change
// sequence (ChangesAfter): numbered in commit order across every replica on
// the database, so that each replica's ChangeFollower (change_follower.h)
// can hand every replica's changes to WatchCases.
#ifndef POLKU_SERVICES_CASES_STORE_CASE_STORE_H_
#define POLKU_SERVICES_CASES_STORE_CASE_STORE_H_

#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "absl/functional/function_ref.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "absl/synchronization/notification.h"
#include "google/protobuf/field_mask.pb.h"
#include "google/protobuf/repeated_ptr_field.h"
#include "lib/base/clock.h"
#include "lib/feed/feed_sink.h"
#include "polku/v1/cases.pb.h"
#include "polku/v1/feedback.pb.h"

namespace polku::cases {

// The actor of changes made by the feed (rules opening cases, SLA alerts,
// erasures).
inline constexpr char kSystemActor[] = "polku-cases";

// The owner team of an event's touchpoint (from the journey map), or empty
// when the touchpoint has none or is unknown; the rule's fallback queue is
// used then. Called outside the store's transactions; it may block briefly
// (server/owner_teams.h asks polku-journey once per journey version).
using OwnerTeamResolver = std::function<std::string(const v1::StoredEvent&)>;

// A case as stored: the API's Case plus what is never shown back.
struct StoredCase {
  std::string tenant;
  // Hex HMAC of the customer reference (StoredEvent.customer_hash).
  std::string customer_hash;
  // The exactly-once key of a rule's case; for a case opened by hand
  // rule_id is empty and period_bucket unset.
  std::optional<int64_t> period_bucket;
  // The CreateCase request_id that opened it, if any.
  std::string request_id;
  v1::Case value;
};

// An SLA alert raised by RaiseSlaAlerts: exactly once per case and kind.
struct SlaAlertRaised {
  std::string tenant;
  std::string case_id;
  // `sla.first_contact_reminder`, `sla.first_contact_breach`,
  // `sla.resolution_reminder`, `sla.resolution_breach`.
  std::string kind;
};

// Filters and paging of ListCases (the request's fields, checked).
struct CaseFilter {
  std::vector<v1::CaseState> states;
  std::string owner_team;
  std::string assignee;
  std::string rule_id;
  std::string journey;
  absl::Time created_from = absl::InfinitePast();
  absl::Time created_to = absl::InfiniteFuture();
  bool breached_only = false;
};

// Whether a case passes the filter.
bool PassesFilter(const CaseFilter& filter, const v1::Case& c);

// One committed change to a case: what WatchCases sends. Every entry of the
// change's audit trail is in `entries`, oldest first.
struct CaseChange {
  std::string tenant;
  // The case before the change; none for a case just opened.
  std::optional<v1::Case> before;
  v1::Case after;
  std::vector<v1::AuditEntry> entries;
};

// Told of every committed change, in the order of the change sequence (see
// CaseStore::ChangesAfter), one call at a time; must not block nor call
// back into the store (WatchCases queues it per subscriber).
using CaseChangeListener = std::function<void(const CaseChange&)>;

// A committed change and its place in the change sequence; `erased` when
// the customer of its case was erased since (nothing else is kept then).
struct SequencedChange {
  int64_t sequence = 0;
  bool erased = false;
  CaseChange change;
};

class CaseStore : public feed::FeedSink {
 public:
  struct Options {
    // Time of every change, SLA evaluation included.
    Clock* clock = &Clock::Real();
    // Empty: every case goes to its rule's fallback queue.
    OwnerTeamResolver owner_team;
    // How many of the newest changes the change sequence keeps (older ones
    // are deleted as new ones are written): what a follower that fell
    // behind can still catch up on.
    int64_t change_retention = 10000;
  };

  ~CaseStore() override = default;

  // Called after every local transaction that wrote changes has committed
  // (replacing any before; empty: none), e.g. to wake a ChangeFollower. Must
  // not block nor call back into the store.
  void SetCommitObserver(std::function<void()> observer);

  // --- The change sequence: every committed change to a case, numbered in
  // commit order across every replica on the database (change_follower.h
  // follows it for WatchCases).

  // At most `limit` (1…1000) changes after `after`, by sequence. Sequences
  // have no holes: a change whose case was erased is there, `erased`. The
  // first one returned is not `after` + 1 only when the changes between
  // were pruned (change_retention).
  absl::StatusOr<std::vector<SequencedChange>> ChangesAfter(int64_t after,
                                                            int limit);
  // The sequence of the last committed change; 0 when there is none.
  absl::StatusOr<int64_t> LastChangeSequence();
  // Calls `heard` whenever it learns that another process committed
  // changes, until `stop` is notified (PostgreSQL: LISTEN/NOTIFY). The
  // default learns nothing and returns at once: followers poll.
  virtual void ListenForCommits(absl::Notification& stop,
                                absl::FunctionRef<void()> heard);

  // --- The change feed (feed::FeedSink: lib/feed's FeedTailer feeds it).

  // Opens the cases the tenant's enabled rules call for, for every event
  // above the checkpoint, and advances the checkpoint, atomically.
  absl::Status Apply(const google::protobuf::RepeatedPtrField<v1::StoredEvent>&
                         events) final;
  // Deletes every case of the erased customer (with its audit trail) and
  // advances the checkpoint to the erasure's sequence, atomically; an
  // erasure at or below the checkpoint is ignored.
  absl::Status ApplyErasure(const v1::Erasure& erasure) final;
  // FAILED_PRECONDITION when the checkpoint belongs to another feed; binds
  // the store to `feed_id` on first use.
  absl::Status CheckFeed(const std::string& feed_id) final;
  absl::StatusOr<int64_t> Checkpoint() final;

  // --- Rules.

  // Assigns rule_id and times; INVALID_ARGUMENT naming the field.
  absl::StatusOr<v1::CaseRule> CreateRule(const std::string& tenant,
                                          const std::string& actor,
                                          v1::CaseRule rule);
  // The fields of `mask` (name, conditions, priority, sla, period_seconds,
  // fallback_queue, enabled; empty mask: all of them). NOT_FOUND, or
  // INVALID_ARGUMENT for a field that cannot change (rule_id, journey).
  absl::StatusOr<v1::CaseRule> UpdateRule(
      const std::string& tenant, const std::string& actor,
      const v1::CaseRule& rule, const google::protobuf::FieldMask& mask);
  // The tenant's rules (of `journey` if set), by rule_id.
  absl::StatusOr<std::vector<v1::CaseRule>> ListRules(
      const std::string& tenant, const std::string& journey);
  absl::StatusOr<v1::CaseRule> GetRule(const std::string& tenant,
                                       const std::string& rule_id);

  // --- The tenant's business calendar (docs/cases.md).

  // Sets (replaces) it, audited (field `business_calendar`, no case or
  // rule id). INVALID_ARGUMENT naming the field below `business_hours`.
  // Open cases keep the calendar they were opened with (their
  // sla_policy holds it); cases opened later by a rule without hours of
  // its own use this one.
  absl::StatusOr<v1::TenantBusinessCalendar> SetBusinessCalendar(
      const std::string& tenant, const std::string& actor,
      const v1::BusinessHours& hours);
  // NOT_FOUND when the tenant never set one.
  absl::StatusOr<v1::TenantBusinessCalendar> GetBusinessCalendar(
      const std::string& tenant);
  // The calendar's audit trail, oldest first.
  absl::StatusOr<std::vector<v1::AuditEntry>> BusinessCalendarTrail(
      const std::string& tenant);

  // --- Cases.

  // By hand (empty rule_id) or by a rule, for `event` (read from the feed
  // by the caller). A rule that would not match the event is
  // FAILED_PRECONDITION; a rule case that exists is ALREADY_EXISTS naming
  // its id; a repeated request_id returns the first call's case.
  absl::StatusOr<v1::Case> CreateCase(const std::string& tenant,
                                      const std::string& actor,
                                      const v1::StoredEvent& event,
                                      const v1::CreateCaseRequest& request);
  absl::StatusOr<v1::Case> GetCase(const std::string& tenant,
                                   const std::string& case_id);
  // Newest first; `page_token` is what the previous page returned.
  absl::StatusOr<v1::ListCasesResponse> ListCases(const std::string& tenant,
                                                  const CaseFilter& filter,
                                                  int page_size,
                                                  const std::string& page_token);
  // The fields of `mask` (state, assignee, owner_team, priority,
  // no_contact), one audit entry each. A state change is checked against
  // the workflow (case_state.h); assigning a NEW case makes it ASSIGNED.
  // A non-empty etag that is not the case's is ABORTED.
  absl::StatusOr<v1::Case> UpdateCase(const std::string& tenant,
                                      const std::string& actor,
                                      const v1::Case& change,
                                      const google::protobuf::FieldMask& mask);
  absl::StatusOr<v1::Case> AddComment(const std::string& tenant,
                                      const std::string& actor,
                                      const std::string& case_id,
                                      const std::string& text);
  // Oldest first: a case's trail (case_id) or a rule's (rule_id).
  absl::StatusOr<std::vector<v1::AuditEntry>> AuditTrail(
      const std::string& tenant, const std::string& case_id,
      const std::string& rule_id);

  // Records a customer's wish about being contacted (by the hash
  // polku-feedback keys their events with): with `contact_allowed` false
  // their open cases become no-contact, and so does every case opened for
  // them later; true clears both. Each case changed is audited (field
  // `no_contact`, by `actor`); the wish itself is kept with the actor and
  // time. Returns how many cases changed.
  absl::StatusOr<int64_t> SetContactConsent(const std::string& tenant,
                                            const std::string& actor,
                                            const std::string& customer_hash,
                                            bool contact_allowed);

  // Every case of the tenant passing `filter`, with the customer's hash: for
  // measures that follow a customer (recovery). Never shown to a caller.
  absl::StatusOr<std::vector<StoredCase>> CasesWithCustomers(
      const std::string& tenant, const CaseFilter& filter);

  // Raises every SLA reminder and breach that has come due by the clock
  // and was not raised before, recording each in its case (and the audit
  // trail) in the same transaction: each is raised exactly once, also
  // with several replicas.
  absl::StatusOr<std::vector<SlaAlertRaised>> RaiseSlaAlerts();

 protected:
  // One transaction of the backend, holding the store's write lock.
  class Transaction {
   public:
    struct FeedCheckpoint {
      int64_t sequence = 0;
      std::string feed_id;
    };
    virtual ~Transaction() = default;

    virtual absl::StatusOr<FeedCheckpoint> ReadCheckpoint() = 0;
    virtual absl::Status SaveCheckpoint(int64_t sequence) = 0;
    virtual absl::Status BindFeed(const std::string& feed_id) = 0;

    // Every rule of the tenant, by rule_id.
    virtual absl::StatusOr<std::vector<v1::CaseRule>> Rules(
        const std::string& tenant) = 0;
    // Inserts, or replaces the rule with that id.
    virtual absl::Status PutRule(const std::string& tenant,
                                 const v1::CaseRule& rule) = 0;

    // Inserts a case unless one with its exactly-once key (tenant, rule_id,
    // customer_hash, period_bucket) or its (tenant, request_id) exists:
    // false then, and nothing is written.
    virtual absl::StatusOr<bool> InsertCase(const StoredCase& c) = 0;
    // The case with that key, if any.
    virtual absl::StatusOr<std::optional<StoredCase>> FindCase(
        const std::string& tenant, const std::string& rule_id,
        const std::string& customer_hash, int64_t period_bucket) = 0;
    virtual absl::StatusOr<std::optional<StoredCase>> FindByRequest(
        const std::string& tenant, const std::string& request_id) = 0;
    virtual absl::StatusOr<std::optional<StoredCase>> GetCase(
        const std::string& tenant, const std::string& case_id) = 0;
    // Replaces the stored case's value (state and update time too).
    virtual absl::Status UpdateCase(const StoredCase& c) = 0;
    // The tenant's cases after `after` (exclusive) in the order newest
    // first, i.e. (create time, case_id) descending; at most `limit`. An
    // empty `after` starts at the newest.
    struct PagePosition {
      int64_t create_micros = 0;
      std::string case_id;
    };
    virtual absl::StatusOr<std::vector<StoredCase>> CasesPage(
        const std::string& tenant, const std::optional<PagePosition>& after,
        int limit) = 0;
    // Every case of any tenant that is not resolved or closed.
    virtual absl::StatusOr<std::vector<StoredCase>> OpenCases() = 0;
    // Deletes the customer's cases and their audit entries, and empties the
    // bodies of their changes (keeping the sequences); how many cases.
    virtual absl::StatusOr<int64_t> EraseCustomer(
        const std::string& tenant, const std::string& customer_hash) = 0;

    // The tenant's cases of the customer, any state.
    virtual absl::StatusOr<std::vector<StoredCase>> CasesOfCustomer(
        const std::string& tenant, const std::string& customer_hash) = 0;
    // Records (replaces) the customer's contact wish.
    virtual absl::Status PutConsent(const std::string& tenant,
                                    const std::string& customer_hash,
                                    bool contact_allowed,
                                    const std::string& actor,
                                    absl::Time time) = 0;
    // The customer's recorded wish; none when they never stated one.
    virtual absl::StatusOr<std::optional<bool>> ContactAllowed(
        const std::string& tenant, const std::string& customer_hash) = 0;

    // The tenant's business calendar; none when never set.
    virtual absl::StatusOr<std::optional<v1::TenantBusinessCalendar>>
    TenantCalendar(const std::string& tenant) = 0;
    // Inserts or replaces it.
    virtual absl::Status PutTenantCalendar(
        const std::string& tenant,
        const v1::TenantBusinessCalendar& calendar) = 0;
    // Reserves `n` change sequences after the last one given and returns
    // the first. Whatever lock this takes is held until the transaction
    // ends, so sequences become visible in the order they were given: a
    // reader never sees 12 before 11. The algorithm calls it last in a
    // transaction, after every other lock it takes.
    virtual absl::StatusOr<int64_t> ReserveChangeSequences(int n) = 0;
    // The last sequence given (committed); 0 for none.
    virtual absl::StatusOr<int64_t> LastChangeSequence() = 0;
    struct StoredChange {
      int64_t sequence = 0;
      // Empty once the case's customer was erased.
      std::string body;
    };
    virtual absl::Status PutChange(int64_t sequence, const std::string& tenant,
                                   const std::string& case_id,
                                   const std::string& body) = 0;
    // Deletes the changes at or below `sequence`.
    virtual absl::Status PruneChanges(int64_t sequence) = 0;
    // By sequence, at most `limit`.
    virtual absl::StatusOr<std::vector<StoredChange>> ChangesAfter(
        int64_t after, int limit) = 0;

    virtual absl::Status AppendAudit(const std::string& tenant,
                                     const v1::AuditEntry& entry) = 0;
    // Oldest first.
    virtual absl::StatusOr<std::vector<v1::AuditEntry>> Audit(
        const std::string& tenant, const std::string& case_id,
        const std::string& rule_id) = 0;
  };

  explicit CaseStore(Options options);

  // Runs `work` in one transaction holding the write lock; commits if it
  // returns true, rolls back if false or on error.
  virtual absl::Status Run(
      absl::FunctionRef<absl::StatusOr<bool>(Transaction&)> work) = 0;

 private:
  absl::Status OpenCasesFor(Transaction& txn, const v1::StoredEvent& event,
                            const std::string& team,
                            std::vector<v1::CaseRule>& rules,
                            std::vector<CaseChange>& changes);
  // `team`: the touchpoint's owner team (TeamOf), resolved before the
  // transaction so no lookup runs under the write lock.
  absl::StatusOr<std::optional<StoredCase>> NewRuleCase(
      const v1::CaseRule& rule, const v1::StoredEvent& event,
      const std::string& team);
  std::string TeamOf(const v1::StoredEvent& event) const;
  v1::AuditEntry Audit(const std::string& case_id, const std::string& actor,
                       const std::string& field, const std::string& old_value,
                       const std::string& new_value) const;

  // Appends `changes` to the change sequence (the last thing a
  // transaction does: see ReserveChangeSequences) and prunes old ones.
  absl::Status AppendChanges(Transaction& txn,
                             const std::vector<CaseChange>& changes);
  // Tells the commit observer.
  void Committed();
  // Gives each of `rules` with an SLA and no business hours of its own the
  // tenant's calendar, as it is now: a case opened from it keeps them.
  absl::Status WithTenantCalendar(Transaction& txn, const std::string& tenant,
                                  std::vector<v1::CaseRule>& rules);
  // INVALID_ARGUMENT when `rule` has an SLA, no hours and the tenant no
  // calendar.
  absl::Status CheckCalendarOf(Transaction& txn, const std::string& tenant,
                               const v1::CaseRule& rule);
  // Marks `c` no-contact when its customer refused contact.
  absl::Status ApplyConsent(Transaction& txn, StoredCase& c);

  Options options_;
  absl::Mutex observer_mu_;
  std::function<void()> observer_ ABSL_GUARDED_BY(observer_mu_);
};

}  // namespace polku::cases

#endif  // POLKU_SERVICES_CASES_STORE_CASE_STORE_H_
