// polku-sim: simulated customers' feedback → the gateway.
//
//   polku-sim --gateway=127.0.0.1:7070 --credentials=.polku/credentials.json
//       --seed=1 --customers=2000 --days=28
#include <iostream>
#include <fstream>
#include <string>
#include <vector>

#include "absl/flags/flag.h"
#include "absl/strings/str_format.h"
#include "absl/time/clock.h"
#include "absl/time/civil_time.h"
#include "lib/rpc/flags.h"
#include "tools/journeys/gateway_client.h"
#include "tools/simulator/simulator.h"
#include "tools/simulator/submit.h"

ABSL_FLAG(std::string, gateway, "127.0.0.1:7070", "polku-gateway gRPC address");
ABSL_FLAG(std::string, credentials, ".polku/credentials.json",
          "credentials.json written by polku-keys init");
ABSL_FLAG(uint64_t, seed, 1, "same seed, same events (and event ids)");
ABSL_FLAG(int, customers, 2000, "customers who start a journey");
ABSL_FLAG(int, days, 28, "days the journeys start on, ending with --end_date");
ABSL_FLAG(std::string, end_date, "", "last day, YYYY-MM-DD (UTC); default today");
ABSL_FLAG(std::vector<std::string>, plant_change, {},
          "comma-separated TOUCHPOINT:YYYY-MM-DD:SHIFT: the touchpoint's quality level "
          "(in [-1, 1]) moves by SHIFT from that day on");
ABSL_FLAG(std::vector<std::string>, plant_inconsistency, {},
          "comma-separated JOURNEY/STAGE/CHANNEL:SHIFT: that channel's touchpoints in the "
          "stage are SHIFT worse (or better) than the stage's other channels");
ABSL_FLAG(std::vector<std::string>, plant_driver, {},
          "comma-separated TOUCHPOINT:WEIGHT: the customers' outcome answers depend on "
          "their experience at these touchpoints with these weights (and on no other)");
ABSL_FLAG(std::vector<std::string>, plant_drop_off, {},
          "funnel bottlenecks to plant, JOURNEY/STAGE:CARRY_ON (the share going on "
          "into STAGE from the stage before), comma-separated");
ABSL_FLAG(std::vector<std::string>, plant_stage_time, {},
          "times between stages to plant, JOURNEY/STAGE:MEAN_HOURS (exponential, "
          "from reaching the stage before), comma-separated");
ABSL_FLAG(std::vector<std::string>, plant_switch, {},
          "channel switches to plant, FROM:TO:SHARE:WITHIN_HOURS (after a "
          "customer's first touch in FROM, the next is in TO with probability "
          "SHARE, within WITHIN_HOURS), comma-separated");
ABSL_FLAG(std::vector<std::string>, plant_theme, {},
          "comment themes to plant, TOUCHPOINT:LANG:LEMMA:SHARE (at TOUCHPOINT, SHARE of "
          "the low-score comments in LANG, fi, sv or en, mention the theme, e.g. "
          "toimitus, lasku, leverans, faktura, delivery, in inflected forms), "
          "comma-separated");
ABSL_FLAG(double, comment_share, 0.3, "share of rated touches and outcome answers with a comment");
ABSL_FLAG(double, unlabelled_share, 0.1,
          "share of comments whose event leaves the language empty (detected by the server)");
ABSL_FLAG(double, neutral_phrase_share, 0.2,
          "share of comments, low-score or not alike, that start with a neutral phrase "
          "(\"Kävin kaupassa.\") no theme may find");
ABSL_FLAG(std::string, comment_languages, "fi:0.6,sv:0.15,en:0.25",
          "share of customers writing in each language, LANG:SHARE,… adding up to 1");
ABSL_FLAG(std::string, truths_file, "",
          "where to write the planted truths as JSON (for tests and demos)");

int main(int argc, char** argv) {
  polku::rpc::ParseFlags(argc, argv,
                         "polku-sim: generates customers walking the published journeys and "
                         "submits their feedback with each channel's key");
  auto credentials = polku::tools::ReadCredentials(absl::GetFlag(FLAGS_credentials));
  if (!credentials.ok()) {
    std::cerr << "polku-sim: " << credentials.status().message() << "\n";
    return 1;
  }
  absl::CivilDay end_day = absl::ToCivilDay(absl::Now(), absl::UTCTimeZone());
  if (!absl::GetFlag(FLAGS_end_date).empty() &&
      !absl::ParseCivilTime(absl::GetFlag(FLAGS_end_date), &end_day)) {
    std::cerr << "polku-sim: --end_date must be YYYY-MM-DD, got \""
              << absl::GetFlag(FLAGS_end_date) << "\"\n";
    return 2;
  }
  polku::sim::Options options;
  options.seed = absl::GetFlag(FLAGS_seed);
  options.customers = absl::GetFlag(FLAGS_customers);
  options.days = absl::GetFlag(FLAGS_days);
  options.first_day = end_day - (options.days - 1);
  options.not_after = absl::Now();
  options.comment_share = absl::GetFlag(FLAGS_comment_share);
  options.unlabelled_share = absl::GetFlag(FLAGS_unlabelled_share);
  options.neutral_phrase_share = absl::GetFlag(FLAGS_neutral_phrase_share);
  if (absl::Status s = polku::sim::ParseLanguageMix(absl::GetFlag(FLAGS_comment_languages),
                                                    options.language_mix);
      !s.ok()) {
    std::cerr << "polku-sim: --comment_languages " << s.message() << "\n";
    return 2;
  }
  for (const auto& [channel, key] : credentials->channel_keys) options.channels.insert(channel);
  for (const std::string& spec : absl::GetFlag(FLAGS_plant_change)) {
    if (absl::Status s = polku::sim::ParseChange(spec, options.planted); !s.ok()) {
      std::cerr << "polku-sim: --plant_change " << s.message() << "\n";
      return 2;
    }
  }
  for (const std::string& spec : absl::GetFlag(FLAGS_plant_inconsistency)) {
    if (absl::Status s = polku::sim::ParseInconsistency(spec, options.planted); !s.ok()) {
      std::cerr << "polku-sim: --plant_inconsistency " << s.message() << "\n";
      return 2;
    }
  }
  for (const std::string& spec : absl::GetFlag(FLAGS_plant_drop_off)) {
    if (absl::Status s = polku::sim::ParseDropOff(spec, options.planted); !s.ok()) {
      std::cerr << "polku-sim: --plant_drop_off " << s.message() << "\n";
      return 2;
    }
  }
  for (const std::string& spec : absl::GetFlag(FLAGS_plant_switch)) {
    if (absl::Status s = polku::sim::ParseSwitch(spec, options.planted); !s.ok()) {
      std::cerr << "polku-sim: --plant_switch " << s.message() << "\n";
      return 2;
    }
  }
  for (const std::string& spec : absl::GetFlag(FLAGS_plant_stage_time)) {
    if (absl::Status s = polku::sim::ParseStageTime(spec, options.planted); !s.ok()) {
      std::cerr << "polku-sim: --plant_stage_time " << s.message() << "\n";
      return 2;
    }
  }

  for (const std::string& spec : absl::GetFlag(FLAGS_plant_driver)) {
    if (absl::Status s = polku::sim::ParseDriver(spec, options.planted); !s.ok()) {
      std::cerr << "polku-sim: --plant_driver " << s.message() << "\n";
      return 2;
    }
  }
  for (const std::string& spec : absl::GetFlag(FLAGS_plant_theme)) {
    if (absl::Status s = polku::sim::ParseTheme(spec, options.planted); !s.ok()) {
      std::cerr << "polku-sim: --plant_theme " << s.message() << "\n";
      return 2;
    }
  }

  auto channel = polku::tools::DialGateway(absl::GetFlag(FLAGS_gateway));
  if (!channel.ok()) {
    std::cerr << "polku-sim: " << channel.status().message() << "\n";
    return 1;
  }
  auto journey_stub = polku::v1::JourneyService::NewStub(*channel);
  auto feedback_stub = polku::v1::FeedbackService::NewStub(*channel);

  auto journeys = polku::sim::ListPublishedJourneys(*journey_stub, credentials->admin_key);
  if (!journeys.ok()) {
    std::cerr << "polku-sim: " << journeys.status().message() << "\n";
    return 1;
  }
  auto sim = polku::sim::Simulate(*journeys, options);
  if (!sim.ok()) {
    std::cerr << "polku-sim: " << sim.status().message() << "\n";
    return 1;
  }
  if (const std::string path = absl::GetFlag(FLAGS_truths_file); !path.empty()) {
    std::ofstream truths(path);
    truths << polku::sim::TruthsToJson(options.planted);
    if (!truths.flush()) {
      std::cerr << "polku-sim: cannot write --truths_file " << path << "\n";
      return 1;
    }
  }
  std::cout << absl::StrFormat(
                   "polku-sim: %d journeys, %d customers, %d events (seed %d, %s … %s)",
                   journeys->size(), sim->customers, sim->EventCount(), options.seed,
                   absl::FormatCivilTime(options.first_day), absl::FormatCivilTime(end_day))
            << std::endl;

  int64_t rejected = 0;
  bool failed = false;
  for (const auto& [channel_key, events] : sim->events) {
    auto summary = polku::sim::SubmitChannel(
        *feedback_stub, credentials->channel_keys.at(channel_key), events);
    if (!summary.ok()) {
      std::cerr << "polku-sim: channel " << channel_key << ": " << summary.status().message()
                << "\n";
      failed = true;
      continue;
    }
    std::cout << absl::StrFormat("  %-13s accepted %6d  duplicate %6d  rejected %6d",
                                 channel_key, summary->accepted, summary->duplicate,
                                 summary->rejected)
              << std::endl;
    for (const std::string& rejection : summary->rejections) {
      std::cout << "           rejected " << rejection << "\n";
    }
    rejected += summary->rejected;
  }
  for (const auto& [channel_key, count] : sim->skipped) {
    std::cout << absl::StrFormat("  %-13s skipped  %6d  (no key for this channel)", channel_key,
                                 count)
              << std::endl;
  }
  return failed || rejected > 0 ? 1 : 0;
}
