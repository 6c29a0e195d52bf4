// The benchmark's JavaScript reference (scripts/bench/reference/worker.mjs)
// must do the same D1 work on POST /webhook as the Go worker, or `make bench`
// compares unlike things on its "webhook" and "dup-event" loads. This runs
// both in Node, the Go build of WORKER_DIR (wasm_exec.js + instance.mjs) and
// the reference bundled with esbuild, each against its own fake D1 binding
// (env.DB: prepare(sql).bind(...) with run, raw, first and all) that keeps
// the rows these statements touch in memory and records every statement
// with its parameters. Both get the same signed events: the bench's new order
// (scripts/bench/webhook.go's payment_intent.succeeded of the confirm-intent
// flow), the same event again (the bench's duplicate), a second new order
// with shipping and custom fields (the details column), one whose amount does
// not match its lines (needs review: no fulfillment), a failed payment, and
// another deployment's PaymentIntent. It asserts the same answers and, per
// event, the same statements (whitespace normalised) in the same order with
// the same parameters; times are compared by shape (now, now - the claim's
// TTL) and the fulfillment claim token by shape and consistency (the finish
// names the claim's token). No Stripe call is expected from either.
//
//   WORKER_DIR=dist/worker node --test scripts/e2e/reference_hook_parity.test.mjs
//
// It starts no server; esbuild's service process is stopped after the bundle.
import { test, after } from "node:test";
import assert from "node:assert/strict";
import crypto from "node:crypto";
import { bundleReference, loadBuild } from "../bench/reference/load.mjs";

const WORKER_DIR = process.env.WORKER_DIR;
if (!WORKER_DIR) throw new Error("WORKER_DIR must be set (a build: app.wasm, wasm_exec.js, instance.mjs)");

const { InstancePool, wasm, compiler } = await loadBuild(WORKER_DIR);
// The reference as the bench's wrangler bundles it (as reference_parity).
const bundle = await bundleReference();
after(bundle.remove);
const reference = await bundle.load();

const SECRET = "whsec_hook_parity";
const ORIGIN = "http://shop.test";
const CLAIM_TTL_S = 120; // worker/fulfill.go fulfillmentClaimTTL
const ENV = { STRIPE_SECRET_KEY: "sk_test_hook_parity", STRIPE_API_BASE: "http://stripe.test", STRIPE_WEBHOOK_SECRET: SECRET, DEPLOYMENT_ID: "bench" };

const norm = (sql) => sql.replace(/\s+/g, " ").trim();

// The order columns as SQLStore reads them (worker/orders/sql.go), which are
// also D1's names for them (an expression's text).
const ORDER_COLUMNS = [
  "id", "ref", "flow", "state", "payment_state", "review", "COALESCE(session_id, '')", "COALESCE(payment_intent_id, '')",
  "email", "currency", "amount_total", "amount_received", "amount_capturable", "amount_refunded", "dispute", "decline_code", "livemode",
  "lines", "details", "fulfillment", "fulfillment_attempts", "COALESCE(fulfilled_at, 0)", "created_at", "updated_at", "version", "reference",
];
// The parameters of the INSERT INTO orders, in order (?19 is both times).
const CREATE_PARAMS = ["id", "ref", "flow", "state", "payment_state", "review", "session_id", "payment_intent_id", "email", "currency",
  "amount_total", "amount_received", "amount_capturable", "amount_refunded", "dispute", "decline_code", "livemode", "lines", "created_at",
  "details", "reference"];

// fakeD1 is a D1 binding that knows the statements of the webhook's new-order
// path (their text as worker/orders/sql.go has it) and keeps their rows in
// memory; any other statement is recorded and fails, as would a statement on
// a table or column the schema lacks. D1 refuses parameters other than
// numbers, strings, booleans and null, so does this.
function fakeD1() {
  const db = { statements: [], orders: new Map(), events: new Map() };
  const findOrder = (key) => {
    const all = [...db.orders.values()].filter((o) => o.id === key || o.session_id === key || o.payment_intent_id === key || o.ref === key);
    all.sort((a, b) => (a.ref === key) - (b.ref === key) || b.created_at - a.created_at || (a.id < b.id ? 1 : -1));
    return all[0];
  };
  const orderRow = (o) => [o.id, o.ref, o.flow, o.state, o.payment_state, o.review, o.session_id ?? "", o.payment_intent_id ?? "",
    o.email, o.currency, o.amount_total, o.amount_received, o.amount_capturable, o.amount_refunded, o.dispute, o.decline_code, o.livemode,
    o.lines, o.details, o.fulfillment, o.fulfillment_attempts, o.fulfilled_at ?? 0, o.created_at, o.updated_at, o.version, o.reference];
  // execute answers one statement: { columns, rows } for a query, { changes } for a write.
  const execute = (sql, args) => {
    const s = norm(sql);
    if (s === "SELECT COUNT(*) FROM webhook_events WHERE id = ?1") return { columns: ["COUNT(*)"], rows: [[db.events.has(args[0]) ? 1 : 0]] };
    if (s.startsWith(`SELECT ${ORDER_COLUMNS.join(", ")} FROM orders WHERE id = ?1 OR session_id = ?1 OR payment_intent_id = ?1 OR ref = ?1 ORDER BY (ref = ?1) ASC, created_at DESC, id DESC LIMIT 1`)) {
      const o = findOrder(args[0]);
      return { columns: ORDER_COLUMNS, rows: o ? [orderRow(o)] : [] };
    }
    if (s.startsWith("INSERT INTO orders (id, ref, flow, state, payment_state, review, session_id, payment_intent_id, email, currency, amount_total, amount_received, amount_capturable, amount_refunded, dispute, decline_code, livemode, lines, created_at, updated_at, version, details, reference) VALUES (?1, ?2, ?3, ?4, ?5, ?6, NULLIF(?7, ''), NULLIF(?8, ''), ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?16, ?17, ?18, ?19, ?19, 1, ?20, ?21) ON CONFLICT DO NOTHING")) {
      assert.equal(args.length, CREATE_PARAMS.length, "INSERT INTO orders: parameter count");
      const o = Object.fromEntries(CREATE_PARAMS.map((k, i) => [k, args[i]]));
      o.session_id ||= null;
      o.payment_intent_id ||= null;
      Object.assign(o, { updated_at: o.created_at, version: 1, fulfillment: "none", fulfillment_attempts: 0, fulfillment_claim: null });
      const clash = [...db.orders.values()].some((x) => x.id === o.id || (o.session_id && x.session_id === o.session_id) || (o.payment_intent_id && x.payment_intent_id === o.payment_intent_id));
      if (clash) return { changes: 0 };
      JSON.parse(o.lines); // the columns hold JSON
      JSON.parse(o.details);
      db.orders.set(o.id, o);
      return { changes: 1 };
    }
    if (s.startsWith("UPDATE orders SET fulfillment = 'claimed', fulfillment_claim = ?2, fulfillment_claimed_at = ?3, fulfillment_attempts = fulfillment_attempts + 1, updated_at = ?3 WHERE id = ?1 AND state IN ('paid', 'captured') AND (fulfillment = 'none' OR (fulfillment = 'claimed' AND fulfillment_claimed_at < ?4))")) {
      const o = db.orders.get(args[0]);
      if (!o || !["paid", "captured"].includes(o.state) || !(o.fulfillment === "none" || (o.fulfillment === "claimed" && o.fulfillment_claimed_at < args[3]))) return { changes: 0 };
      Object.assign(o, { fulfillment: "claimed", fulfillment_claim: args[1], fulfillment_claimed_at: args[2], fulfillment_attempts: o.fulfillment_attempts + 1, updated_at: args[2] });
      return { changes: 1 };
    }
    if (s === "UPDATE orders SET fulfillment = 'done', fulfillment_claim = NULL, fulfilled_at = ?3, updated_at = ?3 WHERE id = ?1 AND fulfillment = 'claimed' AND fulfillment_claim = ?2") {
      const o = db.orders.get(args[0]);
      if (!o || o.fulfillment !== "claimed" || o.fulfillment_claim !== args[1]) return { changes: 0 };
      Object.assign(o, { fulfillment: "done", fulfillment_claim: null, fulfilled_at: args[2], updated_at: args[2] });
      return { changes: 1 };
    }
    if (s === "INSERT INTO webhook_events (id, type, order_id, received_at) VALUES (?1, ?2, NULLIF(?3, ''), ?4) ON CONFLICT (id) DO NOTHING") {
      if (db.events.has(args[0])) return { changes: 0 };
      db.events.set(args[0], { type: args[1], order_id: args[2] || null, received_at: args[3] });
      return { changes: 1 };
    }
    throw new Error("D1_ERROR: the fake D1 does not know this statement: " + s);
  };
  const statement = (sql, args) => {
    const answer = (mode) => {
      db.statements.push({ sql: norm(sql), args, mode });
      for (const [i, a] of args.entries()) {
        if (!(a === null || ["number", "string", "boolean"].includes(typeof a))) throw new Error(`D1_TYPE_ERROR: parameter ?${i + 1} is ${typeof a}`);
      }
      return execute(sql, args);
    };
    const objects = (r) => r.rows.map((row) => Object.fromEntries(r.columns.map((c, i) => [c, row[i]])));
    return {
      run: async () => {
        const r = answer("run");
        return { success: true, results: [], meta: { changes: r.changes ?? 0, last_row_id: 0 } };
      },
      raw: async (opts) => {
        const r = answer("raw");
        return opts && opts.columnNames ? [r.columns ?? [], ...(r.rows ?? [])] : r.rows ?? [];
      },
      all: async () => ({ success: true, results: objects(answer("all")), meta: {} }),
      first: async (col) => {
        const r = answer("first");
        const o = objects(r)[0] ?? null;
        if (col === undefined || o === null) return o;
        if (!(col in o)) throw new Error(`D1_COLUMN_NOTFOUND: ${col}`);
        return o[col];
      },
    };
  };
  db.prepare = (sql) => ({ bind: (...args) => statement(sql, args) });
  return db;
}

// event builds a payment_intent.* event as scripts/bench/webhook.go does
// (paymentIntentEvent), with the PaymentIntent's fields overridden.
function event(n, { type = "payment_intent.succeeded", metadata = {}, ...pi } = {}) {
  const created = Math.floor(Date.now() / 1000);
  return JSON.stringify({
    id: `evt_bench_${n}`,
    object: "event",
    api_version: "2025-08-27.basil",
    created,
    type,
    livemode: false,
    data: {
      object: {
        id: `pi_bench_${n}`,
        object: "payment_intent",
        amount: 2400,
        amount_received: 2400,
        currency: "usd",
        status: "succeeded",
        capture_method: "automatic",
        created,
        livemode: false,
        metadata: { kit_order: "ord_" + n.toString(16).padStart(16, "0"), kit_cart: "mug:2:1200", kit_flow: "confirm_intent", kit_deployment: "bench", ...metadata },
        ...pi,
      },
    },
  });
}

function signed(body) {
  const t = Math.floor(Date.now() / 1000);
  const v1 = crypto.createHmac("sha256", SECRET).update(`${t}.${body}`).digest("hex");
  return new Request(ORIGIN + "/webhook", { method: "POST", headers: { "content-type": "application/json; charset=utf-8", "stripe-signature": `t=${t},v1=${v1}` }, body });
}

// label names a statement by the first words it starts with.
const LABELS = ["SELECT COUNT(*)", "SELECT id", "INSERT INTO orders", "UPDATE orders SET fulfillment = 'claimed'", "UPDATE orders SET fulfillment = 'done'", "INSERT INTO webhook_events"];
const label = (sql) => LABELS.find((l) => sql.startsWith(l)) ?? sql;
const paidWrites = LABELS;
const unpaidWrites = ["SELECT COUNT(*)", "SELECT id", "INSERT INTO orders", "INSERT INTO webhook_events"];

// The events, in the order sent, with the answer and statements both must give.
const events = [
  { name: "the bench's new order (webhook load)", body: event(0), answer: { received: true, order: "pi_bench_0", state: "paid" }, statements: paidWrites },
  { name: "the same event again (dup-event load)", body: event(0), answer: { received: true, duplicate: true }, statements: ["SELECT COUNT(*)"] },
  { name: "a second new order", body: event(1), answer: { received: true, order: "pi_bench_1", state: "paid" }, statements: paidWrites },
  {
    name: "a new order with shipping, custom fields and a receipt email",
    body: event(2, {
      amount: 3500,
      amount_received: 3500,
      receipt_email: "jenny@example.com",
      metadata: { kit_cart: "tshirt:1:2000", kit_shipping: "express:1500", kit_fields: "size=XL&gift_note=for+A%26B+%3Cwith+love%3E" },
      shipping: { name: "Jenny Rosen", phone: "+15555550100", address: { line1: "354 Oyster Point Blvd", line2: null, city: "South San Francisco", state: "CA", postal_code: "94080", country: "US" } },
    }),
    answer: { received: true, order: "pi_bench_2", state: "paid" },
    statements: paidWrites,
  },
  {
    name: "paid less than its lines: needs review, not fulfilled",
    body: event(3, { amount_received: 2000 }),
    answer: { received: true, order: "pi_bench_3", state: "needs_review" },
    statements: unpaidWrites,
  },
  {
    name: "a failed payment",
    body: event(4, { type: "payment_intent.payment_failed", status: "requires_payment_method", amount_received: 0, last_payment_error: { type: "card_error", code: "card_declined", decline_code: "insufficient_funds" } }),
    answer: { received: true, order: "pi_bench_4", state: "failed" },
    statements: unpaidWrites,
  },
  {
    name: "another deployment's PaymentIntent",
    body: event(5, { metadata: { kit_deployment: "elsewhere" } }),
    answer: { received: true, ignored: true },
    statements: ["SELECT COUNT(*)", "INSERT INTO webhook_events"],
  },
];

// shapes replaces the parameters that are the time (now, or now minus the
// claim's TTL, in Unix seconds between t0 and t1) and the claim token by
// their shapes, after checking them: one token per request, the same in the
// claim and the finish.
function shapes(statements, t0, t1, who) {
  const [lo, hi] = [Math.floor(t0 / 1000), Math.ceil(t1 / 1000)];
  let claim = null;
  return statements.map((st) => ({
    sql: st.sql,
    read: st.mode !== "run",
    args: st.args.map((a) => {
      if (Number.isInteger(a) && a >= lo && a <= hi) return "<now>";
      if (Number.isInteger(a) && a >= lo - CLAIM_TTL_S && a <= hi - CLAIM_TTL_S) return "<now-ttl>";
      if (typeof a === "string" && st.sql.includes("fulfillment_claim") && /^[0-9a-f]{24}$/.test(a)) {
        assert.ok(claim === null || claim === a, `${who}: one claim token per request`);
        claim = a;
        return "<claim>";
      }
      return a;
    }),
  }));
}

// run sends the events to one worker with its own fake D1, and returns per
// event the answer and the shaped statements.
async function run(serve, who) {
  const db = fakeD1();
  const out = [];
  for (const ev of events) {
    const before = db.statements.length;
    const t0 = Date.now();
    const res = await serve(signed(ev.body), { ...ENV, DB: db });
    const t1 = Date.now();
    const text = await res.text();
    out.push({ status: res.status, text, statements: shapes(db.statements.slice(before), t0, t1, who) });
  }
  return { out, db };
}

test(`${compiler}: the JS reference runs the Go worker's D1 statements on POST /webhook`, async (t) => {
  const stripeCalls = [];
  const noStripe = async (url) => {
    stripeCalls.push(String(url));
    return new Response(JSON.stringify({ error: { type: "api_error", message: "no Stripe call expected" } }), { status: 500, headers: { "content-type": "application/json" } });
  };
  const savedFetch = globalThis.fetch;
  globalThis.fetch = noStripe; // stripe-node's fetch client, if the reference called Stripe
  t.after(() => (globalThis.fetch = savedFetch));
  const pool = new InstancePool(wasm, { fetch: noStripe });
  const go = await run((req, env) => pool.fetch(req, env), "go");
  const js = await run((req, env) => reference.fetch(req, env), "js");
  assert.deepEqual(stripeCalls, [], "no Stripe call for these events");

  for (const [i, ev] of events.entries()) {
    await t.test(ev.name, () => {
      const [g, j] = [go.out[i], js.out[i]];
      assert.equal(g.status, 200, `the Go worker answered ${g.status} ${g.text}`);
      assert.deepEqual(JSON.parse(g.text), ev.answer, "the Go worker's answer");
      // The expected statements pin the Go worker's path, so that a change
      // there is noticed here (and the reference is updated with it).
      assert.deepEqual(g.statements.map((s) => label(s.sql)), ev.statements, "the Go worker's statements");
      assert.equal(j.statements.length, g.statements.length, `statement count: the reference ran ${j.statements.map((s) => s.sql.slice(0, 40)).join(" | ")}`);
      for (let k = 0; k < g.statements.length; k++) {
        const [gs, js_] = [g.statements[k], j.statements[k]];
        assert.equal(js_.sql, gs.sql, `statement ${k + 1}: its text`);
        assert.equal(js_.read, gs.read, `statement ${k + 1} (${gs.sql.slice(0, 40)}): a read or a write`);
        assert.deepEqual(js_.args, gs.args, `statement ${k + 1} (${gs.sql.slice(0, 40)}): its parameters`);
      }
      assert.equal(j.status, 200, `the reference answered ${j.status} ${j.text}`);
      assert.deepEqual(JSON.parse(j.text), ev.answer, "the reference's answer");
    });
  }

  await t.test("both databases end the same (orders and events)", () => {
    const rows = (db) => [...db.orders.values()].map((o) => {
      const { created_at, updated_at, fulfillment_claimed_at, fulfilled_at, fulfillment_claim, ...rest } = o;
      return rest;
    });
    assert.deepEqual(rows(js.db), rows(go.db));
    assert.deepEqual([...js.db.events.keys()], [...go.db.events.keys()]);
    const o = go.db.orders.get("pi_bench_2");
    // The details column as the worker writes it: what the reference must match byte for byte.
    assert.equal(o.details, '{"shipping":{"name":"Jenny Rosen","phone":"+15555550100","address":{"line1":"354 Oyster Point Blvd","city":"South San Francisco","state":"CA","postal_code":"94080","country":"US"},"rate":"express","rate_name":"Express shipping","amount":1500},"phone":"+15555550100","custom_fields":[{"key":"gift_note","value":"for A\\u0026B \\u003cwith love\\u003e"},{"key":"size","value":"XL"}],"amount_shipping":1500}');
    assert.equal(go.db.orders.get("pi_bench_0").fulfillment, "done");
    assert.equal(go.db.orders.get("pi_bench_3").fulfillment, "none", "an order in review is not fulfilled");
  });
});
