// The benchmark's JavaScript reference (scripts/bench/reference/worker.mjs,
// stripe-node) must do the same Stripe work as the Go worker, or `make bench`
// compares unlike things. This runs both in Node, the Go build of WORKER_DIR
// (wasm_exec.js + instance.mjs, as scripts/e2e/instance.test.mjs) and the
// reference bundled with esbuild, sends each the same requests (the bench's
// create and confirm requests, and one of each of the catalog's products),
// captures every Stripe request through a fake fetch answering with canned
// stripe-mock-like JSON, and asserts the same answers, the same calls
// (method, path) in the same order, the same idempotency keys and the same
// decoded form parameters. Values that are random or time-based (the order
// reference, expires_at) are compared by shape, and must be consistent
// within a request: the reference in kit_order is the one in
// client_reference_id and the idempotency key.
//
//   WORKER_DIR=dist/worker node --test scripts/e2e/reference_parity.test.mjs
//
// It starts no server; esbuild's service process is stopped after the bundle.
import { test, after } from "node:test";
import assert from "node:assert/strict";
import { bundleReference, loadBuild } from "../bench/reference/load.mjs";

const WORKER_DIR = process.env.WORKER_DIR;
if (!WORKER_DIR) throw new Error("WORKER_DIR must be set (a build: app.wasm, wasm_exec.js, instance.mjs)");

const { InstancePool, wasm, compiler } = await loadBuild(WORKER_DIR);
// The reference as the bench's wrangler would bundle it; a fresh module per
// environment (loadReference): the reference keeps its state per isolate.
const bundle = await bundleReference();
after(bundle.remove);
const loadReference = bundle.load;

const API = "http://stripe.test";
const ORIGIN = "http://shop.test";
const BASE_ENV = {
  STRIPE_SECRET_KEY: "sk_test_parity",
  STRIPE_PUBLISHABLE_KEY: "pk_test_parity",
  STRIPE_API_BASE: API,
  DEPLOYMENT_ID: "bench",
};
// What the checkout session's expires_at is: now + 30 minutes + 2 (worker/payments.go).
const EXPIRES_IN_S = 32 * 60;

// token is the ConfirmationToken the fake answers: scripts/bench/mockfix.go's
// (test mode, an hour to live, unused, the bench's shipping address) with a
// credit card from the US unless a test says otherwise.
function token(id, { funding = "credit", country = "US", shipTo = "US", phone = null } = {}) {
  return {
    id,
    object: "confirmation_token",
    created: Math.floor(Date.now() / 1000),
    expires_at: Math.floor(Date.now() / 1000) + 3600,
    livemode: false,
    mandate_data: null,
    payment_intent: null,
    setup_intent: null,
    setup_future_usage: null,
    payment_method_preview: {
      type: "card",
      billing_details: { email: null, name: null, phone: null, address: null },
      card: { brand: "visa", funding, country, last4: "4242", exp_month: 12, exp_year: 2034, wallet: null },
    },
    shipping: { name: "Jenny Rosen", phone, address: { line1: "354 Oyster Point Blvd", line2: null, city: "South San Francisco", state: "CA", postal_code: "94080", country: shipTo } },
  };
}

// stripe captures the Stripe requests of one run and answers them.
function stripe(tokenOptions) {
  const calls = [];
  const fetch = async (url, init) => {
    const req = new Request(url, init);
    const u = new URL(req.url);
    const body = req.method === "GET" ? "" : await req.text();
    const params = {};
    for (const [k, v] of [...u.searchParams, ...new URLSearchParams(body)]) {
      assert.ok(!(k in params), `${req.method} ${u.pathname}: parameter ${k} sent twice`);
      params[k] = v;
    }
    calls.push({ call: `${req.method} ${u.pathname}`, idempotencyKey: req.headers.get("idempotency-key") ?? "", params });
    let answer;
    if (req.method === "POST" && u.pathname === "/v1/checkout/sessions") {
      answer = { id: "cs_test_parity", object: "checkout.session", client_secret: "cs_test_parity_secret_abc", status: "open", url: null, ui_mode: "embedded" };
    } else if (req.method === "GET" && u.pathname.startsWith("/v1/confirmation_tokens/")) {
      answer = token(decodeURIComponent(u.pathname.slice("/v1/confirmation_tokens/".length)), tokenOptions);
    } else if (req.method === "POST" && u.pathname === "/v1/payment_intents") {
      answer = { id: "pi_parity", object: "payment_intent", client_secret: "pi_parity_secret_abc", status: "succeeded", amount: Number(params.amount), currency: params.currency, next_action: null };
    } else {
      return new Response(JSON.stringify({ error: { type: "invalid_request_error", message: "the parity fake has no " + req.method + " " + u.pathname } }), {
        status: 404,
        headers: { "content-type": "application/json", "request-id": "req_parity" },
      });
    }
    return new Response(JSON.stringify(answer), { status: 200, headers: { "content-type": "application/json", "request-id": "req_parity" } });
  };
  return { calls, fetch };
}

// normalize replaces the order reference and expires_at by their shapes,
// after checking them, so that two runs' calls compare with deepEqual.
function normalize(calls, t0, t1, who) {
  let ref = null;
  return calls.map((c) => {
    const params = { ...c.params };
    const r = params["metadata[kit_order]"];
    if (r !== undefined) {
      assert.match(r, /^ord_[0-9a-f]{16}$/, `${who}: ${c.call}: metadata[kit_order]`);
      assert.ok(ref === null || ref === r, `${who}: one order reference per request`);
      ref = r;
    }
    if (params.expires_at !== undefined) {
      const at = Number(params.expires_at);
      assert.ok(Number.isInteger(at) && at >= Math.floor(t0 / 1000) + EXPIRES_IN_S - 1 && at <= Math.ceil(t1 / 1000) + EXPIRES_IN_S + 1, `${who}: expires_at ${params.expires_at} is not now + 32 minutes`);
      params.expires_at = "<now+32min>";
    }
    const shape = (v) => (ref ? v.split(ref).join("<ord_ref>") : v);
    for (const k of Object.keys(params)) params[k] = shape(params[k]);
    return { call: c.call, idempotencyKey: shape(c.idempotencyKey), params };
  });
}

// run sends one request to a worker (Go pool or reference) with its own
// fake Stripe, and returns the answer and the normalized calls.
async function run(serve, env, make, tokenOptions, who) {
  const s = stripe(tokenOptions);
  const t0 = Date.now();
  const res = await serve(make(), env, s.fetch);
  const t1 = Date.now();
  const text = await res.text();
  let body;
  try {
    body = JSON.parse(text);
  } catch {
    assert.fail(`${who}: answer ${res.status} is not JSON: ${text}`);
  }
  return { status: res.status, code: body.error ? body.error.code : "", param: body.error ? body.error.param ?? "" : "", calls: normalize(s.calls, t0, t1, who) };
}

const post = (p, body) => () => new Request(ORIGIN + p, { method: "POST", headers: { "content-type": "application/json" }, body: body === undefined ? undefined : JSON.stringify(body) });
const create = (items) => post("/create-checkout-session", items && { items });
const confirm = (body) => post("/create-confirm-intent", { confirmationToken: "ctoken_bench", ...body });

// Each case: a request, the token the fake answers, and what both must come to.
const cases = [
  { name: "bench create: one T-shirt", make: create([{ id: "tshirt", quantity: 1 }]), status: 200, calls: ["POST /v1/checkout/sessions"] },
  { name: "create: the default item (no body)", make: create(undefined), status: 200, calls: ["POST /v1/checkout/sessions"] },
  { name: "create: a mug", make: create([{ id: "mug", quantity: 1 }]), status: 200, calls: ["POST /v1/checkout/sessions"] },
  { name: "create: stickers over free shipping", make: create([{ id: "stickers", quantity: 12 }]), status: 200, calls: ["POST /v1/checkout/sessions"] },
  { name: "create: a poster (express only, stock)", make: create([{ id: "poster", quantity: 2 }]), status: 200, calls: ["POST /v1/checkout/sessions"] },
  { name: "create: a stove rental (manual, incremental)", make: create([{ id: "stove-rental", quantity: 1 }]), status: 200, calls: ["POST /v1/checkout/sessions"] },
  {
    name: "create: T-shirts, mug and poster (common rate, free shipping)",
    make: create([{ id: "tshirt", quantity: 2 }, { id: "mug", quantity: 1 }, { id: "poster", quantity: 1 }]),
    status: 200,
    calls: ["POST /v1/checkout/sessions"],
  },
  {
    name: "create: over max_order_amount is refused before Stripe",
    make: create([{ id: "tshirt", quantity: 10 }, { id: "poster", quantity: 3 }, { id: "stickers", quantity: 20 }]),
    status: 422,
    calls: [],
  },
  { name: "create: mixed capture methods are refused", make: create([{ id: "mug", quantity: 1 }, { id: "stove-rental", quantity: 1 }]), status: 400, calls: [] },
  {
    name: "bench confirm: one mug",
    make: confirm({ items: [{ id: "mug", quantity: 1 }] }),
    status: 200,
    calls: ["GET /v1/confirmation_tokens/ctoken_bench", "POST /v1/payment_intents"],
  },
  {
    name: "confirm: a T-shirt with its size, express",
    make: confirm({ items: [{ id: "tshirt", quantity: 1 }], shippingRate: "express", customFields: { size: "XL" }, returnPath: "/pay.html" }),
    status: 200,
    calls: ["GET /v1/confirmation_tokens/ctoken_bench", "POST /v1/payment_intents"],
  },
  {
    name: "confirm: a stove rental (not shipped, manual, incremental)",
    make: confirm({ items: [{ id: "stove-rental", quantity: 2 }] }),
    status: 200,
    calls: ["GET /v1/confirmation_tokens/ctoken_bench", "POST /v1/payment_intents"],
  },
  { name: "confirm: a T-shirt without its size is refused before Stripe", make: confirm({ items: [{ id: "tshirt", quantity: 1 }] }), status: 400, calls: [] },
  { name: "confirm: an unknown shipping rate is refused before Stripe", make: confirm({ items: [{ id: "mug", quantity: 1 }], shippingRate: "drone" }), status: 400, calls: [] },
  {
    name: "confirm: over max_order_amount is refused before Stripe",
    make: confirm({ items: [{ id: "tshirt", quantity: 10 }, { id: "poster", quantity: 3 }, { id: "stickers", quantity: 20 }], customFields: { size: "S" } }),
    status: 422,
    calls: [],
  },
  {
    name: "confirm: a prepaid card is refused by the card rules",
    make: confirm({ items: [{ id: "mug", quantity: 1 }] }),
    token: { funding: "prepaid" },
    status: 422,
    calls: ["GET /v1/confirmation_tokens/ctoken_bench"],
  },
  {
    name: "confirm: shipping to a country the shop does not ship to",
    make: confirm({ items: [{ id: "mug", quantity: 1 }] }),
    token: { shipTo: "AQ" },
    status: 422,
    calls: ["GET /v1/confirmation_tokens/ctoken_bench"],
  },
];

const envs = [
  { name: "bench env", env: BASE_ENV },
  { name: "with PUBLIC_URL", env: { ...BASE_ENV, PUBLIC_URL: "https://shop.example/kit" } },
];

for (const { name: envName, env } of envs) {
  test(`${compiler}: the JS reference makes the Go worker's Stripe calls (${envName})`, async (t) => {
    const reference = await loadReference();
    // stripe-node takes globalThis.fetch when its client is made (the
    // reference's first request): route it to each run's fake.
    let refFetch = null;
    const savedFetch = globalThis.fetch;
    globalThis.fetch = (url, init) => refFetch(url, init);
    t.after(() => (globalThis.fetch = savedFetch));
    let goFetch = null;
    const pool = new InstancePool(wasm, { fetch: (url, init) => goFetch(url, init) });
    const serveGo = (req, e, f) => ((goFetch = f), pool.fetch(req, e));
    const serveRef = (req, e, f) => ((refFetch = f), reference.fetch(req, e));
    for (const c of cases) {
      await t.test(c.name, async () => {
        const go = await run(serveGo, env, c.make, c.token, "go");
        const js = await run(serveRef, env, c.make, c.token, "js");
        assert.equal(go.status, c.status, `the Go worker answered ${go.status} ${go.code}`);
        assert.deepEqual(
          { status: js.status, code: js.code, param: js.param },
          { status: go.status, code: go.code, param: go.param },
          "the reference answers as the Go worker",
        );
        assert.deepEqual(go.calls.map((x) => x.call), c.calls, "the Go worker's calls");
        assert.deepEqual(js.calls.map((x) => x.call), c.calls, "the reference's calls");
        for (let i = 0; i < go.calls.length; i++) {
          const [g, j] = [go.calls[i], js.calls[i]];
          const missing = Object.keys(g.params).filter((k) => !(k in j.params));
          const extra = Object.keys(j.params).filter((k) => !(k in g.params));
          assert.deepEqual({ missing, extra }, { missing: [], extra: [] }, `${g.call}: parameters the reference leaves out or adds`);
          assert.deepEqual(j.params, g.params, `${g.call}: parameter values`);
          assert.equal(j.idempotencyKey, g.idempotencyKey, `${g.call}: Idempotency-Key`);
          if (g.call.startsWith("POST")) assert.match(g.idempotencyKey, /^kit-(cs|pi)-<ord_ref>$/, "the key is the order's");
        }
      });
    }
    // The bench's create really is the rich one: this test compares ~60
    // parameters, not four.
    const bench = await run(serveGo, env, cases[0].make, undefined, "go");
    assert.ok(Object.keys(bench.calls[0].params).length >= 50, `the bench's session has ${Object.keys(bench.calls[0].params).length} parameters`);
  });
}
