// TLS and mTLS through rpc::Server and rpc::MakeChannel, with a throwaway CA.
#include "lib/rpc/tls.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "grpc/health/v1/health.grpc.pb.h"
#include "lib/rpc/server.h"
#include "lib/rpc/testing/test_pki.h"

namespace polku::rpc {
namespace {

// ca.pem, then server.{pem,key} and client.{pem,key} (for 127.0.0.1 and
// localhost) signed by it; and rogue.{pem,key}, self-signed.
std::string MakeCertificates() {
  auto pki = testing::TestPki::Make({"server", "client"});
  EXPECT_TRUE(pki.ok()) << pki.status();
  return pki.ok() ? pki->dir() : "";
}

grpc::Status Check(const std::shared_ptr<grpc::Channel>& channel) {
  auto stub = grpc::health::v1::Health::NewStub(channel);
  grpc::ClientContext context;
  context.set_deadline(absl::ToChronoTime(absl::Now() + absl::Seconds(5)));
  grpc::health::v1::HealthCheckResponse response;
  return stub->Check(&context, {}, &response);
}

TEST(TlsTest, MutualTlsAcceptsOnlyClientsWithACertificateFromTheCa) {
  std::string dir = MakeCertificates();
  auto server = Server::Start({.name = "tls-test",
                               .listen_address = "127.0.0.1:0",
                               .tls = {.cert_file = dir + "/server.pem",
                                       .key_file = dir + "/server.key",
                                       .ca_file = dir + "/ca.pem"}});
  ASSERT_TRUE(server.ok()) << server.status();
  std::string address = absl::StrCat("127.0.0.1:", (*server)->port());

  auto good = MakeChannel(address, {.cert_file = dir + "/client.pem",
                                    .key_file = dir + "/client.key",
                                    .ca_file = dir + "/ca.pem"});
  ASSERT_TRUE(good.ok()) << good.status();
  EXPECT_TRUE(Check(*good).ok()) << Check(*good).error_message();

  // No client certificate, a certificate from another CA, or plaintext.
  auto anonymous = MakeChannel(address, {.ca_file = dir + "/ca.pem"});
  ASSERT_TRUE(anonymous.ok());
  EXPECT_EQ(Check(*anonymous).error_code(), grpc::StatusCode::UNAVAILABLE);
  auto rogue = MakeChannel(address, {.cert_file = dir + "/rogue.pem",
                                     .key_file = dir + "/rogue.key",
                                     .ca_file = dir + "/ca.pem"});
  ASSERT_TRUE(rogue.ok());
  EXPECT_EQ(Check(*rogue).error_code(), grpc::StatusCode::UNAVAILABLE);
  auto plaintext = MakeChannel(address, {});
  ASSERT_TRUE(plaintext.ok());
  EXPECT_EQ(Check(*plaintext).error_code(), grpc::StatusCode::UNAVAILABLE);
  (*server)->Shutdown();
}

TEST(TlsTest, ServerTlsWithoutClientCa) {
  std::string dir = MakeCertificates();
  auto server = Server::Start({.name = "tls-test",
                               .listen_address = "127.0.0.1:0",
                               .tls = {.cert_file = dir + "/server.pem",
                                       .key_file = dir + "/server.key"}});
  ASSERT_TRUE(server.ok()) << server.status();
  std::string address = absl::StrCat("127.0.0.1:", (*server)->port());
  auto verified = MakeChannel(address, {.ca_file = dir + "/ca.pem"});
  ASSERT_TRUE(verified.ok());
  EXPECT_TRUE(Check(*verified).ok());
  // A client that trusts another CA refuses the server.
  auto distrustful = MakeChannel(address, {.ca_file = dir + "/rogue.pem"});
  ASSERT_TRUE(distrustful.ok());
  EXPECT_EQ(Check(*distrustful).error_code(), grpc::StatusCode::UNAVAILABLE);
  (*server)->Shutdown();
}

TEST(TlsTest, MissingFilesAreNamed) {
  auto server = Server::Start({.name = "tls-test",
                               .listen_address = "127.0.0.1:0",
                               .tls = {.cert_file = "/nonexistent.pem",
                                       .key_file = "/nonexistent.key"}});
  EXPECT_EQ(server.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(server.status().message(),
              ::testing::HasSubstr("/nonexistent.pem"));
  auto channel = MakeChannel("127.0.0.1:1", {.ca_file = "/nonexistent-ca.pem"});
  EXPECT_THAT(channel.status().message(),
              ::testing::HasSubstr("/nonexistent-ca.pem"));
}

}  // namespace
}  // namespace polku::rpc
