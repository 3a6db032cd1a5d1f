#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# The perception -> planning demo: two processes on this host, found by
# host-local discovery with zero configuration, inspected with the axon CLI.
#   bash tools/demo.sh [BUILD_DIR]      (default build/release)
# Exit status: the planning node's verdict (0: both topics at 10 Hz, nothing
# lost).
set -u
cd "$(dirname "$0")/.."
B=${1:-build/release}
EX=$B/examples
CLI=$B/tools/axon/axon
LOG=$(mktemp -d /tmp/axon-demo.XXXXXX)
trap 'kill $PERC 2>/dev/null; wait 2>/dev/null; rm -rf "$LOG"' EXIT

echo "== starting perception_node (publishes /perception/obstacles and a 1 MiB /perception/points at 10 Hz)"
"$EX/perception_node" --duration 13 >"$LOG/perception.out" 2>&1 &
PERC=$!
echo "== starting planning_node (subscribes to both, reports every second)"
"$EX/planning_node" --duration 11 &
PLAN=$!

sleep 2 # let the demo run a moment before inspecting it
echo "== axon node list"
"$CLI" node list
echo "== axon topic list -v"
"$CLI" topic list -v
echo "== axon topic echo /perception/obstacles -n 1 --max-elems 1"
"$CLI" topic echo /perception/obstacles -n 1 --max-elems 1
echo "== axon topic hz /perception/points --duration 3 (publisher counters from the discovery table, no subscription)"
"$CLI" topic hz /perception/points --window 3 --duration 3
echo "== axon doctor (exit 0: nothing wrong)"
"$CLI" doctor

wait $PLAN
status=$?
wait $PERC 2>/dev/null
cat "$LOG/perception.out"
exit $status
