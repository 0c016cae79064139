// Reading a fuzzer's bytes as several fields: each field ends at the next
// separator byte (0xFF, never in valid UTF-8), the last takes the rest. So
// the seed corpus is readable text and mutations move the boundaries.
#ifndef POLKU_TESTS_FUZZ_FUZZ_INPUT_H_
#define POLKU_TESTS_FUZZ_FUZZ_INPUT_H_

#include <cstddef>
#include <cstdint>

#include "absl/strings/string_view.h"

namespace polku::fuzz {

class FuzzInput {
 public:
  FuzzInput(const uint8_t* data, size_t size)
      : rest_(reinterpret_cast<const char*>(data), size) {}

  // The next field ("" once the input is used up).
  absl::string_view Next() {
    const size_t end = rest_.find('\xFF');
    absl::string_view field = rest_.substr(0, end);
    rest_ = end == absl::string_view::npos ? absl::string_view()
                                           : rest_.substr(end + 1);
    return field;
  }
  bool empty() const { return rest_.empty(); }

 private:
  absl::string_view rest_;
};

// Whether `text` is well-formed UTF-8 (no overlong forms, surrogates or
// code points above U+10FFFF).
inline bool IsValidUtf8(absl::string_view text) {
  size_t i = 0;
  while (i < text.size()) {
    const auto c = static_cast<unsigned char>(text[i]);
    size_t length;
    uint32_t code;
    if (c < 0x80) {
      ++i;
      continue;
    } else if ((c & 0xE0) == 0xC0) {
      length = 2;
      code = c & 0x1F;
    } else if ((c & 0xF0) == 0xE0) {
      length = 3;
      code = c & 0x0F;
    } else if ((c & 0xF8) == 0xF0) {
      length = 4;
      code = c & 0x07;
    } else {
      return false;
    }
    if (i + length > text.size()) return false;
    for (size_t k = 1; k < length; ++k) {
      const auto next = static_cast<unsigned char>(text[i + k]);
      if ((next & 0xC0) != 0x80) return false;
      code = (code << 6) | (next & 0x3F);
    }
    static constexpr uint32_t kMinimum[] = {0, 0, 0x80, 0x800, 0x10000};
    if (code < kMinimum[length] || code > 0x10FFFF ||
        (code >= 0xD800 && code <= 0xDFFF)) {
      return false;
    }
    i += length;
  }
  return true;
}

}  // namespace polku::fuzz

#endif  // POLKU_TESTS_FUZZ_FUZZ_INPUT_H_
