#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# Discovery at scale (issue 14): N node processes in one network namespace,
# each a default node with 3 publishers at 1 Hz (tests/bench/bench_scale.c),
# and an observer node that subscribes to one of them.
#
#   bash tools/scale.sh [--nodes 1,10,50,100,200] [--hosts 1|3] [--window 5] [--settle 20]
#                       [--build DIR]
#
# Needs root (network namespaces of its own: nothing leaves them). --hosts 1
# (default): every process in one namespace, discovery in its default local
# mode. --hosts 3: three namespaces joined by a bridge, the nodes spread over
# them round-robin, discovery in network mode on their eth0. For each N:
#   converge_ms   from the last node's start to the observer's table holding
#                 all N nodes, complete, with their 3N publishers
#   cpu_pct       CPU of all N node processes together over a steady window
#                 (--window s, starting --settle s after convergence)
#                 (% of one core; every thread's run time from
#                 /proc/PID/task/*/schedstat), and per node
#   dgrams_out/s  UDP datagrams sent in the namespaces per second (Udp
#                 OutDatagrams), dgrams_in/s received (InDatagrams: each
#                 multicast copy counts), kib/s bytes sent on lo (one
#                 host) or on the hosts' eth0 (three) per second
#   rcvbuf_err    UDP receive-buffer overflows (Udp RcvbufErrors) from the
#                 first start to the end of the window
#   kill_matched_ms   kill -9 of the observer's publisher -> UNMATCHED
#   kill_other_ms     kill -9 of another node -> gone from the table
#   rejoin_ms         that node started again -> back in the table, complete
# Every process is stopped by its pid at the end (SIGTERM: Bye), and runs
# at most --lifetime seconds in any case.
set -euo pipefail
cd "$(dirname "$0")/.."

nodes=1,10,50,100,200
hosts=1
window=5
settle=20
build=build/release
while [ $# -gt 0 ]; do
  case "$1" in
    --nodes) nodes=$2; shift ;;
    --window) window=$2; shift ;;
    --settle) settle=$2; shift ;;
    --hosts) hosts=$2; shift ;;
    --build) build=$2; shift ;;
    *) echo "scale.sh: unknown option $1" >&2; exit 2 ;;
  esac
  shift
done
[ "$(id -u)" = 0 ] || { echo "scale.sh: needs root (a network namespace)" >&2; exit 2; }
if [ ! -x "$build/tests/bench/bench_scale" ]; then
  if [ "$build" = build/release ]; then
    cmake --preset release >/dev/null && cmake --build --preset release --target bench_scale >/dev/null
  else
    echo "scale.sh: no $build/tests/bench/bench_scale" >&2; exit 2
  fi
fi
case "$hosts" in 1|3) ;; *) echo "scale.sh: --hosts takes 1 or 3" >&2; exit 2 ;; esac
BIN=$(realpath "$build/tests/bench/bench_scale")
OUT=$(mktemp -d /tmp/axon-scale.XXXXXX)
tag=axscale$$
NSS=()   # the hosts
ALLNS=() # and the bridge's
PIDS=()
OBS_PID=""
DEV=lo
cleanup() {
  for p in "${PIDS[@]}" $OBS_PID; do kill -TERM "$p" 2>/dev/null || true; done
  sleep 1
  for p in "${PIDS[@]}" $OBS_PID; do kill -9 "$p" 2>/dev/null || true; done
  wait 2>/dev/null || true
  for ns in "${ALLNS[@]}"; do ip netns del "$ns" 2>/dev/null || true; done
  rm -rf "$OUT"
}
trap cleanup EXIT
if [ "$hosts" = 1 ]; then
  ip netns add "$tag"; ALLNS+=("$tag"); NSS+=("$tag")
  ip -n "$tag" link set lo up
else
  ip netns add "${tag}sw"; ALLNS+=("${tag}sw")
  ip -n "${tag}sw" link add br0 type bridge
  ip -n "${tag}sw" link set br0 up
  for i in $(seq 1 "$hosts"); do
    h=${tag}h$i
    ip netns add "$h"; ALLNS+=("$h"); NSS+=("$h")
    ip link add "vs$i$$" netns "$h" type veth peer name "sw$i" netns "${tag}sw"
    ip -n "${tag}sw" link set "sw$i" master br0
    ip -n "${tag}sw" link set "sw$i" up
    ip -n "$h" link set lo up
    ip -n "$h" link set "vs$i$$" name eth0
    ip -n "$h" addr add "198.51.100.$i/24" dev eth0
    ip -n "$h" link set eth0 up
  done
  printf 'discovery:\n  mode: network\n  interface: eth0\n' >"$OUT/net.yaml"
  export AXON_CONFIG=$OUT/net.yaml
  DEV=eth0
fi
# The host of node I (1-based): round-robin.
ns_of() { echo "${NSS[$(( ($1 - 1) % hosts ))]}"; }

now_ns() { date +%s%N; }

# CPU time in ns of the given pids together, every thread (schedstat:
# nanoseconds, where /proc/PID/stat counts 10 ms ticks, too coarse for an
# idle node).
cpu_ns() {
  cat $(printf '/proc/%s/task/*/schedstat ' "$@") 2>/dev/null | awk '{ s += $1 } END { printf "%.0f", s }'
}

# snmp FIELD: a Udp counter, summed over the hosts.
snmp() {
  local sum=0 ns v
  for ns in "${NSS[@]}"; do
    v=$(ip netns exec "$ns" awk -v k="$1" '/^Udp:/ { if (!h) { for (i = 1; i <= NF; i++) c[$i] = i; h = 1 } else print $(c[k]) }' /proc/net/snmp)
    sum=$((sum + v))
  done
  echo "$sum"
}
tx_bytes() {
  local sum=0 ns
  for ns in "${NSS[@]}"; do
    sum=$((sum + $(ip netns exec "$ns" cat "/sys/class/net/$DEV/statistics/tx_bytes")))
  done
  echo "$sum"
}

# wait_line FILE PATTERN TIMEOUT_S: the first matching line, or fail.
wait_line() {
  local end=$(( $(date +%s) + $3 ))
  until grep -q "$2" "$1" 2>/dev/null; do
    if [ "$(date +%s)" -ge "$end" ]; then echo "TIMEOUT waiting for '$2' in $1" >&2; return 1; fi
    sleep 0.01
  done
  grep -m1 "$2" "$1"
}

start_node() { # NAME DOMAIN NETNS
  ip netns exec "$3" "$BIN" --role node --name "$1" --domain "$2" --lifetime-s 900 \
    </dev/null >"$OUT/$1.out" 2>&1 &
  PIDS+=($!)
}

printf "discovery scale benchmark, %s, %s cores, %s, %s host(s)\n" "$(date -u '+%Y-%m-%d %H:%M UTC')" \
  "$(nproc)" "$(uname -r)" "$hosts"
printf "%5s %11s %9s %12s %12s %11s %8s %10s %15s %13s %9s\n" N converge_ms cpu_pct cpu_pct/node \
  dgrams_out/s dgrams_in/s kib/s rcvbuf_err kill_matched_ms kill_other_ms rejoin_ms
dom=40
for n in ${nodes//,/ }; do
  dom=$((dom + 1))
  PIDS=()
  rm -f "$OUT"/*.out
  mkfifo "$OUT/obs.in"
  ip netns exec "${NSS[0]}" "$BIN" --role observer --name observer --domain $dom --expect-nodes "$n" \
    --watch-topic /scale/s0001/t0 <"$OUT/obs.in" >"$OUT/obs.out" 2>&1 &
  OBS_PID=$!
  exec {obs_in}>"$OUT/obs.in"
  wait_line "$OUT/obs.out" "^READY" 30 >/dev/null
  err0=$(snmp RcvbufErrors)
  for i in $(seq 1 "$n"); do
    t_last=$(now_ns) # just before the last start
    start_node "$(printf 's%04d' "$i")" $dom "$(ns_of "$i")"
  done
  line=$(wait_line "$OUT/obs.out" "^CONVERGED" 120) || { echo "N=$n did not converge"; continue; }
  t_conv=${line#*t=}; t_conv=${t_conv%% *}
  converge_ms=$(( (t_conv - t_last) / 1000000 ))
  # Steady state: the joins are over, and every node's first full refresh
  # (discovery.refresh, 15 s, jittered to 11-19 s) has come, so the window
  # sees refreshes at their steady rate.
  sleep "$settle"
  # Each counter read with its own clock: under load the reads of the
  # namespaces' counters take a while, and must not stretch the CPU window.
  tc0=$(now_ns); c0=$(cpu_ns "${PIDS[@]}")
  t0=$(now_ns); o0=$(snmp OutDatagrams); i0=$(snmp InDatagrams); b0=$(tx_bytes)
  sleep "$window"
  tc1=$(now_ns); c1=$(cpu_ns "${PIDS[@]}")
  t1=$(now_ns); o1=$(snmp OutDatagrams); i1=$(snmp InDatagrams); b1=$(tx_bytes)
  err1=$(snmp RcvbufErrors)
  dt_ms=$(( (t1 - t0) / 1000000 ))
  cpu=$(awk -v c=$((c1 - c0)) -v ms=$(( (tc1 - tc0) / 1000000 )) 'BEGIN { printf "%.2f", 100 * c / 1e6 / ms }')
  per=$(awk -v c="$cpu" -v n="$n" 'BEGIN { printf "%.3f", c / n }')
  outs=$(awk -v d=$((o1 - o0)) -v ms=$dt_ms 'BEGIN { printf "%.0f", d / (ms / 1000) }')
  ins=$(awk -v d=$((i1 - i0)) -v ms=$dt_ms 'BEGIN { printf "%.0f", d / (ms / 1000) }')
  kib=$(awk -v d=$((b1 - b0)) -v ms=$dt_ms 'BEGIN { printf "%.1f", d / 1024 / (ms / 1000) }')
  # kill -9 of the matched publisher (s0001), then of another node, which
  # then comes back.
  km=- ko=- rj=-
  if [ "$n" -ge 2 ]; then
    tk=$(now_ns); kill -9 "${PIDS[0]}"; wait "${PIDS[0]}" 2>/dev/null || true
    if line=$(wait_line "$OUT/obs.out" "^UNMATCHED" 30); then t=${line#*t=}; km=$(( (t - tk) / 1000000 )); fi
    other=$(printf 's%04d' "$n")
    echo "gone $other" >&"$obs_in"
    tk=$(now_ns); kill -9 "${PIDS[$((n - 1))]}"; wait "${PIDS[$((n - 1))]}" 2>/dev/null || true
    if line=$(wait_line "$OUT/obs.out" "^GONE" 30); then t=${line#*t=}; ko=$(( (t - tk) / 1000000 )); fi
    echo "back $other" >&"$obs_in"
    tk=$(now_ns); start_node "$other" $dom "$(ns_of "$n")"
    if line=$(wait_line "$OUT/obs.out" "^BACK" 30); then t=${line#*t=}; rj=$(( (t - tk) / 1000000 )); fi
  fi
  printf "%5s %11s %9s %12s %12s %11s %8s %10s %15s %13s %9s\n" "$n" "$converge_ms" "$cpu" "$per" \
    "$outs" "$ins" "$kib" $((err1 - err0)) "$km" "$ko" "$rj"
  for p in "${PIDS[@]}"; do kill -TERM "$p" 2>/dev/null || true; done
  exec {obs_in}>&-
  for p in "${PIDS[@]}" "$OBS_PID"; do
    for _ in $(seq 1 100); do kill -0 "$p" 2>/dev/null || break; sleep 0.05; done
    kill -9 "$p" 2>/dev/null || true
  done
  wait 2>/dev/null || true
  OBS_PID=""
  rm -f "$OUT/obs.in"
done
