// The Finnish lemmatiser over Voikko. Compiled only with POLKU_VOIKKO=ON:
// libvoikko is GPL-2.0-or-later (docs/themes.md, "Licence").
#ifndef POLKU_LIB_TEXT_VOIKKO_LEMMATIZER_H_
#define POLKU_LIB_TEXT_VOIKKO_LEMMATIZER_H_

#include <memory>
#include "absl/strings/string_view.h"

#include "absl/status/statusor.h"
#include "lib/text/lemmatizer.h"

namespace polku::text {

absl::StatusOr<std::unique_ptr<Lemmatizer>> NewVoikkoLemmatizer(
    absl::string_view voikko_path);

}  // namespace polku::text

#endif  // POLKU_LIB_TEXT_VOIKKO_LEMMATIZER_H_
