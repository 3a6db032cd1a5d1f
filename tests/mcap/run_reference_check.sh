#!/bin/sh
# SPDX-License-Identifier: Apache-2.0
# The reference-reader check (ctest: mcap_reference_reader).
#
#   run_reference_check.sh SRC_DIR WORK_DIR DESCRIPTOR_SET WRITER READER [EMULATOR...]
#   run_reference_check.sh --install-only SRC_DIR WORK_DIR
#
# 1. installs the pinned packages (SRC_DIR/package-lock.json) into
#    WORK_DIR/node with `npm ci`, once per lock file;
# 2. for none, lz4 and zstd: runs the C sample writer WRITER (through the
#    cross-compiling emulator when one is given: the aarch64 build's files are
#    read on the host), then verify_mcap.mjs on the whole file (indexed and
#    streaming readers) and on the copy cut mid-chunk (streaming reader; the
#    indexed one must refuse it);
# 3. the other way round: write_reference.mjs writes files with the
#    reference writer in seven layouts, and READER (mcap_read_check, axon's
#    reader) must find in each exactly what was written.
#
# Exits 77 (ctest: skipped) only when Node.js is not installed; any other
# problem, an npm failure included, fails the test.
#
# --install-only does step 1 alone (the build target mcap_node_deps): the
# test itself may run where there is no network (tools/dev.sh runs ctest in
# a fresh network namespace), so tools/dev.sh installs the packages first.
# Without node it only says so: the test will then report the skip.
set -eu
install_only=0
if [ "${1:-}" = --install-only ]; then
  install_only=1
  shift
fi
src=$1 work=$2
fds=${3:-} writer=${4:-} reader=${5:-}
[ $# -ge 5 ] && shift 5

if ! command -v node >/dev/null 2>&1; then
  if [ "$install_only" = 1 ]; then
    echo "node is not installed: the MCAP reference-reader test will be skipped"
    exit 0
  fi
  echo "SKIP: node is not installed, so the reference MCAP reader (@mcap/core) cannot run."
  echo "      Install it with: bash tools/dev.sh deps   (Debian packages nodejs npm)"
  exit 77
fi
if ! command -v npm >/dev/null 2>&1; then
  [ "$install_only" = 1 ] && exit 0
  echo "SKIP: node is installed but npm is not; install Debian's npm (bash tools/dev.sh deps)."
  exit 77
fi
echo "node $(node --version), npm $(npm --version)"

nodedir=$work/node
mkdir -p "$nodedir"
if ! cmp -s "$src/package-lock.json" "$nodedir/installed.lock" ||
   [ ! -d "$nodedir/node_modules/@mcap/core" ]; then
  cp "$src/package.json" "$src/package-lock.json" "$nodedir/"
  rm -f "$nodedir/installed.lock"
  echo "npm ci (pinned by tests/mcap/package-lock.json) into $nodedir"
  if ! (cd "$nodedir" && npm ci --ignore-scripts --no-audit --no-fund --prefer-offline); then
    echo "FAIL: npm ci could not install the reference reader packages"
    exit 1
  fi
  cp "$src/package-lock.json" "$nodedir/installed.lock"
fi
cp "$src/verify_mcap.mjs" "$nodedir/"
[ "$install_only" = 1 ] && exit 0

out=$work/files
rm -rf "$out"
mkdir -p "$out"
fail=0
for c in none lz4 zstd; do
  echo "== $c"
  "$@" "$writer" "$out" "$c" "$fds"
  node "$nodedir/verify_mcap.mjs" --mode both --expect "$out/sample-$c.expected.json" \
    "$out/sample-$c.mcap" > "$out/sample-$c.reference.json" || fail=1
  node "$nodedir/verify_mcap.mjs" --mode both --expect "$out/sample-$c-cut.expected.json" \
    "$out/sample-$c-cut.mcap" > "$out/sample-$c-cut.reference.json" || fail=1
done
if [ "$fail" != 0 ]; then
  echo "FAIL: the reference reader disagrees with axon's writer (reports in $out)"
  exit 1
fi
echo "PASS: @mcap/core read every file of axon's writer as written (reports in $out)"

echo "== files of the reference writer, read by axon's reader"
cp "$src/write_reference.mjs" "$nodedir/"
mkdir -p "$out/ref"
node "$nodedir/write_reference.mjs" "$out/ref" > /dev/null
if ! "$@" "$reader" "$out"/ref/*.mcap; then
  echo "FAIL: axon's reader disagrees with the reference writer (files in $out/ref)"
  exit 1
fi
echo "PASS: axon's reader read every file of the reference writer as written"
