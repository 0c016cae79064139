#include "lib/rpc/server.h"

#include <grpcpp/create_channel.h>
#include <grpcpp/security/credentials.h>

#include <thread>

#include "absl/strings/str_cat.h"

#include "gtest/gtest.h"
#include "lib/rpc/status.h"
#include "grpc/health/v1/health.grpc.pb.h"

namespace polku::rpc {
namespace {

using grpc::health::v1::Health;
using grpc::health::v1::HealthCheckRequest;
using grpc::health::v1::HealthCheckResponse;

HealthCheckResponse::ServingStatus Check(Health::Stub& stub, const std::string& service,
                                         grpc::Status* status) {
  grpc::ClientContext context;
  context.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(5));
  HealthCheckRequest request;
  request.set_service(service);
  HealthCheckResponse response;
  *status = stub.Check(&context, request, &response);
  return response.status();
}

TEST(ServerTest, ServesHealthAndFlipsServicesOnRequest) {
  auto server = Server::Start({.name = "test", .listen_address = "127.0.0.1:0"});
  ASSERT_TRUE(server.ok()) << server.status();
  ASSERT_GT((*server)->port(), 0);
  auto channel = grpc::CreateChannel(absl::StrCat("127.0.0.1:", (*server)->port()),
                                     grpc::InsecureChannelCredentials());
  auto stub = Health::NewStub(channel);
  grpc::Status status;
  EXPECT_EQ(Check(*stub, "", &status), HealthCheckResponse::SERVING);
  EXPECT_TRUE(status.ok());

  (*server)->SetServing("polku.v1.Thing", false);
  EXPECT_EQ(Check(*stub, "polku.v1.Thing", &status), HealthCheckResponse::NOT_SERVING);
  (*server)->SetServing("polku.v1.Thing", true);
  EXPECT_EQ(Check(*stub, "polku.v1.Thing", &status), HealthCheckResponse::SERVING);
}

TEST(ServerTest, ShutdownRequestRunsDrainHookAndReturns) {
  bool drained = false;
  auto server = Server::Start({.name = "test",
                               .listen_address = "127.0.0.1:0",
                               .on_drain = [&drained] { drained = true; }});
  ASSERT_TRUE(server.ok()) << server.status();
  std::thread signaller([] { Server::RequestShutdown(); });
  (*server)->WaitForShutdownSignal();
  signaller.join();
  EXPECT_TRUE(drained);
}

TEST(ServerTest, BusyAddressIsAClearError) {
  auto first = Server::Start({.name = "first", .listen_address = "127.0.0.1:0"});
  ASSERT_TRUE(first.ok());
  auto second = Server::Start(
      {.name = "second", .listen_address = absl::StrCat("127.0.0.1:", (*first)->port())});
  ASSERT_FALSE(second.ok());
  EXPECT_EQ(second.status().code(), absl::StatusCode::kUnavailable);
  EXPECT_NE(second.status().message().find("cannot listen on 127.0.0.1:"), std::string::npos);
}

TEST(StatusTest, CodesMapOneToOne) {
  absl::Status status = absl::InvalidArgumentError("events[0].csat: must be 1-5");
  grpc::Status grpc_status = ToGrpcStatus(status);
  EXPECT_EQ(grpc_status.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_EQ(grpc_status.error_message(), "events[0].csat: must be 1-5");
  EXPECT_EQ(FromGrpcStatus(grpc_status), status);
  EXPECT_TRUE(ToGrpcStatus(absl::OkStatus()).ok());
  EXPECT_EQ(ToGrpcStatus(absl::ResourceExhaustedError("x")).error_code(),
            grpc::StatusCode::RESOURCE_EXHAUSTED);
}

TEST(IsLoopbackAddressTest, OnlyLoopbackHosts) {
  EXPECT_TRUE(IsLoopbackAddress("127.0.0.1:7101"));
  EXPECT_TRUE(IsLoopbackAddress("127.1.2.3:0"));
  EXPECT_TRUE(IsLoopbackAddress("[::1]:7101"));
  EXPECT_TRUE(IsLoopbackAddress("localhost:7101"));
  EXPECT_FALSE(IsLoopbackAddress("0.0.0.0:7101"));
  EXPECT_FALSE(IsLoopbackAddress("[::]:7101"));
  EXPECT_FALSE(IsLoopbackAddress("10.0.0.5:7101"));
}

}  // namespace
}  // namespace polku::rpc
