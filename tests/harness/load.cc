#include "tests/harness/load.h"

#include <utility>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/strings/string_view.h"
#include "absl/time/clock.h"

namespace polku::testing {
namespace {

// The string value of "key" in one JSON log line ("" if absent). Log values
// here (request ids, codes, messages) need no unescaping.
std::string Field(absl::string_view line, absl::string_view key) {
  const std::string needle = absl::StrCat("\"", key, "\":\"");
  size_t start = line.find(needle);
  if (start == absl::string_view::npos) return "";
  start += needle.size();
  size_t end = line.find('"', start);
  if (end == absl::string_view::npos) return "";
  return std::string(line.substr(start, end - start));
}

}  // namespace

SteadyLoad::SteadyLoad(std::string name, int threads, absl::Duration interval, Call call)
    : name_(std::move(name)), interval_(interval), call_(std::move(call)) {
  for (int t = 0; t < threads; ++t) threads_.emplace_back([this, t] { Run(t); });
}

SteadyLoad::~SteadyLoad() { Stop(); }

void SteadyLoad::Run(int thread) {
  for (int n = 0; !stop_.load(); ++n) {
    CallRecord record;
    record.request_id = absl::StrCat(name_, "-", thread, "-", n);
    record.start = absl::Now();
    ++in_flight_;
    record.status = call_(record.request_id);
    record.end = absl::Now();
    --in_flight_;
    {
      absl::MutexLock lock(&mu_);
      records_.push_back(record);
    }
    // Paced from the call's start; bounded by the interval, and a stop
    // wakes it within 20 ms.
    const absl::Time next = record.start + interval_;
    while (!stop_.load() && absl::Now() < next) {
      absl::SleepFor(std::min(next - absl::Now(), absl::Milliseconds(20)));
    }
  }
}

bool SteadyLoad::AwaitCompleted(int count, absl::Duration timeout) {
  return AwaitCompletedAfter(absl::InfinitePast(), count, timeout);
}

bool SteadyLoad::AwaitCompletedAfter(absl::Time after, int count, absl::Duration timeout) {
  auto enough = [this, after, count]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    int n = 0;
    for (const CallRecord& record : records_) {
      if (record.start > after) ++n;
    }
    return n >= count;
  };
  absl::MutexLock lock(&mu_);
  return mu_.AwaitWithTimeout(absl::Condition(&enough), timeout);
}

bool SteadyLoad::AwaitInFlight(int count, absl::Duration timeout) const {
  // Polled: the count changes outside any lock, on the calling threads.
  const absl::Time deadline = absl::Now() + timeout;
  while (in_flight_.load() < count) {
    if (absl::Now() > deadline) return false;
    absl::SleepFor(absl::Milliseconds(5));
  }
  return true;
}

void SteadyLoad::Stop() {
  stop_ = true;
  for (std::thread& thread : threads_) {
    if (thread.joinable()) thread.join();
  }
}

std::vector<CallRecord> SteadyLoad::records() const {
  absl::MutexLock lock(&mu_);
  return records_;
}

std::map<std::string, std::string> LoggedRequests(const std::string& log) {
  std::map<std::string, std::string> requests;
  for (absl::string_view line : absl::StrSplit(log, '\n', absl::SkipEmpty())) {
    if (!absl::StrContains(line, "\"msg\":\"request\"") &&
        !absl::StrContains(line, "\"msg\":\"http request\"")) {
      continue;
    }
    std::string id = Field(line, "request_id");
    if (!id.empty()) requests[id] = Field(line, "code");
  }
  return requests;
}

DrainReport CheckDrain(const std::vector<CallRecord>& calls,
                       const std::map<std::string, std::string>& logged,
                       absl::Time sigterm, absl::Duration refusal_bound) {
  DrainReport report;
  for (const CallRecord& call : calls) {
    auto it = logged.find(call.request_id);
    const bool taken = it != logged.end();
    if (call.end < sigterm) {
      ++report.before;
      if (!call.status.ok()) {
        report.problems.push_back(
            absl::StrCat(call.request_id, " failed before the SIGTERM: ", call.status.ToString()));
      }
      continue;
    }
    if (taken) {
      ++(call.start < sigterm ? report.in_flight : report.after);
      if (!call.status.ok() || it->second != "OK") {
        report.problems.push_back(absl::StrCat(
            call.request_id, " was taken by the server and failed: client ",
            call.status.ToString(), ", server log ", it->second, " (started ",
            absl::FormatDuration(call.start - sigterm), " after the SIGTERM, ended ",
            absl::FormatDuration(call.end - sigterm), " after it)"));
      }
      continue;
    }
    ++report.refused;
    if (absl::IsCancelled(call.status)) ++report.zombies;
    if (!absl::IsUnavailable(call.status) && !absl::IsCancelled(call.status)) {
      report.problems.push_back(absl::StrCat(call.request_id,
                                             " was never taken by the server but not refused "
                                             "with UNAVAILABLE (or CANCELLED): ",
                                             call.status.ToString()));
    } else if (absl::IsCancelled(call.status) && call.start < sigterm - absl::Seconds(1)) {
      report.problems.push_back(absl::StrCat(call.request_id,
                                             " was cancelled unhandled long before the SIGTERM"));
    } else if (call.end - call.start > refusal_bound) {
      report.problems.push_back(absl::StrCat(call.request_id, " took ",
                                             absl::FormatDuration(call.end - call.start),
                                             " to be refused"));
    }
  }
  return report;
}

}  // namespace polku::testing
