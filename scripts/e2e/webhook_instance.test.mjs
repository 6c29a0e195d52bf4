// The D1 driver (wasm/d1_js.go over instance.mjs's bridge) in the long-lived
// Go instance, run in Node with the real wasm build and a stand-in for the D1
// binding: statements and their parameters cross as Go sent them, rows come
// back typed, errors become 500s without killing the instance, and memory
// stays flat over thousands of statements (syumai/workers' d1 driver leaks
// two callbacks' worth per statement in a long-lived instance).
//
//   WORKER_DIR=dist/worker node --test scripts/e2e/webhook_instance.test.mjs
import { test } from "node:test";
import assert from "node:assert/strict";
import crypto from "node:crypto";
import fs from "node:fs";
import path from "node:path";
import { pathToFileURL } from "node:url";

const WORKER_DIR = process.env.WORKER_DIR;
if (!WORKER_DIR) throw new Error("WORKER_DIR must be set (a build: app.wasm, wasm_exec.js, instance.mjs)");
const REQUESTS = Number(process.env.INSTANCE_TEST_REQUESTS || 3000);

await import(pathToFileURL(path.resolve(WORKER_DIR, "wasm_exec.js")).href);
const { InstancePool, RETIRE_BYTES } = await import(pathToFileURL(path.resolve(WORKER_DIR, "instance.mjs")).href);
const { assertNothingLeftBehind } = await import("./valuetable.mjs");
const wasm = new WebAssembly.Module(fs.readFileSync(path.join(WORKER_DIR, "app.wasm")));
const compiler = fs.existsSync(path.join(WORKER_DIR, "COMPILER")) ? fs.readFileSync(path.join(WORKER_DIR, "COMPILER"), "utf8").trim() : "?";

const ADMIN_TOKEN = "admin-token-for-the-instance-test-0123456789";
const SECRET = "whsec_instance";
const ORIGIN = "http://shop.test";

// fakeD1 answers the worker's queries the way D1 would for a database of
// `orders` orders (the columns worker/orders/sql.go reads, each with one
// line in its JSON column `lines` and the details of a shipped order),
// every webhook event already processed.
function fakeD1(orders = 20) {
  const db = { statements: [], fail: null };
  const lines = JSON.stringify([{ product: "mug", description: "Enamel mug \u2615 \"quoted\"", quantity: 1, unit_amount: 1200, amount_total: 1200 }]);
  const details = JSON.stringify({ shipping: { name: "Jenny Rosen", address: { country: "US" }, rate: "standard", amount: 500 }, amount_shipping: 500 });
  const orderRow = (i) => [`cs_test_${i}`, `ord_${i.toString(16).padStart(16, "0")}`, "checkout", "paid", "paid", "", `cs_test_${i}`, "",
    "j@example.com", "usd", 1700, 1700, 0, 0, "", "", 0, lines, details, "done", 1, 1795330000 + i, 1795330000 + i, 1795330000 + i, 1, `ref-${i}`];
  db.prepare = (sql) => ({
    bind: (...args) => ({
      run: async () => {
        db.statements.push({ sql, args, mode: "run" });
        if (db.fail) throw new Error(db.fail);
        return { success: true, meta: { changes: 1, last_row_id: 7 } };
      },
      raw: async (opts) => {
        db.statements.push({ sql, args, mode: "raw", opts });
        if (db.fail) throw new Error(db.fail);
        if (sql.includes("FROM webhook_events")) return [["COUNT(*)"], [1]];
        if (sql.includes("FROM orders")) {
          const limit = Number(args[args.length - 1]);
          const rows = [];
          for (let i = 0; i < Math.min(orders, limit); i++) rows.push(orderRow(orders - i));
          return [["id", "ref", "flow", "state", "payment_state", "review", "s", "p", "email", "currency", "at", "ar", "ac", "arf",
            "dispute", "decline_code", "livemode", "lines", "details", "f", "fa", "fat", "created_at", "updated_at", "version", "reference"], ...rows];
        }
        return [];
      },
    }),
  });
  return db;
}

function signed(body) {
  const t = Math.floor(Date.now() / 1000);
  const v1 = crypto.createHmac("sha256", SECRET).update(`${t}.${body}`).digest("hex");
  return new Request(ORIGIN + "/webhook", { method: "POST", headers: { "content-type": "application/json", "stripe-signature": `t=${t},v1=${v1}` }, body });
}

const duplicate = JSON.stringify({ id: "evt_dup", object: "event", api_version: "2025-08-27.basil", type: "checkout.session.completed", data: { object: { id: "cs_test_1" } } });
const list = () => new Request(ORIGIN + "/admin/orders?limit=20", { headers: { authorization: "Bearer " + ADMIN_TOKEN } });

function envWith(db) {
  return { STRIPE_SECRET_KEY: "sk_test_instance", ADMIN_TOKEN, STRIPE_WEBHOOK_SECRET: SECRET, DB: db };
}

test(`${compiler}: D1 statements cross the bridge with their parameters and typed rows`, async () => {
  const db = fakeD1();
  const pool = new InstancePool(wasm);
  const env = envWith(db);
  const res = await pool.fetch(list(), env);
  assert.equal(res.status, 200, await res.clone().text());
  const body = await res.json();
  assert.equal(body.data.length, 20);
  assert.equal(body.has_more, false);
  const o = body.data[0];
  assert.equal(o.id, "cs_test_20");
  assert.equal(o.reference, "ord_0000000000000014");
  assert.equal(o.amount_total, 1700);
  assert.equal(o.client_reference_id, "ref-20", "the site's reference column");
  assert.equal(o.details.shipping.rate, "standard", "the details column (JSON) crossed whole");
  assert.equal(o.details.amount_shipping, 500);
  assert.equal(o.livemode, false);
  assert.equal(o.payment_intent, undefined, "an empty PaymentIntent id is left out");
  assert.deepEqual(o.lines, [{ product: "mug", description: "Enamel mug \u2615 \"quoted\"", quantity: 1, unit_amount: 1200, amount_total: 1200 }]);
  assert.equal(db.statements.length, 1, "the lines come with the orders, in one statement");
  const [q] = db.statements;
  assert.equal(q.mode, "raw");
  assert.deepEqual(q.opts, { columnNames: true });
  assert.match(q.sql, /ORDER BY created_at DESC, id DESC LIMIT \?1$/);
  assert.deepEqual(q.args, [21]);

  const dup = await pool.fetch(signed(duplicate), env);
  assert.equal(dup.status, 200);
  assert.deepEqual(await dup.json(), { received: true, duplicate: true });
  assert.deepEqual(db.statements[1].args, ["evt_dup"]);
  assert.equal(pool.started, 1);
});

test(`${compiler}: a D1 error is a 500 for that request only`, async () => {
  const db = fakeD1();
  const pool = new InstancePool(wasm);
  const env = envWith(db);
  db.fail = "D1_ERROR: no such table: orders: SQLITE_ERROR";
  const bad = await pool.fetch(list(), env);
  assert.equal(bad.status, 500);
  assert.equal((await bad.json()).error.code, "internal_error");
  const wh = await pool.fetch(signed(duplicate), env);
  assert.equal(wh.status, 500, "a webhook the worker could not record is not acknowledged");
  db.fail = null;
  const ok = await pool.fetch(list(), env);
  assert.equal(ok.status, 200);
  assert.equal(pool.started, 1);
  // Without the binding the worker records nothing and says so.
  const none = await new InstancePool(wasm).fetch(list(), { STRIPE_SECRET_KEY: "sk_test_instance", ADMIN_TOKEN });
  assert.equal(none.status, 503);
  assert.equal((await none.json()).error.code, "orders_unavailable");
});

test(`${compiler}: memory stays flat over ${REQUESTS} requests with D1 statements`, async () => {
  const db = fakeD1();
  const pool = new InstancePool(wasm);
  const env = envWith(db);
  assert.equal((await pool.fetch(list(), env)).status, 200);
  const neverFrees = pool.get(env).neverFrees;
  const warmup = Math.floor(Math.min(2000, REQUESTS / 3));
  let atWarmup = 0;
  let peak = 0;
  const cpu = { list: 0, dup: 0 };
  for (let i = 0; i < REQUESTS; i++) {
    const kind = i % 2 ? "dup" : "list";
    const c0 = process.cpuUsage();
    const res = await pool.fetch(kind === "list" ? list() : signed(duplicate), env);
    await res.arrayBuffer();
    const c = process.cpuUsage(c0);
    cpu[kind] += (c.user + c.system) / 1000;
    if (res.status !== 200) assert.fail(`request ${i} (${kind}): ${res.status}`);
    const mem = pool.shared.memoryBytes();
    if (i + 1 >= warmup) peak = Math.max(peak, mem);
    if (i + 1 === warmup) atWarmup = mem;
  }
  const end = pool.shared.memoryBytes();
  const mib = (b) => (b / 1048576).toFixed(1) + " MiB";
  const per = (k) => (cpu[k] / (REQUESTS / 2)).toFixed(2);
  console.log(`# ${compiler}: ${REQUESTS} requests (${db.statements.length} D1 statements); wasm memory ${mib(atWarmup)} after ${warmup}, peak ${mib(peak)}, ${mib(end)} after ${REQUESTS}; ` +
    `instances started ${pool.started}, retired ${pool.retired}; ` +
    `Node CPU per request: GET /admin/orders (1 statement, 20 rows) ${per("list")} ms, duplicate webhook (1 statement) ${per("dup")} ms`);
  if (neverFrees) {
    // TinyGo's never-freeing build: memory is reclaimed by retiring instances (wasm/instance.mjs).
    assert.equal(pool.started, pool.retired + 1, "instances were started only to replace retired ones");
    assert.ok(peak <= RETIRE_BYTES + 4 * 1048576, `an instance grew to ${mib(peak)}`);
  } else {
    assert.equal(pool.started, 1);
    assert.ok(end - atWarmup <= 4 * 1048576, `memory grew from ${mib(atWarmup)} to ${mib(end)}`);
  }
});

test(`${compiler}: D1 statements leave nothing behind in the value table`, async () => {
  // Each statement's SQL and parameters cross to JavaScript as strings, and
  // each answer comes back as one; without a collecting GC Go never gives
  // their references back, so instance.mjs does (releaseArgs,
  // releaseCallbackValues). Every event id here is new, so each statement's
  // parameters are a string never seen before.
  const pool = new InstancePool(wasm, { retireRequests: 1e9, retireBytes: 1e12 });
  const env = envWith(fakeD1());
  const event = (i) => signed(JSON.stringify({ ...JSON.parse(duplicate), id: `evt_dup_${i}` }));
  assert.equal((await pool.fetch(event(0), env)).status, 200);
  const inst = pool.get(env);
  const round = async (n) => {
    for (let i = n * 100; i < n * 100 + 40; i++) {
      const res = await pool.fetch(i % 4 ? event(i) : list(), env);
      assert.equal(res.status, 200, await res.text());
    }
  };
  await assertNothingLeftBehind(inst, round, "80 requests with D1 statements");
  assert.equal(pool.shared, inst, "one instance served every request");
});
