#include "lib/rpc/tls.h"

#include <grpcpp/create_channel.h>
#include <grpcpp/security/credentials.h>
#include <grpcpp/support/channel_arguments.h>
#include <openssl/crypto.h>

#include <fstream>
#include <sstream>

#include "absl/strings/str_cat.h"

namespace polku::rpc {
namespace {

// OpenSSL frees its global state in an atexit handler, while a gRPC thread
// can still be releasing a TLS context that uses that state: a subchannel's
// reconnect timer, left by a failed handshake, outlives main. ThreadSanitizer
// against an instrumented OpenSSL reports it as a race on freed memory at
// exit (docs/reliability.md). Asked before anything initialises OpenSSL (a
// static initialiser runs before main), OpenSSL leaves its state to the
// process's end instead.
[[maybe_unused]] const bool kOpenSslStateLastsUntilExit =
    OPENSSL_init_crypto(OPENSSL_INIT_NO_ATEXIT, nullptr) == 1;

absl::StatusOr<std::string> ReadPem(const std::string& path, const char* what) {
  if (path.empty()) {
    return absl::InvalidArgumentError(absl::StrCat(what, ": no file given"));
  }
  std::ifstream in(path);
  std::stringstream text;
  text << in.rdbuf();
  if (!in || text.str().empty()) {
    return absl::InvalidArgumentError(
        absl::StrCat(what, ": cannot read ", path));
  }
  return text.str();
}

}  // namespace

absl::StatusOr<std::shared_ptr<grpc::ServerCredentials>> ServerCredentials(
    const TlsFiles& tls) {
  if (!tls.enabled()) return grpc::InsecureServerCredentials();
  grpc::SslServerCredentialsOptions options(
      tls.ca_file.empty()
          ? GRPC_SSL_DONT_REQUEST_CLIENT_CERTIFICATE
          : GRPC_SSL_REQUEST_AND_REQUIRE_CLIENT_CERTIFICATE_AND_VERIFY);
  absl::StatusOr<std::string> cert = ReadPem(tls.cert_file, "tls_cert");
  if (!cert.ok()) return cert.status();
  absl::StatusOr<std::string> key = ReadPem(tls.key_file, "tls_key");
  if (!key.ok()) return key.status();
  options.pem_key_cert_pairs.push_back({*key, *cert});
  if (!tls.ca_file.empty()) {
    absl::StatusOr<std::string> ca = ReadPem(tls.ca_file, "tls_client_ca");
    if (!ca.ok()) return ca.status();
    options.pem_root_certs = *ca;
  }
  return grpc::SslServerCredentials(options);
}

absl::StatusOr<std::shared_ptr<grpc::Channel>> MakeChannel(
    const std::string& address, const TlsFiles& tls,
    grpc::ChannelArguments args) {
  grpc_channel_args raw = args.c_channel_args();
  bool sets_receive = false, sets_send = false;
  for (size_t i = 0; i < raw.num_args; ++i) {
    std::string key = raw.args[i].key;
    sets_receive |= key == GRPC_ARG_MAX_RECEIVE_MESSAGE_LENGTH;
    sets_send |= key == GRPC_ARG_MAX_SEND_MESSAGE_LENGTH;
  }
  if (!sets_receive) args.SetMaxReceiveMessageSize(kMaxMessageBytes);
  if (!sets_send) args.SetMaxSendMessageSize(kMaxMessageBytes);
  if (!tls.enabled()) {
    return grpc::CreateCustomChannel(address,
                                     grpc::InsecureChannelCredentials(), args);
  }
  grpc::SslCredentialsOptions options;
  if (!tls.ca_file.empty()) {
    absl::StatusOr<std::string> ca = ReadPem(tls.ca_file, "tls_ca");
    if (!ca.ok()) return ca.status();
    options.pem_root_certs = *ca;
  }
  if (!tls.cert_file.empty() || !tls.key_file.empty()) {
    absl::StatusOr<std::string> cert = ReadPem(tls.cert_file, "tls_cert");
    if (!cert.ok()) return cert.status();
    absl::StatusOr<std::string> key = ReadPem(tls.key_file, "tls_key");
    if (!key.ok()) return key.status();
    options.pem_cert_chain = *cert;
    options.pem_private_key = *key;
  }
  return grpc::CreateCustomChannel(address, grpc::SslCredentials(options),
                                   args);
}

}  // namespace polku::rpc
