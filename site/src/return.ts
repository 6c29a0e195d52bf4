// Return page: return.html?session_id=cs_... Stripe sends the shopper here
// after a payment attempt. We ask the worker for the session's status and show
// the outcome; an open (unpaid) session gets a fresh embedded Checkout.

import {
  byId,
  checkoutPanel,
  clearCart,
  fetchSessionStatus,
  h,
  loadCart,
  loadConfig,
  openCheckout,
  showPanelError,
  toShopError,
  validCartItems,
  ShopError,
  type CartItem,
  type SessionStatusResponse,
  type SiteConfig,
} from "./shared";

type PageStatus = "loading" | "complete" | "open" | "expired" | "error";

interface Link {
  href: string;
  label: string;
  primary?: boolean;
}

const SHOP_NAME = document.title.split("—").pop()?.trim() ?? "";
const result = byId("result");
const title = byId("result-title");
const message = byId("result-message");
const note = byId("result-note");
const actions = byId("result-actions");
const panel = checkoutPanel();

const backToShop: Link = { href: "/", label: "Back to the shop" };

function show(status: PageStatus, heading: string, text: Array<Node | string>, links: Link[] = [], extra = ""): void {
  result.setAttribute("data-status", status);
  if (status === "loading") {
    result.setAttribute("aria-busy", "true");
  } else {
    result.removeAttribute("aria-busy");
  }
  title.textContent = heading;
  message.replaceChildren(...text);
  note.textContent = extra;
  note.hidden = extra === "";
  actions.replaceChildren(
    ...links.map((link) =>
      h("a", { href: link.href, class: link.primary ? "button button-primary" : "button" }, link.label),
    ),
  );
  actions.hidden = links.length === 0;
  document.title = SHOP_NAME ? `${heading} — ${SHOP_NAME}` : heading;
}

function showComplete(session: SessionStatusResponse): void {
  clearCart();
  const email = session.customerEmail;
  let text: Array<Node | string>;
  if (session.paymentStatus === "unpaid" && session.captureMethod === "manual") {
    text = ["Your payment is authorized: you'll be charged when we complete your order."];
  } else if (session.paymentStatus === "unpaid") {
    text = ["We've received your order. Your payment is still being processed; we'll confirm by email once it clears."];
  } else {
    text = ["Your payment was successful."];
  }
  if (email) {
    text.push(" A confirmation email will be sent to ", h("strong", { class: "email" }, email), ".");
  }
  show("complete", "Thank you for your order!", text, [{ href: "/", label: "Continue shopping", primary: true }]);
}

function showExpired(): void {
  clearCart();
  show(
    "expired",
    "This checkout has expired",
    ["The checkout session timed out before it was paid, so nothing was charged."],
    [{ href: "/", label: "Start over", primary: true }],
  );
}

async function showOpen(): Promise<void> {
  show("open", "Payment not completed", ["Your payment was not completed — you can try again below."]);
  let config: SiteConfig;
  try {
    config = await loadConfig();
  } catch (err) {
    panel.section.hidden = false;
    showPanelError(panel, toShopError(err, "The payment form could not be loaded. Please try again.").message);
    return;
  }
  const saved = loadCart();
  let items: CartItem[] = saved ? validCartItems(config, saved) : [];
  if (items.length === 0) {
    if (!config.defaultItem) {
      panel.section.hidden = false;
      showPanelError(panel, "There is nothing to buy right now. Please go back to the shop.");
      return;
    }
    items = [{ id: config.defaultItem, quantity: 1 }];
  }
  await openCheckout(panel, config, items);
}

function showLookupError(err: unknown): void {
  const e = err instanceof ShopError ? err : toShopError(err, "");
  const reassurance = "If you already paid, check your email for a receipt before trying again.";
  if (e.status === 0) {
    show(
      "error",
      "We couldn't check your payment",
      ["We couldn't reach the shop. Check your internet connection, then try again."],
      [{ href: location.href, label: "Try again", primary: true }, backToShop],
      reassurance,
    );
  } else if (e.status === 400 || e.status === 404) {
    show(
      "error",
      "We couldn't find this order",
      ["The link you followed may be incomplete or out of date."],
      [backToShop],
      reassurance,
    );
  } else {
    show(
      "error",
      "We couldn't check your payment",
      ["Something went wrong on our side. Please try again in a moment."],
      [{ href: location.href, label: "Try again", primary: true }, backToShop],
      reassurance,
    );
  }
}

async function start(): Promise<void> {
  const sessionId = new URLSearchParams(location.search).get("session_id")?.trim() ?? "";
  if (sessionId === "") {
    show(
      "error",
      "We couldn't find your order",
      ["This page shows the result of a payment, but the link you followed doesn't say which one."],
      [backToShop],
    );
    return;
  }

  show("loading", "Checking your payment…", ["This only takes a moment."]);
  let session: SessionStatusResponse;
  try {
    session = await fetchSessionStatus(sessionId);
  } catch (err) {
    showLookupError(err);
    return;
  }
  switch (session.status) {
    case "complete":
      showComplete(session);
      break;
    case "expired":
      showExpired();
      break;
    case "open":
      await showOpen();
      break;
  }
}

void start();
