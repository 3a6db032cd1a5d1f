#!/usr/bin/env bash
# axon's side-by-side benchmark: raw TCP on loopback (the physical limit),
# ZeroMQ and NNG, in one run, each figure given as a ratio to raw TCP.
#
#   bash tools/bench.sh            full run (about 1.5 s per measurement, ~2 min)
#   bash tools/bench.sh --quick    short runs (~30 s)
#   options: --no-build   use the existing build/release as it is
#            --keep FILE  also write the raw RESULT lines to FILE
#            -- ARGS      pass ARGS to every benchmark program (e.g. --sizes 64,1k)
#
# Builds the release preset if needed, runs every program in BENCH_CMDS one
# after the other (never in parallel: the machine has 2 cores), collects the
# RESULT lines they print on stdout and prints one table per test:
#   thr     one-way throughput; ratio = msgs/s / raw_tcp_batched's msgs/s
#   fanout  1 -> N subscribers; ratio = delivered/s / raw_tcp_batched's
#   lat     64-byte ping-pong;  ratio = p50 / raw_tcp's p50 (and p99 / p99)
# A ratio above 1 is better for thr and fanout, worse for lat.
# Needs only bash, coreutils and awk (works after `bash tools/dev.sh deps`).
set -euo pipefail
cd "$(dirname "$0")/.."

BUILD=build/release

# The benchmark programs, relative to $BUILD. To place axon's own numbers in
# the same run, add its programs here: anything that prints RESULT lines in
# the format of tests/bench/peers/peer_common.h (impl=axon_... test=thr|lat|fanout
# size=...) joins the table and gets its ratio. A program that was not built
# (e.g. ZeroMQ missing) is skipped with a note.
BENCH_CMDS=(
  tests/bench/peers/bench_raw_tcp
  tests/bench/peers/bench_zmq
  tests/bench/peers/bench_nng
)

quick=()
build=1
keep=""
extra=()
while [ $# -gt 0 ]; do
  case "$1" in
    --quick) quick=(--quick) ;;
    --no-build) build=0 ;;
    --keep) keep=$2; shift ;;
    --) shift; extra=("$@"); break ;;
    -h|--help) sed -n '2,19p' "$0"; exit 0 ;;
    *) echo "bench.sh: unknown argument $1" >&2; exit 2 ;;
  esac
  shift
done

if [ "$build" = 1 ]; then
  if [ ! -f "$BUILD/CMakeCache.txt" ]; then
    cmake --preset release >/dev/null
  fi
  cmake --build --preset release -j2 >/dev/null
fi

# Each program bounds every one of its runs itself; this cap only guards
# against a program that misbehaves as a whole.
if [ ${#quick[@]} -gt 0 ]; then prog_cap=90; else prog_cap=300; fi

results=$(mktemp)
errors=$(mktemp)
trap 'rm -f "$results" "$errors"' EXIT

start=$(date +%s)
for cmd in "${BENCH_CMDS[@]}"; do
  set -- $cmd
  prog=$BUILD/$1
  shift
  if [ ! -x "$prog" ]; then
    echo "# skipped: $prog was not built" >&2
    continue
  fi
  echo "# running $(basename "$prog") $* ${quick[*]} ${extra[*]}" >&2
  rc=0
  timeout --kill-after=5 "$prog_cap" "$prog" "$@" "${quick[@]}" "${extra[@]}" \
    >>"$results" 2>>"$errors" || rc=$?
  if [ "$rc" != 0 ]; then
    echo "# $(basename "$prog") exited with status $rc" >&2
  fi
done
elapsed=$(( $(date +%s) - start ))

if [ -s "$errors" ]; then
  echo "# stderr of the benchmark programs:" >&2
  sed 's/^/#   /' "$errors" >&2
fi
if [ -n "$keep" ]; then
  grep '^RESULT ' "$results" >"$keep" || true
fi

pkgver() { dpkg-query -W -f '${Version}' "$1" 2>/dev/null || echo "?"; }
echo "axon peer benchmark, $(date -u '+%Y-%m-%d %H:%M UTC'), ${elapsed} s${quick[*]:+, --quick}"
echo "machine: $(nproc) cores, $(uname -sr), $(awk -F': ' '/^model name/ {print $2; exit}' /proc/cpuinfo 2>/dev/null)"
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
{
  n++
  for (i = 2; i <= NF; i++) {
    eq = index($i, "=")
    if (eq) v[n, substr($i, 1, eq - 1)] = substr($i, eq + 1)
  }
  t = v[n, "test"]; s = v[n, "size"] + 0
  if (!((t, s) in seen)) { seen[t, s] = 1; sizes[t] = sizes[t] " " s }
  if (v[n, "error"] == "") {
    if (t == "lat" && v[n, "impl"] == "raw_tcp") { base50[s] = v[n, "p50_us"]; base99[s] = v[n, "p99_us"] }
    if (t != "lat" && v[n, "impl"] == "raw_tcp_batched") base[t, s] = v[n, "msgs_per_s"]
  }
}
function sorted_sizes(t,    a, k, m, i, j, tmp) {
  m = split(sizes[t], a, " ")
  for (i = 2; i <= m; i++)
    for (j = i; j > 1 && a[j - 1] + 0 > a[j] + 0; j--) { tmp = a[j]; a[j] = a[j - 1]; a[j - 1] = tmp }
  for (i = 1; i <= m; i++) order[t, i] = a[i]
  return m
}
function thr_table(t, title,    m, i, r, s) {
  m = sorted_sizes(t)
  if (m == 0) return
  print ""
  print title
  printf "%-6s %-17s %-8s %12s %10s %7s %10s %9s  %s\n", "size", "impl", "mode", "msgs/s", "MB/s", "lost%", "cpu_us/msg", "vs_raw", "check"
  for (i = 1; i <= m; i++) {
    s = order[t, i]
    for (r = 1; r <= n; r++) {
      if (v[r, "test"] != t || v[r, "size"] != s) continue
      if (v[r, "error"] != "") {
        printf "%-6s %-17s %-8s %12s %10s %7s %10s %9s  FAIL (%s)\n", human(s), v[r, "impl"], "-", "-", "-", "-", "-", "-", v[r, "error"]
        continue
      }
      printf "%-6s %-17s %-8s %12s %10s %7s %10s %9s  %s\n", human(s), v[r, "impl"], v[r, "mode"],
        v[r, "msgs_per_s"], v[r, "mb_per_s"], v[r, "lost_pct"], v[r, "cpu_us_per_msg"],
        ratio(v[r, "msgs_per_s"], base[t, s]), v[r, "check"] (v[r, "note"] != "" ? " (" v[r, "note"] ")" : "")
    }
  }
}
END {
  thr_table("thr", "== one-way throughput (msgs/s delivered; vs_raw = / raw_tcp_batched) ==")
  thr_table("fanout", "== fan-out 1 -> N (msgs/s = delivered per second, all subscribers; vs_raw = / raw_tcp_batched) ==")
  m = sorted_sizes("lat")
  if (m > 0) {
    print ""
    print "== ping-pong round trip (us; vs_raw = / raw_tcp, lower is better) =="
    printf "%-6s %-17s %8s %9s %9s %9s %9s %10s %10s  %s\n", "size", "impl", "samples", "p50", "p99", "p99.9", "max", "p50_vs_raw", "p99_vs_raw", "check"
    for (i = 1; i <= m; i++) {
      s = order["lat", i]
      for (r = 1; r <= n; r++) {
        if (v[r, "test"] != "lat" || v[r, "size"] != s) continue
        if (v[r, "error"] != "") {
          printf "%-6s %-17s %8s %9s %9s %9s %9s %10s %10s  FAIL (%s)\n", human(s), v[r, "impl"], "-", "-", "-", "-", "-", "-", "-", v[r, "error"]
          continue
        }
        printf "%-6s %-17s %8s %9s %9s %9s %9s %10s %10s  %s\n", human(s), v[r, "impl"], v[r, "samples"],
          v[r, "p50_us"], v[r, "p99_us"], v[r, "p999_us"], v[r, "max_us"],
          ratio(v[r, "p50_us"], base50[s]), ratio(v[r, "p99_us"], base99[s]), v[r, "check"]
      }
    }
  }
}'
