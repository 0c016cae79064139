// The feed tailer lives in lib/feed (shared with polku-cases); insight's
// code keeps its names for it.
#ifndef POLKU_SERVICES_INSIGHT_FEED_TAILER_H_
#define POLKU_SERVICES_INSIGHT_FEED_TAILER_H_

#include "lib/feed/feed_tailer.h"
#include "services/insight/store/feed_sink.h"

namespace polku::insight {
using ::polku::feed::FeedChanges;
using ::polku::feed::FeedTailer;
using ::polku::feed::MakeFeedbackChannel;
}  // namespace polku::insight

#endif  // POLKU_SERVICES_INSIGHT_FEED_TAILER_H_
