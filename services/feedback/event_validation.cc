#include "services/feedback/event_validation.h"

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <optional>
#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/time/civil_time.h"

namespace polku::feedback {
namespace {

// Values echoed into reasons are cut short: a reason is read by people.
constexpr size_t kMaxQuotedBytes = 64;

// 'value', cut at a UTF-8 character boundary if long.
std::string Quote(absl::string_view value) {
  if (value.size() <= kMaxQuotedBytes) return absl::StrCat("'", value, "'");
  size_t end = kMaxQuotedBytes;
  // Step back over continuation bytes (10xxxxxx) so the cut is valid UTF-8.
  while (end > 0 && (static_cast<unsigned char>(value[end]) & 0xC0) == 0x80) {
    --end;
  }
  return absl::StrCat("'", value.substr(0, end), "…'");
}

// C0 controls, DEL, and C1 controls (U+0080–U+009F, UTF-8 C2 80–C2 9F).
bool HasControlCharacter(absl::string_view text) {
  for (size_t i = 0; i < text.size(); ++i) {
    const auto c = static_cast<unsigned char>(text[i]);
    if (c < 0x20 || c == 0x7F) return true;
    if (c == 0xC2 && i + 1 < text.size()) {
      const auto next = static_cast<unsigned char>(text[i + 1]);
      if (next >= 0x80 && next <= 0x9F) return true;
    }
  }
  return false;
}

// PostgreSQL's text cannot hold U+0000, so neither store may be given it:
// what one backend keeps, the other must too.
std::optional<EventRejection> CheckNoNul(absl::string_view field,
                                         absl::string_view text) {
  if (text.find('\0') == absl::string_view::npos) return std::nullopt;
  return EventRejection{std::string(field),
                        absl::StrCat(field, " must not contain NUL (U+0000)")};
}

EventRejection TooLong(absl::string_view field, size_t size, size_t limit) {
  return {std::string(field),
          absl::StrCat(field, " is ", size, " bytes; at most ", limit)};
}

std::optional<EventRejection> CheckEventId(absl::string_view event_id) {
  if (event_id.empty())
    return EventRejection{"event_id", "event_id is required"};
  if (event_id.size() > kMaxEventIdBytes) {
    return TooLong("event_id", event_id.size(), kMaxEventIdBytes);
  }
  if (HasControlCharacter(event_id)) {
    return EventRejection{"event_id",
                          "event_id must not contain control characters"};
  }
  return std::nullopt;
}

EventRejection WrongChannel(const polku::v1::TouchpointEvent& event,
                            const ResolvedTouchpoint& found,
                            const EventSource& source) {
  return EventRejection{
      "touchpoint", absl::StrCat("touchpoint ", Quote(event.touchpoint()),
                                 " belongs to channel ", Quote(found.channel),
                                 ", not ", Quote(source.channel))};
}

// When the event occurred, if its occurred_at is a valid timestamp.
std::optional<absl::Time> OccurredAt(const polku::v1::TouchpointEvent& event) {
  if (!event.has_occurred_at() || event.occurred_at().nanos() < 0 ||
      event.occurred_at().nanos() > 999999999) {
    return std::nullopt;
  }
  return absl::FromUnixSeconds(event.occurred_at().seconds()) +
         absl::Nanoseconds(event.occurred_at().nanos());
}

// The touchpoint of back-filled history: in version `history_version` of
// the event's journey if it occurred before that journey's first version,
// else nullopt (the latest version decides, as for any event).
std::optional<EventValidation> ResolveHistoric(
    const polku::v1::TouchpointEvent& event, const EventSource& source,
    const TouchpointSnapshot& index, int32_t history_version) {
  if (event.journey().empty()) {
    return EventRejection{
        "journey", "journey is required when the request sets history_version"};
  }
  std::optional<JourneyHistory> history =
      index.History(source.tenant, event.journey());
  if (!history.has_value()) {
    return EventRejection{
        "journey", absl::StrCat("unknown journey ", Quote(event.journey()))};
  }
  if (history_version > history->latest_version) {
    return EventRejection{
        "history_version",
        absl::StrCat("journey ", Quote(event.journey()),
                     " has no published version ", history_version,
                     " (latest: ", history->latest_version, ")")};
  }
  std::optional<absl::Time> occurred = OccurredAt(event);
  // occurred_at's own rules are checked later, in field order.
  if (!occurred.has_value() || *occurred >= history->first_published) {
    return std::nullopt;
  }
  if (!index.HasVersion(source.tenant, event.journey(), history_version)) {
    return EventRejection{
        "history_version",
        absl::StrCat("version ", history_version, " of journey ",
                     Quote(event.journey()),
                     " is not loaded (polku-journey did not send it)")};
  }
  std::optional<ResolvedTouchpoint> found = index.FindInVersion(
      source.tenant, event.journey(), history_version, event.touchpoint());
  if (!found.has_value()) {
    return EventRejection{"touchpoint",
                          absl::StrCat("touchpoint ", Quote(event.touchpoint()),
                                       " is not in version ", history_version,
                                       " of journey ", Quote(event.journey()))};
  }
  if (found->channel != source.channel) {
    return WrongChannel(event, *found, source);
  }
  return *std::move(found);
}

EventValidation ResolveTouchpoint(const polku::v1::TouchpointEvent& event,
                                  const EventSource& source,
                                  const TouchpointSnapshot& index,
                                  int32_t history_version) {
  if (event.touchpoint().empty()) {
    return EventRejection{"touchpoint", "touchpoint is required"};
  }
  if (history_version > 0) {
    std::optional<EventValidation> historic =
        ResolveHistoric(event, source, index, history_version);
    if (historic.has_value()) return *std::move(historic);
  }
  std::vector<ResolvedTouchpoint> found =
      index.Find(source.tenant, event.touchpoint());
  if (!event.journey().empty()) {
    if (!index.HasJourney(source.tenant, event.journey())) {
      return EventRejection{
          "journey", absl::StrCat("unknown journey ", Quote(event.journey()))};
    }
    std::erase_if(found, [&](const ResolvedTouchpoint& t) {
      return t.journey != event.journey();
    });
    if (found.empty()) {
      return EventRejection{
          "touchpoint",
          absl::StrCat("touchpoint ", Quote(event.touchpoint()),
                       " is not in journey ", Quote(event.journey()))};
    }
  }
  if (found.empty()) {
    return EventRejection{
        "touchpoint",
        absl::StrCat("unknown touchpoint ", Quote(event.touchpoint()))};
  }
  if (found.size() > 1) {
    std::vector<std::string> journeys;
    for (const ResolvedTouchpoint& t : found)
      journeys.push_back(Quote(t.journey));
    return EventRejection{
        "journey",
        absl::StrCat("touchpoint ", Quote(event.touchpoint()),
                     " is used by journeys ", absl::StrJoin(journeys, ", "),
                     "; name one in journey")};
  }
  if (found[0].channel != source.channel) {
    return WrongChannel(event, found[0], source);
  }
  return std::move(found[0]);
}

std::optional<EventRejection> CheckOccurredAt(
    const polku::v1::TouchpointEvent& event, absl::Time now) {
  if (!event.has_occurred_at()) {
    return EventRejection{"occurred_at", "occurred_at is required"};
  }
  const google::protobuf::Timestamp& ts = event.occurred_at();
  // The range proto3 JSON can represent: 0001-01-01 to 9999-12-31.
  if (ts.seconds() < -62135596800 || ts.seconds() > 253402300799 ||
      ts.nanos() < 0 || ts.nanos() > 999999999) {
    return EventRejection{"occurred_at",
                          "occurred_at is not a valid timestamp"};
  }
  const absl::Time occurred =
      absl::FromUnixSeconds(ts.seconds()) + absl::Nanoseconds(ts.nanos());
  // As proto3 JSON writes it, e.g. 2024-05-01T12:05:01Z.
  const std::string shown =
      absl::FormatTime("%Y-%m-%d%ET%H:%M:%E*SZ", occurred, absl::UTCTimeZone());
  if (occurred > now + kMaxClockSkew) {
    return EventRejection{
        "occurred_at", absl::StrCat("occurred_at ", shown,
                                    " is more than 5 minutes in the future")};
  }
  if (occurred <
      absl::FromCivil(absl::CivilDay(2000, 1, 1), absl::UTCTimeZone())) {
    return EventRejection{"occurred_at", absl::StrCat("occurred_at ", shown,
                                                      " is before 2000-01-01")};
  }
  return std::nullopt;
}

std::optional<EventRejection> CheckScore(absl::string_view name, bool present,
                                         int32_t value, int32_t low,
                                         int32_t high) {
  if (!present || (value >= low && value <= high)) return std::nullopt;
  return EventRejection{std::string(name),
                        absl::StrCat(name, " must be between ", low, " and ",
                                     high, ", got ", value)};
}

// Map keys in a fixed order, so the same event is always rejected for the
// same reason.
template <typename Map>
std::vector<std::string> SortedKeys(const Map& map) {
  std::vector<std::string> keys;
  keys.reserve(map.size());
  for (const auto& [key, value] : map) keys.push_back(key);
  std::sort(keys.begin(), keys.end());
  return keys;
}

// Rules shared by measure and attribute keys.
std::optional<EventRejection> CheckMapKey(absl::string_view field,
                                          absl::string_view noun,
                                          absl::string_view key) {
  if (key.empty()) {
    return EventRejection{std::string(field),
                          absl::StrCat(noun, " keys must not be empty")};
  }
  if (key.size() > kMaxMapKeyBytes) {
    return EventRejection{
        std::string(field),
        absl::StrCat(noun, " key ", Quote(key), " is ", key.size(),
                     " bytes; at most ", kMaxMapKeyBytes)};
  }
  if (key.find('\0') != absl::string_view::npos) {
    return EventRejection{std::string(field),
                          absl::StrCat(noun, " keys must not contain NUL (U+0000)")};
  }
  return std::nullopt;
}

std::optional<EventRejection> CheckMeasures(
    const google::protobuf::Map<std::string, double>& measures) {
  if (measures.size() > kMaxMeasures) {
    return EventRejection{
        "measures", absl::StrCat("at most ", kMaxMeasures, " measures, got ",
                                 measures.size())};
  }
  for (const std::string& key : SortedKeys(measures)) {
    if (auto bad = CheckMapKey("measures", "measure", key)) return bad;
    const double value = measures.at(key);
    if (!std::isfinite(value) || value < 0) {
      return EventRejection{
          absl::StrCat("measures.", key),
          absl::StrCat("measure ", Quote(key),
                       " must be a finite number >= 0, got ", value)};
    }
    if (value > kMaxMeasureValue) {
      return EventRejection{
          absl::StrCat("measures.", key),
          absl::StrCat("measure ", Quote(key), " is ", value,
                       "; at most 1000000000 (measures are summed exactly)")};
    }
  }
  return std::nullopt;
}

std::optional<EventRejection> CheckAttributes(
    const google::protobuf::Map<std::string, std::string>& attributes) {
  if (attributes.size() > kMaxAttributes) {
    return EventRejection{"attributes",
                          absl::StrCat("at most ", kMaxAttributes,
                                       " attributes, got ", attributes.size())};
  }
  for (const std::string& key : SortedKeys(attributes)) {
    if (auto bad = CheckMapKey("attributes", "attribute", key)) return bad;
    const std::string& value = attributes.at(key);
    if (value.size() > kMaxAttributeValueBytes) {
      return EventRejection{
          absl::StrCat("attributes.", key),
          absl::StrCat("attribute ", Quote(key), " is ", value.size(),
                       " bytes; at most ", kMaxAttributeValueBytes)};
    }
    if (auto bad = CheckNoNul(absl::StrCat("attributes.", key), value)) {
      return bad;
    }
  }
  return std::nullopt;
}

}  // namespace

EventValidation ValidateEvent(const polku::v1::TouchpointEvent& event,
                              const EventSource& source,
                              const TouchpointSnapshot& index, absl::Time now,
                              int32_t history_version) {
  if (auto bad = CheckEventId(event.event_id())) return *std::move(bad);

  EventValidation resolved =
      ResolveTouchpoint(event, source, index, history_version);
  if (std::holds_alternative<EventRejection>(resolved)) return resolved;

  if (event.customer().empty()) {
    return EventRejection{"customer", "customer is required"};
  }
  if (event.customer().size() > kMaxCustomerBytes) {
    return TooLong("customer", event.customer().size(), kMaxCustomerBytes);
  }
  if (auto bad = CheckOccurredAt(event, now)) return *std::move(bad);
  if (auto bad = CheckScore("csat", event.has_csat(), event.csat(), 1, 5)) {
    return *std::move(bad);
  }
  if (auto bad = CheckScore("nps", event.has_nps(), event.nps(), 0, 10)) {
    return *std::move(bad);
  }
  if (auto bad = CheckScore("ces", event.has_ces(), event.ces(), 1, 7)) {
    return *std::move(bad);
  }
  if (event.comment().size() > kMaxCommentBytes) {
    return TooLong("comment", event.comment().size(), kMaxCommentBytes);
  }
  if (auto bad = CheckNoNul("comment", event.comment())) return *std::move(bad);
  const std::string& language = event.language();
  if (!language.empty() && language != "fi" && language != "sv" &&
      language != "en") {
    return EventRejection{
        "language", absl::StrCat("language must be fi, sv, en or empty, got ",
                                 Quote(language))};
  }
  if (auto bad = CheckMeasures(event.measures())) return *std::move(bad);
  if (auto bad = CheckAttributes(event.attributes())) return *std::move(bad);
  return resolved;
}

}  // namespace polku::feedback
