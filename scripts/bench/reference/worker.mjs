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
// against the same catalog (CATALOG_JSON when set, else worker/catalog.json,
// imported at bundle time), the same Stripe calls with the same parameters
// and idempotency keys, and the same JSON responses and error codes. One
// Stripe client per isolate, as the Go loader keeps one Go instance per
// isolate. scripts/e2e/reference_parity.test.mjs runs both and compares the
// Stripe requests they make, parameter by parameter;
// scripts/e2e/reference_hook_parity.test.mjs compares the D1 statements of
// POST /webhook the same way.
//
// Mirrored, driven by the catalog as the worker is:
//   - POST /create-checkout-session (JSON body of items only): the order
//     (newOrder: total, capture, kit_* metadata, a random ord_ reference,
//     expires_at, Idempotency-Key kit-cs-<ref>), what its products ask for
//     (planGoods/applyGoods: shipping_address_collection, shipping_options
//     priced with free_over, delivery estimates and kit_rate, products'
//     shipping_rates, phone_number_collection, shop and product
//     custom_fields, product images with PUBLIC_URL, tax options,
//     custom_text with the shop's and products' disclosures, terms consent),
//     client_reference_id, allow_promotion_codes, manual capture,
//     incremental authorization, saved-card options, and the approval rules
//     that need no shopper field (max_order_amount, CF-IPCountry against
//     refused_countries, quantity over stock);
//   - POST /create-confirm-intent with items, confirmationToken, returnPath,
//     shippingRate and customFields: the same order and goods checks
//     (shipping rate added to the amount, custom fields, kit_shipping and
//     kit_fields metadata), the cart rules, then the ConfirmationToken
//     retrieve and its checks (id, mode, expiry, already used, payment
//     method, setup_future_usage), the card rules (shop and product
//     card_rules) and the shipping checks (address, allowed country, phone),
//     then the same PaymentIntent create-and-confirm call;
//   - POST /webhook: the signature checked by stripe-node
//     (webhooks.constructEventAsync, 300 s tolerance), the duplicate check, and
//     payment_intent.* events that make a NEW order of the confirm-intent flow,
//     with the same D1 statements (text and parameters) in the same order as
//     worker/orders' SQLStore under worker/fulfill.go recordOrder: look up
//     the event, read the order, insert it (its lines, details and review
//     reason as the worker makes them: kit_cart, kit_shipping, kit_fields,
//     the PaymentIntent's shipping, Order.Check and Derive), claim its
//     fulfillment if it is paid, log it (LogFulfiller), finish the
//     fulfillment, record the event; another deployment's PaymentIntent is
//     only recorded as an event. Events the worker applies to an order
//     already recorded (and every other event type the worker handles),
//     and carts with stocked products, answer 501 here.
//
// Not mirrored, because the bench's requests never reach them: the shopper
// fields (email, country, idempotencyKey, customerToken: refused here as
// unknown fields, so no receipt_email, customer, customer_email,
// customer_update, email-domain rule or client-keyed idempotency), the
// create request's embed options (uiMode, redirectOnCompletion, returnPath,
// cancelPath, reference, promo, locale; form posts; hosted Checkout and its
// recovery link), saving a card on the pay page (it needs a Customer, so
// such an order is refused as missing its email), a used token's retry,
// custom approval rules, the catalog's validation at start-up, stock holds
// in D1 (the bench's products keep no stock: reserving, and the webhook's
// SyncHold statements), FULFILLMENT_WEBHOOK_URL, allowed origins (CORS), and
// fromStripePayment's mapping of card and idempotency errors (Stripe's
// errors map as fromStripe here).
//
// Settings (wrangler vars): STRIPE_SECRET_KEY (required), STRIPE_API_BASE
// (e.g. http://127.0.0.1:12111 for stripe-mock), PUBLIC_URL, RETURN_PATH,
// DEFAULT_ITEM, STRIPE_WEBHOOK_SECRET, DEPLOYMENT_ID, CATALOG_JSON,
// CHECKOUT_EXPIRES_MINUTES. Binding: DB (D1).
import Stripe from "stripe";
import catalogDoc from "../../../worker/catalog.json";

const MAX_BODY_BYTES = 16 << 10;
const MAX_CART_LINES = 20;
const DEFAULT_MAX_QUANTITY = 10;
const DEFAULT_RETURN_PATH = "/return.html";

const lower = (v) => String(v).trim().toLowerCase();
const upper = (v) => String(v).trim().toUpperCase();
const lowerKeys = (m) => Object.fromEntries(Object.entries(m || {}).map(([k, v]) => [k.toLowerCase(), v]));
const cardRules = (r) =>
  r && {
    refused_funding: (r.refused_funding || []).map(lower),
    refused_brands: (r.refused_brands || []).map(lower),
    refused_countries: (r.refused_countries || []).map(upper),
    card_country_matches_shipping: !!r.card_country_matches_shipping,
  };

// loadCatalog normalizes a catalog document as worker/catalog.go and
// catalog_goods.go do at start-up (lower-case currencies, upper-case and
// sorted countries, defaults). It does not validate it: the Go worker
// refuses a bad catalog before serving, the reference is only ever given
// one the worker accepts.
function loadCatalog(doc) {
  const shop = { ...(doc.shop || {}) };
  shop.max_order_amount = lowerKeys(shop.max_order_amount);
  shop.refused_email_domains = (shop.refused_email_domains || []).map(lower);
  shop.refused_countries = (shop.refused_countries || []).map(upper).sort();
  shop.card_rules = cardRules(shop.card_rules);
  shop.custom_fields = shop.custom_fields || [];
  if (shop.shipping) {
    shop.shipping = {
      allowed_countries: shop.shipping.allowed_countries.map(upper).sort(),
      rates: shop.shipping.rates.map((r) => ({ ...r, amount: lowerKeys(r.amount), free_over: lowerKeys(r.free_over) })),
    };
  }
  if (shop.tax && shop.tax.automatic && !shop.tax.behavior) shop.tax = { ...shop.tax, behavior: "exclusive" };
  const products = doc.products.map((p) => ({
    ...p,
    currency: String(p.currency).toLowerCase(),
    max_quantity: p.max_quantity || DEFAULT_MAX_QUANTITY,
    capture: p.capture || "automatic",
    card_rules: cardRules(p.card_rules),
  }));
  return { shop, products, byID: new Map(products.map((p) => [p.id, p])) };
}

const MAX_ORDER_AMOUNT = 99999999; // worker/approval.go maxOrderAmount: Stripe's limit
const DEFAULT_CHECKOUT_EXPIRY_MINUTES = 30; // worker/config.go DefaultCheckoutExpiry
const EXPIRY_MARGIN_MINUTES = 2; // worker/payments.go expiryMargin

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
  // The catalog: CATALOG_JSON when set, as the Go worker (worker/config.go).
  const cat = loadCatalog(trim("CATALOG_JSON") ? JSON.parse(trim("CATALOG_JSON")) : catalogDoc);
  const defaultItem = trim("DEFAULT_ITEM") || cat.products[0].id;
  if (!cat.byID.has(defaultItem)) {
    throw new APIError(500, "configuration_error", `the checkout worker is misconfigured: DEFAULT_ITEM "${defaultItem}" is not a product in the catalog`);
  }
  const publicURL = trim("PUBLIC_URL").replace(/\/+$/, "");
  const expiryMinutes = Number(trim("CHECKOUT_EXPIRES_MINUTES") || DEFAULT_CHECKOUT_EXPIRY_MINUTES);
  state = {
    cat,
    checkoutExpiryS: (expiryMinutes + EXPIRY_MARGIN_MINUTES) * 60,
    live: key.startsWith("sk_live_") || key.startsWith("rk_live_"),
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
// fields are the request's other fields: strings, but customFields (an
// object of strings).
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
    if (field === "customFields") {
      if (v === null) continue;
      if (kindOf(v) !== "object") fail(typeError("customFields", "object", v));
      else {
        req.customFields = {};
        for (const [fk, fv] of Object.entries(v)) {
          if (fv === null) req.customFields[fk] = "";
          else if (typeof fv !== "string") fail(typeError("customFields." + fk, "string", fv));
          else req.customFields[fk] = fv;
        }
      }
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
  if (!hadBody) return [{ product: st.cat.byID.get(st.defaultItem), quantity: 1 }];
  const items = req.items;
  if (items === undefined) throw badRequest("missing_items", "items", 'items is required: a list of {"id", "quantity"}');
  if (items.length === 0) throw badRequest("empty_cart", "items", "items must name at least one product");
  if (items.length > MAX_CART_LINES) throw badRequest("too_many_items", "items", `at most ${MAX_CART_LINES} different products per order`);
  const lines = [];
  const seen = new Set();
  items.forEach((it, i) => {
    const field = `items[${i}]`;
    if (it.id === "") throw badRequest("missing_id", field + ".id", `${field}.id is required`);
    const p = st.cat.byID.get(it.id);
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
    // One order is one payment, and a payment is captured one way.
    if (lines.length > 0 && lines[0].product.capture !== p.capture) {
      const first = lines[0].product;
      throw badRequest(
        "mixed_capture_methods",
        field + ".id",
        `${field} (${p.id}) is paid with ${p.capture} capture but ${first.id} with ${first.capture} capture; order them separately`,
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

// ---- orders: worker/payments.go newOrder, worker/goods.go planGoods, worker/approval.go ----

const MAX_CUSTOM_FIELDS = 3; // Checkout's custom_fields limit (worker/catalog_goods.go)
const MAX_CUSTOM_TEXT = 1200; // custom_text.*.message
const MAX_METADATA_VALUE = 500;
const MAX_FIELD_VALUE = 255;
const DEFAULT_SAVE_DISCLOSURE =
  "Your card will be saved so the shop can charge it for later payments you agree to. You can ask the shop to remove it at any time.";
const DEFAULT_MANUAL_DISCLOSURE =
  "Your card is authorized now and charged when the shop confirms your order; if the order is cancelled, the authorization is released.";
const DEFAULT_INCREMENTAL_DISCLOSURE =
  "The authorized amount may be increased for charges you agree to (such as a late return) before your card is charged.";
const COUNTRY = /^[A-Z]{2}$/;

const onPayPage = (shop, p) => (p.pay_page !== undefined ? p.pay_page : shop.pay_page === undefined || shop.pay_page);

// shopRates is catalog_goods.go rates: the shop's rates product p may use.
function shopRates(shop, p) {
  if (!shop.shipping) return [];
  return shop.shipping.rates.filter((r) => r.amount[p.currency] !== undefined && (!(p.shipping_rates || []).length || p.shipping_rates.includes(r.id)));
}

// submitText is goods.go submitText: Checkout's custom_text.submit.
function submitText(shop, own, manual, incremental, save) {
  const d = shop.disclosures || {};
  const parts = [];
  const add = (text, fallback) => {
    text = text || fallback;
    if (text && !parts.includes(text)) parts.push(text);
  };
  if (shop.custom_text) add(shop.custom_text.submit, "");
  for (const t of own) add(t, "");
  if (own.length === 0) {
    if (manual) add(d.manual_capture, DEFAULT_MANUAL_DISCLOSURE);
    if (incremental) add(d.incremental_authorization, DEFAULT_INCREMENTAL_DISCLOSURE);
  }
  if (save) add(d.save_payment_method, DEFAULT_SAVE_DISCLOSURE);
  return parts.join(" ");
}

// planGoods is goods.go planGoods: what the order's products ask for beyond
// payment (shipping rates priced for the order, phone, custom fields, terms).
function planGoods(shop, o) {
  const g = { ship: false, rates: [], phone: !!shop.phone_number_collection, fields: [...shop.custom_fields], submit: "" };
  let allowed = [];
  o.lines.forEach(({ product: p }, i) => {
    if (o.flow === "confirm_intent" && !onPayPage(shop, p)) {
      throw new APIError(422, "pay_page_unavailable", p.name + " is sold through Checkout only; use the shop's Checkout button", `items[${i}].id`);
    }
    g.phone = g.phone || !!p.phone_number_collection;
    for (const f of p.custom_fields || []) if (!g.fields.some((x) => x.key === f.key)) g.fields.push(f);
    if (!p.shippable) return;
    const mine = shopRates(shop, p);
    if (!g.ship) {
      [allowed, g.ship] = [mine, true];
      return;
    }
    allowed = allowed.filter((r) => mine.includes(r));
    if (allowed.length === 0) {
      throw new APIError(422, "no_common_shipping_rate", p.name + " ships with other rates than the rest of the order; order it separately", `items[${i}].id`);
    }
  });
  if (g.fields.length > MAX_CUSTOM_FIELDS) {
    throw new APIError(422, "too_many_custom_fields", "these products together ask more questions than one checkout can; order them separately", "items");
  }
  for (const r of allowed) {
    const free = r.free_over[o.currency];
    g.rates.push({ rate: r, amount: free !== undefined && o.amount >= free ? 0 : r.amount[o.currency] });
  }
  const own = o.lines.map((l) => l.product.disclosure).filter(Boolean);
  g.submit = submitText(shop, own, o.capture === "manual", o.incremental, o.save);
  if (g.submit.length > MAX_CUSTOM_TEXT) {
    throw new APIError(422, "too_many_terms", "these products' terms are too long to show together at checkout; order them separately", "items");
  }
  return g;
}

const orderCart = (o) => o.lines.map((l) => `${l.product.id}:${l.quantity}:${l.product.unit_amount}`).join(",");

// newOrder is payments.go newOrder for a request without the shopper fields
// (email, country, idempotencyKey, customerToken), which the reference
// refuses as unknown: a random order reference, which is also the base of
// the idempotency keys.
function newOrder(request, st, flow, lines) {
  const o = { flow, lines, currency: lines[0].product.currency, capture: lines[0].product.capture, amount: 0, incremental: false, save: false };
  for (const l of lines) {
    o.amount += l.product.unit_amount * l.quantity;
    o.incremental = o.incremental || !!l.product.incremental_authorization;
    o.save = o.save || !!l.product.save_payment_method;
  }
  o.goods = planGoods(st.cat.shop, o);
  if (orderCart(o).length > MAX_METADATA_VALUE) {
    throw badRequest("too_many_items", "items", "the cart is too long to record with the order; order fewer different products at once");
  }
  // Cloudflare's CF-IPCountry (XX unknown, T1 Tor), for approveCountry.
  const ip = upper(request.headers.get("cf-ipcountry") || "");
  o.ipCountry = COUNTRY.test(ip) && ip !== "XX" && ip !== "T1" ? ip : "";
  o.expires = Math.floor(Date.now() / 1000) + st.checkoutExpiryS;
  o.ref = newRef();
  return o;
}

const idempotencyKey = (o, kind) => `kit-${kind}-${o.ref}`;

function metadata(o, st) {
  return { kit_order: o.ref, kit_cart: orderCart(o), kit_flow: o.flow, kit_deployment: st.deployment };
}

const refusal = (status, code, message, param) => new APIError(status, code, message, param);

// cartRules are approval.go cartRules (amount, email domain, country, stock)
// for an order without email or declared country.
function approveCart(st, o) {
  const shop = st.cat.shop;
  let max = shop.max_order_amount[o.currency];
  if (max === undefined || max > MAX_ORDER_AMOUNT) max = MAX_ORDER_AMOUNT;
  if (o.amount > max) {
    throw refusal(422, "order_amount_too_large", `this order comes to ${formatMinor(o.amount, o.currency)}; the shop takes orders up to ${formatMinor(max, o.currency)} online`, "items");
  }
  for (const c of shop.refused_countries) {
    if (o.ipCountry === c) throw refusal(422, "country_refused", `the shop does not sell to ${c} (where this request comes from)`);
  }
  o.lines.forEach((l, i) => {
    const stock = l.product.stock;
    if (stock !== undefined && l.quantity > stock) {
      throw refusal(409, "out_of_stock", stock > 0 ? `only ${stock} of ${l.product.name} left` : `${l.product.name} is sold out`, `items[${i}].quantity`);
    }
  });
}

// approveCard is card_rules.go approveCard: the shop's and the products'
// card rules against the ConfirmationToken's payment method.
function approveCard(st, o) {
  const pm = o.paymentMethod;
  if (!pm || pm.type !== "card") return;
  const rules = { refused_funding: [], refused_brands: [], refused_countries: [], card_country_matches_shipping: false };
  for (const r of [st.cat.shop.card_rules, ...o.lines.map((l) => l.product.card_rules)]) {
    if (!r) continue;
    rules.refused_funding.push(...r.refused_funding);
    rules.refused_brands.push(...r.refused_brands);
    rules.refused_countries.push(...r.refused_countries);
    rules.card_country_matches_shipping = rules.card_country_matches_shipping || r.card_country_matches_shipping;
  }
  const refuse = (msg) => refusal(422, "card_refused", msg + "; please pay with another card", "confirmationToken");
  if (rules.refused_funding.includes(pm.funding)) throw refuse(`the shop does not accept ${pm.funding} cards`);
  if (rules.refused_brands.includes(pm.brand)) throw refuse(`the shop does not accept ${pm.brand} cards`);
  if (pm.country && rules.refused_countries.includes(pm.country)) throw refuse(`the shop does not accept cards issued in ${pm.country}`);
  if (rules.card_country_matches_shipping && pm.country && o.shippingCountry && pm.country !== o.shippingCountry) {
    throw refuse(`the card was issued in ${pm.country} but the order ships to ${o.shippingCountry}; the shop needs a card from the country it ships to`);
  }
}

// approve runs every built-in rule, as Server.approve (no custom rules).
function approve(st, o) {
  approveCart(st, o);
  approveCard(st, o);
}

// ---- handlers ----

// imageURL is goods.go imageURL: a catalog image Stripe can show, or "".
function imageURL(st, img) {
  if (!img) return "";
  if (img.startsWith("https://") || img.startsWith("http://")) return img;
  if (img.startsWith("/") && !img.startsWith("//") && st.publicURL) return st.publicURL + img;
  return "";
}

// sessionParams is checkout.go sessionParams with goods.go applyGoods, for
// an order without a returning customer.
function sessionParams(st, o) {
  const shop = st.cat.shop;
  const g = o.goods;
  const tax = !!(shop.tax && shop.tax.automatic);
  const params = {
    mode: "payment",
    ui_mode: "embedded",
    line_items: o.lines.map(({ product: p, quantity }) => {
      if (p.price) return { price: p.price, quantity };
      const productData = { name: p.name };
      if (p.description) productData.description = p.description;
      const img = imageURL(st, p.image);
      if (img) productData.images = [img];
      if (p.tax_code) productData.tax_code = p.tax_code;
      const priceData = { currency: p.currency, unit_amount: p.unit_amount, product_data: productData };
      const behavior = p.tax_behavior || (shop.tax && shop.tax.behavior);
      if (behavior) priceData.tax_behavior = behavior;
      return { quantity, price_data: priceData };
    }),
    client_reference_id: o.ref,
    metadata: metadata(o, st),
    payment_intent_data: { metadata: metadata(o, st) },
    expires_at: o.expires,
  };
  if (o.capture === "manual") params.payment_intent_data.capture_method = "manual";
  if (o.incremental) params.payment_method_options = { card: { request_incremental_authorization: "if_available" } };
  if (o.save) params.payment_intent_data.setup_future_usage = "off_session";
  if (shop.allow_promotion_codes) params.allow_promotion_codes = true;
  const offersSave = !!(shop.saved_payment_method_options && shop.saved_payment_method_options.payment_method_save === "enabled");
  if (o.save || offersSave) params.customer_creation = "always";
  else if (shop.customer_creation) params.customer_creation = shop.customer_creation;
  const sp = shop.saved_payment_method_options;
  if (sp && sp.payment_method_save && !o.save) params.saved_payment_method_options = { payment_method_save: sp.payment_method_save };
  if (g.ship) {
    params.shipping_address_collection = { allowed_countries: shop.shipping.allowed_countries };
    params.shipping_options = g.rates.map(({ rate: r, amount }) => {
      const data = {
        type: "fixed_amount",
        display_name: r.display_name,
        fixed_amount: { amount, currency: o.currency },
        metadata: { kit_rate: r.id },
      };
      const e = r.delivery_estimate;
      if (e) {
        data.delivery_estimate = {};
        if (e.minimum) data.delivery_estimate.minimum = { unit: e.minimum.unit, value: e.minimum.value };
        if (e.maximum) data.delivery_estimate.maximum = { unit: e.maximum.unit, value: e.maximum.value };
      }
      if (tax) [data.tax_code, data.tax_behavior] = [r.tax_code || "txcd_92010001", shop.tax.behavior];
      return { shipping_rate_data: data };
    });
  }
  if (g.phone) params.phone_number_collection = { enabled: true };
  if (g.fields.length) {
    params.custom_fields = g.fields.map((f) => {
      const cf = { key: f.key, label: { type: "custom", custom: f.label }, type: f.type };
      if (f.optional) cf.optional = true;
      const lengths = {};
      if (f.minimum_length) lengths.minimum_length = f.minimum_length;
      if (f.maximum_length) lengths.maximum_length = f.maximum_length;
      if (f.type === "dropdown") cf.dropdown = { options: f.options.map((x) => ({ label: x.label, value: x.value })) };
      else if (Object.keys(lengths).length) cf[f.type] = lengths;
      return cf;
    });
  }
  if (tax) params.automatic_tax = { enabled: true };
  if (shop.tax && shop.tax.tax_id_collection) params.tax_id_collection = { enabled: true };
  const ct = {};
  const t = shop.custom_text || {};
  if (t.after_submit) ct.after_submit = { message: t.after_submit };
  if (t.shipping_address && g.ship) ct.shipping_address = { message: t.shipping_address };
  if (t.terms_of_service_acceptance && shop.terms_of_service_consent) ct.terms_of_service_acceptance = { message: t.terms_of_service_acceptance };
  if (g.submit) ct.submit = { message: g.submit };
  if (Object.keys(ct).length) params.custom_text = ct;
  if (shop.terms_of_service_consent) params.consent_collection = { terms_of_service: "required" };
  return params;
}

async function createCheckoutSession(request, st) {
  const { hadBody, req } = await readCart(request);
  const lines = parseCart(req, hadBody, st);
  const order = newOrder(request, st, "checkout", lines);
  const params = sessionParams(st, order);
  const origin = st.publicURL || new URL(request.url).origin;
  params.return_url = origin + st.returnPath + "?session_id={CHECKOUT_SESSION_ID}";
  approve(st, order);
  let session;
  try {
    session = await st.stripe.checkout.sessions.create(params, { idempotencyKey: idempotencyKey(order, "cs") });
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

// ZERO_DECIMAL is approval.go zeroDecimal: Stripe's zero-decimal currencies.
const ZERO_DECIMAL = new Set("bif clp djf gnf jpy kmf krw mga pyg rwf ugx vnd vuv xaf xof xpf".split(" "));

function formatMinor(amount, currency) {
  if (ZERO_DECIMAL.has(currency)) return `${amount} ${currency.toUpperCase()}`;
  return `${(amount / 100).toFixed(2)} ${currency.toUpperCase()}`;
}

function newRef() {
  const b = crypto.getRandomValues(new Uint8Array(8));
  return "ord_" + Array.from(b, (x) => x.toString(16).padStart(2, "0")).join("");
}

// payPageGoods is goods_intent.go payPageGoods: the chosen shipping rate
// (the first when none is sent, added to the amount) and the custom fields,
// checked against the order's plan.
function payPageGoods(o, rate, fields) {
  const g = o.goods;
  if (!g.ship && rate !== "") throw badRequest("unexpected_shipping_rate", "shippingRate", "shippingRate: nothing in this order is shipped");
  if (g.ship) {
    if (rate === "") rate = g.rates[0].rate.id;
    o.shipRate = g.rates.find((r) => r.rate.id === rate);
    if (!o.shipRate) {
      throw badRequest("invalid_shipping_rate", "shippingRate", `shippingRate must be one of ${g.rates.map((r) => r.rate.id).join(", ")} for this order`);
    }
    o.amount += o.shipRate.amount;
  }
  const keys = g.fields.map((f) => f.key);
  for (const key of Object.keys(fields)) {
    if (!keys.includes(key)) {
      const safe = key.replace(/[^A-Za-z0-9_-]/g, "").slice(0, 40);
      throw badRequest("unknown_custom_field", "customFields." + safe, `customFields has no field "${safe}" for this order; it asks for ${keys.join(", ") || "none"}`);
    }
  }
  const vals = new URLSearchParams();
  for (const f of g.fields) {
    const v = (fields[f.key] ?? "").trim();
    const param = "customFields." + f.key;
    if (v === "") {
      if (!f.optional) throw badRequest("missing_custom_field", param, `${param} (${f.label}) is required`);
      continue;
    }
    const msg = fieldValueProblem(f, v);
    if (msg) throw badRequest("invalid_custom_field", param, `${param} (${f.label}) ${msg}`);
    vals.set(f.key, v);
  }
  // Go's url.Values.Encode: sorted by key, spaces as '+'.
  vals.sort();
  const enc = vals.toString();
  if (enc.length > MAX_METADATA_VALUE) {
    throw badRequest("invalid_custom_field", "customFields", `customFields are too long to record with the order (at most ${MAX_METADATA_VALUE} characters in all)`);
  }
  o.fields = enc;
}

function fieldValueProblem(f, v) {
  if (/[\x00-\x1f\x7f]/.test(v)) return "must be one line without control characters";
  if (f.type === "dropdown") {
    return f.options.some((x) => x.value === v) ? "" : "must be one of " + f.options.map((x) => x.value).join(", ");
  }
  if (f.type === "numeric" && !/^[0-9]*$/.test(v)) return "must be digits only";
  const min = f.minimum_length || 0;
  const max = f.maximum_length || MAX_FIELD_VALUE;
  const n = [...v].length;
  return n < min || n > max ? `must be ${min} to ${max} characters` : "";
}

// confirmationToken is card_rules.go confirmationToken for a request
// without an idempotency key: the token is read before anything is created
// and refused when it cannot confirm this order's payment.
async function confirmationToken(st, id, o) {
  let tok;
  try {
    tok = await st.stripe.confirmationTokens.retrieve(id);
  } catch (err) {
    const e = fromStripe(err, "confirmation token");
    if (e.status === 404) {
      throw badRequest("invalid_confirmation_token", "confirmationToken", "confirmationToken is not a ConfirmationToken of this shop; submit the payment form again");
    }
    throw e;
  }
  const preview = tok.payment_method_preview;
  if (tok.id !== id) throw new APIError(502, "stripe_bad_response", "Stripe's answer could not be read; please try again");
  if (!!tok.livemode !== st.live) {
    throw badRequest("invalid_confirmation_token", "confirmationToken", "confirmationToken was made in the other mode (test or live) than the shop's key");
  }
  if (tok.expires_at && tok.expires_at <= Date.now() / 1000) {
    throw badRequest("confirmation_token_expired", "confirmationToken", "the payment details have expired; please submit the payment form again");
  }
  if (tok.setup_intent || tok.payment_intent) {
    throw new APIError(409, "confirmation_token_used", "these payment details were already used for a payment; please submit the payment form again", "confirmationToken");
  }
  if (!preview || !preview.type) throw badRequest("invalid_confirmation_token", "confirmationToken", "confirmationToken carries no payment method");
  if (tok.setup_future_usage && !o.save) {
    throw badRequest("invalid_confirmation_token", "confirmationToken", "the payment form was set up to save the card, but this order saves nothing; reload the page");
  }
  // withToken: what the rules see of the payment method and the address.
  const card = preview.card || {};
  o.paymentMethod = { type: preview.type, brand: card.brand ?? "", funding: card.funding ?? "", country: upper(card.country ?? "") };
  const addr = tok.shipping && tok.shipping.address;
  const cc = addr ? upper(addr.country ?? "") : "";
  o.shippingCountry = COUNTRY.test(cc) ? cc : "";
  return tok;
}

// payPageShipping is goods_intent.go payPageShipping: a shipped order needs
// a name and an address in an allowed country, a phone when asked.
function payPageShipping(st, o, tok) {
  const sh = tok.shipping;
  if (o.goods.ship) {
    if (!sh || !sh.address || !(sh.name ?? "").trim() || !(sh.address.line1 ?? "").trim()) {
      throw badRequest(
        "missing_shipping_address",
        "confirmationToken",
        "this order is shipped: collect the name and address with the Address Element (mode shipping) before creating the ConfirmationToken",
      );
    }
    const cc = (sh.address.country ?? "").toUpperCase();
    const allowed = st.cat.shop.shipping.allowed_countries;
    if (!allowed.includes(cc)) {
      throw new APIError(422, "shipping_country_refused", `the shop does not ship to ${cc}; it ships to ${allowed.join(", ")}`, "shipping");
    }
  }
  if (o.goods.phone && (!sh || !(sh.phone ?? "").trim())) {
    throw badRequest("missing_phone", "confirmationToken", 'this order asks for a phone number: collect it with the Address Element (fields.phone "always")');
  }
}

async function createConfirmIntent(request, st) {
  const { hadBody, req } = await readCart(request, ["confirmationToken", "returnPath", "shippingRate", "customFields"]);
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
  const order = newOrder(request, st, "confirm_intent", lines);
  payPageGoods(order, req.shippingRate ?? "", req.customFields ?? {});
  if (order.save) {
    // The worker saves the card to a Customer made from the shopper's
    // email (or customerToken), neither of which the reference takes.
    throw badRequest("missing_email", "email", "this order saves your payment details for later payments: give your email (or sign in, customerToken)");
  }
  approveCart(st, order);
  const tok = await confirmationToken(st, token, order);
  payPageShipping(st, order, tok);
  approve(st, order);
  // embed.go returnSite: PUBLIC_URL (which may carry a path) and its origin,
  // else the request's origin.
  const origin = st.publicURL ? new URL(st.publicURL).origin : new URL(request.url).origin;
  const returnURL = returnPath !== "" ? origin + returnPath : (st.publicURL || origin) + "/pay.html";
  const params = {
    amount: order.amount,
    currency: order.currency,
    confirm: true,
    confirmation_token: token,
    automatic_payment_methods: { enabled: true },
    return_url: returnURL,
    metadata: metadata(order, st),
  };
  if (order.shipRate) params.metadata.kit_shipping = `${order.shipRate.rate.id}:${order.shipRate.amount}`;
  if (order.fields) params.metadata.kit_fields = order.fields;
  if (order.capture === "manual") params.capture_method = "manual";
  if (order.incremental) params.payment_method_options = { card: { request_incremental_authorization: "if_available" } };
  let pi;
  try {
    pi = await st.stripe.paymentIntents.create(params, { idempotencyKey: idempotencyKey(order, "pi") });
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
const FULFILLMENT_CLAIM_TTL_S = 120; // worker/fulfill.go fulfillmentClaimTTL

// The statements of worker/orders/sql.go (SQLStore) that the webhook runs for
// a new order, with the same text and parameters:
// scripts/e2e/reference_hook_parity.test.mjs compares them statement by
// statement with the Go worker's.
const ORDER_COLUMNS = `id, ref, flow, state, payment_state, review, COALESCE(session_id, ''), COALESCE(payment_intent_id, ''),
	email, currency, amount_total, amount_received, amount_capturable, amount_refunded, dispute, decline_code, livemode,
	lines, details, fulfillment, fulfillment_attempts, COALESCE(fulfilled_at, 0), created_at, updated_at, version,
	reference`;
// Positions in ORDER_COLUMNS of what the reference reads of an order.
const COL = { id: 0, flow: 2, state: 3, paymentIntent: 7, fulfillment: 19 };
const SQL = {
  eventSeen: `SELECT COUNT(*) FROM webhook_events WHERE id = ?1`,
  getOrder: `SELECT ${ORDER_COLUMNS} FROM orders
WHERE id = ?1 OR session_id = ?1 OR payment_intent_id = ?1 OR ref = ?1
ORDER BY (ref = ?1) ASC, created_at DESC, id DESC LIMIT 1`,
  createOrder: `INSERT INTO orders (id, ref, flow, state, payment_state, review, session_id, payment_intent_id,
	email, currency, amount_total, amount_received, amount_capturable, amount_refunded, dispute, decline_code, livemode,
	lines, created_at, updated_at, version, details, reference)
VALUES (?1, ?2, ?3, ?4, ?5, ?6, NULLIF(?7, ''), NULLIF(?8, ''), ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?16, ?17, ?18, ?19, ?19, 1, ?20, ?21)
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
const notMirrored = (what) => new APIError(501, "not_implemented", `the benchmark reference does not mirror ${what}`);

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

// cartLines is worker/records.go parseCartMeta and cartLines: metadata
// kit_cart ("id:qty:unit,..." or "id:qty,...") with the catalog's names
// (and prices where the cart has none); a malformed entry voids the cart.
function cartLines(cat, cart) {
  if (!cart) return [];
  const lines = [];
  for (const part of cart.split(",")) {
    const f = part.split(":");
    if (f.length < 2 || f.length > 3 || f[0] === "" || !/^[0-9]{1,12}$/.test(f[1]) || Number(f[1]) < 1) return [];
    if (f.length === 3 && !/^[0-9]{1,12}$/.test(f[2])) return [];
    const p = cat.byID.get(f[0]);
    const quantity = Number(f[1]);
    const unit = f.length === 3 ? Number(f[2]) : p ? p.unit_amount : 0;
    lines.push({ product: f[0], description: p ? p.name : "", quantity, unit_amount: unit, amount_total: unit * quantity });
  }
  return lines;
}

// parseInt64 is strconv.ParseInt(s, 10, 64): an optional sign and decimal
// digits within int64; null when Go's would fail.
function parseInt64(s) {
  if (!/^[+-]?[0-9]+$/.test(s)) return null;
  const n = BigInt(s);
  return n > INT64_MAX || n < -INT64_MAX - 1n ? null : Number(n);
}

// queryUnescape is url.QueryUnescape: "+" is a space, %XX a byte; null on a
// malformed escape.
function queryUnescape(s) {
  if (/%(?![0-9A-Fa-f]{2})/.test(s)) return null;
  const bytes = [];
  const enc = new TextEncoder();
  for (let i = 0; i < s.length; ) {
    if (s[i] === "%") {
      bytes.push(parseInt(s.slice(i + 1, i + 3), 16));
      i += 3;
    } else if (s[i] === "+") {
      bytes.push(0x20);
      i++;
    } else {
      const cp = s.codePointAt(i);
      bytes.push(...enc.encode(String.fromCodePoint(cp)));
      i += cp > 0xffff ? 2 : 1;
    }
  }
  return new TextDecoder().decode(new Uint8Array(bytes));
}

// parseFields is url.ParseQuery for metadata kit_fields: the values by key,
// null when any part is malformed (the worker then keeps no custom fields).
function parseFields(v) {
  const vals = new Map();
  for (const part of v.split("&")) {
    if (part.includes(";")) return null;
    if (part === "") continue;
    const i = part.indexOf("=");
    const key = queryUnescape(i < 0 ? part : part.slice(0, i));
    const value = queryUnescape(i < 0 ? "" : part.slice(i + 1));
    if (key === null || value === null) return null;
    if (!vals.has(key)) vals.set(key, value); // vals.Get: the first value
  }
  return vals;
}

const str = (v) => (typeof v === "string" ? v : "");
const ADDRESS_FIELDS = ["line1", "line2", "city", "state", "postal_code", "country"];

// intentDetails is worker/goods_intent.go intentDetails (metadata
// kit_shipping and kit_fields, the PaymentIntent's shipping), built in the
// field order and with the omitempty rules of orders.Details' JSON.
function intentDetails(st, pi) {
  const meta = pi.metadata || {};
  let ship = null;
  let amountShipping = 0;
  let phone = "";
  if (meta.kit_shipping) {
    const v = meta.kit_shipping;
    const i = v.indexOf(":");
    const id = i < 0 ? v : v.slice(0, i);
    const n = parseInt64(i < 0 ? "" : v.slice(i + 1));
    if (n !== null && n >= 0) {
      amountShipping = n;
      const rate = st.cat.shop.shipping ? st.cat.shop.shipping.rates.find((r) => r.id === id) : undefined;
      ship = { name: "", phone: "", address: {}, rate: id, rate_name: rate ? str(rate.display_name) : "", amount: n };
    }
  }
  if (pi.shipping && typeof pi.shipping === "object") {
    const sd = pi.shipping;
    if (!ship) ship = { name: "", phone: "", address: {}, rate: "", rate_name: "", amount: 0 };
    ship.name = str(sd.name);
    ship.phone = str(sd.phone);
    if (sd.address && typeof sd.address === "object") ship.address = sd.address;
    phone = str(sd.phone);
  }
  let fields = null;
  if (meta.kit_fields) {
    const vals = parseFields(meta.kit_fields);
    if (vals && vals.size > 0) {
      fields = [...vals.keys()].sort(goCompare).map((key) => ({ key, value: vals.get(key) }));
    }
  }
  const d = {};
  if (ship) {
    const s = { name: ship.name };
    if (ship.phone) s.phone = ship.phone;
    s.address = {};
    for (const k of ADDRESS_FIELDS) if (str(ship.address[k])) s.address[k] = ship.address[k];
    if (ship.rate) s.rate = ship.rate;
    if (ship.rate_name) s.rate_name = ship.rate_name;
    s.amount = ship.amount;
    d.shipping = s;
  }
  if (phone) d.phone = phone;
  if (fields) d.custom_fields = fields;
  if (amountShipping) d.amount_shipping = amountShipping;
  return { json: d, amountShipping };
}

// goCompare orders strings as Go's sort.Strings (by UTF-8 bytes).
function goCompare(a, b) {
  const [x, y] = [new TextEncoder().encode(a), new TextEncoder().encode(b)];
  for (let i = 0; i < Math.min(x.length, y.length); i++) if (x[i] !== y[i]) return x[i] - y[i];
  return x.length - y.length;
}

// goJSON is JSON.stringify with encoding/json's escapes (<, >, & and the
// line separators as \u sequences), so that the lines and details columns
// hold the worker's bytes.
const goJSON = (v) => JSON.stringify(v).replace(/[<>&\u2028\u2029]/g, (c) => "\\u" + c.charCodeAt(0).toString(16).padStart(4, "0"));

// checkOrder and deriveState are orders.Order.Check and Derive for a new
// order (no refund, no dispute yet): the review reason, then the state.
function checkOrder(o) {
  if (o.review || (o.payment !== "paid" && o.payment !== "captured")) return;
  const want = o.amountShipping + o.lines.reduce((n, l) => n + l.amount_total, 0);
  if (o.lines.length === 0) o.review = "no_lines";
  else if (o.amount_received < want) o.review = `amount_received_below_lines: received ${o.amount_received}, lines ${want}`;
  else if (o.amount_received > want && o.payment !== "captured") o.review = `amount_received_above_lines: received ${o.amount_received}, lines ${want}`;
}
const deriveState = (o) => (o.review ? "needs_review" : o.payment);
const fulfillable = (state) => state === "paid" || state === "captured";

function randomHex(n) {
  return Array.from(crypto.getRandomValues(new Uint8Array(n)), (x) => x.toString(16).padStart(2, "0")).join("");
}

// readOrder is SQLStore.Get: the row of the order key names, or null.
async function readOrder(db, key) {
  const rows = await db.prepare(SQL.getOrder).bind(key).raw();
  return rows.length ? rows[0] : null;
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
  if ((await db.prepare(SQL.eventSeen).bind(ev.id).first("COUNT(*)")) > 0) return json(200, { received: true, duplicate: true });
  if (!ev.type.startsWith("payment_intent.")) throw notMirrored(`${ev.type} events`);
  const pi = ev.data.object;
  if (typeof pi.id !== "string" || !PI_ID.test(pi.id)) {
    throw new APIError(502, "invalid_event", `event ${ev.id} carries no PaymentIntent`);
  }
  const order = await fulfillIntent(st, db, pi, ev.type);
  await db.prepare(SQL.recordEvent).bind(ev.id, ev.type, order ? order.id : "", Math.floor(Date.now() / 1000)).run();
  return json(200, order ? { received: true, order: order.id, state: order.state } : { received: true, ignored: true });
}

// fulfillIntent is worker/records.go fulfillIntent for PaymentIntents that no
// order has yet: the order, or null when the PaymentIntent is not (or not
// yet) this deployment's order.
async function fulfillIntent(st, db, pi, eventType) {
  const meta = pi.metadata || {};
  if (meta.kit_deployment !== st.deployment || !ORDER_REF.test(meta.kit_order ?? "")) return null;
  let state = intentState(pi);
  if (eventType === "payment_intent.payment_failed" && (state === "" || state === "awaiting_payment")) state = "failed";
  if (state === "") return null;
  if (meta.kit_flow === "checkout") {
    // A Checkout Session's PaymentIntent only updates the session's order.
    const cur = await readOrder(db, pi.id);
    if (!cur || cur[COL.paymentIntent] !== pi.id || cur[COL.flow] !== "checkout") return null;
    throw notMirrored("updates of a Checkout order");
  }
  const lines = cartLines(st.cat, meta.kit_cart);
  // worker/fulfill.go syncStock would commit the order's stock hold here.
  const stocked = (l) => st.cat.byID.has(l.product) && st.cat.byID.get(l.product).stock != null && l.quantity > 0;
  if (lines.some(stocked)) throw notMirrored("stock holds (a cart with stocked products)");
  const details = intentDetails(st, pi);
  const decline = (pi.last_payment_error && (pi.last_payment_error.decline_code || pi.last_payment_error.code)) || "";
  const o = {
    id: pi.id, ref: meta.kit_order, payment: state, review: "", email: str(pi.receipt_email), currency: str(pi.currency),
    amount_total: pi.amount ?? 0, amount_received: pi.amount_received ?? 0, amount_capturable: pi.amount_capturable ?? 0,
    lines, amountShipping: details.amountShipping,
  };
  checkOrder(o);
  o.state = deriveState(o);
  return recordNewOrder(db, o, goJSON(details.json), decline, pi.livemode ? 1 : 0);
}

// recordNewOrder is worker/fulfill.go recordOrder, then fulfill with
// LogFulfiller, for an order not recorded yet.
async function recordNewOrder(db, o, details, decline, livemode) {
  const now = Math.floor(Date.now() / 1000);
  const cur = await readOrder(db, o.id);
  if (cur && cur[COL.id] !== o.id) {
    console.log(`order ${o.id}: its Stripe objects belong to order ${cur[COL.id]}; not merged`);
    return null;
  }
  if (cur) throw notMirrored(`updates of order ${o.id}, which exists (new orders only)`);
  const created = await db
    .prepare(SQL.createOrder)
    .bind(o.id, o.ref, "confirm_intent", o.state, o.payment, o.review, "", o.id, o.email, o.currency,
      o.amount_total, o.amount_received, o.amount_capturable, 0, "", decline, livemode, goJSON(o.lines), now, details, "")
    .run();
  if (created.meta.changes !== 1) throw notMirrored(`order ${o.id} written meanwhile (the worker merges it again)`);
  if (!fulfillable(o.state)) return o;
  const claim = randomHex(12);
  const won = await db.prepare(SQL.claim).bind(o.id, claim, now, now - FULFILLMENT_CLAIM_TTL_S).run();
  if (won.meta.changes !== 1) {
    const again = await readOrder(db, o.id);
    if (again && (again[COL.fulfillment] === "done" || !fulfillable(again[COL.state]))) return { id: again[COL.id], state: again[COL.state] };
    throw new APIError(503, "fulfillment_in_progress", "the order's fulfillment is running in another request; retry later");
  }
  const items = o.lines.reduce((n, l) => n + l.quantity, 0);
  console.log(`fulfill order ${o.id}: ${o.state}, ${formatMinor(o.amount_total, o.currency)}, ${items} item(s) in ${o.lines.length} line(s), session= payment_intent=${o.id}`);
  const done = await db.prepare(SQL.finish).bind(o.id, claim, Math.floor(Date.now() / 1000)).run();
  if (done.meta.changes !== 1) console.log(`fulfillment of order ${o.id} outlived its claim (2m0s); it may have run twice`);
  return o;
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
