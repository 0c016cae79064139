#include "lib/rpc/testing/test_pki.h"

#include <stdlib.h>

#include <cstdlib>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "gtest/gtest.h"

namespace polku::rpc::testing {

absl::StatusOr<TestPki> TestPki::Make(const std::vector<std::string>& names) {
  std::string dir = ::testing::TempDir() + "/polku_pki_XXXXXX";
  if (mkdtemp(dir.data()) == nullptr) {
    return absl::InternalError(absl::StrCat("mkdtemp ", dir, " failed"));
  }
  std::string script = absl::StrCat(
      "set -e; cd '", dir, "';",
      "openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 "
      "-nodes -days 1 -subj /CN=polku-test-ca "
      "-keyout ca.key -out ca.pem;",
      "openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 "
      "-nodes -days 1 -subj /CN=rogue "
      "-keyout rogue.key -out rogue.pem;");
  for (const std::string& name : names) {
    absl::StrAppend(
        &script, "printf 'subjectAltName=IP:127.0.0.1,DNS:localhost,DNS:", name,
        "' > '", name, ".ext';",
        "openssl req -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes "
        "-subj '/CN=",
        name, "' -keyout '", name, ".key' -out '", name, ".csr';",
        "openssl x509 -req -in '", name,
        ".csr' -CA ca.pem -CAkey ca.key "
        "-CAcreateserial -days 1 -extfile '",
        name, ".ext' -out '", name, ".pem';");
  }
  const std::string command = absl::StrCat("( ", script, " ) >/dev/null 2>&1");
  if (std::system(command.c_str()) != 0) {
    return absl::InternalError(
        absl::StrCat("openssl could not make the test certificates in ", dir,
                     " (is the openssl command installed?)"));
  }
  return TestPki(std::move(dir));
}

TlsFiles TestPki::Files(absl::string_view name) const {
  return {.cert_file = absl::StrCat(dir_, "/", name, ".pem"),
          .key_file = absl::StrCat(dir_, "/", name, ".key"),
          .ca_file = ca_file()};
}

}  // namespace polku::rpc::testing
