// Benchmark reference: the checkout kit's two Stripe endpoints written in
// JavaScript with the official stripe-node package, so that the Go/wasm
// worker's cost per request can be compared with the usual way of doing it.
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
// Settings (wrangler vars): STRIPE_SECRET_KEY (required), STRIPE_API_BASE
// (e.g. http://127.0.0.1:12111 for stripe-mock), PUBLIC_URL, RETURN_PATH,
// DEFAULT_ITEM.
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
    headers: {
      "content-type": "application/json; charset=utf-8",
      "cache-control": "no-store",
      "x-content-type-options": "nosniff",
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
  state = {
    stripe: new Stripe(key, config),
    publicURL: trim("PUBLIC_URL").replace(/\/+$/, ""),
    returnPath: trim("RETURN_PATH") || DEFAULT_RETURN_PATH,
    defaultItem,
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
  return names.find((n) => n === lower);
}

// decodeCart walks the parsed body in document order and reports the first
// type error or unknown field, like encoding/json with DisallowUnknownFields.
function decodeCart(doc) {
  let firstErr = null;
  const fail = (e) => (firstErr ??= e);
  const req = { items: undefined };
  if (doc === null) return req;
  if (kindOf(doc) !== "object") throw typeError("", "object", doc);
  for (const [k, v] of Object.entries(doc)) {
    if (fieldOf(k, ["items"]) === undefined) {
      fail(badRequest("unknown_field", k, `unknown field "${k}"`));
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

async function readCart(request) {
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
  return { hadBody: true, req: decodeCart(doc) };
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

const routes = {
  "/create-checkout-session": { POST: createCheckoutSession },
  "/session-status": { GET: sessionStatus },
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
      return await handler(request, loadState(env));
    } catch (err) {
      return errorResponse(err);
    }
  },
};
