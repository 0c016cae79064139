#include "services/journey/journey_store_common.h"

#include <algorithm>

#include "absl/strings/escaping.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/time/time.h"
#include "google/protobuf/io/coded_stream.h"
#include "google/protobuf/io/zero_copy_stream_impl_lite.h"
#include "lib/base/status_macros.h"
#include "services/journey/journey_store.h"

namespace polku::journey::store_internal {
namespace {

constexpr absl::string_view kPageTokenPrefix = "after:";

}  // namespace

std::string SerializeContent(const polku::v1::Journey& journey,
                             bool keep_history) {
  polku::v1::Journey content = journey;
  content.clear_version();
  content.clear_state();
  content.clear_create_time();
  content.clear_publish_time();
  content.clear_archived();
  if (!keep_history) {
    for (polku::v1::Touchpoint& touchpoint : *content.mutable_touchpoints()) {
      touchpoint.clear_former_keys();
    }
  }
  std::string bytes;
  {
    google::protobuf::io::StringOutputStream stream(&bytes);
    google::protobuf::io::CodedOutputStream coded(&stream);
    coded.SetSerializationDeterministic(true);
    content.SerializeToCodedStream(&coded);
  }
  return bytes;
}

void SetTimestamp(int64_t unix_micros, google::protobuf::Timestamp& out) {
  const absl::Time time = absl::FromUnixMicros(unix_micros);
  const int64_t seconds = absl::ToUnixSeconds(time);
  out.set_seconds(seconds);
  out.set_nanos(static_cast<int32_t>(
      absl::ToInt64Nanoseconds(time - absl::FromUnixSeconds(seconds))));
}

polku::v1::Journey DraftView(const std::string& body, absl::string_view key,
                             int64_t create_time_us) {
  polku::v1::Journey draft;
  draft.ParseFromString(body);
  draft.set_key(std::string(key));
  draft.set_version(0);
  draft.set_state(polku::v1::DRAFT);
  SetTimestamp(create_time_us, *draft.mutable_create_time());
  return draft;
}

std::string EncodePageToken(absl::string_view last) {
  return absl::WebSafeBase64Escape(absl::StrCat(kPageTokenPrefix, last));
}

absl::StatusOr<std::string> DecodePageToken(absl::string_view token) {
  std::string decoded;
  if (!absl::WebSafeBase64Unescape(token, &decoded) ||
      !absl::StartsWith(decoded, kPageTokenPrefix)) {
    return absl::InvalidArgumentError(
        "page_token: not a token that ListJourneys returned");
  }
  return decoded.substr(kPageTokenPrefix.size());
}

absl::StatusOr<int> PageSize(int page_size) {
  if (page_size < 0) {
    return absl::InvalidArgumentError(
        absl::StrCat("page_size: ", page_size, " is negative"));
  }
  if (page_size == 0) page_size = kDefaultPageSize;
  return std::min(page_size, kMaxPageSize);
}

absl::StatusOr<int> DecodeVersionToken(absl::string_view token) {
  int after = 0;
  if (token.empty()) return after;
  POLKU_ASSIGN_OR_RETURN(std::string decoded, DecodePageToken(token));
  if (!absl::SimpleAtoi(decoded, &after) || after < 0) {
    return absl::InvalidArgumentError(
        "page_token: not a token that ListJourneyVersions returned");
  }
  return after;
}

absl::StatusOr<std::string> KeyAfter(absl::string_view token) {
  if (token.empty()) return std::string();
  return DecodePageToken(token);
}

void EndPage(int page_size, bool by_version, JourneyPage& page) {
  if (static_cast<int>(page.journeys.size()) <= page_size) return;
  page.journeys.resize(page_size);
  const polku::v1::Journey& last = page.journeys.back();
  page.next_page_token = EncodePageToken(
      by_version ? absl::StrCat(last.version()) : last.key());
}

absl::Status CheckVersion(int version, bool zero_is_latest) {
  if (version >= 0) return absl::OkStatus();
  return absl::InvalidArgumentError(absl::StrCat(
      "version: ", version,
      zero_is_latest
          ? " is not a version; use 0 for the latest or a published version"
          : " is not a version; use 0 for the draft"));
}

absl::Status NoSuchVersion(absl::string_view key, int version,
                           int latest_version, bool say_never_published) {
  if (say_never_published && latest_version == 0) {
    return absl::NotFoundError(absl::StrCat("journey \"", key,
                                            "\" has no version ", version,
                                            ": it was never published"));
  }
  return absl::NotFoundError(absl::StrCat("journey \"", key,
                                          "\" has no version ", version,
                                          " (latest published: ",
                                          latest_version, ")"));
}

}  // namespace polku::journey::store_internal
