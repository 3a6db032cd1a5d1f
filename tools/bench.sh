#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# axon's side-by-side benchmark: raw TCP on loopback (the physical limit),
# ZeroMQ and NNG, in one run, each figure given as a ratio to raw TCP; and
# the same-host tables: axon over shared memory and over TCP beside
# iceoryx 2.0 and raw TCP, every message's pages touched on both sides.
#
# axon itself three times: as configured by default (shared memory with a
# same-host subscriber), with transport.shm off (axon_tcp: TCP on loopback),
# and over TCP with security.tls: psk (axon_tls): TLS's cost side by side.
# Those axon rows are axon_perf's special path (node.threads 0, publishing
# from the loop thread); the default path, as a user publishes (a node with
# its own loop thread, publishing from the application's thread, retrying
# on AX_EAGAIN), is bench_shm --app's: axon_app (lossless: the subscription
# blocks) and axon_app_sensor (the sensor_data preset, lossy), over TCP.
# In bench_shm's ping-pong, axon_shm and axon_tcp wait for each answer in
# the application's thread with ax_sub_wait(), as a user would; the thread
# then runs the callback itself when the loop is idle. axon_shm_handover
# waits on a condition variable the callback signals instead (a wake-up of
# the loop's thread, then one of the application's), axon_shm_cb answers
# in the pong side's callback.
#
#   bash tools/bench.sh            full run: 3 rounds of ~1 s measurements (~6 min)
#   bash tools/bench.sh --quick    1 round of ~0.3 s measurements (~1 min)
#   options: --repeat N   rounds (default 3, quick 1); each figure is the median
#            --no-build   use the existing build/release as it is
#            --keep FILE  also write every raw RESULT line to FILE
#            --only SET   peers (raw TCP, ZeroMQ, NNG, axon over TCP), shm
#                         (the same-host tables) or scale (discovery with N
#                         node processes: tools/scale.sh, root; -- ARGS go
#                         to it, e.g. -- --nodes 10,100); default peers and shm
#            -- ARGS      pass ARGS to every benchmark program (e.g. --sizes 64,1k)
#
# The same-host set needs iceoryx: when the Debian packages (iceoryx,
# libiceoryx-binding-c-dev) are missing and this runs as root, they are
# installed with apt-get; RouDi, iceoryx's daemon, is started for the run
# with tests/bench/peers/iceoryx_roudi.toml and stopped by its pid.
#
# Builds the release preset if needed, then runs every program in BENCH_CMDS
# one after the other (never in parallel: the machine has 2 cores), round
# after round, so that a burst of load from elsewhere hits one round of
# every implementation rather than all rounds of one. It collects the RESULT
# lines the programs print on stdout and prints one table per test, each row
# the median round (by msgs/s, or by p50 for latency) with the spread of the
# rounds ((max - min) / median) and its ratio to raw TCP:
#   thr     one-way throughput; vs_raw = msgs/s / raw_tcp_batched's msgs/s,
#           vs_zmq = msgs/s / ZeroMQ's of the same mode (lossless:
#           zmq_xpub_nodrop, lossy: zmq_pub)
#   fanout  1 -> N subscribers; vs_raw = delivered/s / raw_tcp_batched's
#   lat     64-byte ping-pong;  vs_raw = p50 / raw_tcp's p50 (and p99 / p99)
# vs_raw above 1 is better for thr and fanout, worse for lat.
# Needs only bash, coreutils and awk (works after `bash tools/dev.sh deps`).
set -euo pipefail
cd "$(dirname "$0")/.."

BUILD=build/release

# The benchmark programs (with arguments), relative to $BUILD. To place
# axon's own numbers in the same run, add its programs here: anything that
# prints RESULT lines in the format of tests/bench/peers/peer_common.h
# (impl=axon_... test=thr|lat|fanout size=...) joins the tables and gets its
# ratio to raw TCP. A program that was not built (ZeroMQ or NNG missing) is
# skipped with a note. The fields the tables use:
#   all      impl= test= size= check=ok|FAIL [error=why: the row shows FAIL]
#   thr, fanout  mode=lossless|lossy msgs_per_s= mb_per_s= lost_pct= cpu_us_per_msg=
#   lat      samples= p50_us= p99_us= p999_us= max_us= [cpu_us_per_rt=]
# shm_thr and shm_lat (the same-host set) are thr and lat under other names.
PEER_CMDS=(
  tests/bench/peers/bench_raw_tcp
  tests/bench/bench_transport
  "tools/axon_perf bench"
  "tools/axon_perf bench --transport tcp --tests thr,lat"
  "tools/axon_perf bench --transport tls --tests thr,lat"
  "tests/bench/bench_shm --app"
  tests/bench/peers/bench_zmq
  tests/bench/peers/bench_nng
)
SHM_SIZES=64,1m,8m
SHM_CMDS=(
  "tests/bench/bench_shm --sizes $SHM_SIZES"
  "tests/bench/peers/bench_raw_tcp --touch --sizes $SHM_SIZES"
  "tests/bench/peers/bench_iceoryx --sizes $SHM_SIZES"
)

quick=()
repeat=""
build=1
keep=""
only=""
extra=()
while [ $# -gt 0 ]; do
  case "$1" in
    --quick) quick=(--quick) ;;
    --repeat) repeat=$2; shift ;;
    --no-build) build=0 ;;
    --keep) keep=$2; shift ;;
    --only) only=$2; shift ;;
    --) shift; extra=("$@"); break ;;
    -h|--help) sed -n '2,46p' "$0"; exit 0 ;;
    *) echo "bench.sh: unknown argument $1" >&2; exit 2 ;;
  esac
  shift
done
if [ -z "$repeat" ]; then
  if [ ${#quick[@]} -gt 0 ]; then repeat=1; else repeat=3; fi
fi
case "$repeat" in
  ''|*[!0-9]*|0) echo "bench.sh: --repeat takes a positive number" >&2; exit 2 ;;
esac
case "$only" in
  '') BENCH_CMDS=("${PEER_CMDS[@]}" "${SHM_CMDS[@]}") ;;
  peers) BENCH_CMDS=("${PEER_CMDS[@]}") ;;
  shm) BENCH_CMDS=("${SHM_CMDS[@]}") ;;
  scale) exec bash tools/scale.sh "${extra[@]}" ;; # processes, not rounds: its own script
  *) echo "bench.sh: --only takes peers, shm or scale" >&2; exit 2 ;;
esac

# iceoryx for the same-host set: Debian's packages, installed if missing
# (before the build, which looks for the C binding).
if [ "$only" != peers ] && ! dpkg-query -W -f '${Status}' libiceoryx-binding-c-dev 2>/dev/null |
    grep -q 'install ok installed'; then
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
    echo "# installing iceoryx (apt-get install iceoryx libiceoryx-binding-c-dev)" >&2
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq iceoryx libiceoryx-binding-c-dev \
      >/dev/null 2>&1 || echo "# could not install iceoryx: its rows are left out" >&2
    rm -f build/release/CMakeCache.txt # find the C binding anew
  else
    echo "# iceoryx is not installed (needs root for apt-get): its rows are left out" >&2
  fi
fi

if [ "$build" = 1 ]; then
  if [ ! -f "$BUILD/CMakeCache.txt" ]; then
    cmake --preset release >/dev/null
  fi
  cmake --build --preset release -j2 >/dev/null
fi

# Each program bounds every one of its runs itself (and kills what
# overruns); this cap only guards against a program that misbehaves as a
# whole.
if [ ${#quick[@]} -gt 0 ]; then prog_cap=120; else prog_cap=300; fi

results=$(mktemp)
errors=$(mktemp)
roudi_log=$(mktemp)
roudi_pid=""
stop_roudi() {
  if [ -n "$roudi_pid" ]; then
    kill "$roudi_pid" 2>/dev/null || true
    wait "$roudi_pid" 2>/dev/null || true
    roudi_pid=""
  fi
}
trap 'stop_roudi; rm -f "$results" "$errors" "$roudi_log"' EXIT

# RouDi, for bench_iceoryx only: started here, stopped by its pid (above).
if [ "$only" != peers ] && [ -x "$BUILD/tests/bench/peers/bench_iceoryx" ] &&
  command -v iox-roudi >/dev/null; then
  iox-roudi -c tests/bench/peers/iceoryx_roudi.toml >"$roudi_log" 2>&1 &
  roudi_pid=$!
  for _ in $(seq 1 100); do # up to 10 s
    grep -q "RouDi is ready for clients" "$roudi_log" && break
    kill -0 "$roudi_pid" 2>/dev/null || break
    sleep 0.1
  done
  if ! grep -q "RouDi is ready for clients" "$roudi_log"; then
    echo "# RouDi did not start: the iceoryx rows will fail" >&2
    sed 's/^/#   /' "$roudi_log" >&2
  fi
fi

load_before=$(cut -d' ' -f1-3 /proc/loadavg)
start=$(date +%s)
for round in $(seq 1 "$repeat"); do
  for cmd in "${BENCH_CMDS[@]}"; do
    set -- $cmd
    prog=$BUILD/$1
    shift
    if [ ! -x "$prog" ]; then
      [ "$round" = 1 ] && echo "# skipped: $prog was not built" >&2
      continue
    fi
    echo "# round $round/$repeat: $(basename "$prog") $* ${quick[*]} ${extra[*]}" >&2
    rc=0
    timeout --kill-after=5 "$prog_cap" "$prog" "$@" "${quick[@]}" "${extra[@]}" \
      >>"$results" 2>>"$errors" || rc=$?
    if [ "$rc" != 0 ]; then
      echo "# $(basename "$prog") exited with status $rc" >&2
    fi
  done
done
elapsed=$(( $(date +%s) - start ))
stop_roudi
load_after=$(cut -d' ' -f1-3 /proc/loadavg)

if [ -s "$errors" ]; then
  echo "# stderr of the benchmark programs:" >&2
  sed 's/^/#   /' "$errors" >&2
fi
if [ -n "$keep" ]; then
  grep -E '^(RESULT|JOIN) ' "$results" >"$keep" || true
fi

pkgver() { dpkg-query -W -f '${Version}' "$1" 2>/dev/null || echo "?"; }
echo "axon peer benchmark, $(date -u '+%Y-%m-%d %H:%M UTC'), ${elapsed} s, ${repeat} round(s)${quick[*]:+, --quick}"
echo "machine: $(nproc) cores, $(uname -sr), $(awk -F': ' '/^model name/ {print $2; exit}' /proc/cpuinfo 2>/dev/null)"
echo "load average before: ${load_before}, after: ${load_after}"
echo "libzmq5 $(pkgver libzmq5), libnng1 $(pkgver libnng1), iceoryx $(pkgver iceoryx)"

grep '^RESULT ' "$results" | awk '
function human(n) {
  if (n >= 1048576 && n % 1048576 == 0) return (n / 1048576) "M"
  if (n >= 1024 && n % 1024 == 0) return (n / 1024) "K"
  return n
}
function ratio(a, b,    q) {
  if (!(b > 0) || a == "") return "-"
  q = a / b
  return sprintf(q >= 0.1 ? "%.2fx" : "%.4fx", q)
}
function is_lat(t) { return t == "lat" || t == "shm_lat" }
function metric(r) { return is_lat(v[r, "test"]) ? v[r, "p50_us"] + 0 : v[r, "msgs_per_s"] + 0 }
{
  n++
  for (i = 2; i <= NF; i++) {
    eq = index($i, "=")
    if (eq) v[n, substr($i, 1, eq - 1)] = substr($i, eq + 1)
  }
  t = v[n, "test"]; s = v[n, "size"] + 0
  key = t SUBSEP s SUBSEP v[n, "impl"]
  if (!(key in nrec)) { nrec[key] = 0; nk[t]++; korder[t, nk[t]] = key }
  rec[key, ++nrec[key]] = n
  if (v[n, "error"] != "") { failed[key]++; if (!(key in why)) why[key] = v[n, "error"] }
  else if (v[n, "check"] != "ok") badcheck[key]++
  if (!((t, s) in seen)) { seen[t, s] = 1; sizes[t] = sizes[t] " " s }
}
# The median good round of @key (lower middle for an even count); sets
# spread[key] to (max - min) / median in percent and good[key].
function pick(key,    i, m, a, j, tmp, r, mid) {
  m = 0
  for (i = 1; i <= nrec[key]; i++) { r = rec[key, i]; if (v[r, "error"] == "") a[++m] = r }
  good[key] = m
  if (m == 0) return 0
  for (i = 2; i <= m; i++)
    for (j = i; j > 1 && metric(a[j - 1]) > metric(a[j]); j--) { tmp = a[j]; a[j] = a[j - 1]; a[j - 1] = tmp }
  mid = a[int((m + 1) / 2)]
  spread[key] = metric(mid) > 0 ? sprintf("%.0f%%", 100 * (metric(a[m]) - metric(a[1])) / metric(mid)) : "-"
  return mid
}
function sorted_sizes(t,    a, m, i, j, tmp) {
  m = split(sizes[t], a, " ")
  for (i = 2; i <= m; i++)
    for (j = i; j > 1 && a[j - 1] + 0 > a[j] + 0; j--) { tmp = a[j]; a[j] = a[j - 1]; a[j - 1] = tmp }
  for (i = 1; i <= m; i++) order[t, i] = a[i]
  return m
}
function runs(key) { return failed[key] ? good[key] "/" nrec[key] : nrec[key] }
function check(key) {
  if (failed[key]) return "FAIL (" failed[key] "x " why[key] ")"
  if (badcheck[key]) return "FAIL (" badcheck[key] "x check)"
  return "ok"
}
function thr_table(t, title,    m, i, k, key, s, r, b, z, zl, zy) {
  m = sorted_sizes(t)
  if (m == 0) return
  print ""
  print title
  printf "%-5s %-16s %-8s %4s %11s %8s %6s %6s %9s %8s %8s  %s\n", "size", "impl", "mode", "runs", "msgs/s", "MB/s", "spread", "lost%", "cpu_us/msg", "vs_raw", "vs_zmq", "check"
  for (i = 1; i <= m; i++) {
    s = order[t, i]
    b = med[t SUBSEP s SUBSEP "raw_tcp_batched"]
    zl = med[t SUBSEP s SUBSEP "zmq_xpub_nodrop"]
    zy = med[t SUBSEP s SUBSEP "zmq_pub"]
    for (k = 1; k <= nk[t]; k++) {
      key = korder[t, k]
      r = med[key]
      split(key, parts, SUBSEP)
      if (parts[2] != s) continue
      if (!r) {
        printf "%-5s %-16s %-8s %4s %11s %8s %6s %6s %9s %8s %8s  %s\n", human(s), parts[3], "-", runs(key), "-", "-", "-", "-", "-", "-", "-", check(key)
        continue
      }
      z = v[r, "mode"] == "lossy" ? zy : zl
      printf "%-5s %-16s %-8s %4s %11s %8s %6s %6s %9s %8s %8s  %s\n", human(s), parts[3], v[r, "mode"], runs(key),
        v[r, "msgs_per_s"], v[r, "mb_per_s"], spread[key], v[r, "lost_pct"], v[r, "cpu_us_per_msg"],
        ratio(v[r, "msgs_per_s"], b ? v[b, "msgs_per_s"] : ""), ratio(v[r, "msgs_per_s"], z ? v[z, "msgs_per_s"] : ""), check(key)
    }
  }
}
# The same-host tables: ratios to iceoryx and to axon over TCP.
function shm_thr_table(t, title,    m, i, k, key, s, r, a, b, f) {
  m = sorted_sizes(t)
  if (m == 0) return
  print ""
  print title
  f = "%-5s %-11s %-8s %4s %9s %8s %6s %6s %10s %10s %11s  %s\n"
  printf f, "size", "impl", "mode", "runs", "msgs/s", "MB/s", "spread", "lost%", "cpu_us/msg", "vs_iceoryx", "vs_axon_tcp", "check"
  for (i = 1; i <= m; i++) {
    s = order[t, i]
    a = med[t SUBSEP s SUBSEP "iceoryx"]
    b = med[t SUBSEP s SUBSEP "axon_tcp"]
    for (k = 1; k <= nk[t]; k++) {
      key = korder[t, k]
      r = med[key]
      split(key, parts, SUBSEP)
      if (parts[2] != s) continue
      if (!r) {
        printf f, human(s), parts[3], "-", runs(key), "-", "-", "-", "-", "-", "-", "-", check(key)
        continue
      }
      printf f, human(s), parts[3], v[r, "mode"], runs(key), v[r, "msgs_per_s"], v[r, "mb_per_s"],
        spread[key], v[r, "lost_pct"], v[r, "cpu_us_per_msg"],
        ratio(v[r, "msgs_per_s"], a ? v[a, "msgs_per_s"] : ""),
        ratio(v[r, "msgs_per_s"], b ? v[b, "msgs_per_s"] : ""), check(key)
    }
  }
}
function shm_lat_table(t, title,    m, i, k, key, s, r, a, b, f) {
  m = sorted_sizes(t)
  if (m == 0) return
  print ""
  print title
  f = "%-5s %-17s %4s %8s %8s %6s %8s %8s %8s %9s %10s %11s  %s\n"
  printf f, "size", "impl", "runs", "samples", "p50", "spread", "p99", "p99.9", "max", "cpu_us/rt", "vs_iceoryx", "vs_axon_tcp", "check"
  for (i = 1; i <= m; i++) {
    s = order[t, i]
    a = med[t SUBSEP s SUBSEP "iceoryx"]
    b = med[t SUBSEP s SUBSEP "axon_tcp"]
    for (k = 1; k <= nk[t]; k++) {
      key = korder[t, k]
      r = med[key]
      split(key, parts, SUBSEP)
      if (parts[2] != s) continue
      if (!r) {
        printf f, human(s), parts[3], runs(key), "-", "-", "-", "-", "-", "-", "-", "-", "-", check(key)
        continue
      }
      printf f, human(s), parts[3], runs(key), v[r, "samples"], v[r, "p50_us"], spread[key],
        v[r, "p99_us"], v[r, "p999_us"], v[r, "max_us"],
        v[r, "cpu_us_per_rt"] != "" ? v[r, "cpu_us_per_rt"] : "-",
        ratio(v[r, "p50_us"], a ? v[a, "p50_us"] : ""), ratio(v[r, "p50_us"], b ? v[b, "p50_us"] : ""), check(key)
    }
  }
}
function lat_table(    m, i, k, key, s, r, b) {
  m = sorted_sizes("lat")
  if (m == 0) return
  print ""
  print "== ping-pong round trip (us; median round by p50; vs_raw = / raw_tcp, lower is better) =="
  printf "%-5s %-16s %4s %8s %8s %6s %8s %8s %8s %9s %10s %10s  %s\n", "size", "impl", "runs", "samples", "p50", "spread", "p99", "p99.9", "max", "cpu_us/rt", "p50_vs_raw", "p99_vs_raw", "check"
  for (i = 1; i <= m; i++) {
    s = order["lat", i]
    b = med["lat" SUBSEP s SUBSEP "raw_tcp"]
    for (k = 1; k <= nk["lat"]; k++) {
      key = korder["lat", k]
      r = med[key]
      split(key, parts, SUBSEP)
      if (parts[2] != s) continue
      if (!r) {
        printf "%-5s %-16s %4s %8s %8s %6s %8s %8s %8s %9s %10s %10s  %s\n", human(s), parts[3], runs(key), "-", "-", "-", "-", "-", "-", "-", "-", "-", check(key)
        continue
      }
      printf "%-5s %-16s %4s %8s %8s %6s %8s %8s %8s %9s %10s %10s  %s\n", human(s), parts[3], runs(key), v[r, "samples"],
        v[r, "p50_us"], spread[key], v[r, "p99_us"], v[r, "p999_us"], v[r, "max_us"],
        v[r, "cpu_us_per_rt"] != "" ? v[r, "cpu_us_per_rt"] : "-",
        ratio(v[r, "p50_us"], b ? v[b, "p50_us"] : ""), ratio(v[r, "p99_us"], b ? v[b, "p99_us"] : ""), check(key)
    }
  }
}
END {
  for (key in nrec) med[key] = pick(key)
  thr_table("thr", "== one-way throughput (msgs/s delivered; vs_raw = / raw_tcp_batched) ==")
  thr_table("fanout", "== fan-out 1 -> N (msgs/s = delivered per second, all subscribers together; vs_raw = / raw_tcp_batched) ==")
  lat_table()
  shm_thr_table("shm_thr", "== same host: one-way throughput, lossless, every page touched (msgs/s; vs_* = msgs/s / theirs, higher is better) ==")
  shm_lat_table("shm_lat", "== same host: round trip, every page touched both ways (us; vs_* = p50 / theirs, lower is better) ==")
}'
if grep -q '^JOIN ' "$results"; then
  echo ""
  echo "== subscriber start to first message (one line per round) =="
  grep '^JOIN ' "$results" | cut -d' ' -f2-
fi
