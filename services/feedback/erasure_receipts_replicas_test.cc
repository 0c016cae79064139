// Erasure receipts with several polku-feedback replicas on one PostgreSQL
// database (a server the test starts): a reader reports to whichever
// replica its feed stream is on, and the replica that waits in
// EraseCustomer must still hear of it, through the store.
#include <grpcpp/grpcpp.h>
#include <gtest/gtest.h>

#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "lib/base/clock.h"
#include "lib/base/executor.h"
#include "lib/postgres/testing/shared_server.h"
#include "lib/rpc/metadata.h"
#include "polku/v1/feed_readers.grpc.pb.h"
#include "polku/v1/feedback.grpc.pb.h"
#include "services/feedback/erasure_receipts.h"
#include "services/feedback/event_store_test_util.h"
#include "services/feedback/feed_reader_service.h"
#include "services/feedback/feedback_service.h"
#include "services/feedback/pg_event_store.h"
#include "services/feedback/test_journeys.h"

namespace polku::feedback {
namespace {

constexpr absl::Duration kWait = absl::Seconds(20);
const std::vector<std::string> kReaders = {"polku-insight", "polku-cases"};

// One polku-feedback replica, wired as main.cc wires it: its own store
// connections, receipts reading every replica's progress from the store,
// FeedbackService and FeedReaderService on a real gRPC server.
class Replica {
 public:
  explicit Replica(const std::string& url) {
    auto store =
        PgEventStore::Open(url, CustomerHasher(testing::TestSecret()), {});
    EXPECT_TRUE(store.ok()) << store.status();
    if (!store.ok()) return;
    store_ = *std::move(store);
    receipts_ = std::make_unique<ErasureReceipts>(
        kReaders, [this] { return store_->feed_id(); }, Clock::Real());
    receipts_->SetProgressSource(
        [this] { return store_->ReadReaderProgress(); },
        absl::Milliseconds(250));
    receipts_->StartTimer();
    index_.Reset(testing::DemoJourneys().journeys());
    service_ = std::make_unique<FeedbackServiceImpl>(
        *store_, index_, executor_, Clock::Real(),
        FeedbackServiceOptions{.receipts = receipts_.get(),
                               .receipt_max_wait = kWait});
    readers_ = std::make_unique<FeedReaderServiceImpl>(*receipts_,
                                                       store_.get(), &executor_);
    grpc::ServerBuilder builder;
    int port = 0;
    builder.AddListeningPort("127.0.0.1:0", grpc::InsecureServerCredentials(),
                             &port);
    builder.RegisterService(service_.get());
    builder.RegisterService(readers_.get());
    server_ = builder.BuildAndStart();
    auto channel = grpc::CreateChannel(absl::StrCat("127.0.0.1:", port),
                                       grpc::InsecureChannelCredentials());
    feedback_ = polku::v1::FeedbackService::NewStub(channel);
    reports_ = polku::v1::FeedReaderService::NewStub(channel);
  }

  ~Replica() {
    if (server_ != nullptr) {
      server_->Shutdown(std::chrono::system_clock::now() +
                        std::chrono::seconds(1));
    }
    if (store_ != nullptr) store_->Stop();
  }

  bool ok() const { return server_ != nullptr; }
  ErasureReceipts& receipts() { return *receipts_; }
  const std::string& feed_id() const { return store_->feed_id(); }

  grpc::Status Report(const std::string& reader, const std::string& feed_id,
                      int64_t sequence) {
    grpc::ClientContext context;
    context.set_deadline(absl::ToChronoTime(absl::Now() + kWait));
    polku::v1::ReportProgressRequest request;
    request.set_reader(reader);
    request.set_feed_id(feed_id);
    request.set_applied_sequence(sequence);
    polku::v1::ReportProgressResponse response;
    return reports_->ReportProgress(&context, request, &response);
  }

  grpc::Status Erase(const std::string& customer,
                     polku::v1::EraseCustomerResponse& erased) {
    grpc::ClientContext context;
    rpc::AttachCaller({.tenant = "demo"}, context);
    context.set_deadline(absl::ToChronoTime(absl::Now() + 2 * kWait));
    polku::v1::EraseCustomerRequest request;
    request.set_customer(customer);
    return feedback_->EraseCustomer(&context, request, &erased);
  }

  grpc::Status GetReceipt(int64_t sequence,
                          polku::v1::ErasureReceipt& receipt) {
    grpc::ClientContext context;
    rpc::AttachCaller({.tenant = "demo"}, context);
    context.set_deadline(absl::ToChronoTime(absl::Now() + kWait));
    polku::v1::GetErasureReceiptRequest request;
    request.set_sequence(sequence);
    return feedback_->GetErasureReceipt(&context, request, &receipt);
  }

 private:
  Executor executor_{2};
  TouchpointIndex index_;
  std::unique_ptr<PgEventStore> store_;
  std::unique_ptr<ErasureReceipts> receipts_;
  std::unique_ptr<FeedbackServiceImpl> service_;
  std::unique_ptr<FeedReaderServiceImpl> readers_;
  std::unique_ptr<grpc::Server> server_;
  std::unique_ptr<polku::v1::FeedbackService::Stub> feedback_;
  std::unique_ptr<polku::v1::FeedReaderService::Stub> reports_;
};

TEST(ErasureReceiptReplicasTest, AReportToOneReplicaAnswersTheWaitOnAnother) {
  auto url = postgres::testing::NewDatabase();
  ASSERT_TRUE(url.ok()) << url.status();
  Replica a(*url), b(*url);
  ASSERT_TRUE(a.ok() && b.ok());
  ASSERT_EQ(a.feed_id(), b.feed_id());

  // The erasure is the feed's first entry: sequence 1.
  polku::v1::EraseCustomerResponse erased;
  grpc::Status status;
  absl::Time answered_at;
  const absl::Time started = absl::Now();
  std::thread erase([&] {
    status = b.Erase("customer-42", erased);
    answered_at = absl::Now();
  });
  // Bounded: until B waits for the readers.
  for (int i = 0; i < 2000 && b.receipts().waiting() == 0; ++i) {
    absl::SleepFor(absl::Milliseconds(10));
  }
  ASSERT_EQ(b.receipts().waiting(), 1);
  // Both readers' streams are on A.
  ASSERT_TRUE(a.Report("polku-insight", a.feed_id(), 1).ok());
  ASSERT_TRUE(a.Report("polku-cases", a.feed_id(), 1).ok());
  erase.join();
  ASSERT_TRUE(status.ok()) << status.error_message();
  EXPECT_EQ(erased.sequence(), 1);
  ASSERT_TRUE(erased.has_receipt());
  EXPECT_TRUE(erased.receipt().complete());
  for (const auto& part : erased.receipt().readers()) {
    EXPECT_TRUE(part.applied()) << part.reader();
    EXPECT_EQ(part.applied_sequence(), 1) << part.reader();
    EXPECT_TRUE(part.has_confirmed_at()) << part.reader();
  }
  // By the store, not by the end of the wait (kWait).
  EXPECT_LT(answered_at - started, kWait / 2);

  // A replica started afterwards, which heard no report at all, answers
  // the receipt from the store.
  Replica c(*url);
  ASSERT_TRUE(c.ok());
  polku::v1::ErasureReceipt receipt;
  status = c.GetReceipt(1, receipt);
  ASSERT_TRUE(status.ok()) << status.error_message();
  EXPECT_TRUE(receipt.complete());
}

}  // namespace
}  // namespace polku::feedback
