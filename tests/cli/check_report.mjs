// SPDX-License-Identifier: Apache-2.0
// Checks the JSON report that tests/mcap/verify_mcap.mjs (the reference
// MCAP reader, @mcap/core) printed for a recording made by `axon record`.
// No packages needed: it only reads the report.
//
//   node check_report.mjs REPORT.json [--indexed ok|fails|skip] [--stream-complete yes|no]
//        [--messages N | --messages-from BAG_INFO.json] [--decoded N]
//        [--channel TOPIC=SCHEMA=COUNT]... [--metadata NAME]...
//
// --messages-from takes the message count from `axon bag info --json`, so
// the reference reader must find exactly what axon's reader found.
// Exits 0 when everything matches, 1 (with the differences) otherwise.
import { readFileSync } from "node:fs";

const args = process.argv.slice(2);
const report = JSON.parse(readFileSync(args[0], "utf8"));
let indexed = "ok";
let streamComplete;
let messages;
let decoded;
const channels = [];
const metadata = [];
for (let i = 1; i < args.length; i++) {
  const a = args[i];
  const v = args[++i];
  if (a === "--indexed") indexed = v;
  else if (a === "--stream-complete") streamComplete = v === "yes";
  else if (a === "--messages") messages = Number(v);
  else if (a === "--messages-from") messages = JSON.parse(readFileSync(v, "utf8")).message_count;
  else if (a === "--decoded") decoded = Number(v);
  else if (a === "--channel") {
    const [topic, schema, count] = v.split("=");
    channels.push({ topic, schema, count: Number(count) });
  } else if (a === "--metadata") metadata.push(v);
  else {
    console.error(`check_report: unknown argument ${a}`);
    process.exit(2);
  }
}

const problems = [];
function check(mode, r) {
  if (!r) return problems.push(`${mode}: no result`);
  if (!r.ok) return problems.push(`${mode}: the reader failed: ${r.error}`);
  if (messages !== undefined && r.messageCount !== messages)
    problems.push(`${mode}: ${r.messageCount} messages, want ${messages}`);
  if (decoded !== undefined && r.decodedCount !== decoded)
    problems.push(`${mode}: ${r.decodedCount} messages decoded with their schema, want ${decoded}`);
  for (const c of channels) {
    const got = r.channels.find((x) => x.topic === c.topic);
    if (!got) problems.push(`${mode}: no channel ${c.topic}`);
    else {
      if (got.schemaName !== c.schema)
        problems.push(`${mode}: ${c.topic} has schema '${got.schemaName}', want '${c.schema}'`);
      if (!Number.isNaN(c.count) && got.messageCount !== c.count)
        problems.push(`${mode}: ${c.topic} has ${got.messageCount} messages, want ${c.count}`);
    }
  }
  for (const m of metadata)
    if (!r.metadata.includes(m)) problems.push(`${mode}: no metadata record ${m}`);
}

if (indexed === "ok") check("indexed", report.indexed);
else if (indexed === "fails" && report.indexed && report.indexed.ok)
  problems.push("indexed: a file without a footer was read as whole");
check("stream", report.stream);
if (streamComplete !== undefined && report.stream && report.stream.complete !== streamComplete)
  problems.push(`stream: complete is ${report.stream.complete}, want ${streamComplete}`);

if (problems.length) {
  console.log(`check_report: MISMATCH\n  ${problems.join("\n  ")}`);
  process.exit(1);
}
const s = report.stream;
console.log(`check_report: OK: ${s.messageCount} messages, ${s.decodedCount} decoded, ` +
  `${s.channels.length} channels (${s.channels.map((c) => `${c.topic}:${c.schemaName || "raw"}:${c.messageCount}`).join(", ")})`);
