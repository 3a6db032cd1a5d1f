#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# axon's side-by-side benchmark: raw TCP on loopback (the physical limit),
# ZeroMQ and NNG, in one run, each figure given as a ratio to raw TCP.
#
#   bash tools/bench.sh            full run: 3 rounds of ~1 s measurements (~2.5 min)
#   bash tools/bench.sh --quick    1 round of ~0.3 s measurements (~20 s)
#   options: --repeat N   rounds (default 3, quick 1); each figure is the median
#            --no-build   use the existing build/release as it is
#            --keep FILE  also write every raw RESULT line to FILE
#            -- ARGS      pass ARGS to every benchmark program (e.g. --sizes 64,1k)
#
# Builds the release preset if needed, then runs every program in BENCH_CMDS
# one after the other (never in parallel: the machine has 2 cores), round
# after round, so that a burst of load from elsewhere hits one round of
# every implementation rather than all rounds of one. It collects the RESULT
# lines the programs print on stdout and prints one table per test, each row
# the median round (by msgs/s, or by p50 for latency) with the spread of the
# rounds ((max - min) / median) and its ratio to raw TCP:
#   thr     one-way throughput; vs_raw = msgs/s / raw_tcp_batched's msgs/s
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
BENCH_CMDS=(
  tests/bench/peers/bench_raw_tcp
  tests/bench/bench_transport
  "tools/axon_perf bench"
  tests/bench/peers/bench_zmq
  tests/bench/peers/bench_nng
)

quick=()
repeat=""
build=1
keep=""
extra=()
while [ $# -gt 0 ]; do
  case "$1" in
    --quick) quick=(--quick) ;;
    --repeat) repeat=$2; shift ;;
    --no-build) build=0 ;;
    --keep) keep=$2; shift ;;
    --) shift; extra=("$@"); break ;;
    -h|--help) sed -n '2,23p' "$0"; exit 0 ;;
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
trap 'rm -f "$results" "$errors"' EXIT

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
echo "libzmq5 $(pkgver libzmq5), libnng1 $(pkgver libnng1)"

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
function metric(r) { return v[r, "test"] == "lat" ? v[r, "p50_us"] + 0 : v[r, "msgs_per_s"] + 0 }
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
function thr_table(t, title,    m, i, k, key, s, r, b) {
  m = sorted_sizes(t)
  if (m == 0) return
  print ""
  print title
  printf "%-5s %-16s %-8s %4s %11s %8s %6s %6s %9s %8s  %s\n", "size", "impl", "mode", "runs", "msgs/s", "MB/s", "spread", "lost%", "cpu_us/msg", "vs_raw", "check"
  for (i = 1; i <= m; i++) {
    s = order[t, i]
    b = med[t SUBSEP s SUBSEP "raw_tcp_batched"]
    for (k = 1; k <= nk[t]; k++) {
      key = korder[t, k]
      r = med[key]
      split(key, parts, SUBSEP)
      if (parts[2] != s) continue
      if (!r) {
        printf "%-5s %-16s %-8s %4s %11s %8s %6s %6s %9s %8s  %s\n", human(s), parts[3], "-", runs(key), "-", "-", "-", "-", "-", "-", check(key)
        continue
      }
      printf "%-5s %-16s %-8s %4s %11s %8s %6s %6s %9s %8s  %s\n", human(s), parts[3], v[r, "mode"], runs(key),
        v[r, "msgs_per_s"], v[r, "mb_per_s"], spread[key], v[r, "lost_pct"], v[r, "cpu_us_per_msg"],
        ratio(v[r, "msgs_per_s"], b ? v[b, "msgs_per_s"] : ""), check(key)
    }
  }
}
END {
  for (key in nrec) med[key] = pick(key)
  thr_table("thr", "== one-way throughput (msgs/s delivered; vs_raw = / raw_tcp_batched) ==")
  thr_table("fanout", "== fan-out 1 -> N (msgs/s = delivered per second, all subscribers together; vs_raw = / raw_tcp_batched) ==")
  m = sorted_sizes("lat")
  if (m == 0) exit
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
}'
if grep -q '^JOIN ' "$results"; then
  echo ""
  echo "== subscriber start to first message (one line per round) =="
  grep '^JOIN ' "$results" | cut -d' ' -f2-
fi
