// The backends' listener flags (TlsFromFlags in tls.h, WithBackendFlags in
// server.h). Kept apart so that only binaries that call them have them.
#include <string>

#include "absl/flags/flag.h"
#include "lib/rpc/server.h"
#include "lib/rpc/tls.h"

ABSL_FLAG(std::string, tls_cert, "",
          "PEM certificate chain of this service (served, and presented to "
          "other services); its common name or a DNS name is the service's "
          "identity (polku-feedback, …); empty = plaintext on loopback");
ABSL_FLAG(std::string, tls_key, "", "PEM private key for --tls_cert");
ABSL_FLAG(std::string, tls_ca, "",
          "PEM CA bundle: callers must present a certificate it signed (mTLS) "
          "naming a Polku identity allowed the call, and other services' "
          "certificates are verified with it");
ABSL_FLAG(std::string, health_listen, "",
          "host:port of a plaintext listener serving only grpc.health.v1, "
          "for probes that cannot present a client certificate; empty = none");
ABSL_FLAG(bool, plaintext_beyond_loopback, false,
          "listen beyond loopback without mTLS; anyone who reaches the port "
          "can then claim any tenant, so only on a network nobody but the "
          "gateway reaches");

namespace polku::rpc {

TlsFiles TlsFromFlags() {
  return {.cert_file = absl::GetFlag(FLAGS_tls_cert),
          .key_file = absl::GetFlag(FLAGS_tls_key),
          .ca_file = absl::GetFlag(FLAGS_tls_ca)};
}

ServerConfig WithBackendFlags(ServerConfig config) {
  config.tls = TlsFromFlags();
  config.health_listen_address = absl::GetFlag(FLAGS_health_listen);
  config.plaintext_beyond_loopback =
      absl::GetFlag(FLAGS_plaintext_beyond_loopback);
  return config;
}

}  // namespace polku::rpc
