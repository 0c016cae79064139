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
#include "absl/strings/match.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
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
// Launches of one process whose port another process took meanwhile.
constexpr int kLaunchAttempts = 5;

// "polku-feedback" for replica 1, "polku-feedback#2" for replica 2, ….
std::string ReplicaName(const std::string& name, int k) {
  return k == 1 ? name : absl::StrCat(name, "#", k);
}

// The file from byte `offset` on ("" if unreadable).
std::string ReadFrom(const std::string& path, size_t offset) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return "";
  in.seekg(static_cast<std::streamoff>(offset));
  std::stringstream text;
  text << in.rdbuf();
  return text.str();
}

// Whether a process that exited during start-up did so because one of its
// ports was taken: it said so (rpc::Server: "address in use", the
// gateway's HTTP listener: "cannot listen on"), or the port cannot be bound
// now.
bool PortTaken(const std::string& log, const std::vector<int>& ports) {
  if (absl::StrContains(log, "in use") || absl::StrContains(log, "cannot listen on")) {
    return true;
  }
  for (int port : ports) {
    int fd = ::socket(AF_INET, SOCK_STREAM, 0);
    if (fd < 0) continue;
    int yes = 1;
    ::setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &yes, sizeof(yes));
    sockaddr_in address{};
    address.sin_family = AF_INET;
    address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    address.sin_port = htons(static_cast<uint16_t>(port));
    const bool taken = ::bind(fd, reinterpret_cast<sockaddr*>(&address), sizeof(address)) != 0 &&
                       errno == EADDRINUSE;
    ::close(fd);
    if (taken) return true;
  }
  return false;
}

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

  const int feedback_replicas = options_.feedback_replicas;
  const int insight_replicas = options_.insight_replicas;
  if (feedback_replicas < 1 || insight_replicas < 1) {
    return absl::InvalidArgumentError("feedback_replicas and insight_replicas must be at least 1");
  }
  if (options_.feedback_proxies && feedback_replicas != 1) {
    return absl::InvalidArgumentError("feedback_proxies needs exactly one feedback replica");
  }
  if (feedback_replicas > 1 && options_.database != Database::kPostgres) {
    return absl::InvalidArgumentError(
        "several feedback replicas need Database::kPostgres: on SQLite each would keep its own "
        "events");
  }
  const int cases_replicas = options_.cases_replicas;
  if (cases_replicas < 0 ||
      (cases_replicas > 1 && options_.database != Database::kPostgres)) {
    return absl::InvalidArgumentError(
        "cases_replicas must be at least 0, and more than one needs Database::kPostgres (they "
        "share one case database)");
  }
  const int gateway_replicas = options_.gateway_replicas;
  if (gateway_replicas < 1 ||
      (gateway_replicas > 1 && options_.database != Database::kPostgres)) {
    return absl::InvalidArgumentError(
        "gateway_replicas must be at least 1, and more than one needs "
        "Database::kPostgres (they "
        "share its key store)");
  }

  std::vector<std::string> port_names = {"journey"};
  for (int k = 1; k <= feedback_replicas; ++k) port_names.push_back(ReplicaName("feedback", k));
  for (int k = 1; k <= insight_replicas; ++k) port_names.push_back(ReplicaName("insight", k));
  for (int k = 1; k <= cases_replicas; ++k) port_names.push_back(ReplicaName("cases", k));
  for (int k = 1; k <= gateway_replicas; ++k) {
    port_names.insert(port_names.end(),
                      {ReplicaName("grpc", k), ReplicaName("http", k)});
  }
  auto ports = FreePorts(static_cast<int>(port_names.size()));
  if (!ports.ok()) return ports.status();
  for (size_t i = 0; i < port_names.size(); ++i) ports_[port_names[i]] = (*ports)[i];

  if (options_.database == Database::kPostgres) {
    if (absl::Status s = StartDatabase(); !s.ok()) return s;
  }
  // Keys first: polku-keys init writes them into the key store (gateway.db,
  // or the gateway's PostgreSQL database), which the gateway opens on start.
  std::vector<std::string> init = {"init", "--data_dir=" + data_dir_,
                                   "--tenant=" + options_.tenant,
                                   "--channels=" + options_.channels};
  if (postgres_ != nullptr)
    init.push_back("--database_url=" + postgres_->Url("gateway"));
  auto keys = Spawn(BinaryPath("polku-keys"), init, LogPath("polku-keys"));
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

  // Arguments every backend takes: its database and TLS files.
  const auto backend_args = [this](const std::string& service, const std::string& dir) {
    std::vector<std::string> args = {"--data_dir=" + dir};
    if (postgres_ != nullptr) args.push_back("--database_url=" + postgres_->Url(service));
    if (!options_.tls_dir.empty()) {
      const std::string identity = options_.tls_dir + "/polku-" + service;
      args.insert(args.end(), {"--tls_cert=" + identity + ".pem", "--tls_key=" + identity + ".key",
                               "--tls_ca=" + options_.tls_dir + "/ca.pem"});
    }
    return args;
  };
  // Replica 1 keeps its data in the suite's directory (as with one
  // replica), replica k in <data_dir>/<service>-k.
  const auto replica_dir = [this](const std::string& service, int k) {
    if (k == 1) return data_dir_;
    std::string dir = absl::StrCat(data_dir_, "/", service, "-", k);
    std::filesystem::create_directories(dir);
    return dir;
  };

  processes_.clear();
  processes_.push_back({.name = "polku-journey",
                        .binary = "polku-journey",
                        .ports = {"journey"},
                        .args =
                            [this, backend_args] {
                              std::vector<std::string> args = backend_args("journey", data_dir_);
                              args.push_back("--listen=" + Address("journey"));
                              return args;
                            },
                        .health_service = ""});
  // Replicas must hash customers alike, so they share one secret.
  const std::string secret_file = data_dir_ + "/feedback-secret.key";
  for (int k = 1; k <= feedback_replicas; ++k) {
    const std::string port = ReplicaName("feedback", k);
    const std::string dir = replica_dir("feedback", k);
    processes_.push_back({.name = ReplicaName("polku-feedback", k),
                          .binary = "polku-feedback",
                          .ports = {port},
                          .args =
                              [this, backend_args, port, dir, secret_file] {
                                std::vector<std::string> args = backend_args("feedback", dir);
                                args.insert(args.end(),
                                            {"--listen=" + Address(port),
                                             "--journey_address=" + Address("journey"),
                                             "--secret_file=" + secret_file});
                                // Erasure receipts wait for the readers that run.
                                std::vector<std::string> readers;
                                if (options_.insight_replicas > 0) readers.push_back("polku-insight");
                                if (options_.cases_replicas > 0) readers.push_back("polku-cases");
                                args.push_back("--erasure_readers=" + absl::StrJoin(readers, ","));
                                return args;
                              },
                          .health_service = "polku.v1.FeedbackService"});
  }
  for (int k = 1; k <= insight_replicas; ++k) {
    const std::string port = ReplicaName("insight", k);
    const std::string dir = replica_dir("insight", k);
    processes_.push_back(
        {.name = ReplicaName("polku-insight", k),
         .binary = "polku-insight",
         .ports = {port},
         .args =
             [this, backend_args, port, dir, feedback_replicas] {
               std::vector<std::string> args = backend_args("insight", dir);
               args.insert(args.end(),
                           {"--listen=" + Address(port),
                            "--feedback_address=" +
                                FeedbackAddressFor("insight", feedback_replicas),
                            "--journey_address=" + Address("journey")});
               args.insert(args.end(), options_.insight_flags.begin(),
                           options_.insight_flags.end());
               return args;
             },
         .health_service = ""});
  }
  for (int k = 1; k <= cases_replicas; ++k) {
    const std::string port = ReplicaName("cases", k);
    const std::string dir = replica_dir("cases", k);
    processes_.push_back(
        {.name = ReplicaName("polku-cases", k),
         .binary = "polku-cases",
         .ports = {port},
         .args =
             [this, backend_args, port, dir, feedback_replicas] {
               std::vector<std::string> args = backend_args("cases", dir);
               args.insert(args.end(),
                           {"--listen=" + Address(port),
                            "--feedback_address=" + AllReplicas("feedback", feedback_replicas),
                            "--journey_address=" + Address("journey")});
               args.insert(args.end(), options_.cases_flags.begin(), options_.cases_flags.end());
               return args;
             },
         .health_service = ""});
  }
  for (int k = 1; k <= gateway_replicas; ++k) {
    const std::string grpc = ReplicaName("grpc", k);
    const std::string http = ReplicaName("http", k);
    const std::string dir = replica_dir("gateway", k);
    processes_.push_back(
        {.name = ReplicaName("polku-gateway", k),
         .binary = "polku-gateway",
         .ports = {grpc, http},
         .args =
             [this, feedback_replicas, insight_replicas, cases_replicas, grpc, http, dir] {
               std::vector<std::string> args = {
                   "--grpc_listen=" + Address(grpc),
                   "--http_listen=" + Address(http),
                   "--data_dir=" + dir,
                   "--feedback_address=" +
                       FeedbackAddressFor("gateway", feedback_replicas),
                   "--journey_address=" + Address("journey"),
                   "--insight_address=" +
                       AllReplicas("insight", insight_replicas)};
               if (cases_replicas > 0) {
                 args.push_back("--cases_address=" + AllReplicas("cases", cases_replicas));
               }
               if (!options_.tls_dir.empty()) {
                 const std::string ca = options_.tls_dir + "/ca.pem";
                 const std::string cert = options_.tls_dir + "/polku-gateway.pem";
                 const std::string key = options_.tls_dir + "/polku-gateway.key";
                 args.insert(
                     args.end(),
                     {"--tls_cert=" + cert, "--tls_key=" + key,
                      "--backend_tls_ca=" + ca, "--backend_tls_cert=" + cert,
                      "--backend_tls_key=" + key});
               }
               if (postgres_ != nullptr)
                 args.push_back("--database_url=" + postgres_->Url("gateway"));
               args.insert(args.end(), options_.gateway_flags.begin(),
                           options_.gateway_flags.end());
               return args;
             },
         .health_service = ""});
  }
  // One after another: each process is given the ports of those before it,
  // which are final once they are up.
  for (Process& process : processes_) {
    if (absl::Status s = StartProcess(process, /*may_move=*/true); !s.ok()) return s;
  }
  return absl::OkStatus();
}

absl::Status Suite::StartDatabase() {
  auto server = postgres::TestServer::Start();
  if (!server.ok()) return server.status();
  postgres_ = *std::move(server);
  // One database per service: each migrates its own schema.
  std::vector<std::string> services = {"feedback", "journey", "insight", "gateway"};
  if (options_.cases_replicas > 0) services.push_back("cases");
  for (const std::string& service : services) {
    if (absl::Status s = postgres_->CreateDatabase(service); !s.ok()) return s;
  }
  return absl::OkStatus();
}

absl::Status Suite::StartProcess(Process& process, bool may_move) {
  const absl::Time deadline = absl::Now() + options_.timeout;
  for (int attempt = 1;; ++attempt) {
    std::error_code ignored;
    const auto log_size = std::filesystem::file_size(LogPath(process.name), ignored);
    const size_t log_offset = ignored ? 0 : static_cast<size_t>(log_size);
    if (absl::Status s = Launch(process); !s.ok()) return s;
    absl::Status ready = WaitReady(process);
    if (ready.ok() || process.pid >= 0) return ready;
    if (attempt >= kLaunchAttempts || absl::Now() > deadline) return ready;
    std::vector<int> ports;
    for (const std::string& port : process.ports) ports.push_back(ports_.at(port));
    if (!PortTaken(ReadFrom(LogPath(process.name), log_offset), ports)) return ready;
    std::cerr << process.name << ": its port was taken by another process; starting it again"
              << (may_move ? " on a new port" : "") << std::endl;
    if (may_move) {
      auto fresh = FreePorts(static_cast<int>(process.ports.size()));
      if (!fresh.ok()) return fresh.status();
      for (size_t i = 0; i < process.ports.size(); ++i) ports_[process.ports[i]] = (*fresh)[i];
    } else {
      absl::SleepFor(absl::Milliseconds(250));
    }
  }
}

absl::Status Suite::Launch(Process& process) {
  auto pid = Spawn(BinaryPath(process.binary), process.args(), LogPath(process.name));
  if (!pid.ok()) return pid.status();
  process.pid = *pid;
  return absl::OkStatus();
}

std::unique_ptr<httplib::Client> Suite::GatewayHttp(
    const std::string& port_name) const {
  auto http = std::make_unique<httplib::Client>(
      absl::StrCat(options_.tls_dir.empty() ? "http" : "https", "://",
                   gateway_http_host(), ":", ports_.at(port_name)));
  if (!options_.tls_dir.empty()) {
    http->set_ca_cert_path((options_.tls_dir + "/ca.pem").c_str());
    http->enable_server_certificate_verification(true);
  }
  http->set_connection_timeout(1, 0);
  http->set_read_timeout(2, 0);
  return http;
}

absl::Status Suite::WaitGatewayReady() {
  Process* gateway = Find("polku-gateway");
  if (gateway == nullptr || gateway->pid < 0) return absl::OkStatus();
  std::unique_ptr<httplib::Client> http = GatewayHttp();
  const absl::Time deadline = absl::Now() + options_.timeout;
  while (absl::Now() < deadline) {
    auto response = http->Get("/readyz");
    if (response && response->status == 200) return absl::OkStatus();
    absl::SleepFor(kPollInterval);
  }
  return absl::DeadlineExceededError(absl::StrCat(
      "the gateway's GET /readyz did not answer 200 within ",
      absl::FormatDuration(options_.timeout)));
}

absl::Status Suite::WaitReady(Process& process) {
  const std::string address = Address(process.ports.front());
  auto channel = Dial(address);
  const bool gateway = process.binary == "polku-gateway";
  std::unique_ptr<httplib::Client> http =
      GatewayHttp(gateway ? process.ports[1] : "http");
  const absl::Time deadline = absl::Now() + options_.timeout;
  while (absl::Now() < deadline) {
    if (IsServing(channel, process.health_service)) {
      if (!gateway) return absl::OkStatus();
      auto response = http->Get("/healthz");
      if (response && response->status == 200) return absl::OkStatus();
    }
    int status = 0;
    if (::waitpid(process.pid, &status, WNOHANG) == process.pid) {
      process.pid = -1;
      return absl::UnavailableError(
          absl::StrCat(process.name, " exited during start-up: ", DescribeExit(status)));
    }
    absl::SleepFor(kPollInterval);
  }
  return absl::DeadlineExceededError(absl::StrCat(
      process.name, " at ", address, " (health \"", process.health_service, "\"",
      gateway ? " and GET /healthz" : "", ") not ready within ",
      absl::FormatDuration(options_.timeout)));
}

absl::Status Suite::Terminate(Process& process, absl::Duration within) {
  if (process.pid < 0) {
    return absl::FailedPreconditionError(absl::StrCat(process.name, " is not running"));
  }
  ::kill(process.pid, SIGTERM);
  auto status = WaitExit(process.pid, within);
  if (!status.ok()) {
    ::kill(process.pid, SIGKILL);
    ::waitpid(process.pid, nullptr, 0);
    process.pid = -1;
    return absl::DeadlineExceededError(
        absl::StrCat(process.name, " did not exit within ",
                     absl::FormatDuration(within), " of SIGTERM"));
  }
  process.pid = -1;
  if (*status != 0) {
    // The log's end says why (a sanitizer's report, an error at shutdown);
    // CI output keeps this line even when it cuts the full logs.
    return absl::InternalError(absl::StrCat(process.name, " did not exit cleanly on SIGTERM: ",
                                            DescribeExit(*status), "; its log ends:\n",
                                            LogTail(process.name, 40)));
  }
  return absl::OkStatus();
}

absl::Status Suite::Stop() {
  gateway_channel_.reset();
  std::vector<std::string> problems;
  // The gateway first, then the services that depend on others.
  for (auto it = processes_.rbegin(); it != processes_.rend(); ++it) {
    if (it->pid < 0) continue;
    absl::Status status = Terminate(*it, options_.timeout);
    if (!status.ok()) problems.push_back(std::string(status.message()));
  }
  if (problems.empty()) return absl::OkStatus();
  return absl::InternalError(absl::StrJoin(problems, "; "));
}

Suite::Process* Suite::Find(const std::string& name) {
  for (Process& process : processes_) {
    if (process.name == name) return &process;
  }
  return nullptr;
}

absl::Status Suite::RestartInsight() {
  Process* process = Find("polku-insight");
  if (process == nullptr) return absl::NotFoundError("polku-insight is not part of the suite");
  if (absl::Status s = Terminate(*process, options_.timeout); !s.ok()) return s;
  if (absl::Status s = StartProcess(*process, /*may_move=*/false); !s.ok()) return s;
  return WaitGatewayReady();
}

absl::Status Suite::Terminate(const std::string& name, absl::Duration within) {
  Process* process = Find(name);
  if (process == nullptr)
    return absl::NotFoundError(absl::StrCat(name, " is not part of the suite"));
  return Terminate(*process, within);
}

absl::Status Suite::Signal(const std::string& name, int signal) {
  Process* process = Find(name);
  if (process == nullptr || process->pid < 0) {
    return absl::FailedPreconditionError(absl::StrCat(name, " is not running"));
  }
  if (::kill(process->pid, signal) != 0) {
    return absl::InternalError(absl::StrCat("kill ", name, ": ", std::strerror(errno)));
  }
  return absl::OkStatus();
}

absl::Status Suite::KillAndRestart(const std::string& name) {
  Process* process = Find(name);
  if (process == nullptr) return absl::NotFoundError(absl::StrCat(name, " is not part of the suite"));
  if (process->pid >= 0) {
    ::kill(process->pid, SIGKILL);
    ::waitpid(process->pid, nullptr, 0);
    process->pid = -1;
  }
  if (absl::Status s = StartProcess(*process, /*may_move=*/false); !s.ok()) return s;
  return WaitGatewayReady();
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

std::string Suite::gateway_grpc_address(int replica) const {
  return Address(ReplicaName("grpc", replica));
}

int Suite::gateway_http_port(int replica) const {
  return ports_.at(ReplicaName("http", replica));
}

std::shared_ptr<grpc::Channel> Suite::Dial(const std::string& address) const {
  if (options_.tls_dir.empty()) {
    return grpc::CreateChannel(address, grpc::InsecureChannelCredentials());
  }
  auto channel = rpc::MakeChannel(address, {.cert_file = options_.tls_dir + "/polku-gateway.pem",
                                            .key_file = options_.tls_dir + "/polku-gateway.key",
                                            .ca_file = options_.tls_dir + "/ca.pem"});
  EXPECT_TRUE(channel.ok()) << channel.status();
  return channel.ok() ? *channel : grpc::CreateChannel(address, grpc::InsecureChannelCredentials());
}

std::string Suite::database_url(const std::string& service) const {
  return postgres_ != nullptr ? postgres_->Url(service) : std::string();
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
  std::vector<std::string> names = {"polku-keys"};
  for (const Process& process : processes_) names.push_back(process.name);
  for (const std::string& name : names) {
    std::ifstream in(LogPath(name));
    if (!in) continue;
    std::stringstream text;
    text << in.rdbuf();
    absl::StrAppend(&out, "===== ", name, " log (", LogPath(name), ") =====\n", text.str(),
                    "\n");
  }
  return out;
}

std::string Suite::Log(const std::string& name) const { return ReadFrom(LogPath(name), 0); }

std::string Suite::LogTail(const std::string& name, int lines) const {
  const std::string log = Log(name);
  std::vector<absl::string_view> all = absl::StrSplit(log, '\n', absl::SkipEmpty());
  const size_t first = all.size() > static_cast<size_t>(lines) ? all.size() - lines : 0;
  return absl::StrJoin(all.begin() + first, all.end(), "\n");
}

std::string Suite::LogPath(const std::string& name) const {
  return absl::StrCat(data_dir_, "/logs/", name, ".log");
}

std::string Suite::Address(const std::string& port_name) const {
  return absl::StrCat("127.0.0.1:", ports_.at(port_name));
}

std::string Suite::FeedbackAddressFor(const std::string& caller, int replicas) {
  if (!options_.feedback_proxies) return AllReplicas("feedback", replicas);
  auto& proxy = proxies_[caller];
  if (proxy == nullptr) {
    auto started = FaultProxy::Start(Address("feedback"));
    EXPECT_TRUE(started.ok()) << started.status();
    if (!started.ok()) return Address("feedback");
    proxy = *std::move(started);
  }
  return proxy->address();
}

FaultProxy* Suite::proxy(const std::string& caller) const {
  auto it = proxies_.find(caller);
  return it == proxies_.end() ? nullptr : it->second.get();
}

std::string Suite::AllReplicas(const std::string& backend, int count) const {
  if (count == 1) return Address(backend);
  std::vector<std::string> addresses;
  for (int k = 1; k <= count; ++k) addresses.push_back(Address(ReplicaName(backend, k)));
  // gRPC's ipv4 resolver: every listed address is one replica.
  return absl::StrCat("ipv4:", absl::StrJoin(addresses, ","));
}

}  // namespace polku::testing
