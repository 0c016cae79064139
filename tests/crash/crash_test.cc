// Crash safety, proven by force: channel clients (lib/client) submit through
// the gateway with retries — one with SubmitEvents batches, two with
// StreamEvents — while polku-feedback and polku-insight are killed with
// SIGKILL at random moments (each kill picks one of them) and restarted on
// the same data; polku-cases too, which opens a follow-up case for each
// detractor by a rule created through the gateway. Afterwards, on SQLite and
// on PostgreSQL:
//
//  * every event the clients accepted got one final report, an
//    acknowledgement (ACCEPTED, or DUPLICATE when a crash lost the first);
//  * the change feed holds every acknowledged event exactly once, under its
//    acknowledged sequence and with the content that was sent, and nothing
//    that was never sent;
//  * polku-insight's scorecard equals a recount of the acknowledged events:
//    its crashes neither lost nor doubled a count;
//  * polku-cases holds exactly one case per (customer, rule, period) of the
//    acknowledged events the rule matches, opened by the first of them in
//    feed order: its crashes neither lost nor doubled a case;
//  * on SQLite, feedback.db, insight.db and cases.db pass the integrity
//    check.
//
// POLKU_CRASH_SEED (printed), POLKU_CRASH_KILLS (default 50 on SQLite, 20
// on PostgreSQL) and POLKU_CRASH_TARGETS (default
// "polku-feedback,polku-insight,polku-cases") repeat or lengthen a run;
// scripts/crash-campaign.sh runs many rounds.
#include <algorithm>
#include <atomic>
#include <cstdlib>
#include <iostream>
#include <map>
#include <memory>
#include <ostream>
#include <random>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "absl/cleanup/cleanup.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/clock.h"
#include "google/protobuf/util/message_differencer.h"
#include "gtest/gtest.h"
#include "lib/client/channel_client.h"
#include "lib/sqlite/sqlite.h"
#include "polku/v1/admin.grpc.pb.h"
#include "polku/v1/cases.grpc.pb.h"
#include "polku/v1/feedback.grpc.pb.h"
#include "polku/v1/insight.grpc.pb.h"
#include "tests/harness/journeys.h"
#include "tests/harness/recount.h"
#include "tests/harness/suite.h"

namespace polku {
namespace {

using ::polku::client::ChannelClient;
using ::polku::client::ChannelClientOptions;
using ::polku::client::EventReport;
using ::polku::testing::Suite;

constexpr char kJourney[] = "crash-journey";
// The case rule: detractors (NPS ≤ 6), one case per customer and minute of
// occurred_at, so that the 97 customers over an hour of events make
// thousands of exactly-once keys.
constexpr int kRuleMaxNps = 6;
constexpr int64_t kRulePeriodSeconds = 60;

struct ChannelPlan {
  const char* channel;
  const char* touchpoint;
  ChannelClientOptions::Transport transport;
};

constexpr ChannelPlan kChannels[] = {
    {"shop", "store_visit", ChannelClientOptions::Transport::kBatches},
    {"phone", "confirmation_call", ChannelClientOptions::Transport::kStream},
    {"web", "order_tracking", ChannelClientOptions::Transport::kStream},
};

int EnvInt(const char* name, int fallback) {
  const char* value = std::getenv(name);
  return value != nullptr && *value != '\0' ? std::atoi(value) : fallback;
}

v1::Journey CrashJourney() {
  std::vector<testing::TouchpointSpec> touchpoints;
  for (const ChannelPlan& plan : kChannels) {
    touchpoints.push_back({plan.touchpoint, "purchase", plan.channel});
  }
  return testing::MakeJourney(kJourney, "Crash test journey", {"purchase"},
                              touchpoints, "crash");
}

// Event `i` of a channel; the same (plan, i, base) always gives the same event.
v1::TouchpointEvent MakeEvent(const ChannelPlan& plan, int i,
                              int64_t base_seconds) {
  v1::TouchpointEvent event;
  event.set_event_id(absl::StrCat(plan.channel, "-", i));
  event.set_touchpoint(plan.touchpoint);
  event.set_customer(absl::StrCat("customer-", i % 97));
  event.mutable_occurred_at()->set_seconds(base_seconds + i % 3600);
  event.set_csat(1 + i % 5);
  event.set_nps(i % 11);
  event.set_comment("crash test event");
  event.set_language("en");
  (*event.mutable_measures())["wait_seconds"] = i % 300;
  (*event.mutable_attributes())["store_id"] = absl::StrCat("store-", i % 7);
  return event;
}

// The event a channel's client sent under `event_id` ("<channel>-<i>").
v1::TouchpointEvent SentEvent(const std::string& channel,
                              const std::string& event_id,
                              int64_t base_seconds) {
  for (const ChannelPlan& plan : kChannels) {
    if (channel != plan.channel) continue;
    return MakeEvent(plan, std::atoi(event_id.substr(channel.size() + 1).c_str()),
                     base_seconds);
  }
  ADD_FAILURE() << "no such channel: " << channel;
  return {};
}

// Every report, keyed by (channel, event_id).
class Ledger {
 public:
  struct Entry {
    int reports = 0;
    EventReport last;
  };
  void Record(const std::string& channel, const EventReport& report) {
    absl::MutexLock lock(&mu_);
    Entry& entry = entries_[{channel, report.event_id}];
    ++entry.reports;
    entry.last = report;
  }
  std::map<std::pair<std::string, std::string>, Entry> entries() {
    absl::MutexLock lock(&mu_);
    return entries_;
  }

 private:
  absl::Mutex mu_;
  std::map<std::pair<std::string, std::string>, Entry> entries_
      ABSL_GUARDED_BY(mu_);
};

struct Backend {
  const char* name;
  Suite::Database database;
  int default_kills;
};

void PrintTo(const Backend& backend, std::ostream* out) { *out << backend.name; }

class CrashTest : public ::testing::TestWithParam<Backend> {};

// A key with cases:read and cases:write, made by the tenant's admin.
std::string CasesKey(Suite& suite) {
  auto admin = v1::AdminService::NewStub(suite.GatewayChannel());
  grpc::ClientContext context;
  Suite::Authorize(context, suite.credentials().admin_key);
  v1::CreateApiKeyRequest request;
  request.set_parent("tenants/demo");
  request.mutable_api_key()->add_scopes("cases:read");
  request.mutable_api_key()->add_scopes("cases:write");
  v1::CreateApiKeyResponse response;
  grpc::Status status = admin->CreateApiKey(&context, request, &response);
  EXPECT_TRUE(status.ok()) << status.error_message();
  return response.key();
}

std::string CreateDetractorRule(Suite& suite, const std::string& key) {
  auto cases = v1::CaseService::NewStub(suite.GatewayChannel());
  grpc::ClientContext context;
  Suite::Authorize(context, key);
  v1::CreateRuleRequest request;
  request.mutable_rule()->set_journey(kJourney);
  request.mutable_rule()->set_name("crash test detractors");
  request.mutable_rule()->mutable_conditions()->set_max_nps(kRuleMaxNps);
  request.mutable_rule()->set_period_seconds(kRulePeriodSeconds);
  v1::CaseRule rule;
  grpc::Status status = cases->CreateRule(&context, request, &rule);
  EXPECT_TRUE(status.ok()) << status.error_message();
  return rule.rule_id();
}

// Every case of the tenant (all pages), or an error.
grpc::Status ListAllCases(Suite& suite, const std::string& key,
                          std::vector<v1::Case>& cases) {
  auto stub = v1::CaseService::NewStub(suite.GatewayChannel());
  cases.clear();
  std::string token;
  for (int page = 0; page < 10'000; ++page) {
    grpc::ClientContext context;
    Suite::Authorize(context, key, absl::Seconds(30));
    v1::ListCasesRequest request;
    request.set_page_size(500);
    request.set_page_token(token);
    v1::ListCasesResponse response;
    grpc::Status status = stub->ListCases(&context, request, &response);
    if (!status.ok()) return status;
    for (const v1::Case& c : response.cases()) cases.push_back(c);
    token = response.next_page_token();
    if (token.empty()) return grpc::Status::OK;
  }
  return grpc::Status(grpc::StatusCode::INTERNAL, "too many pages");
}

TEST_P(CrashTest, AcknowledgedEventsSurviveSigkillsExactlyOnceAndAreCountedOnce) {
  const int seed = EnvInt("POLKU_CRASH_SEED", 20250605);
  const int kills = EnvInt("POLKU_CRASH_KILLS", GetParam().default_kills);
  const char* targets_env = std::getenv("POLKU_CRASH_TARGETS");
  const std::vector<std::string> targets = absl::StrSplit(
      targets_env != nullptr && *targets_env != '\0' ? targets_env
                                                     : "polku-feedback,polku-insight,polku-cases",
      ',', absl::SkipEmpty());
  ASSERT_FALSE(targets.empty());
  std::cout << "crash test: " << GetParam().name << " POLKU_CRASH_SEED=" << seed
            << " POLKU_CRASH_KILLS=" << kills
            << " POLKU_CRASH_TARGETS=" << absl::StrJoin(targets, ",") << std::endl;

  Suite::Options suite_options;
  suite_options.channels = "shop,phone,web";
  suite_options.database = GetParam().database;
  suite_options.cases_replicas = 1;
  auto started = Suite::Start(suite_options);
  ASSERT_TRUE(started.ok()) << started.status();
  Suite& suite = **started;
  ASSERT_NO_FATAL_FAILURE(testing::PublishJourney(suite, CrashJourney()));
  const std::string cases_key = CasesKey(suite);
  const std::string rule_id = CreateDetractorRule(suite, cases_key);
  ASSERT_FALSE(rule_id.empty());
  // polku-feedback learns the published journey from its watch stream.
  absl::SleepFor(absl::Milliseconds(500));

  const int64_t base_seconds =
      absl::ToUnixSeconds(absl::Now() - absl::Hours(3));
  Ledger ledger;
  std::vector<std::unique_ptr<ChannelClient>> clients;
  for (const ChannelPlan& plan : kChannels) {
    ChannelClientOptions options;
    options.transport = plan.transport;
    options.max_batch_events =
        plan.transport == ChannelClientOptions::Transport::kStream ? 1 : 100;
    options.buffer_capacity = 2'000;
    options.senders = 2;
    options.call_timeout = absl::Seconds(5);
    options.stream_window = 200;
    options.stream_max_age = absl::Seconds(5);
    options.initial_backoff = absl::Milliseconds(20);
    options.max_backoff = absl::Milliseconds(400);
    options.retry_budget = absl::InfiniteDuration();
    options.jitter_seed = static_cast<uint64_t>(seed);
    const std::string channel = plan.channel;
    auto client = ChannelClient::Create(
        suite.GatewayChannel(), suite.credentials().channel_keys.at(channel),
        options, [&ledger, channel](const EventReport& report) {
          ledger.Record(channel, report);
        });
    ASSERT_TRUE(client.ok()) << client.status();
    clients.push_back(*std::move(client));
  }

  // Producers: about 2,000 events/s per channel, never more than the
  // client's buffer holds.
  std::atomic<bool> stop{false};
  std::vector<int> produced(std::size(kChannels), 0);
  std::vector<std::thread> producers;
  for (size_t c = 0; c < std::size(kChannels); ++c) {
    producers.emplace_back([&, c] {
      int i = 0;
      while (!stop.load()) {
        absl::Status status = clients[c]->SubmitWithin(
            MakeEvent(kChannels[c], i, base_seconds), absl::Seconds(1));
        if (status.ok()) ++i;
        if (i % 20 == 0) absl::SleepFor(absl::Milliseconds(10));
      }
      produced[c] = i;
    });
  }
  // A failed assertion returns early: stop and join the producers first, or
  // destroying a joinable thread would abort the run and hide the failure.
  absl::Cleanup join_producers = [&] {
    stop = true;
    for (std::thread& producer : producers) {
      if (producer.joinable()) producer.join();
    }
  };

  std::mt19937 random(seed);
  std::uniform_int_distribution<int> pause_ms(20, 400);
  std::uniform_int_distribution<size_t> target_of(0, targets.size() - 1);
  std::map<std::string, int> killed;
  const absl::Time kills_started = absl::Now();
  for (int k = 0; k < kills; ++k) {
    absl::SleepFor(absl::Milliseconds(pause_ms(random)));
    const std::string& target = targets[target_of(random)];
    absl::Status restarted = suite.KillAndRestart(target);
    ASSERT_TRUE(restarted.ok()) << "kill " << k << " (" << target << "): " << restarted;
    ++killed[target];
  }
  std::cout << "crash test: " << kills << " kills ("
            << absl::StrJoin(killed, ", ", absl::PairFormatter(" "))
            << ") in " << absl::FormatDuration(absl::Now() - kills_started)
            << std::endl;
  absl::SleepFor(absl::Milliseconds(300));
  std::move(join_producers).Invoke();
  for (auto& client : clients) {
    // A bound, not a speed requirement: a campaign round at nice 19 on a
    // busy machine delivers slowly.
    EXPECT_TRUE(client->Flush(absl::Minutes(5)))
        << client->pending() << " still pending";
    client->Close(absl::Seconds(1));
  }

  // Every event the clients accepted got exactly one final report, and with
  // unbounded retries that report is an acknowledgement.
  const auto entries = ledger.entries();
  size_t submitted = 0;
  for (int count : produced) submitted += static_cast<size_t>(count);
  ASSERT_EQ(entries.size(), submitted);
  int accepted = 0;
  int duplicates = 0;
  int64_t last_sequence = 0;
  testing::ExpectedScorecard recount;
  for (const auto& [key, entry] : entries) {
    EXPECT_EQ(entry.reports, 1) << key.first << "/" << key.second;
    const EventReport& report = entry.last;
    if (report.outcome == EventReport::Outcome::kAccepted) ++accepted;
    if (report.outcome == EventReport::Outcome::kDuplicate) ++duplicates;
    EXPECT_TRUE(report.outcome == EventReport::Outcome::kAccepted ||
                report.outcome == EventReport::Outcome::kDuplicate)
        << key.first << "/" << key.second << ": "
        << client::OutcomeName(report.outcome) << " " << report.status << " "
        << report.reason;
    last_sequence = std::max(last_sequence, report.sequence);
    recount.Add(SentEvent(key.first, key.second, base_seconds));
  }
  std::cout << "crash test: " << submitted << " events, " << accepted
            << " ACCEPTED, " << duplicates
            << " DUPLICATE (acknowledgements lost in a crash)" << std::endl;
  EXPECT_GT(accepted, kills);

  // The feed: every acknowledged event once, under its sequence, as sent.
  std::map<std::pair<std::string, std::string>, int> stored_count;
  ASSERT_NO_FATAL_FAILURE(testing::ReadFeed(
      suite.GatewayChannel(), suite.credentials().admin_key, last_sequence,
      [&](const v1::StoredEvent& stored) {
        const std::string& channel = stored.channel();
        const std::string& event_id = stored.event().event_id();
        const auto key = std::make_pair(channel, event_id);
        EXPECT_EQ(stored.tenant(), "demo");
        EXPECT_EQ(++stored_count[key], 1) << "stored twice: " << channel << "/" << event_id;
        auto entry = entries.find(key);
        if (entry == entries.end()) {
          ADD_FAILURE() << "stored but never sent: " << channel << "/" << event_id;
          return;
        }
        EXPECT_EQ(stored.sequence(), entry->second.last.sequence)
            << channel << "/" << event_id
            << " stored under another sequence than acknowledged";
        v1::TouchpointEvent expected = SentEvent(channel, event_id, base_seconds);
        expected.clear_customer();
        EXPECT_TRUE(google::protobuf::util::MessageDifferencer::Equals(
            stored.event(), expected))
            << channel << "/" << event_id << " stored as "
            << stored.event().ShortDebugString();
      }));
  for (const auto& [key, entry] : entries) {
    EXPECT_EQ(stored_count[key], 1)
        << "acknowledged but not stored: " << key.first << "/" << key.second;
  }

  // polku-insight counted each acknowledged event once, across its crashes.
  auto insight = v1::InsightService::NewStub(suite.GatewayChannel());
  ASSERT_NO_FATAL_FAILURE(testing::ExpectScorecard(
      *insight,
      {.journey = kJourney, .admin_key = suite.credentials().admin_key,
       .timeout = absl::Minutes(5)},
      last_sequence, recount, "polku-insight"));

  // polku-cases: one case per (customer, period) of the acknowledged
  // detractors, opened by the first of them in feed order. A sentinel
  // detractor sent now comes after every acknowledged event in the feed, so
  // once its case exists polku-cases has applied all of them.
  using CaseKey = std::pair<std::string, int64_t>;  // customer, period
  std::map<CaseKey, int64_t> first_sequence;        // the key's opening event
  std::map<int64_t, CaseKey> key_of_sequence;
  for (const auto& [key, entry] : entries) {
    const v1::TouchpointEvent event = SentEvent(key.first, key.second, base_seconds);
    if (!event.has_nps() || event.nps() > kRuleMaxNps) continue;
    const CaseKey case_key = {event.customer(),
                              event.occurred_at().seconds() / kRulePeriodSeconds};
    const int64_t sequence = entry.last.sequence;
    key_of_sequence[sequence] = case_key;
    auto [it, inserted] = first_sequence.emplace(case_key, sequence);
    if (!inserted) it->second = std::min(it->second, sequence);
  }
  {
    auto feedback = v1::FeedbackService::NewStub(suite.GatewayChannel());
    grpc::ClientContext context;
    Suite::Authorize(context, suite.credentials().channel_keys.at("shop"));
    v1::SubmitEventsRequest request;
    v1::TouchpointEvent& sentinel = *request.add_events();
    sentinel.set_event_id("cases-sentinel");
    sentinel.set_touchpoint(kChannels[0].touchpoint);
    sentinel.set_customer("cases-sentinel");
    sentinel.mutable_occurred_at()->set_seconds(absl::ToUnixSeconds(absl::Now()));
    sentinel.set_nps(0);
    v1::SubmitEventsResponse response;
    grpc::Status status = feedback->SubmitEvents(&context, request, &response);
    ASSERT_TRUE(status.ok()) << status.error_message();
    ASSERT_EQ(response.results_size(), 1);
    ASSERT_EQ(response.results(0).outcome(), v1::EventResult::ACCEPTED)
        << response.results(0).reason();
    const int64_t sentinel_sequence = response.results(0).sequence();
    std::vector<v1::Case> cases;
    const absl::Time deadline = absl::Now() + absl::Minutes(5);
    while (true) {
      grpc::Status listed = ListAllCases(suite, cases_key, cases);
      ASSERT_TRUE(listed.ok()) << listed.error_message();
      if (std::any_of(cases.begin(), cases.end(), [&](const v1::Case& c) {
            return c.event().sequence() == sentinel_sequence;
          })) {
        break;
      }
      ASSERT_LT(absl::Now(), deadline) << "polku-cases did not reach the sentinel within 5 min";
      absl::SleepFor(absl::Milliseconds(200));
    }
    std::map<CaseKey, int> cases_per_key;
    for (const v1::Case& c : cases) {
      if (c.event().sequence() == sentinel_sequence) continue;
      EXPECT_EQ(c.rule_id(), rule_id);
      auto key = key_of_sequence.find(c.event().sequence());
      if (key == key_of_sequence.end()) {
        ADD_FAILURE() << "case " << c.case_id() << " for event " << c.event().sequence()
                      << ", which is no acknowledged detractor";
        continue;
      }
      ++cases_per_key[key->second];
      EXPECT_EQ(c.event().sequence(), first_sequence[key->second])
          << "case " << c.case_id() << " opened by a later event of its customer and period";
    }
    for (const auto& [key, sequence] : first_sequence) {
      EXPECT_EQ(cases_per_key[key], 1)
          << key.first << " period " << key.second << " (first event " << sequence << ")";
    }
    EXPECT_EQ(cases.size(), first_sequence.size() + 1);
    std::cout << "crash test: " << first_sequence.size() << " cases expected, "
              << cases.size() - 1 << " in polku-cases" << std::endl;
  }

  ASSERT_EQ(suite.Stop(), absl::OkStatus());

  if (GetParam().database == Suite::Database::kSqlite) {
    // The databases as the last processes left them.
    for (const char* file : {"feedback.db", "insight.db", "cases.db"}) {
      sqlite::Database::Options read_only;
      read_only.read_only = true;
      auto db = sqlite::Database::Open(absl::StrCat(suite.data_dir(), "/", file),
                                       read_only);
      ASSERT_TRUE(db.ok()) << file << ": " << db.status();
      auto integrity = (*db)->Prepare("PRAGMA integrity_check");
      ASSERT_TRUE(integrity.ok()) << integrity.status();
      ASSERT_TRUE((*integrity)->Step().value_or(false));
      EXPECT_EQ((*integrity)->ColumnText(0), "ok") << file;
      (*integrity)->Reset();
    }
  }
}

INSTANTIATE_TEST_SUITE_P(
    Backends, CrashTest,
    ::testing::Values(Backend{"SQLite", Suite::Database::kSqlite, 50},
                      Backend{"PostgreSQL", Suite::Database::kPostgres, 20}),
    [](const ::testing::TestParamInfo<Backend>& info) {
      return std::string(info.param.name);
    });

}  // namespace
}  // namespace polku
