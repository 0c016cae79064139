#!/usr/bin/env bash
# Installs the Debian 12 packages Polku builds and tests with, if any are
# missing. Runs `apt-get update` at most once, and only when something is
# missing. As root it calls apt-get directly, otherwise through sudo.
set -euo pipefail

PACKAGES=(
  libgrpc++-dev protobuf-compiler-grpc libprotobuf-dev protobuf-compiler
  libabsl-dev libgtest-dev libgmock-dev libbenchmark-dev libsqlite3-dev
  libssl-dev libcpp-httplib-dev libjemalloc-dev python3-grpcio python3-grpc-tools
  postgresql libpq-dev
  cmake ninja-build g++ curl
  clang libclang-rt-14-dev llvm  # the asan preset: sanitizers, thread-safety analysis, libFuzzer
  openssl  # the tests make throwaway certificates with the openssl command
  chromium chromium-driver nodejs $(command -v npm >/dev/null || echo npm)  # npm unless nodejs has it
  python3-numpy python3-scipy python3-statsmodels  # independent reference computations in tests (funnels, key drivers)
  python3-yaml $(command -v kubectl >/dev/null || echo kubernetes-client)  # k8s/ manifest test
  libicu-dev libstemmer-dev  # lib/text: word boundaries and case folding (ICU), Snowball stemmers
  libhunspell-dev hunspell-sv-se  # lib/text: Swedish lemmas and compounds (/usr/share/hunspell/sv_SE.*)
  libexttextcat-dev libexttextcat-data  # lib/text: language detection (/usr/share/libexttextcat/*.lm)
  libvoikko-dev voikko-fi  # lib/text, POLKU_VOIKKO=ON (GPL): Finnish lemmas (/usr/lib/voikko)
)

missing=()
for package in "${PACKAGES[@]}"; do
  status=$(dpkg-query -W -f='${Status}' "$package" 2>/dev/null || true)
  if [[ "$status" != "install ok installed" ]]; then
    missing+=("$package")
  fi
done

if [[ ${#missing[@]} -eq 0 ]]; then
  echo "deps: all ${#PACKAGES[@]} packages are installed"
  exit 0
fi

if [[ $(id -u) -eq 0 ]]; then
  as_root=()
elif command -v sudo >/dev/null; then
  as_root=(sudo)
else
  echo "deps: missing ${missing[*]}, and not root and no sudo to install them" >&2
  exit 1
fi

echo "deps: installing ${missing[*]}"
"${as_root[@]}" apt-get update
DEBIAN_FRONTEND=noninteractive "${as_root[@]}" apt-get install -y --no-install-recommends \
  "${missing[@]}"
