// Personal data in free-text comments is removed before anything is
// written: e-mail addresses become [email], phone numbers [phone] and
// payment-card numbers [card]. Pure and deterministic, so a re-sent event is
// redacted the same way and stays a DUPLICATE.
//
//   RedactComment("Soita 040 123 4567 tai matti@example.fi")
//       == "Soita [phone] tai [email]"
//
// What counts as what:
//  * e-mail: local@domain.tld (a dot in the domain, a top-level domain of
//    two or more letters).
//  * phone, international: `+`, then 7–15 digits in groups separated by
//    single spaces or dashes (+358 40 1234567, +46 70 123 45 67).
//  * phone, Finnish or Swedish national: a leading 0 then a non-zero digit,
//    8–11 digits in all, as one group or with a second group of at least
//    three digits (040 123 4567, 09-1234567, 070-123 45 67, 0401234567).
//  * card: 13–19 digits in groups separated by single spaces or dashes that
//    pass the Luhn check.
// A number glued to letters, or part of a decimal, date or time written with
// `.`, `,`, `:` or `/`, is left alone, as are ordinary numbers ("order
// 12345", "2024-05-01", "1 299 €").
#ifndef POLKU_SERVICES_FEEDBACK_REDACTION_H_
#define POLKU_SERVICES_FEEDBACK_REDACTION_H_

#include <string>

#include "absl/strings/string_view.h"

namespace polku::feedback {

std::string RedactComment(absl::string_view text);

// The Luhn checksum over a string of digits.
bool LuhnValid(absl::string_view digits);

}  // namespace polku::feedback

#endif  // POLKU_SERVICES_FEEDBACK_REDACTION_H_
