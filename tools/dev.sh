#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# axon's developer entry point, for a fresh Debian 12 machine.
#
#   bash tools/dev.sh demo    install packages, build, run the demo
#   bash tools/dev.sh test    install packages, build and run the whole suite:
#                             asan (ASan+UBSan), tsan, aarch64 under qemu-user,
#                             then each fuzz target for a bounded time
#   bash tools/dev.sh fuzz    only the fuzz stage (FUZZ_SECONDS to change the time)
#   bash tools/dev.sh deps    only install the packages
#
# Runs as root (CI) or through sudo. Each stage prints how long it took.
set -euo pipefail
cd "$(dirname "$0")/.."

SUDO=""
if [ "$(id -u)" != 0 ]; then SUDO=sudo; fi

# Every package the build, the tests, the cross build and the benchmarks
# need; listing ones the image already has protects against image drift.
NATIVE_PKGS=(
  cmake ninja-build pkg-config gcc clang libclang-rt-14-dev iproute2 nftables
  nanopb libnanopb-dev protobuf-compiler protobuf-c-compiler libprotobuf-c-dev
  libyaml-dev libcmocka-dev libzmq3-dev libnng-dev
  liblz4-dev libzstd-dev zlib1g-dev libssl-dev
  python3-pytest python3-protobuf
  libwebsockets-dev libcjson-dev chromium
)
CROSS_PKGS=(
  gcc-aarch64-linux-gnu libc6-dev-arm64-cross qemu-user
  libnanopb-dev:arm64 libprotobuf-c-dev:arm64 libyaml-dev:arm64 libcmocka-dev:arm64
  liblz4-dev:arm64 libzstd-dev:arm64 zlib1g-dev:arm64 libssl-dev:arm64
)

stage_start=0
stage() { stage_start=$(date +%s); echo "=== stage $1: start"; }
stage_end() { echo "=== stage $1: done in $(( $(date +%s) - stage_start )) s"; }

deps() {
  local pkgs=("${NATIVE_PKGS[@]}")
  if [ "${1:-}" = cross ]; then
    $SUDO dpkg --add-architecture arm64
    pkgs+=("${CROSS_PKGS[@]}")
  fi
  # The MCAP reference-reader test (tests/mcap) runs @mcap/core on Node.js.
  # Install Debian's nodejs and npm only when there is no node at all: a
  # node from elsewhere (NodeSource) brings its own npm and conflicts with
  # Debian's npm package.
  if ! command -v node >/dev/null 2>&1; then
    pkgs+=(nodejs npm)
  fi
  export DEBIAN_FRONTEND=noninteractive
  $SUDO apt-get update -q
  $SUDO apt-get install -y -q --no-install-recommends -o DPkg::Lock::Timeout=600 "${pkgs[@]}"
}

# Run a command in a fresh network namespace with only `lo` up, so no test
# traffic can leave the machine; fall back to the host's loopback when
# namespaces are not available (not root, or a restricted container).
in_netns() {
  if [ "$(id -u)" = 0 ] && unshare -n true 2>/dev/null; then
    unshare -n sh -c 'ip link set lo up && exec "$@"' sh "$@"
  else
    "$@"
  fi
}

build_and_test() {
  local preset=$1
  stage "$preset"
  cmake --preset "$preset" >/dev/null
  cmake --build --preset "$preset"
  # The MCAP reference-reader test needs npm packages; fetch them here,
  # since the tests run without network.
  cmake --build --preset "$preset" --target mcap_node_deps
  # Likewise Foxglove's client library and puppeteer-core (tests/web).
  cmake --build --preset "$preset" --target web_node_deps
  in_netns ctest --preset "$preset"
  stage_end "$preset"
}

# Run every libFuzzer target for a bounded time (FUZZ_SECONDS, default 60
# for the frame decoder and 20 for the others) from its seed corpus in
# tests/fuzz/corpus/<name without fuzz_> (and, for fuzz_fds, the corpus the
# build makes from the generated descriptor sets); new inputs go to the
# build tree.
fuzz() {
  stage fuzz
  cmake --preset fuzz >/dev/null
  cmake --build --preset fuzz --target axon_fuzzers
  rm -f build/fuzz/crash-* build/fuzz/leak-* build/fuzz/timeout-*
  local dir=build/fuzz/tests/fuzz
  for bin in "$dir"/fuzz_*; do
    [ -x "$bin" ] || continue
    local name secs seeds work
    name=$(basename "$bin")
    secs=${FUZZ_SECONDS:-$([ "$name" = fuzz_frame ] && echo 60 || echo 20)}
    seeds=tests/fuzz/corpus/${name#fuzz_}
    work=build/fuzz/corpus/${name#fuzz_}
    mkdir -p "$work"
    echo "--- $name for ${secs}s"
    local dict=tests/fuzz/${name#fuzz_}.dict
    "$bin" -max_total_time="$secs" -print_final_stats=1 -artifact_prefix=build/fuzz/ \
      $( [ -f "$dict" ] && echo "-dict=$dict" ) "$work" $( [ -d "$seeds" ] && echo "$seeds" ) \
      $( [ -d "$dir/corpus_${name#fuzz_}" ] && echo "$dir/corpus_${name#fuzz_}" ) 2>&1 | grep -E "^(#[0-9]+ +DONE|Done|stat::number_of_executed_units|==[0-9]+==ERROR|SUMMARY)" || true
    # libFuzzer exits non-zero on a finding; grep hides the status, so
    # check for the artifact it writes instead.
    if ls build/fuzz/crash-* build/fuzz/leak-* build/fuzz/timeout-* >/dev/null 2>&1; then
      echo "fuzz: $name found a failing input:"; ls build/fuzz/crash-* build/fuzz/leak-* build/fuzz/timeout-* 2>/dev/null
      exit 1
    fi
  done
  stage_end fuzz
}

case "${1:-}" in
  deps)
    deps cross
    ;;
  demo)
    stage deps; deps native; stage_end deps
    stage build
    cmake --preset release >/dev/null
    cmake --build --preset release
    stage_end build
    bash tools/demo.sh build/release
    ;;
  test)
    total=$(date +%s)
    stage deps; deps cross; stage_end deps
    build_and_test asan
    build_and_test tsan
    build_and_test aarch64
    fuzz
    echo "=== all stages passed in $(( $(date +%s) - total )) s"
    ;;
  fuzz)
    fuzz
    ;;
  *)
    sed -n '2,10p' "$0"
    exit 2
    ;;
esac
