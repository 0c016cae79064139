// A throwaway certificate authority for tests, made with the openssl
// command-line tool (scripts/deps.sh installs it).
//
//   absl::StatusOr<TestPki> pki = TestPki::Make({"polku-gateway",
//   "polku-insight"}); rpc::TlsFiles gateway = pki->Files("polku-gateway"); //
//   mTLS client rpc::TlsFiles server = pki->Files("polku-feedback");   // must
//   be in Make's list
//
// Every certificate is valid for a day, for 127.0.0.1 and localhost, and
// carries its name as the subject's common name and as a DNS name, which is
// how a Polku service's certificate names its identity (lib/rpc/trust.h).
#ifndef POLKU_LIB_RPC_TESTING_TEST_PKI_H_
#define POLKU_LIB_RPC_TESTING_TEST_PKI_H_

#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "lib/rpc/tls.h"

namespace polku::rpc::testing {

class TestPki {
 public:
  // A new directory under the test's temporary directory with ca.pem and,
  // for each name, <name>.pem and <name>.key signed by the CA; also
  // rogue.pem/.key, self-signed (a certificate from no trusted CA).
  static absl::StatusOr<TestPki> Make(const std::vector<std::string>& names);

  const std::string& dir() const { return dir_; }
  std::string ca_file() const { return dir_ + "/ca.pem"; }
  // `name`'s certificate and key, with the CA: what a service or an mTLS
  // client is given. "rogue" names the self-signed one.
  TlsFiles Files(absl::string_view name) const;

 private:
  explicit TestPki(std::string dir) : dir_(std::move(dir)) {}
  std::string dir_;
};

}  // namespace polku::rpc::testing

#endif  // POLKU_LIB_RPC_TESTING_TEST_PKI_H_
