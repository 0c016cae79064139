// Process-wide settings every Polku binary wants, applied once at the start
// of main. rpc::ParseFlags calls it; a binary that parses its flags another
// way calls it itself.
#ifndef POLKU_LIB_BASE_PROCESS_H_
#define POLKU_LIB_BASE_PROCESS_H_

namespace polku {

// In optimised builds (NDEBUG), turns off absl::Mutex deadlock detection.
// Debian's abseil is built without NDEBUG and so leaves it on: every lock of
// every absl::Mutex, gRPC's own included, records lock order in one global
// graph. An uncontended lock pair cost 60 ns instead of 15, and
// GraphCycles::GetId alone was 1-2 % of polku-feedback's and
// polku-gateway's CPU samples under load. Debug and sanitizer builds keep
// the detection.
void SetUpProcess();

}  // namespace polku

#endif  // POLKU_LIB_BASE_PROCESS_H_
