// SPDX-License-Identifier: Apache-2.0
// Checks that `axon bridge foxglove --token T` lets in only requests that
// carry the token: the monitor's HTTP API and the WebSocket alike.
//
//   node token_check.mjs WS_URL MONITOR_URL   (both as printed: ?token=T)
//
// Prints one PASS/FAIL line per check; exits 0 when all passed, 1 if not.
// Every wait has a deadline and the whole script stops at 30 s.
import http from "node:http";
import WebSocket from "ws";

const [wsUrl, monitorUrl] = process.argv.slice(2);
if (!wsUrl || !monitorUrl) {
  console.error("usage: node token_check.mjs WS_URL MONITOR_URL");
  process.exit(2);
}
let failures = 0;
function check(ok, what, detail) {
  console.log(`${ok ? "PASS" : "FAIL"}: ${what}${detail !== undefined ? ` (${detail})` : ""}`);
  if (!ok) failures++;
}
setTimeout(() => {
  check(false, "the checks finished within 30 s");
  process.exit(1);
}, 30_000);

const strip = (u) => {
  const x = new URL(u);
  x.search = "";
  return x.toString();
};
const withToken = (u, t) => {
  const x = new URL(u);
  x.searchParams.set("token", t);
  return x.toString();
};
const token = new URL(monitorUrl).searchParams.get("token");
check(token !== null && token.length >= 8, "the printed URLs carry a token", monitorUrl);

async function status(url) {
  const r = await fetch(url, { cache: "no-store" });
  await r.arrayBuffer();
  return r.status;
}
const api = new URL("api/graph", strip(monitorUrl)).toString();
check((await status(strip(monitorUrl))) === 401, "the page without the token: 401");
check((await status(api)) === 401, "/api/graph without the token: 401");
check((await status(withToken(api, token + "x"))) === 401, "/api/graph with a wrong token: 401");
check((await status(withToken(api, token))) === 200, "/api/graph with the token: 200");
check((await status(monitorUrl)) === 200, "the page with the token: 200");

// DNS rebinding: a page at evil.example whose name resolves to 127.0.0.1
// sends Host: evil.example. A bridge on loopback refuses it, token or not.
function statusWithHost(u, host) {
  return new Promise((resolve) => {
    const req = http.get(u, { headers: { Host: host } }, (res) => {
      res.resume();
      resolve(res.statusCode);
    });
    req.on("error", (e) => resolve(`error: ${e.message}`));
    req.setTimeout(5_000, () => req.destroy(new Error("timeout")));
  });
}
check((await statusWithHost(withToken(api, token), "evil.example:8765")) === 403,
  "a request with the token but Host: evil.example gets 403 (DNS rebinding)");
check((await statusWithHost(withToken(api, token), "localhost:8765")) === 200,
  "the same request with Host: localhost gets 200");

// Resolves with "serverInfo", or how the connection ended.
function connect(url, protocols = ["foxglove.websocket.v1"]) {
  return new Promise((resolve) => {
    const ws = new WebSocket(url, protocols);
    const done = (v) => {
      ws.terminate();
      resolve(v);
    };
    const timer = setTimeout(() => done("no answer in 5 s"), 5_000);
    ws.on("message", (d, bin) => {
      if (!bin && JSON.parse(d.toString()).op === "serverInfo") {
        clearTimeout(timer);
        done("serverInfo");
      }
    });
    ws.on("unexpected-response", (req, res) => {
      clearTimeout(timer);
      done(`HTTP ${res.statusCode}`);
    });
    ws.on("error", (e) => {
      clearTimeout(timer);
      done(`error: ${e.message}`);
    });
    ws.on("close", (code) => {
      clearTimeout(timer);
      done(`closed ${code}`);
    });
  });
}
const without = await connect(strip(wsUrl));
check(without !== "serverInfo", "a WebSocket without the token is refused", without);
const wrong = await connect(withToken(wsUrl, "0".repeat(token.length)));
check(wrong !== "serverInfo", "a WebSocket with a wrong token is refused", wrong);
const noProto = await connect(wsUrl, []);
check(noProto !== "serverInfo" && !noProto.startsWith("no answer"),
  "a WebSocket with the token but without the subprotocol is refused", noProto);
const right = await connect(wsUrl);
check(right === "serverInfo", "a WebSocket with the token gets serverInfo", right);

console.log(failures === 0 ? "token_check: all checks passed" : `token_check: ${failures} check(s) failed`);
process.exit(failures === 0 ? 0 : 1);
