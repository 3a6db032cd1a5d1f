// SPDX-License-Identifier: Apache-2.0
// Checks the web monitor that `axon bridge foxglove` serves at /, in a
// headless Chromium driven by puppeteer-core.
//
//   node monitor_page.mjs MONITOR_URL
//
// MONITOR_URL is the bridge's "monitor:" line (with its ?token= if any).
// Expects, on the bridge's domain, examples/perception_node publishing
// /perception/obstacles and /perception/points at 10 Hz and
// examples/planning_node subscribing to both.
//
// Prints one PASS/FAIL line per check and exits 0 when all passed, 1 if
// not, 77 (skipped) when no Chromium is installed. Every wait polls the
// page with a deadline and the whole script is stopped at 60 s, so a page
// that never fills in fails the check instead of hanging the test.
//
// The browser is $PUPPETEER_EXECUTABLE_PATH, else Debian's
// /usr/bin/chromium; puppeteer-core never downloads one. Like
// foxglove_client.mjs, this script must sit next to node_modules
// (tests/web/run_web_check.sh copies it there).

import fs from "node:fs";
import puppeteer from "puppeteer-core";

const url = process.argv[2];
if (!url || process.argv.length > 3) {
  console.error("usage: node monitor_page.mjs MONITOR_URL");
  process.exit(2);
}
const TOPICS = ["/perception/obstacles", "/perception/points"];
const NODES = ["perception", "planning"];
const TOTAL_BUDGET_MS = 60_000;

let failures = 0;
function check(ok, what, detail) {
  console.log(`${ok ? "PASS" : "FAIL"}: ${what}${detail !== undefined ? ` (${detail})` : ""}`);
  if (!ok) failures++;
  return ok;
}

let browser;
async function finish() {
  // Closing may itself hang on a wedged browser: give it 5 s. Puppeteer
  // kills the browser it started when this process exits anyway.
  if (browser) await Promise.race([browser.close().catch(() => {}), delay(5_000)]);
  console.log(failures === 0 ? "monitor_page: all checks passed" : `monitor_page: ${failures} check(s) failed`);
  process.exit(failures === 0 ? 0 : 1);
}

// The whole run is bounded, whatever a wait below does.
setTimeout(() => {
  check(false, `the checks finished within ${TOTAL_BUDGET_MS / 1000} s`);
  finish();
}, TOTAL_BUDGET_MS);

function delay(ms) {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

// What the page shows, read in one go inside the page. Attributes are
// compared as strings here, not through CSS selectors, because topic
// names are full of characters a selector would need escaped.
function readPage() {
  const graph = document.getElementById("graph");
  const attrs = (name) => (graph ? [...graph.querySelectorAll(`[${name}]`)].map((e) => e.getAttribute(name)) : []);
  const rows = {};
  for (const tr of document.querySelectorAll("#topics tr[data-topic]")) {
    rows[tr.getAttribute("data-topic")] = {
      rate: tr.querySelector("td.rate")?.textContent ?? null,
      messages: tr.getAttribute("data-messages"),
      text: tr.textContent,
    };
  }
  const error = document.getElementById("error");
  const shown = (e) => e && getComputedStyle(e).display !== "none" && !e.hidden && e.textContent.trim() !== "";
  return {
    structure: {
      "svg#graph": graph?.namespaceURI === "http://www.w3.org/2000/svg",
      "tbody#topics": document.getElementById("topics")?.tagName === "TBODY",
      "select#echo-topic": document.getElementById("echo-topic")?.tagName === "SELECT",
      "pre#echo": document.getElementById("echo")?.tagName === "PRE",
      "#error": error !== null,
    },
    nodes: attrs("data-node"),
    topics: attrs("data-topic"),
    rows,
    options: [...document.querySelectorAll("#echo-topic option")].map((o) => o.value),
    echo: document.getElementById("echo")?.textContent ?? "",
    echoMeta: document.getElementById("echo-meta")?.textContent ?? "",
    error: shown(error) ? error.textContent.trim() : "",
  };
}

let page;
let last; // the latest reading, for the failure details

// Reads the page until cond(reading) holds or ms have passed (monotonic
// clock); returns whether it held. This is the only way this script waits.
async function until(cond, ms) {
  const end = performance.now() + ms;
  for (;;) {
    last = await page.evaluate(readPage);
    if (cond(last)) return true;
    if (performance.now() >= end) return false;
    await delay(100);
  }
}

const number = (text) => (text !== null && /^\s*-?\d+(\.\d+)?\s*$/.test(text) ? Number(text) : NaN);

function echoJson(text) {
  try {
    return JSON.parse(text);
  } catch {
    return undefined;
  }
}

async function main() {
  const executablePath = process.env.PUPPETEER_EXECUTABLE_PATH || "/usr/bin/chromium";
  if (!fs.existsSync(executablePath)) {
    console.log(`SKIP: no Chromium at ${executablePath} (Debian package chromium, or set PUPPETEER_EXECUTABLE_PATH)`);
    process.exit(77);
  }
  // --no-sandbox: CI runs as root, where Chromium's sandbox refuses to
  // start; the page is our own, on loopback.
  browser = await puppeteer.launch({
    executablePath,
    headless: true,
    args: ["--no-sandbox", "--disable-dev-shm-usage", "--disable-gpu"],
    timeout: 20_000,
    protocolTimeout: 20_000,
  });
  page = await browser.newPage();

  // Anything the page itself gets wrong: a script error, a request the
  // bridge refused (a missing token on monitor.js, say) or one that failed.
  const problems = [];
  page.on("pageerror", (e) => problems.push(`script error: ${e.message}`));
  page.on("requestfailed", (r) => {
    // Aborted echo requests are the page's own doing (a new choice).
    if (r.failure()?.errorText !== "net::ERR_ABORTED") problems.push(`${r.url()}: ${r.failure()?.errorText}`);
  });
  page.on("response", (r) => {
    if (r.status() >= 400) problems.push(`${r.url()}: HTTP ${r.status()}`);
  });

  const response = await page.goto(url, { waitUntil: "domcontentloaded", timeout: 10_000 });
  check(response?.status() === 200, `the monitor page loads from ${url}`, `HTTP ${response?.status()}`);

  // monitor.js is added by the page after it loaded, so wait for its first
  // drawing rather than for the load event.
  check(await until((s) => Object.values(s.structure).every(Boolean), 5_000),
    "the page has svg#graph, tbody#topics, select#echo-topic, pre#echo and #error",
    JSON.stringify(last?.structure));

  // Discovery of the two demo nodes may take the bridge a few seconds.
  check(await until((s) => NODES.every((n) => s.nodes.includes(n)), 15_000),
    `the graph shows the nodes ${NODES.join(" and ")}`, `data-node: ${JSON.stringify(last.nodes)}`);
  check(await until((s) => TOPICS.every((t) => s.topics.includes(t)), 5_000),
    `the graph shows the topics ${TOPICS.join(" and ")}`, `data-topic: ${JSON.stringify(last.topics)}`);
  check(await until((s) => TOPICS.every((t) => s.rows[t]), 5_000),
    "the topic table has a row for each", `rows: ${JSON.stringify(Object.keys(last.rows))}`);

  // The rate is "–" until the bridge has two counter samples.
  const points = "/perception/points";
  const rateOk = (s) => {
    const hz = number(s.rows[points]?.rate ?? null);
    return hz >= 5 && hz <= 15;
  };
  check(await until(rateOk, 10_000), `the rate of ${points} reads about 10 Hz`,
    `rate cell "${last.rows[points]?.rate}"`);

  // The table keeps updating: the message counts grow and the rows' text
  // changes (the Messages column at least).
  const before = last.rows;
  const grown = (s) => TOPICS.every((t) =>
    number(s.rows[t]?.messages ?? null) > number(before[t]?.messages ?? null) && s.rows[t].text !== before[t].text);
  check(await until(grown, 6_000), "the table keeps updating: data-messages grows on both rows",
    TOPICS.map((t) => `${t} ${before[t]?.messages} -> ${last.rows[t]?.messages}`).join(", "));

  check(last.error === "", "no error banner while the bridge answers", last.error || undefined);

  // The echo panel: choose the obstacles topic, expect its newest message
  // as JSON (the bridge subscribes on the first request).
  const obstacles = "/perception/obstacles";
  if (check(last.options.includes(obstacles), `the echo select offers ${obstacles}`, JSON.stringify(last.options))) {
    await page.select("#echo-topic", obstacles);
    const echoed = (s) => {
      const m = echoJson(s.echo);
      return m !== undefined && typeof m === "object" && s.echo.includes("obstacles");
    };
    check(await until(echoed, 10_000), `#echo shows a ${obstacles} message as JSON mentioning "obstacles"`,
      `#echo "${last.echo.slice(0, 120)}", meta "${last.echoMeta}"`);
    const firstMeta = last.echoMeta;
    check(await until((s) => echoed(s) && s.echoMeta !== firstMeta && /seq \d+/.test(s.echoMeta), 5_000),
      "the echo keeps updating (a newer seq)", `"${firstMeta}" -> "${last.echoMeta}"`);
  }

  check(last.error === "", "still no error banner", last.error || undefined);
  check(problems.length === 0, "no script error and no failed or refused request",
    problems.length ? `${problems.length}, first: ${problems[0]}` : undefined);
}

try {
  await main();
} catch (e) {
  check(false, "the checks ran without an exception", e.stack);
}
await finish();
