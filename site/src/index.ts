// Product page: lists the catalog from /config; "Buy" mounts embedded Checkout.

import {
  byId,
  checkoutPanel,
  closeCheckout,
  formatPrice,
  h,
  loadConfig,
  loadStripeJs,
  openCheckout,
  saveCart,
  toShopError,
  type CartItem,
  type Product,
  type SiteConfig,
} from "./shared";

const list = byId<HTMLUListElement>("products");
const listStatus = byId("products-status");
const panel = checkoutPanel();
const cancelButton = byId<HTMLButtonElement>("checkout-cancel");

let lastBuyButton: HTMLButtonElement | undefined;

function productCard(config: SiteConfig, product: Product, index: number): HTMLLIElement {
  const qtyId = `qty-${index}`;
  const errorId = `qty-${index}-error`;
  const nameId = `product-${index}-name`;

  const quantity = h("input", {
    id: qtyId,
    name: "quantity",
    type: "number",
    inputmode: "numeric",
    min: "1",
    max: String(product.maxQuantity),
    step: "1",
    value: "1",
    required: "",
    "aria-describedby": errorId,
  });
  const fieldError = h("p", { id: errorId, class: "field-error" });
  fieldError.hidden = true;

  const buy = h(
    "button",
    { type: "submit", class: "button button-primary", "data-buy": product.id },
    "Buy",
    h("span", { class: "visually-hidden" }, ` ${product.name}`),
  );

  const form = h(
    "form",
    { class: "buy-form", novalidate: "" },
    h("div", { class: "quantity-field" }, h("label", { for: qtyId }, "Quantity"), quantity),
    buy,
    fieldError,
  );
  form.addEventListener("submit", (event) => {
    event.preventDefault();
    const value = quantity.valueAsNumber;
    if (!Number.isInteger(value) || value < 1 || value > product.maxQuantity) {
      fieldError.textContent =
        product.maxQuantity === 1 ? "You can buy 1 at a time." : `Choose a quantity from 1 to ${product.maxQuantity}.`;
      fieldError.hidden = false;
      quantity.setAttribute("aria-invalid", "true");
      quantity.focus();
      return;
    }
    fieldError.hidden = true;
    quantity.removeAttribute("aria-invalid");
    lastBuyButton = buy;
    void buyNow(config, product, value);
  });

  const card = h("li", { class: "product", "data-product": product.id });
  if (product.image) {
    const img = h("img", { class: "product-image", src: product.image, alt: "", loading: "lazy", decoding: "async" });
    img.addEventListener("error", () => img.remove());
    card.append(img);
  } else {
    card.append(h("div", { class: "product-image product-image-placeholder", "aria-hidden": "true" }, product.name.charAt(0)));
  }
  card.append(
    h(
      "div",
      { class: "product-body" },
      h("h3", { class: "product-name", id: nameId }, product.name),
      product.description ? h("p", { class: "product-description" }, product.description) : "",
      h("p", { class: "product-price" }, formatPrice(product.unitAmount, product.currency)),
      form,
    ),
  );
  return card;
}

async function buyNow(config: SiteConfig, product: Product, quantity: number): Promise<void> {
  const items: CartItem[] = [{ id: product.id, quantity }];
  saveCart(items);
  for (const card of list.querySelectorAll<HTMLElement>(".product")) {
    card.classList.toggle("is-selected", card.dataset["product"] === product.id);
  }
  const opening = openCheckout(panel, config, items);
  panel.section.scrollIntoView({ block: "start", behavior: prefersReducedMotion() ? "auto" : "smooth" });
  panel.heading.focus({ preventScroll: true });
  await opening;
}

function prefersReducedMotion(): boolean {
  return window.matchMedia("(prefers-reduced-motion: reduce)").matches;
}

function renderProducts(config: SiteConfig): void {
  list.replaceChildren(...config.catalog.map((product, i) => productCard(config, product, i)));
  list.removeAttribute("aria-busy");
  if (config.catalog.length === 0) {
    listStatus.textContent = "There is nothing for sale right now. Please check back later.";
    listStatus.hidden = false;
  } else {
    listStatus.textContent = "";
    listStatus.hidden = true;
  }
}

async function start(): Promise<void> {
  listStatus.hidden = false;
  listStatus.textContent = "Loading products…";
  list.setAttribute("aria-busy", "true");
  let config: SiteConfig;
  try {
    config = await loadConfig();
  } catch (err) {
    const retry = h("button", { type: "button", class: "button" }, "Try again");
    retry.addEventListener("click", () => void start());
    listStatus.replaceChildren(
      `We couldn't load the products. ${toShopError(err, "Please try again in a moment.").message} `,
      retry,
    );
    list.removeAttribute("aria-busy");
    return;
  }
  renderProducts(config);
  // Start fetching Stripe.js early so the payment form appears quickly; errors
  // are reported when the shopper presses Buy.
  loadStripeJs(config.stripeJsUrl).catch(() => undefined);
}

cancelButton.addEventListener("click", () => {
  for (const card of list.querySelectorAll(".product.is-selected")) {
    card.classList.remove("is-selected");
  }
  void closeCheckout(panel);
  lastBuyButton?.focus();
});

void start();
