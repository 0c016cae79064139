// Comment redaction (services/feedback/redaction.h) on any text: it never
// crashes, is deterministic (a re-sent event stays a DUPLICATE), leaves
// nothing redactable behind (redacting twice changes nothing more), and
// keeps valid UTF-8 valid.
#include <cstdint>
#include <cstdlib>
#include <string>

#include "services/feedback/redaction.h"
#include "tests/fuzz/fuzz_input.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const absl::string_view text(reinterpret_cast<const char*>(data), size);
  const std::string once = polku::feedback::RedactComment(text);
  if (polku::feedback::RedactComment(text) != once) std::abort();
  if (polku::feedback::RedactComment(once) != once) std::abort();
  if (polku::fuzz::IsValidUtf8(text) && !polku::fuzz::IsValidUtf8(once))
    std::abort();
  return 0;
}
