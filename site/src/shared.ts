// Shared code for the product page (index.ts), the return page (return.ts) and
// the pay page (pay.ts):
// talking to the worker, loading Stripe.js once, keeping a single embedded
// Checkout mounted, the cart in sessionStorage, and small DOM helpers.

// Type-only: nothing from @stripe/stripe-js is bundled; Stripe.js itself is
// loaded from config.stripeJsUrl (js.stripe.com/basil, or the sandbox stand-in).
import type { Stripe, StripeConstructor, StripeEmbeddedCheckout } from "@stripe/stripe-js";

// ---------------------------------------------------------------------------
// Worker API types (see GET /config, POST /create-checkout-session,
// GET /session-status).

export interface Product {
  id: string;
  name: string;
  description: string;
  image?: string;
  /** Price in the currency's minor unit (cents for usd). */
  unitAmount: number;
  currency: string;
  maxQuantity: number;
  /** "manual": the pay page only authorizes; the shop captures later. */
  captureMethod: "automatic" | "manual";
  /** The payment method is saved for later off-session payments. */
  savePaymentMethod: boolean;
  /** Physical goods: shipped (to an address, at one of the shop's rates, or of shippingRates). */
  shippable: boolean;
  shippingRates: string[];
  phoneNumberCollection: boolean;
  customFields: CustomField[];
  /** What the shopper agrees to (a saved card, an authorization). */
  disclosure: string;
  /** Sold through Checkout only, never on the pay page. */
  checkoutOnly: boolean;
}

/** A question the shop asks with an order (a T-shirt's size); /config gives the catalog's entry. */
export interface CustomField {
  key: string;
  label: string;
  type: "text" | "dropdown" | "numeric";
  optional: boolean;
  options: { label: string; value: string }[];
  maxLength?: number;
}

export interface ShippingRate {
  id: string;
  displayName: string;
  /** Price per currency in minor units; free at or above freeOver. */
  amount: Record<string, number>;
  freeOver: Record<string, number>;
}

export interface SiteConfig {
  publishableKey: string;
  stripeJsUrl: string;
  defaultItem: string;
  catalog: Product[];
  shipping?: { allowedCountries: string[]; rates: ShippingRate[] };
  phoneNumberCollection: boolean;
  customFields: CustomField[];
}

export interface CartItem {
  id: string;
  quantity: number;
}

export type SessionStatus = "open" | "complete" | "expired";

export interface SessionStatusResponse {
  status: SessionStatus;
  paymentStatus: string;
  customerEmail: string;
  /** "manual": the payment is only authorized until the shop captures it. */
  captureMethod: string;
}

/** An error whose message can be shown to a shopper as it is. */
export class ShopError extends Error {
  /** HTTP status of the failed request; 0 when the request never got an answer. */
  readonly status: number;
  /** The worker's machine-readable error code, when it sent one. */
  readonly code: string | undefined;

  constructor(message: string, status = 0, code?: string) {
    super(message);
    this.name = "ShopError";
    this.status = status;
    this.code = code;
  }
}

const NETWORK_MESSAGE =
  "We couldn't reach the shop. Check your internet connection and try again.";
export const BAD_ANSWER_MESSAGE = "The shop sent an unexpected answer. Please try again in a moment.";
const STRIPE_JS_MESSAGE =
  "The secure payment form could not be loaded. Check your connection or disable any content blocker for this site, then try again.";
const CHECKOUT_MESSAGE = "The payment form could not be started. Please try again in a moment.";

export function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

export function stringField(obj: Record<string, unknown>, key: string): string | undefined {
  const v = obj[key];
  return typeof v === "string" ? v : undefined;
}

/** Converts anything thrown into a ShopError with a message fit for shoppers. */
export function toShopError(err: unknown, fallback: string): ShopError {
  if (err instanceof ShopError) {
    return err;
  }
  if (err !== undefined) {
    console.warn("checkout:", err);
  }
  return new ShopError(fallback);
}

interface RequestOptions {
  method?: "GET" | "POST";
  json?: unknown;
}

/**
 * Calls a worker endpoint and returns its decoded JSON body. Failures become
 * ShopErrors carrying the worker's `error.message` when it sent one.
 */
export async function requestJSON(path: string, options: RequestOptions = {}): Promise<unknown> {
  const init: RequestInit = {
    method: options.method ?? "GET",
    headers: { Accept: "application/json" },
    credentials: "same-origin",
    cache: "no-store",
  };
  if (options.json !== undefined) {
    init.headers = { Accept: "application/json", "Content-Type": "application/json" };
    init.body = JSON.stringify(options.json);
  }

  let response: Response;
  try {
    response = await fetch(path, init);
  } catch {
    throw new ShopError(NETWORK_MESSAGE, 0);
  }

  let body: unknown;
  try {
    const text = await response.text();
    body = text === "" ? undefined : (JSON.parse(text) as unknown);
  } catch {
    body = undefined;
  }

  if (!response.ok) {
    const error = isRecord(body) && isRecord(body["error"]) ? body["error"] : undefined;
    const message = error ? stringField(error, "message") : undefined;
    throw new ShopError(
      message && message.trim() !== ""
        ? message
        : `Something went wrong (error ${response.status}). Please try again in a moment.`,
      response.status,
      error ? stringField(error, "code") : undefined,
    );
  }
  if (body === undefined) {
    throw new ShopError(BAD_ANSWER_MESSAGE, response.status);
  }
  return body;
}

// ---------------------------------------------------------------------------
// GET /config

function parseProduct(raw: unknown): Product | undefined {
  if (!isRecord(raw)) {
    return undefined;
  }
  const id = stringField(raw, "id");
  const name = stringField(raw, "name");
  const currency = stringField(raw, "currency");
  const unitAmount = raw["unitAmount"];
  if (!id || !name || !currency || typeof unitAmount !== "number" || !Number.isInteger(unitAmount) || unitAmount < 0) {
    return undefined;
  }
  const maxQuantity = raw["maxQuantity"];
  const product: Product = {
    id,
    name,
    description: stringField(raw, "description") ?? "",
    unitAmount,
    currency,
    // Never offer more than the worker accepts; it re-checks every quantity anyway.
    maxQuantity: typeof maxQuantity === "number" && Number.isInteger(maxQuantity) && maxQuantity >= 1 ? maxQuantity : 1,
    captureMethod: raw["captureMethod"] === "manual" ? "manual" : "automatic",
    savePaymentMethod: raw["savePaymentMethod"] === true,
    shippable: raw["shippable"] === true,
    shippingRates: stringList(raw["shippingRates"]),
    phoneNumberCollection: raw["phoneNumberCollection"] === true,
    customFields: parseFields(raw["customFields"]),
    disclosure: stringField(raw, "disclosure") ?? "",
    checkoutOnly: raw["checkoutOnly"] === true,
  };
  const image = stringField(raw, "image");
  if (image) {
    product.image = image;
  }
  return product;
}

function stringList(raw: unknown): string[] {
  return Array.isArray(raw) ? raw.filter((v): v is string => typeof v === "string") : [];
}

function amounts(raw: unknown): Record<string, number> {
  const out: Record<string, number> = {};
  if (isRecord(raw)) {
    for (const [k, v] of Object.entries(raw)) {
      if (typeof v === "number" && Number.isInteger(v) && v >= 0) {
        out[k] = v;
      }
    }
  }
  return out;
}

function parseFields(raw: unknown): CustomField[] {
  if (!Array.isArray(raw)) {
    return [];
  }
  const out: CustomField[] = [];
  for (const f of raw) {
    const key = isRecord(f) ? stringField(f, "key") : undefined;
    const label = isRecord(f) ? stringField(f, "label") : undefined;
    const type = isRecord(f) ? stringField(f, "type") : undefined;
    if (!isRecord(f) || !key || !label || (type !== "text" && type !== "dropdown" && type !== "numeric")) {
      continue;
    }
    const options = Array.isArray(f["options"])
      ? f["options"].filter(isRecord).map((o) => ({ label: stringField(o, "label") ?? "", value: stringField(o, "value") ?? "" }))
      : [];
    const field: CustomField = { key, label, type, optional: f["optional"] === true, options };
    if (typeof f["maximum_length"] === "number") {
      field.maxLength = f["maximum_length"];
    }
    out.push(field);
  }
  return out;
}

function parseShipping(raw: unknown): SiteConfig["shipping"] {
  if (!isRecord(raw) || !Array.isArray(raw["rates"])) {
    return undefined;
  }
  const rates: ShippingRate[] = [];
  for (const r of raw["rates"]) {
    const id = isRecord(r) ? stringField(r, "id") : undefined;
    const displayName = isRecord(r) ? stringField(r, "display_name") : undefined;
    if (isRecord(r) && id && displayName) {
      rates.push({ id, displayName, amount: amounts(r["amount"]), freeOver: amounts(r["free_over"]) });
    }
  }
  return { allowedCountries: stringList(raw["allowedCountries"]), rates };
}

function parseConfig(raw: unknown): SiteConfig {
  const broken = new ShopError("The shop isn't set up correctly right now. Please try again later.");
  if (!isRecord(raw)) {
    throw broken;
  }
  const publishableKey = stringField(raw, "publishableKey");
  const stripeJsUrl = stringField(raw, "stripeJsUrl");
  const catalog = raw["catalog"];
  if (!publishableKey || !stripeJsUrl || !Array.isArray(catalog)) {
    throw broken;
  }
  const products = catalog.map(parseProduct).filter((p): p is Product => p !== undefined);
  const first = products[0];
  const shipping = parseShipping(raw["shipping"]);
  return {
    publishableKey,
    stripeJsUrl,
    defaultItem: stringField(raw, "defaultItem") ?? (first ? first.id : ""),
    catalog: products,
    ...(shipping ? { shipping } : {}),
    phoneNumberCollection: raw["phoneNumberCollection"] === true,
    customFields: parseFields(raw["customFields"]),
  };
}

let configPromise: Promise<SiteConfig> | undefined;

/** Fetches /config once per page; a failed attempt is forgotten so it can be retried. */
export function loadConfig(): Promise<SiteConfig> {
  if (!configPromise) {
    const p = requestJSON("/config").then(parseConfig);
    configPromise = p;
    p.catch(() => {
      if (configPromise === p) {
        configPromise = undefined;
      }
    });
  }
  return configPromise;
}

export function findProduct(config: SiteConfig, id: string): Product | undefined {
  return config.catalog.find((p) => p.id === id);
}

// ---------------------------------------------------------------------------
// POST /create-checkout-session and GET /session-status

export async function createCheckoutSession(items: CartItem[]): Promise<string> {
  const body = await requestJSON("/create-checkout-session", {
    method: "POST",
    json: { items: items.map((item) => ({ id: item.id, quantity: item.quantity })) },
  });
  const secret = isRecord(body) ? stringField(body, "clientSecret") : undefined;
  if (!secret) {
    throw new ShopError(BAD_ANSWER_MESSAGE);
  }
  return secret;
}

export async function fetchSessionStatus(sessionId: string): Promise<SessionStatusResponse> {
  const body = await requestJSON(`/session-status?session_id=${encodeURIComponent(sessionId)}`);
  const status = isRecord(body) ? stringField(body, "status") : undefined;
  if (!isRecord(body) || (status !== "open" && status !== "complete" && status !== "expired")) {
    throw new ShopError(BAD_ANSWER_MESSAGE, 200);
  }
  return {
    status,
    paymentStatus: stringField(body, "payment_status") ?? "",
    customerEmail: stringField(body, "customer_email") ?? "",
    captureMethod: stringField(body, "capture_method") ?? "automatic",
  };
}

// ---------------------------------------------------------------------------
// Stripe.js loading: exactly one <script> tag per page, promise cached.

let stripeJsPromise: Promise<StripeConstructor> | undefined;

function injectStripeJs(url: string): Promise<StripeConstructor> {
  return new Promise((resolve, reject) => {
    const existing = window.Stripe;
    if (existing) {
      resolve(existing);
      return;
    }
    const script = document.createElement("script");
    script.src = url;
    script.async = true;
    script.setAttribute("data-stripe-js", "");
    const fail = (): void => {
      script.remove();
      reject(new ShopError(STRIPE_JS_MESSAGE));
    };
    script.addEventListener("load", () => {
      const loaded = window.Stripe;
      if (loaded) {
        resolve(loaded);
      } else {
        fail();
      }
    });
    script.addEventListener("error", fail);
    document.head.appendChild(script);
  });
}

/**
 * Loads Stripe.js from url (config.stripeJsUrl) by injecting a single script
 * tag. Later calls share the same promise; after a failure the tag is removed
 * so that a retry can try again.
 */
export function loadStripeJs(url: string): Promise<StripeConstructor> {
  if (!stripeJsPromise) {
    const p = injectStripeJs(url);
    stripeJsPromise = p;
    p.catch(() => {
      if (stripeJsPromise === p) {
        stripeJsPromise = undefined;
      }
    });
  }
  return stripeJsPromise;
}

let stripeClient: { key: string; client: Stripe } | undefined;

/** The page's one Stripe client for publishableKey. */
export function stripeFor(stripeJs: StripeConstructor, publishableKey: string): Stripe {
  if (!stripeClient || stripeClient.key !== publishableKey) {
    stripeClient = { key: publishableKey, client: stripeJs(publishableKey) };
  }
  return stripeClient.client;
}

// ---------------------------------------------------------------------------
// Embedded Checkout: one instance at a time. Stripe.js refuses a second
// initEmbeddedCheckout while one exists, so every mount (and destroy) runs in
// order on a queue, and each mount destroys the previous instance first.

let current: StripeEmbeddedCheckout | undefined;
let queue: Promise<unknown> = Promise.resolve();
let generation = 0;

function destroyCurrent(): void {
  const checkout = current;
  current = undefined;
  if (checkout) {
    try {
      checkout.destroy();
    } catch (err) {
      console.warn("checkout: destroy failed", err);
    }
  }
}

function enqueue<T>(task: () => Promise<T>): Promise<T> {
  const result = queue.then(task);
  queue = result.catch(() => undefined);
  return result;
}

/**
 * Mounts embedded Checkout for items into container, replacing any checkout
 * mounted before. Resolves true once mounted, or false when a later call to
 * mountCheckout/destroyCheckout superseded this one. Rejects with a ShopError.
 * onError also receives errors from creating the session, which can happen
 * after Stripe.js has already rendered its frame.
 */
export function mountCheckout(
  config: SiteConfig,
  items: CartItem[],
  container: HTMLElement,
  onError?: (err: ShopError) => void,
): Promise<boolean> {
  const gen = ++generation;
  return enqueue(async () => {
    destroyCurrent();
    if (gen !== generation) {
      return false;
    }
    const stripeJs = await loadStripeJs(config.stripeJsUrl);
    if (gen !== generation) {
      return false;
    }

    let sessionError: ShopError | undefined;
    const fetchClientSecret = async (): Promise<string> => {
      try {
        return await createCheckoutSession(items);
      } catch (err) {
        sessionError = toShopError(err, CHECKOUT_MESSAGE);
        if (gen === generation && onError) {
          onError(sessionError);
        }
        throw sessionError;
      }
    };

    let checkout: StripeEmbeddedCheckout;
    try {
      checkout = await stripeFor(stripeJs, config.publishableKey).initEmbeddedCheckout({ fetchClientSecret });
    } catch (err) {
      throw sessionError ?? toShopError(err, CHECKOUT_MESSAGE);
    }
    current = checkout;
    if (gen !== generation) {
      destroyCurrent();
      return false;
    }
    checkout.mount(container);
    return true;
  });
}

/** Removes the mounted embedded Checkout, if any. */
export function destroyCheckout(): Promise<void> {
  generation++;
  return enqueue(async () => {
    destroyCurrent();
  });
}

// ---------------------------------------------------------------------------
// Cart in sessionStorage, so the return page can offer the same order again.

const CART_KEY = "checkoutkit.cart";

export function saveCart(items: CartItem[]): void {
  try {
    sessionStorage.setItem(CART_KEY, JSON.stringify({ items }));
  } catch {
    // Storage can be unavailable (privacy settings); the return page then
    // falls back to the default item.
  }
}

export function loadCart(): CartItem[] | undefined {
  let raw: unknown;
  try {
    const text = sessionStorage.getItem(CART_KEY);
    raw = text === null ? undefined : (JSON.parse(text) as unknown);
  } catch {
    return undefined;
  }
  if (!isRecord(raw) || !Array.isArray(raw["items"])) {
    return undefined;
  }
  const items: CartItem[] = [];
  for (const item of raw["items"] as unknown[]) {
    if (isRecord(item) && typeof item["id"] === "string" && typeof item["quantity"] === "number") {
      items.push({ id: item["id"], quantity: item["quantity"] });
    }
  }
  return items.length > 0 ? items : undefined;
}

export function clearCart(): void {
  try {
    sessionStorage.removeItem(CART_KEY);
  } catch {
    // Nothing to clear.
  }
}

/** Keeps the cart items that still match the catalog and its quantity limits. */
export function validCartItems(config: SiteConfig, items: CartItem[]): CartItem[] {
  return items.filter((item) => {
    const product = findProduct(config, item.id);
    return (
      product !== undefined &&
      Number.isInteger(item.quantity) &&
      item.quantity >= 1 &&
      item.quantity <= product.maxQuantity
    );
  });
}

// ---------------------------------------------------------------------------
// Formatting

/** Formats an amount in the currency's minor unit (e.g. 2000 usd -> "$20.00"). */
export function formatPrice(minorUnits: number, currency: string): string {
  const code = currency.toUpperCase();
  try {
    const format = new Intl.NumberFormat(undefined, { style: "currency", currency: code });
    const digits = format.resolvedOptions().maximumFractionDigits ?? 2;
    return format.format(minorUnits / 10 ** digits);
  } catch {
    return `${(minorUnits / 100).toFixed(2)} ${code}`;
  }
}

/** "2 × T-shirt, 1 × Mug — total $45.00" */
export function describeCart(config: SiteConfig, items: CartItem[]): string {
  const parts: string[] = [];
  let total = 0;
  let currency: string | undefined;
  let singleCurrency = true;
  for (const item of items) {
    const product = findProduct(config, item.id);
    parts.push(`${item.quantity} × ${product ? product.name : item.id}`);
    if (!product) {
      singleCurrency = false;
      continue;
    }
    if (currency !== undefined && currency !== product.currency) {
      singleCurrency = false;
    }
    currency = product.currency;
    total += product.unitAmount * item.quantity;
  }
  const list = parts.join(", ");
  return singleCurrency && currency !== undefined ? `${list} — total ${formatPrice(total, currency)}` : list;
}

// ---------------------------------------------------------------------------
// DOM helpers

export function byId<T extends HTMLElement = HTMLElement>(id: string): T {
  const node = document.getElementById(id);
  if (!node) {
    throw new Error(`page is missing #${id}`);
  }
  return node as T;
}

type Child = Node | string;

/** Creates an element with attributes and children (text is never parsed as HTML). */
export function h<K extends keyof HTMLElementTagNameMap>(
  tag: K,
  attrs: Record<string, string> = {},
  ...children: Child[]
): HTMLElementTagNameMap[K] {
  const node = document.createElement(tag);
  for (const [name, value] of Object.entries(attrs)) {
    node.setAttribute(name, value);
  }
  node.append(...children);
  return node;
}

// ---------------------------------------------------------------------------
// The checkout panel both pages share: #checkout-section containing
// #checkout-summary, #checkout-status, #checkout-error and the #checkout mount.

export interface CheckoutPanel {
  section: HTMLElement;
  heading: HTMLElement;
  summary: HTMLElement;
  status: HTMLElement;
  error: HTMLElement;
  mount: HTMLElement;
}

export function checkoutPanel(): CheckoutPanel {
  return {
    section: byId("checkout-section"),
    heading: byId("checkout-title"),
    summary: byId("checkout-summary"),
    status: byId("checkout-status"),
    error: byId("checkout-error"),
    mount: byId("checkout"),
  };
}

export function showPanelError(panel: CheckoutPanel, message: string | undefined): void {
  panel.error.textContent = message ?? "";
  panel.error.hidden = message === undefined;
}

let panelToken = 0;

/** Shopper-facing text for a failed checkout start; the worker's own message is kept. */
function checkoutErrorText(err: ShopError): string {
  if (err.status === 0) {
    return err.message;
  }
  const text = err.message.trim();
  return `We couldn't start the checkout: ${text}${/[.!?]$/.test(text) ? "" : "."}`;
}

/**
 * Shows the panel and mounts embedded Checkout for items into it, reporting
 * progress and errors in the panel. Resolves true when checkout is mounted.
 */
export async function openCheckout(panel: CheckoutPanel, config: SiteConfig, items: CartItem[]): Promise<boolean> {
  const token = ++panelToken;
  panel.section.hidden = false;
  panel.summary.textContent = describeCart(config, items);
  showPanelError(panel, undefined);
  panel.status.textContent = "Loading the secure payment form…";
  panel.section.setAttribute("aria-busy", "true");

  const report = (err: ShopError): void => {
    if (token === panelToken) {
      panel.status.textContent = "";
      showPanelError(panel, checkoutErrorText(err));
    }
  };
  try {
    const mounted = await mountCheckout(config, items, panel.mount, report);
    if (mounted && token === panelToken) {
      panel.status.textContent = "";
    }
    return mounted;
  } catch (err) {
    report(toShopError(err, CHECKOUT_MESSAGE));
    return false;
  } finally {
    if (token === panelToken) {
      panel.section.removeAttribute("aria-busy");
    }
  }
}

/** Hides the panel and destroys its checkout. */
export async function closeCheckout(panel: CheckoutPanel): Promise<void> {
  panelToken++;
  panel.section.hidden = true;
  panel.section.removeAttribute("aria-busy");
  panel.status.textContent = "";
  showPanelError(panel, undefined);
  await destroyCheckout();
}
