// Calls at a steady, bounded rate for tests that disturb a server while it is
// busy (drain on SIGTERM, faults between services), and the server's side of
// the story from its log.
//
//   SteadyLoad load("submit", /*threads=*/2, absl::Milliseconds(10),
//                   [&](const std::string& request_id) {
//                     grpc::ClientContext context;
//                     context.AddMetadata("x-request-id", request_id);
//                     … return the call's status as an absl::Status
//                   });
//   ASSERT_TRUE(load.AwaitCompleted(50, absl::Seconds(30)));
//   … SIGTERM the server …
//   load.Stop();
//   for (const CallRecord& call : load.records()) …
//
// Each thread starts a call, waits for it to end, then waits until
// `interval` has passed since the call's start: at most threads / interval
// calls a second, fewer when the server is slow. Each call carries a request
// id unique to the load ("<name>-<thread>-<n>"), which the servers log.
#ifndef POLKU_TESTS_HARNESS_LOAD_H_
#define POLKU_TESTS_HARNESS_LOAD_H_

#include <atomic>
#include <functional>
#include <map>
#include <string>
#include <thread>
#include <vector>

#include "absl/status/status.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"

namespace polku::testing {

// One call as its client saw it.
struct CallRecord {
  std::string request_id;
  absl::Time start;
  absl::Time end;
  absl::Status status;
};

class SteadyLoad {
 public:
  using Call = std::function<absl::Status(const std::string& request_id)>;

  // Starts `threads` threads calling `call` (see the overview).
  SteadyLoad(std::string name, int threads, absl::Duration interval, Call call);
  ~SteadyLoad();  // Stops.

  SteadyLoad(const SteadyLoad&) = delete;
  SteadyLoad& operator=(const SteadyLoad&) = delete;

  // Until `count` calls have ended (whatever their status), at most
  // `timeout`; false if they did not.
  bool AwaitCompleted(int count, absl::Duration timeout);
  // Until `count` calls that started after `after` have ended, at most
  // `timeout`.
  bool AwaitCompletedAfter(absl::Time after, int count, absl::Duration timeout);

  // Calls started and not yet ended.
  int in_flight() const { return in_flight_.load(); }
  // Until at least `count` calls are in flight at once, at most `timeout`.
  bool AwaitInFlight(int count, absl::Duration timeout) const;

  // Lets the calls in flight end, starts no more, joins the threads.
  void Stop();

  // Every call that ended, in the order they ended.
  std::vector<CallRecord> records() const;

 private:
  void Run(int thread);

  const std::string name_;
  const absl::Duration interval_;
  const Call call_;
  std::atomic<bool> stop_{false};
  std::atomic<int> in_flight_{0};
  mutable absl::Mutex mu_;
  std::vector<CallRecord> records_ ABSL_GUARDED_BY(mu_);
  std::vector<std::thread> threads_;
};

// The requests a Polku process logged ("request" and "http request" lines,
// lib/rpc/server.cc and the gateway): request id → the code it answered
// (e.g. "OK", "UNAVAILABLE"). A request logged more than once keeps its
// last code.
std::map<std::string, std::string> LoggedRequests(const std::string& log);

// How a drain went for one load: the calls the server took (found in its
// log) must all have succeeded, at the client and in the log; the calls it
// never took must have been refused with UNAVAILABLE (a client retries
// them elsewhere) within `refusal_bound`; nothing may have failed before
// `sigterm`. Each breach is one line of `problems`.
//
// One exception, gRPC C++'s and not Polku's: a call that reaches a server
// in the moment between the start of grpc::Server::Shutdown and the
// client's receipt of the GOAWAY is cancelled by gRPC core before any
// handler sees it (a "zombie" call): the client gets CANCELLED. Such a call
// was never handled, so Polku's clients (lib/client, the gateway's proxy)
// send it again; it is counted in `zombies` and accepted here.
struct DrainReport {
  int before = 0;     // ended before the SIGTERM
  int in_flight = 0;  // started before it, ended after, taken by the server
  int after = 0;      // started after it and taken by the server
  int refused = 0;    // never taken by the server: refused
  int zombies = 0;    // of those, cancelled unhandled by gRPC core
  std::vector<std::string> problems;
};
DrainReport CheckDrain(const std::vector<CallRecord>& calls,
                       const std::map<std::string, std::string>& logged,
                       absl::Time sigterm, absl::Duration refusal_bound);

}  // namespace polku::testing

#endif  // POLKU_TESTS_HARNESS_LOAD_H_
