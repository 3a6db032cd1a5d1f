#!/bin/sh
# SPDX-License-Identifier: Apache-2.0
# The bridge's load figure (docs/performance.md): the demo (obstacles and a
# 1 MiB point cloud at 10 Hz) forwarded by `axon bridge foxglove` in its
# default configuration to CLIENTS Foxglove clients for SECONDS, in a
# network namespace of its own; prints what each client received against
# what was published, the drops, and the bridge's CPU and memory.
#
#   sh tests/web/bench_bridge.sh BUILD_DIR [SECONDS [CLIENTS [TOPIC...]]]
#
# Needs the web check's npm packages (cmake --build BUILD_DIR --target
# web_node_deps). Every process it starts stops by itself.
set -eu
build=$1
seconds=${2:-20}
clients=${3:-2}
[ $# -ge 3 ] && shift 3 || shift $#
topics=${*:-/perception/obstacles /perception/points}
here=$(cd "$(dirname "$0")" && pwd)
nodedir=$build/tests/web/node
if [ ! -d "$nodedir/node_modules/@foxglove/ws-protocol" ]; then
  echo "run: cmake --build $build --target web_node_deps" >&2
  exit 2
fi
if [ "${AXON_BENCH_NETNS:-}" != 1 ] && [ "$(id -u)" = 0 ] && unshare -n true 2>/dev/null; then
  AXON_BENCH_NETNS=1 exec unshare -n sh -c 'ip link set lo up && exec "$@"' sh \
    sh "$0" "$build" "$seconds" "$clients" $topics
fi
export AXON_DOMAIN=7
cp "$here/bench_clients.mjs" "$nodedir/"
tmp=$(mktemp -d)
life=$((seconds + 40))
"$build/examples/perception_node" --duration "$life" >"$tmp/perception.log" 2>&1 &
p1=$!
"$build/examples/planning_node" --duration "$life" >"$tmp/planning.log" 2>&1 &
p2=$!
"$build/tools/axon/axon" bridge foxglove --port 0 --duration "$life" >"$tmp/bridge.out" 2>"$tmp/bridge.err" &
bridge=$!
trap 'kill $p1 $p2 $bridge 2>/dev/null || true; wait 2>/dev/null || true; rm -rf "$tmp"' EXIT
end=$(($(date +%s) + 15))
until grep -q '^foxglove: ' "$tmp/bridge.out" 2>/dev/null; do
  [ "$(date +%s)" -lt "$end" ] || { echo "the bridge did not start" >&2; cat "$tmp/bridge.err" >&2; exit 1; }
  sleep 0.1
done
ws=$(sed -n 's/^foxglove: //p' "$tmp/bridge.out")
# CPU (user + system) of a process, in clock ticks.
ticks() { awk '{print $14 + $15}' "/proc/$1/stat"; }
hz=$(getconf CLK_TCK)
b0=$(ticks $bridge) s0=$(ticks $p2) q0=$(ticks $p1)
t0=$(date +%s.%N)
(cd "$nodedir" && node bench_clients.mjs "$ws" "$seconds" "$clients" $topics) >"$tmp/result.json"
b1=$(ticks $bridge) s1=$(ticks $p2) q1=$(ticks $p1)
t1=$(date +%s.%N)
rss=$(awk '/^VmHWM/ {print $2}' "/proc/$bridge/status")
pct() { awk -v c="$1" -v hz="$hz" -v a="$t0" -v b="$t1" 'BEGIN {printf "%.1f%%", 100 * c / hz / (b - a)}'; }
echo "over $(awk -v a="$t0" -v b="$t1" 'BEGIN {printf "%.1f", b - a}') s (connect, warm-up and window), CPU of one core:"
echo "  axon bridge foxglove (to $clients clients): $(pct $((b1 - b0))), peak RSS ${rss} KiB"
echo "  planning_node (a native subscriber of both topics): $(pct $((s1 - s0)))"
echo "  perception_node (the publisher): $(pct $((q1 - q0)))"
python3 -c '
import json, sys
r = json.load(open(sys.argv[1]))
print("window %.1f s" % r["seconds"])
for c in r["clients"]:
    for t in c["topics"]:
        print("client %d  %-32s received %5d  published %5s  missing %4s  %6.2f MiB/s" % (
            c["id"], t["topic"], t["received"], t["published_in_window"], t["missing"], t["mib_per_s"]))
    print("client %d  drop notices: %d%s" % (c["id"], len(c["drop_notices"]),
          (" (" + c["drop_notices"][0] + ")") if c["drop_notices"] else ""))
' "$tmp/result.json"
