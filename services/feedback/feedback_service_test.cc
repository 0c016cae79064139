#include "services/feedback/feedback_service.h"

#include <grpcpp/generic/generic_stub.h>
#include <grpcpp/grpcpp.h>
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <thread>

#include "absl/strings/str_cat.h"
#include "google/protobuf/util/time_util.h"
#include "lib/base/executor.h"
#include "lib/rpc/metadata.h"
#include "lib/sqlite/sqlite.h"
#include "services/feedback/feed_reader_service.h"
#include "services/feedback/sqlite_event_store.h"
#include "services/feedback/test_journeys.h"

namespace polku::feedback {
namespace {

using polku::v1::EventResult;
using polku::v1::SubmitEventsRequest;
using polku::v1::SubmitEventsResponse;
using polku::v1::TouchpointEvent;
using polku::v1::WatchEventsRequest;
using polku::v1::WatchEventsResponse;

constexpr absl::Duration kWait = absl::Seconds(10);
const absl::Time kNow =
    absl::FromUnixSeconds(1'714'564'800);  // 2024-05-01 12:00Z

TouchpointEvent Event(const std::string& event_id, int csat = 4,
                      const std::string& touchpoint = "shop_in_shop_sales") {
  TouchpointEvent event;
  event.set_event_id(event_id);
  event.set_touchpoint(touchpoint);
  event.set_customer("customer-42");
  event.mutable_occurred_at()->set_seconds(absl::ToUnixSeconds(kNow) - 3600);
  event.set_csat(csat);
  return event;
}

// A FeedbackService on a real gRPC server on 127.0.0.1:0, over a real
// SQLite store; the test sets the gateway's metadata itself.
class FeedbackServiceTest : public ::testing::Test {
 protected:
  explicit FeedbackServiceTest(FeedbackServiceOptions options = {}) {
    auto store = SqliteEventStore::Open(db_path_,
                                        CustomerHasher(std::string(32, 'k')),
                                        SqliteEventStoreOptions());
    EXPECT_TRUE(store.ok()) << store.status();
    store_ = *std::move(store);
    index_.Reset(testing::DemoJourneys().journeys());
    service_ = std::make_unique<FeedbackServiceImpl>(*store_, index_, readers_,
                                                     clock_, options);
    grpc::ServerBuilder builder;
    int port = 0;
    builder.AddListeningPort("127.0.0.1:0", grpc::InsecureServerCredentials(),
                             &port);
    builder.RegisterService(service_.get());
    server_ = builder.BuildAndStart();
    channel_ = grpc::CreateChannel(absl::StrCat("127.0.0.1:", port),
                                   grpc::InsecureChannelCredentials());
    stub_ = polku::v1::FeedbackService::NewStub(channel_);
  }

  ~FeedbackServiceTest() override {
    // Open streams are cancelled by the deadline; then the store drains.
    server_->Shutdown(std::chrono::system_clock::now() +
                      std::chrono::seconds(1));
    store_->Stop();
  }

  static void SetCaller(grpc::ClientContext& context, const std::string& tenant,
                        const std::string& channel) {
    rpc::AttachCaller({.tenant = tenant, .channel = channel}, context);
    context.set_deadline(absl::ToChronoTime(absl::Now() + kWait));
  }

  grpc::Status Submit(const std::vector<TouchpointEvent>& events,
                      SubmitEventsResponse& response,
                      const std::string& tenant = "demo",
                      const std::string& channel = "shop") {
    grpc::ClientContext context;
    SetCaller(context, tenant, channel);
    SubmitEventsRequest request;
    for (const auto& e : events) *request.add_events() = e;
    return stub_->SubmitEvents(&context, request, &response);
  }

  const std::string db_path_ = testing::ScratchDir() + "/feedback.db";
  FakeClock clock_{kNow};
  Executor readers_{2};
  TouchpointIndex index_;
  std::unique_ptr<SqliteEventStore> store_;
  std::unique_ptr<FeedbackServiceImpl> service_;
  std::unique_ptr<grpc::Server> server_;
  std::shared_ptr<grpc::Channel> channel_;
  std::unique_ptr<polku::v1::FeedbackService::Stub> stub_;
};

TEST_F(FeedbackServiceTest, AMixedBatchStoresTheGoodAndNamesTheBad) {
  SubmitEventsResponse response;
  grpc::Status status =
      Submit({Event("e-1"), Event("e-2", /*csat=*/9), Event("e-3")}, response);
  ASSERT_TRUE(status.ok()) << status.error_message();
  ASSERT_EQ(response.results_size(), 3);
  EXPECT_EQ(response.results(0).event_id(), "e-1");
  EXPECT_EQ(response.results(0).outcome(), EventResult::ACCEPTED);
  EXPECT_EQ(response.results(0).sequence(), 1);
  EXPECT_EQ(response.results(1).event_id(), "e-2");
  EXPECT_EQ(response.results(1).outcome(), EventResult::REJECTED);
  EXPECT_EQ(response.results(1).field(), "events[1].csat");
  EXPECT_EQ(response.results(1).reason(),
            "csat must be between 1 and 5, got 9");
  EXPECT_EQ(response.results(1).sequence(), 0);
  EXPECT_EQ(response.results(2).outcome(), EventResult::ACCEPTED);
  EXPECT_EQ(response.results(2).sequence(), 2);
}

TEST_F(FeedbackServiceTest, ATouchpointOfAnotherChannelIsRejected) {
  SubmitEventsResponse response;
  ASSERT_TRUE(Submit({Event("e-1", 4, "confirmation_call")}, response).ok());
  EXPECT_EQ(response.results(0).outcome(), EventResult::REJECTED);
  EXPECT_EQ(response.results(0).field(), "events[0].touchpoint");
  EXPECT_EQ(response.results(0).reason(),
            "touchpoint 'confirmation_call' belongs to channel 'phone', not "
            "'shop'");
}

// AIP-163: the same answers, nothing stored.
TEST_F(FeedbackServiceTest, ValidateOnlyAnswersLikeASubmitAndStoresNothing) {
  grpc::ClientContext context;
  SetCaller(context, "demo", "shop");
  SubmitEventsRequest request;
  *request.add_events() = Event("e-1");
  *request.add_events() = Event("e-2", /*csat=*/9);
  *request.add_events() = Event("e-3", 4, "nope");
  request.set_validate_only(true);
  SubmitEventsResponse response;
  ASSERT_TRUE(stub_->SubmitEvents(&context, request, &response).ok());
  ASSERT_EQ(response.results_size(), 3);
  EXPECT_EQ(response.results(0).outcome(), EventResult::ACCEPTED);
  EXPECT_EQ(response.results(0).sequence(), 0);
  EXPECT_EQ(response.results(1).outcome(), EventResult::REJECTED);
  EXPECT_EQ(response.results(1).field(), "events[1].csat");
  EXPECT_EQ(response.results(1).reason(),
            "csat must be between 1 and 5, got 9");
  EXPECT_EQ(response.results(2).field(), "events[2].touchpoint");
  EXPECT_EQ(response.results(2).reason(), "unknown touchpoint 'nope'");
  EXPECT_EQ(store_->notifier().last_sequence(), 0);

  // Sent for real afterwards, the valid one is new.
  SubmitEventsResponse stored;
  ASSERT_TRUE(Submit({Event("e-1")}, stored).ok());
  EXPECT_EQ(stored.results(0).outcome(), EventResult::ACCEPTED);
  EXPECT_EQ(stored.results(0).sequence(), 1);
}

TEST_F(FeedbackServiceTest, HistoryVersionIsCheckedAndNamedAsTheRequests) {
  grpc::ClientContext negative_context;
  SetCaller(negative_context, "demo", "shop");
  SubmitEventsRequest request;
  *request.add_events() = Event("e-1");
  request.set_history_version(-1);
  SubmitEventsResponse response;
  grpc::Status negative =
      stub_->SubmitEvents(&negative_context, request, &response);
  EXPECT_EQ(negative.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_EQ(negative.error_message(),
            "history_version: must be >= 0 (0: the latest), got -1");

  grpc::ClientContext context;
  SetCaller(context, "demo", "shop");
  request.set_history_version(7);
  request.mutable_events(0)->set_journey("switching");
  ASSERT_TRUE(stub_->SubmitEvents(&context, request, &response).ok());
  EXPECT_EQ(response.results(0).outcome(), EventResult::REJECTED);
  EXPECT_EQ(response.results(0).field(), "history_version");
  EXPECT_EQ(response.results(0).reason(),
            "journey 'switching' has no published version 7 (latest: 2)");
}

TEST_F(FeedbackServiceTest, ResendingIsSafe) {
  SubmitEventsResponse first, again, reuse;
  ASSERT_TRUE(Submit({Event("e-1"), Event("e-2")}, first).ok());
  ASSERT_TRUE(Submit({Event("e-2"), Event("e-1")}, again).ok());
  EXPECT_EQ(again.results(0).outcome(), EventResult::DUPLICATE);
  EXPECT_EQ(again.results(0).sequence(), 2);
  EXPECT_EQ(again.results(1).outcome(), EventResult::DUPLICATE);
  EXPECT_EQ(again.results(1).sequence(), 1);

  ASSERT_TRUE(Submit({Event("e-3"), Event("e-1", /*csat=*/1)}, reuse).ok());
  EXPECT_EQ(reuse.results(0).outcome(), EventResult::ACCEPTED);
  EXPECT_EQ(reuse.results(1).outcome(), EventResult::REJECTED);
  EXPECT_EQ(reuse.results(1).field(), "events[1].event_id");
  EXPECT_EQ(reuse.results(1).reason(),
            "event_id 'e-1' was already used for a different event");
}

TEST_F(FeedbackServiceTest, ACallWithoutTenantIsUnauthenticated) {
  SubmitEventsResponse response;
  grpc::Status status = Submit({Event("e-1")}, response, "", "shop");
  EXPECT_EQ(status.error_code(), grpc::StatusCode::UNAUTHENTICATED);
}

TEST_F(FeedbackServiceTest, SubmittingNeedsAChannelKey) {
  SubmitEventsResponse response;
  grpc::Status status = Submit({Event("e-1")}, response, "demo", "");
  EXPECT_EQ(status.error_code(), grpc::StatusCode::PERMISSION_DENIED);
  EXPECT_EQ(status.error_message(), "SubmitEvents needs a channel key");
}

TEST_F(FeedbackServiceTest, BatchesAreOneToAThousandEvents) {
  SubmitEventsResponse response;
  grpc::Status empty = Submit({}, response);
  EXPECT_EQ(empty.error_code(), grpc::StatusCode::INVALID_ARGUMENT);

  std::vector<TouchpointEvent> events;
  for (int i = 0; i < 1001; ++i) events.push_back(Event(absl::StrCat("e-", i)));
  grpc::Status oversized = Submit(events, response);
  EXPECT_EQ(oversized.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_EQ(oversized.error_message(),
            "events: at most 1000 per call, got 1001");

  events.pop_back();
  ASSERT_TRUE(Submit(events, response).ok());
  EXPECT_EQ(response.results_size(), 1000);
  EXPECT_EQ(response.results(999).sequence(), 1000);
}

TEST_F(FeedbackServiceTest, NothingIsAcceptedBeforeTheIndexIsLoaded) {
  TouchpointIndex empty;
  FeedbackServiceImpl service(*store_, empty, readers_, clock_);
  grpc::ServerBuilder builder;
  int port = 0;
  builder.AddListeningPort("127.0.0.1:0", grpc::InsecureServerCredentials(),
                           &port);
  builder.RegisterService(&service);
  auto server = builder.BuildAndStart();
  auto stub = polku::v1::FeedbackService::NewStub(grpc::CreateChannel(
      absl::StrCat("127.0.0.1:", port), grpc::InsecureChannelCredentials()));

  grpc::ClientContext context;
  SetCaller(context, "demo", "shop");
  SubmitEventsRequest request;
  *request.add_events() = Event("e-1");
  SubmitEventsResponse response;
  grpc::Status status = stub->SubmitEvents(&context, request, &response);
  EXPECT_EQ(status.error_code(), grpc::StatusCode::UNAVAILABLE);
  EXPECT_EQ(status.error_message(), "touchpoint index not loaded yet");
  server->Shutdown();
}

// Reads the next message of a WatchEvents stream (bounded by its deadline).
std::vector<int64_t> NextSequences(
    grpc::ClientReader<WatchEventsResponse>& reader) {
  WatchEventsResponse response;
  std::vector<int64_t> sequences;
  if (!reader.Read(&response)) return sequences;
  for (const auto& e : response.events()) sequences.push_back(e.sequence());
  return sequences;
}

TEST_F(FeedbackServiceTest, WatchEventsDeliversStoredThenNewEvents) {
  SubmitEventsResponse response;
  ASSERT_TRUE(Submit({Event("e-1"), Event("e-2")}, response).ok());

  grpc::ClientContext context;
  SetCaller(context, "demo", "");
  WatchEventsRequest request;
  request.set_from_sequence(0);
  auto reader = stub_->WatchEvents(&context, request);
  EXPECT_EQ(NextSequences(*reader), (std::vector<int64_t>{1, 2}));

  ASSERT_TRUE(Submit({Event("e-3")}, response).ok());
  std::vector<int64_t> next = NextSequences(*reader);
  EXPECT_EQ(next, (std::vector<int64_t>{3}));

  context.TryCancel();
  EXPECT_EQ(reader->Finish().error_code(), grpc::StatusCode::CANCELLED);
}

TEST_F(FeedbackServiceTest, WatchEventsShowsATenantOnlyItsOwnEvents) {
  SubmitEventsResponse response;
  ASSERT_TRUE(Submit({Event("d-1")}, response, "demo", "shop").ok());
  ASSERT_TRUE(
      Submit({Event("o-1", 4, "secret_touchpoint")}, response, "other", "shop")
          .ok());
  ASSERT_EQ(response.results(0).outcome(), EventResult::ACCEPTED);
  ASSERT_TRUE(Submit({Event("d-2")}, response, "demo", "shop").ok());

  grpc::ClientContext tenant_context;
  SetCaller(tenant_context, "demo", "");
  auto tenant_reader =
      stub_->WatchEvents(&tenant_context, WatchEventsRequest());
  WatchEventsResponse page;
  ASSERT_TRUE(tenant_reader->Read(&page));
  ASSERT_EQ(page.events_size(), 2);
  EXPECT_EQ(page.events(0).event().event_id(), "d-1");
  EXPECT_EQ(page.events(1).event().event_id(), "d-2");
  EXPECT_EQ(page.events(1).sequence(), 3);
  EXPECT_EQ(page.events(0).event().customer(), "");
  tenant_context.TryCancel();
  tenant_reader->Finish();

  // A service-to-service caller (no tenant) sees everyone's.
  grpc::ClientContext internal_context;
  internal_context.set_deadline(absl::ToChronoTime(absl::Now() + kWait));
  auto internal_reader =
      stub_->WatchEvents(&internal_context, WatchEventsRequest());
  EXPECT_EQ(NextSequences(*internal_reader), (std::vector<int64_t>{1, 2, 3}));
  internal_context.TryCancel();
  internal_reader->Finish();
}

TEST_F(FeedbackServiceTest, WatchEventsStartsAtTheRequestedSequence) {
  SubmitEventsResponse response;
  ASSERT_TRUE(
      Submit({Event("e-1"), Event("e-2"), Event("e-3")}, response).ok());
  grpc::ClientContext context;
  SetCaller(context, "demo", "");
  WatchEventsRequest request;
  request.set_from_sequence(2);
  auto reader = stub_->WatchEvents(&context, request);
  EXPECT_EQ(NextSequences(*reader), (std::vector<int64_t>{2, 3}));
  context.TryCancel();
  reader->Finish();
}

TEST_F(FeedbackServiceTest, WatchEventsPagesALongFeed) {
  std::vector<TouchpointEvent> events;
  for (int i = 0; i < 1000; ++i) events.push_back(Event(absl::StrCat("e-", i)));
  SubmitEventsResponse response;
  ASSERT_TRUE(Submit(events, response).ok());

  grpc::ClientContext context;
  SetCaller(context, "demo", "");
  auto reader = stub_->WatchEvents(&context, WatchEventsRequest());
  std::vector<int64_t> first = NextSequences(*reader);
  std::vector<int64_t> second = NextSequences(*reader);
  ASSERT_EQ(first.size(), 500u);
  ASSERT_EQ(second.size(), 500u);
  EXPECT_EQ(first.front(), 1);
  EXPECT_EQ(second.front(), 501);
  EXPECT_EQ(second.back(), 1000);
  context.TryCancel();
  reader->Finish();
}

// WatchEvents takes its request as bytes (a raw method): bytes that are no
// WatchEventsRequest are refused, saying so.
TEST_F(FeedbackServiceTest, WatchEventsRejectsARequestThatDoesNotParse) {
  grpc::ClientContext context;
  SetCaller(context, "demo", "");
  grpc::GenericStub generic(channel_);
  grpc::CompletionQueue queue;
  auto call = generic.PrepareCall(
      &context, "/polku.v1.FeedbackService/WatchEvents", &queue);
  // Each step's completion, in order (one operation at a time).
  auto step = [&](int tag) {
    void* got = nullptr;
    bool ok = false;
    EXPECT_TRUE(queue.Next(&got, &ok));
    EXPECT_EQ(got, reinterpret_cast<void*>(tag));
    return ok;
  };
  call->StartCall(reinterpret_cast<void*>(1));
  ASSERT_TRUE(step(1));
  const std::string garbage = "\xff\xff\xff";  // a tag cut short
  grpc::Slice slice(garbage);
  call->WriteLast(grpc::ByteBuffer(&slice, 1), grpc::WriteOptions(),
                  reinterpret_cast<void*>(2));
  step(2);
  grpc::ByteBuffer page;
  call->Read(&page, reinterpret_cast<void*>(3));
  EXPECT_FALSE(step(3));  // no page
  grpc::Status status;
  call->Finish(&status, reinterpret_cast<void*>(4));
  ASSERT_TRUE(step(4));
  EXPECT_EQ(status.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_EQ(status.error_message(),
            "the request is not a polku.v1.WatchEventsRequest");
  queue.Shutdown();
  void* tag;
  bool ok;
  while (queue.Next(&tag, &ok)) {
  }
}

TEST_F(FeedbackServiceTest, WatchEventsRejectsANegativeStart) {
  grpc::ClientContext context;
  SetCaller(context, "demo", "");
  WatchEventsRequest request;
  request.set_from_sequence(-1);
  auto reader = stub_->WatchEvents(&context, request);
  WatchEventsResponse page;
  EXPECT_FALSE(reader->Read(&page));
  grpc::Status status = reader->Finish();
  EXPECT_EQ(status.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
}

// A stored row that is not whole protobuf fields ends the stream
// UNAVAILABLE naming it, rather than going out as a page that misparses.
TEST_F(FeedbackServiceTest, WatchEventsRefusesToServeACorruptRow) {
  SubmitEventsResponse response;
  ASSERT_TRUE(Submit({Event("e-1")}, response).ok());
  {
    auto db = sqlite::Database::Open(db_path_, {});
    ASSERT_TRUE(db.ok()) << db.status();
    ASSERT_TRUE((*db)->Exec("UPDATE events SET payload = "
                            "substr(payload, 1, length(payload) - 3)")
                    .ok());
  }
  grpc::ClientContext context;
  SetCaller(context, "demo", "");
  auto reader = stub_->WatchEvents(&context, WatchEventsRequest());
  WatchEventsResponse page;
  EXPECT_FALSE(reader->Read(&page));
  grpc::Status status = reader->Finish();
  EXPECT_EQ(status.error_code(), grpc::StatusCode::UNAVAILABLE);
  EXPECT_EQ(status.error_message(),
            "reading the change feed failed: feed entry 1 is corrupt");
}

TEST_F(FeedbackServiceTest, ManyWatchersCanComeAndGo) {
  // Streams cancelled at every point of their life, while events commit:
  // under the sanitizers this checks the streams' ownership.
  for (int round = 0; round < 20; ++round) {
    grpc::ClientContext context;
    SetCaller(context, "demo", "");
    auto reader = stub_->WatchEvents(&context, WatchEventsRequest());
    SubmitEventsResponse response;
    ASSERT_TRUE(Submit({Event(absl::StrCat("r-", round))}, response).ok());
    if (round % 2 == 0) {
      WatchEventsResponse page;
      EXPECT_TRUE(reader->Read(&page));
    }
    context.TryCancel();
    reader->Finish();
  }
}

TEST_F(FeedbackServiceTest, ServerShutdownEndsOpenStreams) {
  grpc::ClientContext context;
  SetCaller(context, "demo", "");
  auto reader = stub_->WatchEvents(&context, WatchEventsRequest());
  // The stream waits for events; shutting down must still complete.
  const absl::Time start = absl::Now();
  server_->Shutdown(std::chrono::system_clock::now() +
                    std::chrono::milliseconds(200));
  EXPECT_LT(absl::Now() - start, absl::Seconds(5));
  WatchEventsResponse page;
  EXPECT_FALSE(reader->Read(&page));
  EXPECT_FALSE(reader->Finish().ok());
}

TEST_F(FeedbackServiceTest, EraseCustomerErasesAndTheFeedSaysSo) {
  SubmitEventsResponse response;
  TouchpointEvent other = Event("e-2");
  other.set_customer("someone-else");
  ASSERT_TRUE(Submit({Event("e-1"), other, Event("e-3")}, response).ok());

  grpc::ClientContext admin;
  SetCaller(admin, "demo", "");
  polku::v1::EraseCustomerRequest erase;
  erase.set_customer("customer-42");
  erase.set_suppress_future(true);
  polku::v1::EraseCustomerResponse erased;
  grpc::Status status = stub_->EraseCustomer(&admin, erase, &erased);
  ASSERT_TRUE(status.ok()) << status.error_message();
  EXPECT_EQ(erased.erased_events(), 2);
  EXPECT_EQ(erased.sequence(), 4);
  // No readers configured: no receipt.
  EXPECT_FALSE(erased.has_receipt());

  // The feed: the remaining event, then the erasure on a page of its own,
  // each page naming the feed.
  grpc::ClientContext watch;
  SetCaller(watch, "demo", "");
  auto reader = stub_->WatchEvents(&watch, WatchEventsRequest());
  WatchEventsResponse page;
  ASSERT_TRUE(reader->Read(&page));
  EXPECT_EQ(page.feed_id(), store_->feed_id());
  ASSERT_EQ(page.events_size(), 1);
  EXPECT_EQ(page.events(0).event().event_id(), "e-2");
  EXPECT_FALSE(page.has_erasure());
  ASSERT_TRUE(reader->Read(&page));
  EXPECT_EQ(page.feed_id(), store_->feed_id());
  EXPECT_EQ(page.events_size(), 0);
  ASSERT_TRUE(page.has_erasure());
  EXPECT_EQ(page.erasure().sequence(), 4);
  EXPECT_EQ(page.erasure().erased_events(), 2);
  EXPECT_TRUE(page.erasure().suppressed());
  watch.TryCancel();
  reader->Finish();

  // Suppressed from now on.
  ASSERT_TRUE(Submit({Event("e-4")}, response).ok());
  EXPECT_EQ(response.results(0).outcome(), EventResult::REJECTED);
  EXPECT_EQ(response.results(0).field(), "events[0].customer");
}

TEST_F(FeedbackServiceTest, EraseCustomerNeedsATenantAndACustomer) {
  polku::v1::EraseCustomerResponse erased;
  {
    grpc::ClientContext internal;
    internal.set_deadline(absl::ToChronoTime(absl::Now() + kWait));
    polku::v1::EraseCustomerRequest erase;
    erase.set_customer("c");
    EXPECT_EQ(stub_->EraseCustomer(&internal, erase, &erased).error_code(),
              grpc::StatusCode::UNAUTHENTICATED);
  }
  grpc::ClientContext admin;
  SetCaller(admin, "demo", "");
  grpc::Status status =
      stub_->EraseCustomer(&admin, polku::v1::EraseCustomerRequest(), &erased);
  EXPECT_EQ(status.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_EQ(status.error_message(), "customer: must not be empty");
}

TEST_F(FeedbackServiceTest, CommentsAreRedactedBeforeTheyAreStored) {
  TouchpointEvent event = Event("e-1");
  event.set_comment(
      "Soita 040 123 4567 tai anna@example.fi, tilaus 12345, kortti "
      "4111 1111 1111 1111");
  SubmitEventsResponse response;
  ASSERT_TRUE(Submit({event}, response).ok());
  ASSERT_EQ(response.results(0).outcome(), EventResult::ACCEPTED);
  // The same event again is still the same event.
  ASSERT_TRUE(Submit({event}, response).ok());
  EXPECT_EQ(response.results(0).outcome(), EventResult::DUPLICATE);

  auto feed = store_->ReadFeed("demo", 1, 10);
  ASSERT_TRUE(feed.ok());
  ASSERT_EQ(feed->size(), 1u);
  EXPECT_EQ(std::get<polku::v1::StoredEvent>((*feed)[0]).event().comment(),
            "Soita [phone] tai [email], tilaus 12345, kortti [card]");
}

TEST_F(FeedbackServiceTest, AFullWriterQueueIsResourceExhaustedWithAHint) {
  // A store whose queue holds nothing at all.
  server_->Shutdown();
  store_->Stop();
  SqliteEventStoreOptions options;
  options.group_commit.max_queued_events = 0;
  auto store =
      SqliteEventStore::Open(testing::ScratchDir() + "/feedback.db",
                             CustomerHasher(std::string(32, 'k')), options);
  ASSERT_TRUE(store.ok());
  store_ = *std::move(store);
  service_ =
      std::make_unique<FeedbackServiceImpl>(*store_, index_, readers_, clock_);
  grpc::ServerBuilder builder;
  int port = 0;
  builder.AddListeningPort("127.0.0.1:0", grpc::InsecureServerCredentials(),
                           &port);
  builder.RegisterService(service_.get());
  server_ = builder.BuildAndStart();
  stub_ = polku::v1::FeedbackService::NewStub(grpc::CreateChannel(
      absl::StrCat("127.0.0.1:", port), grpc::InsecureChannelCredentials()));

  grpc::ClientContext context;
  SetCaller(context, "demo", "shop");
  SubmitEventsRequest request;
  *request.add_events() = Event("e-1");
  SubmitEventsResponse response;
  const absl::Time start = absl::Now();
  grpc::Status status = stub_->SubmitEvents(&context, request, &response);
  EXPECT_LT(absl::Now() - start, absl::Seconds(1));
  EXPECT_EQ(status.error_code(), grpc::StatusCode::RESOURCE_EXHAUSTED);
  EXPECT_NE(status.error_message().find("retry in about"), std::string::npos);
  auto hint = context.GetServerTrailingMetadata().find(kRetryAfterHeader);
  ASSERT_NE(hint, context.GetServerTrailingMetadata().end());
  EXPECT_EQ(std::string(hint->second.data(), hint->second.size()), "10");
}

// ExportEvents, read to its end: every page, or the error.
struct Exported {
  grpc::Status status;
  std::vector<polku::v1::ExportEventsResponse> pages;

  std::vector<std::string> EventIds() const {
    std::vector<std::string> ids;
    for (const auto& page : pages) {
      for (const auto& stored : page.events()) {
        ids.push_back(stored.event().event_id());
      }
    }
    return ids;
  }
};

class ExportEventsTest : public FeedbackServiceTest {
 protected:
  // A scan window of 7 sequences, so that a few events cross several.
  ExportEventsTest() : FeedbackServiceTest({.export_scan_window = 7}) {}

  Exported Export(const polku::v1::ExportEventsRequest& request,
                  const std::string& tenant = "demo") {
    grpc::ClientContext context;
    SetCaller(context, tenant, "");
    auto reader = stub_->ExportEvents(&context, request);
    Exported exported;
    polku::v1::ExportEventsResponse page;
    // Bounded by the deadline.
    while (reader->Read(&page)) exported.pages.push_back(page);
    exported.status = reader->Finish();
    return exported;
  }

  // `count` events e-<first>… of `touchpoint`, an hour apart backwards.
  void Store(int first, int count, const std::string& tenant = "demo",
             const std::string& channel = "shop",
             const std::string& touchpoint = "shop_in_shop_sales") {
    std::vector<TouchpointEvent> events;
    for (int i = first; i < first + count; ++i) {
      TouchpointEvent event = Event(absl::StrCat("e-", i), 4, touchpoint);
      event.mutable_occurred_at()->set_seconds(absl::ToUnixSeconds(kNow) -
                                               3600 * (i + 1));
      events.push_back(std::move(event));
    }
    SubmitEventsResponse response;
    ASSERT_TRUE(Submit(events, response, tenant, channel).ok());
    for (const EventResult& result : response.results()) {
      ASSERT_EQ(result.outcome(), EventResult::ACCEPTED) << result.reason();
    }
  }
};

TEST_F(ExportEventsTest, PagesTheTenantsEventsInSequenceOrder) {
  Store(0, 10);
  Store(100, 3, "other", "shop", "secret_touchpoint");
  Store(10, 15);
  polku::v1::ExportEventsRequest request;
  request.set_page_size(4);
  Exported exported = Export(request);
  ASSERT_TRUE(exported.status.ok()) << exported.status.error_message();
  std::vector<std::string> expected;
  for (int i = 0; i < 25; ++i) expected.push_back(absl::StrCat("e-", i));
  EXPECT_EQ(exported.EventIds(), expected);
  int64_t previous = 0;
  for (const auto& page : exported.pages) {
    EXPECT_LE(page.events_size(), 4);
    EXPECT_GT(page.events_size(), 0);
    for (const polku::v1::StoredEvent& stored : page.events()) {
      EXPECT_GT(stored.sequence(), previous);
      previous = stored.sequence();
      EXPECT_EQ(stored.tenant(), "demo");
      EXPECT_EQ(stored.channel(), "shop");
      EXPECT_EQ(stored.journey(), "switching");
      EXPECT_EQ(stored.journey_version(), 2);
      EXPECT_EQ(stored.stage(), "purchase");
      EXPECT_EQ(stored.event().customer(), "");
      EXPECT_EQ(stored.customer_hash().size(), 64u);
    }
  }
  // Another tenant sees only its own.
  Exported other = Export(request, "other");
  EXPECT_EQ(other.EventIds(),
            (std::vector<std::string>{"e-100", "e-101", "e-102"}));
}

TEST_F(ExportEventsTest, FiltersByJourneyRangeAndStartingSequence) {
  Store(0, 6);                              // switching, shop
  Store(6, 6, "demo", "email", "invoice");  // renovation, email
  polku::v1::ExportEventsRequest request;
  request.set_journey("renovation");
  EXPECT_EQ(Export(request).EventIds().size(), 6u);
  // e-i occurred i + 1 hours before kNow; the end is exclusive, so
  // [kNow − 9 h, kNow − 7 h) holds e-8 and e-7, not e-6.
  *request.mutable_range()->mutable_start() =
      google::protobuf::util::TimeUtil::SecondsToTimestamp(
          absl::ToUnixSeconds(kNow - absl::Hours(9)));
  *request.mutable_range()->mutable_end() =
      google::protobuf::util::TimeUtil::SecondsToTimestamp(
          absl::ToUnixSeconds(kNow - absl::Hours(7)));
  EXPECT_EQ(Export(request).EventIds(),
            (std::vector<std::string>{"e-7", "e-8"}));
  // Resuming after e-7's sequence (8).
  request.set_from_sequence(9);
  EXPECT_EQ(Export(request).EventIds(), (std::vector<std::string>{"e-8"}));
  // An unknown journey has no events.
  request.set_journey("nope");
  Exported none = Export(request);
  EXPECT_TRUE(none.status.ok());
  EXPECT_TRUE(none.pages.empty());
}

TEST_F(ExportEventsTest, EventsCommittedAfterTheStartAreNotIncluded) {
  Store(0, 5);
  grpc::ClientContext context;
  SetCaller(context, "demo", "");
  polku::v1::ExportEventsRequest request;
  request.set_page_size(1);
  auto reader = stub_->ExportEvents(&context, request);
  polku::v1::ExportEventsResponse page;
  ASSERT_TRUE(reader->Read(&page));
  Store(5, 5);
  int events = page.events_size();
  while (reader->Read(&page)) events += page.events_size();
  EXPECT_TRUE(reader->Finish().ok());
  EXPECT_EQ(events, 5);
}

TEST_F(ExportEventsTest, BadRequestsNameTheField) {
  polku::v1::ExportEventsRequest request;
  request.set_page_size(1001);
  Exported too_big = Export(request);
  EXPECT_EQ(too_big.status.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_EQ(too_big.status.error_message(),
            "page_size: must be 0–1000, got 1001");
  request.set_page_size(0);
  request.set_from_sequence(-1);
  EXPECT_EQ(Export(request).status.error_message(),
            "from_sequence: must be >= 0, got -1");
  request.set_from_sequence(0);
  request.mutable_range()->mutable_start()->set_seconds(10);
  request.mutable_range()->mutable_end()->set_seconds(10);
  EXPECT_EQ(Export(request).status.error_message(),
            "range: start must be before end");

  // No tenant, no export.
  grpc::ClientContext context;
  context.set_deadline(absl::ToChronoTime(absl::Now() + kWait));
  auto reader = stub_->ExportEvents(&context, {});
  polku::v1::ExportEventsResponse page;
  EXPECT_FALSE(reader->Read(&page));
  EXPECT_EQ(reader->Finish().error_code(), grpc::StatusCode::UNAUTHENTICATED);
}

// The readers' progress, built before the service that uses it.
struct ReceiptsHolder {
  explicit ReceiptsHolder(std::function<std::string()> feed_id)
      : receipts(std::make_unique<ErasureReceipts>(
            std::vector<std::string>{"polku-insight", "polku-cases"},
            std::move(feed_id), Clock::Real())) {
    receipts->StartTimer();
  }
  std::unique_ptr<ErasureReceipts> receipts;
};

// EraseCustomer and GetErasureReceipt with two required readers, which
// report through a FeedReaderService on a server of its own.
class ErasureReceiptTest : public ReceiptsHolder, public FeedbackServiceTest {
 protected:
  ErasureReceiptTest()
      : ReceiptsHolder([this] { return store_->feed_id(); }),
        FeedbackServiceTest({.receipts = receipts.get(),
                             .receipt_max_wait = absl::Seconds(2)}),
        reader_service_(*receipts) {
    grpc::ServerBuilder builder;
    int port = 0;
    builder.AddListeningPort("127.0.0.1:0", grpc::InsecureServerCredentials(),
                             &port);
    builder.RegisterService(&reader_service_);
    reader_server_ = builder.BuildAndStart();
    reports_ = polku::v1::FeedReaderService::NewStub(
        grpc::CreateChannel(absl::StrCat("127.0.0.1:", port),
                            grpc::InsecureChannelCredentials()));
  }
  ~ErasureReceiptTest() override {
    reader_server_->Shutdown(std::chrono::system_clock::now() +
                             std::chrono::seconds(1));
  }

  grpc::Status Report(const std::string& reader, int64_t sequence,
                      const std::string& tenant = "") {
    grpc::ClientContext context;
    context.set_deadline(absl::ToChronoTime(absl::Now() + kWait));
    if (!tenant.empty()) rpc::AttachCaller({.tenant = tenant}, context);
    polku::v1::ReportProgressRequest request;
    request.set_reader(reader);
    request.set_feed_id(store_->feed_id());
    request.set_applied_sequence(sequence);
    polku::v1::ReportProgressResponse response;
    return reports_->ReportProgress(&context, request, &response);
  }

  // Erases customer-42 of "demo" (after three of its events: sequence 4).
  grpc::Status Erase(polku::v1::EraseCustomerResponse& erased,
                     bool no_wait = false,
                     absl::Duration deadline = kWait) {
    grpc::ClientContext admin;
    rpc::AttachCaller({.tenant = "demo"}, admin);
    admin.set_deadline(absl::ToChronoTime(absl::Now() + deadline));
    polku::v1::EraseCustomerRequest erase;
    erase.set_customer("customer-42");
    erase.set_no_wait(no_wait);
    return stub_->EraseCustomer(&admin, erase, &erased);
  }

  grpc::Status GetReceipt(int64_t sequence, polku::v1::ErasureReceipt& receipt,
                          const std::string& tenant = "demo") {
    grpc::ClientContext admin;
    rpc::AttachCaller({.tenant = tenant}, admin);
    admin.set_deadline(absl::ToChronoTime(absl::Now() + kWait));
    polku::v1::GetErasureReceiptRequest request;
    request.set_sequence(sequence);
    return stub_->GetErasureReceipt(&admin, request, &receipt);
  }

  void SubmitThree() {
    SubmitEventsResponse response;
    ASSERT_TRUE(Submit({Event("e-1"), Event("e-2"), Event("e-3")}, response)
                    .ok());
  }

  // Bounded: until EraseCustomer waits on the receipts.
  bool AwaitWaiting() {
    for (int i = 0; i < 1000; ++i) {
      if (receipts->waiting() > 0) return true;
      absl::SleepFor(absl::Milliseconds(10));
    }
    return false;
  }

  FeedReaderServiceImpl reader_service_;
  std::unique_ptr<grpc::Server> reader_server_;
  std::unique_ptr<polku::v1::FeedReaderService::Stub> reports_;
};

TEST_F(ErasureReceiptTest, TheAnswerWaitsUntilEveryReaderHasAppliedIt) {
  SubmitThree();
  polku::v1::EraseCustomerResponse erased;
  grpc::Status status;
  std::thread erase([&] { status = Erase(erased); });
  ASSERT_TRUE(AwaitWaiting());
  // Progress before the erasure does not answer it.
  ASSERT_TRUE(Report("polku-insight", 3).ok());
  ASSERT_TRUE(Report("polku-cases", 4).ok());
  EXPECT_EQ(receipts->waiting(), 1);
  ASSERT_TRUE(Report("polku-insight", 4).ok());
  erase.join();
  ASSERT_TRUE(status.ok()) << status.error_message();
  EXPECT_EQ(erased.sequence(), 4);
  ASSERT_TRUE(erased.has_receipt());
  const polku::v1::ErasureReceipt& receipt = erased.receipt();
  EXPECT_TRUE(receipt.complete());
  EXPECT_EQ(receipt.sequence(), 4);
  ASSERT_EQ(receipt.readers_size(), 2);
  for (const auto& part : receipt.readers()) {
    EXPECT_TRUE(part.applied()) << part.reader();
    EXPECT_TRUE(part.has_confirmed_at()) << part.reader();
    EXPECT_EQ(part.applied_sequence(), 4);
  }
}

TEST_F(ErasureReceiptTest, ABoundedWaitNamesTheReaderBehindAndLaterItIsDone) {
  SubmitThree();
  ASSERT_TRUE(Report("polku-insight", 10).ok());
  const absl::Time start = absl::Now();
  polku::v1::EraseCustomerResponse erased;
  grpc::Status status = Erase(erased);
  ASSERT_TRUE(status.ok()) << status.error_message();
  // receipt_max_wait is 2 s here.
  EXPECT_GE(absl::Now() - start, absl::Seconds(2));
  ASSERT_TRUE(erased.has_receipt());
  EXPECT_FALSE(erased.receipt().complete());
  ASSERT_EQ(erased.receipt().readers_size(), 2);
  EXPECT_EQ(erased.receipt().readers(0).reader(), "polku-insight");
  EXPECT_TRUE(erased.receipt().readers(0).applied());
  EXPECT_EQ(erased.receipt().readers(1).reader(), "polku-cases");
  EXPECT_FALSE(erased.receipt().readers(1).applied());
  EXPECT_FALSE(erased.receipt().readers(1).has_reported_at());

  polku::v1::ErasureReceipt later;
  ASSERT_TRUE(GetReceipt(4, later).ok());
  EXPECT_FALSE(later.complete());
  ASSERT_TRUE(Report("polku-cases", 4).ok());
  ASSERT_TRUE(GetReceipt(4, later).ok());
  EXPECT_TRUE(later.complete());
  EXPECT_EQ(later.sequence(), 4);
}

TEST_F(ErasureReceiptTest, NoWaitAnswersAtOnceWithTheReceiptAsItStands) {
  SubmitThree();
  const absl::Time start = absl::Now();
  polku::v1::EraseCustomerResponse erased;
  ASSERT_TRUE(Erase(erased, /*no_wait=*/true).ok());
  EXPECT_LT(absl::Now() - start, absl::Seconds(2));
  ASSERT_TRUE(erased.has_receipt());
  EXPECT_FALSE(erased.receipt().complete());
  EXPECT_EQ(receipts->waiting(), 0);
}

// The wait ends a second (the margin) before the caller's deadline, so the
// receipt arrives instead of DEADLINE_EXCEEDED.
TEST_F(ErasureReceiptTest, TheWaitEndsBeforeTheCallersDeadline) {
  SubmitThree();
  polku::v1::EraseCustomerResponse erased;
  grpc::Status status =
      Erase(erased, /*no_wait=*/false, /*deadline=*/absl::Milliseconds(1500));
  ASSERT_TRUE(status.ok()) << status.error_message();
  ASSERT_TRUE(erased.has_receipt());
  EXPECT_FALSE(erased.receipt().complete());
}

TEST_F(ErasureReceiptTest, AReceiptIsOnlyOfTheCallersOwnErasure) {
  SubmitThree();
  polku::v1::EraseCustomerResponse erased;
  ASSERT_TRUE(Erase(erased, /*no_wait=*/true).ok());
  polku::v1::ErasureReceipt receipt;
  grpc::Status other = GetReceipt(4, receipt, "acme");
  EXPECT_EQ(other.error_code(), grpc::StatusCode::NOT_FOUND);
  EXPECT_THAT(other.error_message(), ::testing::HasSubstr("sequence"));
  // Sequence 2 was an event, not an erasure.
  EXPECT_EQ(GetReceipt(2, receipt).error_code(), grpc::StatusCode::NOT_FOUND);
  grpc::Status zero = GetReceipt(0, receipt);
  EXPECT_EQ(zero.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_THAT(zero.error_message(), ::testing::HasSubstr("sequence"));
}

TEST_F(ErasureReceiptTest, ReportsAreForReadersOfThisFeed) {
  // A tenant (the gateway's metadata) cannot report.
  EXPECT_EQ(Report("polku-cases", 1, "demo").error_code(),
            grpc::StatusCode::PERMISSION_DENIED);
  grpc::ClientContext context;
  context.set_deadline(absl::ToChronoTime(absl::Now() + kWait));
  polku::v1::ReportProgressRequest request;
  request.set_reader("polku-cases");
  request.set_feed_id("another-feed");
  request.set_applied_sequence(100);
  polku::v1::ReportProgressResponse response;
  grpc::Status other = reports_->ReportProgress(&context, request, &response);
  EXPECT_EQ(other.error_code(), grpc::StatusCode::FAILED_PRECONDITION);
  EXPECT_THAT(other.error_message(), ::testing::HasSubstr("feed_id"));
  EXPECT_EQ(receipts->Receipt(1).readers(1).applied_sequence(), 0);
}

TEST_F(FeedbackServiceTest, WithoutReadersThereIsNoReceiptToGet) {
  grpc::ClientContext admin;
  SetCaller(admin, "demo", "");
  polku::v1::GetErasureReceiptRequest request;
  request.set_sequence(1);
  polku::v1::ErasureReceipt receipt;
  grpc::Status status = stub_->GetErasureReceipt(&admin, request, &receipt);
  EXPECT_EQ(status.error_code(), grpc::StatusCode::FAILED_PRECONDITION);
  EXPECT_THAT(status.error_message(), ::testing::HasSubstr("--erasure_readers"));
}

}  // namespace
}  // namespace polku::feedback
