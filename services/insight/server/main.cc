// polku-insight: tails polku-feedback's change feed into daily rollups,
// watches them for significant changes (change alerts) and answers
// InsightService. Wiring only; the logic is in the libraries beside this
// file.
#include <grpcpp/create_channel.h>
#include <grpcpp/security/credentials.h>

#include <memory>
#include <string>

#include "absl/flags/flag.h"
#include "lib/base/executor.h"
#include "lib/base/log.h"
#include "lib/rpc/flags.h"
#include "lib/rpc/server.h"
#include "lib/rpc/tls.h"
#include "lib/rpc/trust.h"
#include "lib/text/analyzer.h"
#include "services/insight/server/alert_monitor.h"
#include "services/insight/server/drivers_service.h"
#include "services/insight/server/feed_tailer.h"
#include "services/insight/server/funnels_service.h"
#include "services/insight/server/insight_service.h"
#include "services/insight/server/journey_lineage.h"
#include "services/insight/server/theme_alerts.h"
#include "services/insight/server/journey_source.h"
#include "services/insight/server/projection_catch_up.h"
#include "services/insight/server/rollup_store_factory.h"
#include "services/insight/server/themes_service.h"
#include "services/insight/server/index_warmer.h"

ABSL_FLAG(std::string, listen, "127.0.0.1:7103", "gRPC listen address");
ABSL_FLAG(std::string, data_dir, ".polku",
          "Directory of the databases; insight.db lives here");
ABSL_FLAG(std::string, database_url, "",
          "PostgreSQL database of the rollups (postgres://…), shared by "
          "every replica; empty = SQLite at <data_dir>/insight.db");
ABSL_FLAG(std::string, feedback_address, "127.0.0.1:7101",
          "polku-feedback address, whose change feed is tailed");
ABSL_FLAG(std::string, journey_address, "127.0.0.1:7102",
          "polku-journey address, asked for journey definitions and rename "
          "chains");
ABSL_FLAG(int, alert_window_days, 7,
          "change alerts: days in the current window, ending with the "
          "journey's latest day with data");
ABSL_FLAG(int, alert_max_data_age_days, 30,
          "change alerts: a journey whose latest day with data is more than "
          "this many days ago is not evaluated (history brought in with "
          "polku-import raises no alerts); 0 = no limit, for replays of "
          "history");
ABSL_FLAG(std::string, alert_baseline, "previous",
          "change alerts: the baseline window, 'previous' (the window "
          "before the current one) or 'trailing' (--alert_baseline_weeks "
          "weeks before it)");
ABSL_FLAG(int, alert_baseline_weeks, 4,
          "change alerts: weeks of the trailing baseline");
ABSL_FLAG(int, alert_min_sample, 30,
          "change alerts and consistency: fewer answers than this in a "
          "window or channel are not tested");
ABSL_FLAG(double, alert_alpha, 0.01,
          "change alerts and consistency: family-wise significance level "
          "(Holm-adjusted)");
ABSL_FLAG(int, drivers_min_raters, 100,
          "GetKeyDrivers: a driver with fewer raters is INSUFFICIENT (when the "
          "request leaves min_raters at 0)");
ABSL_FLAG(bool, warm_touch_index, true,
          "load every journey's events into the in-memory touch index (read "
          "by GetFunnel, GetPaths and GetKeyDrivers) in the background at "
          "start, so that no first call pays the load");
ABSL_FLAG(bool, warm_theme_index, true,
          "analyse every journey's comments into the in-memory theme index "
          "(read by GetThemes and ListThemeExamples) in the background at "
          "start");

namespace {
// Queries are short reads; a few threads keep one slow query from holding
// up the rest.
constexpr int kQueryThreads = 4;
}  // namespace

int main(int argc, char** argv) {
  polku::rpc::ParseFlags(
      argc, argv,
      "polku-insight: rollups of the feedback feed, scorecards, trends and "
      "change alerts");
  polku::log::SetServiceName("polku-insight");

  polku::insight::AlertMonitorOptions monitor_options;
  monitor_options.window_days = absl::GetFlag(FLAGS_alert_window_days);
  monitor_options.baseline_weeks = absl::GetFlag(FLAGS_alert_baseline_weeks);
  if (const int days = absl::GetFlag(FLAGS_alert_max_data_age_days); days > 0) {
    monitor_options.max_data_age = absl::Hours(24) * days;
  }
  monitor_options.test.min_sample = absl::GetFlag(FLAGS_alert_min_sample);
  monitor_options.test.alpha = absl::GetFlag(FLAGS_alert_alpha);
  const std::string baseline = absl::GetFlag(FLAGS_alert_baseline);
  if (baseline == "previous") {
    monitor_options.baseline = polku::insight::Baseline::kPrevious;
  } else if (baseline == "trailing") {
    monitor_options.baseline = polku::insight::Baseline::kTrailing;
  } else {
    polku::log::Error("--alert_baseline must be 'previous' or 'trailing'",
                      {{"alert_baseline", baseline}});
    return 2;
  }
  if (monitor_options.window_days < 1 || monitor_options.baseline_weeks < 1 ||
      absl::GetFlag(FLAGS_alert_max_data_age_days) < 0 ||
      monitor_options.test.min_sample < 2 || monitor_options.test.alpha <= 0 ||
      monitor_options.test.alpha >= 1) {
    polku::log::Error(
        "--alert_window_days and --alert_baseline_weeks must be at least 1, "
        "--alert_max_data_age_days at least 0, --alert_min_sample at least 2 "
        "and --alert_alpha in (0, 1)");
    return 2;
  }

  auto store = polku::insight::OpenRollupStore(
      absl::GetFlag(FLAGS_database_url), absl::GetFlag(FLAGS_data_dir));
  if (!store.ok()) {
    polku::log::Error("cannot open the rollup store",
                      {{"error", store.status().ToString()}});
    return 1;
  }

  // Destroyed (after it ran what is queued) before the service: see the end.
  auto executor = std::make_unique<polku::Executor>(kQueryThreads);
  std::shared_ptr<grpc::Channel> journey_channel = *polku::rpc::MakeChannel(
      absl::GetFlag(FLAGS_journey_address), polku::rpc::TlsFromFlags());
  polku::insight::GrpcJourneyLineage lineage(journey_channel);
  polku::insight::GrpcJourneySource journeys(journey_channel);
  polku::insight::AlertMonitor monitor(**store, monitor_options,
                                       polku::Clock::Real(), &lineage);
  polku::insight::InsightServiceImpl service(
      **store, *executor,
      {.lineage = &lineage, .journeys = &journeys, .tests = monitor_options.test});
  // One touch index of the ledger, read by funnels, paths and key drivers.
  polku::insight::TouchIndex touches(**store, **store);
  polku::insight::DriversServiceImpl drivers(
      **store, *executor,
      {.journeys = &journeys,
       .analysis = {.default_min_raters = absl::GetFlag(FLAGS_drivers_min_raters)},
       .touches = &touches});
  polku::insight::FunnelsServiceImpl funnels(
      **store, *executor, {.journeys = &journeys, .touches = &touches});
  polku::insight::IndexWarmer warmer(**store, touches);
  // One text analyser (its dictionaries loaded now: a missing one stops the
  // start, its error naming the path) and the theme index of the ledger.
  absl::StatusOr<std::unique_ptr<polku::text::Analyzer>> analyzer =
      polku::text::Analyzer::Create({});
  if (!analyzer.ok()) {
    polku::log::Error("cannot load the text analysis dictionaries",
                      {{"error", analyzer.status().ToString()}});
    return 1;
  }
  polku::insight::ThemeIndex theme_index(**store, **store, **analyzer);
  polku::insight::ThemesServiceImpl themes(
      *executor, {.index = &theme_index, .lineage = &lineage});
  polku::insight::IndexWarmer theme_warmer(
      **store, "theme index",
      [&theme_index](const std::string& tenant, const std::string& journey,
                     const std::atomic<bool>* stop) {
        return theme_index.Load(tenant, journey, stop);
      },
      [&theme_index] { return theme_index.comments(); });
  // Emerging comment themes raised next to the metric alerts, over the
  // same baseline weeks (docs/themes.md, "Emerging themes as alerts").
  polku::insight::ThemeAlertSource theme_alerts(
      theme_index, {.baseline_weeks = monitor_options.baseline_weeks});
  monitor.SetThemeSource(&theme_alerts);
  monitor.SetListener(
      [&service](const std::string& tenant, const polku::v1::Alert& alert) {
        service.AlertChanged(tenant, alert);
      });

  polku::insight::FeedTailer::Options tailer_options;
  // Its progress, for polku-feedback's erasure receipts.
  tailer_options.reader = polku::rpc::kInsightIdentity;
  tailer_options.on_applied =
      [&monitor, &service](const polku::insight::FeedChanges& changes) {
        service.FeedApplied(changes);
        monitor.JourneysChanged(changes.journeys);
      };
  polku::insight::FeedTailer tailer(
      **store,
      polku::insight::MakeFeedbackChannel(absl::GetFlag(FLAGS_feedback_address),
                                          polku::rpc::TlsFromFlags()),
      tailer_options);
  // Projections registered since the database was last written catch up
  // from the ledger beside the tailer.
  polku::insight::ProjectionCatchUp catch_up(**store);
  monitor.Start();
  tailer.Start();
  catch_up.Start();
  if (absl::GetFlag(FLAGS_warm_touch_index)) warmer.Start();
  if (absl::GetFlag(FLAGS_warm_theme_index)) theme_warmer.Start();

  auto server =
      polku::rpc::Server::Start(polku::rpc::WithBackendFlags(
          {.name = "polku-insight",
           .listen_address = absl::GetFlag(FLAGS_listen),
           .services = {&service, &drivers, &funnels, &themes},
           .on_drain = [&service] { service.EndStreams(); }}));
  if (!server.ok()) {
    polku::log::Error("cannot start the server",
                      {{"error", server.status().ToString()}});
    // Before the theme index it reads is destroyed.
    monitor.Stop();
    return 1;
  }
  polku::log::Info("polku-insight started",
                   {{"listen", absl::GetFlag(FLAGS_listen)},
                    {"feedback_address", absl::GetFlag(FLAGS_feedback_address)},
                    {"checkpoint", (*store)->Checkpoint().value_or(0)}});
  (*server)->WaitForShutdownSignal();  // returns once in-flight calls drained
  theme_warmer.Stop();
  warmer.Stop();
  catch_up.Stop();
  tailer.Stop();
  monitor.Stop();
  service.Stop();
  executor.reset();  // runs what is queued while the service still exists
  polku::log::Info("polku-insight stopped");
  return 0;
}
