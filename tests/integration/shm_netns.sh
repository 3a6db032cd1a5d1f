#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# Shared memory and network namespaces, with real processes: two "hosts"
# that are network namespaces of one kernel (a container with its own
# network, say), joined by a veth pair, discovery in network mode.
#  - same namespace: the subscriber reads through shared memory;
#  - another namespace: same boot id, but the publisher's abstract Unix
#    socket is not reachable from there, so the link falls back to TCP at
#    once and says why (reason 4, unreachable), and every message arrives;
#  - the same with shm: require: not connected, and the error says why.
#   shm_netns.sh <path to shm_node>
set -u
PROBE=$1
. "$(dirname "$0")/netns_lib.sh"
need_root

tag=axs$$
for i in 1 2; do ip netns add "${tag}h$i"; NETNS+=("${tag}h$i"); done
ip link add "a$tag" netns "${tag}h1" type veth peer name "b$tag" netns "${tag}h2"
for i in 1 2; do
  h=${tag}h$i
  ip -n "$h" link set lo up
  if [ "$i" = 1 ]; then dev=a$tag; else dev=b$tag; fi
  ip -n "$h" link set "$dev" name eth0
  ip -n "$h" addr add "198.51.100.$i/24" dev eth0
  ip -n "$h" link set eth0 up
done
NET=(--mode network --interface eth0 --domain 7)
T=60
if [ -n "$EMU" ]; then T=240; fi

start_probe "${tag}h1" cam "${NET[@]}" --pub /cam --size 1048576 --count 1000000 --rate 20
start_probe "${tag}h1" cam2 "${NET[@]}" --pub /cam2 --size 1048576 --count 1000000 --rate 20
start_probe "${tag}h1" near "${NET[@]}" --sub /cam
start_probe "${tag}h2" far "${NET[@]}" --sub /cam
start_probe "${tag}h2" strict "${NET[@]}" --sub /cam2 --shm require

echo "== same namespace: shared memory"
wait_all "^LINK transport=shm reason=0 error=0" "$T" near
echo "== another namespace: TCP, because the Unix socket is out of reach"
wait_all "^LINK transport=tcp reason=4 error=0" "$T" far
echo "== another namespace, shm required: not connected, and why"
wait_all "^LINK transport=- reason=4 error=AX_ENOTSUP" "$T" strict

# Both readers get intact messages: ask each until it has some (the first
# 1 MiB message over TCP takes a while under emulation), then look at what
# it got. The strict one, never connected, has none.
for name in near far; do
  v="FD_$name"; end=$(( $(date +%s) + T ))
  until grep -q "^STATS received=[1-9]" "$OUT/$name.out"; do
    if [ "$(date +%s)" -ge "$end" ]; then
      echo "FAIL: $name received nothing within ${T}s"; cat "$OUT/$name.out" "$OUT/$name.err"; exit 1
    fi
    echo stats >&"${!v}"
    sleep 0.2 # the polling interval of this wait, which has a deadline
  done
done
v="FD_strict"; echo stats >&"${!v}"
wait_all "^STATS" 30 strict
for name in near far; do
  line=$(grep "^STATS" "$OUT/$name.out" | tail -1)
  echo "$name: $line"
  case "$line" in
    *"received=0 "*) echo "FAIL: $name received nothing"; exit 1 ;;
    *"bad=0") ;;
    *) echo "FAIL: $name saw corrupted messages"; exit 1 ;;
  esac
done
grep -q "^STATS received=0 bad=0" "$OUT/strict.out" || { echo "FAIL: strict received data"; cat "$OUT/strict.out"; exit 1; }
stop_all near far strict cam cam2
echo "PASS"
