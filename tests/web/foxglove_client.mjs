// SPDX-License-Identifier: Apache-2.0
// Checks `axon bridge foxglove` with Foxglove's own client library
// (@foxglove/ws-protocol over `ws`), the way Foxglove talks to it.
//
//   node foxglove_client.mjs WS_URL [CHATTER_KEY CHATTER_VALUE]
//
// Expects, on the bridge's domain: examples/perception_node publishing
// /perception/obstacles and /perception/points, and
//   axon topic pub /web/chatter axon.std.KeyValue '{key: K, value: V}' --rate 20
// with K and V as given here (default "web" and "hello").
//
// Prints one PASS/FAIL line per check and exits 0 when all passed, 1 if not.
// Every wait has a deadline, and the whole script is stopped at 60 s, so a
// bridge that goes quiet fails the check instead of hanging the test.
//
// This script must sit next to node_modules with the pinned packages of
// package.json (tests/web/run_web_check.sh copies it there): Node resolves
// an ES module's imports from the file's own folder, not from NODE_PATH.

import { spawn } from "node:child_process";
import wsp from "@foxglove/ws-protocol";
import WebSocket from "ws";
import protobuf from "protobufjs";
import descriptor from "protobufjs/ext/descriptor/index.js";

// The package is CommonJS whose exports Node cannot list for an ES import,
// so the names come off its default export.
const { FoxgloveClient } = wsp;
const SUBPROTOCOL = FoxgloveClient.SUPPORTED_SUBPROTOCOL; // foxglove.websocket.v1

const url = process.argv[2];
if (!url || process.argv.length > 5) {
  console.error("usage: node foxglove_client.mjs WS_URL [CHATTER_KEY CHATTER_VALUE]");
  process.exit(2);
}
const chatterKey = process.argv[3] ?? "web";
const chatterValue = process.argv[4] ?? "hello";

const TOPICS = {
  "/perception/obstacles": "axon.perception.ObstacleList",
  "/perception/points": "axon.sensor.PointCloud",
  "/web/chatter": "axon.std.KeyValue",
};
const MIN_MESSAGES = 5; // per channel before the unsubscribe and hostile checks
const TOTAL_BUDGET_MS = 60_000;

let failures = 0;
function check(ok, what, detail) {
  console.log(`${ok ? "PASS" : "FAIL"}: ${what}${detail !== undefined ? ` (${detail})` : ""}`);
  if (!ok) failures++;
  return ok;
}
function finish() {
  console.log(failures === 0 ? "foxglove_client: all checks passed" : `foxglove_client: ${failures} check(s) failed`);
  process.exit(failures === 0 ? 0 : 1);
}

// The whole run is bounded, whatever a wait below does.
setTimeout(() => {
  check(false, `the checks finished within ${TOTAL_BUDGET_MS / 1000} s`);
  finish();
}, TOTAL_BUDGET_MS);

// Polls cond() until it holds or ms have passed (monotonic clock); returns
// whether it held. This is the only way this script waits. poll, when
// given, is awaited before each test (every 250 ms).
async function until(cond, ms, poll) {
  const end = performance.now() + ms;
  for (;;) {
    if (poll) await poll();
    if (cond()) return true;
    if (performance.now() >= end) return false;
    await new Promise((resolve) => setTimeout(resolve, poll ? 250 : 20));
  }
}

// A protobuf type from an advertised schema: a base64 FileDescriptorSet,
// decoded as Foxglove decodes "protobuf" channels.
function typeFromSchema(channel) {
  const set = descriptor.FileDescriptorSet.decode(Buffer.from(channel.schema, "base64"));
  return protobuf.Root.fromDescriptor(set).lookupType(channel.schemaName);
}

const toBytes = (view) => new Uint8Array(view.buffer, view.byteOffset, view.byteLength);

// ---- the well-behaved client ----

const ws = new WebSocket(url, [SUBPROTOCOL]);
const client = new FoxgloveClient({ ws });
let opened = false;
let closed;
let serverInfo;
const clientErrors = [];
const statuses = [];
const channels = new Map(); // channel id -> advertised channel
client.on("open", () => (opened = true));
client.on("close", (e) => (closed = e));
client.on("error", (e) => clientErrors.push(e?.message ?? String(e)));
client.on("serverInfo", (info) => (serverInfo = info));
client.on("status", (s) => statuses.push(s));
client.on("advertise", (list) => list.forEach((c) => channels.set(c.id, c)));
client.on("unadvertise", (ids) => ids.forEach((id) => channels.delete(id)));
const services = new Map(); // service id -> advertised service
const callResults = new Map(); // call id -> response or failure
client.on("advertiseServices", (list) => list.forEach((sv) => services.set(sv.id, sv)));
client.on("unadvertiseServices", (ids) => ids.forEach((id) => services.delete(id)));
client.on("serviceCallResponse", (r) => callResults.set(r.callId, r));
client.on("serviceCallFailure", (f) => callResults.set(f.callId, f));
const paramAnswers = new Map(); // request id -> parameters
client.on("parameterValues", (v) => v.id !== undefined && paramAnswers.set(v.id, v.parameters));

// Subscriptions: id -> {topic, type, count, problems, ...}.
const subs = new Map();
let unknownSubMessages = 0;
client.on("message", ({ subscriptionId, timestamp, data }) => {
  const s = subs.get(subscriptionId);
  if (!s) {
    unknownSubMessages++;
    return;
  }
  s.count++;
  s.lastTime = timestamp;
  let msg;
  try {
    msg = s.type.decode(toBytes(data));
  } catch (e) {
    s.problems.push(`decode: ${e.message}`);
    return;
  }
  s.inspect(s, msg);
});

// What each topic's messages must hold.
const inspectors = {
  "/web/chatter": (s, m) => {
    if (m.key !== chatterKey || m.value !== chatterValue)
      s.problems.push(`got {key: ${JSON.stringify(m.key)}, value: ${JSON.stringify(m.value)}}`);
  },
  "/perception/obstacles": (s, m) => {
    if (!m.header || !m.header.frame_id) {
      s.problems.push("an obstacle list without header.frame_id");
      return;
    }
    // Reliable topic: the bridge may drop under load but never reorder.
    const seq = BigInt(m.header.seq.toString());
    if (s.lastSeq !== undefined && seq <= s.lastSeq)
      s.problems.push(`header.seq went from ${s.lastSeq} to ${seq}`);
    s.lastSeq = seq;
  },
  "/perception/points": (s, m) => {
    s.maxData = Math.max(s.maxData ?? 0, m.data.length);
    if (m.data.length <= 500_000) s.problems.push(`a point cloud of ${m.data.length} data bytes`);
  },
};

async function main() {
  check(await until(() => opened || closed, 10_000) && opened, `connected to ${url}`,
    closed ? `closed: ${closed.code} ${closed.reason}` : undefined);
  if (!opened) return;
  check(ws.protocol === SUBPROTOCOL, `the server chose subprotocol ${SUBPROTOCOL}`, `got "${ws.protocol}"`);

  if (!check(await until(() => serverInfo, 5_000), "serverInfo arrives")) return;
  console.log(`  serverInfo: name "${serverInfo.name}", capabilities ${JSON.stringify(serverInfo.capabilities)}, ` +
    `supportedEncodings ${JSON.stringify(serverInfo.supportedEncodings)}`);
  check(serverInfo.supportedEncodings?.includes("protobuf"), "serverInfo.supportedEncodings includes protobuf");
  // run_web_check.sh starts this bridge with --client-publish.
  check(Array.isArray(serverInfo.capabilities) && serverInfo.capabilities.includes("clientPublish"),
    "serverInfo.capabilities has clientPublish (--client-publish)");

  // The chatter publisher is found through discovery, so allow it time.
  const byTopic = () => new Map([...channels.values()].map((c) => [c.topic, c]));
  const allSeen = await until(() => Object.keys(TOPICS).every((t) => byTopic().has(t)), 15_000);
  const seen = byTopic();
  check(allSeen, "the three topics are advertised", `advertised: ${[...seen.keys()].join(", ")}`);
  for (const [topic, typeName] of Object.entries(TOPICS)) {
    const c = seen.get(topic);
    if (!c) continue;
    check(c.encoding === "protobuf" && c.schemaEncoding === "protobuf" && c.schemaName === typeName,
      `${topic} is advertised as protobuf ${typeName}`,
      `encoding "${c.encoding}", schemaEncoding "${c.schemaEncoding}", schemaName "${c.schemaName}"`);
    let type;
    try {
      type = typeFromSchema(c);
    } catch (e) {
      check(false, `${topic}: its schema builds a protobufjs type`, e.message);
      continue;
    }
    check(true, `${topic}: its schema builds a protobufjs type`, `${Object.keys(type.fields).length} fields`);
    const id = client.subscribe(c.id);
    subs.set(id, { topic, type, count: 0, problems: [], inspect: inspectors[topic] });
  }
  const subOf = (topic) => [...subs.entries()].find(([, s]) => s.topic === topic) ?? [];
  const [chatterId, chatter] = subOf("/web/chatter");
  const [, obstacles] = subOf("/perception/obstacles");
  if (subs.size !== 3) return;

  const enough = await until(() => [...subs.values()].every((s) => s.count >= MIN_MESSAGES), 20_000);
  check(enough, `at least ${MIN_MESSAGES} messages on each subscribed channel`,
    [...subs.values()].map((s) => `${s.topic} ${s.count}`).join(", "));
  for (const s of subs.values()) {
    check(s.count > 0 && s.problems.length === 0, `${s.topic}: messages decode as expected`,
      s.problems.length ? `${s.problems.length} problem(s), first: ${s.problems[0]}` :
      s.maxData !== undefined ? `largest data ${s.maxData} bytes` : `${s.count} messages`);
  }
  // The receive time is what Foxglove puts on its timeline: wall-clock
  // nanoseconds, like the spec's other timestamps.
  const nowNs = BigInt(Date.now()) * 1_000_000n;
  const day = 86_400n * 1_000_000_000n;
  const t = obstacles.lastTime;
  check(t !== undefined && t > nowNs - day && t < nowNs + day,
    "message receive times are wall-clock nanoseconds", `last ${t}, now ~${nowNs}`);

  await converted();
  await foreignType();
  await clientPublish();
  await serviceCall();

  await hostile("malformed JSON", "{\"op\": \"subscribe\", \"subscriptions\": [");
  await hostile("an unknown op", JSON.stringify({ op: "frobnicate", id: 1 }));
  await hostile("a text message over 64 KiB", JSON.stringify({ op: "subscribe", pad: "x".repeat(70_000) }),
    1009);
  // A subscribe storm: more control messages in a second than a client may send.
  const storm = [];
  for (let i = 0; i < 250; i++)
    storm.push(JSON.stringify({ op: "subscribe", subscriptions: [{ id: 100_000 + i, channelId: 999_999 }] }));
  await hostile("a subscribe storm (250 messages at once)", storm, 1008);

  await slowClient();

  // Unsubscribe: messages already on the wire may still come for ~500 ms,
  // after that the count must not move while the other channels still do.
  client.unsubscribe(chatterId);
  subs.get(chatterId).unsubscribed = true;
  const graceEnd = performance.now() + 500;
  await until(() => performance.now() >= graceEnd, 1_000);
  const frozen = chatter.count;
  const obstaclesBefore = obstacles.count;
  const moved = await until(() => chatter.count !== frozen, 1_500);
  check(!moved, "no /web/chatter message after unsubscribe (+500 ms in flight)",
    `${frozen} before, ${chatter.count} after 1.5 s more`);
  check(obstacles.count > obstaclesBefore, "the other subscriptions kept delivering meanwhile",
    `/perception/obstacles ${obstaclesBefore} -> ${obstacles.count}`);

  check(unknownSubMessages === 0, "no message for a subscription id never made", `${unknownSubMessages}`);
  check(clientErrors.length === 0, "the client library reported no protocol error",
    clientErrors.length ? clientErrors[0] : undefined);
  check(!closed, "the first connection stayed open throughout",
    closed ? `closed: ${closed.code} ${closed.reason}` : undefined);
  if (statuses.length)
    console.log(`  ${statuses.length} status message(s), first: ${statuses[0].level} "${statuses[0].message}"`);
}

// A type the bridge was not built with: cli_talker (tests/cli) publishes
// clitest.Secret, compiled into it alone. The bridge must fetch its schema
// from the talker's node, advertise it, forward messages that decode with
// it, and unadvertise the channel when the talker leaves.
async function foreignType() {
  const talkerPath = process.env.AXON_WEB_TALKER;
  if (!talkerPath) {
    console.log("  (no AXON_WEB_TALKER: the foreign-type check is not run)");
    return;
  }
  const topic = "/web/secret";
  const talker = spawn(talkerPath, ["--name", "secret-talker", "--domain", process.env.AXON_DOMAIN ?? "5",
    "--pub", `${topic}=clitest.Secret@20`, "--print", "none"], { stdio: ["pipe", "ignore", "inherit"] });
  let spawnError;
  talker.on("error", (e) => (spawnError = e.message));
  talker.stdin.on("error", () => {});
  const find = () => [...channels.values()].find((c) => c.topic === topic);
  if (!check(await until(() => find() || spawnError, 15_000) && !spawnError,
    `${topic} (clitest.Secret, not built into axon) is advertised`, spawnError)) {
    talker.kill("SIGKILL");
    return;
  }
  const c = find();
  check(c.schemaName === "clitest.Secret", `${topic}: schemaName clitest.Secret`, c.schemaName);
  let type;
  try {
    type = typeFromSchema(c);
  } catch (e) {
    check(false, `${topic}: the fetched schema builds a protobufjs type`, e.message);
    talker.kill("SIGKILL");
    return;
  }
  const s = { topic, type, count: 0, problems: [], inspect: (st, m) => {
    const id = BigInt(m.id.toString());
    if (id === 0n || (st.lastId !== undefined && id <= st.lastId)) st.problems.push(`id ${st.lastId} then ${id}`);
    st.lastId = id;
  } };
  const id = client.subscribe(c.id);
  subs.set(id, s);
  check(await until(() => s.count >= 5, 10_000) && s.problems.length === 0,
    `${topic}: messages decode with the schema fetched from the talker, ids rising`,
    s.problems[0] ?? `${s.count} messages`);
  talker.stdin.end("quit\n");
  const gone = await until(() => !channels.has(c.id), 15_000);
  check(gone, `${topic} is unadvertised when its publisher leaves`);
  if (!gone) talker.kill("SIGKILL");
  subs.delete(id);
}

// Services (capability "services"): service_probe (tests/integration)
// serves /add (axon.geometry.Point both ways, z = x + y). The bridge
// advertises it with both schemas, a call made through it comes back with
// the server's answer, a call to a service that does not exist fails
// with a reason, and the service is unadvertised when its server leaves.
async function serviceCall() {
  const probe = process.env.AXON_WEB_SERVICE;
  check(serverInfo.capabilities.includes("services"), "serverInfo.capabilities has services");
  if (!probe) {
    console.log("  (no AXON_WEB_SERVICE: the service check is not run)");
    return;
  }
  const server = spawn(probe, ["--role", "server", "--domain", process.env.AXON_DOMAIN ?? "5"],
    { stdio: ["pipe", "ignore", "inherit"] });
  let spawnError;
  server.on("error", (e) => (spawnError = e.message));
  server.stdin.on("error", () => {});
  const find = () => [...services.values()].find((sv) => sv.name === "/add");
  if (!check(await until(() => find() || spawnError, 15_000) && !spawnError, "the service /add is advertised",
    spawnError)) {
    server.kill("SIGKILL");
    return;
  }
  const sv = find();
  check(sv.request?.schemaName === "axon.geometry.Point" && sv.response?.schemaName === "axon.geometry.Point" &&
    sv.request.encoding === "protobuf", "/add: request and response are protobuf axon.geometry.Point",
    JSON.stringify({ request: sv.request?.schemaName, response: sv.response?.schemaName }));
  let Point;
  try {
    Point = typeFromSchema({ schema: sv.request.schema, schemaName: sv.request.schemaName });
  } catch (e) {
    check(false, "/add: its request schema builds a protobufjs type", e.message);
    server.kill("SIGKILL");
    return;
  }
  const data = Point.encode(Point.create({ x: 2, y: 3 })).finish();
  client.sendServiceCallRequest({ serviceId: sv.id, callId: 41, encoding: "protobuf", data });
  await until(() => callResults.has(41), 15_000);
  const r = callResults.get(41);
  let z;
  if (r?.data) z = Point.decode(toBytes(r.data)).z;
  check(z === 5, "a call of /add with x=2, y=3 through the bridge returns z=5",
    r ? (r.data ? `z=${z}` : `failure: ${r.message}`) : "no answer in 15 s");
  client.sendServiceCallRequest({ serviceId: 999_999, callId: 42, encoding: "protobuf", data });
  await until(() => callResults.has(42), 5_000);
  const f = callResults.get(42);
  check(f && !f.data && typeof f.message === "string" && f.message.length > 0,
    "a call of a service that does not exist gets serviceCallFailure with a reason", f?.message);
  await parameters();
  server.stdin.end("quit\n");
  const gone = await until(() => !services.has(sv.id), 15_000);
  check(gone, "/add is unadvertised when its server leaves");
  if (!gone) server.kill("SIGKILL");
}

// Parameters (capability "parameters"), with service_probe's node
// "svc-server": gain (double in [0, 10], default 1), as "svc-server:gain".
async function parameters() {
  check(serverInfo.capabilities.includes("parameters"), "serverInfo.capabilities has parameters");
  const value = (id) => paramAnswers.get(id)?.find((p) => p.name === "svc-server:gain")?.value;
  client.getParameters(["svc-server:gain"], "g1");
  await until(() => paramAnswers.has("g1"), 10_000);
  check(value("g1") === 1, "getParameters svc-server:gain reads the default 1", JSON.stringify(paramAnswers.get("g1")));
  client.getParameters([], "all");
  await until(() => paramAnswers.has("all"), 10_000);
  const names = (paramAnswers.get("all") ?? []).map((p) => p.name);
  check(names.includes("svc-server:gain") && names.includes("svc-server:mode"),
    "getParameters with no names lists every node's parameters", JSON.stringify(names));
  client.setParameters([{ name: "svc-server:gain", value: 2.5 }], "s1");
  await until(() => paramAnswers.has("s1"), 10_000);
  check(value("s1") === 2.5, "setParameters svc-server:gain = 2.5 answers the new value",
    JSON.stringify(paramAnswers.get("s1")));
  const before = statuses.length;
  client.setParameters([{ name: "svc-server:gain", value: 50 }], "s2");
  await until(() => paramAnswers.has("s2") && statuses.length > before, 10_000);
  const refusal = statuses.slice(before).find((st) => /refused/.test(st.message));
  check(value("s2") === 2.5 && refusal !== undefined,
    "a value out of range is refused, said in a status, and the value stays 2.5",
    `${JSON.stringify(paramAnswers.get("s2"))}; ${refusal?.message}`);
}

// Client publishing (--client-publish): what a client advertises and
// sends is published by the bridge's node; its counters in /api/graph
// show the messages.
async function clientPublish() {
  const topic = "/web/from_client";
  const KeyValue = [...subs.values()].find((s) => s.topic === "/web/chatter")?.type;
  if (!KeyValue) return;
  const ch = client.advertise({ topic, encoding: "protobuf", schemaName: "axon.std.KeyValue" });
  const N = 20;
  await new Promise((r) => setTimeout(r, 300));
  for (let i = 0; i < N; i++)
    client.sendMessage(ch, KeyValue.encode(KeyValue.create({ key: "from", value: `client ${i}` })).finish());
  const httpBase = url.replace(/^ws/, "http");
  let t;
  const published = await until(() => t && t.messages >= N, 10_000, async () => {
    const g = await (await fetch(new URL("api/graph", httpBase), { cache: "no-store" })).json();
    t = g.topics.find((x) => x.name === topic);
  });
  check(published, `${N} messages a client sent are published on ${topic} (axon.std.KeyValue)`,
    t ? `${t.messages} messages, type ${t.type}` : "not in the graph");
  client.unadvertise(ch);
}

// A client that stops reading (a browser tab in the background): its
// queue at the bridge is bounded, so it loses messages, counted in
// /api/graph and told to it in a status message once it reads again; the
// well-behaved client loses nothing meanwhile.
async function slowClient() {
  const httpBase = url.replace(/^ws/, "http");
  const dropped = async () => {
    const r = await fetch(new URL("api/graph", httpBase), { cache: "no-store" });
    return (await r.json()).bridge.dropped;
  };
  const before = await dropped();
  const points = [...channels.values()].find((c) => c.topic === "/perception/points");
  const raw = new WebSocket(url, [SUBPROTOCOL]);
  const told = [];
  let got = 0;
  let info = false;
  raw.on("message", (data, isBinary) => {
    if (isBinary) {
      got++;
      return;
    }
    const m = JSON.parse(data.toString());
    if (m.op === "serverInfo") info = true;
    if (m.op === "status" && /dropped/.test(m.message)) told.push(m.message);
  });
  raw.on("error", () => {});
  if (!check(await until(() => info, 5_000), "slow client: connected")) return;
  raw.send(JSON.stringify({ op: "subscribe", subscriptions: [{ id: 7, channelId: points.id }] }));
  await until(() => got > 0, 5_000);
  raw._socket.pause(); // stop reading: the kernel's buffers fill, then the bridge's queue
  const obstacles = [...subs.values()].find((s) => s.topic === "/perception/obstacles");
  const obsBefore = obstacles.count;
  let after = before;
  const dropsSeen = await until(() => after > before, 25_000, async () => (after = await dropped()));
  check(dropsSeen, "slow client: the bridge drops for it once its queue is full (counted in /api/graph)",
    `bridge.dropped ${before} -> ${after}`);
  check(obstacles.count > obsBefore, "slow client: the other client kept receiving meanwhile",
    `/perception/obstacles ${obsBefore} -> ${obstacles.count}`);
  raw._socket.resume();
  check(await until(() => told.length > 0, 10_000), "slow client: once it reads again it is told how many it lost",
    told[0]);
  raw.close();
  const mine = statuses.filter((st) => /dropped/.test(st.message));
  check(mine.length === 0, "the well-behaved client was never dropped for", mine[0]?.message);
}

// The foxglove.* offers of axon's standard types (bridge_convert.c), as the
// 3D panel reads them: a foxglove.PointCloud with x/y/z fields and the
// cloud's bytes, a foxglove.SceneUpdate with one entity per obstacle.
async function converted() {
  const want = {
    "/perception/points/foxglove": "foxglove.PointCloud",
    "/perception/obstacles/foxglove": "foxglove.SceneUpdate",
  };
  const byTopic = new Map([...channels.values()].map((c) => [c.topic, c]));
  const mine = [];
  for (const [topic, schemaName] of Object.entries(want)) {
    const c = byTopic.get(topic);
    if (!check(c && c.schemaName === schemaName && c.encoding === "protobuf",
      `${topic} is advertised as ${schemaName}`, c ? `schemaName "${c.schemaName}"` : "not advertised"))
      continue;
    let type;
    try {
      type = typeFromSchema(c);
    } catch (e) {
      check(false, `${topic}: its schema builds a protobufjs type`, e.message);
      continue;
    }
    const id = client.subscribe(c.id);
    const s = { topic, type, count: 0, problems: [], inspect: convInspectors[topic] };
    subs.set(id, s);
    mine.push([id, s]);
  }
  if (mine.length === 0) return;
  const enough = await until(() => mine.every(([, s]) => s.count >= 3), 10_000);
  check(enough, "at least 3 messages on each foxglove.* channel", mine.map(([, s]) => `${s.topic} ${s.count}`).join(", "));
  for (const [id, s] of mine) {
    check(s.count > 0 && s.problems.length === 0, `${s.topic}: converted messages are what the panel needs`,
      s.problems.length ? `${s.problems.length} problem(s), first: ${s.problems[0]}` : `${s.count} messages`);
    client.unsubscribe(id);
    s.unsubscribed = true;
  }
}

const convInspectors = {
  "/perception/points/foxglove": (s, m) => {
    const names = (m.fields ?? []).map((f) => f.name);
    if (!m.frame_id) s.problems.push("no frame_id");
    if (!m.timestamp) s.problems.push("no timestamp");
    if (!(m.point_stride > 0)) s.problems.push(`point_stride ${m.point_stride}`);
    if (!["x", "y", "z"].every((n) => names.includes(n))) s.problems.push(`fields ${names.join(",")}`);
    if (m.data.length <= 500_000 || m.data.length % m.point_stride !== 0)
      s.problems.push(`data of ${m.data.length} bytes, point_stride ${m.point_stride}`);
  },
  "/perception/obstacles/foxglove": (s, m) => {
    if (!Array.isArray(m.entities) || m.entities.length === 0) {
      s.problems.push("a scene update without entities");
      return;
    }
    for (const e of m.entities) {
      if (!e.frame_id || !e.cubes || e.cubes.length !== 1) {
        s.problems.push(`entity ${e.id}: frame_id "${e.frame_id}", ${e.cubes?.length ?? 0} cubes`);
        return;
      }
    }
  },
};

// A second, raw connection sends something a client must not send: the
// bridge must close it (a close frame with a code and a reason), and the
// first client must not notice.
async function hostile(what, text, expectCode) {
  const raw = new WebSocket(url, [SUBPROTOCOL]);
  let rawInfo = false;
  let rawClose;
  const rawStatus = [];
  raw.on("message", (data, isBinary) => {
    if (isBinary) return;
    let m;
    try {
      m = JSON.parse(data.toString());
    } catch {
      rawStatus.push({ level: "?", message: `a text frame that is not JSON: ${data.toString().slice(0, 80)}` });
      return;
    }
    if (m.op === "serverInfo") rawInfo = true;
    if (m.op === "status") rawStatus.push(m);
  });
  raw.on("close", (code, reason) => (rawClose = { code, reason: reason.toString() }));
  raw.on("error", () => {}); // the close event tells the outcome
  if (!check(await until(() => rawInfo || rawClose, 5_000) && rawInfo, `${what}: a second connection gets serverInfo`)) {
    raw.terminate();
    return;
  }
  for (const t of Array.isArray(text) ? text : [text]) {
    if (rawClose) break;
    raw.send(t);
  }
  const closedInTime = await until(() => rawClose, 5_000);
  if (!closedInTime) raw.terminate();
  const c = rawClose ?? {};
  console.log(`  ${what}: ` + (closedInTime ? `close code ${c.code}, reason "${c.reason}"` : "not closed within 5 s") +
    (rawStatus.length ? `, after status ${rawStatus[0].level} "${rawStatus[0].message}"` : ""));
  // 1005 (no code) and 1006 (no close frame) mean it was not closed with one.
  check(closedInTime && c.code >= 1000 && c.code !== 1005 && c.code !== 1006 && c.reason.length > 0,
    `${what}: the bridge closes that connection with a code and a reason`);
  if (expectCode !== undefined)
    check(c.code === expectCode, `${what}: close code ${expectCode}`, `got ${c.code}`);

  const [, obstacles] = [...subs.entries()].find(([, s]) => s.topic === "/perception/obstacles");
  const before = obstacles.count;
  check(await until(() => obstacles.count >= before + 2, 5_000) && !closed,
    `${what}: the first client keeps receiving`, `/perception/obstacles ${before} -> ${obstacles.count}`);
}

try {
  await main();
} catch (e) {
  check(false, "the checks ran without an exception", e.stack);
}
client.close();
finish();
