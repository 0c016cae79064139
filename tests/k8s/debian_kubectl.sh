#!/bin/sh
# Unpacks Debian 12's kubectl (package kubernetes-client: 1.20, whose old
# kustomize the manifests must also work with) into $1, without installing
# it: a machine may well have a newer kubectl, which the manifest test uses
# as well. Usage: debian_kubectl.sh DIR  → DIR/usr/bin/kubectl
set -eu
out=$1
work="$out.download"
rm -rf "$work"
mkdir -p "$work"
cd "$work"
# A machine whose package lists were never fetched (deps.sh fetches them
# only when it installs something) needs them first.
if ! apt-get download kubernetes-client; then
  if [ "$(id -u)" -eq 0 ] && apt-get update >/dev/null && apt-get download kubernetes-client; then
    :
  else
    echo "debian_kubectl.sh: apt-get download kubernetes-client failed (run apt-get update?)" >&2
    exit 1
  fi
fi
dpkg-deb -x kubernetes-client_*.deb root
rm -rf "$out"
mv root "$out"
cd ..
rm -rf "$work"
"$out/usr/bin/kubectl" version --client >/dev/null
