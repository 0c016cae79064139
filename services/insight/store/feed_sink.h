// FeedSink lives in lib/feed (shared with polku-cases); insight's code
// keeps its name for it.
#ifndef POLKU_SERVICES_INSIGHT_STORE_FEED_SINK_H_
#define POLKU_SERVICES_INSIGHT_STORE_FEED_SINK_H_

#include "lib/feed/feed_sink.h"

namespace polku::insight {
using ::polku::feed::FeedSink;
}  // namespace polku::insight

#endif  // POLKU_SERVICES_INSIGHT_STORE_FEED_SINK_H_
