#include "services/insight/store/rollup_math.h"

#include <algorithm>
#include <cmath>

#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "absl/time/time.h"
#include "lib/base/log.h"
#include "lib/base/status_macros.h"

namespace polku::insight {
namespace {

std::string Escape(absl::string_view text) {
  std::string out;
  for (char c : text) {
    switch (c) {
      case '%':
        out += "%25";
        break;
      case '&':
        out += "%26";
        break;
      case '=':
        out += "%3D";
        break;
      case '\0':  // PostgreSQL's TEXT cannot hold it
        out += "%00";
        break;
      default:
        out += c;
    }
  }
  return out;
}

std::string Unescape(absl::string_view text) {
  std::string out;
  for (size_t i = 0; i < text.size(); ++i) {
    if (text[i] == '%' && i + 2 < text.size()) {
      const absl::string_view code = text.substr(i + 1, 2);
      if (code == "25" || code == "26" || code == "3D" || code == "00") {
        out += code == "25"   ? '%'
               : code == "26" ? '&'
               : code == "3D" ? '='
                              : '\0';
        i += 2;
        continue;
      }
    }
    out += text[i];
  }
  return out;
}

// ---------------------------------------------------------------------------
// Exact measure arithmetic.

// A measure value in thousandths, rounded half away from zero; nullopt when
// it is not finite or its thousandths do not fit 64 bits.
std::optional<int64_t> ToMilli(double value) {
  if (!std::isfinite(value)) return std::nullopt;
  const double milli = std::round(value * 1000.0);
  if (!(milli >= -0x1p63 && milli < 0x1p63)) return std::nullopt;
  return static_cast<int64_t>(milli);
}

absl::Status Overflow(absl::string_view measure) {
  return absl::OutOfRangeError(absl::StrCat(
      "the sum of measure \"", measure,
      "\" overflows its exact integer range; its rollups cannot be kept"));
}

// into += sign · add, every part checked for overflow.
absl::Status AddSum(MeasureSum& into, const MeasureSum& add, int64_t sign,
                    absl::string_view measure) {
  MeasureSum out;
  bool overflow;
  if (sign > 0) {
    overflow =
        __builtin_add_overflow(into.n, add.n, &out.n) ||
        __builtin_add_overflow(into.sum_milli, add.sum_milli, &out.sum_milli) ||
        __builtin_add_overflow(into.sum_squares_milli2, add.sum_squares_milli2,
                               &out.sum_squares_milli2);
  } else {
    overflow =
        __builtin_sub_overflow(into.n, add.n, &out.n) ||
        __builtin_sub_overflow(into.sum_milli, add.sum_milli, &out.sum_milli) ||
        __builtin_sub_overflow(into.sum_squares_milli2, add.sum_squares_milli2,
                               &out.sum_squares_milli2);
  }
  if (overflow) return Overflow(measure);
  into = out;
  return absl::OkStatus();
}

absl::Status AddValue(MeasureSum& into, int64_t milli,
                      absl::string_view measure) {
  MeasureSum one;
  one.n = 1;
  one.sum_milli = milli;
  one.sum_squares_milli2 = static_cast<__int128>(milli) * milli;
  return AddSum(into, one, 1, measure);
}

absl::Time OccurredAt(const v1::TouchpointEvent& event) {
  return absl::FromUnixSeconds(event.occurred_at().seconds()) +
         absl::Nanoseconds(event.occurred_at().nanos());
}

}  // namespace

const std::vector<std::string>& HistogramColumns() {
  static const auto* columns = [] {
    auto* columns = new std::vector<std::string>();
    for (int k = 1; k <= 5; ++k) columns->push_back(absl::StrCat("csat_", k));
    for (int k = 0; k <= 10; ++k) columns->push_back(absl::StrCat("nps_", k));
    for (int k = 1; k <= 7; ++k) columns->push_back(absl::StrCat("ces_", k));
    return columns;
  }();
  return *columns;
}

// `pairs` must be sorted by key.
std::string EncodePairs(
    const std::vector<std::pair<std::string, std::string>>& pairs) {
  return absl::StrJoin(pairs, "&", [](std::string* out, const auto& pair) {
    absl::StrAppend(out, Escape(pair.first), "=", Escape(pair.second));
  });
}

std::vector<std::pair<std::string, std::string>> DecodePairs(
    absl::string_view encoded) {
  std::vector<std::pair<std::string, std::string>> pairs;
  if (encoded.empty()) return pairs;
  for (absl::string_view item : absl::StrSplit(encoded, '&')) {
    std::pair<absl::string_view, absl::string_view> kv =
        absl::StrSplit(item, absl::MaxSplits('=', 1));
    pairs.emplace_back(Unescape(kv.first), Unescape(kv.second));
  }
  return pairs;
}

SquaresParts SplitSquares(__int128 squares) {  // squares ≥ 0
  constexpr __int128 kMask = (__int128{1} << 32) - 1;
  return {static_cast<int64_t>(squares >> 64),
          static_cast<int64_t>((squares >> 32) & kMask),
          static_cast<int64_t>(squares & kMask)};
}

absl::StatusOr<__int128> JoinSquares(const SquaresParts& parts,
                                     absl::string_view measure) {
  __int128 squares;
  if (parts.high < 0 || parts.mid < 0 || parts.low < 0 ||
      __builtin_add_overflow(static_cast<__int128>(parts.high) << 64,
                             static_cast<__int128>(parts.mid) << 32,
                             &squares) ||
      __builtin_add_overflow(squares, static_cast<__int128>(parts.low),
                             &squares)) {
    return Overflow(measure);
  }
  return squares;
}

CountedEvent FromFeed(const v1::StoredEvent& stored) {
  const v1::TouchpointEvent& event = stored.event();
  CountedEvent counted;
  counted.sequence = stored.sequence();
  counted.customer_hash = stored.customer_hash();
  counted.occurred_at_micros = UnixMicros(event.occurred_at());
  // PostgreSQL's TEXT cannot hold NUL: left out on every backend alike.
  counted.comment = event.comment();
  counted.comment.erase(
      std::remove(counted.comment.begin(), counted.comment.end(), '\0'),
      counted.comment.end());
  counted.language = event.language();
  counted.key = RollupKey{stored.tenant(),          stored.journey(),
                          stored.journey_version(), event.touchpoint(),
                          stored.stage(),           stored.channel(),
                          DayOf(OccurredAt(event))};
  auto score = [&](const char* field, bool has, int value, int low,
                   int high) -> std::optional<int> {
    if (!has) return std::nullopt;
    if (value >= low && value <= high) return value;
    log::Warning(
        "feed event score out of range, not counted",
        {{"sequence", stored.sequence()}, {"field", field}, {"value", value}});
    return std::nullopt;
  };
  counted.csat = score("csat", event.has_csat(), event.csat(), 1, 5);
  counted.nps = score("nps", event.has_nps(), event.nps(), 0, 10);
  counted.ces = score("ces", event.has_ces(), event.ces(), 1, 7);
  for (const auto& [name, value] : event.measures()) {
    std::optional<int64_t> milli = ToMilli(value);
    // A name with a NUL could not be a PostgreSQL TEXT key; left out on
    // every backend so that both count the same.
    if (absl::StrContains(name, '\0')) {
      log::Warning("feed event measure name holds a NUL character, not counted",
                   {{"sequence", stored.sequence()}});
      continue;
    }
    if (!milli) {
      log::Warning("feed event measure not a representable number, not counted",
                   {{"sequence", stored.sequence()},
                    {"measure", name},
                    {"value", value}});
      continue;
    }
    counted.measures.emplace_back(name, *milli);
  }
  std::sort(counted.measures.begin(), counted.measures.end());
  for (const auto& [key, value] : event.attributes()) {
    counted.attributes.emplace_back(key, value);
  }
  std::sort(counted.attributes.begin(), counted.attributes.end());
  return counted;
}

std::string EncodeMeasures(
    const std::vector<std::pair<std::string, int64_t>>& measures) {
  return absl::StrJoin(measures, "&", [](std::string* out, const auto& pair) {
    absl::StrAppend(out, Escape(pair.first), "=", pair.second);
  });
}

absl::StatusOr<std::vector<std::pair<std::string, int64_t>>> DecodeMeasures(
    absl::string_view encoded) {
  std::vector<std::pair<std::string, int64_t>> measures;
  for (auto& [name, text] : DecodePairs(encoded)) {
    int64_t milli;
    if (!absl::SimpleAtoi(text, &milli)) {
      return absl::DataLossError(
          absl::StrCat("counted_events.measures holds \"", encoded,
                       "\", not name=thousandths pairs"));
    }
    measures.emplace_back(std::move(name), milli);
  }
  return measures;
}

absl::Status Count(const CountedEvent& event, Contribution& c) {
  ++c.events;
  // Range checks again: rows counted before version 3 hold scores as sent.
  if (event.csat && *event.csat >= 1 && *event.csat <= 5) {
    ++c.histogram[*event.csat - 1];
  }
  if (event.nps && *event.nps >= 0 && *event.nps <= 10) {
    ++c.histogram[5 + *event.nps];
  }
  if (event.ces && *event.ces >= 1 && *event.ces <= 7) {
    ++c.histogram[5 + 11 + *event.ces - 1];
  }
  for (const auto& [name, milli] : event.measures) {
    POLKU_RETURN_IF_ERROR(AddValue(c.measures[name], milli, name));
  }
  return absl::OkStatus();
}

absl::StatusOr<std::optional<MeasureSum>> NextMeasureSum(
    const MeasureSum& stored, const MeasureSum& add, int64_t sign,
    absl::string_view measure) {
  MeasureSum sum = stored;
  POLKU_RETURN_IF_ERROR(AddSum(sum, add, sign, measure));
  if (sum.n == 0) {
    if (sum.sum_milli != 0 || sum.sum_squares_milli2 != 0) {
      return absl::DataLossError(absl::StrCat(
          "rollup_measures of \"", measure,
          "\" left with a sum but no values; rebuild the rollups"));
    }
    return std::nullopt;
  }
  if (sum.n < 0 || sum.sum_squares_milli2 < 0) {
    return absl::DataLossError(
        absl::StrCat("rollup_measures of \"", measure,
                     "\" would go negative; rebuild the rollups"));
  }
  return sum;
}

bool HasAttributes(
    const std::vector<std::pair<std::string, std::string>>& have,
    const std::vector<std::pair<std::string, std::string>>& wanted) {
  for (const auto& pair : wanted) {
    if (std::find(have.begin(), have.end(), pair) == have.end()) return false;
  }
  return true;
}

CountedEvent WithFields(const CountedEvent& event, const LedgerFields& fields) {
  CountedEvent read;
  read.sequence = event.sequence;
  read.key = event.key;
  read.csat = event.csat;
  read.nps = event.nps;
  read.ces = event.ces;
  if (fields.customer) read.customer_hash = event.customer_hash;
  if (fields.pairs) {
    read.attributes = event.attributes;
    read.measures = event.measures;
  }
  read.occurred_at_micros = MidnightMicros(std::get<6>(event.key));
  if (fields.details) {
    read.occurred_at_micros = event.occurred_at_micros;
    read.comment = event.comment;
    read.language = event.language;
  }
  return read;
}

bool InScope(const ScorecardQuery& query, const RollupKey& key) {
  const auto& [tenant, journey, version, touchpoint, stage, channel, day] = key;
  return tenant == query.tenant && journey == query.journey &&
         (query.journey_version == 0 || version == query.journey_version) &&
         day >= query.start_day && day < query.end_day &&
         (query.touchpoints.empty() ||
          std::find(query.touchpoints.begin(), query.touchpoints.end(),
                    touchpoint) != query.touchpoints.end()) &&
         (query.stage.empty() || stage == query.stage) &&
         (query.channel.empty() || channel == query.channel);
}

std::string IsoDate(Day day) {
  return absl::FormatTime("%Y-%m-%d", StartOfDay(day), absl::UTCTimeZone());
}

GroupRollup ToGroup(std::string group, Day day, Contribution c) {
  GroupRollup rollup;
  rollup.group = std::move(group);
  rollup.day = day;
  rollup.events = c.events;
  auto histogram = c.histogram.begin();
  for (int64_t& n : rollup.csat) n = *histogram++;
  for (int64_t& n : rollup.nps) n = *histogram++;
  for (int64_t& n : rollup.ces) n = *histogram++;
  rollup.measures = std::move(c.measures);
  return rollup;
}

int64_t MidnightMicros(Day day) { return day * 86'400'000'000; }

int64_t UnixMicros(const google::protobuf::Timestamp& timestamp) {
  return timestamp.seconds() * 1'000'000 + timestamp.nanos() / 1000;
}

}  // namespace polku::insight
