#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# 10 nodes x 100 endpoints in one namespace converge, and converge again with
# 30 % of discovery datagrams dropped at random (nftables: the kernel here
# has no netem).
#   disc_loss.sh <path to disc_probe>
set -u
PROBE=$1
. "$(dirname "$0")/netns_lib.sh"
need_root
if [ -n "$EMU" ]; then
  # Twenty emulated ASan processes (ten per run) on two cores miss their
  # heartbeats by seconds; what this test checks (paging, generations,
  # loss) is the same C code on every architecture, and runs natively.
  echo "SKIP: 10-process loss test not run under emulation ($EMU)"; exit 77
fi
command -v nft >/dev/null || { echo "SKIP: nft (nftables) is not installed"; exit 77; }

for loss in 0 30; do
  ns=ax$$l$loss
  ip netns add "$ns"; NETNS+=("$ns")
  ip -n "$ns" link set lo up
  if [ "$loss" != 0 ]; then
    # Discovery ports of domain 9: 7400 + 90 .. + 8 (multicast and unicast).
    ip netns exec "$ns" nft -f - <<NFT
table inet axonloss {
  chain in {
    type filter hook input priority 0;
    udp dport 7490-7498 numgen random mod 100 < $loss counter drop
  }
}
NFT
  fi
  names=()
  for i in $(seq -w 1 10); do
    start_probe "$ns" "l${loss}n$i" --domain 9 --endpoints 100 --expect-nodes 9 \
      --expect-endpoints 900 --timeout-ms 120000
    names+=("l${loss}n$i")
  done
  start=$(date +%s%N)
  wait_all "^CONVERGED" 120 "${names[@]}"
  echo "== ${loss}% loss: all 10 converged in $(( ($(date +%s%N) - start) / 1000000 )) ms (slowest probe below)"
  grep -h "^CONVERGED" "$OUT"/l${loss}n*.out | sort -t= -k2 -n | tail -1
  if [ "$loss" != 0 ]; then
    ip netns exec "$ns" nft list ruleset | grep -o "counter packets [0-9]*" | sed 's/^/dropped by nft: /'
  fi
  stop_all "${names[@]}"
done
echo "PASS"
