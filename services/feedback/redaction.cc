#include "services/feedback/redaction.h"

#include <cstddef>
#include <string>
#include <vector>

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"

namespace polku::feedback {
namespace {

bool IsLocalChar(char c) {
  return absl::ascii_isalnum(c) || c == '.' || c == '_' || c == '%' ||
         c == '+' || c == '-';
}

bool IsDomainChar(char c) {
  return absl::ascii_isalnum(c) || c == '.' || c == '-';
}

bool IsDigit(char c) { return absl::ascii_isdigit(c); }

// Replaces every e-mail address with [email].
std::string RedactEmails(absl::string_view text) {
  std::string out;
  size_t copied = 0;  // text before this is in `out`
  size_t at = text.find('@');
  while (at != absl::string_view::npos) {
    size_t start = at;
    while (start > copied && IsLocalChar(text[start - 1])) --start;
    size_t end = at + 1;
    while (end < text.size() && IsDomainChar(text[end])) ++end;
    // A sentence's full stop or a dash is not part of the domain.
    while (end > at + 1 && (text[end - 1] == '.' || text[end - 1] == '-')) {
      --end;
    }
    const absl::string_view domain = text.substr(at + 1, end - at - 1);
    const size_t dot = domain.rfind('.');
    bool valid = start < at && dot != absl::string_view::npos && dot > 0 &&
                 domain.size() - dot - 1 >= 2 && domain.front() != '-';
    if (valid) {
      for (char c : domain.substr(dot + 1)) valid &= absl::ascii_isalpha(c);
    }
    if (valid) {
      absl::StrAppend(&out, text.substr(copied, start - copied));
      absl::StrAppend(&out, "[email]");
      copied = end;
    }
    at = text.find('@', std::max(end, at + 1));
  }
  absl::StrAppend(&out, text.substr(copied));
  return out;
}

// A run of digit groups: "040 123 4567", "4111-1111-1111-1111".
struct Group {
  size_t begin;
  size_t end;
};

// Separators inside numbers that mean "this is not a phone or card number"
// (decimals, dates, times) when a digit follows.
bool IsNumberPunctuation(char c) {
  return c == '.' || c == ',' || c == ':' || c == '/';
}

std::string DigitsOf(absl::string_view text, const std::vector<Group>& groups,
                     size_t first, size_t count) {
  std::string digits;
  for (size_t g = first; g < first + count; ++g) {
    absl::StrAppend(
        &digits, text.substr(groups[g].begin, groups[g].end - groups[g].begin));
  }
  return digits;
}

enum class Kind { kNone, kPhone, kCard };

// What groups [first, first + count) of a run are; `plus` if a '+' stands
// right before the first group.
Kind Classify(absl::string_view text, const std::vector<Group>& groups,
              size_t first, size_t count, bool plus) {
  const std::string digits = DigitsOf(text, groups, first, count);
  const size_t n = digits.size();
  if (plus) return n >= 7 && n <= 15 ? Kind::kPhone : Kind::kNone;
  if (n >= 13 && n <= 19 && LuhnValid(digits)) return Kind::kCard;
  if (digits[0] == '0' && digits[1] != '0' && n >= 8 && n <= 11) {
    const size_t first_len = groups[first].end - groups[first].begin;
    if (count == 1) return Kind::kPhone;
    const size_t second_len = groups[first + 1].end - groups[first + 1].begin;
    if (first_len >= 2 && first_len <= 4 && second_len >= 3) {
      return Kind::kPhone;
    }
  }
  return Kind::kNone;
}

std::string RedactNumbers(absl::string_view text) {
  std::string out;
  size_t i = 0;
  while (i < text.size()) {
    const bool plus =
        text[i] == '+' && i + 1 < text.size() && IsDigit(text[i + 1]);
    if (!IsDigit(text[i]) && !plus) {
      out.push_back(text[i++]);
      continue;
    }
    // Glued to a word or to a decimal/date before it: not ours.
    const bool glued =
        i > 0 &&
        (absl::ascii_isalnum(text[i - 1]) ||
         (IsNumberPunctuation(text[i - 1]) && i > 1 && IsDigit(text[i - 2])));
    // The run: groups of digits joined by one space or dash.
    const size_t run_begin = i;
    std::vector<Group> groups;
    size_t j = plus ? i + 1 : i;
    while (true) {
      const size_t begin = j;
      while (j < text.size() && IsDigit(text[j])) ++j;
      groups.push_back({begin, j});
      if (j + 1 < text.size() && (text[j] == ' ' || text[j] == '-') &&
          IsDigit(text[j + 1])) {
        ++j;
        continue;
      }
      break;
    }
    const size_t run_end = j;
    const bool glued_after =
        run_end < text.size() &&
        (absl::ascii_isalpha(text[run_end]) ||
         (IsNumberPunctuation(text[run_end]) && run_end + 1 < text.size() &&
          IsDigit(text[run_end + 1])));
    if (glued) {
      absl::StrAppend(&out, text.substr(run_begin, run_end - run_begin));
      i = run_end;
      continue;
    }
    // From each group start, the longest prefix of groups that is a phone
    // or card number; a match must end where the run ends or at a group
    // boundary, and the run's end must not be glued to more.
    size_t copied = run_begin;
    for (size_t s = 0; s < groups.size();) {
      const bool with_plus = plus && s == 0;
      Kind kind = Kind::kNone;
      size_t count = groups.size() - s;
      for (; count >= 1; --count) {
        if (s + count == groups.size() && glued_after) continue;
        kind = Classify(text, groups, s, count, with_plus);
        if (kind != Kind::kNone) break;
      }
      if (kind == Kind::kNone) {
        ++s;
        continue;
      }
      const size_t begin = with_plus ? run_begin : groups[s].begin;
      absl::StrAppend(&out, text.substr(copied, begin - copied));
      absl::StrAppend(&out, kind == Kind::kCard ? "[card]" : "[phone]");
      copied = groups[s + count - 1].end;
      s += count;
    }
    absl::StrAppend(&out, text.substr(copied, run_end - copied));
    i = run_end;
  }
  return out;
}

}  // namespace

bool LuhnValid(absl::string_view digits) {
  int sum = 0;
  bool double_it = false;
  for (size_t k = digits.size(); k > 0; --k) {
    const char c = digits[k - 1];
    if (!IsDigit(c)) return false;
    int d = c - '0';
    if (double_it) {
      d *= 2;
      if (d > 9) d -= 9;
    }
    sum += d;
    double_it = !double_it;
  }
  return !digits.empty() && sum % 10 == 0;
}

std::string RedactComment(absl::string_view text) {
  // A number glued to the end of another is left alone in one pass
  // ("…45 02+358 45 02"), but once the first is replaced it stands free
  // ("[phone]+358 45 02"): repeat until nothing changes, so that the stored
  // comment holds nothing this function would still redact. Each repeat
  // replaces at least seven digits, so this ends.
  std::string redacted = RedactNumbers(RedactEmails(text));
  if (redacted == text) return redacted;  // nothing found: the usual case
  while (true) {
    std::string again = RedactNumbers(RedactEmails(redacted));
    if (again == redacted) return redacted;
    redacted = std::move(again);
  }
}

}  // namespace polku::feedback
