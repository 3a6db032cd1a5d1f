#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# Three hosts (network namespaces) joined by veth pairs and a bridge:
# discovery in network mode (multicast on the veth interfaces), then with
# multicast off between hosts and static unicast peers.
#   disc_netns.sh <path to disc_probe>
set -u
PROBE=$1
. "$(dirname "$0")/netns_lib.sh"
need_root

tag=ax$$
sw=${tag}sw
ip netns add "$sw"; NETNS+=("$sw")
ip -n "$sw" link add br0 type bridge
ip -n "$sw" link set br0 up
for i in 1 2 3; do
  h=${tag}h$i
  ip netns add "$h"; NETNS+=("$h")
  ip link add "veth$i$tag" netns "$h" type veth peer name "sw$i" netns "$sw"
  ip -n "$sw" link set "sw$i" master br0
  ip -n "$sw" link set "sw$i" up
  ip -n "$h" link set lo up
  ip -n "$h" link set "veth$i$tag" name eth0
  ip -n "$h" addr add "198.51.100.$i/24" dev eth0
  ip -n "$h" link set eth0 up
done

echo "== network mode: multicast on eth0"
for i in 1 2 3; do
  start_probe "${tag}h$i" "net$i" --mode network --interface eth0 --domain 7 \
    --endpoints 10 --expect-nodes 2 --expect-endpoints 20 --timeout-ms 60000
done
wait_all "^CONVERGED" 60 net1 net2 net3
grep -h "^CONVERGED" "$OUT"/net*.out
# Each host's table holds the others' TCP endpoints on their own addresses.
# A probe says CONVERGED from its table, and JOIN from the listener, which
# the node calls after updating the table: the last JOIN may come later.
wait_all "JOIN name=net2 .*tcp=198.51.100.2:" 10 net1
wait_all "JOIN name=net1 .*tcp=198.51.100.1:" 10 net3
stop_all net1 net2 net3

echo "== network mode, two nodes on one host: one HostBeat for both"
# hb1a makes host 1's table (it starts first) and sends a HostBeat for
# hb1a and hb1b each period; hb1b sends no heartbeat. Hosts 2 and 3 must
# keep hb1b for longer than its lease all the same.
start_probe "${tag}h1" hb1a --mode network --interface eth0 --domain 8 \
  --endpoints 2 --expect-nodes 3 --timeout-ms 60000
wait_all "^READY" 30 hb1a
start_probe "${tag}h1" hb1b --mode network --interface eth0 --domain 8 \
  --endpoints 2 --expect-nodes 3 --timeout-ms 60000
start_probe "${tag}h2" hb2 --mode network --interface eth0 --domain 8 \
  --endpoints 2 --expect-nodes 3 --timeout-ms 60000
start_probe "${tag}h3" hb3 --mode network --interface eth0 --domain 8 \
  --endpoints 2 --expect-nodes 3 --timeout-ms 60000
wait_all "^CONVERGED" 60 hb1a hb1b hb2 hb3
# Longer than a lease (4 s; 5 s under emulation) and a heartbeat: a node
# kept alive by nothing would be dropped in this window.
if [ -n "$EMU" ]; then sleep 8; else sleep 6; fi
for n in hb1a hb1b hb2 hb3; do
  if grep -q "^LEAVE" "$OUT/$n.out"; then echo "FAIL: $n dropped a node:"; grep "^LEAVE" "$OUT/$n.out"; exit 1; fi
done
stop_all hb1a hb1b hb2 hb3
grep -h "^STATS" "$OUT"/hb*.out
field() { grep "^STATS" "$OUT/$1.out" | sed -n "s/.* $2=\([0-9]*\).*/\1/p"; }
[ "$(field hb1a host_beats)" -gt 0 ] || { echo "FAIL: hb1a sent no HostBeat"; exit 1; }
[ "$(field hb1b host_beats)" = 0 ] || { echo "FAIL: hb1b sent HostBeats too"; exit 1; }
[ "$(field hb1b hb_skipped)" -gt 0 ] || { echo "FAIL: hb1b sent its own heartbeats"; exit 1; }

echo "== peers mode: unicast only between hosts"
# h1 lists h2 and h3, h2 lists h3 only, h3 lists nobody: one side listing
# the other is enough (a node answers whoever found it), but there is no
# gossip, so every pair needs one side listing the other.
start_probe "${tag}h1" peer1 --mode peers --peers 198.51.100.2,198.51.100.3 --domain 7 \
  --endpoints 10 --expect-nodes 2 --expect-endpoints 20 --timeout-ms 60000
start_probe "${tag}h2" peer2 --mode peers --peers 198.51.100.3 --domain 7 \
  --endpoints 10 --expect-nodes 2 --expect-endpoints 20 --timeout-ms 60000
start_probe "${tag}h3" peer3 --mode peers --domain 7 \
  --endpoints 10 --expect-nodes 2 --expect-endpoints 20 --timeout-ms 60000
wait_all "^CONVERGED" 60 peer1 peer2 peer3
grep -h "^CONVERGED" "$OUT"/peer*.out
stop_all peer1 peer2 peer3
echo "PASS"
