#!/usr/bin/env bash
# Installs everything Assay needs to build, test and run, from Debian 12 packages.
# Idempotent: does nothing (no network) when every package is already installed.
#   scripts/setup.sh          the build, the tests and the demo
#   scripts/setup.sh --fuzz   also clang and libFuzzer (scripts/fuzz.sh, scripts/build.sh fuzz)
set -euo pipefail

PACKAGES=(
  build-essential cmake ninja-build ccache pkg-config git python3
  librdkafka-dev libtbb-dev libflatbuffers-dev flatbuffers-compiler
  prometheus-cpp-dev libcivetweb-dev libssl-dev openssl libyaml-cpp-dev
  libgtest-dev libgmock-dev libbenchmark-dev libipsec-mb-dev prometheus
  zlib1g-dev libzstd-dev liblz4-dev libcurl4-openssl-dev clang-format
  libcbor-dev nlohmann-json3-dev python3-venv libsodium-dev
  libxml2-dev libxmlsec1-dev libxmlsec1-openssl xmlsec1 libyaml-dev
  openssh-client  # ssh-agent for the witness integration test (litewitness signs through one)
)
if [ "${1:-}" = --fuzz ]; then
  PACKAGES+=(clang libclang-rt-14-dev)  # clang 14 and its libFuzzer/sanitizer runtimes
fi

missing=()
for p in "${PACKAGES[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done

if [ ${#missing[@]} -gt 0 ]; then
  echo "setup: installing ${missing[*]}" >&2
  SUDO=""
  [ "$(id -u)" -ne 0 ] && SUDO="sudo"
  $SUDO apt-get update -q
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -q --no-install-recommends "${missing[@]}"
  # The Prometheus package enables a system service on :9090 where systemd runs; the tests
  # start their own server on a free loopback port, so the one we just installed is stopped.
  if [[ " ${missing[*]} " == *" prometheus "* ]] && [ -d /run/systemd/system ]; then
    $SUDO systemctl disable --now prometheus >/dev/null 2>&1 || true
  fi
fi
