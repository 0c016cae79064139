#include "lib/postgres/testing/shared_server.h"

#include <unistd.h>

#include <atomic>
#include <cctype>
#include <memory>

#include "absl/strings/str_cat.h"
#include "absl/synchronization/mutex.h"
#include "gtest/gtest.h"

namespace polku::postgres::testing {
namespace {

absl::Mutex server_mu(absl::kConstInit);

// Destroyed at exit, which stops the server and removes its directory.
std::unique_ptr<TestServer>& Server() {
  static auto* server = new std::unique_ptr<TestServer>();
  return *server;
}

struct StopAtExit {
  ~StopAtExit() {
    absl::MutexLock lock(&server_mu);
    Server().reset();
  }
};

}  // namespace

absl::StatusOr<TestServer*> SharedServer() {
  static StopAtExit stop_at_exit;
  absl::MutexLock lock(&server_mu);
  if (Server() == nullptr) {
    absl::StatusOr<std::unique_ptr<TestServer>> started = TestServer::Start();
    if (!started.ok()) return started.status();
    Server() = *std::move(started);
  }
  return Server().get();
}

absl::StatusOr<std::string> NewDatabase() {
  static std::atomic<int> next{1};
  absl::StatusOr<TestServer*> server = SharedServer();
  if (!server.ok()) return server.status();
  // PostgreSQL names: at most 63 bytes; lowercase letters, digits, _.
  std::string name = absl::StrCat("t", ::getpid(), "_", next++);
  if (const auto* test =
          ::testing::UnitTest::GetInstance()->current_test_info()) {
    absl::StrAppend(&name, "_", test->name());
  }
  for (char& c : name) {
    c = std::isalnum(static_cast<unsigned char>(c))
            ? static_cast<char>(std::tolower(static_cast<unsigned char>(c)))
            : '_';
  }
  name.resize(std::min<size_t>(name.size(), 63));
  if (absl::Status s = (*server)->CreateDatabase(name); !s.ok()) return s;
  return (*server)->Url(name);
}

}  // namespace polku::postgres::testing
