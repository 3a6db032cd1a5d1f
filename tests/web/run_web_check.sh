#!/bin/sh
# SPDX-License-Identifier: Apache-2.0
# The web bridge check (ctest: web_bridge).
#
#   run_web_check.sh BUILD_DIR SRC_DIR WORK_DIR [--install-only]
#
# BUILD_DIR is the build tree (tools/axon/axon, examples/*; ctest names
# them exactly in AXON_WEB_CLI, AXON_WEB_PERCEPTION, AXON_WEB_PLANNING),
# SRC_DIR this folder (tests/web), WORK_DIR where the packages and the logs
# go.
#
# 1. installs the pinned packages (SRC_DIR/package-lock.json) into
#    WORK_DIR/node with `npm ci`, once per lock file;
# 2. re-runs itself in a network namespace of its own with only `lo` up,
#    when it can (root and unshare -n), so discovery domain 5 meets no
#    other node; otherwise it runs on the host's loopback (ctest runs it
#    alone: RUN_SERIAL);
# 3. starts the demo (perception_node, planning_node), a known publisher
#    (axon topic pub /web/chatter) and `axon bridge foxglove --port 0`,
#    and waits for the bridge's two URL lines;
# 4. runs foxglove_client.mjs on the foxglove: URL, and monitor_page.mjs on
#    the monitor: URL when that file exists;
# 5. stops exactly the processes it started.
#
# Exits 77 (ctest: skipped) only when Node.js or npm is not installed; any
# other problem, an npm failure included, fails the test.
#
# --install-only does step 1 alone (the build target web_node_deps): the
# test itself may run where there is no network (tools/dev.sh runs ctest in
# a fresh network namespace), so the packages are installed before.
set -eu

# --install-only may stand anywhere; the other arguments keep their order.
install_only=0
for a in "$@"; do
  shift
  if [ "$a" = --install-only ]; then install_only=1; else set -- "$@" "$a"; fi
done
if [ $# -ne 3 ]; then
  echo "usage: run_web_check.sh BUILD_DIR SRC_DIR WORK_DIR [--install-only]" >&2
  exit 2
fi
build=$1 src=$2 work=$3

if ! command -v node >/dev/null 2>&1; then
  if [ "$install_only" = 1 ]; then
    echo "node is not installed: the web bridge test will be skipped"
    exit 0
  fi
  echo "SKIP: node is not installed, so Foxglove's client library cannot run."
  echo "      Install it with: bash tools/dev.sh deps   (Debian packages nodejs npm)"
  exit 77
fi
if ! command -v npm >/dev/null 2>&1; then
  [ "$install_only" = 1 ] && exit 0
  echo "SKIP: node is installed but npm is not; install Debian's npm (bash tools/dev.sh deps)."
  exit 77
fi

# Puppeteer must never fetch a browser: the system's Chromium is used.
export PUPPETEER_SKIP_DOWNLOAD=1
nodedir=$work/node

# Step 1, outside the namespace: it may need the network.
if [ "${AXON_WEB_NETNS:-}" != 1 ]; then
  echo "node $(node --version), npm $(npm --version)"
  mkdir -p "$nodedir"
  if ! cmp -s "$src/package-lock.json" "$nodedir/installed.lock" ||
     [ ! -d "$nodedir/node_modules/@foxglove/ws-protocol" ]; then
    cp "$src/package.json" "$src/package-lock.json" "$nodedir/"
    rm -f "$nodedir/installed.lock"
    echo "npm ci (pinned by tests/web/package-lock.json) into $nodedir"
    if ! (cd "$nodedir" && npm ci --ignore-scripts --no-audit --no-fund --prefer-offline); then
      echo "FAIL: npm ci could not install the web check's packages"
      exit 1
    fi
    cp "$src/package-lock.json" "$nodedir/installed.lock"
  fi
  [ "$install_only" = 1 ] && exit 0

  if [ "$(id -u)" = 0 ] && unshare -n true 2>/dev/null; then
    AXON_WEB_NETNS=1 exec unshare -n sh -c 'ip link set lo up && exec "$@"' sh \
      sh "$0" "$build" "$src" "$work"
  fi
  echo "note: no network namespace of our own (needs root and unshare -n): on the host's loopback"
fi

# The scripts must sit next to node_modules (ES modules resolve from their
# own folder); NODE_PATH helps CommonJS requires only.
cp "$src/foxglove_client.mjs" "$src/token_check.mjs" "$src/time_check.mjs" "$nodedir/"
monitor_page=
if [ -f "$src/monitor_page.mjs" ]; then
  cp "$src/monitor_page.mjs" "$nodedir/"
  monitor_page=$nodedir/monitor_page.mjs
fi
export NODE_PATH="$nodedir/node_modules"
for c in chromium chromium-browser google-chrome; do
  if command -v "$c" >/dev/null 2>&1; then
    : "${PUPPETEER_EXECUTABLE_PATH:=$(command -v "$c")}"
    export PUPPETEER_EXECUTABLE_PATH
    break
  fi
done

# ctest names the binaries (AXON_WEB_*); by hand they are found in BUILD_DIR.
axon=${AXON_WEB_CLI:-$build/tools/axon/axon}
perception=${AXON_WEB_PERCEPTION:-$build/examples/perception_node}
planning=${AXON_WEB_PLANNING:-$build/examples/planning_node}
# tests/cli's talker publishes a type axon is not built with
# (foxglove_client.mjs starts it itself).
: "${AXON_WEB_TALKER:=$build/tests/cli/cli_talker}"
case $AXON_WEB_TALKER in /*) ;; *) AXON_WEB_TALKER=$(pwd)/$AXON_WEB_TALKER ;; esac
export AXON_WEB_TALKER
# tests/integration's service_probe serves /add (the service check).
: "${AXON_WEB_SERVICE:=$build/tests/integration/service_probe}"
case $AXON_WEB_SERVICE in /*) ;; *) AXON_WEB_SERVICE=$(pwd)/$AXON_WEB_SERVICE ;; esac
export AXON_WEB_SERVICE
for b in "$axon" "$perception" "$planning"; do
  if [ ! -x "$b" ]; then
    echo "FAIL: $b is not built"
    exit 1
  fi
done

# Inside our namespace nothing else is on domain 5; on the host the
# environment's domain is kept when one is set.
if [ "${AXON_WEB_NETNS:-}" = 1 ] || [ -z "${AXON_DOMAIN:-}" ]; then
  AXON_DOMAIN=5
fi
export AXON_DOMAIN
echo "discovery domain $AXON_DOMAIN"

logs=$work/logs
rm -rf "$logs"
mkdir -p "$logs"
pids=
# A child that has exited stays a zombie until waited for, and kill -0
# still reaches a zombie: only a running child counts as alive.
alive() {
  kill -0 "$1" 2>/dev/null && ! grep -q '^State:[[:space:]]*Z' "/proc/$1/status" 2>/dev/null
}
stop_all() {
  for p in $pids; do kill -TERM "$p" 2>/dev/null || true; done
  # Give them 3 s to leave cleanly (the bridge closes its clients).
  stop_end=$(($(date +%s) + 3))
  for p in $pids; do
    while alive "$p" && [ "$(date +%s)" -lt "$stop_end" ]; do sleep 0.1; done
    if alive "$p"; then
      echo "note: pid $p ignored SIGTERM for 3 s: killed"
      kill -KILL "$p" 2>/dev/null || true
    fi
    wait "$p" 2>/dev/null || true
  done
  pids=
}
trap stop_all EXIT
trap 'exit 1' INT TERM HUP

# Every process also stops by itself after this long, should this script
# be killed before its trap runs.
life=150
"$perception" --duration "$life" >"$logs/perception.log" 2>&1 &
pids="$pids $!"
"$planning" --duration "$life" >"$logs/planning.log" 2>&1 &
pids="$pids $!"
"$axon" topic pub /web/chatter axon.std.KeyValue '{key: web, value: hello}' \
  --rate 20 -n 1000000 -q >"$logs/chatter.log" 2>&1 &
pids="$pids $!"
# A small queue per client, so the slow-client check fills it quickly.
"$axon" bridge foxglove --port 0 --address 127.0.0.1 --duration "$life" --max-client-queue 8MiB \
  --client-publish \
  >"$logs/bridge.out" 2>"$logs/bridge.err" &
bridge=$!
pids="$pids $bridge"

show_logs() {
  for f in "$logs"/*; do
    echo "--- $f"
    tail -n 20 "$f"
  done
}

# The bridge prints its two URLs once it listens.
end=$(($(date +%s) + 15))
until grep -q '^monitor: ' "$logs/bridge.out" 2>/dev/null; do
  if ! alive "$bridge"; then
    echo "FAIL: axon bridge foxglove exited before printing its URLs"
    show_logs
    exit 1
  fi
  if [ "$(date +%s)" -ge "$end" ]; then
    echo "FAIL: axon bridge foxglove printed no 'monitor:' line within 15 s"
    show_logs
    exit 1
  fi
  sleep 0.1
done
ws_url=$(sed -n 's/^foxglove: //p' "$logs/bridge.out")
monitor_url=$(sed -n 's/^monitor: //p' "$logs/bridge.out")
if [ -z "$ws_url" ]; then
  echo "FAIL: no 'foxglove:' line before the 'monitor:' line"
  show_logs
  exit 1
fi
echo "bridge: $ws_url and $monitor_url"

fail=0
echo "== foxglove_client.mjs"
# The script bounds itself at 60 s; timeout is the backstop.
(cd "$nodedir" && timeout -k 5 75 node foxglove_client.mjs "$ws_url" web hello) || fail=1

if [ -n "$monitor_page" ]; then
  echo "== monitor_page.mjs"
  rc=0
  (cd "$nodedir" && timeout -k 5 75 node monitor_page.mjs "$monitor_url") || rc=$?
  if [ "$rc" = 77 ]; then
    echo "monitor_page.mjs: skipped"
  elif [ "$rc" != 0 ]; then
    fail=1
  fi
else
  echo "== monitor_page.mjs: not written yet, not run"
fi

# A second bridge with security on (a domain key): it draws a token and
# wants it on every request.
echo "== token_check.mjs"
"$axon" keygen "$logs/domain.key" >"$logs/keygen.log" 2>&1 || { echo "FAIL: axon keygen"; fail=1; }
AXON_KEY_FILE=$logs/domain.key "$axon" bridge foxglove --port 0 --duration 60 \
  >"$logs/bridge_token.out" 2>"$logs/bridge_token.err" &
tbridge=$!
pids="$pids $tbridge"
end=$(($(date +%s) + 15))
until grep -q '^monitor: ' "$logs/bridge_token.out" 2>/dev/null || ! alive "$tbridge" ||
  [ "$(date +%s)" -ge "$end" ]; do
  sleep 0.1
done
t_ws=$(sed -n 's/^foxglove: //p' "$logs/bridge_token.out")
t_mon=$(sed -n 's/^monitor: //p' "$logs/bridge_token.out")
if [ -z "$t_mon" ]; then
  echo "FAIL: the bridge with --token printed no URLs"
  fail=1
else
  (cd "$nodedir" && timeout -k 5 45 node token_check.mjs "$t_ws" "$t_mon") || fail=1
fi

# A third bridge on simulated time (the time capability).
echo "== time_check.mjs"
AXON_USE_SIM_TIME=true "$axon" bridge foxglove --port 0 --duration 60 \
  >"$logs/bridge_sim.out" 2>"$logs/bridge_sim.err" &
sbridge=$!
pids="$pids $sbridge"
end=$(($(date +%s) + 15))
until grep -q '^foxglove: ' "$logs/bridge_sim.out" 2>/dev/null || ! alive "$sbridge" ||
  [ "$(date +%s)" -ge "$end" ]; do
  sleep 0.1
done
s_ws=$(sed -n 's/^foxglove: //p' "$logs/bridge_sim.out")
if [ -z "$s_ws" ]; then
  echo "FAIL: the bridge on simulated time printed no URLs"
  fail=1
else
  (cd "$nodedir" && timeout -k 5 45 node time_check.mjs "$s_ws") || fail=1
fi

if ! alive "$bridge"; then
  echo "FAIL: axon bridge foxglove exited during the checks"
  fail=1
fi
# The bridges stop now, so a sanitizer's report at exit (leaks) is in
# their logs too; any report fails the check.
stop_all
if grep -l -E "ERROR: (AddressSanitizer|LeakSanitizer)|WARNING: ThreadSanitizer|runtime error:" \
  "$logs"/*.err "$logs"/*.log 2>/dev/null; then
  echo "FAIL: a sanitizer reported in the logs above"
  fail=1
fi
if [ "$fail" != 0 ]; then
  show_logs
  echo "FAIL: the web bridge check (logs in $logs)"
  exit 1
fi
echo "PASS: the web bridge check"
