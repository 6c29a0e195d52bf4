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
const setTimeoutOutside = globalThis.setTimeout;

await import(pathToFileURL(path.resolve(WORKER_DIR, "wasm_exec.js")).href);
const { GoInstance, InstancePool, RETIRE_BYTES, RETIRE_REQUESTS, warmUp } = await import(pathToFileURL(path.resolve(WORKER_DIR, "instance.mjs")).href);
const { assertNothingLeftBehind } = await import("./valuetable.mjs");
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
    inst.bridge.serve(999, -1);
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

// inGlobalScope runs fn as workerd runs a worker's global scope: randomness
// (crypto.getRandomValues, behind WASI's random_get and Go's getRandomData)
// and timers are refused with an exception. It returns fn's result and how
// many times each was asked for.
function inGlobalScope(fn) {
  const cryptoProp = Object.getOwnPropertyDescriptor(globalThis, "crypto");
  const realSetTimeout = globalThis.setTimeout;
  const asked = { random: 0, timers: 0 };
  const refuse = (what) => {
    throw new Error(`Disallowed operation called within global scope: ${what}`);
  };
  Object.defineProperty(globalThis, "crypto", {
    configurable: true,
    value: {
      getRandomValues() {
        asked.random++;
        refuse("generating random values");
      },
    },
  });
  globalThis.setTimeout = () => {
    asked.timers++;
    refuse("timeouts");
  };
  try {
    return { result: fn(), ...asked };
  } finally {
    Object.defineProperty(globalThis, "crypto", cryptoProp);
    globalThis.setTimeout = realSetTimeout;
  }
}

// capturingFetch passes Stripe calls on and records each one's
// Idempotency-Key: a new order's is "kit-cs-ord_" and 16 hex digits from
// crypto/rand (worker/payments.go orderRef).
function capturingFetch(keys) {
  return (url, init) => {
    const key = new Headers(init.headers).get("idempotency-key");
    if (key) keys.push(key);
    return fetch(url, init);
  };
}

test(`${compiler}: startEarly starts the first instance in global scope when start-up needs no randomness, else leaves it to the first request`, async () => {
  const pool = new InstancePool(wasm);
  pool.prepare();
  // Go's own log lines (fd_write) reach console.log or console.error; the
  // start-up notices of logOnce go to console.warn and are allowed.
  const logged = [];
  const { log: realLog, error: realError } = console;
  console.log = console.error = (...args) => logged.push(args.join(" "));
  let early, random, timers;
  try {
    ({ result: early, random, timers } = inGlobalScope(() => pool.startEarly(env)));
  } finally {
    console.log = realLog;
    console.error = realError;
  }
  assert.equal(timers, 0, "start-up or warm() armed a timer");
  assert.deepEqual(logged, [], "start-up or warm() wrote to the log");
  if (compiler === "tinygo") {
    // build/worker.go's runtime_lazyrand: the runtime seeds itself at the
    // first request (wasm/seed_tinygo.go), not at start-up.
    assert.equal(random, 0, "TinyGo's start-up or warm() (wasm/warm_js.go) asked for randomness");
    assert.equal(early, true, `the instance did not start: ${pool.earlyFailure}`);
    assert.equal(pool.started, 1);
  } else {
    // Standard Go's runtime reads random bytes at start-up: refused, so the
    // instance died and was discarded, and a new module instance is ready.
    assert.ok(random > 0, "standard Go's start-up asked for no randomness: startEarly could work for it too");
    assert.equal(early, false);
    assert.equal(pool.shared, null);
    assert.equal(pool.started, 0);
    assert.ok(pool.spare, "a fresh instantiation replaced the one the failed start used");
  }
  const first = pool.shared;
  const res = await pool.fetch(create(2), env);
  assert.equal(res.status, 200);
  assert.equal(await sandboxAmount((await res.json()).clientSecret), 1000);
  assert.equal(pool.started, 1, "one instance, started early or by the first request");
  if (early) assert.equal(pool.shared, first, "the instance started early served the first request");
  // Its clock is a request's: a webhook signed now is not stale (the
  // webhooks suite checks this in workerd, where global scope's clock differs).
  const config = await pool.fetch(new Request(ORIGIN + "/config"), env);
  assert.equal(config.status, 200);
});

test(`${compiler}: an instance started in global scope has real randomness (crypto/rand differs between instances)`, async () => {
  const keys = [];
  for (let i = 0; i < 2; i++) {
    const pool = new InstancePool(wasm, { fetch: capturingFetch(keys) });
    inGlobalScope(() => pool.startEarly(env));
    const res = await pool.fetch(create(1), env);
    assert.equal(res.status, 200);
    await res.arrayBuffer();
  }
  assert.equal(keys.length, 2);
  for (const k of keys) assert.match(k, /^kit-cs-ord_[0-9a-f]{16}$/);
  assert.notEqual(keys[0], keys[1], "two instances made the same crypto/rand order reference");
  // The same check fails for instances seeded with zeros, as warmUp's is
  // (randomness refused, zeroRandom): both make the same reference.
  const zeroKeys = [];
  for (let i = 0; i < 2; i++) {
    inGlobalScope(() => {
      const inst = new GoInstance(wasm, env, { fetch: capturingFetch(zeroKeys), zeroRandom: true });
      assert.equal(inst.dead, false);
      // Straight to Go, synchronously, so that every random byte it reads
      // is refused (handle() would read the body first, after an await).
      globalThis.setTimeout = setTimeoutOutside; // the Stripe call's deadline may arm a timer
      inst.send("POST", ORIGIN + "/create-checkout-session", "content-type: application/json\n", new TextEncoder().encode('{"items":[{"id":"stickers","quantity":1}]}'), () => {});
    });
  }
  assert.equal(zeroKeys.length, 2);
  assert.equal(zeroKeys[0], zeroKeys[1], "zero-seeded instances should repeat each other");
});

test(`${compiler}: startEarly falls back to starting at the first request when start-up fails or there is no env`, async () => {
  // No env (a runtime without "cloudflare:workers"' env export).
  const none = new InstancePool(wasm);
  assert.equal(none.startEarly(undefined), false);
  assert.equal(none.shared, null);
  // GO_INSTANCE=per-request: nothing to keep.
  assert.equal(new InstancePool(wasm).startEarly({ ...env, GO_INSTANCE: "per-request" }), false);
  // Start-up fails: reading the env throws, as anything workerd refuses in
  // global scope does.
  const pool = new InstancePool(wasm);
  pool.prepare();
  const hostile = new Proxy(env, {
    get(target, name) {
      if (name === "STRIPE_SECRET_KEY") throw new Error("refused in global scope");
      return target[name];
    },
  });
  const { result: early } = inGlobalScope(() => pool.startEarly(hostile));
  assert.equal(early, false);
  assert.ok(pool.earlyFailure, "the failure is kept for debugging");
  assert.equal(pool.shared, null, "the failed instance is not kept");
  assert.equal(pool.started, 0);
  for (const p of [none, pool]) {
    const res = await p.fetch(create(3), env);
    assert.equal(res.status, 200);
    assert.equal(await sandboxAmount((await res.json()).clientSecret), 1500);
    assert.equal(p.started, 1, "the first request started the instance");
  }
});

test(`${compiler}: requests leave nothing behind in the value table`, async () => {
  // Without a collecting GC (TinyGo's leaking allocator) Go never gives a
  // reference back, so instance.mjs must: a reply function per request kept
  // the request's closure, Request and body alive, and every callback left
  // its event and arguments objects (releaseCallbackValues). Retiring is off
  // here so the instance lives through every request.
  const pool = new InstancePool(wasm, { retireRequests: 1e9, retireBytes: 1e12 });
  const first = await pool.fetch(create(1), env);
  assert.equal(first.status, 200);
  const sessionId = (await first.json()).clientSecret.split("_secret_")[0];
  const inst = pool.get(env);
  // A hostile sender's large body with large headers: too big for the
  // scratch buffer, so it crosses as a Uint8Array argument of serve().
  const big = () =>
    new Request(ORIGIN + "/create-checkout-session", {
      method: "POST",
      headers: { "content-type": "application/json", "x-padding": "0".repeat(20 << 10) },
      body: "x".repeat(250 << 10),
    });
  const round = async () => {
    for (let i = 0; i < 20; i++) {
      for (const req of [create(2), new Request(ORIGIN + "/session-status?session_id=" + sessionId), new Request(ORIGIN + "/config")]) {
        const res = await pool.fetch(req, env);
        assert.equal(res.status, 200, await res.text());
      }
      if (i % 5 === 0) {
        const res = await pool.fetch(big(), env);
        assert.equal(res.status, 413, "Go refuses a JSON body over its limit");
        await res.arrayBuffer();
      }
    }
  };
  // 128 more requests, most with a Stripe call and a callback or three:
  // before the fix the table grew by 3 or more entries a request (and kept
  // every request's body).
  await assertNothingLeftBehind(inst, round, "128 requests");
  assert.equal(pool.shared, inst, "one instance served every request");
});
