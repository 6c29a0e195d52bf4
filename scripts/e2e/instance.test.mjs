// Tests of the long-lived Go instance (wasm/instance.mjs) with the real wasm
// build, run in Node: memory over 10,000 requests, concurrent requests
// interleaving, no state carried between requests, and a crash that does not
// poison the next request.
//
//   WORKER_DIR=dist/worker SANDBOX_URL=http://127.0.0.1:18789 node --test scripts/e2e/instance.test.mjs
//
// WORKER_DIR holds a build (app.wasm, wasm_exec.js, instance.mjs); the sandbox
// is started by go run ./scripts/stack (make browser).
import { test } from "node:test";
import assert from "node:assert/strict";
import fs from "node:fs";
import path from "node:path";
import { pathToFileURL } from "node:url";

const WORKER_DIR = process.env.WORKER_DIR;
const SANDBOX_URL = process.env.SANDBOX_URL;
if (!WORKER_DIR || !SANDBOX_URL) {
  throw new Error("WORKER_DIR and SANDBOX_URL must be set: run through go run ./scripts/stack (make browser)");
}
const REQUESTS = Number(process.env.INSTANCE_TEST_REQUESTS || 10000);

await import(pathToFileURL(path.resolve(WORKER_DIR, "wasm_exec.js")).href);
const { InstancePool, RETIRE_BYTES, RETIRE_REQUESTS, warmUp } = await import(pathToFileURL(path.resolve(WORKER_DIR, "instance.mjs")).href);
const wasm = new WebAssembly.Module(fs.readFileSync(path.join(WORKER_DIR, "app.wasm")));
const compiler = fs.existsSync(path.join(WORKER_DIR, "COMPILER")) ? fs.readFileSync(path.join(WORKER_DIR, "COMPILER"), "utf8").trim() : "?";

const env = {
  STRIPE_SECRET_KEY: "sk_test_sandbox",
  STRIPE_PUBLISHABLE_KEY: "pk_test_sandbox",
  STRIPE_API_BASE: SANDBOX_URL,
};
const ORIGIN = "http://shop.test";

function create(quantity, id = "stickers") {
  return new Request(ORIGIN + "/create-checkout-session", {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify({ items: [{ id, quantity }] }),
  });
}

async function sandboxAmount(clientSecret) {
  const res = await fetch(SANDBOX_URL + "/_sandbox/checkout?client_secret=" + encodeURIComponent(clientSecret));
  assert.equal(res.status, 200);
  return (await res.json()).amount_total;
}

test(`${compiler}: memory stays flat over ${REQUESTS} requests`, async () => {
  const pool = new InstancePool(wasm);
  const first = await pool.fetch(create(1), env);
  assert.equal(first.status, 200);
  const { clientSecret } = await first.json();
  const sessionId = clientSecret.split("_secret_")[0];
  const kinds = [
    () => create(2),
    () => new Request(ORIGIN + "/config"),
    () => new Request(ORIGIN + "/session-status?session_id=" + sessionId),
    () => new Request(ORIGIN + "/create-checkout-session", { method: "POST", headers: { "content-type": "application/json" }, body: '{"items":[{"id":"nope"}]}' }),
    // Stripe answers 404: stripe-go decodes its error object.
    () => new Request(ORIGIN + "/session-status?session_id=cs_test_doesnotexist"),
  ];
  const wantStatus = [200, 200, 200, 400, 404];
  const neverFrees = pool.get(env).neverFrees;
  const warmup = Math.min(2000, REQUESTS / 5);
  let atWarmup = 0;
  let peak = 0; // the largest linear memory of the instance serving requests
  const t0 = performance.now();
  for (let i = 0; i < REQUESTS; i++) {
    const k = i % kinds.length;
    const res = await pool.fetch(kinds[k](), env);
    if (res.status !== wantStatus[k]) assert.fail(`request ${i}: status ${res.status}: ${await res.text()}`);
    await res.arrayBuffer();
    const mem = pool.shared.memoryBytes();
    if (i + 1 >= warmup) peak = Math.max(peak, mem);
    if (i + 1 === warmup) atWarmup = mem;
  }
  const ms = performance.now() - t0;
  const end = pool.shared.memoryBytes();
  const mib = (b) => (b / 1048576).toFixed(1) + " MiB";
  console.log(
    `# ${compiler}: ${REQUESTS} requests in ${(ms / 1000).toFixed(1)} s; wasm memory ${mib(atWarmup)} after ${warmup}, ` +
      `peak ${mib(peak)}, ${mib(end)} after ${REQUESTS}; instances started ${pool.started}, retired ${pool.retired}` +
      (neverFrees ? ` (never-freeing allocator: retired after ${RETIRE_REQUESTS} requests or ${mib(RETIRE_BYTES)})` : ""),
  );
  if (neverFrees) {
    // Memory is reclaimed by retiring instances: it never passes the budget
    // by more than one 4 MiB growth step, and retiring is the only reason a
    // new instance started.
    assert.ok(pool.retired >= 1, "10,000 requests should fill at least one instance's budget");
    assert.equal(pool.started, pool.retired + 1, "instances were started only to replace retired ones");
    assert.ok(peak <= RETIRE_BYTES + 4 * 1048576, `an instance grew to ${mib(peak)}, past the ${mib(RETIRE_BYTES)} budget`);
  } else {
    assert.equal(pool.started, 1, "one instance served every request");
    assert.equal(pool.shared.requests, REQUESTS + 1);
    // A leak of even 1 KB per request would add ~8 MiB over the measured span.
    assert.ok(end - atWarmup <= 4 * 1048576, `memory grew from ${mib(atWarmup)} to ${mib(end)}`);
  }
});

test(`${compiler}: a retiring instance finishes its requests while new ones go to a fresh instance`, async (t) => {
  const pool = new InstancePool(wasm, { retireBytes: 1 }); // every instance is past its budget at once
  const a = pool.get(env);
  if (!a.neverFrees) {
    // Collecting allocators never retire, whatever the budget.
    for (let i = 0; i < 3; i++) assert.equal((await pool.fetch(create(1), env)).status, 200);
    assert.equal(pool.started, 1);
    assert.equal(pool.retired, 0);
    return;
  }
  // Two requests in flight on instance a; the first to finish retires it.
  const [r1, r2] = await Promise.all([pool.fetch(create(1), env), pool.fetch(create(2), env)]);
  assert.equal(r1.status, 200);
  assert.equal(r2.status, 200, "the retiring instance finished its second request");
  assert.equal(a.retiring, true);
  assert.equal(a.requests, 2);
  assert.equal(await sandboxAmount((await r2.json()).clientSecret), 1000);
  const r3 = await pool.fetch(create(3), env);
  assert.equal(r3.status, 200);
  assert.notEqual(pool.shared, a, "the next request went to a new instance");
  assert.equal(pool.started, 2);
  assert.equal(pool.retired, 1);
  assert.equal(await sandboxAmount((await r3.json()).clientSecret), 1500);
});

test(`${compiler}: concurrent requests interleave and each gets its own answer`, async () => {
  const pool = new InstancePool(wasm);
  const n = 50;
  const quantities = Array.from({ length: n }, (_, i) => (i % 20) + 1);
  const responses = await Promise.all(quantities.map((q) => pool.fetch(create(q), env)));
  assert.equal(pool.started, 1);
  const secrets = new Set();
  for (let i = 0; i < n; i++) {
    assert.equal(responses[i].status, 200);
    const { clientSecret } = await responses[i].json();
    assert.ok(!secrets.has(clientSecret), "client secret handed out twice");
    secrets.add(clientSecret);
    assert.equal(await sandboxAmount(clientSecret), quantities[i] * 500, `request ${i} got another request's session`);
  }
});

test(`${compiler}: no state is carried from one request to the next`, async () => {
  const pool = new InstancePool(wasm);
  const refused = await pool.fetch(new Request(ORIGIN + "/create-checkout-session", { method: "DELETE" }), env);
  assert.equal(refused.status, 405);
  assert.ok(refused.headers.get("allow"), "405 names the allowed method");
  const ok = await pool.fetch(new Request(ORIGIN + "/config"), env);
  assert.equal(ok.status, 200);
  assert.equal(ok.headers.get("allow"), null, "a header from the previous response leaked");
  const bad = await pool.fetch(new Request(ORIGIN + "/create-checkout-session", { method: "POST", headers: { "content-type": "application/json" }, body: '{"items":[{"id":"mug","quantity":1}],"x":1}' }), env);
  assert.equal(bad.status, 400);
  // The next request's body is read on its own, not appended to the last one.
  const good = await pool.fetch(create(3), env);
  assert.equal(good.status, 200);
  assert.equal(await sandboxAmount((await good.json()).clientSecret), 1500);
  // Oversized bodies (over MAX_REQUEST_BYTES) are refused by the loader
  // itself, after reading them to the end, and the instance lives on.
  const huge = await pool.fetch(new Request(ORIGIN + "/create-checkout-session", { method: "POST", headers: { "content-type": "application/json" }, body: "x".repeat(3 << 20) }), env);
  assert.equal(huge.status, 413);
  assert.equal(pool.started, 1);
});

test(`${compiler}: a crash fails only the requests in flight; the next request gets a new instance`, async () => {
  let release;
  const held = new Promise((resolve) => (release = resolve));
  let holding = true;
  let started;
  const fetchStarted = new Promise((resolve) => (started = resolve));
  // A fetch that holds the first Stripe call until the crash has happened.
  const slowFetch = async (url, init) => {
    if (holding) {
      holding = false;
      started();
      await held;
    }
    return fetch(url, init);
  };
  const pool = new InstancePool(wasm, { fetch: slowFetch });
  const inFlight = pool.fetch(create(1), env);
  const inst = pool.get(env);
  await fetchStarted; // the first request is now inside Go, waiting on Stripe
  // Crash the Go program: serve() with a negative message length makes Go
  // panic inside the callback (standard Go exits; TinyGo traps).
  try {
    inst.bridge.serve(-1, () => {});
  } catch {
    // TinyGo's trap surfaces here; standard Go exits instead.
  }
  assert.equal(inst.dead, true, "the instance is marked dead at once");
  const failed = await inFlight;
  assert.equal(failed.status, 500);
  assert.equal((await failed.json()).error.code, "internal_error");
  release();
  const next = await pool.fetch(create(2), env);
  assert.equal(next.status, 200, "the request after the crash is served");
  assert.equal(pool.started, 2, "by a new instance");
  assert.equal(await sandboxAmount((await next.json()).clientSecret), 1000);
});

test(`${compiler}: GO_INSTANCE=per-request starts an instance for every request`, async () => {
  const pool = new InstancePool(wasm);
  const perRequest = { ...env, GO_INSTANCE: "per-request" };
  for (let i = 0; i < 3; i++) assert.equal((await pool.fetch(new Request(ORIGIN + "/config"), perRequest)).status, 200);
  assert.equal(pool.started, 3);
});

test(`${compiler}: warmUp runs a throw-away instance through start-up and two requests without any I/O`, async () => {
  const realFetch = globalThis.fetch;
  let calls = 0;
  globalThis.fetch = (...args) => {
    calls++;
    return realFetch(...args);
  };
  const logged = [];
  const realLog = console.log;
  console.log = (...args) => logged.push(args.join(" "));
  try {
    assert.equal(warmUp(wasm), true, "the warm-up instance started and served");
    await new Promise((resolve) => setTimeout(resolve, 100)); // let its canned fetch answer settle
  } finally {
    globalThis.fetch = realFetch;
    console.log = realLog;
  }
  assert.equal(calls, 0, "warmUp made a real fetch");
  assert.deepEqual(logged, [], "warmUp wrote to the log");
  // The pool is unaffected: its first instance is a fresh, properly seeded
  // one, here from a module instantiated ahead (as loader.mjs does).
  const pool = new InstancePool(wasm);
  pool.prepare();
  assert.ok(pool.spare, "prepare() instantiated the module");
  const res = await pool.fetch(create(2), env);
  assert.equal(res.status, 200);
  assert.equal(await sandboxAmount((await res.json()).clientSecret), 1000);
  assert.equal(pool.started, 1);
  assert.equal(pool.spare, null, "the prepared instantiation was used");
});
