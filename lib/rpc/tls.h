// TLS for Polku's gRPC links, switched on by certificate paths: server
// credentials (TLS, or mutual TLS when a client CA is given) and client
// channels (verifying the server, presenting a client certificate for mTLS).
//
//   rpc::TlsFiles tls{.cert_file = "gateway.pem", .key_file = "gateway.key",
//                     .ca_file = "ca.pem"};
//   auto channel = rpc::MakeChannel("127.0.0.1:7101", tls);   // mTLS client
//   rpc::Server::Start({…, .tls = {.cert_file = "feedback.pem",
//                                 .key_file = "feedback.key",
//                                 .ca_file = "ca.pem"}});      // mTLS server
//
// Empty paths mean plaintext, which is only for loopback.
#ifndef POLKU_LIB_RPC_TLS_H_
#define POLKU_LIB_RPC_TLS_H_

#include <grpcpp/channel.h>
#include <grpcpp/security/server_credentials.h>
#include <grpcpp/support/channel_arguments.h>

#include <memory>
#include <string>

#include "absl/status/statusor.h"

namespace polku::rpc {

struct TlsFiles {
  // PEM certificate chain and its private key: the server's own, or the
  // client certificate a channel presents.
  std::string cert_file;
  std::string key_file;
  // PEM CA bundle. A server with one requires and verifies client
  // certificates (mTLS); a channel verifies the server with it.
  std::string ca_file;

  bool enabled() const {
    return !cert_file.empty() || !key_file.empty() || !ca_file.empty();
  }
};

// Insecure credentials when `tls` is empty; TLS with cert+key; mTLS when
// ca_file is set too. INVALID_ARGUMENT naming a missing or unreadable file.
absl::StatusOr<std::shared_ptr<grpc::ServerCredentials>> ServerCredentials(
    const TlsFiles& tls);

// A channel to `address` (plaintext when `tls` is empty) with `args`, and
// Polku's message size limits unless `args` sets its own.
// INVALID_ARGUMENT naming a missing or unreadable file.
absl::StatusOr<std::shared_ptr<grpc::Channel>> MakeChannel(
    const std::string& address, const TlsFiles& tls,
    grpc::ChannelArguments args = grpc::ChannelArguments());

// A backend's TLS files from its flags --tls_cert, --tls_key and --tls_ca
// (tls_flags.cc): its server uses them (mTLS when --tls_ca is set) and so do
// its channels to other backends (verifying them with --tls_ca, presenting
// its own certificate). All empty = plaintext on loopback.
TlsFiles TlsFromFlags();

// The maximum message size of every Polku channel and server.
inline constexpr int kMaxMessageBytes = 16 * 1024 * 1024;

}  // namespace polku::rpc

#endif  // POLKU_LIB_RPC_TLS_H_
