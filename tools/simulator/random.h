// The simulator's random numbers: std::mt19937_64 with our own, portable
// mappings from its output (the standard distributions are
// implementation-defined, and the same seed must give the same events
// everywhere).
//
//   Random random(Mix(seed));
//   if (random.Chance(0.3)) … random.Index(phrases.size()) …
#ifndef POLKU_TOOLS_SIMULATOR_RANDOM_H_
#define POLKU_TOOLS_SIMULATOR_RANDOM_H_

#include <cmath>
#include <cstddef>
#include <cstdint>
#include <random>

namespace polku::sim {

// SplitMix64 finaliser: spreads (seed, customer) into independent streams.
inline uint64_t Mix(uint64_t x) {
  x += 0x9e3779b97f4a7c15ull;
  x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ull;
  x = (x ^ (x >> 27)) * 0x94d049bb133111ebull;
  return x ^ (x >> 31);
}

class Random {
 public:
  explicit Random(uint64_t seed) : engine_(seed) {}

  // The engine's next 64 bits (e.g. to seed a stream of its own).
  uint64_t Bits() { return engine_(); }
  // Uniform in [0, 1).
  double Uniform() { return static_cast<double>(engine_() >> 11) * 0x1.0p-53; }
  double Uniform(double low, double high) { return low + (high - low) * Uniform(); }
  // Uniform in {0, …, n − 1}; n > 0.
  int Index(size_t n) { return static_cast<int>(Uniform() * static_cast<double>(n)); }
  bool Chance(double p) { return Uniform() < p; }
  // Approximately standard normal: the Irwin–Hall sum of four uniforms,
  // rescaled to variance 1 (bounded by ±2√3, which suits ratings).
  double Normal() {
    double sum = Uniform() + Uniform() + Uniform() + Uniform();
    return (sum - 2.0) * std::sqrt(3.0);
  }
  // Exponential with the given mean.
  double Exponential(double mean) { return -mean * std::log(1.0 - Uniform()); }

 private:
  std::mt19937_64 engine_;
};

}  // namespace polku::sim

#endif  // POLKU_TOOLS_SIMULATOR_RANDOM_H_
