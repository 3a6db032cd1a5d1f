// SPDX-License-Identifier: Apache-2.0
// Reads an MCAP file with the reference reader, @mcap/core, the library
// Foxglove uses, and prints what it found as JSON. With --expect it also
// compares that with what the writer says it wrote, and exits 1 on any
// difference.
//
//   node verify_mcap.mjs [--mode indexed|stream|both] [--expect FILE.json] FILE.mcap
//
// indexed: McapIndexedReader (footer, summary, chunk indexes, message indexes;
//          what Foxglove Studio does with a local file).
// stream:  McapStreamReader over the bytes from the start (what a reader of a
//          cut-off file can still do); reports "complete": false when the
//          file ends before its footer.
// In both modes every message is decoded with protobufjs from its channel's
// schema (a FileDescriptorSet), as Foxglove Studio decodes "protobuf"
// channels, so a schema that does not describe its messages fails here.
//
// This script must sit next to node_modules with the pinned packages of
// package.json (tests/mcap/run_reference_check.sh arranges that).

import { readFile } from "node:fs/promises";
import { McapIndexedReader, McapStreamReader } from "@mcap/core";
import lz4 from "@foxglove/wasm-lz4";
import * as zstd from "@foxglove/wasm-zstd";
import protobuf from "protobufjs";
import descriptor from "protobufjs/ext/descriptor/index.js";

function usage() {
  console.error("usage: node verify_mcap.mjs [--mode indexed|stream|both] [--expect FILE.json] FILE.mcap");
  process.exit(2);
}

let mode = "both";
let expectPath;
let file;
const args = process.argv.slice(2);
for (let i = 0; i < args.length; i++) {
  if (args[i] === "--mode") mode = args[++i];
  else if (args[i] === "--expect") expectPath = args[++i];
  else if (!file) file = args[i];
  else usage();
}
if (!file || !["indexed", "stream", "both"].includes(mode)) usage();

await lz4.isLoaded;
await zstd.isLoaded;
const decompressHandlers = {
  // @foxglove/wasm-lz4's default export is the decompress function itself.
  lz4: (buf, size) => new Uint8Array(lz4(buf, Number(size))),
  zstd: (buf, size) => new Uint8Array(zstd.decompress(buf, Number(size))),
};

const bytes = new Uint8Array(await readFile(file));

// A protobuf decoder per schema, built from its FileDescriptorSet.
const decoders = new Map();
function decoderFor(schema) {
  const key = `${schema.id}`;
  if (!decoders.has(key)) {
    if (schema.encoding !== "protobuf") {
      decoders.set(key, undefined);
    } else {
      const set = descriptor.FileDescriptorSet.decode(schema.data);
      const root = protobuf.Root.fromDescriptor(set);
      decoders.set(key, root.lookupType(schema.name));
    }
  }
  return decoders.get(key);
}

// Per-channel tallies shared by both modes.
function newTally() {
  return { channels: new Map(), messageCount: 0, decoded: 0 };
}
function countMessage(tally, channel, schema, message) {
  let c = tally.channels.get(channel.id);
  if (!c) {
    c = {
      topic: channel.topic,
      messageEncoding: channel.messageEncoding,
      schemaName: schema ? schema.name : "",
      schemaEncoding: schema ? schema.encoding : "",
      messageCount: 0,
      firstLogTime: undefined,
      lastLogTime: undefined,
    };
    tally.channels.set(channel.id, c);
  }
  c.messageCount++;
  if (c.firstLogTime === undefined || message.logTime < c.firstLogTime) c.firstLogTime = message.logTime;
  if (c.lastLogTime === undefined || message.logTime > c.lastLogTime) c.lastLogTime = message.logTime;
  tally.messageCount++;
  const type = schema && channel.messageEncoding === "protobuf" ? decoderFor(schema) : undefined;
  if (type) {
    type.decode(message.data); // throws if the schema does not fit the bytes
    tally.decoded++;
  }
}
function tallyResult(tally) {
  const channels = [...tally.channels.values()]
    .map((c) => ({ ...c, firstLogTime: String(c.firstLogTime), lastLogTime: String(c.lastLogTime) }))
    .sort((a, b) => (a.topic < b.topic ? -1 : a.topic > b.topic ? 1 : 0));
  return { messageCount: tally.messageCount, decodedCount: tally.decoded, channels };
}

async function readIndexed() {
  const readable = {
    size: async () => BigInt(bytes.byteLength),
    read: async (offset, length) => {
      if (offset + length > BigInt(bytes.byteLength)) throw new Error(`read past the end at ${offset}`);
      return bytes.subarray(Number(offset), Number(offset + length));
    },
  };
  const reader = await McapIndexedReader.Initialize({ readable, decompressHandlers });
  const tally = newTally();
  let lastTime = -1n;
  for await (const message of reader.readMessages()) {
    if (message.logTime < lastTime) throw new Error("messages not in log-time order");
    lastTime = message.logTime;
    const channel = reader.channelsById.get(message.channelId);
    if (!channel) throw new Error(`message on unknown channel ${message.channelId}`);
    countMessage(tally, channel, reader.schemasById.get(channel.schemaId), message);
  }
  const metadata = [];
  for await (const m of reader.readMetadata()) metadata.push(m.name);
  const stats = reader.statistics;
  return {
    ok: true,
    profile: reader.header.profile,
    library: reader.header.library,
    chunkCount: reader.chunkIndexes.length,
    compression: [...new Set(reader.chunkIndexes.map((c) => c.compression))],
    statistics: stats && {
      messageCount: String(stats.messageCount),
      channelCount: stats.channelCount,
      schemaCount: stats.schemaCount,
      chunkCount: stats.chunkCount,
      metadataCount: stats.metadataCount,
      messageStartTime: String(stats.messageStartTime),
      messageEndTime: String(stats.messageEndTime),
    },
    metadata: metadata.sort(),
    ...tallyResult(tally),
  };
}

function readStream() {
  const reader = new McapStreamReader({ decompressHandlers, validateCrcs: true });
  const schemas = new Map();
  const channels = new Map();
  const metadata = [];
  const tally = newTally();
  // Feed it in pieces, as a stream would arrive.
  for (let off = 0; off < bytes.byteLength; off += 64 * 1024) {
    reader.append(bytes.subarray(off, Math.min(off + 64 * 1024, bytes.byteLength)));
    for (let rec; (rec = reader.nextRecord()); ) {
      if (rec.type === "Schema") schemas.set(rec.id, rec);
      else if (rec.type === "Channel") channels.set(rec.id, rec);
      else if (rec.type === "Metadata") metadata.push(rec.name);
      else if (rec.type === "Message") {
        const channel = channels.get(rec.channelId);
        countMessage(tally, channel, schemas.get(channel.schemaId), rec);
      }
    }
  }
  return {
    ok: true,
    complete: reader.done(),
    bytesLeftOver: reader.bytesRemaining(),
    metadata: metadata.sort(),
    ...tallyResult(tally),
  };
}

const out = { file };
async function attempt(name, fn) {
  try {
    out[name] = await fn();
  } catch (e) {
    out[name] = { ok: false, error: String(e && e.message ? e.message : e) };
  }
}
if (mode !== "stream") await attempt("indexed", readIndexed);
if (mode !== "indexed") await attempt("stream", readStream);
console.log(JSON.stringify(out, null, 2));

if (expectPath) {
  const want = JSON.parse(await readFile(expectPath, "utf8"));
  const problems = [];
  const same = (what, got, exp) => {
    if (JSON.stringify(got) !== JSON.stringify(exp))
      problems.push(`${what}: got ${JSON.stringify(got)}, want ${JSON.stringify(exp)}`);
  };
  for (const m of ["indexed", "stream"]) {
    const got = out[m];
    if (!got) continue;
    if (m === "indexed" && !want.complete) {
      // A cut file has no footer: the indexed reader must refuse it.
      if (got.ok) problems.push("indexed: a file without a footer was read as whole");
      continue;
    }
    if (!got.ok) {
      problems.push(`${m}: ${got.error}`);
      continue;
    }
    same(`${m}: message count`, got.messageCount, want.messageCount);
    same(`${m}: decoded messages`, got.decodedCount, want.messageCount);
    same(`${m}: channels`, got.channels, [...want.channels].sort((a, b) => (a.topic < b.topic ? -1 : 1)));
    same(`${m}: metadata`, got.metadata, [...want.metadata].sort());
    if (m === "stream") same("stream: complete", got.complete, want.complete);
    if (m === "indexed") {
      same("indexed: statistics message count", got.statistics?.messageCount, String(want.messageCount));
      same("indexed: statistics channel count", got.statistics?.channelCount, want.channels.length);
    }
  }
  if (problems.length) {
    console.error(`verify_mcap: ${file}: MISMATCH\n  ${problems.join("\n  ")}`);
    process.exit(1);
  }
  const modes = ["indexed", "stream"].filter((m) => out[m]).join(" + ");
  console.error(`verify_mcap: ${file}: OK (${modes}): ${want.messageCount} messages on ${want.channels.length} channels`);
}
