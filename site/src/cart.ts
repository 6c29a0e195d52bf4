// cart.js — the optional cart beside embed.js. A site that wants a cart across
// pages pastes both:
//
//   <script src="https://<worker>/embed.js" defer></script>
//   <script src="https://<worker>/cart.js" defer></script>
//
// and marks up (see README, "A cart across pages"):
//
//   <button data-checkout-add="mug" data-checkout-quantity="2">Add to cart</button>
//   <span data-checkout-count>0</span>             the number of items
//   <div data-checkout-cart-view></div>           the lines, with +, − and Remove
//   <button data-checkout-buy-cart>Check out</button>
//
// The cart is kept in localStorage under the worker's origin, so every page of
// the site and every open tab share it (the storage event brings other tabs'
// changes). Names, prices and each product's maxQuantity come from the
// worker's /config, for display only: the worker prices every order again.
// Products the catalog no longer has are dropped, and quantities above
// maxQuantity lowered, each with a visible note. The checkout buttons get
// data-checkout-cart="mug:2 tshirt:1", which embed.js buys like any fixed
// cart (with the button's other data-checkout-* attributes). The cart empties
// on checkout:completed of its own purchase, and survives a closed overlay or
// a failed payment. Every change fires checkout:cart on document, with
// {items: [{id, quantity}], count}, and is announced in a polite live region.
// Standalone and small like embed.js: `make bench` prints its size and
// build/embed_test.go holds it to 2 KB gzip.

interface Product {
  id: string;
  name: string;
  unitAmount: number;
  currency: string;
  maxQuantity: number;
}

/** A cart line: product id and quantity. */
type Line = [string, number];

const P = "data-checkout-";
const script = document.currentScript as HTMLScriptElement | null;
const base = new URL(script?.src || location.href).origin;
// One cart per shop (worker) on this site.
const KEY = "checkout-kit-cart " + base;
// Set while a checkout of this cart is open or away at Stripe (hosted, a
// redirect): its completion, on this or a return page, empties the cart.
const PENDING = KEY + " pending";

let catalog: Record<string, Product> | undefined;
let live: HTMLElement;
let notes: string[] = [];

const attr = (el: Element, name: string) => el.getAttribute(P + name);
const all = (name: string) => document.querySelectorAll<HTMLElement>(`[${P + name}]`);
const el = <K extends keyof HTMLElementTagNameMap>(tag: K, text = "", ...kids: Node[]) => {
  const e = document.createElement(tag);
  e.append(text, ...kids);
  return e;
};
const nameOf = (id: string) => catalog?.[id]?.name || id;

function load(): Line[] {
  try {
    const lines = JSON.parse(localStorage.getItem(KEY) || "[]") as Line[];
    return lines.filter(([id, q]) => typeof id == "string" && q > 0 && q % 1 == 0);
  } catch {
    return [];
  }
}

/** q within the product's maxQuantity (once the catalog is known), with a note when lowered. */
function limit(id: string, q: number): number {
  const p = catalog?.[id];
  if (p && q > p.maxQuantity) {
    notes.push(`${p.name}: at most ${p.maxQuantity} per order.`);
    return p.maxQuantity;
  }
  return q;
}

/** Drops products the catalog no longer has and lowers quantities to each maxQuantity, with a note. */
function fit(lines: Line[]): Line[] {
  return lines.flatMap(([id, q]): Line[] => {
    if (catalog && !catalog[id]) {
      notes.push(`${id} is no longer sold and was removed from your cart.`);
      return [];
    }
    return [[id, limit(id, q)]];
  });
}

const money = (amount: number, currency: string) => {
  const f = new Intl.NumberFormat(document.documentElement.lang || undefined, { style: "currency", currency });
  return f.format(amount / 10 ** f.resolvedOptions().maximumFractionDigits!);
};

/** Saves (when given lines), shows the cart everywhere on the page and reports it. */
function update(lines?: Line[], said = ""): void {
  const stored = load();
  const cart = fit(lines || stored);
  if (lines || JSON.stringify(cart) != JSON.stringify(stored)) localStorage.setItem(KEY, JSON.stringify(cart));
  const count = cart.reduce((n, [, q]) => n + q, 0);
  all("count").forEach((e) => (e.textContent = "" + count));
  // embed.js buys the checkout buttons' cart; an empty one gets its "choose at least one product".
  all("buy-cart").forEach((b) => {
    b.setAttribute(P + "cart", cart.map((l) => l.join(":")).join(" "));
    b.hidden = false;
  });
  all("cart-view").forEach((view) => {
    view.tabIndex = -1;
    // Focus stays on the control it was on (same line, same button), or the view.
    const focused = document.activeElement;
    const line = focused?.closest(`[${P}line]`);
    const at = line && [line.getAttribute(P + "line"), [...line.querySelectorAll("button")].indexOf(focused as HTMLButtonElement)];
    const totals: Record<string, number> = {};
    const list = el("ul");
    for (const [id, q] of cart) {
      const p = catalog?.[id];
      const name = nameOf(id);
      const button = (text: string, label: string, n: number) => {
        const b = el("button", text);
        b.type = "button";
        b.ariaLabel = label;
        b.setAttribute(P + "set", id + ":" + n);
        return b;
      };
      const li = el(
        "li",
        name + " ",
        button("−", "One fewer " + name, q - 1),
        el("span", ` ${q} `),
        button("+", "One more " + name, q + 1),
        button("Remove", "Remove " + name, 0),
      );
      if (p) {
        li.append(" " + money(p.unitAmount * q, p.currency));
        totals[p.currency] = (totals[p.currency] || 0) + p.unitAmount * q;
      }
      li.setAttribute(P + "line", id);
      list.append(li);
    }
    const sum = Object.entries(totals).map(([c, n]) => money(n, c));
    view.replaceChildren(
      cart.length ? list : el("p", "Your cart is empty."),
      el("p", sum.length ? "Total: " + sum.join(" + ") : ""),
      el("p", notes.join(" ")),
    );
    if (at) {
      const back = view.querySelector(`[${P}line="${CSS.escape(at[0] as string)}"]`)?.querySelectorAll("button")[at[1] as number];
      (back || view).focus();
    }
  });
  const text = [said, ...notes].join(" ");
  if (text) live.textContent = text;
  notes = [];
  document.dispatchEvent(new CustomEvent("checkout:cart", { detail: { items: cart.map(([id, quantity]) => ({ id, quantity })), count } }));
}

/** Sets a product's quantity (0 removes it; at most its maxQuantity), in its place in the cart. */
function set(id: string, q: number, added?: boolean): void {
  const lines = load();
  const i = lines.findIndex(([x]) => x == id);
  q = limit(id, q);
  lines.splice(i < 0 ? lines.length : i, i < 0 ? 0 : 1, ...(q > 0 ? [[id, q] as Line] : []));
  update(lines, q > 0 ? `${added ? "Added " : ""}${nameOf(id)}: ${q} in your cart.` : `Removed ${nameOf(id)}.`);
}

function click(event: Event): void {
  const t = (event.target as Element).closest?.(`[${P}add],[${P}set]`);
  if (!t) return;
  const add = attr(t, "add");
  if (add) {
    set(add, (load().find(([x]) => x == add)?.[1] || 0) + (+attr(t, "quantity")! || 1), true);
  } else {
    const [id, q] = attr(t, "set")!.split(":") as [string, string];
    set(id, +q);
  }
}

function pending(e: Event): Element | null | false {
  return e.target instanceof Element && e.target.closest(`[${P}buy-cart]`);
}

function init(): void {
  const w = window as { checkoutCart?: number };
  if (w.checkoutCart) return; // pasted twice
  w.checkoutCart = 1;
  // A polite live region, visually hidden (styled through the CSSOM: allowed under a strict CSP).
  live = el("p");
  live.setAttribute("role", "status");
  Object.assign(live.style, { position: "absolute", width: "1px", height: "1px", overflow: "hidden", clipPath: "inset(50%)" });
  document.body.append(live);
  all("add").forEach((b) => (b.hidden = false));
  document.addEventListener("click", click);
  addEventListener("storage", (e) => e.key == KEY && update());
  // Only a checkout of the cart that is still open or away at Stripe may empty it.
  document.addEventListener("checkout:opened", (e) => (pending(e) ? localStorage.setItem(PENDING, "1") : localStorage.removeItem(PENDING)));
  document.addEventListener("checkout:closed", () => localStorage.removeItem(PENDING));
  document.addEventListener("checkout:completed", (e) => {
    if (pending(e) || (e.target == document && localStorage.getItem(PENDING))) {
      localStorage.removeItem(PENDING);
      update([], "Thank you! Your cart is empty now.");
    }
  });
  update();
  fetch(base + "/config")
    .then((r) => (r.ok ? r.json() : Promise.reject()))
    .then((c: { catalog?: Product[] }) => {
      catalog = {};
      for (const p of c.catalog || []) catalog[p.id] = p;
      update();
    })
    .catch(() => {}); // names and prices stay unknown; embed.js reports the worker's errors
}

if (document.readyState === "loading") {
  document.addEventListener("DOMContentLoaded", init);
} else {
  init();
}
