// polku-themes-bench: comment themes at scale (bench/README.md, "Comment
// themes"). Counts --comments simulated feedback events with comments into
// polku-insight's in-memory rollup store, then times
//   1. the theme index's load of the journey: the ledger scan, the text
//      analysis of every comment and the term counting (comments/s; the
//      issue's target: at least 20 000/s);
//   2. GetThemes' computation over the whole journey and over one
//      touchpoint (the target: at most 1 s over a million comments);
//   3. the first page of a theme's examples.
//
//   build/release/bin/polku-themes-bench --comments=1000000
//
// The data: 12 weeks, 8 touchpoints; each comment is one or two sentences
// from 30 (Finnish, Swedish, English; complaints and praise), a quarter
// with a number or an order code that makes new words; low-score answers
// favour the complaints. Not a test.
#include <sys/resource.h>
#include <time.h>

#include <algorithm>
#include <cstdint>
#include <iostream>
#include <memory>
#include <random>
#include <string>
#include <vector>

#include "absl/flags/flag.h"
#include "absl/flags/parse.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "lib/text/analyzer.h"
#include "services/insight/analytics/theme_index.h"
#include "services/insight/analytics/themes.h"
#include "services/insight/store/memory_rollup_store.h"

ABSL_FLAG(int, comments, 1000000, "events with a comment");
ABSL_FLAG(int, repeat, 5, "timed GetThemes calls per row");

namespace polku {
namespace {

constexpr int64_t kFirstSecond = 1'735'689'600;  // 2025-01-01T00:00:00Z

struct Sentence {
  const char* text;
  const char* language;
  bool complaint;
};

const Sentence kSentences[] = {
    {"Toimitus kesti aivan liian kauan tällä kertaa.", "fi", true},
    {"Toimitus oli myöhässä kaksi päivää.", "fi", true},
    {"Sovellus ei toimi päivityksen jälkeen.", "fi", true},
    {"Jonotin puhelimessa yli puoli tuntia.", "fi", true},
    {"Laskussa oli virhe eikä kukaan vastannut.", "fi", true},
    {"Myyjä oli tosi avulias ja ystävällinen.", "fi", false},
    {"Kassalla palvelu oli nopeaa.", "fi", false},
    {"Hinta oli kohtuullinen ja tuote hyvä.", "fi", false},
    {"Sovelluksella tilaaminen oli helppoa.", "fi", false},
    {"Paketti tuli ajallaan.", "fi", false},
    {"Leveransen tog alldeles för lång tid.", "sv", true},
    {"Appen fungerar inte efter uppdateringen.", "sv", true},
    {"Leveransförseningen förklarades aldrig.", "sv", true},
    {"Kundtjänsten svarade inte på mina mejl.", "sv", true},
    {"Fakturafelet rättades först efter tre samtal.", "sv", true},
    {"Säljaren var väldigt hjälpsam.", "sv", false},
    {"Priset var rimligt och varan bra.", "sv", false},
    {"Det var lätt att beställa i appen.", "sv", false},
    {"Paketet kom i tid.", "sv", false},
    {"Butiken var ren och trevlig.", "sv", false},
    {"The delivery took far too long this time.", "en", true},
    {"The app doesn't work after the update.", "en", true},
    {"Nobody answered my emails about the refund.", "en", true},
    {"I waited on the phone for half an hour.", "en", true},
    {"Card payment did not work at the till.", "en", true},
    {"The staff were friendly and helpful.", "en", false},
    {"The price was fair and the product good.", "en", false},
    {"Ordering in the app was easy.", "en", false},
    {"The parcel arrived on time.", "en", false},
    {"The store was clean and pleasant.", "en", false},
};
constexpr int kPerLanguage = 10;

double ThreadCpuSeconds() {
  timespec t{};
  clock_gettime(CLOCK_THREAD_CPUTIME_ID, &t);
  return static_cast<double>(t.tv_sec) + static_cast<double>(t.tv_nsec) / 1e9;
}

long MaxRssMegabytes() {
  rusage usage{};
  getrusage(RUSAGE_SELF, &usage);
  return usage.ru_maxrss / 1024;
}

int Run() {
  const int comments = absl::GetFlag(FLAGS_comments);
  const int repeat = absl::GetFlag(FLAGS_repeat);
  insight::MemoryRollupStore store;
  std::mt19937_64 random(20);
  const absl::Time generating = absl::Now();
  google::protobuf::RepeatedPtrField<v1::StoredEvent> page;
  for (int i = 0; i < comments; ++i) {
    v1::StoredEvent* stored = page.Add();
    stored->set_sequence(i + 1);
    stored->set_tenant("bench");
    stored->set_journey("themes-bench");
    stored->set_journey_version(1);
    const int touchpoint = static_cast<int>(random() % 8);
    stored->set_stage(absl::StrCat("stage", touchpoint / 2));
    stored->set_channel(touchpoint % 2 == 0 ? "web" : "store");
    stored->set_customer_hash(absl::StrCat("c", random() % (comments / 3 + 1)));
    v1::TouchpointEvent* event = stored->mutable_event();
    event->set_event_id(absl::StrCat("e", i));
    event->set_touchpoint(absl::StrCat("tp", touchpoint));
    event->mutable_occurred_at()->set_seconds(
        kFirstSecond + static_cast<int64_t>(random() % (84 * 86400)));
    const bool low = random() % 4 == 0;
    event->set_nps(low ? static_cast<int>(random() % 7)
                       : 7 + static_cast<int>(random() % 4));
    const int language = static_cast<int>(random() % 3);
    std::string text;
    const int sentences = 1 + static_cast<int>(random() % 2);
    for (int s = 0; s < sentences; ++s) {
      // Low scores pick a complaint four times in five, others one in five.
      const bool complaint = random() % 5 < (low ? 4u : 1u);
      const Sentence& sentence =
          kSentences[language * kPerLanguage + (complaint ? 0 : 5) +
                     static_cast<int>(random() % 5)];
      absl::StrAppend(&text, s == 0 ? "" : " ", sentence.text);
    }
    if (random() % 4 == 0) {
      absl::StrAppend(&text, " Tilaus ", random() % 100000, " koodi x",
                      random() % 1000000, ".");
    }
    event->set_comment(text);
    if (random() % 2 == 0) {
      event->set_language(kSentences[language * kPerLanguage].language);
    }
    if (page.size() == 1000 || i + 1 == comments) {
      if (absl::Status s = store.Apply(page); !s.ok()) {
        std::cerr << s << "\n";
        return 1;
      }
      page.Clear();
    }
  }
  std::cout << absl::StrFormat("generated %d comments in %.1f s (max RSS %d MB)\n",
                               comments,
                               absl::ToDoubleSeconds(absl::Now() - generating),
                               MaxRssMegabytes());

  absl::StatusOr<std::unique_ptr<text::Analyzer>> analyzer =
      text::Analyzer::Create({});
  if (!analyzer.ok()) {
    std::cerr << analyzer.status() << "\n";
    return 1;
  }
  insight::ThemeIndex index(store, store, **analyzer);
  const long rss_before = MaxRssMegabytes();
  // The load runs on this thread; its CPU time says what one core sustains
  // whatever the neighbours on a shared machine take (wall time does not).
  const absl::Time loading = absl::Now();
  const double cpu_before = ThreadCpuSeconds();
  if (absl::Status s = index.Load("bench", "themes-bench"); !s.ok()) {
    std::cerr << s << "\n";
    return 1;
  }
  const double load_cpu = ThreadCpuSeconds() - cpu_before;
  const double load_seconds = absl::ToDoubleSeconds(absl::Now() - loading);
  std::cout << absl::StrFormat(
      "| theme index load (scan + analysis + counting) | %d comments | %.1f s "
      "wall, %.1f s CPU | %.0f comments/s wall, %.0f per CPU-second | max RSS "
      "%d → %d MB |\n",
      comments, load_seconds, load_cpu, comments / load_seconds,
      comments / load_cpu, rss_before, MaxRssMegabytes());

  const auto time_themes = [&](const std::string& label,
                               const std::string& touchpoint) {
    v1::GetThemesRequest request;
    request.mutable_scope()->set_journey("themes-bench");
    request.mutable_scope()->set_touchpoint(touchpoint);
    std::vector<double> ms;
    v1::Themes themes;
    for (int r = 0; r < repeat; ++r) {
      const absl::Time start = absl::Now();
      absl::StatusOr<v1::Themes> got =
          insight::ComputeThemes(index, "bench", request);
      ms.push_back(absl::ToDoubleMilliseconds(absl::Now() - start));
      if (!got.ok()) {
        std::cerr << got.status() << "\n";
        return;
      }
      themes = *std::move(got);
    }
    std::sort(ms.begin(), ms.end());
    std::cout << absl::StrFormat(
        "| GetThemes, %s | %d comments in scope | median %.0f ms | max %.0f ms "
        "| top: %s (z %.1f) |\n",
        label, themes.comments(), ms[ms.size() / 2], ms.back(),
        themes.themes_size() > 0 ? themes.themes(0).term() : "-",
        themes.themes_size() > 0 ? themes.themes(0).z() : 0.0);
  };
  time_themes("whole journey", "");
  time_themes("one touchpoint", "tp3");

  v1::ListThemeExamplesRequest examples;
  examples.mutable_scope()->set_journey("themes-bench");
  examples.set_theme_id(insight::ThemeId("toimitus"));
  std::vector<double> ms;
  for (int r = 0; r < repeat; ++r) {
    const absl::Time start = absl::Now();
    absl::StatusOr<v1::ListThemeExamplesResponse> got =
        insight::ListThemeExamples(index, "bench", examples);
    ms.push_back(absl::ToDoubleMilliseconds(absl::Now() - start));
    if (!got.ok()) {
      std::cerr << got.status() << "\n";
      return 1;
    }
  }
  std::sort(ms.begin(), ms.end());
  std::cout << absl::StrFormat(
      "| ListThemeExamples, first page of 10 (toimitus) | median %.0f ms | max "
      "%.0f ms |\n",
      ms[ms.size() / 2], ms.back());
  return 0;
}

}  // namespace
}  // namespace polku

int main(int argc, char** argv) {
  absl::ParseCommandLine(argc, argv);
  return polku::Run();
}
