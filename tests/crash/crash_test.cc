// Crash safety, proven by force: channel clients (lib/client) submit through
// the gateway with retries — one with SubmitEvents batches, two with
// StreamEvents — while polku-feedback and polku-insight are killed with
// SIGKILL at random moments (each kill picks one of them) and restarted on
// the same data. Afterwards, on SQLite and on PostgreSQL:
//
//  * every event the clients accepted got one final report, an
//    acknowledgement (ACCEPTED, or DUPLICATE when a crash lost the first);
//  * the change feed holds every acknowledged event exactly once, under its
//    acknowledged sequence and with the content that was sent, and nothing
//    that was never sent;
//  * polku-insight's scorecard equals a recount of the acknowledged events:
//    its crashes neither lost nor doubled a count;
//  * on SQLite, feedback.db and insight.db pass the integrity check.
//
// POLKU_CRASH_SEED (printed), POLKU_CRASH_KILLS (default 50 on SQLite, 20
// on PostgreSQL) and POLKU_CRASH_TARGETS (default
// "polku-feedback,polku-insight") repeat or lengthen a run;
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

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/clock.h"
#include "google/protobuf/util/message_differencer.h"
#include "gtest/gtest.h"
#include "lib/client/channel_client.h"
#include "lib/sqlite/sqlite.h"
#include "polku/v1/feedback.pb.h"
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

TEST_P(CrashTest, AcknowledgedEventsSurviveSigkillsExactlyOnceAndAreCountedOnce) {
  const int seed = EnvInt("POLKU_CRASH_SEED", 20250605);
  const int kills = EnvInt("POLKU_CRASH_KILLS", GetParam().default_kills);
  const char* targets_env = std::getenv("POLKU_CRASH_TARGETS");
  const std::vector<std::string> targets = absl::StrSplit(
      targets_env != nullptr && *targets_env != '\0' ? targets_env
                                                     : "polku-feedback,polku-insight",
      ',', absl::SkipEmpty());
  ASSERT_FALSE(targets.empty());
  std::cout << "crash test: " << GetParam().name << " POLKU_CRASH_SEED=" << seed
            << " POLKU_CRASH_KILLS=" << kills
            << " POLKU_CRASH_TARGETS=" << absl::StrJoin(targets, ",") << std::endl;

  Suite::Options suite_options;
  suite_options.channels = "shop,phone,web";
  suite_options.database = GetParam().database;
  auto started = Suite::Start(suite_options);
  ASSERT_TRUE(started.ok()) << started.status();
  Suite& suite = **started;
  ASSERT_NO_FATAL_FAILURE(testing::PublishJourney(suite, CrashJourney()));
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
  stop = true;
  for (std::thread& producer : producers) producer.join();
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

  ASSERT_TRUE(suite.Stop().ok());

  if (GetParam().database == Suite::Database::kSqlite) {
    // The databases as the last processes left them.
    for (const char* file : {"feedback.db", "insight.db"}) {
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
