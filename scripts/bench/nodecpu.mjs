// nodecpu.mjs: CPU per request of the worker's own code, in Node, without
// wrangler: a worker build (WORKER_DIR: app.wasm, wasm_exec.js, instance.mjs)
// or the JavaScript reference (scripts/bench/reference/worker.mjs, bundled
// with esbuild as wrangler would), serving the bench's create-session or
// session-status request with Stripe's answers replayed from stripe-mock.
//
//   . scripts/env.sh
//   node scripts/bench/nodecpu.mjs -worker dist/worker -endpoint create
//   node scripts/bench/nodecpu.mjs -reference -endpoint status -n 3000
//
// Why next to `make bench`: in workerd a request costs 3-5 ms of which the
// worker's own code is a fraction, and run-to-run noise there is ±20%, so a
// lever worth 0.1 ms per request does not show; here the same request costs
// well under 2 ms with far less noise. It measures what the worker's code
// and its bridge cost, not workerd's own work (Node's Request and Response
// stand in for workerd's). Prints the process CPU per request (all threads,
// process.cpuUsage) and the part off the main thread (V8's garbage collector
// and compiler threads), medians of 5 rounds.
//
// stripe-mock (STRIPE_MOCK_BIN, from scripts/env.sh) is started on a free
// port and stopped at the end; each distinct Stripe call is sent to it once
// and its answer replayed for the rest. The instance retires as in
// production (RETIRE_REQUESTS, RETIRE_BYTES) unless -retire 0.
import fs from "node:fs";
import net from "node:net";
import { spawn } from "node:child_process";
import { bundleReference, loadBuild } from "./reference/load.mjs";

const args = process.argv.slice(2);
const flag = (name, def) => {
  const i = args.indexOf("-" + name);
  return i < 0 ? def : args[i + 1];
};
const endpoint = flag("endpoint", "create");
const n = Number(flag("n", 3000));
const retire = flag("retire", "1") !== "0";
const workerDir = args.includes("-reference") ? null : flag("worker", "dist/worker");
if (!["create", "status"].includes(endpoint)) throw new Error("-endpoint create or status");

const freePort = () =>
  new Promise((resolve) => {
    const s = net.createServer().listen(0, "127.0.0.1", () => {
      const { port } = s.address();
      s.close(() => resolve(port));
    });
  });

const mockBin = process.env.STRIPE_MOCK_BIN;
if (!mockBin) throw new Error("STRIPE_MOCK_BIN is not set: run `. scripts/env.sh` first");
const mockPort = await freePort();
const mock = spawn(mockBin, ["-http-port", String(mockPort)], { stdio: "ignore" });
const stopMock = () => mock.exitCode === null && mock.kill();
process.on("exit", stopMock);
const mockURL = `http://127.0.0.1:${mockPort}`;
for (let i = 0; ; i++) {
  try {
    await new Promise((resolve, reject) => net.connect(mockPort, "127.0.0.1").on("connect", function () {
      this.end();
      resolve();
    }).on("error", reject));
    break;
  } catch (err) {
    if (i > 100) throw new Error("stripe-mock did not start: " + err.message);
    await new Promise((r) => setTimeout(r, 50));
  }
}

// Stripe's answers: the first call of each method and path goes to
// stripe-mock, the rest replay its answer (status, headers and body).
const realFetch = globalThis.fetch;
const answers = new Map();
globalThis.fetch = async (input, init = {}) => {
  const req = input instanceof Request ? input : new Request(input, init);
  const u = new URL(req.url);
  const key = req.method + " " + u.pathname.replace(/\/cs_[A-Za-z0-9_]+$/, "/ID");
  const body = req.body ? await req.arrayBuffer() : undefined;
  let a = answers.get(key);
  if (a === undefined) {
    const res = await realFetch(mockURL + u.pathname + u.search, { method: req.method, headers: req.headers, body });
    a = { status: res.status, headers: [...res.headers].filter(([k]) => !["content-length", "transfer-encoding", "connection"].includes(k)), body: await res.text() };
    answers.set(key, a);
  }
  return new Response(a.body, { status: a.status, headers: a.headers });
};

const limiter = { limit: async () => ({ success: true }) };
const env = {
  STRIPE_SECRET_KEY: "sk_test_bench",
  STRIPE_PUBLISHABLE_KEY: "pk_test_bench",
  STRIPE_API_BASE: "http://stripe.invalid",
  DEPLOYMENT_ID: "bench",
  RATE_LIMIT_PAYMENTS: limiter,
  RATE_LIMIT_STATUS: limiter,
};

let handle;
let name;
if (workerDir === null) {
  name = "reference";
  const bundle = await bundleReference();
  process.on("exit", bundle.remove);
  const ref = await bundle.load();
  handle = (req) => ref.fetch(req, env, { waitUntil() {}, passThroughOnException() {} });
} else {
  name = workerDir;
  const { InstancePool, wasm } = await loadBuild(workerDir);
  const pool = new InstancePool(wasm, retire ? {} : { retireRequests: Infinity, retireBytes: Infinity });
  handle = (req) => pool.fetch(req, env);
}

const request =
  endpoint === "create"
    ? () => new Request("http://127.0.0.1:8787/create-checkout-session", { method: "POST", headers: { "content-type": "application/json" }, body: '{"items":[{"id":"tshirt","quantity":1}]}' })
    : () => new Request("http://127.0.0.1:8787/session-status?session_id=cs_test_a1b2c3");
const run = async (count) => {
  for (let i = 0; i < count; i++) {
    const res = await handle(request());
    if (res.status !== 200) throw new Error(`status ${res.status}: ${await res.text()}`);
    await res.arrayBuffer();
  }
};
const mainThreadMs = () => Number(fs.readFileSync(`/proc/self/task/${process.pid}/schedstat`, "utf8").split(" ")[0]) / 1e6;

await run(500); // compiled and warm
const all = [];
const off = [];
for (let round = 0; round < 5; round++) {
  const m0 = mainThreadMs();
  const c0 = process.cpuUsage();
  await run(n);
  const c = process.cpuUsage(c0);
  const total = (c.user + c.system) / 1000 / n;
  all.push(total);
  off.push(total - (mainThreadMs() - m0) / n);
}
const med = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
console.log(`${name} ${endpoint}: ${med(all).toFixed(3)} ms CPU per request (rounds: ${all.map((x) => x.toFixed(3)).join(" ")}), ${med(off).toFixed(3)} off the main thread; ${n} requests a round`);
stopMock();
process.exit(0);
