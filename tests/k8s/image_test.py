"""The container image (k8s/Containerfile) against the binaries it ships.

There is no container engine here to build the image, so this checks what a
missing runtime package would break only when a pod starts: every shared
library that a shipped binary links directly comes from a package that the
image's runtime stage installs, from one of their dependencies, or from the
base image.
"""
import os
import re
import subprocess
import unittest

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
BIN_DIR = os.environ.get("POLKU_BIN_DIR", os.path.join(ROOT, "build", "release", "bin"))
CONTAINERFILE = os.path.join(ROOT, "k8s", "Containerfile")
# In debian:12-slim already: apt itself needs them.
BASE_PACKAGES = {"libc6", "libgcc-s1", "libstdc++6"}
# A sanitizer build links the sanitizers' runtimes; the image's release
# build never does.
SANITIZER_RUNTIME = re.compile(r"^lib(asan|ubsan|lsan|tsan)\.so")
MULTIARCH_DIR = re.compile(r"/(usr/)?lib/[^/]+-linux-gnu/")
# The servers allocate with jemalloc (polku_add_server in CMakeLists.txt).
SERVERS = ["polku-journey", "polku-feedback", "polku-insight", "polku-cases", "polku-gateway"]


def stages():
    """The Containerfile's stages, continuation lines joined."""
    with open(CONTAINERFILE) as f:
        text = f.read().replace("\\\n", " ")
    return re.split(r"^FROM ", text, flags=re.M)[1:]


def words_after(stage, command, end="&&"):
    """The arguments of `command` in `stage`, options left out."""
    line = next(line for line in stage.splitlines() if command in line)
    rest = line.split(command, 1)[1].split(end, 1)[0]
    return [word for word in rest.split() if not word.startswith("-")]


def shipped_binaries():
    return words_after(stages()[0], "--target")


def runtime_packages():
    return words_after(stages()[-1], "apt-get install")


def with_dependencies(packages):
    out = subprocess.run(
        ["apt-cache", "depends", "--recurse", "--no-recommends", "--no-suggests",
         "--no-conflicts", "--no-breaks", "--no-replaces", "--no-enhances", *packages],
        check=True, capture_output=True, text=True).stdout
    return {line.strip() for line in out.splitlines()
            if line and not line.startswith(" ") and not line.startswith("<")}


def needed_libraries(binary):
    out = subprocess.run(["readelf", "-d", os.path.join(BIN_DIR, binary)],
                         check=True, capture_output=True, text=True).stdout
    return re.findall(r"\(NEEDED\)\s+Shared library: \[(.+)\]", out)


def packages_of(sonames):
    """soname → the Debian package with it (one dpkg query: each is slow)."""
    out = subprocess.run(["dpkg", "-S", *("*/" + soname for soname in sonames)],
                         capture_output=True, text=True).stdout
    found = {}
    for line in out.splitlines():
        package, path = line.split(": ", 1)
        soname = path.rsplit("/", 1)[-1]
        if MULTIARCH_DIR.search(path) and soname in sonames:
            found.setdefault(soname, package.split(":")[0])
    return found


class ImageTest(unittest.TestCase):
    def test_the_runtime_stage_installs_every_library_a_binary_links(self):
        binaries = shipped_binaries()
        self.assertIn("polku-feedback", binaries)
        available = with_dependencies(runtime_packages()) | BASE_PACKAGES
        needed = {binary: [soname for soname in needed_libraries(binary)
                           if not SANITIZER_RUNTIME.match(soname)]
                  for binary in binaries}
        package_of = packages_of({s for sonames in needed.values() for s in sonames})
        missing = []
        for binary, sonames in needed.items():
            for soname in sonames:
                package = package_of.get(soname)
                if package is None:
                    missing.append(f"{binary}: {soname} (no Debian package has it)")
                elif package not in available:
                    missing.append(f"{binary}: {soname} from {package}")
        self.assertEqual(missing, [], "add these packages to the Containerfile's runtime stage")

    def test_the_servers_allocate_with_jemalloc(self):
        # The asan preset (clang links its sanitizers statically) builds
        # without jemalloc, keeping the sanitizer's allocator.
        if os.environ.get("POLKU_JEMALLOC", "ON").upper() in ("OFF", "0", "FALSE"):
            self.skipTest("built with POLKU_JEMALLOC=OFF (a sanitizer build)")
        for server in SERVERS:
            needed = needed_libraries(server)
            if any(SANITIZER_RUNTIME.match(soname) for soname in needed):
                self.skipTest("a sanitizer build keeps the sanitizer's allocator")
            self.assertIn("libjemalloc.so.2", needed, server)

    def test_a_missing_package_is_noticed(self):
        # The check above is only as good as this: drop a package the
        # binaries need and it must be missing from what is available.
        packages = [p for p in runtime_packages() if p != "libsqlite3-0"]
        self.assertNotIn("libsqlite3-0", with_dependencies(packages) | BASE_PACKAGES)
        self.assertEqual(packages_of({"libsqlite3.so.0"}), {"libsqlite3.so.0": "libsqlite3-0"})


if __name__ == "__main__":
    unittest.main()
