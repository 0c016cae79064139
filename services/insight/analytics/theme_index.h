// The theme index: per (tenant, journey), every counted event with a
// comment, analysed once (lib/text) into the terms themes are made of, so
// that GetThemes sums term counts in memory instead of analysing text at
// query time (themes.h; docs/themes.md, "Themes").
//
// Terms of a comment (ThemeTerms): each term lemma of the Analyzer
// (compound parts included, a negated word as its one "<neg>_<lemma>"
// term), and the bigrams "a b" of adjacent whole-word lemmas in one clause
// (stop words were dropped by the Analyzer, compound parts are not words of
// the sentence); each term once per comment.
//
// Kept exact, never stale, as the touch index is (touch_index.h): each read
// first reads the journey's ledger events after the last sequence read and
// compares the number of events read with the journey's count in the
// rollups at the same checkpoint; a count that went down means an erasure
// took events away, and the journey is read (and analysed) again whole, so
// an erased customer's comments, terms and counts are gone from the next
// answer.
//
//   ThemeIndex index(store, store, analyzer);
//   POLKU_RETURN_IF_ERROR(index.Read("acme", "switching",
//       [&](const ThemeView& view) { … view.comments() … }));
//
// Memory: per comment 4 bytes per distinct term (about 10–25 per comment)
// and 64 bytes of fields and vector header; per distinct term its text and
// two hash entries. The comments' texts stay in the ledger, read back by
// sequence for the few examples shown. Measured (bench/README.md, "Comment
// themes"): about 68 MB per million comments of 40–100 bytes.
#ifndef POLKU_SERVICES_INSIGHT_ANALYTICS_THEME_INDEX_H_
#define POLKU_SERVICES_INSIGHT_ANALYTICS_THEME_INDEX_H_

#include <array>
#include <atomic>
#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/container/flat_hash_map.h"
#include "absl/functional/function_ref.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/synchronization/mutex.h"
#include "lib/text/analyzer.h"
#include "services/insight/analytics/touch_index.h"
#include "services/insight/store/rollup_reader.h"

namespace polku::insight {

// One term of a comment with where it is.
struct ThemeTerm {
  std::string term;  // a lemma, or two joined by one space
  size_t begin = 0;  // byte span in the comment
  size_t end = 0;
};

// The comment's terms in order of appearance, unigrams then bigrams, with
// repeats (a reader wanting each once dedupes). A bigram never spans a
// clause boundary (. , ; : ! ? ( ), dashes, line breaks between the words).
std::vector<ThemeTerm> ThemeTerms(const text::CommentAnalysis& analysis,
                                  absl::string_view comment);

// A theme's stable id: "th_" + 16 lower-case hex digits of the FNV-1a 64
// hash of the term's UTF-8 bytes.
std::string ThemeId(absl::string_view term);
uint64_t ThemeHash(absl::string_view term);

// Low score: NPS 0–6, CSAT 1–2 or CES 1–3 (any of them on the event). CES
// is 1–7 with 7 = very easy here (common.proto): 1–3 is the hard side.
bool IsLowScore(std::optional<int> csat, std::optional<int> nps,
                std::optional<int> ces);

// The Monday starting the ISO week of a day since the epoch.
int64_t WeekStart(int64_t day);

// The comments of one recorded touchpoint in one ISO week, of every journey
// version, stage and channel, and how many of them hold each term: what a
// scope of whole weeks and touchpoints sums instead of walking comments.
struct WeekTally {
  int64_t comments = 0;
  int64_t low_comments = 0;
  // Term → {comments with it, low-score comments with it}.
  absl::flat_hash_map<int32_t, std::array<int64_t, 2>> terms;
};

// One counted event with a comment.
struct ThemeComment {
  int64_t sequence = 0;
  int64_t at = 0;          // occurred_at, Unix microseconds
  int32_t day = 0;         // its UTC day (the rollup key's)
  int32_t touchpoint = 0;  // into TouchNames::touchpoints (as recorded)
  int16_t stage = 0;
  int16_t channel = 0;
  int16_t version = 0;
  int8_t csat = -1;  // -1 = none
  int8_t nps = -1;
  int8_t ces = -1;
  bool low = false;
  // The event's language tag as the Analyzer read it (kUnknown for a tag
  // other than fi, sv and en, whose language it detected).
  text::Language language = text::Language::kUnknown;
  // Its text is not kept: read back from the ledger by sequence when shown
  // (ListThemeExamples).
  std::vector<int32_t> terms;  // into ThemeView::terms(), sorted, distinct
};

// A journey's comments as the index holds them, valid during
// ThemeIndex::Read (the journey's lock is held, shared, meanwhile).
class ThemeView {
 public:
  const TouchNames& names() const { return *names_; }
  // In ledger order.
  const std::vector<ThemeComment>& comments() const { return *comments_; }
  // Term texts by number.
  const std::vector<std::string>& terms() const { return *terms_; }
  // The term with this ThemeHash, or -1.
  int32_t TermOfHash(uint64_t hash) const;
  // The tally of a recorded touchpoint's week (its Monday), or null when it
  // has no comment.
  const WeekTally* Week(int32_t touchpoint, int64_t monday) const;
  int64_t as_of() const { return as_of_; }

 private:
  friend class ThemeIndex;
  using Weeks = absl::flat_hash_map<std::pair<int32_t, int64_t>, WeekTally>;
  ThemeView(const TouchNames* names, const std::vector<ThemeComment>* comments,
            const std::vector<std::string>* terms,
            const absl::flat_hash_map<uint64_t, int32_t>* by_hash,
            const Weeks* weeks, int64_t as_of)
      : names_(names),
        comments_(comments),
        terms_(terms),
        by_hash_(by_hash),
        weeks_(weeks),
        as_of_(as_of) {}

  const TouchNames* names_;
  const std::vector<ThemeComment>* comments_;
  const std::vector<std::string>* terms_;
  const absl::flat_hash_map<uint64_t, int32_t>* by_hash_;
  const Weeks* weeks_;
  int64_t as_of_;
};

class ThemeIndex {
 public:
  // `rollups` and `ledger` (one store) and `analyzer` must outlive the
  // index.
  ThemeIndex(RollupReader& rollups, LedgerReader& ledger,
             const text::Analyzer& analyzer)
      : rollups_(rollups), ledger_(ledger), analyzer_(analyzer) {}

  // Brings the tenant's journey up to date and runs `read` on its comments
  // (under the journey's shared lock: `read` must not call the index).
  // UNAVAILABLE when the ledger moves faster than it can be caught up.
  absl::Status Read(const std::string& tenant, const std::string& journey,
                    absl::FunctionRef<void(const ThemeView& view)> read);

  // Brings the tenant's journey up to date (loads it the first time);
  // `stop`, when set, ends a long read early with CANCELLED.
  absl::Status Load(const std::string& tenant, const std::string& journey,
                    const std::atomic<bool>* stop = nullptr);

  // Comments held (tests and metrics).
  int64_t comments() const { return comments_.load(); }

  const text::Analyzer& analyzer() const { return analyzer_; }
  // Where the comments' texts are.
  LedgerReader& ledger() const { return ledger_; }

 private:
  struct Journey {
    absl::Mutex mu;
    int64_t as_of ABSL_GUARDED_BY(mu) = -1;
    bool agreed ABSL_GUARDED_BY(mu) = false;
    // Ledger events read (with a comment or not), against the rollups'.
    int64_t counted ABSL_GUARDED_BY(mu) = 0;
    TouchNames names ABSL_GUARDED_BY(mu);
    absl::flat_hash_map<std::string, int32_t> stage_index ABSL_GUARDED_BY(mu);
    absl::flat_hash_map<std::string, int32_t> channel_index ABSL_GUARDED_BY(mu);
    absl::flat_hash_map<std::string, int32_t> touchpoint_index
        ABSL_GUARDED_BY(mu);
    absl::flat_hash_map<std::string, int32_t> term_index ABSL_GUARDED_BY(mu);
    absl::flat_hash_map<uint64_t, int32_t> term_by_hash ABSL_GUARDED_BY(mu);
    std::vector<std::string> terms ABSL_GUARDED_BY(mu);
    std::vector<ThemeComment> comments ABSL_GUARDED_BY(mu);
    // The comments' tallies by (touchpoint, Monday).
    ThemeView::Weeks weeks ABSL_GUARDED_BY(mu);
  };

  Journey& JourneyOf(const std::string& tenant, const std::string& key);
  absl::StatusOr<int64_t> CatchUp(const std::string& tenant,
                                  const std::string& key, Journey& journey,
                                  const std::atomic<bool>* stop)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(journey.mu);
  absl::StatusOr<std::optional<int64_t>> Check(const std::string& tenant,
                                               const std::string& key,
                                               const Journey& journey)
      ABSL_SHARED_LOCKS_REQUIRED(journey.mu);
  absl::StatusOr<int64_t> ReadAfter(const std::string& tenant,
                                    const std::string& key, Journey& journey,
                                    const std::atomic<bool>* stop)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(journey.mu);
  absl::StatusOr<std::pair<int64_t, int64_t>> CountedInRollups(
      const std::string& tenant, const std::string& key);
  void Clear(Journey& journey) ABSL_EXCLUSIVE_LOCKS_REQUIRED(journey.mu);

  RollupReader& rollups_;
  LedgerReader& ledger_;
  const text::Analyzer& analyzer_;
  mutable absl::Mutex mu_;
  std::map<std::pair<std::string, std::string>, std::unique_ptr<Journey>>
      journeys_ ABSL_GUARDED_BY(mu_);
  std::atomic<int64_t> comments_{0};
};

}  // namespace polku::insight

#endif  // POLKU_SERVICES_INSIGHT_ANALYTICS_THEME_INDEX_H_
