// The Node.js channel system (examples/clients/node) against the real suite:
// it streams 2,000 events through the gateway with the web channel's key
// while the gateway rate-limits its new streams (RESOURCE_EXHAUSTED with a
// retry hint) and polku-feedback is killed and restarted under it
// (UNAVAILABLE). Every event must end up stored exactly once, under the id it
// was first sent with, and the client must have retried both.
#include <sys/wait.h>

#include <optional>
#include <set>
#include <string>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "gmock/gmock.h"
#include "google/protobuf/struct.pb.h"
#include "google/protobuf/util/json_util.h"
#include "gtest/gtest.h"
#include "polku/v1/feedback.grpc.pb.h"
#include "polku/v1/journey.grpc.pb.h"
#include "tests/harness/journeys.h"
#include "tests/harness/programs.h"
#include "tests/harness/suite.h"

namespace polku {
namespace {

using ::polku::testing::Suite;
using ::testing::HasSubstr;

constexpr absl::Duration kBound = absl::Seconds(60);
constexpr int kEvents = 2000;

// Every stored event of the key's tenant; nullopt when the call fails (the
// test's own key is rate-limited like the client's).
std::optional<std::vector<v1::StoredEvent>> TryStored(
    v1::FeedbackService::Stub& feedback, const std::string& key) {
  grpc::ClientContext context;
  Suite::Authorize(context, key, kBound);
  auto reader = feedback.ExportEvents(&context, v1::ExportEventsRequest());
  std::vector<v1::StoredEvent> events;
  v1::ExportEventsResponse page;
  while (reader->Read(&page)) {
    for (const auto& event : page.events()) events.push_back(event);
  }
  if (!reader->Finish().ok()) return std::nullopt;
  return events;
}

std::vector<v1::StoredEvent> Stored(v1::FeedbackService::Stub& feedback,
                                    const std::string& key) {
  const absl::Time deadline = absl::Now() + kBound;
  while (absl::Now() < deadline) {
    if (auto events = TryStored(feedback, key)) return *std::move(events);
    absl::SleepFor(absl::Milliseconds(400));
  }
  ADD_FAILURE() << "ExportEvents kept failing";
  return {};
}

TEST(NodeClientTest, StreamsEveryEventOnceThroughRateLimitsAndRestarts) {
  Suite::Options options;
  // Three new calls a second per key: the client's streams of 200 events
  // run into the limit.
  options.gateway_flags = {"--key_rate=3", "--key_burst=3"};
  auto started = Suite::Start(options);
  ASSERT_TRUE(started.ok()) << started.status();
  Suite& suite = **started;
  auto journeys = v1::JourneyService::NewStub(suite.GatewayChannel());
  auto feedback = v1::FeedbackService::NewStub(suite.GatewayChannel());
  const std::string& admin = suite.credentials().admin_key;
  const std::string& web = suite.credentials().channel_keys.at("web");
  {
    v1::CreateJourneyRequest create;
    *create.mutable_journey() =
        testing::MakeJourney("widget-journey", "Widget", {"need"},
                             {{"ad_click", "need", "web"}}, "web");
    v1::Journey journey;
    grpc::ClientContext context;
    Suite::Authorize(context, admin);
    ASSERT_TRUE(journeys->CreateJourney(&context, create, &journey).ok());
    v1::PublishJourneyRequest publish;
    publish.set_key("widget-journey");
    grpc::ClientContext publish_context;
    Suite::Authorize(publish_context, admin);
    ASSERT_TRUE(
        journeys->PublishJourney(&publish_context, publish, &journey).ok());
  }
  // Until polku-feedback's index has the journey (a dry run is accepted).
  const absl::Time known_by = absl::Now() + kBound;
  while (true) {
    v1::SubmitEventsRequest probe;
    probe.set_validate_only(true);
    v1::TouchpointEvent* event = probe.add_events();
    event->set_event_id("probe");
    event->set_touchpoint("ad_click");
    event->set_customer("probe");
    event->mutable_occurred_at()->set_seconds(absl::ToUnixSeconds(absl::Now()));
    v1::SubmitEventsResponse response;
    grpc::ClientContext context;
    Suite::Authorize(context, web);
    if (feedback->SubmitEvents(&context, probe, &response).ok() &&
        response.results(0).outcome() == v1::EventResult::ACCEPTED) {
      break;
    }
    ASSERT_LT(absl::Now(), known_by);
    absl::SleepFor(absl::Milliseconds(100));
  }

  const std::string out = suite.data_dir() + "/node.out";
  const std::string err = suite.data_dir() + "/node.err";
  const pid_t node = testing::StartProgram(
      POLKU_NODE,
      {std::string(POLKU_NODE_CLIENT_DIR) + "/channel_system.mjs",
       "--gateway=" + suite.gateway_grpc_address(), "--key=" + web,
       "--protos=" POLKU_PROTO_DIR, "--touchpoint=ad_click",
       absl::StrCat("--events=", kEvents), "--rate=400", "--batch=20",
       "--stream_events=200", "--prefix=widget"},
      out, err);
  ASSERT_GT(node, 0);
  // Once some events are stored, polku-feedback dies under the stream.
  const absl::Time some_by = absl::Now() + kBound;
  while (true) {
    std::optional<std::vector<v1::StoredEvent>> so_far =
        TryStored(*feedback, admin);
    if (so_far.has_value() && so_far->size() >= 300) break;
    ASSERT_LT(absl::Now(), some_by) << testing::ReadWholeFile(err);
    absl::SleepFor(absl::Milliseconds(400));
  }
  ASSERT_TRUE(suite.KillAndRestart("polku-feedback").ok());

  const int status = testing::WaitProgram(node, absl::Seconds(150));
  const std::string stdout_text = testing::ReadWholeFile(out);
  const std::string stderr_text = testing::ReadWholeFile(err);
  ASSERT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0)
      << stdout_text << stderr_text;
  // Both kinds of failure were retried.
  EXPECT_THAT(stderr_text, HasSubstr("RESOURCE_EXHAUSTED"));
  EXPECT_THAT(stderr_text, HasSubstr("UNAVAILABLE"));

  const std::string last_line =
      stdout_text.substr(stdout_text.rfind('\n', stdout_text.size() - 2) + 1);
  google::protobuf::Struct summary;
  ASSERT_TRUE(
      google::protobuf::util::JsonStringToMessage(last_line, &summary).ok())
      << stdout_text;
  const auto& f = summary.fields();
  EXPECT_EQ(f.at("accepted").number_value() + f.at("duplicates").number_value(),
            kEvents);
  EXPECT_EQ(f.at("rejected").number_value(), 0);
  EXPECT_GE(f.at("retries").number_value(), 2);

  std::vector<v1::StoredEvent> stored = Stored(*feedback, admin);
  std::set<std::string> ids;
  for (const auto& event : stored) {
    EXPECT_EQ(event.channel(), "web");
    ids.insert(event.event().event_id());
  }
  EXPECT_EQ(stored.size(), static_cast<size_t>(kEvents));
  EXPECT_EQ(ids.size(), static_cast<size_t>(kEvents));
  EXPECT_TRUE(ids.contains("widget-0"));
  EXPECT_TRUE(ids.contains(absl::StrCat("widget-", kEvents - 1)));
  EXPECT_EQ(suite.Stop(), absl::OkStatus());
}

}  // namespace
}  // namespace polku
