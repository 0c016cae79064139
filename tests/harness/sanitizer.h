// Whether the test runs in a sanitizer build. The asan preset makes a
// server several times slower; a test that repeats one code path many times
// runs a smaller load there, the release build the full one.
#ifndef POLKU_TESTS_HARNESS_SANITIZER_H_
#define POLKU_TESTS_HARNESS_SANITIZER_H_

namespace polku::testing {

#if defined(__SANITIZE_ADDRESS__) || defined(__SANITIZE_THREAD__)
inline constexpr bool kSanitized = true;
#elif defined(__has_feature)
#if __has_feature(address_sanitizer) || __has_feature(thread_sanitizer)
inline constexpr bool kSanitized = true;
#else
inline constexpr bool kSanitized = false;
#endif
#else
inline constexpr bool kSanitized = false;
#endif

}  // namespace polku::testing

#endif  // POLKU_TESTS_HARNESS_SANITIZER_H_
