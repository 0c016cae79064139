#include "services/journey/channels.h"

#include <algorithm>

namespace polku::journey {
namespace {

std::vector<polku::v1::Channel> MakeCatalogue() {
  struct Entry {
    const char* key;
    const char* display_name;
  };
  // Ads (tv, outdoor) are channels too: seed 002's customer meets the
  // operator at a bus stop and on TV before ever talking to anyone.
  static constexpr Entry kEntries[] = {
      {"shop", "Shop"},
      {"field_service", "Field service"},
      {"phone", "Phone"},
      {"web", "Web"},
      {"mobile", "Mobile app"},
      {"chat", "Chat"},
      {"email", "E-mail"},
      {"direct_mail", "Direct mail"},
      {"tv", "TV"},
      {"outdoor", "Outdoor advertising"},
  };
  std::vector<polku::v1::Channel> channels;
  for (const Entry& entry : kEntries) {
    polku::v1::Channel& channel = channels.emplace_back();
    channel.set_key(entry.key);
    channel.set_display_name(entry.display_name);
  }
  return channels;
}

}  // namespace

const std::vector<polku::v1::Channel>& BuiltinChannels() {
  static const auto* const kChannels =
      new std::vector<polku::v1::Channel>(MakeCatalogue());
  return *kChannels;
}

bool IsKnownChannel(absl::string_view key) {
  const auto& channels = BuiltinChannels();
  return std::any_of(channels.begin(), channels.end(),
                     [key](const polku::v1::Channel& channel) {
                       return channel.key() == key;
                     });
}

}  // namespace polku::journey
