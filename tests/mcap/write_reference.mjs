// SPDX-License-Identifier: Apache-2.0
// Writes MCAP files with the reference writer (@mcap/core's McapWriter), in
// the layouts other tools produce, for axon's reader to read back
// (mcap_read_check): chunked or not, with or without a summary, statistics,
// chunk indexes, message indexes, compressed in small chunks.
//
//   node write_reference.mjs OUT_DIR
//
// Every file holds the same content, which mcap_read_check.c knows: schema
// "axon.ref.Sample" (protobuf), channels "/ref/a" (that schema, metadata
// k=v) and "/ref/b" (no schema, json), 500 messages: message i has
// sequence i, is on /ref/b when i % 3 == 0, has log_time 1000 + 10 i
// (25 less when i % 7 == 3, so not in order) and 10 + i % 50 bytes of
// value i & 255; one attachment and one metadata record "ref.meta".

import { McapWriter } from "@mcap/core";
import { open } from "node:fs/promises";
import * as zstd from "@foxglove/wasm-zstd";

const dir = process.argv[2];
if (!dir) {
  console.error("usage: node write_reference.mjs OUT_DIR");
  process.exit(2);
}
await zstd.isLoaded;

const noSummary = {
  useStatistics: false,
  useSummaryOffsets: false,
  useChunkIndex: false,
  useAttachmentIndex: false,
  useMetadataIndex: false,
  repeatSchemas: false,
  repeatChannels: false,
};
const layouts = {
  "chunked": { useChunks: true },
  "chunked-no-summary": { useChunks: true, ...noSummary },
  "chunked-no-statistics": { useChunks: true, useStatistics: false },
  "chunked-no-indexes": { useChunks: true, useMessageIndex: false, useChunkIndex: false },
  "chunked-zstd-small": {
    useChunks: true,
    chunkSize: 2000,
    compressChunk: (data) => ({ compression: "zstd", compressedData: zstd.compress(data) }),
  },
  "unchunked": { useChunks: false },
  "unchunked-no-summary": { useChunks: false, ...noSummary },
};

for (const [name, options] of Object.entries(layouts)) {
  const file = await open(`${dir}/ref-${name}.mcap`, "w");
  let position = 0n;
  const writable = {
    position: () => position,
    write: async (buffer) => {
      await file.write(buffer);
      position += BigInt(buffer.byteLength);
    },
  };
  const writer = new McapWriter({ writable, ...options });
  await writer.start({ profile: "", library: "@mcap/core reference writer" });
  const schema = await writer.registerSchema({
    name: "axon.ref.Sample",
    encoding: "protobuf",
    data: new Uint8Array([10, 0]),
  });
  const a = await writer.registerChannel({
    topic: "/ref/a",
    schemaId: schema,
    messageEncoding: "protobuf",
    metadata: new Map([["k", "v"]]),
  });
  const b = await writer.registerChannel({ topic: "/ref/b", schemaId: 0, messageEncoding: "json", metadata: new Map() });
  for (let i = 0; i < 500; i++) {
    const logTime = 1000n + BigInt(i) * 10n - (i % 7 === 3 ? 25n : 0n);
    await writer.addMessage({
      channelId: i % 3 === 0 ? b : a,
      sequence: i,
      logTime,
      publishTime: logTime,
      data: new Uint8Array(10 + (i % 50)).fill(i & 255),
    });
    if (i === 250) {
      const data = new Uint8Array([65, 66]);
      await writer.addAttachment({ name: "a.txt", logTime: 5n, createTime: 5n, mediaType: "text/plain", data });
      await writer.addMetadata({ name: "ref.meta", metadata: new Map([["x", "y"]]) });
    }
  }
  await writer.end();
  await file.close();
  console.log(`${dir}/ref-${name}.mcap`);
}
