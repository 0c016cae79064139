#include "lib/rpc/trust.h"

#include <grpcpp/support/status.h>

#include <set>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "lib/base/log.h"
#include "lib/rpc/metadata.h"

namespace polku::rpc {
namespace {

const absl::string_view kIdentities[] = {
    kGatewayIdentity, kFeedbackIdentity, kJourneyIdentity, kInsightIdentity,
    kCasesIdentity};

// A call one service makes to another, other than through the gateway.
struct InternalCall {
  absl::string_view caller;
  absl::string_view method;
  // The caller names the one tenant it acts for (x-polku-tenant), instead
  // of reading every tenant's data (no tenant).
  bool for_one_tenant;
};

// Every internal call of the suite; nothing else crosses between services.
const InternalCall kInternalCalls[] = {
    // Rollups and alerts are computed from every tenant's change feed.
    {kInsightIdentity, "/polku.v1.FeedbackService/WatchEvents", false},
    // The touchpoint index that validates events holds every published
    // journey.
    {kFeedbackIdentity, "/polku.v1.JourneyService/WatchJourneys", false},
    // A journey's definition and lineage, for the tenant whose feed (which
    // insight reads whole anyway) an answer is about.
    {kInsightIdentity, "/polku.v1.JourneyService/GetJourney", true},
    // Rules open cases from every tenant's change feed (docs/cases.md).
    {kCasesIdentity, "/polku.v1.FeedbackService/WatchEvents", false},
    // A case opened by hand, and a rule's dry run, read the tenant's own
    // stored events.
    {kCasesIdentity, "/polku.v1.FeedbackService/ExportEvents", true},
    // The owner teams of the touchpoints in the journey version an event
    // was validated against, for the tenant the case is for.
    {kCasesIdentity, "/polku.v1.JourneyService/GetJourneyVersion", true},
    // SetContactConsent: the hash polku-feedback keys the one customer
    // named with, for the tenant whose consent it is (the secret stays in
    // polku-feedback).
    {kCasesIdentity, "/polku.v1.CustomerKeyService/HashCustomer", true},
    // The readers that hold customer data report how far they have applied
    // the feed, for the erasure receipts (feed_readers.proto).
    {kInsightIdentity, "/polku.v1.FeedReaderService/ReportProgress", false},
    {kCasesIdentity, "/polku.v1.FeedReaderService/ReportProgress", false},
};

// Internal only: polku-cases asks it for a customer's hash.
constexpr absl::string_view kCustomerKeyServicePrefix =
    "/polku.v1.CustomerKeyService/";
// Internal only: the feed's readers report their progress to it.
constexpr absl::string_view kFeedReaderServicePrefix =
    "/polku.v1.FeedReaderService/";

// Methods that tell nothing about any tenant.
bool IsOpenMethod(absl::string_view method) {
  return absl::StartsWith(method, "/grpc.health.v1.Health/") ||
         absl::StartsWith(method, "/grpc.reflection.v1alpha.ServerReflection/");
}

class TrustEnforcer : public grpc::AuthMetadataProcessor {
 public:
  // A table lookup: safe to run on gRPC's own thread.
  bool IsBlocking() const override { return false; }

  grpc::Status Process(const InputMetadata& auth_metadata,
                       grpc::AuthContext* context,
                       OutputMetadata* /*consumed_auth_metadata*/,
                       OutputMetadata* /*response_metadata*/) override {
    auto path = auth_metadata.find(":path");
    if (path == auth_metadata.end()) {
      return {grpc::StatusCode::PERMISSION_DENIED, "a call without a method"};
    }
    const absl::string_view method(path->second.data(), path->second.size());
    if (IsOpenMethod(method)) return grpc::Status::OK;
    absl::StatusOr<std::string> identity = PeerIdentity(*context);
    absl::Status status = identity.status();
    if (identity.ok()) {
      const bool asserts_tenant =
          auth_metadata.find(kTenantHeader) != auth_metadata.end() ||
          auth_metadata.find(kChannelHeader) != auth_metadata.end();
      status = CheckCall(*identity, method, asserts_tenant);
    }
    if (status.ok()) return grpc::Status::OK;
    // Refused calls reach no handler and no request log: this line is
    // their trace.
    std::vector<grpc::string_ref> common_name =
        context->FindPropertyValues("x509_common_name");
    log::Warning("call refused",
                 {{"method", std::string(method)},
                  {"certificate", common_name.empty()
                                      ? std::string()
                                      : std::string(common_name[0].data(),
                                                    common_name[0].size())},
                  {"reason", std::string(status.message())}});
    return {grpc::StatusCode::PERMISSION_DENIED, std::string(status.message())};
  }
};

}  // namespace

absl::StatusOr<std::string> PeerIdentity(const grpc::AuthContext& context) {
  std::set<std::string> named;
  for (const char* property :
       {"x509_common_name", "x509_subject_alternative_name"}) {
    for (const grpc::string_ref& value : context.FindPropertyValues(property)) {
      const absl::string_view name(value.data(), value.size());
      for (absl::string_view identity : kIdentities) {
        if (name == identity) named.emplace(identity);
      }
    }
  }
  if (named.size() == 1) return *named.begin();
  if (named.empty()) {
    return absl::PermissionDeniedError(absl::StrCat(
        "the client certificate names no Polku service: its common name or a "
        "DNS name must be one of ",
        absl::StrJoin(kIdentities, ", ")));
  }
  return absl::PermissionDeniedError(
      absl::StrCat("the client certificate names several Polku services (",
                   absl::StrJoin(named, ", "), "); each needs its own"));
}

absl::Status CheckCall(absl::string_view identity, absl::string_view method,
                       bool asserts_tenant) {
  if (identity == kGatewayIdentity) {
    // A customer's hash is for polku-cases alone (customer_keys.proto): the
    // gateway routes no client to it, so it never needs to call it.
    if (absl::StartsWith(method, kCustomerKeyServicePrefix)) {
      return absl::PermissionDeniedError(absl::StrCat(
          "polku-gateway may not call ", method,
          ": only polku-cases asks for a customer's hash"));
    }
    // A forged report would make an erasure receipt claim what a reader
    // has not done.
    if (absl::StartsWith(method, kFeedReaderServicePrefix)) {
      return absl::PermissionDeniedError(absl::StrCat(
          "polku-gateway may not call ", method,
          ": only the feed's readers (polku-insight, polku-cases) report "
          "their progress"));
    }
    if (asserts_tenant) return absl::OkStatus();
    return absl::PermissionDeniedError(
        absl::StrCat("polku-gateway calls ", method,
                     " for no tenant; it acts only for "
                     "the tenant of an API key"));
  }
  for (const InternalCall& call : kInternalCalls) {
    if (call.caller == identity && call.method == method &&
        call.for_one_tenant == asserts_tenant) {
      return absl::OkStatus();
    }
  }
  if (asserts_tenant) {
    return absl::PermissionDeniedError(absl::StrCat(
        identity, " may not act for a tenant in ", method,
        ": only polku-gateway asserts tenants (", kTenantHeader, ")"));
  }
  return absl::PermissionDeniedError(
      absl::StrCat(identity, " may not call ", method));
}

std::shared_ptr<grpc::AuthMetadataProcessor> NewTrustEnforcer() {
  return std::make_shared<TrustEnforcer>();
}

}  // namespace polku::rpc
