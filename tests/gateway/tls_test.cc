// The suite with TLS switched on: a throwaway CA made with the openssl
// command-line tool, mTLS between every service, TLS on the gateway's public
// gRPC and HTTP listeners.
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <httplib.h>
#include <stdlib.h>

#include <cstdlib>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "grpc/health/v1/health.grpc.pb.h"
#include "lib/rpc/tls.h"
#include "polku/v1/journey.grpc.pb.h"
#include "tests/harness/suite.h"

namespace polku {
namespace {

using ::polku::testing::Suite;

// ca.pem; server.pem/.key for 127.0.0.1 signed by it; rogue.pem/.key
// self-signed.
std::string MakeCertificates() {
  std::string dir = ::testing::TempDir() + "/polku_suite_tls_XXXXXX";
  EXPECT_NE(mkdtemp(dir.data()), nullptr);
  std::string script = absl::StrCat(
      "set -e; cd '", dir, "';",
      "openssl req -x509 -newkey rsa:2048 -nodes -days 1 -subj /CN=polku-test-ca "
      "-keyout ca.key -out ca.pem;",
      "printf 'subjectAltName=IP:127.0.0.1,DNS:localhost' > san.ext;",
      "openssl req -newkey rsa:2048 -nodes -subj /CN=polku -keyout server.key -out server.csr;",
      "openssl x509 -req -in server.csr -CA ca.pem -CAkey ca.key -CAcreateserial -days 1 "
      "-extfile san.ext -out server.pem;",
      "openssl req -x509 -newkey rsa:2048 -nodes -days 1 -subj /CN=rogue "
      "-keyout rogue.key -out rogue.pem",
      " >/dev/null 2>&1");
  EXPECT_EQ(std::system(script.c_str()), 0) << script;
  return dir;
}

grpc::StatusCode HealthCheck(const std::string& address, const rpc::TlsFiles& tls) {
  auto channel = rpc::MakeChannel(address, tls);
  EXPECT_TRUE(channel.ok()) << channel.status();
  auto stub = grpc::health::v1::Health::NewStub(*channel);
  grpc::ClientContext context;
  context.set_deadline(absl::ToChronoTime(absl::Now() + absl::Seconds(5)));
  grpc::health::v1::HealthCheckResponse response;
  return stub->Check(&context, {}, &response).error_code();
}

TEST(SuiteTlsTest, EverythingWorksOverTlsAndBackendsRefuseClientsWithoutACertificate) {
  std::string dir = MakeCertificates();
  Suite::Options options;
  options.tls_dir = dir;
  auto suite = Suite::Start(options);
  ASSERT_TRUE(suite.ok()) << suite.status();
  const std::string admin_key = (*suite)->credentials().admin_key;

  // gRPC through the gateway over TLS, to backends over mTLS.
  auto journeys = v1::JourneyService::NewStub((*suite)->GatewayChannel());
  {
    grpc::ClientContext context;
    Suite::Authorize(context, admin_key);
    v1::ListChannelsResponse response;
    grpc::Status status = journeys->ListChannels(&context, {}, &response);
    EXPECT_TRUE(status.ok()) << status.error_message();
  }
  // HTTPS, verified against the CA.
  httplib::SSLClient https((*suite)->gateway_http_host(), (*suite)->gateway_http_port());
  https.set_ca_cert_path((dir + "/ca.pem").c_str());
  https.enable_server_certificate_verification(true);
  httplib::Result listed =
      https.Get("/v1/journeys", {{"Authorization", "Bearer " + admin_key}});
  ASSERT_TRUE(listed) << httplib::to_string(listed.error());
  EXPECT_EQ(listed->status, 200) << listed->body;
  httplib::Result ready = https.Get("/readyz");
  ASSERT_TRUE(ready);
  EXPECT_EQ(ready->status, 200) << ready->body;
  // Plaintext HTTP to the TLS listener gets nowhere.
  httplib::Client plaintext((*suite)->gateway_http_host(), (*suite)->gateway_http_port());
  plaintext.set_read_timeout(5, 0);
  EXPECT_FALSE(plaintext.Get("/healthz"));

  // A backend serves only clients with a certificate from the CA.
  const std::string journey = (*suite)->backend_address("journey");
  EXPECT_EQ(HealthCheck(journey, {.cert_file = dir + "/server.pem",
                                  .key_file = dir + "/server.key",
                                  .ca_file = dir + "/ca.pem"}),
            grpc::StatusCode::OK);
  EXPECT_EQ(HealthCheck(journey, {.ca_file = dir + "/ca.pem"}), grpc::StatusCode::UNAVAILABLE);
  EXPECT_EQ(HealthCheck(journey, {.cert_file = dir + "/rogue.pem",
                                  .key_file = dir + "/rogue.key",
                                  .ca_file = dir + "/ca.pem"}),
            grpc::StatusCode::UNAVAILABLE);
  EXPECT_EQ(HealthCheck(journey, {}), grpc::StatusCode::UNAVAILABLE);

  // The command-line tools reach a TLS gateway when told which CA to trust.
  const std::string list_tenants =
      absl::StrCat(testing::BinaryPath("polku-keys"), " --gateway=",
                   (*suite)->gateway_grpc_address(), " --data_dir=", (*suite)->data_dir(),
                   " list-tenants");
  EXPECT_NE(std::system((list_tenants + " >/dev/null 2>&1").c_str()), 0);
  std::string output;
  FILE* pipe = popen((list_tenants + " --gateway_ca=" + dir + "/ca.pem 2>&1").c_str(), "r");
  ASSERT_NE(pipe, nullptr);
  char buffer[4096];
  while (size_t n = fread(buffer, 1, sizeof(buffer), pipe)) output.append(buffer, n);
  EXPECT_EQ(pclose(pipe), 0) << output;
  EXPECT_THAT(output, ::testing::HasSubstr("tenants/demo"));

  EXPECT_TRUE((*suite)->Stop().ok());
}

}  // namespace
}  // namespace polku
