// Pay page: the Payment Element in deferred-intent mode, with the payment
// finalized on the server ("finalize payments on the server" in Stripe's
// guides).
//
//   1. The shopper picks products and quantities (from /config's catalog).
//   2. "Continue to payment" mounts the Payment Element with the order's
//      amount, currency and capture method — for display only: the worker
//      prices the order again from its catalog.
//   3. "Pay" validates the form (elements.submit), creates a ConfirmationToken
//      and POSTs it with the cart to /create-confirm-intent, where the worker
//      runs its approval rules and creates and confirms the PaymentIntent.
//   4. A requires_action answer (3-D Secure) is handled with
//      stripe.handleNextAction; redirect-based methods come back to this page
//      with ?payment_intent_client_secret=..., read with retrievePaymentIntent.

import {
  BAD_ANSWER_MESSAGE,
  byId,
  findProduct,
  formatPrice,
  h,
  isRecord,
  loadConfig,
  loadStripeJs,
  requestJSON,
  ShopError,
  stringField,
  stripeFor,
  toShopError,
  type CartItem,
  type CustomField,
  type Product,
  type SiteConfig,
} from "./shared";
// Type-only: nothing from @stripe/stripe-js is bundled (see shared.ts).
import type { Stripe, StripeAddressElement, StripeElements, StripeElementsOptionsMode, StripePaymentElement } from "@stripe/stripe-js";

const orderStatus = byId("order-status");
const orderForm = byId<HTMLFormElement>("order-form");
const orderLines = byId<HTMLUListElement>("order-lines");
const orderEmail = byId<HTMLInputElement>("order-email");
const orderTotal = byId("order-total");
const orderNote = byId("order-note");
const orderError = byId("order-error");
const orderSection = byId("order-section");
const paymentSection = byId("payment-section");
const paymentTitle = byId("payment-title");
const paymentSummary = byId("payment-summary");
const paymentForm = byId<HTMLFormElement>("payment-form");
const paymentMount = byId("payment-element");
const addressMount = byId("address-element");
const ratesFieldset = byId<HTMLFieldSetElement>("shipping-rates");
const fieldsMount = byId("custom-fields");
const paymentError = byId("payment-error");
const paymentStatus = byId("payment-status");
const paymentSubmit = byId<HTMLButtonElement>("payment-submit");
const paymentBack = byId<HTMLButtonElement>("payment-back");
const result = byId("pay-result");
const resultTitle = byId("pay-result-title");
const resultMessage = byId("pay-result-message");

const NETWORK_RETRY_MS = 1000;

/** An order the shopper has chosen, checked against the catalog. */
interface Order {
  items: CartItem[];
  amount: number;
  currency: string;
  captureMethod: "automatic" | "manual";
  savePaymentMethod: boolean;
  email: string;
  /** Shipped: an address (Address Element) and one of rates, priced for this order. */
  ship: boolean;
  rates: { id: string; name: string; amount: number }[];
  phone: boolean;
  fields: CustomField[];
  /** What the shopper agrees to, from the catalog. */
  disclosure: string;
}

/** The Payment Element step in progress. */
interface PaymentStep {
  order: Order;
  stripe: Stripe;
  elements: StripeElements;
  element: StripePaymentElement;
  address: StripeAddressElement | undefined;
}

let step: PaymentStep | undefined;
let paying = false;

function show(node: HTMLElement, message: string | undefined): void {
  node.textContent = message ?? "";
  node.hidden = message === undefined;
}

function quantityInputs(): HTMLInputElement[] {
  return Array.from(orderLines.querySelectorAll<HTMLInputElement>("input[data-product]"));
}

function renderOrderForm(config: SiteConfig): void {
  const wanted = new URLSearchParams(location.search).get("product");
  const preselected = config.catalog.some((p) => p.id === wanted) ? wanted : config.defaultItem;
  orderLines.replaceChildren(
    ...config.catalog
      .filter((product) => !product.checkoutOnly)
      .map((product, i) => {
      const inputId = `qty-${i}`;
      const detail = [formatPrice(product.unitAmount, product.currency)];
      if (product.captureMethod === "manual") {
        detail.push("authorized now, charged later");
      }
      return h(
        "li",
        { class: "order-line", "data-product": product.id },
        h(
          "div",
          {},
          h("label", { class: "order-line-name", for: inputId }, product.name),
          h("div", { class: "order-line-detail" }, detail.join(" · ")),
        ),
        h("input", {
          id: inputId,
          type: "number",
          inputmode: "numeric",
          min: "0",
          max: String(product.maxQuantity),
          step: "1",
          value: product.id === preselected ? "1" : "0",
          "data-product": product.id,
        }),
      );
    }),
  );
  orderForm.hidden = false;
  orderStatus.textContent = "";
  updateTotal(config);
}

/** Reads the order form; returns the order or a message saying what is wrong. */
function readOrder(config: SiteConfig): Order | string {
  const items: CartItem[] = [];
  const products: Product[] = [];
  for (const input of quantityInputs()) {
    const product = findProduct(config, input.dataset["product"] ?? "");
    if (!product) {
      continue;
    }
    const raw = input.value.trim();
    const qty = raw === "" ? 0 : Number(raw);
    if (!Number.isInteger(qty) || qty < 0 || qty > product.maxQuantity) {
      return `Choose a quantity of ${product.name} from 0 to ${product.maxQuantity}.`;
    }
    if (qty > 0) {
      items.push({ id: product.id, quantity: qty });
      products.push(product);
    }
  }
  const first = products[0];
  if (!first) {
    return "Choose at least one product.";
  }
  if (products.some((p) => p.currency !== first.currency)) {
    return "These products are priced in different currencies; please order them separately.";
  }
  if (products.some((p) => p.captureMethod !== first.captureMethod)) {
    return "Rentals are paid differently from purchases (authorized now, charged later); please order them separately.";
  }
  const email = orderEmail.value.trim();
  const savePaymentMethod = products.some((p) => p.savePaymentMethod);
  let amount = 0;
  items.forEach((item, i) => {
    amount += (products[i]?.unitAmount ?? 0) * item.quantity;
  });
  // What the goods ask, as the worker works it out (goods.go): the rates
  // every shipped product may use, priced in the order's currency.
  const shipped = products.filter((p) => p.shippable);
  const rates = (config.shipping?.rates ?? [])
    .filter((r) => r.amount[first.currency] !== undefined && shipped.every((p) => p.shippingRates.length === 0 || p.shippingRates.includes(r.id)))
    .map((r) => {
      const free = r.freeOver[first.currency];
      return { id: r.id, name: r.displayName, amount: free !== undefined && amount >= free ? 0 : (r.amount[first.currency] ?? 0) };
    });
  if (shipped.length > 0 && rates.length === 0) {
    return "These products ship in different ways; please order them separately.";
  }
  const fields: CustomField[] = [...config.customFields];
  for (const p of products) {
    for (const f of p.customFields) {
      if (!fields.some((g) => g.key === f.key)) {
        fields.push(f);
      }
    }
  }
  const disclosure = [...new Set(products.map((p) => p.disclosure).filter((d) => d !== ""))].join(" ");
  return {
    items,
    amount,
    currency: first.currency,
    captureMethod: first.captureMethod,
    savePaymentMethod,
    email,
    ship: shipped.length > 0,
    rates,
    phone: config.phoneNumberCollection || products.some((p) => p.phoneNumberCollection),
    fields,
    disclosure,
  };
}

/** The chosen shipping rate of the order, if it ships. */
function chosenRate(order: Order): { id: string; amount: number } | undefined {
  const checked = ratesFieldset.querySelector<HTMLInputElement>("input[name=shipping_rate]:checked");
  return order.rates.find((r) => r.id === checked?.value) ?? order.rates[0];
}

/** The amount due: the lines plus the chosen shipping. */
function amountDue(order: Order): number {
  return order.amount + (order.ship ? (chosenRate(order)?.amount ?? 0) : 0);
}

/** The custom fields' values as typed, by key. */
function fieldValues(): Record<string, string> {
  const out: Record<string, string> = {};
  for (const input of fieldsMount.querySelectorAll<HTMLInputElement | HTMLSelectElement>("[data-field]")) {
    const v = input.value.trim();
    if (v !== "") {
      out[input.dataset["field"] ?? ""] = v;
    }
  }
  return out;
}

/** Renders the shipping rates and custom fields of the payment step. */
function renderGoods(order: Order, onChange: () => void): void {
  ratesFieldset.hidden = !order.ship;
  ratesFieldset.replaceChildren(
    h("legend", {}, "Shipping"),
    ...order.rates.map((r, i) => {
      const input = h("input", { type: "radio", name: "shipping_rate", id: `rate-${i}`, value: r.id });
      input.checked = i === 0;
      input.addEventListener("change", onChange);
      return h("div", { class: "order-field" }, input, h("label", { for: `rate-${i}` }, ` ${r.name} — ${r.amount === 0 ? "free" : formatPrice(r.amount, order.currency)}`));
    }),
  );
  fieldsMount.replaceChildren(
    ...order.fields.map((f, i) => {
      const id = `field-${i}`;
      const label = h("label", { for: id }, f.label + (f.optional ? " (optional)" : ""));
      let input: HTMLInputElement | HTMLSelectElement;
      if (f.type === "dropdown") {
        input = h("select", { id, "data-field": f.key }, h("option", { value: "" }, "Choose…"), ...f.options.map((o) => h("option", { value: o.value }, o.label)));
      } else {
        input = h("input", { id, type: "text", inputmode: f.type === "numeric" ? "numeric" : "text", "data-field": f.key, maxlength: String(f.maxLength ?? 255) });
      }
      input.required = !f.optional;
      return h("div", { class: "order-field" }, label, input);
    }),
  );
}

function updateTotal(config: SiteConfig): void {
  const order = readOrder(config);
  if (typeof order === "string") {
    orderTotal.textContent = "";
    show(orderNote, undefined);
    return;
  }
  orderTotal.textContent = `Total: ${formatPrice(order.amount, order.currency)}`;
  const notes: string[] = [];
  if (order.disclosure !== "") {
    notes.push(order.disclosure);
  }
  if (order.ship) {
    notes.push("Shipping is added on the next step.");
  }
  show(orderNote, notes.length > 0 ? notes.join(" ") : undefined);
}

function describeOrder(config: SiteConfig, order: Order): string {
  const lines = order.items.map((item) => `${item.quantity} × ${findProduct(config, item.id)?.name ?? item.id}`);
  return `${lines.join(", ")} — ${formatPrice(order.amount, order.currency)}`;
}

/** Step 2: mount the Payment Element for the chosen order. */
async function startPayment(config: SiteConfig, order: Order): Promise<void> {
  show(orderError, undefined);
  orderStatus.textContent = "Loading the secure payment form…";
  let stripe: Stripe;
  try {
    stripe = stripeFor(await loadStripeJs(config.stripeJsUrl), config.publishableKey);
  } catch (err) {
    orderStatus.textContent = "";
    show(orderError, toShopError(err, "The payment form could not be loaded. Please try again.").message);
    return;
  }
  const options: StripeElementsOptionsMode = {
    mode: "payment",
    amount: order.amount,
    currency: order.currency,
    captureMethod: order.captureMethod,
  };
  if (order.savePaymentMethod) {
    options.setupFutureUsage = "off_session";
  }
  const elements = stripe.elements(options);
  const element = elements.create("payment", { layout: "tabs" });
  // Shipped orders (or ones asking a phone) take the address, and phone, in
  // the Address Element: Stripe.js puts it into the ConfirmationToken.
  let address: StripeAddressElement | undefined;
  if (order.ship || order.phone) {
    address = elements.create("address", {
      mode: "shipping",
      allowedCountries: config.shipping?.allowedCountries ?? [],
      fields: { phone: order.phone ? "always" : "auto" },
    });
  }
  const current: PaymentStep = { order, stripe, elements, element, address };
  step = current;
  const refresh = (): void => {
    const due = amountDue(order);
    elements.update({ amount: due });
    paymentSummary.textContent = describeOrder(config, order) + (order.ship ? ` + shipping = ${formatPrice(due, order.currency)}` : "");
    paymentSubmit.textContent = `${order.captureMethod === "manual" ? "Authorize" : "Pay"} ${formatPrice(due, order.currency)}`;
  };
  renderGoods(order, refresh);
  orderStatus.textContent = "";
  orderSection.hidden = true;
  paymentSection.hidden = false;
  refresh();
  paymentSubmit.disabled = false;
  show(paymentError, undefined);
  paymentStatus.textContent = "";
  addressMount.hidden = address === undefined;
  address?.mount(addressMount);
  element.mount(paymentMount);
  paymentTitle.focus({ preventScroll: true });
}

function backToOrder(): void {
  if (paying) {
    return;
  }
  step?.element.destroy();
  step?.address?.destroy();
  step = undefined;
  paymentSection.hidden = true;
  orderSection.hidden = false;
}

interface IntentAnswer {
  id: string;
  clientSecret: string;
  status: string;
}

function newIdempotencyKey(): string {
  if (typeof crypto.randomUUID === "function") {
    return crypto.randomUUID();
  }
  const bytes = crypto.getRandomValues(new Uint8Array(16));
  return Array.from(bytes, (b) => b.toString(16).padStart(2, "0")).join("");
}

/**
 * POSTs the ConfirmationToken with the cart. A request that got no answer is
 * sent once more with the same idempotency key, so the worker (and Stripe)
 * answer it with the same PaymentIntent instead of paying twice.
 */
async function createConfirmIntent(order: Order, confirmationToken: string): Promise<IntentAnswer> {
  const body: Record<string, unknown> = {
    items: order.items,
    confirmationToken,
    idempotencyKey: newIdempotencyKey(),
  };
  const rate = order.ship ? chosenRate(order) : undefined;
  if (rate) {
    body["shippingRate"] = rate.id;
  }
  const fields = fieldValues();
  if (Object.keys(fields).length > 0) {
    body["customFields"] = fields;
  }
  if (order.email !== "") {
    body["email"] = order.email;
  }
  let answer: unknown;
  try {
    answer = await requestJSON("/create-confirm-intent", { method: "POST", json: body });
  } catch (err) {
    if (!(err instanceof ShopError) || err.status !== 0) {
      throw err;
    }
    await new Promise((resolve) => setTimeout(resolve, NETWORK_RETRY_MS));
    answer = await requestJSON("/create-confirm-intent", { method: "POST", json: body });
  }
  const id = isRecord(answer) ? stringField(answer, "id") : undefined;
  const clientSecret = isRecord(answer) ? stringField(answer, "client_secret") : undefined;
  const status = isRecord(answer) ? stringField(answer, "status") : undefined;
  if (!id || !clientSecret || !status) {
    throw new ShopError(BAD_ANSWER_MESSAGE, 200);
  }
  return { id, clientSecret, status };
}

/** Step 3: pay. */
async function pay(current: PaymentStep): Promise<void> {
  paying = true;
  paymentSubmit.disabled = true;
  paymentBack.disabled = true;
  show(paymentError, undefined);
  paymentStatus.textContent = "Processing your payment…";
  try {
    const missing = current.order.fields.find((f) => !f.optional && (fieldValues()[f.key] ?? "") === "");
    if (missing) {
      throw new ShopError(`Please fill in ${missing.label}.`, 0, "missing_custom_field");
    }
    const submitted = await current.elements.submit();
    if (submitted.error) {
      throw new ShopError(submitted.error.message ?? "Please check your payment details.", 0, submitted.error.code);
    }
    const created = await current.stripe.createConfirmationToken({ elements: current.elements });
    if (created.error || !created.confirmationToken) {
      throw new ShopError(created.error?.message ?? "Your payment details could not be used. Please check them and try again.", 0, created.error?.code);
    }
    const intent = await createConfirmIntent(current.order, created.confirmationToken.id);
    let status = intent.status;
    if (status === "requires_action") {
      paymentStatus.textContent = "Waiting for your bank's confirmation…";
      const next = await current.stripe.handleNextAction({ clientSecret: intent.clientSecret });
      if (next.error) {
        throw new ShopError(next.error.message ?? "Your bank did not confirm the payment. Please try again.", 0, next.error.code);
      }
      status = next.paymentIntent?.status ?? "requires_payment_method";
    }
    showOutcome(status, current.order, failureFor(status));
  } catch (err) {
    const e = toShopError(err, "The payment could not be completed. Please try again.");
    paymentStatus.textContent = "";
    show(paymentError, e.message);
    paymentSubmit.disabled = false;
  } finally {
    paying = false;
    paymentBack.disabled = false;
  }
}

/** The message for a PaymentIntent that ended up needing a new payment method. */
function failureFor(status: string): string | undefined {
  return status === "requires_payment_method" ? "The payment was not completed. Please try another payment method." : undefined;
}

/** Shows the final state; failures leave the payment form up for another try. */
function showOutcome(status: string, order: Order | undefined, failure?: string): void {
  if (failure !== undefined && step) {
    paymentStatus.textContent = "";
    show(paymentError, failure);
    paymentSubmit.disabled = false;
    return;
  }
  const amount = order ? ` of ${formatPrice(amountDue(order), order.currency)}` : "";
  let title: string;
  let message: string;
  let data: string;
  switch (status) {
    case "succeeded":
      [data, title, message] = ["succeeded", "Thank you for your order!", `Your payment${amount} was successful.`];
      break;
    case "requires_capture":
      [data, title, message] = [
        "requires_capture",
        "Thank you — your payment is authorized",
        `Your card was authorized for the amount${amount}. You are charged when the shop completes your order.`,
      ];
      break;
    case "processing":
      [data, title, message] = ["processing", "Your payment is processing", "We'll confirm by email once it clears."];
      break;
    default:
      [data, title, message] = ["failed", "The payment was not completed", "Nothing was charged. You can go back to the shop and try again."];
  }
  if (data !== "failed" && order?.email) {
    message += ` A receipt will be sent to ${order.email}.`;
  }
  step?.element.destroy();
  step?.address?.destroy();
  step = undefined;
  orderSection.hidden = true;
  paymentSection.hidden = true;
  result.hidden = false;
  result.setAttribute("data-status", data);
  resultTitle.textContent = title;
  resultMessage.textContent = message;
  resultTitle.focus({ preventScroll: true });
}

/** Coming back from a redirect-based payment method: ask Stripe.js for the outcome. */
async function showReturn(config: SiteConfig, clientSecret: string, redirectStatus: string | null): Promise<void> {
  orderSection.hidden = true;
  let status = redirectStatus === "succeeded" ? "succeeded" : "failed";
  try {
    const stripe = stripeFor(await loadStripeJs(config.stripeJsUrl), config.publishableKey);
    const found = await stripe.retrievePaymentIntent(clientSecret);
    if (found.paymentIntent) {
      status = found.paymentIntent.status;
    }
  } catch (err) {
    console.warn("checkout: could not read the payment's status", err);
  }
  history.replaceState(null, "", location.pathname);
  showOutcome(status, undefined);
}

async function start(): Promise<void> {
  let config: SiteConfig;
  try {
    config = await loadConfig();
  } catch (err) {
    const retry = h("button", { type: "button", class: "button" }, "Try again");
    retry.addEventListener("click", () => void start());
    orderStatus.replaceChildren(`We couldn't load the products. ${toShopError(err, "Please try again in a moment.").message} `, retry);
    return;
  }
  const params = new URLSearchParams(location.search);
  const returning = params.get("payment_intent_client_secret");
  if (returning) {
    await showReturn(config, returning, params.get("redirect_status"));
    return;
  }
  renderOrderForm(config);
  orderForm.addEventListener("input", () => updateTotal(config));
  orderForm.addEventListener("submit", (event) => {
    event.preventDefault();
    const order = readOrder(config);
    if (typeof order === "string") {
      show(orderError, order);
      return;
    }
    if (order.savePaymentMethod && order.email === "") {
      // The worker saves the card to a customer with this email, and
      // refuses to save it to nobody (missing_email).
      show(orderError, "Enter your email: your payment details are saved to your account for later payments.");
      orderEmail.focus();
      return;
    }
    void startPayment(config, order);
  });
  paymentBack.addEventListener("click", backToOrder);
  paymentForm.addEventListener("submit", (event) => {
    event.preventDefault();
    if (step && !paying) {
      void pay(step);
    }
  });
  // Start fetching Stripe.js early; errors are reported on "Continue".
  loadStripeJs(config.stripeJsUrl).catch(() => undefined);
}

void start();
