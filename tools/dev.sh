#!/usr/bin/env bash
# axon's developer entry point, for a fresh Debian 12 machine.
#
#   bash tools/dev.sh demo    install packages, build, run the demo
#   bash tools/dev.sh test    install packages, build and run the whole suite:
#                             asan (ASan+UBSan), tsan, aarch64 under qemu-user
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
  libyaml-dev libcmocka-dev
  libprotobuf-dev   # only for google/protobuf/descriptor.proto (dynamic types)
)
CROSS_PKGS=(
  gcc-aarch64-linux-gnu libc6-dev-arm64-cross qemu-user
  libnanopb-dev:arm64 libprotobuf-c-dev:arm64 libyaml-dev:arm64 libcmocka-dev:arm64
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
  in_netns ctest --preset "$preset"
  stage_end "$preset"
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
    ./build/release/examples/reactor_demo
    ;;
  test)
    total=$(date +%s)
    stage deps; deps cross; stage_end deps
    build_and_test asan
    build_and_test tsan
    build_and_test aarch64
    echo "=== all stages passed in $(( $(date +%s) - total )) s"
    ;;
  *)
    sed -n '2,10p' "$0"
    exit 2
    ;;
esac
