// The channels a touchpoint may happen in.
//
// For now every tenant shares one built-in catalogue; registering channels
// per tenant (with their own keys and display names) comes in a later issue,
// at which point the catalogue becomes a per-tenant lookup behind the same
// two functions.
//
//   if (!IsKnownChannel(touchpoint.channel())) { … INVALID_ARGUMENT … }
//   for (const polku::v1::Channel& c : BuiltinChannels()) { … }
#ifndef POLKU_SERVICES_JOURNEY_CHANNELS_H_
#define POLKU_SERVICES_JOURNEY_CHANNELS_H_

#include <vector>

#include "absl/strings/string_view.h"
#include "polku/v1/journey.pb.h"

namespace polku::journey {

// Every built-in channel, in a stable order (physical first, then remote,
// then one-way media such as tv and outdoor ads).
const std::vector<polku::v1::Channel>& BuiltinChannels();

// True if `key` names a built-in channel.
bool IsKnownChannel(absl::string_view key);

}  // namespace polku::journey

#endif  // POLKU_SERVICES_JOURNEY_CHANNELS_H_
