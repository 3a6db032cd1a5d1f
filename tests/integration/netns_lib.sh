# SPDX-License-Identifier: Apache-2.0
# Shared by the namespace tests: run probes, wait for their lines, clean up.
# Sourced, not run. Needs root, iproute2 (and nftables for the loss test).

# $AXON_TEST_EMULATOR (qemu-user for the aarch64 build) goes in front of the
# probe; word splitting on it is intended.
EMU=${AXON_TEST_EMULATOR:-}
OUT=$(mktemp -d /tmp/axon-netns.XXXXXX)
NETNS=()
PIDS=()

need_root() {
  if [ "$(id -u)" != 0 ] || ! command -v ip >/dev/null || ! ip netns add "axchk$$" 2>/dev/null; then
    echo "SKIP: needs root and network namespaces (ip netns)"; exit 77
  fi
  ip netns del "axchk$$"
}

cleanup() {
  for p in "${PIDS[@]}"; do kill -9 "$p" 2>/dev/null; done
  wait 2>/dev/null
  for n in "${NETNS[@]}"; do ip netns del "$n" 2>/dev/null; done
  rm -rf "$OUT"
}
trap cleanup EXIT

# Under emulation (qemu-user, ASan) a starved process misses 100 ms
# heartbeats; give probes a lease that survives it.
SLOW_ARGS=()
if [ -n "$EMU" ]; then SLOW_ARGS=(--lease 5s --heartbeat 500ms); fi

# start_probe NETNS NAME ARGS... : runs the probe in NETNS, output in $OUT/NAME.
# stdin is a fifo held open by this script, so the probe exits (with Bye)
# when the script closes it or ends.
start_probe() {
  local ns=$1 name=$2; shift 2
  mkfifo "$OUT/$name.in"
  # shellcheck disable=SC2086
  ip netns exec "$ns" $EMU "$PROBE" --name "$name" "${SLOW_ARGS[@]}" "$@" <"$OUT/$name.in" >"$OUT/$name.out" 2>"$OUT/$name.err" &
  PIDS+=($!)
  exec {fd}>"$OUT/$name.in"
  eval "FD_$name=$fd"
}

# wait_all PATTERN TIMEOUT_S NAMES... : every probe printed a line matching.
wait_all() {
  local pat=$1 limit=$2; shift 2
  local end=$(( $(date +%s) + limit ))
  for name in "$@"; do
    until grep -q "$pat" "$OUT/$name.out" 2>/dev/null; do
      if [ "$(date +%s)" -ge "$end" ]; then
        echo "FAIL: $name printed no '$pat' within ${limit}s"
        for n in "$@"; do echo "--- $n"; cat "$OUT/$n.out" "$OUT/$n.err"; done
        exit 1
      fi
      if grep -q "TIMEOUT" "$OUT/$name.out" 2>/dev/null; then
        echo "FAIL: $name timed out"; cat "$OUT/$name.out" "$OUT/$name.err"; exit 1
      fi
      sleep 0.05
    done
  done
}

# stop_all NAMES... : close their stdin and wait for BYE.
stop_all() {
  for name in "$@"; do
    local v="FD_$name"
    eval "exec ${!v}>&-"
  done
  wait_all "^BYE" 30 "$@"
}
