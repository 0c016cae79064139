// polku-export: a journey's stored events (or every journey's) for a range
// of days, as CSV or JSON Lines, streamed from polku-feedback through the
// gateway (FeedbackService.ExportEvents): memory stays flat however many
// events there are. The format is lib/export/event_rows.h's; polku-import
// reads it back without a mapping.
//
//   polku-export --key=$EVENTS_READ_KEY --journey=home-renovation
//       --start=2024-01-01 --end=2025-01-01 --output=renovation-2024.csv
//   polku-export --credentials=.polku/credentials.json --format=jsonl >
//   all.jsonl
//
// A stream that breaks off (UNAVAILABLE) is resumed after the last event
// written, a few times, so the file holds each event once.
#include <grpcpp/grpcpp.h>

#include <cstdio>
#include <fstream>
#include <iostream>
#include <memory>
#include <string>

#include "absl/flags/flag.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/time/civil_time.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "lib/export/event_rows.h"
#include "lib/rpc/flags.h"
#include "polku/v1/feedback.grpc.pb.h"
#include "tools/journeys/gateway_client.h"

ABSL_FLAG(std::string, gateway, "127.0.0.1:7070", "polku-gateway gRPC address");
ABSL_FLAG(std::string, key, "", "an events:read (or admin) key");
ABSL_FLAG(std::string, credentials, "",
          "credentials.json (polku-keys init): its admin key, if no --key");
ABSL_FLAG(std::string, journey, "", "journey key; empty: every journey");
ABSL_FLAG(std::string, start, "",
          "events that occurred at or after this (RFC 3339, or YYYY-MM-DD "
          "for midnight UTC); empty: from the first");
ABSL_FLAG(std::string, end, "",
          "events that occurred before this (as --start); empty: to the last");
ABSL_FLAG(std::string, format, "csv", "csv or jsonl");
ABSL_FLAG(std::string, output, "", "file to write; empty: standard output");
ABSL_FLAG(int, page_size, 1000, "events per message from the server (1–1000)");
ABSL_FLAG(absl::Duration, timeout, absl::Hours(2),
          "deadline of the whole export");

namespace {

constexpr int kMaxAttempts = 5;

bool ParseBound(const std::string& text, google::protobuf::Timestamp& out) {
  absl::Time time;
  std::string error;
  absl::CivilDay day;
  if (!absl::ParseTime(absl::RFC3339_full, text, &time, &error)) {
    if (!absl::ParseCivilTime(text, &day)) return false;
    time = absl::FromCivil(day, absl::UTCTimeZone());
  }
  out.set_seconds(absl::ToUnixSeconds(time));
  out.set_nanos(static_cast<int32_t>(
      (time - absl::FromUnixSeconds(out.seconds())) / absl::Nanoseconds(1)));
  return true;
}

}  // namespace

int main(int argc, char** argv) {
  polku::rpc::ParseFlags(argc, argv,
                         "polku-export: stored events as CSV or JSON Lines");
  polku::event_rows::Format format;
  if (!polku::event_rows::ParseFormat(absl::GetFlag(FLAGS_format), format)) {
    std::cerr << "polku-export: --format must be csv or jsonl\n";
    return 2;
  }
  std::string key = absl::GetFlag(FLAGS_key);
  if (key.empty() && !absl::GetFlag(FLAGS_credentials).empty()) {
    auto credentials =
        polku::tools::ReadCredentials(absl::GetFlag(FLAGS_credentials));
    if (!credentials.ok()) {
      std::cerr << "polku-export: " << credentials.status().message() << "\n";
      return 2;
    }
    key = credentials->admin_key;
  }
  if (key.empty()) {
    std::cerr << "polku-export: give --key (events:read or admin) or "
                 "--credentials\n";
    return 2;
  }
  polku::v1::ExportEventsRequest request;
  request.set_journey(absl::GetFlag(FLAGS_journey));
  request.set_page_size(absl::GetFlag(FLAGS_page_size));
  for (auto [flag, name, field] :
       {std::tuple{absl::GetFlag(FLAGS_start), "--start",
                   request.mutable_range()->mutable_start()},
        std::tuple{absl::GetFlag(FLAGS_end), "--end",
                   request.mutable_range()->mutable_end()}}) {
    if (flag.empty()) continue;
    if (!ParseBound(flag, *field)) {
      std::cerr << "polku-export: " << name << " \"" << flag
                << "\" is neither RFC 3339 nor YYYY-MM-DD\n";
      return 2;
    }
  }
  if (absl::GetFlag(FLAGS_start).empty())
    request.mutable_range()->clear_start();
  if (absl::GetFlag(FLAGS_end).empty()) request.mutable_range()->clear_end();

  std::ofstream file;
  const std::string output = absl::GetFlag(FLAGS_output);
  if (!output.empty()) {
    file.open(output, std::ios::binary | std::ios::trunc);
    if (!file) {
      std::cerr << "polku-export: cannot write " << output << "\n";
      return 1;
    }
  }
  std::ostream& out = output.empty() ? std::cout : file;
  // A fixed receive window: with gRPC's bandwidth-delay probing the window
  // grows on a fast link until the client held some 150 MB of pages that
  // it had not yet written (10 M events over loopback); 4 MiB keeps the
  // server a few pages ahead.
  grpc::ChannelArguments args;
  args.SetInt(GRPC_ARG_HTTP2_BDP_PROBE, 0);
  args.SetInt(GRPC_ARG_HTTP2_STREAM_LOOKAHEAD_BYTES, 4 << 20);
  auto channel = polku::tools::DialGateway(absl::GetFlag(FLAGS_gateway), args);
  if (!channel.ok()) {
    std::cerr << "polku-export: " << channel.status().message() << "\n";
    return 2;
  }
  auto stub = polku::v1::FeedbackService::NewStub(*channel);

  const absl::Time started = absl::Now();
  const absl::Time deadline = started + absl::GetFlag(FLAGS_timeout);
  out << polku::event_rows::Prologue(format);
  int64_t events = 0;
  grpc::Status status;
  for (int attempt = 1; attempt <= kMaxAttempts; ++attempt) {
    grpc::ClientContext context;
    polku::tools::PrepareCall(context, key, deadline - absl::Now());
    auto reader = stub->ExportEvents(&context, request);
    polku::v1::ExportEventsResponse page;
    while (reader->Read(&page)) {
      for (const polku::v1::StoredEvent& event : page.events()) {
        out << polku::event_rows::Row(format, event);
        request.set_from_sequence(event.sequence() + 1);
        ++events;
      }
    }
    status = reader->Finish();
    if (status.error_code() != grpc::StatusCode::UNAVAILABLE ||
        absl::Now() >= deadline) {
      break;
    }
    std::cerr << "polku-export: " << polku::tools::DescribeStatus(status)
              << "; resuming after " << events << " events\n";
    absl::SleepFor(absl::Seconds(attempt));
  }
  out.flush();
  if (!status.ok()) {
    std::cerr << "polku-export: " << polku::tools::DescribeStatus(status)
              << " after " << events << " events; the output is incomplete\n";
    return 1;
  }
  if (!out) {
    std::cerr << "polku-export: writing the output failed\n";
    return 1;
  }
  std::cerr << absl::StrFormat("polku-export: %d events in %.1f s\n", events,
                               absl::ToDoubleSeconds(absl::Now() - started));
  return 0;
}
