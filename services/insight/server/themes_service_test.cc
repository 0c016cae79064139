// ThemesService over gRPC on every backend: the caller's tenant only, an
// erased customer's comments gone from themes and examples, errors naming
// the field.
#include "services/insight/server/themes_service.h"

#include <grpcpp/create_channel.h>
#include <grpcpp/security/credentials.h>
#include <grpcpp/security/server_credentials.h>
#include <grpcpp/server.h>
#include <grpcpp/server_builder.h>

#include <memory>
#include <string>

#include "absl/strings/str_cat.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "lib/rpc/metadata.h"
#include "services/insight/analytics/themes.h"
#include "services/insight/store/rollup_conformance_util.h"

namespace polku::insight {
namespace {

using ::testing::HasSubstr;
using testing::Backend;
using testing::MakeEvent;

const text::Analyzer& SharedAnalyzer() {
  static const text::Analyzer* analyzer = [] {
    absl::StatusOr<std::unique_ptr<text::Analyzer>> made =
        text::Analyzer::Create({});
    EXPECT_TRUE(made.ok()) << made.status();
    return made->release();
  }();
  return *analyzer;
}

// The term the build's analyser gives one Finnish word: Voikko's lemma, or
// with POLKU_VOIKKO=OFF the Snowball stem (the fallback).
std::string FinnishTerm(const std::string& word) {
  absl::StatusOr<text::CommentAnalysis> a =
      SharedAnalyzer().Analyze(word, text::Language::kFinnish);
  EXPECT_TRUE(a.ok() && !a->terms.empty()) << word;
  return a.ok() && !a->terms.empty() ? a->terms.front().lemma : "";
}

class ThemesServiceTest : public ::testing::TestWithParam<Backend> {
 protected:
  void SetUp() override {
    db_ = testing::TestDatabase::Create(GetParam());
    ASSERT_NE(db_, nullptr);
    store_ = db_->Open();
    google::protobuf::RepeatedPtrField<v1::StoredEvent> page;
    auto add = [&](const std::string& tenant, const std::string& customer,
                   const std::string& comment, int nps) {
      v1::StoredEvent event = MakeEvent({.sequence = ++sequence_,
                                         .tenant = tenant,
                                         .touchpoint = "delivery",
                                         .offset_seconds = sequence_,
                                         .nps = nps,
                                         .customer_hash = customer});
      event.mutable_event()->set_comment(comment);
      event.mutable_event()->set_language("fi");
      *page.Add() = event;
    };
    for (int k = 0; k < 20; ++k) {
      add("acme", absl::StrCat("c", k), "Toimitus oli myöhässä.", k % 5);
      add("acme", absl::StrCat("n", k), "Hinta oli kohtuullinen.", 9);
      add("acme", absl::StrCat("n", k), "Hinta oli hyvä.", 10);
    }
    // One customer's complaints about the courier, erased in the tests.
    for (int k = 0; k < 6; ++k) {
      add("acme", "x", "Kuriiri heitti paketin aidan yli.", 1);
    }
    for (int k = 0; k < 8; ++k) {
      add("globex", absl::StrCat("g", k), "Sovellus kaatui taas.", 2);
    }
    ASSERT_TRUE(store_->Apply(page).ok());

    index_ = std::make_unique<ThemeIndex>(*store_, *store_, SharedAnalyzer());
    service_ = std::make_unique<ThemesServiceImpl>(
        executor_, ThemesServiceImpl::Options{.index = index_.get()});
    grpc::ServerBuilder builder;
    int port = 0;
    builder.AddListeningPort("127.0.0.1:0", grpc::InsecureServerCredentials(),
                             &port);
    builder.RegisterService(service_.get());
    server_ = builder.BuildAndStart();
    ASSERT_NE(server_, nullptr);
    stub_ = v1::ThemesService::NewStub(
        grpc::CreateChannel("127.0.0.1:" + std::to_string(port),
                            grpc::InsecureChannelCredentials()));
  }

  void TearDown() override {
    if (server_ != nullptr) server_->Shutdown();
  }

  grpc::Status GetThemes(const std::string& tenant,
                         const v1::GetThemesRequest& request,
                         v1::Themes& response) {
    grpc::ClientContext context;
    context.set_deadline(std::chrono::system_clock::now() +
                         std::chrono::seconds(20));
    if (!tenant.empty()) context.AddMetadata(rpc::kTenantHeader, tenant);
    return stub_->GetThemes(&context, request, &response);
  }

  grpc::Status Examples(const std::string& tenant,
                        const v1::ListThemeExamplesRequest& request,
                        v1::ListThemeExamplesResponse& response) {
    grpc::ClientContext context;
    context.set_deadline(std::chrono::system_clock::now() +
                         std::chrono::seconds(20));
    if (!tenant.empty()) context.AddMetadata(rpc::kTenantHeader, tenant);
    return stub_->ListThemeExamples(&context, request, &response);
  }

  static v1::GetThemesRequest Request() {
    v1::GetThemesRequest request;
    request.mutable_scope()->set_journey("switching");
    request.set_min_count(3);
    return request;
  }

  static v1::ListThemeExamplesRequest ExamplesOf(const std::string& term) {
    v1::ListThemeExamplesRequest request;
    request.mutable_scope()->set_journey("switching");
    request.set_theme_id(ThemeId(term));
    return request;
  }

  static const v1::Theme* Find(const v1::Themes& themes,
                               const std::string& term) {
    for (const v1::Theme& t : themes.themes()) {
      if (t.term() == term) return &t;
    }
    return nullptr;
  }

  int64_t sequence_ = 0;
  std::unique_ptr<testing::TestDatabase> db_;
  std::unique_ptr<RollupStore> store_;
  Executor executor_{2};
  std::unique_ptr<ThemeIndex> index_;
  std::unique_ptr<ThemesServiceImpl> service_;
  std::unique_ptr<grpc::Server> server_;
  std::unique_ptr<v1::ThemesService::Stub> stub_;
};

TEST_P(ThemesServiceTest, RanksTheCallersComplaints) {
  v1::Themes themes;
  ASSERT_TRUE(GetThemes("acme", Request(), themes).ok());
  EXPECT_EQ(themes.comments(), 66);
  EXPECT_EQ(themes.low_comments(), 26);
  // The complaint's three terms, in every complaint: equal z, ties in
  // bytewise order of the term.
  ASSERT_GE(themes.themes_size(), 3);
  // Voikko's "myöhä" for "myöhässä"; without Voikko its Snowball stem.
  const std::string late = FinnishTerm("myöhässä");
  EXPECT_EQ(themes.themes(0).term(), late);
  EXPECT_EQ(themes.themes(1).term(), "toimitus");
  EXPECT_EQ(themes.themes(2).term(), "toimitus " + late);
  EXPECT_EQ(themes.themes(1).id(), ThemeId("toimitus"));
  EXPECT_EQ(themes.themes(1).count(), 20);
  EXPECT_GT(themes.themes(1).z(), 0);
  EXPECT_EQ(themes.themes(1).z(), themes.themes(2).z());
  EXPECT_NE(Find(themes, FinnishTerm("Kuriiri")), nullptr);
  EXPECT_EQ(Find(themes, "sovellus"), nullptr);  // globex's
  EXPECT_EQ(themes.as_of_sequence(), sequence_);
  v1::ListThemeExamplesResponse examples;
  ASSERT_TRUE(Examples("acme", ExamplesOf("toimitus"), examples).ok());
  ASSERT_EQ(examples.examples_size(), 10);
  EXPECT_EQ(examples.next_page_token(), "o10");
  const v1::ThemeExample& first = examples.examples(0);
  EXPECT_EQ(first.comment(), "Toimitus oli myöhässä.");
  ASSERT_EQ(first.spans_size(), 1);
  EXPECT_EQ(first.spans(0).begin(), 0);
  EXPECT_EQ(first.spans(0).end(), 8);
  EXPECT_EQ(first.touchpoint(), "delivery");
  EXPECT_TRUE(first.has_nps());
  // Never the customer: the example has no such field, and its bytes do not
  // carry the hash.
  EXPECT_EQ(first.SerializeAsString().find("c1"), std::string::npos);
}

TEST_P(ThemesServiceTest, ErasedCustomersCommentsAreGone) {
  v1::Erasure erasure;
  erasure.set_sequence(++sequence_);
  erasure.set_tenant("acme");
  erasure.set_customer_hash("x");
  v1::Themes before;
  ASSERT_TRUE(GetThemes("acme", Request(), before).ok());
  const std::string kuriiri = FinnishTerm("Kuriiri");
  ASSERT_NE(Find(before, kuriiri), nullptr);
  ASSERT_TRUE(store_->ApplyErasure(erasure).ok());
  v1::Themes themes;
  ASSERT_TRUE(GetThemes("acme", Request(), themes).ok());
  EXPECT_EQ(themes.comments(), 60);
  EXPECT_EQ(themes.low_comments(), 20);
  EXPECT_EQ(Find(themes, kuriiri), nullptr);
  EXPECT_EQ(themes.as_of_sequence(), sequence_);
  v1::ListThemeExamplesResponse examples;
  ASSERT_TRUE(Examples("acme", ExamplesOf(kuriiri), examples).ok());
  EXPECT_EQ(examples.examples_size(), 0);
}

TEST_P(ThemesServiceTest, AnotherTenantGetsNothingOfIt) {
  v1::Themes themes;
  ASSERT_TRUE(GetThemes("globex", Request(), themes).ok());
  EXPECT_EQ(themes.comments(), 8);
  EXPECT_EQ(Find(themes, "toimitus"), nullptr);
  v1::ListThemeExamplesResponse examples;
  ASSERT_TRUE(Examples("globex", ExamplesOf("toimitus"), examples).ok());
  EXPECT_EQ(examples.examples_size(), 0);
  ASSERT_TRUE(GetThemes("initech", Request(), themes).ok());
  EXPECT_EQ(themes.comments(), 0);
  EXPECT_EQ(themes.themes_size(), 0);
}

TEST_P(ThemesServiceTest, WithoutTenantIsUnauthenticated) {
  v1::Themes themes;
  EXPECT_EQ(GetThemes("", Request(), themes).error_code(),
            grpc::StatusCode::UNAUTHENTICATED);
  v1::ListThemeExamplesResponse examples;
  EXPECT_EQ(Examples("", ExamplesOf("toimitus"), examples).error_code(),
            grpc::StatusCode::UNAUTHENTICATED);
}

TEST_P(ThemesServiceTest, BadInputIsInvalidArgumentNamingTheField) {
  v1::Themes themes;
  v1::GetThemesRequest request = Request();
  request.mutable_scope()->clear_journey();
  grpc::Status status = GetThemes("acme", request, themes);
  EXPECT_EQ(status.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_THAT(status.error_message(), HasSubstr("scope.journey"));
  request = Request();
  request.set_max_themes(1000);
  status = GetThemes("acme", request, themes);
  EXPECT_EQ(status.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_THAT(status.error_message(), HasSubstr("max_themes"));
  v1::ListThemeExamplesResponse examples;
  v1::ListThemeExamplesRequest bad = ExamplesOf("toimitus");
  bad.set_theme_id("toimitus");
  status = Examples("acme", bad, examples);
  EXPECT_EQ(status.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_THAT(status.error_message(), HasSubstr("theme_id"));
}

INSTANTIATE_TEST_SUITE_P(Backends, ThemesServiceTest, testing::AllBackends(),
                         testing::BackendName);

}  // namespace
}  // namespace polku::insight
