// embed.js — the checkout snippet for any static site. Served by the worker at
// /embed.js (stable name, no hash); a site owner pastes
//
//   <script src="https://<worker>/embed.js" defer></script>
//
// and marks up buy buttons by hand (see README, "Add checkout to your site"):
//
//   <button data-checkout-product="mug" data-checkout-quantity="2">Buy</button>
//   <button data-checkout-cart="mug:2, tshirt">Buy both</button>
//   <form data-checkout-cart> … <input data-checkout-item="mug" value="1"> … </form>
//
// Optional on the same element: data-checkout-target="#css-selector" (mount
// embedded Checkout in place instead of in an overlay), data-checkout-mode=
// "hosted" (redirect to Stripe's hosted Checkout), data-checkout-return="/path"
// (where the shopper lands afterwards; default: this page), and what the
// worker checks and passes to Checkout: data-checkout-email (prefill),
// -reference (client_reference_id), -promo (a promotion code applied on the
// server), -locale. cart.js (optional) keeps a cart across pages and sets
// data-checkout-cart on its checkout buttons, which this script then buys.
//
// It talks only to the worker it was loaded from (its /config and
// /create-checkout-session; /session-status after a redirect back), loads
// Stripe.js from the worker's pinned URL only when embedded Checkout is first
// opened, keeps a single embedded Checkout, and reports through bubbling DOM
// events: checkout:ready, checkout:opened, checkout:completed, checkout:error,
// checkout:closed (the overlay closed before paying).
// It is standalone (no imports besides types) to stay small; `make bench`
// prints its size and build/embed_test.go holds it to 2 KB gzip.

// Type-only: nothing from @stripe/stripe-js is bundled; Stripe.js itself comes
// from config.stripeJsUrl.
import type { Stripe, StripeConstructor, StripeEmbeddedCheckout } from "@stripe/stripe-js";

interface Item {
  id: string;
  quantity: number | string | null | undefined;
}

interface Config {
  publishableKey: string;
  stripeJsUrl: string;
}

/** The open embedded Checkout: key "" once it completed. */
interface Open {
  key: string;
  checkout: StripeEmbeddedCheckout;
  box: HTMLElement;
  el: HTMLElement;
  sessionId: string;
}

/** A failure: a machine-readable code and a message fit for the shopper. */
interface Failure {
  code: string;
  message: string;
  status: number;
}

const failure = (code: string, message: string, status = 0): Failure => ({ code, message, status });

const PREFIX = "data-checkout-";
const SELECTOR = `[${PREFIX}product],[${PREFIX}cart]`;
const script = document.currentScript as HTMLScriptElement | null;
// The worker's origin: where this script was loaded from.
const base = new URL(script?.src || location.href).origin;

const cache: Record<string, Promise<unknown>> = {};
let current: Open | undefined;
let busy = false;
let dialog: HTMLDialogElement | undefined;

const attr = (el: Element, name: string): string | null => el.getAttribute(PREFIX + name);

function emit(target: EventTarget, name: string, detail: object): void {
  target.dispatchEvent(new CustomEvent("checkout:" + name, { bubbles: true, detail }));
}

/** Calls the worker; answers its JSON body or throws a Failure with the worker's message. */
async function api(path: string, body?: object): Promise<Record<string, unknown>> {
  let res: Response;
  let data: { error?: { code?: string; message?: string } } & Record<string, unknown>;
  try {
    // Cross-origin fetches send no cookies by default; the worker wants none.
    res = await fetch(
      base + path,
      body && { method: "POST", headers: { "Content-Type": "application/json" }, body: JSON.stringify(body) },
    );
  } catch {
    throw failure("network", "the shop could not be reached");
  }
  data = await res.json().catch(() => ({}));
  if (!res.ok) {
    const e = data.error || {};
    throw failure(e.code || "http_" + res.status, e.message || "error " + res.status, res.status);
  }
  return data;
}

/** Runs make once per page; a failure is forgotten so that a later click retries. */
function once<T>(name: string, make: () => Promise<T>): Promise<T> {
  return (cache[name] ||= make().catch((e) => {
    delete cache[name];
    throw e;
  })) as Promise<T>;
}

/** GET /config. */
const config = (): Promise<Config> => once("c", () => api("/config") as Promise<unknown> as Promise<Config>);

/** Loads Stripe.js (config.stripeJsUrl) with one script tag, then one Stripe instance. */
const stripe = (cfg: Config): Promise<Stripe> =>
  once("s", () =>
    new Promise<StripeConstructor>((resolve, reject) => {
      const s = document.createElement("script");
      const loaded = () => resolve(window.Stripe!);
      s.src = cfg.stripeJsUrl;
      s.onload = loaded;
      s.onerror = () => reject(failure("stripe_js", "the payment form did not load"));
      // The page may have loaded Stripe.js itself.
      window.Stripe ? loaded() : document.head.append(s);
    }).then((stripeJs) => stripeJs(cfg.publishableKey)),
  );

/** The items an element buys, from its markup. */
function itemsOf(el: Element): Item[] {
  const product = attr(el, "product");
  const cart = attr(el, "cart");
  const pairs = product
    ? [[product, attr(el, "quantity")]]
    : cart
      ? (cart.match(/[^\s,]+/g) || []).map((part) => part.split(":")) // "mug:2, tshirt"
      : // A cart form: every [data-checkout-item="id"] field holds a quantity.
        [...el.querySelectorAll(`[${PREFIX}item]`)].map((f) => [attr(f, "item"), (f as HTMLInputElement).value || "0"]);
  // Quantity 0 (an empty cart field) leaves a product out. The worker checks
  // ids and quantities (fractions, negatives, limits: 400 naming the line);
  // what is not a finite number goes as written, which it refuses too.
  const items = pairs
    .map(([id, q]) => {
      const n = +(q || 1);
      return { id: id || "", quantity: n - n == 0 ? n : q };
    })
    .filter((i) => i.quantity !== 0);
  if (!items.length) throw failure("empty_cart", "choose at least one product");
  return items;
}

/** The overlay: one <dialog> with a close button, created on first use. */
function overlay(): HTMLDialogElement {
  if (!dialog) {
    const d = (dialog = document.createElement("dialog"));
    d.setAttribute(PREFIX + "overlay", "");
    d.ariaLabel = "Checkout";
    // Styled through the CSSOM: allowed under a CSP without 'unsafe-inline'.
    d.style.width = "min(560px,90vw)";
    const close = document.createElement("button");
    close.textContent = "Close";
    close.onclick = () => d.close();
    // Closed (Close, or Escape) before paying: say so. A modal <dialog> keeps
    // focus inside while open and gives it back to the buy element on close.
    d.onclose = () => current?.key && emit(current.el, "closed", { sessionId: current.sessionId });
    d.append(close);
    document.body.append(d);
  }
  return dialog;
}

/** Shows (or, with no message, hides) the error line after el: <p data-checkout-error role="alert">. */
function say(el: Element, message = ""): void {
  let line = el.nextElementSibling as HTMLElement | null;
  if (!line?.hasAttribute(PREFIX + "error")) {
    if (!message) return;
    el.after((line = document.createElement("p")));
    line.setAttribute(PREFIX + "error", "");
    line.role = "alert";
  }
  line.textContent = "Checkout could not start: " + message;
  line.hidden = !message;
}

function show(open: Open): void {
  if (open.box.parentElement === dialog) {
    if (!dialog!.open) dialog!.showModal();
  } else {
    open.box.scrollIntoView();
  }
}

async function start(el: HTMLElement): Promise<void> {
  if (busy) return; // a double click, or a click while another checkout is starting
  busy = true;
  el.ariaBusy = "true";
  say(el);
  const hosted = attr(el, "mode") === "hosted";
  const targetSel = attr(el, "target");
  const back = attr(el, "return");
  try {
    const items = itemsOf(el);
    const here = location.pathname;
    const request: Record<string, unknown> = { items, returnPath: back || here };
    // Checked by the worker (400 naming the field): prefill, the site's own
    // reference, a promotion code applied on the server, Checkout's locale.
    // (undefined: left out of the JSON).
    for (const name of ["email", "reference", "promo", "locale"]) request[name] = attr(el, name) || undefined;
    if (hosted) {
      request["uiMode"] = "hosted";
      request["cancelPath"] = here;
    } else if (!back) {
      // Stay on this page (onComplete) unless a payment method must redirect.
      request["redirectOnCompletion"] = "if_required";
    }
    const key = JSON.stringify([request, targetSel]);
    if (current?.key === key) {
      show(current); // re-opening the same cart: same session, same Checkout
      return;
    }
    const target = targetSel ? document.querySelector(targetSel) : undefined;
    if (target === null) throw failure("no_target", "no element " + targetSel + " on this page");
    const cfg = await config();
    const [client, answer] = await Promise.all([hosted ? undefined : stripe(cfg), api("/create-checkout-session", request)]);
    if (hosted) {
      emit(el, "opened", { items, mode: "hosted" });
      location.assign(answer["url"] as string); // the worker answers only http(s) URLs from Stripe
      return;
    }
    const secret = answer["clientSecret"] as string;
    const sessionId = secret.split("_secret_")[0]!;
    // Stripe allows one embedded Checkout at a time: destroy the previous one.
    if (current) {
      try {
        current.checkout.destroy();
      } catch {
        // already gone
      }
      current.box.remove();
      current = undefined;
    }
    const options = { fetchClientSecret: async () => secret };
    const checkout = await client!.initEmbeddedCheckout(
      back
        ? options
        : {
            ...options,
            onComplete: () => {
              if (current?.checkout === checkout) current.key = ""; // a new click starts a new order
              emit(el, "completed", { sessionId, items });
            },
          },
    );
    const box = document.createElement("div");
    (target || overlay()).append(box);
    current = { key, checkout, box, el, sessionId };
    checkout.mount(box);
    show(current);
    emit(el, "opened", { sessionId, items, mode: target ? "inline" : "overlay" });
  } catch (err) {
    const f = (err as Failure)?.code ? (err as Failure) : failure("checkout_failed", "try again");
    emit(el, "error", f);
    say(el, f.message); // hide [data-checkout-error] with CSS to show errors your own way
  } finally {
    busy = false;
    el.ariaBusy = null;
  }
}

function trigger(event: Event): void {
  const el = (event.target as Element).closest?.<HTMLElement>(SELECTOR);
  // Forms start on submit (so their own validation runs), everything else on click.
  if (el && (el.tagName === "FORM") === (event.type === "submit")) {
    event.preventDefault();
    void start(el);
  }
}

function init(): void {
  // Pasted twice (in a layout and again in a page)? Only the first copy acts,
  // or every click would start two sessions.
  const w = window as { checkoutKit?: number };
  if (w.checkoutKit) return;
  w.checkoutKit = 1;
  for (const type of ["click", "submit"]) document.addEventListener(type, trigger);
  // Owners may hide buttons until the snippet has loaded: buy elements, and
  // the buttons inside cart forms (the submit button a form's shopper clicks).
  document
    .querySelectorAll<HTMLElement>(`${SELECTOR},[${PREFIX}cart] button`)
    .forEach((el) => (el.hidden = false));
  emit(document, "ready", { elements: document.querySelectorAll(SELECTOR).length });

  // Back from a redirect (hosted Checkout, or a payment method that needed
  // one): confirm with the worker and report the outcome.
  const [, sessionId] = /[?&]session_id=(cs_\w+)/.exec(location.search) || [];
  if (sessionId) {
    api("/session-status?session_id=" + sessionId)
      .then((s) => {
        if (s["status"] != "complete") throw failure("not_completed", "the payment was not completed");
        emit(document, "completed", { sessionId });
      })
      .catch((f: Failure) => emit(document, "error", { ...f, sessionId }));
  }
}

if (document.readyState === "loading") {
  document.addEventListener("DOMContentLoaded", init);
} else {
  init();
}
