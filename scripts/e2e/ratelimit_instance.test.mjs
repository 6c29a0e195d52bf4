// Tests of the rate-limit bridge (wasm/ratelimit_js.go, wasm/instance.mjs)
// with the real wasm build, run in Node against stand-ins for the Rate
// Limiting bindings and for Stripe: the key Go sends, a refusal answered
// before any Stripe call, failing open when the binding fails, and the
// missing-binding notice logged once per isolate (not per Go instance), and
// giving up on a binding that never answers.
//
//   WORKER_DIR=dist/worker node --test scripts/e2e/ratelimit_instance.test.mjs
//
// make node runs it for each build (WORKER_DIR).
import { test } from "node:test";
import assert from "node:assert/strict";
import fs from "node:fs";
import path from "node:path";
import { pathToFileURL } from "node:url";

const WORKER_DIR = process.env.WORKER_DIR;
if (!WORKER_DIR) throw new Error("WORKER_DIR must be set (e.g. dist/worker)");

await import(pathToFileURL(path.resolve(WORKER_DIR, "wasm_exec.js")).href);
const { InstancePool, warmUp } = await import(pathToFileURL(path.resolve(WORKER_DIR, "instance.mjs")).href);
const { assertNothingLeftBehind } = await import("./valuetable.mjs");
const wasm = new WebAssembly.Module(fs.readFileSync(path.join(WORKER_DIR, "app.wasm")));
const compiler = fs.existsSync(path.join(WORKER_DIR, "COMPILER")) ? fs.readFileSync(path.join(WORKER_DIR, "COMPILER"), "utf8").trim() : "?";

const ORIGIN = "http://shop.test";
const base = { STRIPE_SECRET_KEY: "sk_test_ratelimit", STRIPE_API_BASE: "https://stripe.invalid" };

// stripe answers every call with one open Checkout Session and counts calls.
function fakeStripe() {
  const session = JSON.stringify({ id: "cs_test_rl", object: "checkout.session", client_secret: "cs_test_rl_secret_rl", status: "open", payment_status: "unpaid" });
  const f = {
    calls: 0,
    fetch: async () => {
      f.calls++;
      return new Response(session, { status: 200, headers: { "content-type": "application/json", "request-id": "req_rl" } });
    },
  };
  return f;
}

// binding is a stand-in for a Rate Limiting binding: answer(key) is what
// limit() does; the keys it was asked about are kept.
function binding(answer) {
  const b = {
    keys: [],
    limit(opts) {
      b.keys.push(opts.key);
      return answer(opts.key);
    },
  };
  return b;
}

const create = (ip) => new Request(ORIGIN + "/create-checkout-session", { method: "POST", headers: ip ? { "cf-connecting-ip": ip } : {} });
const status = (ip) => new Request(ORIGIN + "/session-status?session_id=cs_test_rl", { headers: ip ? { "cf-connecting-ip": ip } : {} });

// First, while this module's once-per-isolate memory is fresh.
test(`${compiler}: a missing binding is logged once per isolate, not by the warm-up`, async () => {
  const warn = console.warn;
  const notices = [];
  console.warn = (...args) => notices.push(args.join(" "));
  try {
    assert.equal(warmUp(wasm), true);
    await new Promise((r) => setTimeout(r, 50));
    assert.deepEqual(notices, [], "the warm-up's stand-in environment says nothing");
    for (let i = 0; i < 3; i++) {
      // A new pool is a new Go instance, whose main runs again.
      const stripe = fakeStripe();
      const res = await new InstancePool(wasm, { fetch: stripe.fetch }).fetch(create("192.0.2.1"), { ...base });
      assert.equal(res.status, 200, "no binding: not limited");
    }
    const off = notices.filter((n) => n.includes("rate limiting is off"));
    assert.equal(off.length, 1, notices.join("\n"));
    assert.match(off[0], /RATE_LIMIT_PAYMENTS and RATE_LIMIT_STATUS/);
  } finally {
    console.warn = warn;
  }
});

test(`${compiler}: a refused check is a 429 with Retry-After, before any Stripe call`, async () => {
  const stripe = fakeStripe();
  const pool = new InstancePool(wasm, { fetch: stripe.fetch });
  const payments = binding(() => Promise.resolve({ success: false }));
  const statusRL = binding(() => Promise.resolve({ success: true }));
  const env = { ...base, RATE_LIMIT_PAYMENTS: payments, RATE_LIMIT_STATUS: statusRL };
  const res = await pool.fetch(create("203.0.113.9"), env);
  assert.equal(res.status, 429);
  assert.equal(res.headers.get("retry-after"), "60");
  assert.equal((await res.json()).error.code, "rate_limited");
  assert.equal(stripe.calls, 0);
  assert.deepEqual(payments.keys, ["203.0.113.9"]);
  // The other binding, and an unlimited endpoint, still answer.
  assert.equal((await pool.fetch(status("2001:db8:1:2:3:4:5:6"), env)).status, 200);
  assert.deepEqual(statusRL.keys, ["2001:db8:1:2::/64"]);
  assert.equal((await pool.fetch(new Request(ORIGIN + "/config"), env)).status, 200);
  assert.equal(stripe.calls, 1);
  assert.equal(pool.started, 1);
});

test(`${compiler}: a binding that fails lets the request through`, async () => {
  const answers = {
    rejects: () => Promise.reject(new Error("rate limiter unavailable")),
    throws: () => {
      throw new Error("bad binding");
    },
    "answers nonsense": () => Promise.resolve({}),
  };
  for (const [name, answer] of Object.entries(answers)) {
    const stripe = fakeStripe();
    const pool = new InstancePool(wasm, { fetch: stripe.fetch });
    const res = await pool.fetch(create("198.51.100.4"), { ...base, RATE_LIMIT_PAYMENTS: binding(answer), RATE_LIMIT_STATUS: binding(answer) });
    assert.equal(res.status, 200, `${name}: ${await res.clone().text()}`);
    assert.equal(stripe.calls, 1, name);
  }
});

// A binding that never answers: the bridge gives up at the worker's 1 s
// deadline (its own timer, since Go arms none for a binding) and the request
// goes ahead, as on any other failure; the instance keeps serving.
test(`${compiler}: a binding that never answers lets the request through after the deadline`, async () => {
  const stripe = fakeStripe();
  const pool = new InstancePool(wasm, { fetch: stripe.fetch });
  const hang = binding(() => new Promise(() => {}));
  const env = { ...base, RATE_LIMIT_PAYMENTS: hang, RATE_LIMIT_STATUS: hang };
  const start = Date.now();
  const res = await pool.fetch(create("198.51.100.9"), env);
  const took = Date.now() - start;
  assert.equal(res.status, 200, await res.clone().text());
  assert.equal(stripe.calls, 1);
  assert.ok(took >= 900 && took < 5000, `answered after ${took} ms (want about the 1 s deadline)`);
  const next = await pool.fetch(status("198.51.100.9"), { ...base, RATE_LIMIT_PAYMENTS: binding(() => ({ success: true })), RATE_LIMIT_STATUS: binding(() => ({ success: true })) });
  assert.equal(next.status, 200);
});

test(`${compiler}: concurrent checks each get their own answer`, async () => {
  const stripe = fakeStripe();
  const pool = new InstancePool(wasm, { fetch: stripe.fetch });
  // Odd last octets are refused, answered in reverse order of arrival.
  let delay = 40;
  const payments = binding((key) => new Promise((r) => setTimeout(() => r({ success: Number(key.split(".")[3]) % 2 === 0 }), (delay -= 2))));
  const env = { ...base, RATE_LIMIT_PAYMENTS: payments, RATE_LIMIT_STATUS: payments };
  const ips = Array.from({ length: 16 }, (_, i) => `192.0.2.${i}`);
  const answers = await Promise.all(ips.map((ip) => pool.fetch(create(ip), env)));
  assert.deepEqual(
    answers.map((r) => r.status),
    ips.map((_, i) => (i % 2 === 0 ? 200 : 429)),
  );
  assert.equal(stripe.calls, 8);
});

test(`${compiler}: rate-limit checks leave nothing behind in the value table`, async () => {
  // Each check passes the client's key to JavaScript as a string; a client
  // per request (each its own address) must not leave one behind each.
  const stripe = fakeStripe();
  const pool = new InstancePool(wasm, { fetch: stripe.fetch, retireRequests: 1e9, retireBytes: 1e12 });
  const env = { ...base, RATE_LIMIT_PAYMENTS: binding(() => ({ success: true })), RATE_LIMIT_STATUS: binding(() => ({ success: true })) };
  assert.equal((await pool.fetch(create("192.0.2.200"), env)).status, 200);
  const inst = pool.get(env);
  const round = async (net) => {
    for (let i = 1; i <= 40; i++) {
      const ip = `10.${net}.0.${i}`;
      assert.equal((await pool.fetch(i % 2 ? create(ip) : status(ip), env)).status, 200);
    }
  };
  await assertNothingLeftBehind(inst, round, "80 checks of new clients");
  if (inst.neverFrees) assert.equal(env.RATE_LIMIT_PAYMENTS.keys.length + env.RATE_LIMIT_STATUS.keys.length, 121, "every request was checked");
});
