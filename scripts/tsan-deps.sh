#!/usr/bin/env bash
# Builds ThreadSanitizer-instrumented copies of the abseil and gRPC that Debian
# 12 ships, into a prefix the `tsan` preset finds first (CMakePresets.json).
# Debian's libraries are not built with -fsanitize=thread: TSan then misses the
# synchronisation inside them (absl::Mutex, gRPC's completion queues) and both
# reports false races and misses real ones.
#
# It fetches the Debian source packages of exactly the installed versions
# (dpkg-source applies Debian's patches), builds them with clang at nice 19 and
# installs them into the prefix. Idempotent: a finished package leaves a stamp
# and is skipped next time. Abseil first: gRPC is built against it.
#
#   bash scripts/tsan-deps.sh            # both (gRPC takes hours on 2 cores)
#   bash scripts/tsan-deps.sh abseil     # only abseil
#
# POLKU_TSAN_PREFIX (default /opt/polku-tsan; the preset expects that path),
# POLKU_TSAN_CACHE (sources and build trees, default ~/.cache/polku-tsan),
# POLKU_TSAN_JOBS (default 2).
set -euo pipefail

PREFIX=${POLKU_TSAN_PREFIX:-/opt/polku-tsan}
CACHE=${POLKU_TSAN_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/polku-tsan}
JOBS=${POLKU_TSAN_JOBS:-2}
WHAT=${1:-all}

# -O1 keeps the compile time of gRPC bearable; line tables are all that TSan's
# stacks need. No NDEBUG: Debian builds both without it (CMAKE_BUILD_TYPE=None),
# and abseil's headers must mean the same in our code and in the library.
FLAGS="-fsanitize=thread -O1 -gline-tables-only -fno-omit-frame-pointer"

log() { echo "tsan-deps: $*" >&2; }

source_version() {  # the source package version of an installed binary package
  dpkg-query -W -f='${source:Version}' "$1"
}

fetch() {  # fetch <source package> <version>: unpacks into $CACHE/src/<pkg>-<version>
  local package=$1 version=$2 dir="$CACHE/src/$1-$2"
  if [[ -d "$dir" ]]; then echo "$dir"; return; fi
  mkdir -p "$CACHE/apt/lists/partial" "$CACHE/dl"
  # Debian's deb-src entries in a private list, so the system's apt is untouched.
  cat >"$CACHE/apt/debian.sources" <<'EOF'
Types: deb-src
URIs: http://deb.debian.org/debian
Suites: bookworm bookworm-updates
Components: main
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg
EOF
  local apt_opts=(-o "Dir::Etc::sourcelist=$CACHE/apt/debian.sources" -o Dir::Etc::sourceparts=-
                  -o "Dir::State::Lists=$CACHE/apt/lists" -o APT::Get::List-Cleanup=0)
  if [[ ! -f "$CACHE/dl/${package}_${version#*:}.dsc" ]]; then
    apt-get "${apt_opts[@]}" -qq update
    (cd "$CACHE/dl" && apt-get "${apt_opts[@]}" source --download-only "$package=$version") >&2
  fi
  mkdir -p "$CACHE/src"
  rm -rf "$dir.tmp"  # left by an interrupted run
  dpkg-source -x "$CACHE/dl/${package}_${version#*:}.dsc" "$dir.tmp" >&2
  mv "$dir.tmp" "$dir"
  echo "$dir"
}

cmake_build() {  # cmake_build <source dir> <build dir> <cmake args…>: configure, build, install
  local src=$1 build=$2; shift 2
  local launcher=()
  if command -v ccache >/dev/null; then launcher=(-DCMAKE_CXX_COMPILER_LAUNCHER=ccache -DCMAKE_C_COMPILER_LAUNCHER=ccache); fi
  nice -n 19 cmake -S "$src" -B "$build" -G Ninja \
    -DCMAKE_BUILD_TYPE=None -DCMAKE_C_COMPILER=clang -DCMAKE_CXX_COMPILER=clang++ \
    -DCMAKE_C_FLAGS="$FLAGS" -DCMAKE_CXX_FLAGS="$FLAGS" \
    -DCMAKE_EXE_LINKER_FLAGS=-fsanitize=thread -DCMAKE_SHARED_LINKER_FLAGS=-fsanitize=thread \
    -DCMAKE_INSTALL_PREFIX="$PREFIX" -DCMAKE_INSTALL_LIBDIR=lib \
    -DCMAKE_INSTALL_RPATH="$PREFIX/lib" -DBUILD_SHARED_LIBS=ON "${launcher[@]}" "$@"
  nice -n 19 cmake --build "$build" -j "$JOBS"
  nice -n 19 cmake --install "$build"
}

build_abseil() {
  local version; version=$(source_version libabsl-dev)
  local stamp="$PREFIX/.abseil-$version.done"
  if [[ -f "$stamp" ]]; then log "abseil $version already built"; return; fi
  log "abseil $version"
  local src; src=$(fetch abseil "$version")
  # C++17 and shared libraries with Debian's SONAME as Debian builds them
  # (debian/rules); Debian's options.h patch keeps its inline namespace.
  cmake_build "$src" "$CACHE/build/abseil-$version" \
    -DCMAKE_CXX_STANDARD=17 -DABSL_PROPAGATE_CXX_STD=ON -DBUILD_TESTING=OFF
  touch "$stamp"
}

build_grpc() {
  local version; version=$(source_version libgrpc++-dev)
  local stamp="$PREFIX/.grpc-$version.done"
  if [[ -f "$stamp" ]]; then log "gRPC $version already built"; return; fi
  if [[ ! -f "$PREFIX/lib/cmake/absl/abslConfig.cmake" ]]; then
    log "gRPC needs the TSan abseil in $PREFIX first"; exit 1
  fi
  log "gRPC $version"
  local src; src=$(fetch grpc "$version")
  # The insecure twins of grpc and grpc++ compile all of gRPC's core a second
  # time and Polku links neither: leave them out of the build and the install.
  if ! grep -q polku_skip_install "$src/CMakeLists.txt"; then
    sed -i -e 's/^add_library(grpc_unsecure$/add_library(grpc_unsecure EXCLUDE_FROM_ALL/' \
           -e 's/^add_library(grpc++_unsecure$/add_library(grpc++_unsecure EXCLUDE_FROM_ALL/' \
           -e 's/^  install(TARGETS \(grpc_unsecure\|grpc++_unsecure\) /  polku_skip_install(TARGETS \1 /' \
           -e 's/^project(.*/&\nfunction(polku_skip_install)\nendfunction()/' \
           "$src/CMakeLists.txt"
    grep -q 'add_library(grpc_unsecure EXCLUDE_FROM_ALL' "$src/CMakeLists.txt" || { log "patching gRPC's CMakeLists failed"; exit 1; }
  fi
  # Everything else from Debian's packages (as debian/rules does), abseil from
  # the prefix; only the C++ code generator among the plugins (the preset's
  # gRPC::grpc_cpp_plugin target), no tests.
  cmake_build "$src" "$CACHE/build/grpc-$version" \
    -DCMAKE_PREFIX_PATH="$PREFIX" -DCMAKE_CXX_STANDARD=17 \
    -DgRPC_ABSL_PROVIDER=package -DgRPC_CARES_PROVIDER=package -DgRPC_PROTOBUF_PROVIDER=package \
    -DgRPC_RE2_PROVIDER=package -DgRPC_SSL_PROVIDER=package -DgRPC_ZLIB_PROVIDER=package \
    -DgRPC_BENCHMARK_PROVIDER=none -DgRPC_BUILD_TESTS=OFF -DgRPC_BACKWARDS_COMPATIBILITY_MODE=OFF \
    -DgRPC_BUILD_CODEGEN=ON -DgRPC_BUILD_CSHARP_EXT=OFF -DgRPC_BUILD_GRPC_CPP_PLUGIN=ON \
    -DgRPC_BUILD_GRPC_CSHARP_PLUGIN=OFF -DgRPC_BUILD_GRPC_NODE_PLUGIN=OFF \
    -DgRPC_BUILD_GRPC_OBJECTIVE_C_PLUGIN=OFF -DgRPC_BUILD_GRPC_PHP_PLUGIN=OFF \
    -DgRPC_BUILD_GRPC_PYTHON_PLUGIN=OFF -DgRPC_BUILD_GRPC_RUBY_PLUGIN=OFF \
    -DgRPC_INSTALL_CMAKEDIR=lib/cmake/grpc
  touch "$stamp"
}

# Tools the builds need beyond scripts/deps.sh: dpkg-source, and gRPC's code
# generator library (grpc_cpp_plugin and grpc++_reflection link it).
need=()
command -v dpkg-source >/dev/null || need+=(dpkg-dev)
[[ "$(dpkg-query -W -f='${Status}' libprotoc-dev 2>/dev/null)" == "install ok installed" ]] || need+=(libprotoc-dev)
if [[ ${#need[@]} -gt 0 ]]; then
  log "installing ${need[*]}"
  as_root=(); [[ $(id -u) -eq 0 ]] || as_root=(sudo)
  DEBIAN_FRONTEND=noninteractive "${as_root[@]}" apt-get install -y --no-install-recommends "${need[@]}"
fi

mkdir -p "$PREFIX" "$CACHE"
case "$WHAT" in
  abseil) build_abseil ;;
  grpc) build_grpc ;;
  all) build_abseil; build_grpc ;;
  *) log "usage: $0 [all|abseil|grpc]"; exit 2 ;;
esac
log "done: $PREFIX"
