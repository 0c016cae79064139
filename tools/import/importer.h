// polku-import's work: read a file, map its rows, send them with the channel
// client (lib/client: StreamEvents, retries with the same event ids), and
// keep what the import needs to report and to resume.
//
//   ImportOptions options;
//   options.input = "survey-2023.csv";
//   options.channel_keys = {{"", shop_key}};     // one key for every row
//   std::atomic<bool> stop{false};                // set by SIGINT
//   absl::StatusOr<ImportResult> result =
//       RunImport(options, gateway_channel, stop, std::cerr);
//
// Resuming: every second the rows settled so far (ledger.h) are written to
// the rejected-rows file and the progress file records the line they reach,
// the counts and the rejected-rows file's length. A run that finds a
// progress file of an unfinished import of the same file (path, size,
// modification time, id prefix) skips the rows up to that line and goes
// on; anything else starts from the first row. Correctness never depends on
// the progress file: event ids are the same on every run, so a row sent
// again is answered DUPLICATE, never stored twice.
#ifndef POLKU_TOOLS_IMPORT_IMPORTER_H_
#define POLKU_TOOLS_IMPORT_IMPORTER_H_

#include <grpcpp/channel.h>

#include <atomic>
#include <cstdint>
#include <map>
#include <memory>
#include <ostream>
#include <string>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "tools/import/ledger.h"
#include "tools/import/mapping.h"

namespace polku::import {

enum class InputFormat { kAuto, kCsv, kJsonLines };

struct ImportOptions {
  std::string input;
  // kAuto: by extension (.csv; .jsonl, .ndjson, .json), else CSV.
  InputFormat format = InputFormat::kAuto;
  Mapping mapping;
  // Derived event ids are "<id_prefix>:<line>"; default: the file's name.
  std::string id_prefix;
  // Channel → its key. The key under "" sends every row, whatever its
  // channel; otherwise a row goes with its channel's key.
  std::map<std::string, std::string> channel_keys;
  // Validate only (SubmitEvents validate_only): nothing is stored, nothing
  // resumed; the report and the rejected-rows file are written.
  bool dry_run = false;
  // SubmitEventsRequest.history_version of every call (0: none).
  int32_t history_version = 0;
  // Default: <input>.progress. Not used in a dry run.
  std::string progress_file;
  // Default: <input>.rejected.csv or .rejected.jsonl.
  std::string rejects_file;
  // Skip what a previous unfinished run of the same file settled.
  bool resume = true;
  // StreamEvents streams per channel key, and events per stream message.
  int streams = 2;
  int batch = 500;
  // Redraw a progress bar (a terminal) or write a log line (not one).
  bool progress_bar = false;
  absl::Duration log_interval = absl::Seconds(10);
  // Bounds the wait for the answers of what was sent, at the end.
  absl::Duration flush_timeout = absl::Minutes(10);
};

struct ImportResult {
  // Of the whole import (resumed runs included).
  ImportCounts counts;
  // Rows settled by this run, and how long it took.
  int64_t rows_this_run = 0;
  absl::Duration elapsed;
  // The line a resumed run started after (0: from the start).
  int64_t resumed_after_line = 0;
  // Every row was read and answered.
  bool complete = false;
  // Stopped early (the stop flag): run again to resume.
  bool interrupted = false;
  // Why the import stopped early, if not interrupted (e.g. a key the
  // gateway refuses): nothing after `settled_through` is known to be done.
  absl::Status error;
  int64_t settled_through = 0;
  std::string rejects_file;
  // The first rejected rows of this run: "line N: field: reason".
  std::vector<std::string> first_rejections;
};

// INVALID_ARGUMENT / NOT_FOUND for what makes the import impossible before
// any row is sent (the file, its header, the mapping, the keys).
absl::StatusOr<ImportResult> RunImport(const ImportOptions& options,
                                       std::shared_ptr<grpc::Channel> gateway,
                                       const std::atomic<bool>& stop,
                                       std::ostream& display);

}  // namespace polku::import

#endif  // POLKU_TOOLS_IMPORT_IMPORTER_H_
