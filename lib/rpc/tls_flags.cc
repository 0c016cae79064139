// The backends' TLS flags (see TlsFromFlags in tls.h). Kept apart from
// tls.cc so that only binaries that call TlsFromFlags have these flags.
#include <string>

#include "absl/flags/flag.h"
#include "lib/rpc/tls.h"

ABSL_FLAG(std::string, tls_cert, "",
          "PEM certificate chain of this service (served, and presented to "
          "other services); empty = plaintext on loopback");
ABSL_FLAG(std::string, tls_key, "", "PEM private key for --tls_cert");
ABSL_FLAG(std::string, tls_ca, "",
          "PEM CA bundle: callers must present a certificate it signed (mTLS) "
          "and other services' certificates are verified with it");

namespace polku::rpc {

TlsFiles TlsFromFlags() {
  return {.cert_file = absl::GetFlag(FLAGS_tls_cert),
          .key_file = absl::GetFlag(FLAGS_tls_key),
          .ca_file = absl::GetFlag(FLAGS_tls_ca)};
}

}  // namespace polku::rpc
