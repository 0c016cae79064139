#include "services/insight/analytics/theme_index.h"

#include <algorithm>
#include <tuple>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "lib/base/status_macros.h"
#include "lib/text/language.h"

namespace polku::insight {
namespace {

// As in the touch index: rounds of reading the ledger and the rollups
// before the two agree.
constexpr int kRounds = 8;

int32_t Intern(absl::flat_hash_map<std::string, int32_t>& index,
               std::vector<std::string>& names, const std::string& key) {
  auto [it, added] = index.emplace(key, static_cast<int32_t>(names.size()));
  if (added) names.push_back(key);
  return it->second;
}

// Whether the text between two words ends a clause, as lib/text's negation
// rule reads clauses: . , ; : ! ? ( ) dashes and line breaks.
bool EndsClause(absl::string_view comment, size_t from, size_t to) {
  if (from >= to || to > comment.size()) return false;
  const absl::string_view between = comment.substr(from, to - from);
  return between.find_first_of(".,;:!?()\n") != absl::string_view::npos ||
         absl::StrContains(between, "\u2013") ||  // en dash
         absl::StrContains(between, "\u2014") ||  // em dash
         absl::StrContains(between, " - ");
}

}  // namespace

std::vector<ThemeTerm> ThemeTerms(const text::CommentAnalysis& analysis,
                                  absl::string_view comment) {
  std::vector<ThemeTerm> out;
  out.reserve(analysis.terms.size() * 2);
  for (const text::Term& term : analysis.terms) {
    out.push_back({term.lemma, term.begin, term.end});
  }
  const text::Term* previous = nullptr;
  for (const text::Term& term : analysis.terms) {
    if (term.compound_part) continue;
    if (previous != nullptr &&
        !EndsClause(comment, previous->end, term.begin)) {
      out.push_back({absl::StrCat(previous->lemma, " ", term.lemma),
                     previous->begin, term.end});
    }
    previous = &term;
  }
  return out;
}

uint64_t ThemeHash(absl::string_view term) {
  uint64_t hash = 14695981039346656037ull;  // FNV-1a 64 offset basis
  for (const char c : term) {
    hash ^= static_cast<unsigned char>(c);
    hash *= 1099511628211ull;  // FNV 64 prime
  }
  return hash;
}

std::string ThemeId(absl::string_view term) {
  return absl::StrFormat("th_%016x", ThemeHash(term));
}

bool IsLowScore(std::optional<int> csat, std::optional<int> nps,
                std::optional<int> ces) {
  return (nps && *nps <= 6) || (csat && *csat <= 2) || (ces && *ces <= 3);
}

int64_t WeekStart(int64_t day) {
  // Day 0, 1970-01-01, was a Thursday: its Monday is day −3.
  return day - (((day + 3) % 7) + 7) % 7;
}

const WeekTally* ThemeView::Week(int32_t touchpoint, int64_t monday) const {
  const auto it = weeks_->find(std::make_pair(touchpoint, monday));
  return it == weeks_->end() ? nullptr : &it->second;
}

int32_t ThemeView::TermOfHash(uint64_t hash) const {
  const auto it = by_hash_->find(hash);
  return it == by_hash_->end() ? -1 : it->second;
}

void ThemeIndex::Clear(Journey& journey) {
  comments_ -= static_cast<int64_t>(journey.comments.size());
  journey.as_of = 0;
  journey.agreed = false;
  journey.counted = 0;
  journey.names = TouchNames();
  journey.stage_index.clear();
  journey.channel_index.clear();
  journey.touchpoint_index.clear();
  journey.term_index.clear();
  journey.term_by_hash.clear();
  journey.terms.clear();
  journey.comments.clear();
  journey.weeks.clear();
}

ThemeIndex::Journey& ThemeIndex::JourneyOf(const std::string& tenant,
                                           const std::string& key) {
  absl::MutexLock lock(&mu_);
  std::unique_ptr<Journey>& slot = journeys_[{tenant, key}];
  if (slot == nullptr) slot = std::make_unique<Journey>();
  return *slot;
}

absl::StatusOr<int64_t> ThemeIndex::ReadAfter(const std::string& tenant,
                                              const std::string& key,
                                              Journey& journey,
                                              const std::atomic<bool>* stop) {
  ScorecardQuery query;
  query.tenant = tenant;
  query.journey = key;
  query.after_sequence = journey.as_of;
  query.fields = {.customer = false, .pairs = false};
  // What is new is appended to the journey's comments and counted in its
  // tallies only after the scan succeeded; a scan ended early takes its
  // comments away again, leaving the journey as it was (but for terms
  // added to the vocabulary, which nothing counts yet).
  const size_t before = journey.comments.size();
  int64_t counted = 0;
  // Taken under the lock: the scan's callback (a function of its own to
  // the thread-safety analysis) uses them.
  struct Fields {
    TouchNames* names;
    absl::flat_hash_map<std::string, int32_t>* touchpoint_index;
    absl::flat_hash_map<std::string, int32_t>* stage_index;
    absl::flat_hash_map<std::string, int32_t>* channel_index;
    absl::flat_hash_map<std::string, int32_t>* term_index;
    absl::flat_hash_map<uint64_t, int32_t>* term_by_hash;
    std::vector<std::string>* terms;
    std::vector<ThemeComment>* comments;
  };
  const Fields f{&journey.names,       &journey.touchpoint_index,
                 &journey.stage_index, &journey.channel_index,
                 &journey.term_index,  &journey.term_by_hash,
                 &journey.terms,       &journey.comments};
  const Fields* j = &f;
  const absl::StatusOr<int64_t> as_of =
      ledger_.ScanLedger(query, [&](const CountedEvent& event) -> absl::Status {
        if (stop != nullptr && stop->load(std::memory_order_relaxed)) {
          return absl::CancelledError("the theme index's load was stopped");
        }
        ++counted;
        if (event.comment.empty()) return absl::OkStatus();
        // A tag of another language than fi, sv or en: detected instead
        // (the Analyzer reads those three only).
        const absl::StatusOr<text::Language> tag =
            text::ParseLanguage(event.language);
        const text::Language language =
            tag.ok() ? *tag : text::Language::kUnknown;
        POLKU_ASSIGN_OR_RETURN(const text::CommentAnalysis analysis,
                               analyzer_.Analyze(event.comment, language));
        ThemeComment comment;
        comment.sequence = event.sequence;
        comment.at = event.occurred_at_micros;
        comment.day = static_cast<int32_t>(std::get<6>(event.key));
        comment.version = static_cast<int16_t>(std::get<2>(event.key));
        comment.touchpoint = Intern(*j->touchpoint_index, j->names->touchpoints,
                                    std::get<3>(event.key));
        comment.stage = static_cast<int16_t>(
            Intern(*j->stage_index, j->names->stages, std::get<4>(event.key)));
        comment.channel = static_cast<int16_t>(Intern(
            *j->channel_index, j->names->channels, std::get<5>(event.key)));
        if (event.csat) comment.csat = static_cast<int8_t>(*event.csat);
        if (event.nps) comment.nps = static_cast<int8_t>(*event.nps);
        if (event.ces) comment.ces = static_cast<int8_t>(*event.ces);
        comment.low = IsLowScore(event.csat, event.nps, event.ces);
        comment.language = language;
        for (const ThemeTerm& term : ThemeTerms(analysis, event.comment)) {
          auto [it, added] = j->term_index->emplace(
              term.term, static_cast<int32_t>(j->terms->size()));
          if (added) {
            j->terms->push_back(term.term);
            j->term_by_hash->emplace(ThemeHash(term.term), it->second);
          }
          comment.terms.push_back(it->second);
        }
        std::sort(comment.terms.begin(), comment.terms.end());
        comment.terms.erase(
            std::unique(comment.terms.begin(), comment.terms.end()),
            comment.terms.end());
        comment.terms.shrink_to_fit();
        j->comments->push_back(std::move(comment));
        return absl::OkStatus();
      });
  if (!as_of.ok()) {
    journey.comments.erase(journey.comments.begin() + before,
                           journey.comments.end());
    return as_of.status();
  }
  journey.counted += counted;
  comments_ += static_cast<int64_t>(journey.comments.size() - before);
  for (size_t i = before; i < journey.comments.size(); ++i) {
    const ThemeComment& c = journey.comments[i];
    WeekTally& week =
        journey.weeks[std::make_pair(c.touchpoint, WeekStart(c.day))];
    ++week.comments;
    week.low_comments += c.low;
    for (const int32_t t : c.terms) {
      std::array<int64_t, 2>& n = week.terms[t];
      ++n[0];
      n[1] += c.low;
    }
  }
  return *as_of;
}

absl::StatusOr<std::pair<int64_t, int64_t>> ThemeIndex::CountedInRollups(
    const std::string& tenant, const std::string& key) {
  ScorecardQuery count;
  count.tenant = tenant;
  count.journey = key;
  count.group_by = Grouping::kStage;
  POLKU_ASSIGN_OR_RETURN(const GroupedRollups rollups,
                         rollups_.Scorecard(count));
  int64_t events = 0;
  for (const GroupRollup& group : rollups.groups) events += group.events;
  return std::make_pair(events, rollups.as_of_sequence);
}

absl::StatusOr<int64_t> ThemeIndex::CatchUp(const std::string& tenant,
                                            const std::string& key,
                                            Journey& journey,
                                            const std::atomic<bool>* stop) {
  journey.agreed = false;
  if (journey.as_of < 0) Clear(journey);
  for (int round = 0; round < kRounds; ++round) {
    POLKU_ASSIGN_OR_RETURN(const int64_t read,
                           ReadAfter(tenant, key, journey, stop));
    journey.as_of = std::max(journey.as_of, read);
    POLKU_ASSIGN_OR_RETURN(const auto counted, CountedInRollups(tenant, key));
    if (counted.second != journey.as_of) continue;  // moved on
    if (counted.first == journey.counted) {
      journey.agreed = true;
      return journey.as_of;
    }
    // Fewer events than read: an erasure took some. Read it all again.
    Clear(journey);
  }
  return absl::UnavailableError(
      absl::StrCat("the theme index of journey ", key,
                   " could not catch up with the ledger; try again"));
}

absl::StatusOr<std::optional<int64_t>> ThemeIndex::Check(
    const std::string& tenant, const std::string& key, const Journey& journey) {
  ScorecardQuery query;
  query.tenant = tenant;
  query.journey = key;
  query.after_sequence = journey.as_of;
  query.fields = {.details = false, .customer = false, .pairs = false};
  bool gained = false;
  const absl::StatusOr<int64_t> scanned =
      ledger_.ScanLedger(query, [&](const CountedEvent&) {
        gained = true;
        return absl::CancelledError("the ledger gained events");
      });
  if (gained) return std::nullopt;
  if (!scanned.ok()) return scanned.status();
  POLKU_ASSIGN_OR_RETURN(const auto counted, CountedInRollups(tenant, key));
  if (counted.second != *scanned || counted.first != journey.counted) {
    return std::nullopt;
  }
  return *scanned;
}

absl::Status ThemeIndex::Read(
    const std::string& tenant, const std::string& key,
    absl::FunctionRef<void(const ThemeView& view)> read) {
  Journey& journey = JourneyOf(tenant, key);
  int64_t caught_up = -1;
  for (int round = 0; round < kRounds; ++round) {
    {
      absl::ReaderMutexLock lock(&journey.mu);
      if (journey.agreed) {
        std::optional<int64_t> as_of;
        if (caught_up >= 0 && journey.as_of >= caught_up) {
          as_of = journey.as_of;
        } else {
          POLKU_ASSIGN_OR_RETURN(as_of, Check(tenant, key, journey));
        }
        if (as_of) {
          read(ThemeView(&journey.names, &journey.comments, &journey.terms,
                         &journey.term_by_hash, &journey.weeks, *as_of));
          return absl::OkStatus();
        }
      }
    }
    absl::WriterMutexLock lock(&journey.mu);
    POLKU_ASSIGN_OR_RETURN(caught_up, CatchUp(tenant, key, journey, nullptr));
  }
  return absl::UnavailableError(
      absl::StrCat("the theme index of journey ", key,
                   " could not catch up with the ledger; try again"));
}

absl::Status ThemeIndex::Load(const std::string& tenant, const std::string& key,
                              const std::atomic<bool>* stop) {
  Journey& journey = JourneyOf(tenant, key);
  absl::WriterMutexLock lock(&journey.mu);
  return CatchUp(tenant, key, journey, stop).status();
}

}  // namespace polku::insight
