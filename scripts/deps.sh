#!/usr/bin/env bash
# SPDX-License-Identifier: BSD-2-Clause
# Install (apt-get, Debian 12) every package zonewall needs to build, test
# and run its demo. Installs only what is missing; safe to run again.
set -euo pipefail

PKGS=(
  # build
  meson ninja-build pkg-config gcc clang llvm
  libyaml-dev libssl-dev libsqlite3-dev libcunit1-dev
  libbpf-dev libelf-dev zlib1g-dev bpftool
  dpdk-dev libpcap-dev
  libnftnl-dev libnftables-dev libmnl-dev libnl-3-dev libnl-route-3-dev
  libgnutls28-dev libjansson-dev
  libhyperscan-dev libnetfilter-queue-dev libnetfilter-conntrack-dev
  libnetfilter-log-dev
  # fuzzing and sanitizers (clang runtime)
  libclang-rt-14-dev libfuzzer-14-dev
  # tests, lab and demo
  iproute2 nftables tcpdump xdp-tools rsyslog rsyslog-gnutls gnutls-bin
  python3-scapy jq sqlite3 procps psmisc socat iputils-ping netcat-openbsd
  graphviz
  python3-yaml ethtool
  # packaging (suite package), man pages, metrics and schema tests
  scdoc debhelper dpkg-dev lintian bash-completion man-db
  python3-prometheus-client python3-jsonschema
  # the Grafana dashboard test (tests/control/dashboard_test.sh): a real
  # Prometheus evaluates its queries
  prometheus
  # zonectl audit's tests: HTML rendered by headless Chromium
  chromium
  # flow telemetry collectors (tests/control/telemetry_test.sh)
  tshark nfdump pmacct
  # L7 inspection tests (tests/netns/l7_inspect.sh)
  openssh-server openssh-client curl
  # benchmarks (perf/nft-bench.sh: trafgen saturates the lab appliance)
  netsniff-ng
)

missing=()
for p in "${PKGS[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed'; then
    missing+=("$p")
  fi
done

if [ ${#missing[@]} -eq 0 ]; then
  echo "deps: all ${#PKGS[@]} packages present"
  exit 0
fi

echo "deps: installing ${#missing[@]} missing package(s): ${missing[*]}"
SUDO=
if [ "$(id -u)" -ne 0 ]; then
  command -v sudo >/dev/null || { echo "deps: not root and no sudo: install ${missing[*]} by hand" >&2; exit 3; }
  SUDO=sudo
fi
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq || echo "deps: apt-get update failed, trying with the current lists" >&2
$SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}"
