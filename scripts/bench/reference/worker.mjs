// Benchmark reference: the checkout kit's endpoints that the benchmark
// measures, written in JavaScript with the official stripe-node package, so
// that the Go/wasm worker's cost per request can be compared with the usual
// way of doing it.
//
// It is never deployed. `go run ./scripts/bench` runs it with
// `wrangler dev scripts/bench/reference/worker.mjs` from the repository root,
// i.e. with the root wrangler.toml (same compatibility date, same static
// assets in front) and only the entry replaced.
//
// It mirrors worker/ (Go): the same routes, the same validation of the cart
// against the same catalog (worker/catalog.json, imported at bundle time), the
// same Stripe calls and the same JSON responses and error codes. One Stripe
// client per isolate, as the Go loader keeps one Go instance per isolate.
//
// Of the rest of the worker it has only what the benchmark sends:
//   - POST /create-confirm-intent with items, confirmationToken and returnPath
//     (the worker's email, country, idempotencyKey and customerToken fields are
//     refused as unknown here), the max_order_amount approval rule, and the
//     same PaymentIntent create-and-confirm call (metadata, idempotency key);
//   - POST /webhook: the signature checked by stripe-node
//     (webhooks.constructEventAsync, 300 s tolerance), the duplicate check, and
//     payment_intent.* events that make a NEW order of the confirm-intent flow,
//     with the same D1 statements in the same order as worker/ (look up the
//     event, read the order, insert it, claim its fulfillment, read it again,
//     log it, finish the fulfillment, record the event). Events the worker
//     applies to an order already recorded (and every other event type the
//     worker handles) answer 501 here; no stock is kept for the bench's
//     products, so stock holds are left out.
//
// Settings (wrangler vars): STRIPE_SECRET_KEY (required), STRIPE_API_BASE
// (e.g. http://127.0.0.1:12111 for stripe-mock), PUBLIC_URL, RETURN_PATH,
// DEFAULT_ITEM, STRIPE_WEBHOOK_SECRET, DEPLOYMENT_ID. Binding: DB (D1).
import Stripe from "stripe";
import catalogDoc from "../../../worker/catalog.json";

const MAX_BODY_BYTES = 16 << 10;
const MAX_CART_LINES = 20;
const DEFAULT_MAX_QUANTITY = 10;
const DEFAULT_RETURN_PATH = "/return.html";

const products = catalogDoc.products.map((p) => ({
  ...p,
  currency: String(p.currency).toLowerCase(),
  max_quantity: p.max_quantity || DEFAULT_MAX_QUANTITY,
}));
const byID = new Map(products.map((p) => [p.id, p]));
const maxOrderAmount = Object.fromEntries(
  Object.entries((catalogDoc.shop && catalogDoc.shop.max_order_amount) || {}).map(([c, v]) => [c.toLowerCase(), v]),
);
const MAX_ORDER_AMOUNT = 99999999; // worker/approval.go maxOrderAmount: Stripe's limit

class APIError extends Error {
  constructor(status, code, message, param, requestID) {
    super(message);
    this.status = status;
    this.code = code;
    this.param = param;
    this.requestID = requestID;
  }
  body() {
    const e = { code: this.code, message: this.message };
    if (this.param) e.param = this.param;
    if (this.requestID) e.request_id = this.requestID;
    return { error: e };
  }
}

const badRequest = (code, param, message) => new APIError(400, code, message, param);

function json(status, value, extraHeaders) {
  return new Response(JSON.stringify(value) + "\n", {
    status,
    // The Go worker's API headers (worker/headers.go, worker/cors.go's
    // Vary), so that both build the same Response.
    headers: {
      "content-type": "application/json; charset=utf-8",
      "cache-control": "no-store",
      "content-security-policy": "default-src 'none'; frame-ancestors 'none'",
      "x-frame-options": "DENY",
      "x-content-type-options": "nosniff",
      "referrer-policy": "no-referrer",
      "cross-origin-resource-policy": "same-origin",
      vary: "Origin",
      ...extraHeaders,
    },
  });
}

function errorResponse(err, extraHeaders) {
  if (!(err instanceof APIError)) {
    console.error("internal error:", err && err.stack ? err.stack : err);
    err = new APIError(500, "internal_error", "internal error");
  }
  return json(err.status, err.body(), extraHeaders);
}

// ---- configuration (once per isolate) ----

let state = null;

function loadState(env) {
  if (state) return state;
  const trim = (k) => String(env[k] ?? "").trim();
  const key = trim("STRIPE_SECRET_KEY");
  if (!key) throw new APIError(500, "configuration_error", "the checkout worker is misconfigured: STRIPE_SECRET_KEY is not set");
  if (!key.startsWith("sk_") && !key.startsWith("rk_")) {
    throw new APIError(500, "configuration_error", "the checkout worker is misconfigured: STRIPE_SECRET_KEY must be a secret key (sk_...) or restricted key (rk_...)");
  }
  const config = { httpClient: Stripe.createFetchHttpClient(), maxNetworkRetries: 1 };
  const base = trim("STRIPE_API_BASE").replace(/\/+$/, "");
  if (base) {
    const u = new URL(base);
    config.protocol = u.protocol.replace(":", "");
    config.host = u.hostname;
    config.port = u.port || (u.protocol === "https:" ? "443" : "80");
  }
  const defaultItem = trim("DEFAULT_ITEM") || products[0].id;
  if (!byID.has(defaultItem)) {
    throw new APIError(500, "configuration_error", `the checkout worker is misconfigured: DEFAULT_ITEM "${defaultItem}" is not a product in the catalog`);
  }
  const publicURL = trim("PUBLIC_URL").replace(/\/+$/, "");
  state = {
    stripe: new Stripe(key, config),
    crypto: Stripe.createSubtleCryptoProvider(),
    publicURL,
    returnPath: trim("RETURN_PATH") || DEFAULT_RETURN_PATH,
    defaultItem,
    webhookSecret: trim("STRIPE_WEBHOOK_SECRET"),
    deployment: trim("DEPLOYMENT_ID") || (publicURL ? new URL(publicURL).host : "local"),
  };
  return state;
}

// ---- request body: what worker/respond.go readJSON accepts ----

// RawNumber keeps a JSON number's source text, as Go's json.RawMessage does.
class RawNumber {
  constructor(source) {
    this.source = source;
  }
}

function kindOf(v) {
  if (v === null) return "null";
  if (Array.isArray(v)) return "array";
  if (v instanceof RawNumber || typeof v === "number") return "number";
  if (typeof v === "boolean") return "bool";
  return typeof v; // "string" | "object"
}

function typeError(field, want, value) {
  const what = field === "" ? "the body" : field;
  return badRequest("invalid_field_type", field, `${what} must be a ${want}, not a JSON ${kindOf(value)}`);
}

// fieldOf finds a struct field the way encoding/json does: exact, else ASCII case-insensitive.
function fieldOf(key, names) {
  if (names.includes(key)) return key;
  const lower = key.toLowerCase();
  return names.find((n) => n.toLowerCase() === lower);
}

// decodeCart walks the parsed body in document order and reports the first
// type error or unknown field, like encoding/json with DisallowUnknownFields.
// stringFields are the request's other fields, all strings.
function decodeCart(doc, stringFields = []) {
  let firstErr = null;
  const fail = (e) => (firstErr ??= e);
  const req = { items: undefined };
  if (doc === null) return req;
  if (kindOf(doc) !== "object") throw typeError("", "object", doc);
  for (const [k, v] of Object.entries(doc)) {
    const field = fieldOf(k, ["items", ...stringFields]);
    if (field === undefined) {
      fail(badRequest("unknown_field", k, `unknown field "${k}"`));
      continue;
    }
    if (field !== "items") {
      if (v === null) req[field] = "";
      else if (typeof v !== "string") fail(typeError(field, "string", v));
      else req[field] = v;
      continue;
    }
    if (v === null) {
      req.items = undefined;
      continue;
    }
    if (!Array.isArray(v)) {
      fail(typeError("items", "list", v));
      continue;
    }
    req.items = v.map((it) => {
      const item = { id: "", quantity: undefined };
      if (it === null) return item;
      if (kindOf(it) !== "object") {
        fail(typeError("items", "object", it));
        return item;
      }
      for (const [ik, iv] of Object.entries(it)) {
        const f = fieldOf(ik, ["id", "quantity"]);
        if (f === undefined) fail(badRequest("unknown_field", ik, `unknown field "${ik}"`));
        else if (f === "quantity") item.quantity = iv;
        else if (iv === null) item.id = "";
        else if (typeof iv !== "string") fail(typeError("items.id", "string", iv));
        else item.id = iv;
      }
      return item;
    });
  }
  if (firstErr) throw firstErr;
  return req;
}

async function readCart(request, stringFields) {
  const buf = await request.arrayBuffer();
  if (buf.byteLength > MAX_BODY_BYTES) {
    throw new APIError(413, "body_too_large", `request body is larger than ${MAX_BODY_BYTES} bytes`);
  }
  const text = new TextDecoder().decode(buf);
  if (text.trim() === "") return { hadBody: false, req: null };
  const ct = request.headers.get("content-type");
  if (!ct) {
    throw new APIError(415, "unsupported_media_type", "Content-Type: application/json is required with a body");
  }
  if (ct.split(";")[0].trim().toLowerCase() !== "application/json") {
    throw new APIError(415, "unsupported_media_type", "send the body as application/json");
  }
  let doc;
  try {
    doc = JSON.parse(text, (key, value, ctx) => (typeof value === "number" && ctx && ctx.source !== undefined ? new RawNumber(ctx.source) : value));
  } catch (err) {
    throw badRequest("invalid_json", "", "could not decode the JSON body: " + err.message);
  }
  return { hadBody: true, req: decodeCart(doc, stringFields) };
}

const INT64_MAX = 9223372036854775807n;

// parseQuantity follows worker/checkout.go: missing or null means 1.
function parseQuantity(raw, max, field) {
  if (raw === undefined || raw === null) return 1;
  const src = raw instanceof RawNumber ? raw.source : typeof raw === "number" ? String(raw) : null;
  if (src !== null && /^-?[0-9]+$/.test(src)) {
    const n = BigInt(src);
    if (n < -INT64_MAX - 1n || n > INT64_MAX) throw badRequest("invalid_quantity", field, `${field} must be a whole number`);
    if (n < 1n || n > BigInt(max)) throw badRequest("invalid_quantity", field, `${field} must be between 1 and ${max}`);
    return Number(n);
  }
  if (typeof raw === "string") throw badRequest("invalid_quantity", field, `${field} must be a number, not a string`);
  if (src !== null && !/[eE]/.test(src)) throw badRequest("invalid_quantity", field, `${field} must be a whole number`);
  throw badRequest("invalid_quantity", field, `${field} must be a whole number between 1 and ${max}`);
}

function parseCart(req, hadBody, st) {
  if (!hadBody) return [{ product: byID.get(st.defaultItem), quantity: 1 }];
  const items = req.items;
  if (items === undefined) throw badRequest("missing_items", "items", 'items is required: a list of {"id", "quantity"}');
  if (items.length === 0) throw badRequest("empty_cart", "items", "items must name at least one product");
  if (items.length > MAX_CART_LINES) throw badRequest("too_many_items", "items", `at most ${MAX_CART_LINES} different products per order`);
  const lines = [];
  const seen = new Set();
  items.forEach((it, i) => {
    const field = `items[${i}]`;
    if (it.id === "") throw badRequest("missing_id", field + ".id", `${field}.id is required`);
    const p = byID.get(it.id);
    if (!p) throw badRequest("unknown_product", field + ".id", `${field}.id names no product in the catalog`);
    if (seen.has(p.id)) {
      throw badRequest("duplicate_product", field + ".id", `${field}.id repeats "${p.id}"; send one line per product with its total quantity`);
    }
    seen.add(p.id);
    const quantity = parseQuantity(it.quantity, p.max_quantity, field + ".quantity");
    if (lines.length > 0 && lines[0].product.currency !== p.currency) {
      throw badRequest(
        "mixed_currencies",
        field + ".id",
        `${field} is priced in ${p.currency.toUpperCase()} but the order is in ${lines[0].product.currency.toUpperCase()}; one order takes one currency`,
      );
    }
    lines.push({ product: p, quantity });
  });
  return lines;
}

// ---- Stripe errors: what worker/respond.go fromStripe lets the browser see ----

function fromStripe(err, op) {
  if (!(err instanceof Stripe.errors.StripeError) || err.type === "StripeConnectionError") {
    console.error(`stripe ${op}: transport error:`, err && err.message);
    return new APIError(502, "stripe_unreachable", "could not reach Stripe; please try again");
  }
  const status = err.statusCode || 0;
  console.error(`stripe ${op}: status=${status} type=${err.rawType} code=${err.code} request_id=${err.requestId}: ${err.message}`);
  const e = new APIError(502, "stripe_rejected", "Stripe refused the request", undefined, err.requestId);
  if (status === 404 || err.code === "resource_missing") {
    [e.status, e.code, e.message] = [404, "not_found", `no such ${op} object at Stripe`];
  } else if (status === 429) {
    [e.status, e.code, e.message] = [503, "stripe_rate_limited", "Stripe is busy; please try again in a moment"];
  } else if (status === 401 || status === 403) {
    [e.code, e.message] = ["stripe_auth_failed", "the shop's Stripe key was refused; the shop owner must check STRIPE_SECRET_KEY"];
  } else if (err.rawType === "card_error") {
    [e.status, e.code, e.message] = [402, String(err.code ?? ""), "the payment was declined"];
  } else if (status >= 500 || status === 0) {
    [e.code, e.message] = ["stripe_unavailable", "Stripe is unavailable; please try again"];
  } else if (err.code) {
    e.message += ` (${err.code})`;
  }
  return e;
}

// ---- handlers ----

async function createCheckoutSession(request, st) {
  const { hadBody, req } = await readCart(request);
  const lines = parseCart(req, hadBody, st);
  const origin = st.publicURL || new URL(request.url).origin;
  const params = {
    mode: "payment",
    ui_mode: "embedded",
    return_url: origin + st.returnPath + "?session_id={CHECKOUT_SESSION_ID}",
    line_items: lines.map(({ product: p, quantity }) => {
      if (p.price) return { price: p.price, quantity };
      const productData = { name: p.name };
      if (p.description) productData.description = p.description;
      return { quantity, price_data: { currency: p.currency, unit_amount: p.unit_amount, product_data: productData } };
    }),
  };
  let session;
  try {
    session = await st.stripe.checkout.sessions.create(params);
  } catch (err) {
    throw fromStripe(err, "checkout session");
  }
  return json(200, { clientSecret: session.client_secret ?? "" });
}

const SESSION_ID = /^cs_(test|live)_[A-Za-z0-9]{1,200}$/;

async function sessionStatus(request, st) {
  const all = new URL(request.url).searchParams.getAll("session_id");
  const id = all[0] ?? "";
  if (id === "") throw badRequest("missing_session_id", "session_id", "session_id query parameter is required");
  if (all.length > 1) throw badRequest("invalid_session_id", "session_id", "give session_id once");
  if (!SESSION_ID.test(id)) {
    throw badRequest("invalid_session_id", "session_id", "session_id must be a Checkout Session id (cs_test_... or cs_live_...)");
  }
  let s;
  try {
    s = await st.stripe.checkout.sessions.retrieve(id);
  } catch (err) {
    throw fromStripe(err, "checkout session");
  }
  const email = s.customer_details && s.customer_details.email ? s.customer_details.email : s.customer_email ?? "";
  return json(200, { status: s.status ?? "", payment_status: s.payment_status ?? "", customer_email: email });
}

// ---- POST /create-confirm-intent: worker/payments.go handleCreateConfirmIntent ----

const CTOKEN = /^ctoken_[A-Za-z0-9_]{1,200}$/;
const MAX_RETURN_PATH = 512;

// checkReturnPath follows worker/embed.go: "" if p is a plain path on this site.
function checkReturnPath(p) {
  if (p.length > MAX_RETURN_PATH) return `must be at most ${MAX_RETURN_PATH} characters`;
  if (!p.startsWith("/")) return "must be a path on this site starting with /";
  if (p.startsWith("//")) return "must be a path on this site, not another site's address";
  const bad = p.replace(/%[0-9A-Fa-f]{2}/g, "").match(/[^A-Za-z0-9\-._~!$&'()*+,;=:@/]/);
  return bad ? `must be a plain path (letters, digits, / - . _ ~ and percent-escapes); "${bad[0]}" is not allowed` : "";
}

function formatMinor(amount, currency) {
  return `${(amount / 100).toFixed(2)} ${currency.toUpperCase()}`;
}

function newRef() {
  const b = crypto.getRandomValues(new Uint8Array(8));
  return "ord_" + Array.from(b, (x) => x.toString(16).padStart(2, "0")).join("");
}

async function createConfirmIntent(request, st) {
  const { hadBody, req } = await readCart(request, ["confirmationToken", "returnPath"]);
  if (!hadBody) throw badRequest("missing_items", "items", 'send {"items":[...], "confirmationToken":"ctoken_..."} as JSON');
  const lines = parseCart(req, true, st);
  const token = req.confirmationToken ?? "";
  if (token === "") {
    throw badRequest("missing_confirmation_token", "confirmationToken", "confirmationToken is required: create it with stripe.createConfirmationToken");
  }
  if (!CTOKEN.test(token)) throw badRequest("invalid_confirmation_token", "confirmationToken", "confirmationToken must be a ConfirmationToken id (ctoken_...)");
  const returnPath = req.returnPath ?? "";
  if (returnPath !== "") {
    const msg = checkReturnPath(returnPath);
    if (msg) throw badRequest("invalid_return_path", "returnPath", "returnPath " + msg);
  }
  const currency = lines[0].product.currency;
  const amount = lines.reduce((sum, l) => sum + l.product.unit_amount * l.quantity, 0);
  let max = maxOrderAmount[currency];
  if (max === undefined || max > MAX_ORDER_AMOUNT) max = MAX_ORDER_AMOUNT;
  if (amount > max) {
    throw new APIError(
      422,
      "order_amount_too_large",
      `this order comes to ${formatMinor(amount, currency)}; the shop takes orders up to ${formatMinor(max, currency)} online`,
      "items",
    );
  }
  const origin = new URL(request.url).origin;
  const returnURL = returnPath !== "" ? origin + returnPath : (st.publicURL || origin) + "/pay.html";
  const ref = newRef();
  const params = {
    amount,
    currency,
    confirm: true,
    confirmation_token: token,
    automatic_payment_methods: { enabled: true },
    return_url: returnURL,
    metadata: {
      kit_order: ref,
      kit_cart: lines.map((l) => `${l.product.id}:${l.quantity}:${l.product.unit_amount}`).join(","),
      kit_flow: "confirm_intent",
      kit_deployment: st.deployment,
    },
  };
  if (lines[0].product.capture === "manual") params.capture_method = "manual";
  if (lines.some((l) => l.product.incremental_authorization)) {
    params.payment_method_options = { card: { request_incremental_authorization: "if_available" } };
  }
  let pi;
  try {
    pi = await st.stripe.paymentIntents.create(params, { idempotencyKey: "kit-pi-" + ref });
  } catch (err) {
    throw fromStripe(err, "payment intent");
  }
  const ans = { id: pi.id ?? "", client_secret: pi.client_secret ?? "", status: pi.status ?? "" };
  if (pi.next_action && pi.next_action.type) ans.next_action = pi.next_action.type;
  return json(200, ans);
}

// ---- POST /webhook: worker/webhook.go, for new confirm-intent orders ----

const MAX_WEBHOOK_BYTES = 256 << 10;
const WEBHOOK_TOLERANCE_S = 300;
const HANDLED_EVENTS = new Set([
  "checkout.session.completed",
  "checkout.session.async_payment_succeeded",
  "checkout.session.async_payment_failed",
  "checkout.session.expired",
  "payment_intent.succeeded",
  "payment_intent.payment_failed",
  "payment_intent.amount_capturable_updated",
  "payment_intent.canceled",
  "charge.refunded",
  "charge.dispute.created",
  "charge.dispute.updated",
  "charge.dispute.closed",
]);
const FULFILLMENT_CLAIM_TTL_S = 120;

// The statements of worker/orders/sql.go that recording a new order runs.
const ORDER_COLUMNS = `id, ref, flow, state, payment_state, review, COALESCE(session_id, ''), COALESCE(payment_intent_id, ''),
	email, currency, amount_total, amount_received, amount_capturable, amount_refunded, dispute, decline_code, livemode,
	lines, fulfillment, fulfillment_attempts, COALESCE(fulfilled_at, 0), created_at, updated_at, version`;
const SQL = {
  eventSeen: `SELECT COUNT(*) AS n FROM webhook_events WHERE id = ?1`,
  getOrder: `SELECT ${ORDER_COLUMNS} FROM orders
WHERE id = ?1 OR session_id = ?1 OR payment_intent_id = ?1 OR ref = ?1
ORDER BY (ref = ?1) ASC, created_at DESC, id DESC LIMIT 1`,
  createOrder: `INSERT INTO orders (id, ref, flow, state, payment_state, review, session_id, payment_intent_id,
	email, currency, amount_total, amount_received, amount_capturable, amount_refunded, dispute, decline_code, livemode,
	lines, created_at, updated_at, version)
VALUES (?1, ?2, ?3, ?4, ?5, ?6, NULLIF(?7, ''), NULLIF(?8, ''), ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?16, ?17, ?18, ?19, ?19, 1)
ON CONFLICT DO NOTHING`,
  claim: `UPDATE orders SET fulfillment = 'claimed', fulfillment_claim = ?2, fulfillment_claimed_at = ?3,
	fulfillment_attempts = fulfillment_attempts + 1, updated_at = ?3
WHERE id = ?1 AND state IN ('paid', 'captured')
	AND (fulfillment = 'none' OR (fulfillment = 'claimed' AND fulfillment_claimed_at < ?4))`,
  finish: `UPDATE orders SET fulfillment = 'done', fulfillment_claim = NULL, fulfilled_at = ?3, updated_at = ?3
WHERE id = ?1 AND fulfillment = 'claimed' AND fulfillment_claim = ?2`,
  recordEvent: `INSERT INTO webhook_events (id, type, order_id, received_at)
VALUES (?1, ?2, NULLIF(?3, ''), ?4) ON CONFLICT (id) DO NOTHING`,
};

const webhookRefusal = (code, message) => new APIError(400, code, message);
const PI_ID = /^pi_[A-Za-z0-9_]{1,200}$/;
const ORDER_REF = /^ord_[A-Za-z0-9_]{1,60}$/;

// intentState follows worker/records.go intentState.
function intentState(pi) {
  switch (pi.status) {
    case "succeeded":
      return pi.capture_method === "manual" ? "captured" : "paid";
    case "requires_capture":
      return "authorized";
    case "canceled":
      return "canceled";
    case "processing":
      return "awaiting_payment";
    case "requires_payment_method":
      return pi.last_payment_error ? "failed" : "";
  }
  return "";
}

// cartLines reads metadata kit_cart ("id:qty:unit,...") with the catalog's names.
function cartLines(cart) {
  if (!cart) return [];
  const lines = [];
  for (const part of cart.split(",")) {
    const f = part.split(":");
    if (f.length < 2 || f.length > 3 || f[0] === "" || !/^[0-9]{1,12}$/.test(f[1]) || Number(f[1]) < 1) return [];
    if (f.length === 3 && !/^[0-9]{1,12}$/.test(f[2])) return [];
    const p = byID.get(f[0]);
    const quantity = Number(f[1]);
    const unit = f.length === 3 ? Number(f[2]) : p ? p.unit_amount : 0;
    lines.push({ product: f[0], description: p ? p.name : "", quantity, unit_amount: unit, amount_total: unit * quantity });
  }
  return lines;
}

function randomHex(n) {
  return Array.from(crypto.getRandomValues(new Uint8Array(n)), (x) => x.toString(16).padStart(2, "0")).join("");
}

async function handleWebhook(request, st, env) {
  if (!st.webhookSecret) {
    throw new APIError(500, "webhook_not_configured", "the worker has no STRIPE_WEBHOOK_SECRET to verify events with");
  }
  const buf = await request.arrayBuffer();
  if (buf.byteLength > MAX_WEBHOOK_BYTES) throw webhookRefusal("body_too_large", `the event is larger than ${MAX_WEBHOOK_BYTES} bytes`);
  const header = request.headers.get("stripe-signature");
  if (!header) throw webhookRefusal("missing_signature", "the Stripe-Signature header is missing");
  let ev;
  try {
    ev = await st.stripe.webhooks.constructEventAsync(new TextDecoder().decode(buf), header, st.webhookSecret, WEBHOOK_TOLERANCE_S, st.crypto);
  } catch (err) {
    if (err instanceof Stripe.errors.StripeSignatureVerificationError) {
      throw webhookRefusal("invalid_signature", "no valid v1 signature for this body and the endpoint's secret, or too old");
    }
    throw webhookRefusal("invalid_event", "the body is not a Stripe event");
  }
  if (!ev || typeof ev.id !== "string" || !ev.id || typeof ev.type !== "string" || !ev.type || !ev.data || !ev.data.object) {
    throw webhookRefusal("invalid_event", "the body is not a Stripe event");
  }
  if (ev.object && ev.object !== "event") throw webhookRefusal("invalid_event", `the body is a "${ev.object}", not a Stripe event`);
  if (!HANDLED_EVENTS.has(ev.type)) return json(200, { received: true, ignored: true });
  const db = env.DB;
  if (!db) {
    throw new APIError(503, "orders_unavailable", "orders are not recorded: the worker has no D1 database bound as DB (see README: Webhooks and orders)");
  }
  if ((await db.prepare(SQL.eventSeen).bind(ev.id).first("n")) > 0) return json(200, { received: true, duplicate: true });
  if (!ev.type.startsWith("payment_intent.")) {
    throw new APIError(501, "not_implemented", `the benchmark reference does not handle ${ev.type} events`);
  }
  const pi = ev.data.object;
  if (typeof pi.id !== "string" || !PI_ID.test(pi.id)) {
    throw new APIError(502, "invalid_event", `event ${ev.id} carries no PaymentIntent`);
  }
  const meta = pi.metadata || {};
  let state = intentState(pi);
  if (ev.type === "payment_intent.payment_failed" && (state === "" || state === "awaiting_payment")) state = "failed";
  let order = null;
  if (meta.kit_deployment === st.deployment && ORDER_REF.test(meta.kit_order ?? "") && state !== "") {
    if (meta.kit_flow === "checkout") {
      throw new APIError(501, "not_implemented", "the benchmark reference does not handle Checkout Sessions' PaymentIntents");
    }
    order = await recordNewOrder(db, pi, state);
  }
  await db.prepare(SQL.recordEvent).bind(ev.id, ev.type, order ? order.id : "", Math.floor(Date.now() / 1000)).run();
  return json(200, order ? { received: true, order: order.id, state: order.state } : { received: true, ignored: true });
}

// recordNewOrder is worker/fulfill.go recordOrder for a PaymentIntent no order
// has yet, with LogFulfiller.
async function recordNewOrder(db, pi, state) {
  const now = Math.floor(Date.now() / 1000);
  const cur = await db.prepare(SQL.getOrder).bind(pi.id).first();
  if (cur) throw new APIError(501, "not_implemented", `order ${pi.id} exists: the benchmark reference records new orders only`);
  const lines = cartLines(pi.metadata.kit_cart);
  const decline = (pi.last_payment_error && (pi.last_payment_error.decline_code || pi.last_payment_error.code)) || "";
  const created = await db
    .prepare(SQL.createOrder)
    .bind(pi.id, pi.metadata.kit_order, "confirm_intent", state, state, "", "", pi.id, pi.receipt_email ?? "", pi.currency ?? "",
      pi.amount ?? 0, pi.amount_received ?? 0, pi.amount_capturable ?? 0, 0, "", decline, pi.livemode ? 1 : 0, JSON.stringify(lines), now)
    .run();
  if (created.meta.changes !== 1) throw new APIError(503, "conflict", `order ${pi.id} was written meanwhile; retry`);
  const order = { id: pi.id, state };
  if (state !== "paid" && state !== "captured") return order;
  const claim = randomHex(12);
  const won = await db.prepare(SQL.claim).bind(pi.id, claim, now, now - FULFILLMENT_CLAIM_TTL_S).run();
  if (won.meta.changes !== 1) throw new APIError(503, "fulfillment_in_progress", "the order's fulfillment is running in another request; retry later");
  const full = await db.prepare(SQL.getOrder).bind(pi.id).first();
  if (!full) throw new Error(`order ${pi.id} vanished`);
  const items = lines.reduce((n, l) => n + l.quantity, 0);
  console.log(
    `fulfill order ${full.id}: ${full.state}, ${formatMinor(full.amount_total, full.currency)}, ${items} item(s) in ${lines.length} line(s), session= payment_intent=${pi.id}`,
  );
  await db.prepare(SQL.finish).bind(pi.id, claim, Math.floor(Date.now() / 1000)).run();
  return order;
}

// ---- rate limiting: worker/ratelimit.go ----
// The Go worker counts each payment and status request against the
// [[ratelimits]] bindings before reading it (fail open, 429 over the limit),
// so the reference does the same with the same keys.

function clientKey(request) {
  const raw = (request.headers.get("cf-connecting-ip") || "").trim();
  if (!raw) return "unknown";
  if (!raw.includes(":")) return raw;
  // An IPv6 address counts by its /64, as the Go worker's netip prefix.
  const groups = raw.split("::");
  const head = groups[0] ? groups[0].split(":") : [];
  const tail = groups.length > 1 && groups[1] ? groups[1].split(":") : [];
  const full = [...head, ...Array(Math.max(0, 8 - head.length - tail.length)).fill("0"), ...tail];
  return full.slice(0, 4).map((g) => parseInt(g, 16).toString(16)).join(":") + "::/64";
}

function limited(binding, periodVar, defaultPeriod, handler) {
  return async (request, st, env) => {
    const lim = env[binding];
    if (lim && typeof lim.limit === "function") {
      let ok = true;
      try {
        ok = (await lim.limit({ key: clientKey(request) })).success;
      } catch {
        ok = true; // fail open, as the Go worker
      }
      if (!ok) {
        const period = Number(env[periodVar]) || defaultPeriod;
        return errorResponse(new APIError(429, "rate_limited", `too many requests from your network; please try again in ${period} seconds`), { "retry-after": String(period) });
      }
    }
    return handler(request, st, env);
  };
}

const pay = (h) => limited("RATE_LIMIT_PAYMENTS", "RATE_LIMIT_PAYMENTS_PERIOD", 60, h);
const status = (h) => limited("RATE_LIMIT_STATUS", "RATE_LIMIT_STATUS_PERIOD", 10, h);

const routes = {
  "/create-checkout-session": { POST: pay(createCheckoutSession) },
  "/session-status": { GET: status(sessionStatus) },
  "/create-confirm-intent": { POST: pay(createConfirmIntent) },
  "/webhook": { POST: handleWebhook },
};

export default {
  async fetch(request, env) {
    const path = new URL(request.url).pathname;
    const route = routes[path];
    if (!route) return errorResponse(new APIError(404, "not_found", "no such endpoint: " + path));
    const handler = route[request.method] ?? (request.method === "HEAD" ? route.GET : undefined);
    if (!handler) {
      const allow = Object.keys(route)[0];
      return errorResponse(new APIError(405, "method_not_allowed", `${request.method} is not allowed on ${path}; use ${allow}`), { allow });
    }
    try {
      return await handler(request, loadState(env), env);
    } catch (err) {
      return errorResponse(err);
    }
  },
};
