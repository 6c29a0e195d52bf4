// profile.mjs: a V8 CPU profile of the user worker under `wrangler dev`,
// taken through wrangler's inspector port (Chrome DevTools Protocol,
// Profiler.start/stop), around requests this script sends; then a summary of
// where the samples went: the Go program (wasm functions), wasm_exec.js (the
// toolchain's value marshalling), instance.mjs/worker.mjs (the bridge),
// other JavaScript (wrangler's middleware, stripe-node), the garbage
// collector, and V8/workerd native time ("(program)").
//
//   node scripts/bench/profile.mjs \
//     -inspector 9229 -base http://127.0.0.1:8787 -path /create-checkout-session \
//     -body '{"items":[{"id":"tshirt","quantity":1}]}' -n 300 -c 1 -out dist/bench/create.cpuprofile
//
// -n 1 -warm 0 on a fresh `wrangler dev` profiles the first request. The
// profile can be opened in Chrome DevTools. It overstates absolute CPU (the
// profiler's own sampling) and counts idle time separately: read shares.
// Prints the summary as text and, with -json, as one JSON line.
import { writeFileSync } from "node:fs";
import { createRequire } from "node:module";

// wrangler's own dependency; Node 20's WebSocket is refused by wrangler's
// inspector proxy.
const WebSocket = createRequire(import.meta.url)("ws");

const args = Object.fromEntries(
  process.argv
    .slice(2)
    .reduce((acc, a, i, all) => (a.startsWith("-") ? [...acc, [a.replace(/^-+/, ""), all[i + 1]]] : acc), []),
);
const inspector = Number(args.inspector || 9229);
const base = args.base || "http://127.0.0.1:8787";
const path = args.path || "/create-checkout-session";
const body = args.body;
const method = args.method || (body ? "POST" : "GET");
const n = Number(args.n || 100);
const c = Number(args.c || 1);
const warm = Number(args.warm ?? 0);
const interval = Number(args.interval || 100); // µs between samples
const headers = args.headers ? JSON.parse(args.headers) : body ? { "content-type": "application/json" } : {};

async function target() {
  const list = await (await fetch(`http://127.0.0.1:${inspector}/json`)).json();
  // wrangler's inspector proxy lists the user worker (and possibly others);
  // take the first with a WebSocket URL.
  const t = list.find((x) => x.webSocketDebuggerUrl) || list[0];
  if (!t) throw new Error("no inspector target");
  return t.webSocketDebuggerUrl || `ws://127.0.0.1:${inspector}/${t.id}`;
}

function connect(url) {
  return new Promise((resolve, reject) => {
    const ws = new WebSocket(url);
    let next = 1;
    const waiting = new Map();
    ws.on("message", (data) => {
      const m = JSON.parse(data);
      if (m.id && waiting.has(m.id)) {
        const { res, rej } = waiting.get(m.id);
        waiting.delete(m.id);
        m.error ? rej(new Error(JSON.stringify(m.error))) : res(m.result);
      }
    });
    ws.on("error", reject);
    ws.on("open", () =>
      resolve({
        send: (method, params = {}) =>
          new Promise((res, rej) => {
            const id = next++;
            waiting.set(id, { res, rej });
            ws.send(JSON.stringify({ id, method, params }));
          }),
        close: () => ws.close(),
      }),
    );
  });
}

async function one() {
  const res = await fetch(base + path, { method, headers, body });
  await res.arrayBuffer();
  if (res.status !== 200) throw new Error(`${method} ${path}: ${res.status}`);
}

async function load(count) {
  let i = 0;
  let errors = 0;
  await Promise.all(
    Array.from({ length: Math.min(c, count) }, async () => {
      while (i++ < count) await one().catch(() => errors++);
    }),
  );
  return errors;
}

// category of one profile node.
function category(node) {
  const f = node.callFrame;
  const url = f.url || "";
  if (f.functionName === "(garbage collector)") return "gc";
  if (f.functionName === "(program)") return "program";
  if (f.functionName === "(idle)") return "idle";
  if (f.functionName === "(root)") return "root";
  if (url.startsWith("wasm://") || /^\$?(wasm-function|func)/.test(f.functionName)) return "go (wasm)";
  if (url.endsWith("wasm_exec.js")) return "wasm_exec.js";
  if (url.endsWith("instance.mjs")) return "instance.mjs";
  if (url.endsWith("worker.mjs") || url.endsWith("loader.mjs")) return "worker.mjs";
  if (url === "") return "native/builtin";
  return "other js";
}

function summarize(profile) {
  const byId = new Map(profile.nodes.map((nd) => [nd.id, nd]));
  const counts = new Map();
  const fns = new Map();
  const dt = profile.timeDeltas;
  for (let i = 0; i < profile.samples.length; i++) {
    const nd = byId.get(profile.samples[i]);
    const cat = category(nd);
    const us = dt[i + 1] ?? dt[i] ?? 0;
    counts.set(cat, (counts.get(cat) || 0) + us);
    const key = `${cat}\t${nd.callFrame.functionName || "(anonymous)"} ${(nd.callFrame.url || "").split("/").pop()}`;
    fns.set(key, (fns.get(key) || 0) + us);
  }
  const busy = [...counts].filter(([k]) => k !== "idle").reduce((a, [, v]) => a + v, 0);
  return { busy, counts, fns };
}

const url = await target();
const cdp = await connect(url);
await cdp.send("Profiler.enable");
await cdp.send("Profiler.setSamplingInterval", { interval });
if (warm > 0) await load(warm);
await cdp.send("Profiler.start");
const t0 = performance.now();
const errors = await load(n);
const wall = performance.now() - t0;
const { profile } = await cdp.send("Profiler.stop");
cdp.close();
if (args.out) writeFileSync(args.out, JSON.stringify(profile));
const { busy, counts, fns } = summarize(profile);
const pct = (v) => ((100 * v) / busy).toFixed(1);
console.log(`${method} ${path}: ${n} requests at c=${c} in ${wall.toFixed(0)} ms, ${errors} errors; busy samples ${(busy / 1000).toFixed(1)} ms (${(busy / 1000 / n).toFixed(2)} ms/req)`);
for (const [k, v] of [...counts].sort((a, b) => b[1] - a[1])) {
  if (k === "idle") continue;
  console.log(`  ${k.padEnd(16)} ${pct(v).padStart(5)}%  ${(v / 1000 / n).toFixed(3)} ms/req`);
}
console.log("  top functions (self):");
for (const [k, v] of [...fns].sort((a, b) => b[1] - a[1]).slice(0, Number(args.top || 25))) {
  if (k.startsWith("idle")) continue;
  console.log(`    ${pct(v).padStart(5)}%  ${k}`);
}
if (args.json) {
  console.log(JSON.stringify({ path, n, c, busy_ms: busy / 1000, shares: Object.fromEntries([...counts].map(([k, v]) => [k, v / busy])) }));
}
