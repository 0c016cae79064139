#include "tests/harness/suite.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <grpcpp/create_channel.h>
#include <grpcpp/generic/generic_stub.h>
#include <grpcpp/security/credentials.h>
#include <grpcpp/support/byte_buffer.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <future>
#include <iostream>
#include <sstream>
#include <thread>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/time/clock.h"
#include "gtest/gtest.h"
#include "httplib.h"
#include "lib/rpc/tls.h"

#ifndef POLKU_DEFAULT_BIN_DIR
#define POLKU_DEFAULT_BIN_DIR "bin"
#endif

namespace polku::testing {
namespace {

constexpr absl::Duration kPollInterval = absl::Milliseconds(50);

// Free loopback ports: all sockets stay bound until every port is chosen,
// so the ports differ from each other.
absl::StatusOr<std::vector<int>> FreePorts(int count) {
  std::vector<int> sockets;
  std::vector<int> ports;
  absl::Status status;
  for (int i = 0; i < count && status.ok(); ++i) {
    int fd = ::socket(AF_INET, SOCK_STREAM, 0);
    if (fd < 0) {
      status = absl::InternalError(absl::StrCat("socket: ", std::strerror(errno)));
      break;
    }
    sockets.push_back(fd);
    sockaddr_in address{};
    address.sin_family = AF_INET;
    address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    address.sin_port = 0;
    socklen_t length = sizeof(address);
    if (::bind(fd, reinterpret_cast<sockaddr*>(&address), sizeof(address)) != 0 ||
        ::getsockname(fd, reinterpret_cast<sockaddr*>(&address), &length) != 0) {
      status = absl::InternalError(absl::StrCat("bind: ", std::strerror(errno)));
      break;
    }
    ports.push_back(ntohs(address.sin_port));
  }
  for (int fd : sockets) ::close(fd);
  if (!status.ok()) return status;
  return ports;
}

// fork + exec with stdout and stderr appended to `log_path`. The child dies
// with the test process (PR_SET_PDEATHSIG), so a crashed test leaves no
// servers behind.
absl::StatusOr<pid_t> Spawn(const std::string& binary, const std::vector<std::string>& args,
                            const std::string& log_path) {
  std::vector<std::string> argv_storage = {binary};
  argv_storage.insert(argv_storage.end(), args.begin(), args.end());
  std::vector<char*> argv;
  for (std::string& arg : argv_storage) argv.push_back(arg.data());
  argv.push_back(nullptr);
  if (::access(binary.c_str(), X_OK) != 0) {
    return absl::NotFoundError(absl::StrCat(binary, " is not an executable (set POLKU_BIN_DIR)"));
  }
  pid_t parent = ::getpid();
  pid_t pid = ::fork();
  if (pid < 0) return absl::InternalError(absl::StrCat("fork: ", std::strerror(errno)));
  if (pid == 0) {
    ::prctl(PR_SET_PDEATHSIG, SIGKILL);
    if (::getppid() != parent) ::_exit(127);
    int fd = ::open(log_path.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
    if (fd >= 0) {
      ::dup2(fd, STDOUT_FILENO);
      ::dup2(fd, STDERR_FILENO);
    }
    ::execv(binary.c_str(), argv.data());
    ::_exit(127);
  }
  return pid;
}

// Waits for `pid` up to `timeout`; the exit status, or DEADLINE_EXCEEDED.
absl::StatusOr<int> WaitExit(pid_t pid, absl::Duration timeout) {
  absl::Time deadline = absl::Now() + timeout;
  while (true) {
    int status = 0;
    pid_t done = ::waitpid(pid, &status, WNOHANG);
    if (done == pid) return status;
    if (done < 0) return absl::InternalError(absl::StrCat("waitpid: ", std::strerror(errno)));
    if (absl::Now() > deadline) return absl::DeadlineExceededError("still running");
    absl::SleepFor(absl::Milliseconds(20));
  }
}

std::string DescribeExit(int status) {
  if (WIFEXITED(status)) return absl::StrCat("exit code ", WEXITSTATUS(status));
  if (WIFSIGNALED(status)) return absl::StrCat("killed by signal ", WTERMSIG(status));
  return absl::StrCat("wait status ", status);
}

// grpc.health.v1.Health/Check with hand-encoded messages (the health proto
// is not packaged): request {1: service}, response {1: status}, SERVING = 1.
bool IsServing(const std::shared_ptr<grpc::Channel>& channel, const std::string& service) {
  grpc::GenericStub stub(channel);
  std::string request;
  if (!service.empty()) {
    request.push_back(0x0a);
    request.push_back(static_cast<char>(service.size()));
    request += service;
  }
  grpc::Slice slice(request);
  grpc::ByteBuffer request_buffer(&slice, 1);
  grpc::ByteBuffer response_buffer;
  grpc::ClientContext context;
  context.set_deadline(absl::ToChronoTime(absl::Now() + absl::Seconds(1)));
  std::promise<grpc::Status> done;
  stub.UnaryCall(&context, "/grpc.health.v1.Health/Check", grpc::StubOptions(),
                 &request_buffer, &response_buffer,
                 [&done](grpc::Status status) { done.set_value(std::move(status)); });
  grpc::Status status = done.get_future().get();
  if (!status.ok()) return false;
  std::vector<grpc::Slice> slices;
  if (!response_buffer.Dump(&slices).ok()) return false;
  std::string response;
  for (const grpc::Slice& s : slices) {
    response.append(reinterpret_cast<const char*>(s.begin()), s.size());
  }
  return response == std::string("\x08\x01", 2);
}

}  // namespace

std::string BinaryPath(const std::string& name) {
  const char* dir = std::getenv("POLKU_BIN_DIR");
  return absl::StrCat(dir != nullptr && *dir != '\0' ? dir : POLKU_DEFAULT_BIN_DIR, "/", name);
}

absl::StatusOr<std::unique_ptr<Suite>> Suite::Start(Options options) {
  std::unique_ptr<Suite> suite(new Suite(std::move(options)));
  absl::Status status = suite->Init();
  if (!status.ok()) {
    std::cerr << suite->Logs();
    return absl::Status(status.code(), absl::StrCat(status.message(), " (logs above)"));
  }
  return suite;
}

absl::Status Suite::Init() {
  std::string pattern =
      (std::filesystem::temp_directory_path() / "polku-suite-XXXXXX").string();
  if (::mkdtemp(pattern.data()) == nullptr) {
    return absl::InternalError(absl::StrCat("mkdtemp: ", std::strerror(errno)));
  }
  data_dir_ = pattern;
  std::filesystem::create_directories(data_dir_ + "/logs");

  auto ports = FreePorts(5);
  if (!ports.ok()) return ports.status();
  ports_ = {{"journey", (*ports)[0]}, {"feedback", (*ports)[1]}, {"insight", (*ports)[2]},
            {"grpc", (*ports)[3]},    {"http", (*ports)[4]}};

  // Keys first: polku-keys init writes them into gateway.db, which the
  // gateway opens on start.
  auto keys = Spawn(BinaryPath("polku-keys"),
                    {"init", "--data_dir=" + data_dir_, "--tenant=" + options_.tenant,
                     "--channels=" + options_.channels},
                    LogPath("polku-keys"));
  if (!keys.ok()) return keys.status();
  auto keys_exit = WaitExit(*keys, options_.timeout);
  if (!keys_exit.ok() || *keys_exit != 0) {
    if (!keys_exit.ok()) {
      ::kill(*keys, SIGKILL);
      ::waitpid(*keys, nullptr, 0);
    }
    return absl::InternalError(absl::StrCat(
        "polku-keys init failed: ",
        keys_exit.ok() ? DescribeExit(*keys_exit) : std::string(keys_exit.status().message())));
  }
  auto credentials = tools::ReadCredentials(data_dir_ + "/credentials.json");
  if (!credentials.ok()) return credentials.status();
  credentials_ = *std::move(credentials);

  std::string dir = "--data_dir=" + data_dir_;
  processes_ = {
      {"polku-journey", {"--listen=" + Address("journey"), dir}},
      {"polku-feedback",
       {"--listen=" + Address("feedback"), dir, "--journey_address=" + Address("journey")}},
      {"polku-insight",
       {"--listen=" + Address("insight"), dir, "--feedback_address=" + Address("feedback"),
        "--journey_address=" + Address("journey")}},
      {"polku-gateway",
       {"--grpc_listen=" + Address("grpc"), "--http_listen=" + Address("http"), dir,
        "--feedback_address=" + Address("feedback"), "--journey_address=" + Address("journey"),
        "--insight_address=" + Address("insight")}},
  };
  if (!options_.tls_dir.empty()) {
    const std::string ca = options_.tls_dir + "/ca.pem";
    const std::string cert = options_.tls_dir + "/server.pem";
    const std::string key = options_.tls_dir + "/server.key";
    for (Process& process : processes_) {
      if (process.name == "polku-gateway") {
        process.args.insert(process.args.end(),
                            {"--tls_cert=" + cert, "--tls_key=" + key, "--backend_tls_ca=" + ca,
                             "--backend_tls_cert=" + cert, "--backend_tls_key=" + key});
      } else {
        process.args.insert(process.args.end(),
                            {"--tls_cert=" + cert, "--tls_key=" + key, "--tls_ca=" + ca});
      }
    }
  }
  for (Process& process : processes_) {
    absl::Status launched = Launch(process);
    if (!launched.ok()) return launched;
  }
  if (absl::Status s = WaitHealthy(Address("journey"), ""); !s.ok()) return s;
  if (absl::Status s = WaitHealthy(Address("feedback"), "polku.v1.FeedbackService"); !s.ok()) {
    return s;
  }
  if (absl::Status s = WaitHealthy(Address("insight"), ""); !s.ok()) return s;
  if (absl::Status s = WaitHealthy(Address("grpc"), ""); !s.ok()) return s;
  return WaitHttpHealthy();
}

absl::Status Suite::Launch(Process& process) {
  auto pid = Spawn(BinaryPath(process.name), process.args, LogPath(process.name));
  if (!pid.ok()) return pid.status();
  process.pid = *pid;
  return absl::OkStatus();
}

absl::Status Suite::WaitHealthy(const std::string& address, const std::string& service) {
  auto channel = Dial(address);
  absl::Time deadline = absl::Now() + options_.timeout;
  while (absl::Now() < deadline) {
    if (IsServing(channel, service)) return absl::OkStatus();
    for (Process& process : processes_) {
      if (process.pid < 0) continue;
      int status = 0;
      if (::waitpid(process.pid, &status, WNOHANG) == process.pid) {
        process.pid = -1;
        return absl::InternalError(
            absl::StrCat(process.name, " exited during start-up: ", DescribeExit(status)));
      }
    }
    absl::SleepFor(kPollInterval);
  }
  return absl::DeadlineExceededError(absl::StrCat(
      address, " health \"", service, "\" not SERVING within ", absl::FormatDuration(options_.timeout)));
}

absl::Status Suite::WaitHttpHealthy() {
  httplib::Client client(absl::StrCat(options_.tls_dir.empty() ? "http" : "https", "://",
                                      gateway_http_host(), ":", gateway_http_port()));
  if (!options_.tls_dir.empty()) {
    client.set_ca_cert_path((options_.tls_dir + "/ca.pem").c_str());
    client.enable_server_certificate_verification(true);
  }
  client.set_connection_timeout(1, 0);
  client.set_read_timeout(2, 0);
  absl::Time deadline = absl::Now() + options_.timeout;
  while (absl::Now() < deadline) {
    auto response = client.Get("/healthz");
    if (response && response->status == 200) return absl::OkStatus();
    absl::SleepFor(kPollInterval);
  }
  return absl::DeadlineExceededError("gateway GET /healthz did not answer 200");
}

absl::Status Suite::Terminate(Process& process) {
  if (process.pid < 0) {
    return absl::FailedPreconditionError(absl::StrCat(process.name, " is not running"));
  }
  ::kill(process.pid, SIGTERM);
  auto status = WaitExit(process.pid, options_.timeout);
  if (!status.ok()) {
    ::kill(process.pid, SIGKILL);
    ::waitpid(process.pid, nullptr, 0);
    process.pid = -1;
    return absl::DeadlineExceededError(absl::StrCat(
        process.name, " did not exit within ", absl::FormatDuration(options_.timeout),
        " of SIGTERM"));
  }
  process.pid = -1;
  if (*status != 0) {
    return absl::InternalError(
        absl::StrCat(process.name, " did not exit cleanly on SIGTERM: ", DescribeExit(*status)));
  }
  return absl::OkStatus();
}

absl::Status Suite::Stop() {
  gateway_channel_.reset();
  std::vector<std::string> problems;
  // The gateway first, then the services that depend on others.
  for (auto it = processes_.rbegin(); it != processes_.rend(); ++it) {
    if (it->pid < 0) continue;
    absl::Status status = Terminate(*it);
    if (!status.ok()) problems.push_back(std::string(status.message()));
  }
  if (problems.empty()) return absl::OkStatus();
  return absl::InternalError(absl::StrJoin(problems, "; "));
}

absl::Status Suite::RestartInsight() {
  for (Process& process : processes_) {
    if (process.name != "polku-insight") continue;
    if (absl::Status s = Terminate(process); !s.ok()) return s;
    if (absl::Status s = Launch(process); !s.ok()) return s;
    return WaitHealthy(Address("insight"), "");
  }
  return absl::NotFoundError("polku-insight is not part of the suite");
}

absl::Status Suite::KillAndRestart(const std::string& name) {
  for (Process& process : processes_) {
    if (process.name != name) continue;
    if (process.pid >= 0) {
      ::kill(process.pid, SIGKILL);
      ::waitpid(process.pid, nullptr, 0);
      process.pid = -1;
    }
    if (absl::Status s = Launch(process); !s.ok()) return s;
    if (name == "polku-feedback") {
      return WaitHealthy(Address("feedback"), "polku.v1.FeedbackService");
    }
    if (name == "polku-gateway") return WaitHealthy(Address("grpc"), "");
    return WaitHealthy(Address(name.substr(std::string("polku-").size())), "");
  }
  return absl::NotFoundError(absl::StrCat(name, " is not part of the suite"));
}

Suite::~Suite() {
  for (Process& process : processes_) {
    if (process.pid < 0) continue;
    ::kill(process.pid, SIGKILL);
    ::waitpid(process.pid, nullptr, 0);
    process.pid = -1;
  }
  if (::testing::Test::HasFailure()) std::cerr << Logs();
  if (!data_dir_.empty() && std::getenv("POLKU_KEEP_DATA") == nullptr) {
    std::error_code ignored;
    std::filesystem::remove_all(data_dir_, ignored);
  }
}

std::string Suite::gateway_grpc_address() const { return Address("grpc"); }

std::shared_ptr<grpc::Channel> Suite::Dial(const std::string& address) const {
  if (options_.tls_dir.empty()) {
    return grpc::CreateChannel(address, grpc::InsecureChannelCredentials());
  }
  auto channel = rpc::MakeChannel(address, {.cert_file = options_.tls_dir + "/server.pem",
                                            .key_file = options_.tls_dir + "/server.key",
                                            .ca_file = options_.tls_dir + "/ca.pem"});
  EXPECT_TRUE(channel.ok()) << channel.status();
  return channel.ok() ? *channel : grpc::CreateChannel(address, grpc::InsecureChannelCredentials());
}

pid_t Suite::pid(const std::string& name) const {
  for (const Process& process : processes_) {
    if (process.name == name) return process.pid;
  }
  return -1;
}

std::shared_ptr<grpc::Channel> Suite::GatewayChannel() {
  if (gateway_channel_ == nullptr) {
    gateway_channel_ = Dial(Address("grpc"));
  }
  return gateway_channel_;
}

void Suite::Authorize(grpc::ClientContext& context, const std::string& key,
                      absl::Duration timeout) {
  tools::PrepareCall(context, key, timeout);
}

std::string Suite::Logs() const {
  std::string out;
  for (const char* name :
       {"polku-keys", "polku-journey", "polku-feedback", "polku-insight", "polku-gateway"}) {
    std::ifstream in(LogPath(name));
    if (!in) continue;
    std::stringstream text;
    text << in.rdbuf();
    absl::StrAppend(&out, "===== ", name, " log (", LogPath(name), ") =====\n", text.str(),
                    "\n");
  }
  return out;
}

std::string Suite::LogPath(const std::string& name) const {
  return absl::StrCat(data_dir_, "/logs/", name, ".log");
}

std::string Suite::Address(const std::string& port_name) const {
  return absl::StrCat("127.0.0.1:", ports_.at(port_name));
}

}  // namespace polku::testing
