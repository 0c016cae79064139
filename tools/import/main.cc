// polku-import: past feedback from a CSV or JSON Lines file into Polku,
// through the gateway with a channel key (docs/import-export.md).
//
//   polku-import --key=$SHOP_KEY --mapping=survey-mapping.json survey-2023.csv
//   polku-import --credentials=.polku/credentials.json export.csv   # by
//   channel polku-import --dry_run --key=$SHOP_KEY survey-2023.csv
//
// Exit status: 0 every row stored (or already there), 3 finished with
// rejected rows (see the rejected-rows file), 130 interrupted (run the same
// command again to resume), 1 the import could not go on, 2 bad flags.
#include <unistd.h>

#include <atomic>
#include <csignal>
#include <iostream>
#include <string>
#include <vector>

#include "absl/flags/flag.h"
#include "absl/flags/parse.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "lib/rpc/flags.h"
#include "tools/import/importer.h"
#include "tools/journeys/gateway_client.h"

ABSL_FLAG(std::string, gateway, "127.0.0.1:7070", "polku-gateway gRPC address");
ABSL_FLAG(
    std::string, key, "",
    "a channel key (events:write) that sends every row; or --credentials");
ABSL_FLAG(std::string, credentials, "",
          "credentials.json (polku-keys init): each row goes with the key of "
          "its channel (the row's channel column, or --set channel=…)");
ABSL_FLAG(std::string, mapping, "",
          "mapping file (JSON): which column holds which field, constants, "
          "the time format; default: columns named like the fields");
ABSL_FLAG(std::vector<std::string>, map, {},
          "FIELD=COLUMN,…: read FIELD from COLUMN (after the mapping file)");
ABSL_FLAG(std::vector<std::string>, set, {},
          "FIELD=VALUE,…: every row's FIELD is VALUE (e.g. channel=shop, "
          "journey=…, language=fi)");
ABSL_FLAG(std::string, format, "auto",
          "csv, jsonl, or auto (by the file's extension)");
ABSL_FLAG(std::string, id_prefix, "",
          "rows without an event id column get <id_prefix>:<line>; default "
          "the file's name (keep it when re-running)");
ABSL_FLAG(bool, dry_run, false,
          "validate every row with the service, store nothing, report");
ABSL_FLAG(int32_t, history_version, 0,
          "events older than their journey's first published version are "
          "validated against this version of it (needs each row's journey)");
ABSL_FLAG(std::string, progress_file, "",
          "where the resume point is kept; default <file>.progress");
ABSL_FLAG(std::string, rejects_file, "",
          "the rejected rows with line, field and reason; default "
          "<file>.rejected.csv (or .rejected.jsonl)");
ABSL_FLAG(bool, restart, false,
          "start from the first row even if a previous run did not finish");
ABSL_FLAG(int, streams, 2, "StreamEvents streams per channel key");
ABSL_FLAG(int, batch, 500, "events per stream message (at most 1000)");
ABSL_FLAG(std::string, progress, "auto",
          "bar (redrawn on the terminal), log (a line every 10 s), or auto "
          "(bar when stderr is a terminal)");

namespace {

std::atomic<bool> interrupted{false};

void OnSignal(int) {
  interrupted.store(true);
  // A second Ctrl-C ends the process at once.
  std::signal(SIGINT, SIG_DFL);
  std::signal(SIGTERM, SIG_DFL);
}

}  // namespace

int main(int argc, char** argv) {
  std::vector<std::string> args = polku::rpc::ParseFlags(
      argc, argv,
      "polku-import [flags] FILE: past feedback (CSV or JSON Lines) into "
      "Polku through the gateway");
  if (args.size() != 1) {
    std::cerr << "polku-import: name one file to import (see --help)\n";
    return 2;
  }
  polku::import::ImportOptions options;
  options.input = args[0];
  const std::string format = absl::GetFlag(FLAGS_format);
  if (format == "csv") {
    options.format = polku::import::InputFormat::kCsv;
  } else if (format == "jsonl" || format == "ndjson") {
    options.format = polku::import::InputFormat::kJsonLines;
  } else if (format != "auto") {
    std::cerr << "polku-import: --format must be csv, jsonl or auto\n";
    return 2;
  }
  if (const std::string path = absl::GetFlag(FLAGS_mapping); !path.empty()) {
    absl::StatusOr<std::string> text = polku::tools::ReadTextFile(path);
    absl::StatusOr<polku::import::Mapping> mapping =
        text.ok() ? polku::import::ParseMapping(*text)
                  : absl::StatusOr<polku::import::Mapping>(text.status());
    if (!mapping.ok()) {
      std::cerr << "polku-import: " << path << ": "
                << mapping.status().message() << "\n";
      return 2;
    }
    options.mapping = *std::move(mapping);
  }
  for (const std::string& spec : absl::GetFlag(FLAGS_map)) {
    if (absl::Status s = polku::import::AddColumn(spec, options.mapping);
        !s.ok()) {
      std::cerr << "polku-import: " << s.message() << "\n";
      return 2;
    }
  }
  for (const std::string& spec : absl::GetFlag(FLAGS_set)) {
    if (absl::Status s = polku::import::AddConstant(spec, options.mapping);
        !s.ok()) {
      std::cerr << "polku-import: " << s.message() << "\n";
      return 2;
    }
  }
  if (!absl::GetFlag(FLAGS_key).empty()) {
    options.channel_keys[""] = absl::GetFlag(FLAGS_key);
  } else if (!absl::GetFlag(FLAGS_credentials).empty()) {
    auto credentials =
        polku::tools::ReadCredentials(absl::GetFlag(FLAGS_credentials));
    if (!credentials.ok()) {
      std::cerr << "polku-import: " << credentials.status().message() << "\n";
      return 2;
    }
    options.channel_keys = credentials->channel_keys;
  } else {
    std::cerr << "polku-import: give --key (a channel key) or --credentials\n";
    return 2;
  }
  const int batch = absl::GetFlag(FLAGS_batch);
  const int streams = absl::GetFlag(FLAGS_streams);
  if (batch < 1 || batch > 1000 || streams < 1 || streams > 16) {
    std::cerr << "polku-import: --batch must be 1–1000 and --streams 1–16\n";
    return 2;
  }
  options.batch = batch;
  options.streams = streams;
  options.id_prefix = absl::GetFlag(FLAGS_id_prefix);
  options.dry_run = absl::GetFlag(FLAGS_dry_run);
  options.history_version = absl::GetFlag(FLAGS_history_version);
  options.progress_file = absl::GetFlag(FLAGS_progress_file);
  options.rejects_file = absl::GetFlag(FLAGS_rejects_file);
  options.resume = !absl::GetFlag(FLAGS_restart);
  const std::string progress = absl::GetFlag(FLAGS_progress);
  if (progress != "auto" && progress != "bar" && progress != "log") {
    std::cerr << "polku-import: --progress must be bar, log or auto\n";
    return 2;
  }
  options.progress_bar =
      progress == "bar" || (progress == "auto" && ::isatty(STDERR_FILENO));

  auto channel = polku::tools::DialGateway(absl::GetFlag(FLAGS_gateway));
  if (!channel.ok()) {
    std::cerr << "polku-import: " << channel.status().message() << "\n";
    return 2;
  }
  std::signal(SIGINT, OnSignal);
  std::signal(SIGTERM, OnSignal);
  absl::StatusOr<polku::import::ImportResult> result =
      polku::import::RunImport(options, *channel, interrupted, std::cerr);
  if (!result.ok()) {
    std::cerr << "polku-import: " << result.status().message() << "\n";
    return 1;
  }
  const double seconds = std::max(absl::ToDoubleSeconds(result->elapsed), 1e-3);
  const polku::import::ImportCounts& counts = result->counts;
  if (options.dry_run) {
    std::cout << absl::StrFormat(
        "polku-import: dry run of %s: %d rows, %d would be accepted, %d "
        "rejected; nothing was stored\n",
        options.input, counts.rows(), counts.accepted + counts.duplicates,
        counts.rejected);
  } else {
    std::cout << absl::StrFormat(
        "polku-import: %s: %d rows in %.1f s (%.0f rows/s): %d accepted, %d "
        "duplicates, %d rejected\n",
        options.input, result->rows_this_run, seconds,
        result->rows_this_run / seconds, counts.accepted, counts.duplicates,
        counts.rejected);
  }
  for (const std::string& rejection : result->first_rejections) {
    std::cout << "  rejected " << rejection << "\n";
  }
  if (counts.rejected > 0) {
    std::cout << "polku-import: the rejected rows, with line, field and "
                 "reason, are in "
              << result->rejects_file << "\n";
  }
  if (result->interrupted) {
    std::cout << "polku-import: interrupted; every row up to line "
              << result->settled_through
              << " is done: run the same command again to resume\n";
    return 130;
  }
  if (!result->error.ok()) {
    std::cout << "polku-import: stopped: " << result->error.message()
              << "; every row up to line " << result->settled_through
              << " is done: fix the cause and run the same command again\n";
    return 1;
  }
  std::cout.flush();
  return counts.rejected > 0 ? 3 : 0;
}
