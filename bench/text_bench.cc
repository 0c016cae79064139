// polku-text-bench: comments per second through lib/text's Analyzer on a
// mix of Finnish, Swedish and English comments (bench/README.md, "Text
// analysis"). Run by hand; prints a table.
//
//   bin/polku-text-bench --comments=200000 --threads=1
#include <cstdio>
#include <string>
#include <thread>
#include <vector>

#include "absl/flags/flag.h"
#include "absl/flags/parse.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "lib/text/analyzer.h"

ABSL_FLAG(int, comments, 200000, "comments analysed per row");
ABSL_FLAG(int, threads, 2, "most threads to measure (rows for 1..threads)");

namespace {

// Sentences to combine into comments: each comment is one to three of
// them, with a varying detail so that not every comment is a repeat.
const std::vector<std::vector<std::string>> kSentences = {
    {"Toimitus kesti aivan liian kauan tällä kertaa.",
     "Sovellus ei toimi päivityksen jälkeen.",
     "Jonotin puhelimessa yli puoli tuntia.",
     "Myyjä oli tosi avulias ja ystävällinen.",
     "Korvauspäätöksestä ei kuulunut mitään viikkoihin.",
     "Chatbotti ei ymmärtänyt kysymystäni.",
     "Laskussa oli virhe eikä kukaan vastannut.",
     "Kassajonossa meni kaksikymmentä minuuttia."},
    {"Leveransen tog alldeles för lång tid.",
     "Appen fungerar inte efter uppdateringen.",
     "Jag väntade i telefonkön i en halvtimme.",
     "Säljaren var väldigt hjälpsam.",
     "Leveransförseningen förklarades aldrig.",
     "Kundtjänsten svarade inte på mina mejl.",
     "Fakturafelet rättades först efter tre samtal."},
    {"The delivery took far too long this time.",
     "The app doesn't work after the update.",
     "I waited on the phone for half an hour.",
     "The staff were friendly and helpful.",
     "Nobody answered my emails about the refund.",
     "The checkout queue was very long today.",
     "Card payment did not work at the till."},
};
const std::vector<std::string> kDetails = {
    "", " Kiitos.", " Tack.", " Thanks.", " 😡", " Huono.", " Dåligt.", " Bad."};

std::vector<std::pair<std::string, std::string>> MakeComments(int n) {
  std::vector<std::pair<std::string, std::string>> comments;
  comments.reserve(n);
  uint64_t state = 12345;
  auto next = [&] {
    state = state * 6364136223846793005ULL + 1442695040888963407ULL;
    return static_cast<size_t>(state >> 33);
  };
  for (int i = 0; i < n; ++i) {
    const size_t language = next() % 3;
    const auto& sentences = kSentences[language];
    std::string comment;
    const size_t count = 1 + next() % 3;
    for (size_t k = 0; k < count; ++k) {
      if (!comment.empty()) comment += ' ';
      comment += sentences[next() % sentences.size()];
    }
    comment += kDetails[next() % kDetails.size()];
    // Half the events say their language, half leave it to detection.
    const std::string tag =
        next() % 2 == 0 ? std::string(language == 0   ? "fi"
                                      : language == 1 ? "sv"
                                                      : "en")
                        : "";
    comments.emplace_back(std::move(comment), tag);
  }
  return comments;
}

}  // namespace

int main(int argc, char** argv) {
  absl::ParseCommandLine(argc, argv);
  const int n = absl::GetFlag(FLAGS_comments);
  const auto comments = MakeComments(n);
  std::printf("%-28s %8s %12s %14s\n", "row", "threads", "comments/s",
              "terms/comment");
  for (polku::text::FinnishAnalyser finnish :
       {polku::text::FinnishAnalyser::kDefault,
        polku::text::FinnishAnalyser::kSnowball}) {
    for (int threads = 1; threads <= absl::GetFlag(FLAGS_threads); ++threads) {
      auto analyzer = polku::text::Analyzer::Create({.finnish = finnish});
      if (!analyzer.ok()) {
        std::fprintf(stderr, "%s\n", analyzer.status().ToString().c_str());
        return 1;
      }
      // Warm every worker's cache and the dictionaries once, untimed.
      for (int i = 0; i < 2000 && i < n; ++i) {
        (void)(*analyzer)->Analyze(comments[i].first, comments[i].second);
      }
      std::vector<size_t> terms(threads);
      std::vector<std::thread> workers;
      const absl::Time start = absl::Now();
      for (int t = 0; t < threads; ++t) {
        workers.emplace_back([&, t] {
          for (int i = t; i < n; i += threads) {
            auto a = (*analyzer)->Analyze(comments[i].first, comments[i].second);
            if (a.ok()) terms[t] += a->terms.size();
          }
        });
      }
      for (auto& w : workers) w.join();
      const double seconds = absl::ToDoubleSeconds(absl::Now() - start);
      size_t all_terms = 0;
      for (size_t t : terms) all_terms += t;
      std::printf("%-28s %8d %12.0f %14.1f\n",
                  finnish == polku::text::FinnishAnalyser::kDefault
                      ? (polku::text::VoikkoBuilt() ? "Voikko/hunspell/Snowball"
                                                    : "Snowball (no Voikko)")
                      : "Finnish by Snowball",
                  threads, n / seconds, static_cast<double>(all_terms) / n);
    }
  }
  return 0;
}
