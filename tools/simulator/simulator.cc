#include "tools/simulator/simulator.h"

#include <algorithm>
#include <array>
#include <cmath>
#include <iterator>
#include <map>
#include <string_view>
#include <utility>

#include "absl/status/status.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_split.h"
#include "tools/simulator/comments.h"
#include "tools/simulator/random.h"

namespace polku::sim {
namespace {

// FNV-1a: a string hash that is the same everywhere (std::hash is not).
uint64_t Fnv1a(absl::string_view text) {
  uint64_t hash = 0xcbf29ce484222325ull;
  for (unsigned char c : text) {
    hash ^= c;
    hash *= 0x100000001b3ull;
  }
  return hash;
}

int ToScale(double experience, double center, double spread, int low, int high) {
  long value = std::lround(center + spread * experience);
  return static_cast<int>(std::clamp<long>(value, low, high));
}

// How much a touchpoint weighs in the customer's overall verdict, in
// [0.2, 1.2]: a fixed function of its key, so some touchpoints are critical.
double Importance(absl::string_view touchpoint_key) {
  return 0.2 + static_cast<double>(Mix(Fnv1a(touchpoint_key) ^ 0x5eed) % 1001) / 1000.0;
}

google::protobuf::Timestamp ToTimestamp(absl::Time time) {
  google::protobuf::Timestamp timestamp;
  timestamp.set_seconds(absl::ToUnixSeconds(time));
  return timestamp;
}

struct StagePlan {
  const v1::Stage* stage;
  std::vector<const v1::Touchpoint*> interactions;
};

struct JourneyPlan {
  const v1::Journey* journey;
  std::vector<StagePlan> stages;  // only stages with interactions, in order
  std::vector<const v1::Touchpoint*> outcomes;
  // Some touchpoint of the journey is a planted driver.
  bool planted_drivers = false;
};

std::vector<JourneyPlan> Plan(const std::vector<v1::Journey>& journeys,
                              const PlantedTruths& planted) {
  std::vector<JourneyPlan> plans;
  for (const v1::Journey& journey : journeys) {
    JourneyPlan plan{&journey, {}, {}};
    for (const v1::Touchpoint& touchpoint : journey.touchpoints()) {
      for (const PlantedDriver& driver : planted.drivers) {
        plan.planted_drivers = plan.planted_drivers || driver.touchpoint == touchpoint.key();
      }
    }
    for (const v1::Stage& stage : journey.stages()) {
      StagePlan stage_plan{&stage, {}};
      for (const v1::Touchpoint& touchpoint : journey.touchpoints()) {
        if (touchpoint.stage() == stage.key() && touchpoint.kind() != v1::OUTCOME) {
          stage_plan.interactions.push_back(&touchpoint);
        }
      }
      if (!stage_plan.interactions.empty()) plan.stages.push_back(std::move(stage_plan));
    }
    for (const v1::Touchpoint& touchpoint : journey.touchpoints()) {
      if (touchpoint.kind() == v1::OUTCOME) plan.outcomes.push_back(&touchpoint);
    }
    if (!plan.stages.empty()) plans.push_back(std::move(plan));
  }
  return plans;
}

Sentiment SentimentOf(const v1::TouchpointEvent& event, double experience) {
  if (event.has_csat()) {
    if (event.csat() <= 2) return Sentiment::kNegative;
    if (event.csat() == 3) return Sentiment::kNeutral;
    return Sentiment::kPositive;
  }
  if (experience < -0.4) return Sentiment::kNegative;
  if (experience > 0.4) return Sentiment::kPositive;
  return Sentiment::kNeutral;
}

// A comment written, to be given the neutral phrase or not once every
// customer has walked.
struct WrittenComment {
  std::string channel;
  size_t index;  // in Simulation::events[channel]
  size_t language;  // in kLanguages (the customer's, also when not labelled)
  bool low;
};

// Starts some of the comments with their language's neutral phrase. Per
// touchpoint and low score or not, error diffusion puts each language's
// phrase into neutral_phrase_share × that language's mix of the comments, so
// each phrase's lemmas are as frequent among the low-score comments as
// among the others and a theme's z for them stays near 0 — even when chance
// gives one language more low scores (independent draws would leave
// |z| > 1 in about a third of the runs). The comments are taken in the
// order of their time (then id), so a comment's phrase depends only on
// earlier comments: a later run, with more touches behind not_after,
// re-sends the earlier events unchanged.
void AddNeutralPhrases(const Options& options, std::vector<WrittenComment>& written,
                       Simulation& sim) {
  auto event_of = [&](const WrittenComment& c) -> v1::TouchpointEvent& {
    return sim.events[c.channel][c.index];
  };
  std::sort(written.begin(), written.end(),
            [&](const WrittenComment& a, const WrittenComment& b) {
              const v1::TouchpointEvent& x = event_of(a);
              const v1::TouchpointEvent& y = event_of(b);
              if (x.occurred_at().seconds() != y.occurred_at().seconds()) {
                return x.occurred_at().seconds() < y.occurred_at().seconds();
              }
              return x.event_id() < y.event_id();
            });
  std::map<std::pair<std::string, bool>, std::array<double, 3>> due;
  for (const WrittenComment& comment : written) {
    v1::TouchpointEvent& event = event_of(comment);
    std::array<double, 3>& owed = due[{event.touchpoint(), comment.low}];
    bool write = false;
    for (size_t i = 0; i < owed.size(); ++i) {
      owed[i] += options.neutral_phrase_share * options.language_mix[i];
      if (i == comment.language && owed[i] >= 1) {
        owed[i] -= 1;
        write = true;
      }
    }
    if (write) {
      std::string_view phrase = NeutralPhraseOf(kLanguages[comment.language]).sentence;
      event.set_comment(absl::StrCat(absl::string_view(phrase.data(), phrase.size()), " ",
                                     event.comment()));
    }
  }
}

// One customer's walk; appends to `sim`.
class Customer {
 public:
  Customer(const Options& options, int index, const std::vector<JourneyPlan>& plans,
           std::vector<WrittenComment>& written, Simulation& sim)
      : options_(options),
        index_(index),
        random_(Mix(options.seed * 0x100000001b3ull ^ Mix(static_cast<uint64_t>(index)))),
        written_(written),
        sim_(sim) {
    plan_ = &plans[random_.Index(plans.size())];
    bias_ = 0.45 * random_.Normal();
    double language = random_.Uniform();
    for (language_ = 0; language_ + 1 < std::size(kLanguages); ++language_) {
      if (language < options.language_mix[language_]) break;
      language -= options.language_mix[language_];
    }
    reference_ = absl::StrFormat("sim-%d-%06d", options.seed, index);
    home_store_ = 1 + random_.Index(12);
  }

  void Walk() {
    absl::Time day = absl::FromCivil(options_.first_day + random_.Index(options_.days),
                                     absl::UTCTimeZone());
    now_ = day + absl::Hours(7) + absl::Seconds(random_.Index(14 * 3600));
    if (now_ > options_.not_after) return;
    ++sim_.customers;
    for (size_t s = 0; s < plan_->stages.size(); ++s) {
      const StagePlan& stage = plan_->stages[s];
      if (s > 0) {
        const std::string& journey = plan_->journey->key();
        const std::string& key = stage.stage->key();
        // Bad experiences in the last stage make customers give up.
        double carry_on = std::clamp(0.8 + 0.15 * last_stage_experience_, 0.45, 0.97);
        if (const PlantedDropOff* drop = options_.planted.DropOffInto(journey, key)) {
          carry_on = drop->carry_on;
        }
        if (!random_.Chance(carry_on)) break;
        if (const PlantedStageTime* time = options_.planted.StageTimeInto(journey, key)) {
          // From the first touch of the stage before: the planted time is
          // exactly the time between reaching the two stages.
          now_ = stage_start_ + absl::Seconds(std::round(
                                    random_.Exponential(time->mean_hours * 3600)));
        } else {
          now_ += absl::Minutes(120 + random_.Index(26 * 60));
        }
      }
      stage_start_ = now_;
      std::vector<const v1::Touchpoint*> touched;
      for (const v1::Touchpoint* touchpoint : stage.interactions) {
        if (random_.Chance(0.65)) touched.push_back(touchpoint);
      }
      if (touched.empty()) touched.push_back(stage.interactions[random_.Index(stage.interactions.size())]);
      double stage_sum = 0;
      for (size_t t = 0; t < touched.size(); ++t) {
        if (t > 0) now_ += absl::Minutes(20 + random_.Index(5 * 60));
        if (now_ > options_.not_after) return;
        stage_sum += Touch(*touched[t]);
        if (!MaybeSwitch(*touched[t], stage)) return;
      }
      last_stage_experience_ = stage_sum / static_cast<double>(touched.size());
    }
    AnswerOutcomes();
  }

 private:
  // A planted switch after the first touch in its `from` channel: the next
  // touch, in the `to` channel. False when that touch would lie beyond
  // not_after (the walk ends).
  bool MaybeSwitch(const v1::Touchpoint& touched, const StagePlan& stage) {
    for (const PlantedSwitch& planted : options_.planted.switches) {
      if (touched.channel() != planted.from || !switched_from_.insert(planted.from).second) {
        continue;
      }
      if (!random_.Chance(planted.share)) continue;
      const v1::Touchpoint* target = nullptr;
      for (const v1::Touchpoint* t : stage.interactions) {
        if (target == nullptr && t->channel() == planted.to) target = t;
      }
      for (const v1::Touchpoint& t : plan_->journey->touchpoints()) {
        if (target == nullptr && t.kind() == v1::INTERACTION && t.channel() == planted.to) {
          target = &t;
        }
      }
      if (target == nullptr) continue;  // this journey lacks the channel
      now_ += absl::Seconds(std::floor(random_.Uniform(0, planted.within_hours * 3600)));
      if (now_ > options_.not_after) return false;
      Touch(*target);
    }
    return true;
  }

  // The touchpoint's quality level at this moment of the walk.
  double Quality(const v1::Touchpoint& touchpoint) const {
    auto it = options_.quality.find(touchpoint.key());
    double quality = it != options_.quality.end() ? it->second : DefaultQuality(touchpoint.key());
    quality += options_.planted.ShiftFor(plan_->journey->key(), touchpoint,
                                         absl::ToCivilDay(now_, absl::UTCTimeZone()));
    return std::clamp(quality, -1.0, 1.0);
  }

  v1::TouchpointEvent NewEvent(const v1::Touchpoint& touchpoint) {
    v1::TouchpointEvent event;
    // The id names everything the event's content depends on (seed, window,
    // customer, touch), so a re-run of the same simulation re-sends the same
    // ids with the same content (DUPLICATE), while a run over another window
    // gets new ids instead of colliding with different content.
    event.set_event_id(absl::StrFormat("sim-%d-%s-%dd-%06d-%02d", options_.seed,
                                       absl::FormatCivilTime(options_.first_day), options_.days,
                                       index_, touches_++));
    event.set_touchpoint(touchpoint.key());
    event.set_customer(reference_);
    event.set_journey(plan_->journey->key());
    *event.mutable_occurred_at() = ToTimestamp(now_);
    return event;
  }

  // Emits the event, or counts it as skipped when its channel has no key.
  void Emit(const v1::Touchpoint& touchpoint, v1::TouchpointEvent event) {
    if (options_.channels.count(touchpoint.channel()) == 0) {
      ++sim_.skipped[touchpoint.channel()];
      return;
    }
    std::vector<v1::TouchpointEvent>& events = sim_.events[touchpoint.channel()];
    if (!event.comment().empty()) {
      written_.push_back({touchpoint.channel(), events.size(), language_, IsLowScore(event)});
    }
    events.push_back(std::move(event));
  }

  // Draws from random_ exactly as often whatever is written (twice when
  // commenting, else once), so comments never change the rest of the walk.
  void MaybeComment(v1::TouchpointEvent& event, const v1::Touchpoint& touchpoint,
                    double experience) {
    if (!random_.Chance(options_.comment_share)) return;
    Random random(random_.Bits());
    bool low = IsLowScore(event);
    const std::string_view language = kLanguages[language_];
    CommentSpec spec{.language = language, .channel = touchpoint.channel()};
    // Complaints only with a low score, so the low and the other comments
    // differ in their themes as the themes analytic compares them.
    spec.sentiment = SentimentOf(event, experience);
    if (low) spec.sentiment = Sentiment::kNegative;
    if (!low && spec.sentiment == Sentiment::kNegative) spec.sentiment = Sentiment::kNeutral;
    if (low) {
      // One draw picks at most one of the themes planted here.
      double draw = random.Uniform();
      for (const PlantedTheme& theme : options_.planted.themes) {
        if (theme.touchpoint != touchpoint.key() || theme.language != language) continue;
        if (draw < theme.share) {
          spec.theme = FindTheme(theme.language, theme.lemma);
          break;
        }
        draw -= theme.share;
      }
    }
    event.set_comment(WriteComment(spec, random));  // AddNeutralPhrases may add one
    if (!random.Chance(options_.unlabelled_share)) event.set_language(std::string(language));
  }

  // One touch of an interaction touchpoint; returns the experience it gave.
  double Touch(const v1::Touchpoint& touchpoint) {
    const std::string& channel = touchpoint.channel();
    double quality = Quality(touchpoint);
    double experience = quality + bias_ + 0.6 * random_.Normal();
    v1::TouchpointEvent event = NewEvent(touchpoint);
    if (channel == "phone") {
      // Seed 001: how fast calls are answered. Poor touchpoints keep people waiting.
      double wait = std::round(random_.Exponential(45.0 * (1.6 - quality)));
      if (wait > 180) experience -= 0.5;
      (*event.mutable_measures())["wait_seconds"] = wait;
      (*event.mutable_measures())["handle_seconds"] = std::round(random_.Uniform(120, 600));
      event.mutable_attributes()->insert(
          {"agent_id", absl::StrFormat("agent-%02d", 1 + random_.Index(20))});
    } else if (channel == "shop") {
      event.mutable_attributes()->insert({"store_id", absl::StrFormat("store-%02d", home_store_)});
    } else if (channel == "web") {
      event.mutable_attributes()->insert(
          {"device", random_.Chance(0.7) ? "mobile" : "desktop"});
    } else if (channel == "field_service") {
      event.mutable_attributes()->insert(
          {"crew_id", absl::StrFormat("crew-%02d", 1 + random_.Index(8))});
    } else if (channel == "email") {
      event.mutable_attributes()->insert({"campaign", plan_->journey->key()});
    }
    if (random_.Chance(0.7)) {
      if (random_.Chance(0.9)) event.set_csat(ToScale(experience, 3.7, 1.1, 1, 5));
      if (random_.Chance(0.35)) event.set_nps(ToScale(experience, 7.2, 2.4, 0, 10));
      double ces_chance = (channel == "phone" || channel == "web") ? 0.7 : 0.4;
      if (random_.Chance(ces_chance)) event.set_ces(ToScale(experience, 5.0, 1.4, 1, 7));
      MaybeComment(event, touchpoint, experience);
    }
    Emit(touchpoint, std::move(event));
    weighted_experience_ += Importance(touchpoint.key()) * experience;
    total_importance_ += Importance(touchpoint.key());
    planted_experience_ += options_.planted.DriverWeight(touchpoint.key()) * experience;
    return experience;
  }

  // The relationship measures, explained by the touches (weighted by how
  // much each touchpoint matters) plus the customer's own disposition.
  void AnswerOutcomes() {
    if (plan_->outcomes.empty() || total_importance_ == 0 || !random_.Chance(0.6)) return;
    now_ += absl::Hours(20 + random_.Index(48));
    if (now_ > options_.not_after) return;
    // Planted drivers (in this journey): the verdict is their weighted sum
    // (planted.h), so the weights say which touchpoints matter; else a
    // weighted mean of every touch.
    double verdict = plan_->planted_drivers ? planted_experience_
                                            : weighted_experience_ / total_importance_;
    verdict += 0.3 * bias_ + 0.35 * random_.Normal();
    for (const v1::Touchpoint* outcome : plan_->outcomes) {
      v1::TouchpointEvent event = NewEvent(*outcome);
      event.set_nps(ToScale(verdict, 7.0, 2.6, 0, 10));
      event.set_csat(ToScale(verdict, 3.7, 1.2, 1, 5));
      MaybeComment(event, *outcome, verdict);
      Emit(*outcome, std::move(event));
    }
  }

  const Options& options_;
  const int index_;
  Random random_;
  std::vector<WrittenComment>& written_;
  Simulation& sim_;
  const JourneyPlan* plan_ = nullptr;
  double bias_ = 0;
  size_t language_ = 0;  // in kLanguages
  std::string reference_;
  int home_store_ = 1;
  absl::Time now_;
  // The first touch of the current stage.
  absl::Time stage_start_;
  // Channels whose first touch has been (a planted switch's `from`).
  std::set<std::string> switched_from_;
  int touches_ = 0;
  double last_stage_experience_ = 0;
  double weighted_experience_ = 0;
  double total_importance_ = 0;
  double planted_experience_ = 0;
};

}  // namespace

int64_t Simulation::EventCount() const {
  int64_t count = 0;
  for (const auto& [channel, list] : events) count += static_cast<int64_t>(list.size());
  return count;
}

absl::Status ParseLanguageMix(absl::string_view text, std::array<double, 3>& mix) {
  std::array<double, 3> parsed = {0, 0, 0};
  double sum = 0;
  for (absl::string_view part : absl::StrSplit(text, ',')) {
    std::vector<absl::string_view> pair = absl::StrSplit(part, ':');
    size_t i = std::size(kLanguages);
    for (size_t l = 0; pair.size() == 2 && l < std::size(kLanguages); ++l) {
      if (pair[0] == absl::string_view(kLanguages[l].data(), kLanguages[l].size())) i = l;
    }
    double share = 0;
    if (i == std::size(kLanguages) || !absl::SimpleAtod(pair[1], &share) || share < 0 ||
        share > 1) {
      return absl::InvalidArgumentError(absl::StrCat(
          "\"", text, "\": a language mix is LANG:SHARE,… with LANG fi, sv or en and SHARE "
          "in [0, 1]; \"", part, "\" is not"));
    }
    parsed[i] += share;
    sum += share;
  }
  if (std::abs(sum - 1) > 1e-6) {
    return absl::InvalidArgumentError(
        absl::StrCat("\"", text, "\": the shares must add up to 1, got ", sum));
  }
  mix = parsed;
  return absl::OkStatus();
}

bool IsLowScore(const v1::TouchpointEvent& event) {
  return (event.has_nps() && event.nps() <= 6) || (event.has_csat() && event.csat() <= 2) ||
         (event.has_ces() && event.ces() <= 3);
}

double DefaultQuality(absl::string_view touchpoint_key) {
  return -0.8 + 1.7 * static_cast<double>(Mix(Fnv1a(touchpoint_key)) % 1001) / 1000.0;
}

absl::StatusOr<Simulation> Simulate(const std::vector<v1::Journey>& journeys,
                                    const Options& options) {
  if (options.customers < 0) {
    return absl::InvalidArgumentError("customers must not be negative");
  }
  if (options.days < 1) return absl::InvalidArgumentError("days must be at least 1");
  for (const auto& [name, share] : {std::pair<const char*, double>{"comment_share",
                                                                    options.comment_share},
                                    {"unlabelled_share", options.unlabelled_share},
                                    {"neutral_phrase_share", options.neutral_phrase_share}}) {
    if (!(share >= 0 && share <= 1)) {
      return absl::InvalidArgumentError(absl::StrCat(name, " must be in [0, 1], got ", share));
    }
  }
  double mix_sum = 0;
  for (double share : options.language_mix) {
    if (!(share >= 0)) return absl::InvalidArgumentError("language_mix: shares must be >= 0");
    mix_sum += share;
  }
  if (std::abs(mix_sum - 1) > 1e-6) {
    return absl::InvalidArgumentError(
        absl::StrCat("language_mix: the shares must add up to 1, got ", mix_sum));
  }
  if (absl::Status planted = CheckAgainst(options.planted, journeys); !planted.ok()) {
    return planted;
  }
  std::vector<JourneyPlan> plans = Plan(journeys, options.planted);
  if (plans.empty()) {
    return absl::InvalidArgumentError(
        "no journey has a stage with an interaction touchpoint to simulate");
  }
  Simulation sim;
  std::vector<WrittenComment> written;
  for (int i = 0; i < options.customers; ++i) {
    Customer(options, i, plans, written, sim).Walk();
  }
  AddNeutralPhrases(options, written, sim);
  return sim;
}

}  // namespace polku::sim
