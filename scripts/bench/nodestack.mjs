// nodestack.mjs: the bench's requests served in Node, without wrangler, for
// nodecpu.mjs and firstcode.mjs: a worker build (WORKER_DIR: app.wasm,
// wasm_exec.js, instance.mjs) or the JavaScript reference
// (scripts/bench/reference/worker.mjs, bundled with esbuild as wrangler
// would), with Stripe's answers replayed from stripe-mock.
//
// stripe-mock (STRIPE_MOCK_BIN, from scripts/env.sh) is started on a free
// port and stopped by stop() or at exit; each distinct Stripe call is sent
// to it once and its answer replayed for the rest. The instance retires as
// in production (RETIRE_REQUESTS, RETIRE_BYTES) unless retire is false.
import net from "node:net";
import { spawn } from "node:child_process";
import { bundleReference, loadBuild } from "./reference/load.mjs";

const freePort = () =>
  new Promise((resolve) => {
    const s = net.createServer().listen(0, "127.0.0.1", () => {
      const { port } = s.address();
      s.close(() => resolve(port));
    });
  });

async function startMock() {
  const mockBin = process.env.STRIPE_MOCK_BIN;
  if (!mockBin) throw new Error("STRIPE_MOCK_BIN is not set: run `. scripts/env.sh` first");
  const port = await freePort();
  const mock = spawn(mockBin, ["-http-port", String(port)], { stdio: "ignore" });
  const stop = () => mock.exitCode === null && mock.kill();
  process.on("exit", stop);
  for (let i = 0; ; i++) {
    try {
      await new Promise((resolve, reject) =>
        net.connect(port, "127.0.0.1").on("connect", function () {
          this.end();
          resolve();
        }).on("error", reject),
      );
      return { url: `http://127.0.0.1:${port}`, stop };
    } catch (err) {
      if (i > 100) throw new Error("stripe-mock did not start: " + err.message);
      await new Promise((r) => setTimeout(r, 50));
    }
  }
}

// replayingFetch sends the first call of each method and path to mockURL
// and replays its answer (status, headers and body) for the rest.
function replayingFetch(mockURL) {
  const realFetch = globalThis.fetch;
  const answers = new Map();
  return async (input, init = {}) => {
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
}

const limiter = { limit: async () => ({ success: true }) };
export const env = {
  STRIPE_SECRET_KEY: "sk_test_bench",
  STRIPE_PUBLISHABLE_KEY: "pk_test_bench",
  STRIPE_API_BASE: "http://stripe.invalid",
  DEPLOYMENT_ID: "bench",
  RATE_LIMIT_PAYMENTS: limiter,
  RATE_LIMIT_STATUS: limiter,
};

// requests are the bench's create-session and session-status requests.
export const requests = {
  create: () => new Request("http://127.0.0.1:8787/create-checkout-session", { method: "POST", headers: { "content-type": "application/json" }, body: '{"items":[{"id":"tshirt","quantity":1}]}' }),
  status: () => new Request("http://127.0.0.1:8787/session-status?session_id=cs_test_a1b2c3"),
};

// nodeStack starts stripe-mock, points fetch at it and loads workerDir's
// build (null: the reference). handle(req) serves one request; run(make, n)
// serves n requests from make() and fails on any answer but a 200.
export async function nodeStack({ workerDir, retire = true }) {
  const mock = await startMock();
  globalThis.fetch = replayingFetch(mock.url);
  let handle;
  let name;
  let build = null;
  if (workerDir === null) {
    name = "reference";
    const bundle = await bundleReference();
    process.on("exit", bundle.remove);
    const ref = await bundle.load();
    handle = (req) => ref.fetch(req, env, { waitUntil() {}, passThroughOnException() {} });
  } else {
    name = workerDir;
    build = await loadBuild(workerDir);
    const pool = new build.InstancePool(build.wasm, retire ? {} : { retireRequests: Infinity, retireBytes: Infinity });
    handle = (req) => pool.fetch(req, env);
  }
  const run = async (make, count) => {
    for (let i = 0; i < count; i++) {
      const res = await handle(make());
      if (res.status !== 200) throw new Error(`status ${res.status}: ${await res.text()}`);
      await res.arrayBuffer();
    }
  };
  return { name, build, handle, run, stop: mock.stop };
}
