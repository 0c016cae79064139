// The simulator's comment phrase banks: what customers write, by language
// (`fi`, `sv`, `en`), sentiment and channel. Written for Polku.
//
//   const std::vector<std::string_view>& bank = Phrases("sv", Sentiment::kNegative, "phone");
#ifndef POLKU_TOOLS_SIMULATOR_PHRASES_H_
#define POLKU_TOOLS_SIMULATOR_PHRASES_H_

#include <string_view>
#include <vector>

namespace polku::sim {

enum class Sentiment {
  kNegative,
  kNeutral,
  kPositive,
};

// The languages comments are written in.
inline constexpr std::string_view kLanguages[] = {"fi", "sv", "en"};

// Phrases for `language` and `sentiment`: the channel's own (shop, phone,
// web, email) followed by general ones; never empty for a language in
// kLanguages. Unknown channels get the general ones.
std::vector<std::string_view> Phrases(std::string_view language, Sentiment sentiment,
                                      std::string_view channel);

}  // namespace polku::sim

#endif  // POLKU_TOOLS_SIMULATOR_PHRASES_H_
