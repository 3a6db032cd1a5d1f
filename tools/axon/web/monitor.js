// SPDX-License-Identifier: Apache-2.0
// The axon web monitor: polls the bridge's /api/graph every second and
// draws the node graph, the topic table and the header from it; polls
// /api/echo twice a second for the topic chosen in the echo panel.
//
// Everything the server sends (node and topic names above all) is
// untrusted: it only ever reaches the page through textContent and
// setAttribute, never through HTML parsing.
//
// Each poll schedules the next one when it has finished, so a slow bridge
// gets one request at a time, and every request has a timeout, so a
// bridge that stops answering shows up in the error banner instead of
// stalling the page.
"use strict";

const GRAPH_PERIOD_MS = 1000;
const ECHO_PERIOD_MS = 500;
const REQUEST_TIMEOUT_MS = 5000;
const SVG_NS = "http://www.w3.org/2000/svg";

// With --token the bridge wants token=T on every request.
const token = new URLSearchParams(location.search).get("token");

const $ = (id) => document.getElementById(id);

// ---- requests ----

// The URL of an API path with its query, every value percent-encoded,
// except that a topic keeps its slashes: legal in a query, and how the
// contract writes it (/api/echo?topic=/perception/obstacles).
function apiUrl(path, params = {}) {
  if (token !== null) params = { ...params, token };
  const query = Object.entries(params)
    .map(([k, v]) => {
      const value = encodeURIComponent(v);
      return `${k}=${k === "topic" ? value.replace(/%2F/g, "/") : value}`;
    })
    .join("&");
  return query ? `${path}?${query}` : path;
}

// GETs url; resolves to {status, body} (body null when it is not JSON),
// rejects on a network error, a timeout or an abort through ctl.
async function getJson(url, ctl) {
  const timer = setTimeout(() => ctl.abort(new Error("timeout")), REQUEST_TIMEOUT_MS);
  try {
    const r = await fetch(url, { cache: "no-store", signal: ctl.signal });
    let body = null;
    try {
      body = await r.json();
    } catch {
      // Not JSON: the caller reports the status.
    }
    return { status: r.status, body };
  } finally {
    clearTimeout(timer);
  }
}

function httpProblem(what, status, body) {
  if (status === 401) return `${what}: HTTP 401, the token is missing or wrong (open the URL the bridge printed)`;
  const why = body && typeof body.error === "string" ? `: ${body.error}` : "";
  return `${what}: HTTP ${status}${why}`;
}

// One banner for both pollers: each owns its own entry, so one poller's
// success does not hide the other's failure.
const errors = { graph: null, echo: null };
function setError(source, message) {
  errors[source] = message;
  const text = Object.values(errors).filter(Boolean).join(" · ");
  $("error").textContent = text;
  $("error").hidden = text === "";
}

// ---- formatting ----

const fmtRate = (hz) => (typeof hz === "number" && isFinite(hz) ? hz.toFixed(1) : "–");

function fmtBandwidth(bps) {
  if (typeof bps !== "number" || !isFinite(bps)) return "–";
  const units = ["B/s", "KiB/s", "MiB/s", "GiB/s"];
  let v = bps;
  let i = 0;
  for (; v >= 1024 && i < units.length - 1; i++) v /= 1024;
  return i === 0 ? `${Math.round(v)} B/s` : `${v.toFixed(1)} ${units[i]}`;
}

function fmtDrops(drops) {
  const parts = Object.entries(drops ?? {})
    .filter(([, n]) => n)
    .map(([reason, n]) => `${reason} ${n}`);
  return parts.length ? parts.join(", ") : "0";
}

// Local wall-clock time with milliseconds.
function fmtTime(date) {
  const ms = String(date.getMilliseconds()).padStart(3, "0");
  return `${date.toLocaleTimeString([], { hour12: false })}.${ms}`;
}

// ---- DOM helpers ----

function html(tag, text, cls) {
  const e = document.createElement(tag);
  if (text !== undefined) e.textContent = text;
  if (cls) e.className = cls;
  return e;
}

function svg(tag, attrs = {}) {
  const e = document.createElementNS(SVG_NS, tag);
  for (const [k, v] of Object.entries(attrs)) e.setAttribute(k, String(v));
  return e;
}

// ---- the graph answer ----

// What a node id is called on the page: its name, or the id itself when
// the node is not (yet) in the answer's node list.
function nodeNamer(g) {
  const byId = new Map(g.nodes.map((n) => [n.id, n]));
  return (id) => byId.get(id)?.name || id;
}

function renderHeader(g, nameOf) {
  $("domain").textContent = String(g.domain);
  const id = g.bridge?.node ?? "";
  $("bridge-node").textContent = id ? `${nameOf(id)} (${id})` : "–";
  $("clients").textContent = String(g.bridge?.clients ?? "–");
  $("node-count").textContent = String(g.nodes.length);
  $("topic-count").textContent = String(g.topics.length);
  $("updated").textContent = fmtTime(new Date());
}

function renderTable(g, nameOf) {
  const names = (ids) => (ids?.length ? ids.map(nameOf).join(", ") : "–");
  const rows = g.topics.map((t) => {
    const tr = document.createElement("tr");
    tr.dataset.topic = t.name;
    tr.dataset.messages = String(t.messages ?? 0);
    const drops = fmtDrops(t.drops);
    tr.append(
      html("td", t.name, "topic"),
      html("td", t.type ?? "", "type"),
      html("td", names(t.publishers), "names"),
      html("td", names(t.subscribers), "names"),
      html("td", fmtRate(t.rate_hz), "rate num"),
      html("td", fmtBandwidth(t.bandwidth_bps), "num"),
      html("td", String(t.messages ?? 0), "num"),
      html("td", t.qos ?? "", "qos"),
      html("td", drops, drops === "0" ? "" : "bad"),
      html("td", String(t.gaps ?? 0), t.gaps ? "num bad" : "num"),
    );
    return tr;
  });
  if (!rows.length) {
    const td = html("td", "no topics discovered yet", "empty");
    td.colSpan = 10;
    rows.push(html("tr"));
    rows[0].append(td);
  }
  $("topics").replaceChildren(...rows);
}

// The graph's geometry, in SVG user units (the SVG scales to its box).
const COL = [
  { x: 0, w: 190 }, // publishing nodes (and nodes with no topic)
  { x: 300, w: 280 }, // topics
  { x: 690, w: 190 }, // subscribing nodes
];
const WIDTH = 880;
const ROW_H = 34;
const BOX_H = 24;
const CHAR_W = 7.2; // a monospace character at the CSS font size

// One box: a rect, its label cut to fit and the full text as a tooltip.
function graphBox(col, y, label, tooltip, cls, attr, value) {
  const { x, w } = COL[col];
  const g = svg("g", { class: cls });
  g.setAttribute(attr, value);
  g.append(svg("rect", { x, y, width: w, height: BOX_H, rx: 4 }));
  const fit = Math.floor((w - 16) / CHAR_W);
  const text = svg("text", { x: x + 8, y: y + BOX_H / 2 + 4 });
  text.textContent = label.length > fit ? `${label.slice(0, fit - 1)}…` : label;
  const title = svg("title");
  title.textContent = tooltip;
  g.append(title, text);
  return g;
}

function edge(x1, y1, x2, y2, cls) {
  const mx = (x1 + x2) / 2;
  return svg("path", { d: `M ${x1} ${y1} C ${mx} ${y1}, ${mx} ${y2}, ${x2} ${y2}`, class: cls });
}

function renderGraph(g, nameOf) {
  const nodeById = new Map(g.nodes.map((n) => [n.id, n]));
  const byName = (a, b) => nameOf(a).localeCompare(nameOf(b)) || a.localeCompare(b);
  const pubs = new Set(g.topics.flatMap((t) => t.publishers ?? []));
  const subs = new Set(g.topics.flatMap((t) => t.subscribers ?? []));
  // Nodes with no topic go left, so every node of the domain shows.
  const idle = g.nodes.map((n) => n.id).filter((id) => !pubs.has(id) && !subs.has(id));
  const columns = [
    [...[...pubs].sort(byName), ...idle.sort(byName)],
    g.topics.map((t) => t.name),
    [...subs].sort(byName),
  ];
  const rows = Math.max(1, ...columns.map((c) => c.length));
  const height = rows * ROW_H + 10;
  // Shorter columns are centred, which keeps the edges short.
  const rowY = columns.map((c) => (i) => 5 + ((rows - c.length) * ROW_H) / 2 + i * ROW_H);
  const at = columns.map((c, k) => new Map(c.map((key, i) => [key, rowY[k](i)])));

  const edges = svg("g", { class: "edges" });
  const boxes = svg("g", { class: "boxes" });
  const mid = BOX_H / 2;
  for (const t of g.topics) {
    const ty = at[1].get(t.name) + mid;
    for (const id of t.publishers ?? [])
      edges.append(edge(COL[0].x + COL[0].w, at[0].get(id) + mid, COL[1].x, ty,
        nodeById.get(id)?.self ? "self" : ""));
    for (const id of t.subscribers ?? [])
      edges.append(edge(COL[1].x + COL[1].w, ty, COL[2].x, at[2].get(id) + mid,
        nodeById.get(id)?.self ? "self" : ""));
  }
  for (const col of [0, 2]) {
    for (const [id, y] of at[col]) {
      const n = nodeById.get(id);
      const cls = ["node", n?.self && "self", col === 0 && idle.includes(id) && "idle"];
      const label = n?.self ? `${nameOf(id)} (bridge)` : nameOf(id);
      const tip = n ? `${n.name} — ${n.host} pid ${n.pid} — ${n.id}${n.self ? " — this bridge" : ""}` : id;
      const box = graphBox(col, y, label, tip, cls.filter(Boolean).join(" "), "data-node", nameOf(id));
      box.setAttribute("data-id", id);
      boxes.append(box);
    }
  }
  for (const t of g.topics)
    boxes.append(graphBox(1, at[1].get(t.name), t.name, `${t.name} — ${t.type ?? ""}`, "topic",
      "data-topic", t.name));
  if (!g.nodes.length && !g.topics.length) {
    const empty = svg("text", { x: WIDTH / 2, y: 20, class: "empty", "text-anchor": "middle" });
    empty.textContent = "no nodes discovered yet";
    boxes.append(empty);
  }

  // Replaced in one step: the browser never paints a half-built graph.
  const el = $("graph");
  el.setAttribute("viewBox", `0 0 ${WIDTH} ${height}`);
  el.replaceChildren(edges, boxes);
}

// The echo choices follow the topics; the chosen one stays even when its
// topic went away, so the choice never changes under the user.
let echoChoices = "";
function renderEchoChoices(g) {
  const select = $("echo-topic");
  const names = g.topics.map((t) => t.name);
  if (select.value && !names.includes(select.value)) names.push(select.value);
  const key = JSON.stringify(names);
  if (key === echoChoices) return;
  echoChoices = key;
  const chosen = select.value;
  const options = [new Option("— none —", "")];
  for (const name of names) options.push(new Option(name, name));
  select.replaceChildren(...options);
  select.value = chosen;
}

// A shape check, so a wrong answer is an error in the banner rather than
// an exception half-way through drawing.
function validGraph(g) {
  return g && typeof g === "object" && Array.isArray(g.nodes) && Array.isArray(g.topics) &&
    g.topics.every((t) => t && typeof t.name === "string") &&
    g.nodes.every((n) => n && typeof n.id === "string");
}

async function pollGraph() {
  try {
    const { status, body } = await getJson(apiUrl("api/graph"), new AbortController());
    if (status !== 200) {
      setError("graph", httpProblem("graph", status, body));
    } else if (!validGraph(body)) {
      setError("graph", "graph: the bridge's answer is not the expected JSON");
    } else {
      body.topics.sort((a, b) => a.name.localeCompare(b.name));
      const nameOf = nodeNamer(body);
      renderHeader(body, nameOf);
      renderGraph(body, nameOf);
      renderTable(body, nameOf);
      renderEchoChoices(body);
      setError("graph", null);
    }
  } catch (e) {
    setError("graph", `graph: ${e.message || e} (is the bridge running?)`);
  } finally {
    setTimeout(pollGraph, GRAPH_PERIOD_MS);
  }
}

// ---- echo ----

let echoGen = 0; // bumped on each choice: older polls see they are stale
let echoTimer = null;
let echoRequest = null; // the AbortController of the request in flight
let echoSeq = null; // the seq shown, so an unchanged message is not redrawn

function showEcho(meta, text, bad = false) {
  $("echo-meta").textContent = meta;
  $("echo-meta").classList.toggle("bad", bad);
  if ($("echo").textContent !== text) $("echo").textContent = text;
}

async function pollEcho(topic, gen) {
  const ctl = new AbortController();
  echoRequest = ctl;
  try {
    const { status, body } = await getJson(apiUrl("api/echo", { topic }), ctl);
    if (gen !== echoGen) return;
    if (status === 404 && body && typeof body.error === "string") {
      // An answer about the topic, not a failed request: said in the panel.
      echoSeq = null;
      showEcho(body.error, "", true);
    } else if (status !== 200 || !body || typeof body !== "object") {
      setError("echo", httpProblem(`echo ${topic}`, status, body));
      return;
    } else if (body.waiting) {
      echoSeq = null;
      showEcho(`waiting for the first message (${body.type ?? "unknown type"})`, "");
    } else if (body.seq !== echoSeq) {
      echoSeq = body.seq;
      const when = typeof body.received_ns === "number" ? fmtTime(new Date(body.received_ns / 1e6)) : "–";
      showEcho(`seq ${body.seq} · received ${when} · ${body.type ?? ""}`,
        JSON.stringify(body.message, null, 2) ?? "");
    }
    setError("echo", null);
  } catch (e) {
    if (gen !== echoGen) return; // aborted by a new choice
    setError("echo", `echo ${topic}: ${e.message || e}`);
  } finally {
    if (echoRequest === ctl) echoRequest = null;
    if (gen === echoGen) echoTimer = setTimeout(() => pollEcho(topic, gen), ECHO_PERIOD_MS);
  }
}

function chooseEcho() {
  const topic = $("echo-topic").value;
  echoGen++;
  clearTimeout(echoTimer);
  echoRequest?.abort();
  echoSeq = null;
  setError("echo", null);
  showEcho(topic ? "asking the bridge…" : "", "");
  if (topic) pollEcho(topic, echoGen);
}

$("echo-topic").addEventListener("change", chooseEcho);
pollGraph();
