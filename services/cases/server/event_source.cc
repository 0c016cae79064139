#include "services/cases/server/event_source.h"

#include <grpcpp/client_context.h>

#include <optional>

#include "absl/strings/str_cat.h"
#include "lib/base/status_macros.h"
#include "lib/rpc/status.h"

namespace polku::cases {

absl::Status GrpcEventSource::Export(
    const rpc::Caller& caller, const v1::ExportEventsRequest& request,
    absl::Time deadline,
    absl::FunctionRef<absl::StatusOr<bool>(const v1::StoredEvent&)> visit) {
  grpc::ClientContext context;
  context.set_deadline(absl::ToChronoTime(deadline));
  rpc::AttachCaller(caller, context);
  std::unique_ptr<grpc::ClientReader<v1::ExportEventsResponse>> reader =
      stub_->ExportEvents(&context, request);
  v1::ExportEventsResponse page;
  absl::Status stopped = absl::OkStatus();
  bool more = true;
  while (more && reader->Read(&page)) {
    for (const v1::StoredEvent& event : page.events()) {
      absl::StatusOr<bool> go_on = visit(event);
      if (!go_on.ok() || !*go_on) {
        stopped = go_on.status();
        more = false;
        context.TryCancel();
        break;
      }
    }
  }
  grpc::Status status = reader->Finish();
  POLKU_RETURN_IF_ERROR(stopped);
  if (!more) return absl::OkStatus();  // the visitor had enough
  if (!status.ok()) {
    return absl::Status(static_cast<absl::StatusCode>(status.error_code()),
                        absl::StrCat("polku-feedback ExportEvents: ",
                                     status.error_message()));
  }
  return absl::OkStatus();
}

absl::StatusOr<v1::StoredEvent> GrpcEventSource::Event(
    const rpc::Caller& caller, int64_t sequence, absl::Time deadline) {
  if (sequence <= 0) {
    return absl::InvalidArgumentError("event_sequence: must be positive");
  }
  v1::ExportEventsRequest request;
  request.set_from_sequence(sequence);
  request.set_page_size(1);
  std::optional<v1::StoredEvent> found;
  POLKU_RETURN_IF_ERROR(Export(caller, request, deadline,
                               [&](const v1::StoredEvent& event) {
                                 if (event.sequence() == sequence) found = event;
                                 return false;  // the first is the one or none
                               }));
  if (!found.has_value()) {
    return absl::NotFoundError(
        absl::StrCat("event_sequence: no event ", sequence, " found"));
  }
  return *std::move(found);
}

absl::Status GrpcEventSource::ForEach(
    const rpc::Caller& caller, const std::string& journey,
    const v1::TimeRange& range, absl::Time deadline,
    absl::FunctionRef<absl::Status(const v1::StoredEvent&)> visit) {
  v1::ExportEventsRequest request;
  request.set_journey(journey);
  *request.mutable_range() = range;
  request.set_page_size(1000);
  return Export(caller, request, deadline,
                [&](const v1::StoredEvent& event) -> absl::StatusOr<bool> {
                  POLKU_RETURN_IF_ERROR(visit(event));
                  return true;
                });
}

}  // namespace polku::cases
