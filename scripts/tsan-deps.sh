#!/usr/bin/env bash
# Builds ThreadSanitizer-instrumented copies of the abseil, gRPC, OpenSSL and
# cpp-httplib that Debian 12 ships, into a prefix the `tsan` preset finds first
# (CMakePresets.json: an RPATH, so also for the libraries' own dependencies).
# Debian's libraries are not built with -fsanitize=thread: TSan then misses the
# synchronisation inside them (absl::Mutex, gRPC's completion queues,
# OpenSSL's atomic reference counts, the guard of a function-local static) and
# both reports false races and misses real ones.
#
# It fetches the Debian source packages of exactly the installed versions
# (dpkg-source applies Debian's patches), builds them with clang at nice 19 and
# installs them into the prefix. Idempotent: a finished package leaves a stamp
# and is skipped next time. Abseil first: gRPC is built against it. OpenSSL and
# cpp-httplib are only swapped in at run time: libssl.so.3, libcrypto.so.3 and
# libcpp-httplib.so.0.11 under Debian's sonames, checked to export every symbol
# Debian's do, nothing to link against.
#
#   bash scripts/tsan-deps.sh              # all four (gRPC takes hours on 2 cores)
#   bash scripts/tsan-deps.sh abseil       # only abseil (8 min)
#   bash scripts/tsan-deps.sh grpc         # only gRPC (1 h 36 min at nice 19, loaded)
#   bash scripts/tsan-deps.sh openssl      # only OpenSSL (20 min at nice 19, loaded)
#   bash scripts/tsan-deps.sh cpp-httplib  # only cpp-httplib (2 min)
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

same_symbols() {  # same_symbols <ours> <Debian's> <only> <except>: exports match
  # Every symbol (with its version) Debian's library exports that matches the
  # grep -E pattern <only> and not <except> must be exported by ours, or a
  # program could fail to load.
  local missing
  missing=$(comm -23 \
    <(nm -D --defined-only --with-symbol-versions "$2" | awk '{print $3}' |
        grep -E -- "$3" | grep -v -E -- "$4" | sort) \
    <(nm -D --defined-only --with-symbol-versions "$1" | awk '{print $3}' | sort))
  if [[ -n $missing ]]; then
    log "$1 lacks what $2 exports: $missing"; exit 1
  fi
}

fetch_from_pool() {  # fetch_from_pool <source package> <version>: into $CACHE/dl
  # The archive's Sources indexes list only the newest version; a security
  # update installed earlier and since superseded (OpenSSL's) stays in the
  # pool for a while. No signed index vouches for such a .dsc: dpkg-source -x
  # checks the files against its sums, but its signature only if the
  # uploader's key is in a keyring (debian-keyring is not installed).
  local package=$1 version=${2#*:} dir=${1:0:1}
  [[ $package == lib* ]] && dir=${package:0:4}
  local base
  for base in http://deb.debian.org/debian-security/pool/updates/main \
              http://deb.debian.org/debian/pool/main; do
    local url="$base/$dir/$package" dsc="${package}_${version}.dsc"
    if curl -fsS -o "$CACHE/dl/$dsc.tmp" "$url/$dsc"; then
      local file
      for file in $(sed -n '/^Files:/,/^[^ ]/{s/^ [0-9a-f]* [0-9]* //p}' "$CACHE/dl/$dsc.tmp"); do
        curl -fsS -o "$CACHE/dl/$file" "$url/$file"
      done
      mv "$CACHE/dl/$dsc.tmp" "$CACHE/dl/$dsc"
      return
    fi
  done
  log "$package $version is in neither the archive's indexes nor its pools"; exit 1
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

Types: deb-src
URIs: http://deb.debian.org/debian-security
Suites: bookworm-security
Components: main
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg
EOF
  local apt_opts=(-o "Dir::Etc::sourcelist=$CACHE/apt/debian.sources" -o Dir::Etc::sourceparts=-
                  -o "Dir::State::Lists=$CACHE/apt/lists" -o APT::Get::List-Cleanup=0)
  if [[ ! -f "$CACHE/dl/${package}_${version#*:}.dsc" ]]; then
    apt-get "${apt_opts[@]}" -qq update
    if ! (cd "$CACHE/dl" && apt-get "${apt_opts[@]}" source --download-only "$package=$version") >&2; then
      fetch_from_pool "$package" "$version"
    fi
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

build_openssl() {
  local version; version=$(source_version libssl3)
  local stamp="$PREFIX/.openssl-$version.done"
  if [[ -f "$stamp" ]]; then log "OpenSSL $version already built"; return; fi
  log "OpenSSL $version"
  local src; src=$(fetch openssl "$version")
  local build="$CACHE/build/openssl-$version"
  local multiarch; multiarch=$(dpkg-architecture -qDEB_HOST_MULTIARCH)
  # Debian's configuration (CONFARGS and the debian-<arch> target in
  # debian/rules), Debian's paths included: the copy reads Debian's openssl.cnf
  # and certificates and loads Debian's provider modules and engines, should a
  # configuration ask for one. Only the two libraries are built and installed,
  # under Debian's sonames and symbol versions; nothing links against them
  # (the prefix has no libssl.so or headers), they replace Debian's at run time
  # through the RPATH. OpenSSL's assembly stays: the ciphers' inner loops run
  # uninstrumented, the locking, reference counts and C code do not.
  local confargs=(shared --prefix=/usr --openssldir=/usr/lib/ssl "--libdir=lib/$multiarch"
    no-idea no-mdc2 no-rc5 no-zlib no-ssl3 no-ssl3-method enable-rfc3779 enable-cms
    no-capieng no-rdrand no-tests)
  [[ $(dpkg-architecture -qDEB_HOST_ARCH_CPU) == amd64 ]] && confargs+=(enable-ec_nistp_64_gcc_128)
  rm -rf "$build"; mkdir -p "$build"
  # Debian's target less -fzero-call-used-regs (a hardening flag gcc and
  # clang >= 15 know, clang 14 does not).
  cat >"$build/polku-tsan.conf" <<EOF
my %targets = (
  "polku-tsan" => {
    inherit_from => [ "debian-$(dpkg-architecture -qDEB_HOST_ARCH)" ],
    cflags => sub { join(" ", grep { !/^-fzero-call-used-regs/ } map { split / / } grep { defined } @_) },
  },
);
EOF
  (cd "$build" && CC=clang nice -n 19 perl "$src/Configure" "--config=$build/polku-tsan.conf" \
     "${confargs[@]}" polku-tsan $FLAGS) >&2
  nice -n 19 make -C "$build" -j "$JOBS" build_libs >&2
  local lib
  for lib in libcrypto.so.3 libssl.so.3; do
    # Debian's libssl also exports SSL_test_functions (enable-unit-test), for
    # OpenSSL's own tests only; no-tests leaves it out.
    same_symbols "$build/$lib" "/usr/lib/$multiarch/$lib" . '^SSL_test_functions@'
  done
  install -m 644 "$build/libcrypto.so.3" "$build/libssl.so.3" "$PREFIX/lib/"
  touch "$stamp"
}

build_httplib() {
  local version; version=$(source_version libcpp-httplib-dev)
  local stamp="$PREFIX/.cpp-httplib-$version.done"
  if [[ -f "$stamp" ]]; then log "cpp-httplib $version already built"; return; fi
  log "cpp-httplib $version"
  local src; src=$(fetch cpp-httplib "$version")
  local build="$CACHE/build/cpp-httplib-$version"
  rm -rf "$build"; mkdir -p "$build"
  # What Debian's meson build does (meson.build, debian/rules): split the
  # header into httplib.h and httplib.cc, compile the .cc as C++11 with NDEBUG,
  # OpenSSL, zlib and brotli and Debian's CPPHTTPLIB_USE_POLL, into
  # libcpp-httplib.so.<major>.<minor>. The split header must be the one Polku
  # compiles against, or the two would not mean the same classes.
  python3 "$src/split.py" --out "$build" >&2
  if ! cmp -s "$build/httplib.h" /usr/include/httplib.h; then
    log "cpp-httplib's split header differs from /usr/include/httplib.h"; exit 1
  fi
  local soname; soname=libcpp-httplib.so.$(sed -n 's/^#define CPPHTTPLIB_VERSION "\([0-9]*\.[0-9]*\)\..*/\1/p' "$build/httplib.h")
  [[ $soname != libcpp-httplib.so. ]] || { log "no CPPHTTPLIB_VERSION in httplib.h"; exit 1; }
  nice -n 19 clang++ $FLAGS -std=c++11 -DNDEBUG -fPIC -shared -pthread \
    -DCPPHTTPLIB_OPENSSL_SUPPORT -DCPPHTTPLIB_ZLIB_SUPPORT -DCPPHTTPLIB_BROTLI_SUPPORT \
    -DCPPHTTPLIB_USE_POLL -I "$build" "$build/httplib.cc" -Wl,-soname,"$soname" \
    -o "$build/$soname" -lssl -lcrypto -lz -lbrotlidec -lbrotlienc -lbrotlicommon
  # The library's own API; the rest are inline functions of the C++ library
  # that whichever object uses them emits.
  same_symbols "$build/$soname" "/usr/lib/$(dpkg-architecture -qDEB_HOST_MULTIARCH)/$soname" 7httplib '^$'
  install -m 644 "$build/$soname" "$PREFIX/lib/"
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
  openssl) build_openssl ;;
  cpp-httplib) build_httplib ;;
  all) build_abseil; build_grpc; build_openssl; build_httplib ;;
  *) log "usage: $0 [all|abseil|grpc|openssl|cpp-httplib]"; exit 2 ;;
esac
log "done: $PREFIX"
