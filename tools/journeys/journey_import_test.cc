#include "tools/journeys/journey_import.h"

#include <grpcpp/grpcpp.h>

#include <map>
#include <memory>

#include "absl/synchronization/mutex.h"
#include "gmock/gmock.h"
#include "google/protobuf/util/message_differencer.h"
#include "gtest/gtest.h"

namespace polku::tools {
namespace {

using ::testing::HasSubstr;
using ::testing::Not;

constexpr char kJourneyJson[] = R"({
  "key": "switching",
  "name": "Switching mobile operator",
  "stages": [{"key": "research", "name": "Research"}],
  "touchpoints": [{"key": "search_ad", "name": "Search ad", "stage": "research",
                   "channel": "web", "kind": "INTERACTION"}]
})";

TEST(ParseJourneyJson, ReadsAJourney) {
  auto journey = ParseJourneyJson(kJourneyJson, "a.json");
  ASSERT_TRUE(journey.ok()) << journey.status();
  EXPECT_EQ(journey->key(), "switching");
  ASSERT_EQ(journey->touchpoints_size(), 1);
  EXPECT_EQ(journey->touchpoints(0).kind(), v1::INTERACTION);
}

TEST(ParseJourneyJson, NamesTheFileAndTheUnknownField) {
  auto journey = ParseJourneyJson(R"({"key": "x", "stagez": []})", "typo.json");
  ASSERT_FALSE(journey.ok());
  EXPECT_THAT(journey.status().message(), HasSubstr("typo.json"));
  EXPECT_THAT(journey.status().message(), HasSubstr("stagez"));
}

TEST(ParseJourneyJson, RequiresAKey) {
  auto journey = ParseJourneyJson(R"({"name": "No key"})", "nokey.json");
  ASSERT_FALSE(journey.ok());
  EXPECT_THAT(journey.status().message(), HasSubstr("nokey.json"));
  EXPECT_THAT(journey.status().message(), HasSubstr("key"));
}

TEST(ReadJourneyFile, NamesTheUnreadableFile) {
  auto journey = ReadJourneyFile("/nonexistent/j.json");
  ASSERT_FALSE(journey.ok());
  EXPECT_THAT(journey.status().message(), HasSubstr("/nonexistent/j.json"));
}

// The journey service's create/publish contract, in memory.
class FakeJourneyService final : public v1::JourneyService::Service {
 public:
  grpc::Status CreateJourney(grpc::ServerContext* context,
                             const v1::CreateJourneyRequest* request,
                             v1::Journey* response) override {
    if (!Authorized(*context)) return {grpc::UNAUTHENTICATED, "bad key"};
    absl::MutexLock lock(&mu_);
    const std::string& key = request->journey().key();
    if (drafts_.count(key)) return {grpc::ALREADY_EXISTS, "journey exists"};
    drafts_[key] = request->journey();
    changed_[key] = true;
    *response = request->journey();
    return grpc::Status::OK;
  }
  grpc::Status UpdateDraft(grpc::ServerContext* context,
                           const v1::UpdateDraftRequest* request,
                           v1::Journey* response) override {
    if (!Authorized(*context)) return {grpc::UNAUTHENTICATED, "bad key"};
    absl::MutexLock lock(&mu_);
    const std::string& key = request->journey().key();
    auto draft = drafts_.find(key);
    if (draft == drafts_.end()) return {grpc::NOT_FOUND, "no journey"};
    if (draft->second.SerializeAsString() !=
        request->journey().SerializeAsString()) {
      changed_[key] = true;
    }
    draft->second = request->journey();
    *response = draft->second;
    return grpc::Status::OK;
  }
  grpc::Status GetJourneyVersion(grpc::ServerContext* context,
                                 const v1::GetJourneyVersionRequest* request,
                                 v1::Journey* response) override {
    if (!Authorized(*context)) return {grpc::UNAUTHENTICATED, "bad key"};
    absl::MutexLock lock(&mu_);
    auto draft = drafts_.find(request->key());
    if (draft == drafts_.end()) return {grpc::NOT_FOUND, "no journey"};
    *response = draft->second;
    response->set_state(v1::DRAFT);
    return grpc::Status::OK;
  }
  grpc::Status PublishJourney(grpc::ServerContext* context,
                              const v1::PublishJourneyRequest* request,
                              v1::Journey* response) override {
    if (!Authorized(*context)) return {grpc::UNAUTHENTICATED, "bad key"};
    absl::MutexLock lock(&mu_);
    auto draft = drafts_.find(request->key());
    if (draft == drafts_.end()) return {grpc::NOT_FOUND, "no journey"};
    if (!changed_[request->key()]) {
      return {grpc::FAILED_PRECONDITION, "draft unchanged since the last publish"};
    }
    changed_[request->key()] = false;
    *response = draft->second;
    response->set_version(++versions_[request->key()]);
    response->set_state(v1::PUBLISHED);
    return grpc::Status::OK;
  }
  grpc::Status GetJourney(grpc::ServerContext* context,
                          const v1::GetJourneyRequest* request,
                          v1::Journey* response) override {
    if (!Authorized(*context)) return {grpc::UNAUTHENTICATED, "bad key"};
    absl::MutexLock lock(&mu_);
    auto draft = drafts_.find(request->key());
    if (draft == drafts_.end()) return {grpc::NOT_FOUND, "no journey"};
    *response = draft->second;
    response->set_version(versions_[request->key()]);
    response->set_state(versions_[request->key()] > 0 ? v1::PUBLISHED : v1::DRAFT);
    return grpc::Status::OK;
  }

 private:
  static bool Authorized(const grpc::ServerContext& context) {
    auto it = context.client_metadata().find("authorization");
    return it != context.client_metadata().end() && it->second == "Bearer admin-1";
  }
  absl::Mutex mu_;
  std::map<std::string, v1::Journey> drafts_ ABSL_GUARDED_BY(mu_);
  std::map<std::string, int> versions_ ABSL_GUARDED_BY(mu_);
  std::map<std::string, bool> changed_ ABSL_GUARDED_BY(mu_);
};

class ImportJourneyTest : public ::testing::Test {
 protected:
  void SetUp() override {
    grpc::ServerBuilder builder;
    int port = 0;
    builder.AddListeningPort("127.0.0.1:0", grpc::InsecureServerCredentials(), &port);
    builder.RegisterService(&service_);
    server_ = builder.BuildAndStart();
    ASSERT_NE(port, 0);
    stub_ = v1::JourneyService::NewStub(grpc::CreateChannel(
        "127.0.0.1:" + std::to_string(port), grpc::InsecureChannelCredentials()));
  }
  void TearDown() override { server_->Shutdown(); }

  FakeJourneyService service_;
  std::unique_ptr<grpc::Server> server_;
  std::unique_ptr<v1::JourneyService::Stub> stub_;
};

TEST_F(ImportJourneyTest, CreatesAndPublishesThenIsSafeToRepeat) {
  auto journey = ParseJourneyJson(kJourneyJson, "a.json");
  ASSERT_TRUE(journey.ok());

  auto first = ImportJourney(*stub_, "admin-1", *journey);
  ASSERT_TRUE(first.ok()) << first.status();
  EXPECT_TRUE(first->created);
  EXPECT_TRUE(first->published);
  EXPECT_EQ(first->version, 1);
  EXPECT_EQ(DescribeImport("a.json", *first),
            "a.json: journey \"switching\" created, published as version 1");

  auto second = ImportJourney(*stub_, "admin-1", *journey);
  ASSERT_TRUE(second.ok()) << second.status();
  EXPECT_FALSE(second->created);
  EXPECT_FALSE(second->published);
  EXPECT_EQ(second->version, 1);
  EXPECT_EQ(DescribeImport("a.json", *second),
            "a.json: journey \"switching\" already exists, draft unchanged, "
            "already published (version 1)");
}

TEST_F(ImportJourneyTest, AnEditedFileUpdatesTheDraftAndPublishesIt) {
  auto journey = ParseJourneyJson(kJourneyJson, "a.json");
  ASSERT_TRUE(journey.ok());
  ASSERT_TRUE(ImportJourney(*stub_, "admin-1", *journey).ok());
  journey->set_name("Switching operator");
  auto second = ImportJourney(*stub_, "admin-1", *journey);
  ASSERT_TRUE(second.ok()) << second.status();
  EXPECT_TRUE(second->updated);
  EXPECT_TRUE(second->published);
  EXPECT_EQ(second->version, 2);
  EXPECT_EQ(DescribeImport("a.json", *second),
            "a.json: journey \"switching\" already exists, draft updated, "
            "published as version 2");

  // Without publishing, the file lands in the draft only.
  journey->set_name("Third");
  auto draft_only = ImportJourney(*stub_, "admin-1", *journey,
                                  {.publish = false});
  ASSERT_TRUE(draft_only.ok()) << draft_only.status();
  EXPECT_FALSE(draft_only->published);
  EXPECT_EQ(DescribeImport("a.json", *draft_only),
            "a.json: journey \"switching\" already exists, draft updated, "
            "not published");
}

// A file read and written back says the same, for every shipped journey.
TEST(FormatJourneyJson, RoundTripsEveryExample) {
  for (const char* name : {"home-renovation", "switching-mobile-operator",
                           "generic-customer-journey"}) {
    const std::string path =
        std::string(POLKU_EXAMPLE_JOURNEYS_DIR) + "/" + name + ".json";
    auto journey = ReadJourneyFile(path);
    ASSERT_TRUE(journey.ok()) << journey.status();
    auto again = ParseJourneyJson(FormatJourneyJson(*journey), "exported");
    ASSERT_TRUE(again.ok()) << again.status();
    EXPECT_TRUE(google::protobuf::util::MessageDifferencer::Equals(*journey,
                                                                   *again))
        << name;
  }
}

TEST(FormatJourneyJson, LeavesOutWhatTheServerSets) {
  auto journey = ParseJourneyJson(kJourneyJson, "a.json");
  ASSERT_TRUE(journey.ok());
  v1::Journey stored = *journey;
  stored.set_version(3);
  stored.set_state(v1::PUBLISHED);
  stored.mutable_publish_time()->set_seconds(1'700'000'000);
  stored.set_archived(true);
  stored.mutable_touchpoints(0)->add_former_keys("old_ad");
  stored.mutable_touchpoints(0)->set_replaces("old_ad");
  const std::string json = FormatJourneyJson(stored);
  EXPECT_THAT(json, Not(HasSubstr("version")));
  EXPECT_THAT(json, Not(HasSubstr("publishTime")));
  EXPECT_THAT(json, Not(HasSubstr("formerKeys")));
  EXPECT_THAT(json, HasSubstr("\"replaces\": \"old_ad\""));
  auto again = ParseJourneyJson(json, "exported");
  ASSERT_TRUE(again.ok());
  journey->mutable_touchpoints(0)->set_replaces("old_ad");
  EXPECT_TRUE(
      google::protobuf::util::MessageDifferencer::Equals(*journey, *again));
}

TEST_F(ImportJourneyTest, ReportsAWrongKey) {
  auto journey = ParseJourneyJson(kJourneyJson, "a.json");
  ASSERT_TRUE(journey.ok());
  auto outcome = ImportJourney(*stub_, "wrong", *journey);
  ASSERT_FALSE(outcome.ok());
  EXPECT_EQ(outcome.status().code(), absl::StatusCode::kUnauthenticated);
  EXPECT_THAT(outcome.status().message(), HasSubstr("UNAUTHENTICATED"));
}

}  // namespace
}  // namespace polku::tools
