// SPDX-License-Identifier: Apache-2.0
// Checks `axon bridge foxglove` under simulated time (node.use_sim_time):
// it offers the protocol's "time" capability and sends the node's time,
// which follows the clock messages on /clock, not the wall clock; the
// message frames carry that time too.
//
//   AXON_WEB_TALKER=... AXON_DOMAIN=D node time_check.mjs WS_URL
//
// tests/cli's talker publishes /clock (axon.Clock: 8 bytes, the count k =
// 1, 2, 3 ... as nanoseconds) and /web/simsecret. Prints PASS/FAIL lines;
// exits 0 when all passed. Bounded at 30 s.
import { spawn } from "node:child_process";
import wsp from "@foxglove/ws-protocol";
import WebSocket from "ws";

const { FoxgloveClient } = wsp;
const url = process.argv[2];
let failures = 0;
function check(ok, what, detail) {
  console.log(`${ok ? "PASS" : "FAIL"}: ${what}${detail !== undefined ? ` (${detail})` : ""}`);
  if (!ok) failures++;
}
const talker = spawn(process.env.AXON_WEB_TALKER, ["--name", "sim-clock", "--domain", process.env.AXON_DOMAIN ?? "5",
  "--pub", "/clock=raw:axon.Clock@50", "--pub", "/web/simsecret=clitest.Secret@10", "--size", "8",
  "--print", "none"], { stdio: ["pipe", "ignore", "inherit"] });
talker.stdin.on("error", () => {});
let spawnError;
talker.on("error", (e) => (spawnError = e.message));
function finish() {
  talker.stdin.end("quit\n");
  console.log(failures === 0 ? "time_check: all checks passed" : `time_check: ${failures} check(s) failed`);
  process.exit(failures === 0 ? 0 : 1);
}
setTimeout(() => {
  check(false, "the checks finished within 30 s");
  finish();
}, 30_000);
async function until(cond, ms) {
  const end = performance.now() + ms;
  while (!cond() && performance.now() < end) await new Promise((r) => setTimeout(r, 20));
  return cond();
}

const client = new FoxgloveClient({ ws: new WebSocket(url, [FoxgloveClient.SUPPORTED_SUBPROTOCOL]) });
let info;
const times = [];
const msgTimes = [];
const channels = new Map();
client.on("serverInfo", (i) => (info = i));
client.on("time", (t) => times.push(BigInt(t.timestamp)));
client.on("advertise", (list) => list.forEach((c) => channels.set(c.topic, c)));
client.on("message", ({ timestamp }) => msgTimes.push(BigInt(timestamp)));

check(await until(() => info, 10_000), "serverInfo arrives");
check(info?.capabilities?.includes("time"), "serverInfo.capabilities has time (node.use_sim_time)",
  JSON.stringify(info?.capabilities));
check(await until(() => times.length >= 5 || spawnError, 15_000) && !spawnError, "time messages arrive",
  spawnError ?? `${times.length}`);
const rising = times.every((t, i) => i === 0 || t > times[i - 1]);
// The clock counts k = 1, 2, ... nanoseconds: far from any wall-clock time.
check(rising && times.length > 0 && times[times.length - 1] < 1_000_000n,
  "the time is the simulated clock's, rising", times.slice(0, 5).join(", "));
if (await until(() => channels.has("/web/simsecret"), 10_000)) {
  client.subscribe(channels.get("/web/simsecret").id);
  check(await until(() => msgTimes.length >= 3, 10_000) && msgTimes.every((t) => t < 1_000_000n),
    "message frames carry the simulated time", msgTimes.slice(0, 3).join(", "));
} else {
  check(false, "/web/simsecret is advertised");
}
client.close();
finish();
