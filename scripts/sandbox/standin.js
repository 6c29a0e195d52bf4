/*
 * Stripe sandbox: development stand-in for Stripe.js (window.Stripe).
 *
 * Served by the local Stripe sandbox (scripts/sandbox) at /stripe.js for offline
 * development and tests. It is NOT Stripe.js, takes no real payments and must never
 * be loaded in production. It implements only what the checkout kit uses:
 *
 *   const stripe = Stripe("pk_test_...");
 *   const checkout = await stripe.initEmbeddedCheckout({ fetchClientSecret, onComplete });
 *   checkout.mount("#checkout"); checkout.unmount(); checkout.destroy();
 *
 * It renders a plain test payment form inside the mount node (no iframe) and styles
 * it only through element.style, so it works under a strict Content-Security-Policy
 * (no inline style attributes, no style elements, no HTML strings).
 */
(function () {
  "use strict";

  const PREFIX = "Stripe sandbox: ";

  // The sandbox origin: where this script was loaded from.
  function findBase() {
    const candidates = [];
    if (document.currentScript && document.currentScript.src) {
      candidates.push(document.currentScript.src);
    }
    for (const s of document.querySelectorAll("script[src]")) {
      if (/\/stripe\.js(?:[?#].*)?$/.test(s.src) && !/\.stripe\.com$/.test(new URL(s.src, location.href).hostname)) {
        candidates.push(s.src);
      }
    }
    for (const src of candidates) {
      try {
        return new URL(src, location.href).origin;
      } catch (_) {
        // try the next one
      }
    }
    return location.origin;
  }

  const BASE = findBase();

  // Only one embedded checkout may exist at a time, across all Stripe instances.
  let active = null;

  const css = {
    root: {
      boxSizing: "border-box",
      maxWidth: "440px",
      margin: "0 auto",
      padding: "16px",
      border: "1px solid #d0d5dd",
      borderRadius: "8px",
      background: "#ffffff",
      color: "#1a1a1a",
      fontFamily: "system-ui, -apple-system, 'Segoe UI', Roboto, sans-serif",
      fontSize: "15px",
      lineHeight: "1.4",
      textAlign: "left",
    },
    banner: {
      margin: "0 0 12px",
      padding: "8px 10px",
      border: "1px dashed #b58100",
      borderRadius: "6px",
      background: "#fff6d6",
      color: "#5c4200",
      fontSize: "13px",
      fontWeight: "600",
    },
    list: { listStyle: "none", margin: "0 0 8px", padding: "0" },
    row: { display: "flex", justifyContent: "space-between", gap: "12px", padding: "4px 0" },
    total: {
      display: "flex",
      justifyContent: "space-between",
      gap: "12px",
      padding: "8px 0",
      margin: "0 0 12px",
      borderTop: "1px solid #e4e7ec",
      fontWeight: "700",
    },
    label: { display: "block", margin: "10px 0 4px", fontSize: "13px", fontWeight: "600" },
    input: {
      boxSizing: "border-box",
      width: "100%",
      padding: "8px 10px",
      border: "1px solid #c4c9d1",
      borderRadius: "6px",
      font: "inherit",
      color: "inherit",
      background: "#ffffff",
    },
    split: { display: "flex", gap: "12px" },
    splitCell: { flex: "1 1 0" },
    hint: { margin: "8px 0 0", fontSize: "12px", color: "#555d6b" },
    error: { minHeight: "1.4em", margin: "10px 0 0", color: "#b42318", fontSize: "14px" },
    button: {
      width: "100%",
      margin: "12px 0 0",
      padding: "10px 14px",
      border: "0",
      borderRadius: "6px",
      background: "#635bff",
      color: "#ffffff",
      font: "inherit",
      fontWeight: "600",
      cursor: "pointer",
    },
    message: { margin: "8px 0", fontSize: "15px" },
  };

  function el(tag, attrs, style, children) {
    const node = document.createElement(tag);
    for (const [name, value] of Object.entries(attrs || {})) {
      if (value === false || value === null || value === undefined) continue;
      if (name === "text") node.textContent = value;
      else if (name in node && typeof value !== "string") node[name] = value;
      else node.setAttribute(name, value === true ? "" : String(value));
    }
    if (style) Object.assign(node.style, style);
    for (const child of children || []) node.appendChild(child);
    return node;
  }

  function formatAmount(minor, currency, locale) {
    const code = String(currency || "usd").toUpperCase();
    let nf;
    try {
      nf = new Intl.NumberFormat(locale, { style: "currency", currency: code });
    } catch (_) {
      nf = new Intl.NumberFormat(undefined, { style: "currency", currency: code });
    }
    const digits = nf.resolvedOptions().maximumFractionDigits;
    return nf.format(Number(minor) / Math.pow(10, digits));
  }

  function errorMessage(err) {
    if (err && typeof err.message === "string" && err.message) return err.message;
    return String(err);
  }

  class EmbeddedCheckout {
    constructor(options, locale) {
      this.fetchClientSecret = options.fetchClientSecret;
      this.clientSecret = options.clientSecret;
      this.onComplete = options.onComplete;
      this.locale = locale;
      this.state = "ready"; // ready | mounted | destroyed
      this.node = null;
      this.root = null;
      this.generation = 0;
      this.secretPromise = null;
    }

    getClientSecret() {
      if (!this.secretPromise) {
        const p =
          typeof this.clientSecret === "string"
            ? Promise.resolve(this.clientSecret)
            : Promise.resolve().then(() => this.fetchClientSecret());
        // Keep a successful result for remounts; forget a failure so a remount retries.
        this.secretPromise = p.catch((err) => {
          this.secretPromise = null;
          throw err;
        });
      }
      return this.secretPromise;
    }

    mount(target) {
      if (this.state === "destroyed") {
        throw new Error(PREFIX + "this embedded checkout was destroyed; call initEmbeddedCheckout() again.");
      }
      if (this.state === "mounted") {
        throw new Error(PREFIX + "this embedded checkout is already mounted; call unmount() first.");
      }
      let node = target;
      if (typeof target === "string") {
        try {
          node = document.querySelector(target);
        } catch (err) {
          throw new Error(PREFIX + "mount() was given an invalid selector " + JSON.stringify(target) + ": " + errorMessage(err));
        }
        if (!node) {
          throw new Error(PREFIX + "mount() found no element matching " + JSON.stringify(target) + ".");
        }
      } else if (!target || target.nodeType !== 1) {
        throw new Error(PREFIX + "mount() needs a CSS selector or a DOM element.");
      }
      this.node = node;
      this.root = el("div", { "data-sandbox-checkout": "", "aria-busy": "true" }, css.root, [
        el("p", { "data-sandbox-banner": "", role: "note", text: "Stripe sandbox — development stand-in, no real payment" }, css.banner),
        el("p", { "data-sandbox-loading": "", text: "Loading checkout…" }, css.message),
      ]);
      node.appendChild(this.root);
      this.state = "mounted";
      const gen = ++this.generation;
      this.load(gen);
    }

    unmount() {
      if (this.state !== "mounted") return;
      this.generation++;
      if (this.root && this.root.parentNode) this.root.parentNode.removeChild(this.root);
      this.root = null;
      this.node = null;
      this.state = "ready";
    }

    destroy() {
      if (this.state === "destroyed") return;
      this.unmount();
      this.state = "destroyed";
      if (active === this) active = null;
    }

    current(gen) {
      return this.state === "mounted" && this.generation === gen;
    }

    showFatal(gen, message) {
      if (!this.current(gen)) return;
      this.root.setAttribute("aria-busy", "false");
      this.root.replaceChildren(
        this.root.firstChild, // the banner
        el("p", { "data-sandbox-error": "", role: "alert", text: message }, css.error),
      );
    }

    async load(gen) {
      let secret;
      try {
        secret = await this.getClientSecret();
      } catch (err) {
        this.showFatal(gen, "Checkout could not start: " + errorMessage(err));
        return;
      }
      if (typeof secret !== "string" || !secret.includes("_secret_")) {
        this.showFatal(gen, "Checkout could not start: fetchClientSecret() did not return a Checkout Session client secret.");
        return;
      }
      let res, data;
      try {
        res = await fetch(BASE + "/_sandbox/checkout?client_secret=" + encodeURIComponent(secret), {
          cache: "no-store",
        });
        data = await res.json();
      } catch (err) {
        this.showFatal(gen, "Could not reach the Stripe sandbox at " + BASE + ". Is it running?");
        return;
      }
      if (!res.ok) {
        const msg = data && data.error && data.error.message;
        this.showFatal(gen, "Checkout could not start: " + (msg || "the sandbox answered HTTP " + res.status + "."));
        return;
      }
      if (data.status !== "open") {
        this.showFatal(
          gen,
          data.status === "complete"
            ? "This checkout is already complete."
            : "This checkout session has expired. Please start again.",
        );
        return;
      }
      if (!this.current(gen)) return;
      this.render(gen, secret, data);
    }

    render(gen, secret, data) {
      const locale = this.locale || (data.locale && data.locale !== "auto" ? data.locale : undefined);
      const money = (amount) => formatAmount(amount, data.currency, locale);
      const total = money(data.amount_total);

      const items = el("ul", { "data-sandbox-line-items": "" }, css.list);
      for (const item of data.line_items || []) {
        items.appendChild(
          el("li", { "data-sandbox-line-item": "" }, css.row, [
            el("span", { text: item.description + (item.quantity > 1 ? " × " + item.quantity : "") }),
            el("span", { text: money(item.amount_total) }),
          ]),
        );
      }

      const field = (label, name, attrs, style) => {
        const id = "sandbox-checkout-" + name + "-" + gen;
        const input = el("input", Object.assign({ id, name }, attrs), css.input);
        const wrap = el("div", {}, style, [el("label", { for: id, text: label }, css.label), input]);
        return { input, wrap };
      };
      const email = field("Email", "email", {
        type: "email",
        autocomplete: "email",
        required: true,
        value: data.customer_email || "",
        readOnly: Boolean(data.customer_email),
      });
      const card = field("Card number", "card_number", {
        type: "text",
        inputmode: "numeric",
        autocomplete: "cc-number",
        required: true,
        value: "4242 4242 4242 4242",
      });
      const exp = field("Expiry", "exp", {
        type: "text",
        inputmode: "numeric",
        autocomplete: "cc-exp",
        placeholder: "MM / YY",
        required: true,
        value: "12 / 34",
      }, css.splitCell);
      const cvc = field("CVC", "cvc", {
        type: "text",
        inputmode: "numeric",
        autocomplete: "cc-csc",
        required: true,
        value: "123",
      }, css.splitCell);
      const inputs = { email: email.input, card_number: card.input, exp: exp.input, cvc: cvc.input };
      // A delayed-notification payment method (like SEPA Debit): the session completes
      // unpaid and settles later through POST /_sandbox/sessions/{id}/async.
      const delayed = el("input", { type: "checkbox", name: "delayed", "data-sandbox-delayed": "" }, null);
      const delayedWrap = el("label", {}, css.hint, [
        delayed,
        el("span", { text: " Pay with a delayed method (sandbox: settle later with /_sandbox/sessions/{id}/async)" }),
      ]);
      // saved_payment_method_options[payment_method_save]=enabled: offer to save the card.
      const save = data.save_payment_method
        ? el("input", { type: "checkbox", name: "save_payment_method", "data-sandbox-save": "" }, null)
        : null;
      const saveWrap = save ? el("label", {}, css.hint, [save, el("span", { text: " Save card for future purchases" })]) : null;
      delayed.addEventListener("change", () => {
        for (const name of ["card_number", "exp", "cvc"]) inputs[name].disabled = delayed.checked;
      });

      const error = el("div", { "data-sandbox-error": "", role: "alert", "aria-live": "assertive" }, css.error);
      const payLabel = "Pay " + total;
      const button = el("button", { type: "submit", "data-sandbox-pay": "", text: payLabel }, css.button);
      const form = el("form", { "data-sandbox-form": "", noValidate: true }, null, [
        email.wrap,
        card.wrap,
        el("div", {}, css.split, [exp.wrap, cvc.wrap]),
        el("p", {
          text: "Test cards: 4242 4242 4242 4242 succeeds; 4000 0000 0000 0002 is declined. Any future expiry and any CVC.",
        }, css.hint),
        ...(saveWrap ? [saveWrap] : []),
        delayedWrap,
        error,
        button,
      ]);

      const showError = (message, param) => {
        error.textContent = message;
        for (const [name, input] of Object.entries(inputs)) {
          if (name === param) input.setAttribute("aria-invalid", "true");
          else input.removeAttribute("aria-invalid");
        }
        if (param && inputs[param]) inputs[param].focus();
      };
      const setBusy = (busy) => {
        button.disabled = busy;
        button.textContent = busy ? "Processing…" : payLabel;
        button.style.opacity = busy ? "0.7" : "1";
        button.style.cursor = busy ? "progress" : "pointer";
      };

      form.addEventListener("submit", async (event) => {
        event.preventDefault();
        if (button.disabled || !this.current(gen)) return;
        setBusy(true);
        showError("", null);
        let res, body;
        try {
          res = await fetch(BASE + "/_sandbox/checkout/pay", {
            method: "POST",
            headers: { "Content-Type": "application/json" },
            body: JSON.stringify(
              delayed.checked
                ? { client_secret: secret, email: inputs.email.value, method: "delayed" }
                : {
                    client_secret: secret,
                    email: inputs.email.value,
                    card_number: inputs.card_number.value,
                    exp: inputs.exp.value,
                    cvc: inputs.cvc.value,
                    save_payment_method: Boolean(save && save.checked),
                  },
            ),
          });
          body = await res.json();
        } catch (err) {
          if (this.current(gen)) {
            setBusy(false);
            showError("Could not reach the Stripe sandbox at " + BASE + ". Is it running?", null);
          }
          return;
        }
        if (!this.current(gen)) return;
        if (!res.ok) {
          const e = (body && body.error) || {};
          setBusy(false);
          showError(e.message || "Payment failed (HTTP " + res.status + ").", e.param === "card_number" && res.status === 402 ? null : e.param);
          if (e.code === "checkout_session_expired" || e.code === "checkout_session_complete") {
            button.disabled = true;
          }
          return;
        }
        this.root.replaceChildren(
          this.root.firstChild,
          el("p", {
            "data-sandbox-complete": "",
            role: "status",
            text: body.payment_status === "unpaid" && delayed.checked ? "Payment submitted; it is processing. Thank you!" : "Payment complete. Thank you!",
          }, css.message),
        );
        if (typeof this.onComplete === "function") {
          try {
            this.onComplete();
          } catch (err) {
            console.error(PREFIX + "onComplete threw", err);
          }
        } else if (body.return_url) {
          try {
            window.top.location.assign(body.return_url);
          } catch (_) {
            window.location.assign(body.return_url);
          }
        }
      });

      this.root.setAttribute("aria-busy", "false");
      this.root.replaceChildren(
        this.root.firstChild,
        items,
        el("div", { "data-sandbox-total": "" }, css.total, [el("span", { text: "Total" }), el("span", { text: total })]),
        form,
      );
    }
  }

  function unsupported(name) {
    return function () {
      throw new Error(PREFIX + name + "() is not implemented by the development stand-in; only initEmbeddedCheckout() is.");
    };
  }

  function Stripe(publishableKey, options) {
    if (typeof publishableKey !== "string" || publishableKey === "") {
      throw new Error(PREFIX + "Stripe() needs a publishable key (pk_test_...).");
    }
    if (/^(sk|rk)_/.test(publishableKey)) {
      throw new Error(PREFIX + "you should not use your secret key with Stripe.js; pass a publishable key (pk_test_...).");
    }
    if (/^pk_live_/.test(publishableKey)) {
      console.warn(PREFIX + "a live publishable key was given to the development stand-in; no real payment will happen.");
    }
    const locale = options && typeof options.locale === "string" && options.locale !== "auto" ? options.locale : undefined;

    return {
      _sandbox: true,
      initEmbeddedCheckout(opts) {
        return new Promise((resolve) => {
          if (!opts || typeof opts !== "object") {
            throw new Error(PREFIX + "initEmbeddedCheckout() needs an options object with fetchClientSecret.");
          }
          if (typeof opts.fetchClientSecret !== "function" && typeof opts.clientSecret !== "string") {
            throw new Error(PREFIX + "initEmbeddedCheckout() needs fetchClientSecret, a function returning a Promise of the client secret.");
          }
          if (opts.onComplete !== undefined && typeof opts.onComplete !== "function") {
            throw new Error(PREFIX + "onComplete must be a function.");
          }
          if (active) {
            throw new Error(
              PREFIX + "only one embedded checkout is allowed at a time; call destroy() on the existing one before creating another.",
            );
          }
          const checkout = new EmbeddedCheckout(opts, locale);
          active = checkout;
          resolve({
            mount: (target) => checkout.mount(target),
            unmount: () => checkout.unmount(),
            destroy: () => checkout.destroy(),
          });
        });
      },
      elements: unsupported("elements"),
      initCheckout: unsupported("initCheckout"),
      redirectToCheckout: unsupported("redirectToCheckout"),
      confirmPayment: unsupported("confirmPayment"),
    };
  }

  Stripe.version = "sandbox";
  Stripe.sandboxBase = BASE;
  window.Stripe = Stripe;
  console.info(PREFIX + "using the development stand-in for Stripe.js from " + BASE + " (no real payments).");
})();
