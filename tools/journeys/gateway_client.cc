#include "tools/journeys/gateway_client.h"

#include <grpcpp/create_channel.h>
#include <grpcpp/security/credentials.h>

#include <fstream>
#include <sstream>
#include <thread>

#include "absl/flags/flag.h"
#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "google/protobuf/struct.pb.h"
#include "google/protobuf/util/json_util.h"
#include "lib/rpc/tls.h"

ABSL_FLAG(std::string, gateway_ca, "",
          "PEM CA that signed the gateway's TLS certificate; empty = plaintext");
ABSL_FLAG(std::string, gateway_cert, "",
          "PEM client certificate, when the gateway requires one (--tls_client_ca)");
ABSL_FLAG(std::string, gateway_key, "", "private key of --gateway_cert");

namespace polku::tools {
namespace {

using google::protobuf::Struct;
using google::protobuf::Value;

absl::StatusOr<std::string> RequiredString(const Struct& root,
                                           const std::string& field) {
  auto it = root.fields().find(field);
  if (it == root.fields().end()) {
    return absl::InvalidArgumentError(absl::StrCat("missing field \"", field, "\""));
  }
  if (it->second.kind_case() != Value::kStringValue ||
      it->second.string_value().empty()) {
    return absl::InvalidArgumentError(
        absl::StrCat("field \"", field, "\" must be a non-empty string"));
  }
  return it->second.string_value();
}

const char* CodeName(grpc::StatusCode code) {
  switch (code) {
    case grpc::OK: return "OK";
    case grpc::CANCELLED: return "CANCELLED";
    case grpc::UNKNOWN: return "UNKNOWN";
    case grpc::INVALID_ARGUMENT: return "INVALID_ARGUMENT";
    case grpc::DEADLINE_EXCEEDED: return "DEADLINE_EXCEEDED";
    case grpc::NOT_FOUND: return "NOT_FOUND";
    case grpc::ALREADY_EXISTS: return "ALREADY_EXISTS";
    case grpc::PERMISSION_DENIED: return "PERMISSION_DENIED";
    case grpc::RESOURCE_EXHAUSTED: return "RESOURCE_EXHAUSTED";
    case grpc::FAILED_PRECONDITION: return "FAILED_PRECONDITION";
    case grpc::ABORTED: return "ABORTED";
    case grpc::OUT_OF_RANGE: return "OUT_OF_RANGE";
    case grpc::UNIMPLEMENTED: return "UNIMPLEMENTED";
    case grpc::INTERNAL: return "INTERNAL";
    case grpc::UNAVAILABLE: return "UNAVAILABLE";
    case grpc::DATA_LOSS: return "DATA_LOSS";
    case grpc::UNAUTHENTICATED: return "UNAUTHENTICATED";
    default: return "UNKNOWN_CODE";
  }
}

}  // namespace

absl::StatusOr<Credentials> ParseCredentials(absl::string_view json) {
  Struct root;
  auto parsed = google::protobuf::util::JsonStringToMessage(
      google::protobuf::StringPiece(json.data(), json.size()), &root);
  if (!parsed.ok()) {
    return absl::InvalidArgumentError(
        absl::StrCat("not a JSON object: ", parsed.message().as_string()));
  }
  Credentials credentials;
  auto tenant = RequiredString(root, "tenant");
  if (!tenant.ok()) return tenant.status();
  credentials.tenant = *tenant;
  auto admin_key = RequiredString(root, "admin_key");
  if (!admin_key.ok()) return admin_key.status();
  credentials.admin_key = *admin_key;
  auto keys = root.fields().find("channel_keys");
  if (keys != root.fields().end()) {
    if (keys->second.kind_case() != Value::kStructValue) {
      return absl::InvalidArgumentError(
          "field \"channel_keys\" must be an object {channel: key}");
    }
    for (const auto& [channel, key] : keys->second.struct_value().fields()) {
      if (key.kind_case() != Value::kStringValue || key.string_value().empty()) {
        return absl::InvalidArgumentError(absl::StrCat(
            "field \"channel_keys.", channel, "\" must be a non-empty string"));
      }
      credentials.channel_keys[channel] = key.string_value();
    }
  }
  return credentials;
}

absl::StatusOr<std::string> ReadTextFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) {
    return absl::NotFoundError(absl::StrCat(path, ": cannot open for reading"));
  }
  std::ostringstream text;
  text << in.rdbuf();
  if (in.bad()) return absl::DataLossError(absl::StrCat(path, ": read failed"));
  return text.str();
}

absl::StatusOr<Credentials> ReadCredentials(const std::string& path) {
  auto text = ReadTextFile(path);
  if (!text.ok()) return text.status();
  auto credentials = ParseCredentials(*text);
  if (!credentials.ok()) {
    return absl::InvalidArgumentError(
        absl::StrCat(path, ": ", credentials.status().message()));
  }
  return credentials;
}

absl::StatusOr<std::shared_ptr<grpc::Channel>> DialGateway(const std::string& address) {
  return DialGateway(address, grpc::ChannelArguments());
}

absl::StatusOr<std::shared_ptr<grpc::Channel>> DialGateway(
    const std::string& address, const grpc::ChannelArguments& args) {
  return rpc::MakeChannel(address,
                          {.cert_file = absl::GetFlag(FLAGS_gateway_cert),
                           .key_file = absl::GetFlag(FLAGS_gateway_key),
                           .ca_file = absl::GetFlag(FLAGS_gateway_ca)},
                          args);
}

void PrepareCall(grpc::ClientContext& context, absl::string_view key,
                 absl::Duration timeout) {
  context.AddMetadata("authorization", absl::StrCat("Bearer ", key));
  context.set_deadline(absl::ToChronoTime(absl::Now() + timeout));
}

grpc::Status CallWithRetry(const std::function<grpc::Status()>& attempt,
                           const RetryPolicy& policy) {
  absl::Duration backoff = policy.initial_backoff;
  grpc::Status status;
  for (int i = 0; i < policy.max_attempts; ++i) {
    if (i > 0) {
      std::this_thread::sleep_for(absl::ToChronoNanoseconds(backoff));
      backoff = std::min(backoff * 2, policy.max_backoff);
    }
    status = attempt();
    if (status.error_code() != grpc::UNAVAILABLE) return status;
  }
  return status;
}

std::string DescribeStatus(const grpc::Status& status) {
  if (status.error_message().empty()) return CodeName(status.error_code());
  return absl::StrCat(CodeName(status.error_code()), ": ", status.error_message());
}

}  // namespace polku::tools
