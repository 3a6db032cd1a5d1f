// SPDX-License-Identifier: Apache-2.0
// Load for `axon bridge foxglove`: N Foxglove clients (@foxglove/ws-protocol)
// subscribe to the demo's topics and count, per client and topic, what
// arrives against what was published (from each message's header.seq),
// and the drops the bridge tells them about. See bench_bridge.sh.
//
//   node bench_clients.mjs WS_URL SECONDS CLIENTS TOPIC...
//
// Prints one JSON object on stdout. Bounded: SECONDS + 20 s at most.
import wsp from "@foxglove/ws-protocol";
import WebSocket from "ws";
import protobuf from "protobufjs";
import descriptor from "protobufjs/ext/descriptor/index.js";

const { FoxgloveClient } = wsp;
const [url, secondsArg, clientsArg, ...topics] = process.argv.slice(2);
const seconds = Number(secondsArg);
const nclients = Number(clientsArg);
if (!url || !(seconds > 0) || !(nclients > 0) || topics.length === 0) {
  console.error("usage: node bench_clients.mjs WS_URL SECONDS CLIENTS TOPIC...");
  process.exit(2);
}
setTimeout(() => {
  console.error("bench_clients: did not finish in time");
  process.exit(1);
}, (seconds + 20) * 1000);

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
const typeOf = (c) =>
  protobuf.Root.fromDescriptor(descriptor.FileDescriptorSet.decode(Buffer.from(c.schema, "base64")))
    .lookupType(c.schemaName);
// The sequence number of a message, for counting what was published: the
// header of an axon message, the timestamp for a converted one.
const seqOf = (m) => (m.header ? Number(m.header.seq) : undefined);

function connect(id) {
  const c = { id, channels: new Map(), subs: new Map(), drops: [], open: false };
  c.client = new FoxgloveClient({ ws: new WebSocket(url, [FoxgloveClient.SUPPORTED_SUBPROTOCOL]) });
  c.client.on("open", () => (c.open = true));
  c.client.on("advertise", (list) => list.forEach((ch) => c.channels.set(ch.topic, ch)));
  c.client.on("status", (s) => /dropped/.test(s.message) && c.drops.push(s.message));
  c.client.on("message", ({ subscriptionId, data }) => {
    const s = c.subs.get(subscriptionId);
    if (!s || !s.counting) return;
    s.count++;
    s.bytes += data.byteLength;
    const seq = seqOf(s.type.decode(new Uint8Array(data.buffer, data.byteOffset, data.byteLength)));
    if (seq !== undefined) {
      s.first ??= seq;
      s.last = seq;
    }
  });
  return c;
}

const clients = Array.from({ length: nclients }, (_, i) => connect(i + 1));
const end = performance.now() + 15_000;
while (!clients.every((c) => topics.every((t) => c.channels.has(t))) && performance.now() < end) await sleep(50);
for (const c of clients) {
  for (const t of topics) {
    const ch = c.channels.get(t);
    if (!ch) {
      console.error(`bench_clients: client ${c.id}: ${t} is not advertised`);
      process.exit(1);
    }
    c.subs.set(c.client.subscribe(ch.id), { topic: t, type: typeOf(ch), count: 0, bytes: 0 });
  }
}
await sleep(2000); // warm-up: subscriptions connected, first frames through
const t0 = performance.now();
for (const c of clients) for (const s of c.subs.values()) s.counting = true;
await sleep(seconds * 1000);
for (const c of clients) for (const s of c.subs.values()) s.counting = false;
const wall = (performance.now() - t0) / 1000;
await sleep(1000); // status messages about drops come after the frames

const out = { seconds: wall, clients: [] };
for (const c of clients) {
  const per = [];
  for (const s of c.subs.values()) {
    const published = s.first !== undefined ? s.last - s.first + 1 : null;
    per.push({ topic: s.topic, received: s.count, published_in_window: published,
      missing: published === null ? null : published - s.count, mib_per_s: s.bytes / wall / 1048576 });
  }
  out.clients.push({ id: c.id, topics: per, drop_notices: c.drops });
  c.client.close();
}
console.log(JSON.stringify(out));
process.exit(0);
