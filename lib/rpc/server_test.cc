#include "lib/rpc/server.h"

#include <grpcpp/create_channel.h>
#include <grpcpp/generic/generic_stub.h>
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

TEST(ServerTest, HealthListenerServesOnlyHealthWithTheSameStatuses) {
  auto server = Server::Start({.name = "test",
                               .listen_address = "127.0.0.1:0",
                               .health_listen_address = "127.0.0.1:0"});
  ASSERT_TRUE(server.ok()) << server.status();
  ASSERT_GT((*server)->health_port(), 0);
  ASSERT_NE((*server)->health_port(), (*server)->port());
  auto channel = grpc::CreateChannel(absl::StrCat("127.0.0.1:", (*server)->health_port()),
                                     grpc::InsecureChannelCredentials());
  auto stub = Health::NewStub(channel);
  grpc::Status status;
  EXPECT_EQ(Check(*stub, "", &status), HealthCheckResponse::SERVING);
  EXPECT_TRUE(status.ok()) << status.error_message();
  (*server)->SetServing("polku.v1.Thing", false);
  EXPECT_EQ(Check(*stub, "polku.v1.Thing", &status), HealthCheckResponse::NOT_SERVING);
  (*server)->SetServing("polku.v1.Thing", true);
  EXPECT_EQ(Check(*stub, "polku.v1.Thing", &status), HealthCheckResponse::SERVING);

  // Nothing but health: reflection (served on the main port) is not there.
  grpc::GenericStub generic(channel);
  grpc::ClientContext context;
  context.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(5));
  grpc::CompletionQueue queue;
  grpc::ByteBuffer request;
  auto call = generic.PrepareUnaryCall(
      &context, "/grpc.reflection.v1alpha.ServerReflection/ServerReflectionInfo", request,
      &queue);
  call->StartCall();
  grpc::ByteBuffer response;
  grpc::Status reflection;
  call->Finish(&response, &reflection, reinterpret_cast<void*>(1));
  void* tag;
  bool ok;
  ASSERT_TRUE(queue.Next(&tag, &ok));
  EXPECT_EQ(reflection.error_code(), grpc::StatusCode::UNIMPLEMENTED);

  // A drain turns the health listener NOT_SERVING with the main port.
  std::thread shutdown([&server] { (*server)->Shutdown(); });
  shutdown.join();
}

TEST(ServerTest, BackendRefusesPlaintextBeyondLoopbackUnlessTold) {
  auto refused = Server::Start({.name = "polku-feedback", .listen_address = "0.0.0.0:0"});
  ASSERT_FALSE(refused.ok());
  EXPECT_EQ(refused.status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_NE(refused.status().message().find(
                "polku-feedback: refusing to listen on 0.0.0.0:0 without mTLS"),
            std::string::npos)
      << refused.status();
  EXPECT_NE(refused.status().message().find("--plaintext_beyond_loopback"),
            std::string::npos);

  auto told = Server::Start({.name = "polku-feedback",
                             .listen_address = "0.0.0.0:0",
                             .plaintext_beyond_loopback = true});
  EXPECT_TRUE(told.ok()) << told.status();
  // The gateway's public listener holds API keys, not tenant headers.
  auto gateway = Server::Start(
      {.name = "polku-gateway", .listen_address = "0.0.0.0:0", .public_endpoint = true});
  EXPECT_TRUE(gateway.ok()) << gateway.status();
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
