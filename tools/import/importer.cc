#include "tools/import/importer.h"

#include <sys/stat.h>
#include <unistd.h>

#include <cstdio>
#include <deque>
#include <filesystem>
#include <fstream>
#include <thread>
#include <utility>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/synchronization/mutex.h"
#include "absl/synchronization/notification.h"
#include "google/protobuf/struct.pb.h"
#include "google/protobuf/util/json_util.h"
#include "lib/base/log.h"
#include "lib/client/channel_client.h"
#include "lib/export/event_rows.h"
#include "tools/import/text_source.h"

namespace polku::import {
namespace {

using client::ChannelClient;
using client::ChannelClientOptions;
using client::EventReport;
using Outcome = ImportLedger::Outcome;

// Rejections shown in the summary; the rest are in the file.
constexpr size_t kShownRejections = 20;
// How often settled rows reach the rejected-rows and progress files.
constexpr absl::Duration kCheckpointInterval = absl::Seconds(1);
// How often a terminal's progress bar is redrawn.
constexpr absl::Duration kBarInterval = absl::Milliseconds(250);

// Columns the rejected-rows file adds; a file of rejected rows imported
// again drops them (and takes its event ids from polku_event_id).
const std::vector<std::string>& AddedColumns() {
  static const auto* columns = new std::vector<std::string>{
      "polku_line", "polku_field", "polku_reason", kEventIdColumn, "polku_raw"};
  return *columns;
}

bool IsAddedColumn(absl::string_view column) {
  return absl::StartsWith(column, "polku_");
}

// The identity of the input a progress file belongs to.
struct InputIdentity {
  std::string path;
  int64_t size = 0;
  int64_t mtime_ns = 0;
  std::string id_prefix;
};

absl::StatusOr<InputIdentity> IdentityOf(const std::string& input,
                                         const std::string& id_prefix) {
  struct stat info;
  if (::stat(input.c_str(), &info) != 0) {
    return absl::NotFoundError(absl::StrCat(input, ": cannot stat"));
  }
  std::error_code ignored;
  return InputIdentity{
      .path = std::filesystem::absolute(input, ignored).string(),
      .size = static_cast<int64_t>(info.st_size),
      .mtime_ns = static_cast<int64_t>(info.st_mtim.tv_sec) * 1'000'000'000 +
                  info.st_mtim.tv_nsec,
      .id_prefix = id_prefix};
}

// What a progress file says.
struct Progress {
  InputIdentity input;
  int64_t through = 0;
  ImportCounts counts;
  int64_t rejects_bytes = 0;
  bool complete = false;
};

std::string ProgressJson(const Progress& progress) {
  google::protobuf::Struct json;
  auto& f = *json.mutable_fields();
  f["input"].set_string_value(progress.input.path);
  f["input_size"].set_number_value(static_cast<double>(progress.input.size));
  // As text: nanoseconds do not fit a double exactly.
  f["input_mtime_ns"].set_string_value(absl::StrCat(progress.input.mtime_ns));
  f["id_prefix"].set_string_value(progress.input.id_prefix);
  f["done_through_line"].set_number_value(
      static_cast<double>(progress.through));
  f["accepted"].set_number_value(static_cast<double>(progress.counts.accepted));
  f["duplicates"].set_number_value(
      static_cast<double>(progress.counts.duplicates));
  f["rejected"].set_number_value(static_cast<double>(progress.counts.rejected));
  f["rejects_bytes"].set_number_value(
      static_cast<double>(progress.rejects_bytes));
  f["complete"].set_bool_value(progress.complete);
  std::string text;
  (void)google::protobuf::util::MessageToJsonString(json, &text);
  return text + "\n";
}

std::optional<Progress> ReadProgress(const std::string& path) {
  std::ifstream in(path);
  if (!in) return std::nullopt;
  std::string text((std::istreambuf_iterator<char>(in)),
                   std::istreambuf_iterator<char>());
  google::protobuf::Struct json;
  if (!google::protobuf::util::JsonStringToMessage(text, &json).ok()) {
    return std::nullopt;
  }
  const auto& f = json.fields();
  auto number = [&](const char* key) -> int64_t {
    auto it = f.find(key);
    return it == f.end() ? 0 : static_cast<int64_t>(it->second.number_value());
  };
  auto text_of = [&](const char* key) -> std::string {
    auto it = f.find(key);
    return it == f.end() ? "" : it->second.string_value();
  };
  Progress progress;
  progress.input.path = text_of("input");
  progress.input.size = number("input_size");
  if (!absl::SimpleAtoi(text_of("input_mtime_ns"), &progress.input.mtime_ns)) {
    return std::nullopt;
  }
  progress.input.id_prefix = text_of("id_prefix");
  progress.through = number("done_through_line");
  progress.counts = {.accepted = number("accepted"),
                     .duplicates = number("duplicates"),
                     .rejected = number("rejected")};
  progress.rejects_bytes = number("rejects_bytes");
  auto complete = f.find("complete");
  progress.complete = complete != f.end() && complete->second.bool_value();
  return progress;
}

// Written whole to a temporary file, then renamed over: a crash leaves the
// old progress or the new, never half of one.
absl::Status WriteProgress(const std::string& path, const Progress& progress) {
  const std::string temporary = path + ".tmp";
  {
    std::ofstream out(temporary, std::ios::trunc);
    out << ProgressJson(progress);
    if (!out.flush()) {
      return absl::UnavailableError(
          absl::StrCat("cannot write the progress file ", temporary));
    }
  }
  if (std::rename(temporary.c_str(), path.c_str()) != 0) {
    return absl::UnavailableError(
        absl::StrCat("cannot replace the progress file ", path));
  }
  return absl::OkStatus();
}

// A row as the rejected-rows file has it.
class RejectsFormat {
 public:
  RejectsFormat(InputFormat format, std::vector<std::string> header)
      : format_(format), header_(std::move(header)) {}

  std::string Header() const {
    if (format_ != InputFormat::kCsv) return "";
    std::string line;
    for (const std::string& column : header_) {
      if (IsAddedColumn(column)) continue;
      absl::StrAppend(&line, event_rows::CsvField(column), ",");
    }
    for (const std::string& column : AddedColumns()) {
      absl::StrAppend(&line, column, column == "polku_raw" ? "" : ",");
    }
    return line + "\r\n";
  }

  // `fields` (CSV) or `json` (JSON Lines) of a row that was read; `raw`
  // alone for one that could not be.
  std::string Row(int64_t line, absl::string_view field,
                  absl::string_view reason, absl::string_view event_id,
                  const std::vector<std::string>* fields,
                  absl::string_view json, absl::string_view raw) const {
    if (format_ == InputFormat::kCsv) {
      std::string row;
      for (size_t i = 0; i < header_.size(); ++i) {
        if (IsAddedColumn(header_[i])) continue;
        if (fields != nullptr && i < fields->size()) {
          row += event_rows::CsvField((*fields)[i]);
        }
        row += ",";
      }
      absl::StrAppend(&row, line, ",", event_rows::CsvField(field), ",",
                      event_rows::CsvField(reason), ",",
                      event_rows::CsvField(event_id), ",",
                      event_rows::CsvField(raw), "\r\n");
      return row;
    }
    google::protobuf::Struct object;
    if (!json.empty()) {
      (void)google::protobuf::util::JsonStringToMessage(
          google::protobuf::StringPiece(json.data(), json.size()), &object);
      for (auto it = object.mutable_fields()->begin();
           it != object.mutable_fields()->end();) {
        it = IsAddedColumn(it->first) ? object.mutable_fields()->erase(it)
                                      : std::next(it);
      }
    }
    auto& f = *object.mutable_fields();
    f["polku_line"].set_number_value(static_cast<double>(line));
    f["polku_field"].set_string_value(std::string(field));
    f["polku_reason"].set_string_value(std::string(reason));
    if (!event_id.empty()) {
      f[kEventIdColumn].set_string_value(std::string(event_id));
    }
    if (!raw.empty()) f["polku_raw"].set_string_value(std::string(raw));
    std::string text;
    (void)google::protobuf::util::MessageToJsonString(object, &text);
    return text + "\n";
  }

 private:
  const InputFormat format_;
  const std::vector<std::string> header_;
};

// A row sent and not yet answered: what its rejection would need.
struct InFlight {
  int64_t line;
  std::vector<std::string> fields;  // CSV
  std::string json;                 // JSON Lines
};

std::string Thousands(int64_t n) {
  std::string digits = absl::StrCat(n < 0 ? -n : n);
  std::string out;
  for (size_t i = 0; i < digits.size(); ++i) {
    if (i > 0 && (digits.size() - i) % 3 == 0) out += ',';
    out += digits[i];
  }
  return n < 0 ? "-" + out : out;
}

std::string Clock(absl::Duration d) {
  const int64_t s = absl::ToInt64Seconds(d);
  return absl::StrFormat("%d:%02d:%02d", s / 3600, s / 60 % 60, s % 60);
}

// "events[3].csat" → "csat": the field within the row.
std::string FieldOfRow(absl::string_view field) {
  if (absl::StartsWith(field, "events[")) {
    const size_t dot = field.find("].");
    if (dot != absl::string_view::npos)
      return std::string(field.substr(dot + 2));
  }
  return std::string(field);
}

class Import {
 public:
  Import(const ImportOptions& options, std::shared_ptr<grpc::Channel> gateway,
         const std::atomic<bool>& stop, std::ostream& display)
      : options_(options),
        gateway_(std::move(gateway)),
        stop_(stop),
        display_(display) {}

  absl::StatusOr<ImportResult> Run();

 private:
  // The file, its header and the mapping; INVALID_ARGUMENT naming what is
  // wrong before any row is sent.
  absl::Status OpenInput();
  // The progress (resuming if it says so) and the rejected-rows file.
  absl::Status OpenOutputs();
  // Reads and sends rows until the end, a stop (true) or a failure (false).
  bool ReadAndSend();
  // One row: rejected here, or handed to its channel's client. False if
  // the import cannot go on.
  bool Send(RawRecord& record);
  // The client for a row of `channel`, or why the row has none.
  absl::StatusOr<ChannelClient*> ClientFor(const std::string& channel);
  void OnReport(const std::string& channel, const EventReport& report);
  // Rejects the row starting on `line` here, without sending it.
  void RejectHere(int64_t line, const std::string& field,
                  const std::string& reason, const std::string& event_id,
                  const RawRecord& record);
  void Rejected(int64_t line, const std::string& field,
                const std::string& reason, std::string row);
  // Settled rows to the files; `final` marks the progress complete if so.
  absl::Status Checkpoint(bool final);
  void ShowProgress(bool final);
  void DisplayLoop();

  const ImportOptions& options_;
  std::shared_ptr<grpc::Channel> gateway_;
  const std::atomic<bool>& stop_;
  std::ostream& display_;

  InputFormat format_ = InputFormat::kCsv;
  std::string id_prefix_;
  std::unique_ptr<TextFile> file_;
  // CSV: column → position in the header.
  absl::flat_hash_map<std::string, size_t> columns_;
  std::optional<RowMapper> mapper_;
  std::unique_ptr<RecordReader> reader_;
  std::unique_ptr<RejectsFormat> rejects_format_;
  std::unique_ptr<ImportLedger> ledger_;
  std::FILE* rejects_ = nullptr;
  InputIdentity identity_;
  std::string progress_path_;
  std::string rejects_path_;
  int64_t resumed_after_ = 0;
  int64_t resumed_rows_ = 0;
  // Bytes of the file a resumed run skipped (for its rate and ETA).
  std::atomic<int64_t> start_bytes_{0};
  absl::Time started_;
  bool read_everything_ = false;

  absl::flat_hash_map<std::string, std::unique_ptr<ChannelClient>> clients_;

  absl::Mutex mu_;
  // channel \0 event_id → rows sent with that id, oldest first.
  absl::flat_hash_map<std::string, std::deque<InFlight>> in_flight_
      ABSL_GUARDED_BY(mu_);
  absl::Status fatal_ ABSL_GUARDED_BY(mu_);
  std::vector<std::string> first_rejections_ ABSL_GUARDED_BY(mu_);
  bool done_ ABSL_GUARDED_BY(mu_) = false;
};

absl::StatusOr<ChannelClient*> Import::ClientFor(const std::string& channel) {
  const bool one_key = options_.channel_keys.contains("");
  const std::string which = one_key ? "" : channel;
  if (auto it = clients_.find(which); it != clients_.end()) {
    return it->second.get();
  }
  if (!one_key && channel.empty()) {
    return absl::InvalidArgumentError(
        "the row names no channel: map a channel column (--map "
        "channel=COLUMN), set one (--set channel=shop) or give --key");
  }
  auto key = options_.channel_keys.find(which);
  if (key == options_.channel_keys.end()) {
    return absl::InvalidArgumentError(absl::StrCat(
        "no key for the channel '", channel, "' in the credentials"));
  }
  ChannelClientOptions client_options;
  client_options.transport = options_.dry_run
                                 ? ChannelClientOptions::Transport::kBatches
                                 : ChannelClientOptions::Transport::kStream;
  client_options.validate_only = options_.dry_run;
  client_options.history_version = options_.history_version;
  client_options.max_batch_events = options_.batch;
  client_options.senders = options_.streams;
  // Room for what the streams have unanswered and as much again waiting:
  // enough to keep them busy, and what bounds the rows held here (in_flight_).
  client_options.buffer_capacity =
      client_options.stream_window * (options_.streams + 1);
  client_options.call_timeout = absl::Seconds(30);
  absl::StatusOr<std::unique_ptr<ChannelClient>> created =
      ChannelClient::Create(gateway_, key->second, client_options,
                            [this, channel = which](const EventReport& report) {
                              OnReport(channel, report);
                            });
  if (!created.ok()) return created.status();
  ChannelClient* client = created->get();
  clients_[which] = *std::move(created);
  return client;
}

void Import::OnReport(const std::string& channel, const EventReport& report) {
  InFlight row;
  {
    absl::MutexLock lock(&mu_);
    auto it = in_flight_.find(
        absl::StrCat(channel, absl::string_view("\0", 1), report.event_id));
    if (it == in_flight_.end() || it->second.empty()) return;
    row = std::move(it->second.front());
    it->second.pop_front();
    if (it->second.empty()) in_flight_.erase(it);
    if (report.outcome == EventReport::Outcome::kGaveUp) {
      // The row stays unanswered, holding the resume point; nothing more is
      // sent (the next rows would most likely fail the same way).
      if (fatal_.ok()) {
        fatal_ = absl::Status(
            report.status.code(),
            absl::StrCat("line ", row.line,
                         ": sending failed: ", report.status.message()));
      }
      return;
    }
  }
  switch (report.outcome) {
    case EventReport::Outcome::kAccepted:
      ledger_->Finish(row.line, Outcome::kAccepted);
      break;
    case EventReport::Outcome::kDuplicate:
      ledger_->Finish(row.line, Outcome::kDuplicate);
      break;
    case EventReport::Outcome::kRejected: {
      const std::string field = FieldOfRow(report.field);
      Rejected(
          row.line, field, report.reason,
          rejects_format_->Row(row.line, field, report.reason, report.event_id,
                               &row.fields, row.json, ""));
      break;
    }
    case EventReport::Outcome::kGaveUp:
      break;
  }
}

void Import::Rejected(int64_t line, const std::string& field,
                      const std::string& reason, std::string row) {
  {
    absl::MutexLock lock(&mu_);
    if (first_rejections_.size() < kShownRejections) {
      first_rejections_.push_back(
          absl::StrCat("line ", line, ": ", field.empty() ? "" : field,
                       field.empty() ? "" : ": ", reason));
    }
  }
  ledger_->Finish(line, Outcome::kRejected, std::move(row));
}

void Import::RejectHere(int64_t line, const std::string& field,
                        const std::string& reason, const std::string& event_id,
                        const RawRecord& record) {
  const bool unreadable = !record.error.empty();
  Rejected(
      line, field, reason,
      rejects_format_->Row(
          line, field, reason, event_id,
          unreadable || format_ != InputFormat::kCsv ? nullptr : &record.fields,
          unreadable || format_ == InputFormat::kCsv ? "" : record.text,
          unreadable ? record.text : ""));
}

absl::Status Import::Checkpoint(bool final) {
  ImportLedger::Settled settled = ledger_->TakeSettled();
  for (const std::string& row : settled.rejects) {
    std::fwrite(row.data(), 1, row.size(), rejects_);
  }
  // Rows in the rejected-rows file before the progress says they are
  // settled: a crash in between repeats none (see RunImport).
  if (std::fflush(rejects_) != 0) {
    return absl::UnavailableError(
        absl::StrCat("cannot write the rejected rows to ", rejects_path_));
  }
  if (options_.dry_run || progress_path_.empty()) return absl::OkStatus();
  bool complete = false;
  if (final) {
    absl::MutexLock lock(&mu_);
    complete = read_everything_ && fatal_.ok() && ledger_->unanswered() == 0;
  }
  return WriteProgress(progress_path_, {.input = identity_,
                                        .through = settled.through,
                                        .counts = settled.counts,
                                        .rejects_bytes = std::ftell(rejects_),
                                        .complete = complete});
}

void Import::ShowProgress(bool final) {
  const ImportCounts seen = ledger_->Seen();
  const absl::Duration elapsed = absl::Now() - started_;
  const double seconds = std::max(absl::ToDoubleSeconds(elapsed), 1e-3);
  const int64_t rows = seen.rows() - resumed_rows_;
  const double rate = rows / seconds;
  const int64_t size = file_->size();
  const int64_t consumed = reader_->consumed();
  const double fraction = size > 0 ? static_cast<double>(consumed) / size : 0;
  const double byte_rate = (consumed - start_bytes_) / seconds;
  const std::string eta =
      byte_rate > 0 && size > consumed
          ? Clock(absl::Seconds((size - consumed) / byte_rate))
          : "-";
  const std::string counts = absl::StrCat(
      "accepted ", Thousands(seen.accepted), ", duplicates ",
      Thousands(seen.duplicates), ", rejected ", Thousands(seen.rejected));
  if (options_.progress_bar) {
    constexpr int kWidth = 24;
    const int filled = static_cast<int>(fraction * kWidth);
    std::string bar =
        std::string(filled, '#') + std::string(kWidth - filled, '.');
    display_ << "\r\x1b[K[" << bar << "] "
             << absl::StrFormat("%3.0f%%  %s rows  %s rows/s  ETA %s  %s",
                                100 * fraction, Thousands(seen.rows()),
                                Thousands(static_cast<int64_t>(rate)), eta,
                                counts);
    if (final) display_ << "\n";
    display_.flush();
    return;
  }
  display_ << absl::StrFormat(
                  "polku-import: %s rows (%s rows/s), %.0f%% of the file, ETA "
                  "%s; %s",
                  Thousands(seen.rows()), Thousands(static_cast<int64_t>(rate)),
                  100 * fraction, eta, counts)
           << std::endl;
}

void Import::DisplayLoop() {
  absl::Time next_checkpoint = absl::Now() + kCheckpointInterval;
  absl::Time next_show =
      absl::Now() +
      (options_.progress_bar ? kBarInterval : options_.log_interval);
  absl::MutexLock lock(&mu_);
  auto done = [this]() ABSL_SHARED_LOCKS_REQUIRED(mu_) { return done_; };
  while (!mu_.AwaitWithDeadline(absl::Condition(&done),
                                std::min(next_checkpoint, next_show))) {
    mu_.Unlock();
    const absl::Time now = absl::Now();
    if (now >= next_checkpoint) {
      if (absl::Status s = Checkpoint(false); !s.ok()) {
        log::Warning("checkpoint failed", {{"error", s.ToString()}});
      }
      next_checkpoint = now + kCheckpointInterval;
    }
    if (now >= next_show) {
      ShowProgress(false);
      next_show =
          now + (options_.progress_bar ? kBarInterval : options_.log_interval);
    }
    mu_.Lock();
  }
}

absl::Status Import::OpenInput() {
  format_ = options_.format;
  if (format_ == InputFormat::kAuto) {
    const std::string ext = std::filesystem::path(options_.input).extension();
    format_ = ext == ".jsonl" || ext == ".ndjson" || ext == ".json"
                  ? InputFormat::kJsonLines
                  : InputFormat::kCsv;
  }
  id_prefix_ = options_.id_prefix.empty()
                   ? std::filesystem::path(options_.input).filename().string()
                   : options_.id_prefix;
  if (id_prefix_.size() > 100) {
    return absl::InvalidArgumentError(
        "the file name is too long to prefix event ids: give --id_prefix");
  }
  if (options_.channel_keys.empty()) {
    return absl::InvalidArgumentError("no key: give --key or --credentials");
  }
  absl::StatusOr<std::unique_ptr<TextFile>> file =
      TextFile::Open(options_.input);
  if (!file.ok()) return file.status();
  file_ = *std::move(file);

  std::optional<std::vector<std::string>> header;
  if (format_ == InputFormat::kCsv) {
    auto csv = std::make_unique<CsvReader>(*file_);
    RawRecord first;
    if (!csv->Next(first)) {
      return absl::InvalidArgumentError(
          absl::StrCat(options_.input,
                       ": the file is empty (a CSV file "
                       "starts with a header row)"));
    }
    if (!first.error.empty()) {
      return absl::InvalidArgumentError(
          absl::StrCat(options_.input, ": line ", first.line,
                       ": the header: ", first.error));
    }
    csv->set_expected_fields(first.fields.size());
    header = first.fields;
    for (size_t i = 0; i < header->size(); ++i) columns_[(*header)[i]] = i;
    reader_ = std::move(csv);
  } else {
    reader_ = std::make_unique<LineReader>(*file_);
  }
  absl::StatusOr<RowMapper> mapper =
      RowMapper::Create(options_.mapping, header, id_prefix_);
  if (!mapper.ok()) {
    return absl::Status(
        mapper.status().code(),
        absl::StrCat(options_.input, ": ", mapper.status().message()));
  }
  mapper_ = *std::move(mapper);
  rejects_format_ = std::make_unique<RejectsFormat>(
      format_, header.value_or(std::vector<std::string>()));
  return absl::OkStatus();
}

absl::Status Import::OpenOutputs() {
  absl::StatusOr<InputIdentity> identity =
      IdentityOf(options_.input, id_prefix_);
  if (!identity.ok()) return identity.status();
  identity_ = *identity;
  progress_path_ = options_.dry_run ? ""
                   : options_.progress_file.empty()
                       ? options_.input + ".progress"
                       : options_.progress_file;
  rejects_path_ = !options_.rejects_file.empty() ? options_.rejects_file
                  : format_ == InputFormat::kCsv
                      ? options_.input + ".rejected.csv"
                      : options_.input + ".rejected.jsonl";
  // Where a previous run stopped, if it was an unfinished import of this
  // very file whose rejected rows are all still there.
  std::optional<Progress> previous;
  if (!progress_path_.empty() && options_.resume) {
    previous = ReadProgress(progress_path_);
    std::error_code ignored;
    const auto rejects_size =
        std::filesystem::file_size(rejects_path_, ignored);
    if (previous.has_value() &&
        (previous->complete || previous->input.path != identity_.path ||
         previous->input.size != identity_.size ||
         previous->input.mtime_ns != identity_.mtime_ns ||
         previous->input.id_prefix != identity_.id_prefix || ignored ||
         static_cast<int64_t>(rejects_size) < previous->rejects_bytes)) {
      if (!previous->complete) {
        display_ << "polku-import: " << progress_path_
                 << " is of another file, or that file changed: starting "
                    "from the first row (rows already stored are answered "
                    "as duplicates)"
                 << std::endl;
      }
      previous.reset();
    }
  }
  if (previous.has_value()) {
    // Rows written after the progress was recorded are written again.
    if (::truncate(rejects_path_.c_str(), previous->rejects_bytes) != 0) {
      return absl::UnavailableError(
          absl::StrCat("cannot truncate ", rejects_path_));
    }
    rejects_ = std::fopen(rejects_path_.c_str(), "ab");
    resumed_after_ = previous->through;
    resumed_rows_ = previous->counts.rows();
    ledger_ =
        std::make_unique<ImportLedger>(previous->counts, previous->through);
    display_ << "polku-import: resuming after line " << resumed_after_ << " ("
             << Thousands(resumed_rows_) << " rows done before)" << std::endl;
  } else {
    rejects_ = std::fopen(rejects_path_.c_str(), "wb");
    if (rejects_ != nullptr) {
      const std::string head = rejects_format_->Header();
      std::fwrite(head.data(), 1, head.size(), rejects_);
    }
    ledger_ = std::make_unique<ImportLedger>();
  }
  if (rejects_ == nullptr) {
    return absl::PermissionDeniedError(
        absl::StrCat("cannot write the rejected rows to ", rejects_path_));
  }
  return absl::OkStatus();
}

bool Import::Send(RawRecord& record) {
  ledger_->Begin(record.line);
  if (!record.error.empty()) {
    RejectHere(record.line, "",
               absl::StrCat("the line cannot be read: ", record.error), "",
               record);
    return true;
  }
  std::optional<JsonRow> json;
  std::optional<CsvRow> csv;
  if (format_ == InputFormat::kJsonLines) {
    absl::StatusOr<JsonRow> parsed = JsonRow::Parse(record.text);
    if (!parsed.ok()) {
      record.error = std::string(parsed.status().message());
      RejectHere(record.line, "",
                 absl::StrCat("the line cannot be read: ", record.error), "",
                 record);
      return true;
    }
    json = *std::move(parsed);
  } else {
    csv.emplace(columns_, record.fields);
  }
  const Row& row = json.has_value() ? static_cast<const Row&>(*json) : *csv;
  std::variant<MappedRow, RowError> mapped = mapper_->Map(row, record.line);
  if (auto* error = std::get_if<RowError>(&mapped)) {
    RejectHere(record.line, error->field, error->reason, "", record);
    return true;
  }
  MappedRow& event = std::get<MappedRow>(mapped);
  absl::StatusOr<ChannelClient*> client = ClientFor(event.channel);
  if (!client.ok()) {
    if (client.status().code() != absl::StatusCode::kInvalidArgument) {
      absl::MutexLock lock(&mu_);
      fatal_ = client.status();
      return false;
    }
    RejectHere(record.line, "channel", std::string(client.status().message()),
               event.event.event_id(), record);
    return true;
  }
  const std::string key =
      absl::StrCat(options_.channel_keys.contains("") ? "" : event.channel,
                   absl::string_view("\0", 1), event.event.event_id());
  {
    absl::MutexLock lock(&mu_);
    InFlight& entry = in_flight_[key].emplace_back();
    entry.line = record.line;
    if (format_ == InputFormat::kCsv) {
      entry.fields = std::move(record.fields);
    } else {
      entry.json = std::move(record.text);
    }
  }
  // Waits while the client's buffer is full: the reader never runs ahead of
  // what the gateway takes.
  while (true) {
    absl::Status queued =
        (*client)->SubmitWithin(event.event, absl::Milliseconds(200));
    if (queued.ok()) return true;
    if (queued.code() == absl::StatusCode::kResourceExhausted &&
        !stop_.load()) {
      continue;
    }
    // Closed or refused: the row stays unanswered (it is not done).
    absl::MutexLock lock(&mu_);
    if (fatal_.ok() && !stop_.load()) fatal_ = queued;
    return false;
  }
}

bool Import::ReadAndSend() {
  RawRecord record;
  while (true) {
    if (stop_.load()) return true;
    {
      absl::MutexLock lock(&mu_);
      if (!fatal_.ok()) return false;
    }
    if (!reader_->Next(record)) {
      absl::MutexLock lock(&mu_);
      if (!reader_->status().ok()) {
        fatal_ = reader_->status();
      } else {
        read_everything_ = true;
      }
      return false;
    }
    if (record.line <= resumed_after_) {
      start_bytes_ = reader_->consumed();
      continue;
    }
    if (!Send(record)) return stop_.load();
  }
}

absl::StatusOr<ImportResult> Import::Run() {
  if (absl::Status s = OpenInput(); !s.ok()) return s;
  if (absl::Status s = OpenOutputs(); !s.ok()) return s;

  started_ = absl::Now();
  std::thread display([this] { DisplayLoop(); });
  const bool interrupted = ReadAndSend();

  // What was sent gets its answers (bounded), so the progress covers it.
  for (auto& [channel, client] : clients_) {
    client->Flush(interrupted ? absl::Seconds(30) : options_.flush_timeout);
    client->Close(absl::Seconds(5));
  }
  {
    absl::MutexLock lock(&mu_);
    done_ = true;
  }
  display.join();
  absl::Status saved = Checkpoint(true);
  ShowProgress(true);
  std::fclose(rejects_);
  if (!saved.ok()) return saved;

  ImportLedger::Settled settled = ledger_->TakeSettled();
  ImportResult result;
  result.counts = settled.counts;
  result.rows_this_run = settled.counts.rows() - resumed_rows_;
  result.elapsed = absl::Now() - started_;
  result.resumed_after_line = resumed_after_;
  result.interrupted = interrupted;
  result.settled_through = settled.through;
  result.rejects_file = rejects_path_;
  absl::MutexLock lock(&mu_);
  result.error = fatal_;
  result.complete = read_everything_ && fatal_.ok() && !interrupted &&
                    ledger_->unanswered() == 0;
  result.first_rejections = first_rejections_;
  return result;
}

}  // namespace

absl::StatusOr<ImportResult> RunImport(const ImportOptions& options,
                                       std::shared_ptr<grpc::Channel> gateway,
                                       const std::atomic<bool>& stop,
                                       std::ostream& display) {
  Import import(options, std::move(gateway), stop, display);
  return import.Run();
}

}  // namespace polku::import
