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
 *   // Deferred-intent Elements, finalizing payments on the server:
 *   const elements = stripe.elements({ mode: "payment", amount: 1099, currency: "usd",
 *                                      captureMethod: "manual", paymentMethodCreation: "manual" });
 *   elements.create("payment").mount("#payment-element");  // card inputs: input[name=cardnumber]
 *                                                          // (default 4242...), [name=exp-date], [name=cvc]
 *   const { error } = await elements.submit();             // {error:{type:"validation_error",code,message}}
 *   const { confirmationToken } = await stripe.createConfirmationToken({ elements, params: { return_url } });
 *     // POST <sandbox>/v1/confirmation_tokens with the publishable key, as Stripe.js does
 *   const { paymentIntent, error } = await stripe.handleNextAction({ clientSecret });
 *     // 3D Secure: a modal overlay [data-sandbox-3ds-overlay] with the buttons
 *     // [data-sandbox-3ds-complete] "Complete authentication" and [data-sandbox-3ds-fail];
 *     // window.__stripeSandbox = { threeDS: "complete" | "fail" } answers without it.
 *   const { paymentIntent } = await stripe.retrievePaymentIntent(clientSecret);
 *
 * Misuse (missing options, createConfirmationToken before a successful submit)
 * throws an IntegrationError, as Stripe.js does.
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

    // goodsSection builds what the session asks besides the card (sandbox
    // goods.go): shipping address and rate, phone, custom fields, tax ID,
    // the billing country automatic tax needs, terms, and custom text. Its
    // inputs join `inputs` under the names the sandbox's errors use as param.
    goodsSection(gen, data, money, field, inputs) {
      const g = data.goods || {};
      const text = g.text || {};
      const nodes = [], beforePay = [], afterPay = [];
      let totalListener = () => {};
      const note = (message, attr) => el("p", { [attr]: "", text: message }, css.hint);
      const select = (label, name, options, attrs) => {
        const id = "sandbox-checkout-" + name.replace(/\W/g, "-") + "-" + gen;
        const s = el("select", Object.assign({ id, name }, attrs || {}), css.input,
          options.map((o) => el("option", { value: o.value, text: o.label })));
        inputs[name] = s;
        return { input: s, wrap: el("div", {}, null, [el("label", { for: id, text: label }, css.label), s]) };
      };
      const ship = {};
      let rates = null;
      if (g.shipping) {
        nodes.push(el("h3", { text: "Shipping address" }, css.label));
        if (text.shipping_address) nodes.push(note(text.shipping_address, "data-sandbox-shipping-text"));
        // Prefilled with a test address, as the card is with a test card.
        for (const [key, label, ac, test] of [["name", "Full name", "name", "Jenny Rosen"], ["line1", "Address", "address-line1", "354 Oyster Point Blvd"],
          ["line2", "Apartment, suite (optional)", "address-line2", ""], ["city", "City", "address-level2", "South San Francisco"],
          ["state", "State / region", "address-level1", "CA"], ["postal_code", "Postal code", "postal-code", "94080"]]) {
          const f = field(label, "shipping[" + key + "]", { type: "text", autocomplete: "shipping " + ac, required: key !== "line2" && key !== "state", value: test });
          inputs["shipping[" + key + "]"] = f.input;
          ship[key] = f.input;
          nodes.push(f.wrap);
        }
        const country = select("Country", "shipping[country]", g.shipping.countries.map((c) => ({ value: c, label: c })), { autocomplete: "shipping country" });
        if (g.shipping.countries.includes("US")) country.input.value = "US"; // the test address's
        ship.country = country.input;
        nodes.push(country.wrap);
        if (g.shipping.options.length) {
          const fieldset = el("fieldset", { "data-sandbox-shipping-rates": "" }, { border: "0", padding: "0", margin: "10px 0 0" },
            [el("legend", { text: "Shipping method" }, css.label)]);
          rates = [];
          g.shipping.options.forEach((o, i) => {
            const id = "sandbox-rate-" + i + "-" + gen;
            const radio = el("input", { type: "radio", name: "shipping_rate", id, value: o.id, checked: i === 0 }, null);
            radio.addEventListener("change", () => totalListener(o.amount));
            rates.push(radio);
            fieldset.appendChild(el("div", {}, css.row, [
              el("label", { for: id }, null, [radio, el("span", { text: " " + o.display_name })]),
              el("span", { text: money(o.amount) }),
            ]));
          });
          inputs.shipping_rate = rates[0];
          nodes.push(fieldset);
        }
      }
      if (g.phone) {
        const f = field("Phone number", "phone", { type: "tel", autocomplete: "tel", required: true });
        inputs.phone = f.input;
        nodes.push(f.wrap);
      }
      const custom = {};
      for (const cf of g.custom_fields || []) {
        const name = "custom_fields[" + cf.key + "]";
        const label = cf.label + (cf.optional ? " (optional)" : "");
        if (cf.type === "dropdown") {
          const s = select(label, name, [{ value: "", label: "Choose…" }].concat(cf.options), { required: !cf.optional });
          custom[cf.key] = s.input;
          nodes.push(s.wrap);
        } else {
          const f = field(label, name, { type: "text", inputmode: cf.type === "numeric" ? "numeric" : "text", required: !cf.optional });
          inputs[name] = f.input;
          custom[cf.key] = f.input;
          nodes.push(f.wrap);
        }
      }
      let billing = null;
      if (g.tax && !g.shipping) {
        const f = field("Country (for tax)", "billing_country", { type: "text", autocomplete: "country", required: true, maxLength: 2 });
        inputs.billing_country = billing = f.input;
        nodes.push(f.wrap);
      }
      let taxId = null;
      if (g.tax_id) {
        const f = field("Tax ID (businesses, optional), e.g. DE123456789", "tax_id", { type: "text" });
        taxId = f.input;
        nodes.push(f.wrap);
      }
      let terms = null;
      if (g.terms) {
        terms = el("input", { type: "checkbox", name: "terms_accepted", "data-sandbox-terms": "" }, null);
        inputs.terms_accepted = terms;
        beforePay.push(el("label", {}, css.hint, [terms, el("span", { text: " " + (text.terms_of_service_acceptance || "I agree to the Terms of Service") })]));
      }
      if (text.submit) beforePay.push(note(text.submit, "data-sandbox-submit-text"));
      if (text.after_submit) afterPay.push(note(text.after_submit, "data-sandbox-after-submit-text"));
      return {
        nodes, beforePay, afterPay,
        onTotal(listener) {
          totalListener = listener;
          if (g.shipping && g.shipping.options.length) listener(g.shipping.options[0].amount);
        },
        values() {
          const out = {};
          if (g.shipping) {
            out.shipping = {};
            for (const [k, input] of Object.entries(ship)) out.shipping[k] = input.value;
            if (rates) out.shipping_rate = (rates.find((r) => r.checked) || rates[0]).value;
          }
          if (inputs.phone) out.phone = inputs.phone.value;
          out.custom_fields = {};
          for (const [k, input] of Object.entries(custom)) out.custom_fields[k] = input.value;
          if (billing) out.billing_country = billing.value;
          if (taxId && taxId.value.trim()) out.tax_id = { type: /^[A-Z]{2}/i.test(taxId.value.trim()) ? "eu_vat" : "us_ein", value: taxId.value };
          if (terms) out.terms_accepted = terms.checked;
          return out;
        },
      };
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
      const goods = this.goodsSection(gen, data, money, field, inputs);
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
      let payLabel = "Pay " + total;
      const button = el("button", { type: "submit", "data-sandbox-pay": "", text: payLabel }, css.button);
      const form = el("form", { "data-sandbox-form": "", noValidate: true }, null, [
        email.wrap,
        ...goods.nodes,
        card.wrap,
        el("div", {}, css.split, [exp.wrap, cvc.wrap]),
        el("p", {
          text: "Test cards: 4242 4242 4242 4242 succeeds; 4000 0000 0000 0002 is declined. Any future expiry and any CVC.",
        }, css.hint),
        ...(saveWrap ? [saveWrap] : []),
        delayedWrap,
        ...goods.beforePay,
        error,
        button,
        ...goods.afterPay,
      ]);
      // The chosen shipping rate changes what is due (tax is added at payment).
      const totalNode = el("span", { text: total });
      goods.onTotal((extra) => {
        const t = money(data.amount_total + extra) + (data.goods && data.goods.tax ? " + tax" : "");
        totalNode.textContent = t;
        payLabel = "Pay " + t;
        if (!button.disabled) button.textContent = payLabel;
      });

      const showError = (message, param) => {
        error.textContent = message;
        for (const [name, input] of Object.entries(inputs)) {
          if (!input.setAttribute) continue;
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
            body: JSON.stringify(Object.assign(
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
              goods.values(),
            )),
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
        el("div", { "data-sandbox-total": "" }, css.total, [el("span", { text: "Total" }), totalNode]),
        form,
      );
    }
  }

  // ---------------------------------------------------------------------------
  // Elements in deferred-intent mode: stripe.elements({mode, amount, currency, ...}),
  // elements.create("payment").mount(selector), elements.submit(),
  // stripe.createConfirmationToken({elements, params}), stripe.handleNextAction({clientSecret}).

  class IntegrationError extends Error {
    constructor(message) {
      super(PREFIX + message);
      this.name = "IntegrationError";
    }
  }

  function resolveTarget(target, who) {
    if (typeof target === "string") {
      let node;
      try {
        node = document.querySelector(target);
      } catch (err) {
        throw new IntegrationError(who + " was given an invalid selector " + JSON.stringify(target) + ": " + errorMessage(err));
      }
      if (!node) throw new IntegrationError(who + " found no element matching " + JSON.stringify(target) + ".");
      return node;
    }
    if (!target || target.nodeType !== 1) throw new IntegrationError(who + " needs a CSS selector or a DOM element.");
    return target;
  }

  // Client-side checks of the card fields, with Stripe.js's codes and messages.
  function validateCard(number, exp, cvc) {
    const digits = String(number).replace(/[\s-]/g, "");
    if (digits === "") return { code: "incomplete_number", message: "Your card number is incomplete.", field: "cardnumber" };
    if (!/^\d+$/.test(digits)) return { code: "invalid_number", message: "Your card number is invalid.", field: "cardnumber" };
    if (digits.length < 13) return { code: "incomplete_number", message: "Your card number is incomplete.", field: "cardnumber" };
    let sum = 0;
    for (let i = 0; i < digits.length; i++) {
      let d = Number(digits[digits.length - 1 - i]);
      if (i % 2 === 1) {
        d *= 2;
        if (d > 9) d -= 9;
      }
      sum += d;
    }
    if (digits.length > 19 || sum % 10 !== 0) return { code: "invalid_number", message: "Your card number is invalid.", field: "cardnumber" };
    const m = /^\s*(\d{1,2})\s*\/?\s*(\d{2}|\d{4})\s*$/.exec(String(exp));
    if (!m) return { code: "incomplete_expiry", message: "Your card's expiration date is incomplete.", field: "exp-date" };
    const month = Number(m[1]);
    const year = m[2].length === 2 ? 2000 + Number(m[2]) : Number(m[2]);
    if (month < 1 || month > 12) return { code: "invalid_expiry_month", message: "Your card's expiration date is invalid.", field: "exp-date" };
    const now = new Date();
    if (year < now.getFullYear() || (year === now.getFullYear() && month < now.getMonth() + 1)) {
      return { code: "invalid_expiry_year_past", message: "Your card's expiration year is in the past.", field: "exp-date" };
    }
    if (!/^\d{3,4}$/.test(String(cvc).trim())) return { code: "incomplete_cvc", message: "Your card's security code is incomplete.", field: "cvc" };
    return { card: { number: digits, exp_month: String(month), exp_year: String(year), cvc: String(cvc).trim() } };
  }

  class PaymentElement {
    constructor(elements, options) {
      this.elements = elements;
      this.options = options || {};
      this.state = "created"; // created | mounted | destroyed
      this.root = null;
      this.inputs = null;
      this.errorNode = null;
      this.handlers = {};
    }

    on(event, handler) {
      (this.handlers[event] = this.handlers[event] || []).push(handler);
      return this;
    }

    off(event, handler) {
      this.handlers[event] = (this.handlers[event] || []).filter((h) => h !== handler);
      return this;
    }

    once(event, handler) {
      const wrap = (e) => {
        this.off(event, wrap);
        handler(e);
      };
      return this.on(event, wrap);
    }

    emit(event, payload) {
      for (const h of (this.handlers[event] || []).slice()) {
        try {
          h(payload);
        } catch (err) {
          console.error(PREFIX + "a " + event + " handler threw", err);
        }
      }
    }

    mount(target) {
      if (this.state === "destroyed") throw new IntegrationError("this Payment Element was destroyed; create another.");
      if (this.state === "mounted") throw new IntegrationError("this Payment Element is already mounted; call unmount() first.");
      const node = resolveTarget(target, "paymentElement.mount()");
      const field = (label, name, attrs) => {
        const id = "sandbox-pe-" + name + "-" + Math.random().toString(36).slice(2, 8);
        const input = el("input", Object.assign({ id, name, type: "text", inputmode: "numeric", required: true }, attrs), css.input);
        return { input, wrap: el("div", {}, css.splitCell, [el("label", { for: id, text: label }, css.label), input]) };
      };
      const number = field("Card number", "cardnumber", { autocomplete: "cc-number", value: "4242 4242 4242 4242" });
      const exp = field("Expiry", "exp-date", { autocomplete: "cc-exp", placeholder: "MM / YY", value: "12 / 34" });
      const cvc = field("CVC", "cvc", { autocomplete: "cc-csc", value: "123" });
      this.inputs = { cardnumber: number.input, "exp-date": exp.input, cvc: cvc.input };
      this.errorNode = el("div", { "data-sandbox-element-error": "", role: "alert", "aria-live": "assertive" }, css.error);
      this.root = el("div", { "data-sandbox-payment-element": "" }, css.root, [
        el("p", { "data-sandbox-banner": "", role: "note", text: "Stripe sandbox — Payment Element stand-in, no real payment" }, css.banner),
        number.wrap,
        el("div", {}, css.split, [exp.wrap, cvc.wrap]),
        el("p", {
          text: "Test cards: 4242 4242 4242 4242 succeeds; 5105 1051 0510 5100 is prepaid; 4000 0007 6000 0002 is issued in Brazil; 4000 0025 0000 3155 asks for authentication; 4000 0000 0000 9995 is declined.",
        }, css.hint),
        this.errorNode,
      ]);
      for (const input of Object.values(this.inputs)) {
        input.addEventListener("input", () => {
          this.elements.submitted = false;
          this.showError(null);
          const v = this.value();
          this.emit("change", { elementType: "payment", empty: v.empty, complete: v.complete, collapsed: false, value: { type: "card" } });
        });
        input.addEventListener("focus", () => this.emit("focus", { elementType: "payment" }));
        input.addEventListener("blur", () => this.emit("blur", { elementType: "payment" }));
      }
      node.appendChild(this.root);
      this.state = "mounted";
      this.elements.submitted = false;
      setTimeout(() => {
        if (this.state === "mounted") this.emit("ready", { elementType: "payment" });
      }, 0);
    }

    value() {
      const check = validateCard(this.inputs.cardnumber.value, this.inputs["exp-date"].value, this.inputs.cvc.value);
      const empty = Object.values(this.inputs).every((i) => i.value.trim() === "");
      return { empty, complete: Boolean(check.card), check };
    }

    showError(err) {
      if (!this.errorNode) return;
      this.errorNode.textContent = err ? err.message : "";
      for (const [name, input] of Object.entries(this.inputs)) {
        if (err && err.field === name) input.setAttribute("aria-invalid", "true");
        else input.removeAttribute("aria-invalid");
      }
    }

    update(options) {
      Object.assign(this.options, options || {});
    }

    focus() {
      if (this.inputs) this.inputs.cardnumber.focus();
    }

    blur() {
      if (this.inputs && document.activeElement && Object.values(this.inputs).includes(document.activeElement)) {
        document.activeElement.blur();
      }
    }

    clear() {
      if (!this.inputs) return;
      for (const input of Object.values(this.inputs)) input.value = "";
      this.elements.submitted = false;
    }

    collapse() {}

    unmount() {
      if (this.state !== "mounted") return;
      if (this.root && this.root.parentNode) this.root.parentNode.removeChild(this.root);
      this.root = null;
      this.inputs = null;
      this.errorNode = null;
      this.state = "created";
      this.elements.submitted = false;
    }

    destroy() {
      this.unmount();
      this.state = "destroyed";
      if (this.elements.payment === this) this.elements.payment = null;
    }
  }

  // The Address Element in shipping mode: elements.create("address",
  // {mode: "shipping", allowedCountries, fields: {phone: "always"}}). Its value
  // goes into the ConfirmationToken's shipping, as Stripe.js does. Prefilled
  // with a test address, as the Payment Element is with a test card.
  class AddressElement {
    constructor(elements, options) {
      const o = options || {};
      if (o.mode !== "shipping" && o.mode !== "billing") {
        throw new IntegrationError("elements.create('address') needs mode: 'shipping' or 'billing'.");
      }
      if (o.allowedCountries !== undefined && (!Array.isArray(o.allowedCountries) || !o.allowedCountries.every((c) => /^[A-Z]{2}$/.test(c)))) {
        throw new IntegrationError("allowedCountries must be a list of two-letter country codes such as 'US'.");
      }
      this.elements = elements;
      this.options = o;
      this.state = "created";
      this.root = null;
      this.inputs = null;
      this.errorNode = null;
    }

    mount(target) {
      if (this.state === "destroyed") throw new IntegrationError("this Address Element was destroyed; create another.");
      if (this.state === "mounted") throw new IntegrationError("this Address Element is already mounted; call unmount() first.");
      const node = resolveTarget(target, "addressElement.mount()");
      const o = this.options;
      const countries = o.allowedCountries || ["US"];
      const phone = o.fields && o.fields.phone === "always";
      const field = (label, name, value, attrs) => {
        const id = "sandbox-ae-" + name + "-" + Math.random().toString(36).slice(2, 8);
        const input = el("input", Object.assign({ id, name, type: "text", value }, attrs || {}), css.input);
        return { input, wrap: el("div", {}, null, [el("label", { for: id, text: label }, css.label), input]) };
      };
      const id = "sandbox-ae-country-" + Math.random().toString(36).slice(2, 8);
      const country = el("select", { id, name: "country", autocomplete: "shipping country" }, css.input,
        countries.map((c) => el("option", { value: c, text: c })));
      if (countries.includes("US")) country.value = "US";
      const parts = [
        field("Full name", "name", "Jenny Rosen", { autocomplete: "shipping name" }),
        field("Address", "line1", "354 Oyster Point Blvd", { autocomplete: "shipping address-line1" }),
        field("Apartment, suite (optional)", "line2", "", { autocomplete: "shipping address-line2" }),
        field("City", "city", "South San Francisco", { autocomplete: "shipping address-level2" }),
        field("State / region", "state", "CA", { autocomplete: "shipping address-level1" }),
        field("Postal code", "postal_code", "94080", { autocomplete: "shipping postal-code" }),
      ];
      if (phone) parts.push(field("Phone number", "phone", "+1 555 555 0100", { type: "tel", autocomplete: "shipping tel" }));
      this.inputs = { country };
      for (const p of parts) this.inputs[p.input.name] = p.input;
      for (const input of Object.values(this.inputs)) input.addEventListener("input", () => (this.elements.submitted = false));
      this.errorNode = el("div", { "data-sandbox-element-error": "", role: "alert", "aria-live": "assertive" }, css.error);
      this.root = el("div", { "data-sandbox-address-element": "" }, css.root, [
        el("p", { "data-sandbox-banner": "", role: "note", text: "Stripe sandbox — Address Element stand-in (" + o.mode + ")" }, css.banner),
        ...parts.slice(0, 6).map((p) => p.wrap),
        el("div", {}, null, [el("label", { for: id, text: "Country" }, css.label), country]),
        ...parts.slice(6).map((p) => p.wrap),
        this.errorNode,
      ]);
      node.appendChild(this.root);
      this.state = "mounted";
      this.elements.submitted = false;
    }

    // value is Stripe.js's getValue() answer, and the first missing field.
    value() {
      const v = {};
      for (const [k, input] of Object.entries(this.inputs || {})) v[k] = input.value.trim();
      const missing = ["name", "line1", "city", "postal_code", "country"].concat(this.inputs && this.inputs.phone ? ["phone"] : []).find((k) => !v[k]);
      const value = { name: v.name, address: { line1: v.line1, line2: v.line2 || null, city: v.city, state: v.state || null, postal_code: v.postal_code, country: v.country } };
      if (this.inputs && this.inputs.phone) value.phone = v.phone.replace(/\s+/g, "");
      return { complete: !missing, isNewAddress: true, value, missing };
    }

    getValue() {
      if (this.state !== "mounted") return Promise.reject(new IntegrationError("getValue() needs a mounted Address Element."));
      const { complete, isNewAddress, value } = this.value();
      return Promise.resolve({ complete, isNewAddress, value });
    }

    showError(message, field) {
      if (!this.errorNode) return;
      this.errorNode.textContent = message || "";
      for (const [name, input] of Object.entries(this.inputs || {})) {
        if (message && name === field) input.setAttribute("aria-invalid", "true");
        else input.removeAttribute("aria-invalid");
      }
      if (message && this.inputs[field]) this.inputs[field].focus();
    }

    on() {
      return this;
    }

    unmount() {
      if (this.state !== "mounted") return;
      if (this.root && this.root.parentNode) this.root.parentNode.removeChild(this.root);
      this.root = this.inputs = this.errorNode = null;
      this.state = "created";
      this.elements.submitted = false;
    }

    destroy() {
      this.unmount();
      this.state = "destroyed";
      if (this.elements.address === this) this.elements.address = null;
    }
  }

  const MODES = ["payment", "setup", "subscription"];
  const CAPTURE_METHODS = ["automatic", "automatic_async", "manual"];

  class Elements {
    constructor(stripe, options) {
      this.stripe = stripe;
      this.options = {};
      this.payment = null;
      this.address = null;
      this.submitted = false;
      this.update(options || {}, true);
    }

    update(options, initial) {
      const o = Object.assign({}, this.options, options || {});
      if (!o.clientSecret) {
        if (!MODES.includes(o.mode)) {
          throw new IntegrationError("elements() needs mode: 'payment', 'setup' or 'subscription' (or a clientSecret).");
        }
        if (typeof o.currency !== "string" || !/^[a-zA-Z]{3}$/.test(o.currency)) {
          throw new IntegrationError("elements() in mode '" + o.mode + "' needs currency, a three-letter ISO code such as 'usd'.");
        }
        if (o.mode !== "setup" && !(Number.isInteger(o.amount) && o.amount >= 0)) {
          throw new IntegrationError("elements() in mode '" + o.mode + "' needs amount, a non-negative integer in the currency's minor unit.");
        }
      }
      if (o.captureMethod !== undefined && !CAPTURE_METHODS.includes(o.captureMethod)) {
        throw new IntegrationError("captureMethod must be one of " + CAPTURE_METHODS.join(", ") + ".");
      }
      if (o.paymentMethodCreation !== undefined && o.paymentMethodCreation !== "manual") {
        throw new IntegrationError("paymentMethodCreation must be 'manual'.");
      }
      if (o.setupFutureUsage !== undefined && !["on_session", "off_session", null].includes(o.setupFutureUsage)) {
        throw new IntegrationError("setupFutureUsage must be 'on_session' or 'off_session'.");
      }
      this.options = o;
      if (!initial) this.submitted = false;
    }

    create(type, options) {
      if (type === "address") {
        if (this.address) throw new IntegrationError("this Elements group already has an Address Element.");
        this.address = new AddressElement(this, options);
        return this.address;
      }
      if (type !== "payment") {
        throw new IntegrationError("elements.create(" + JSON.stringify(type) + ") is not implemented by the stand-in; only 'payment' and 'address' are.");
      }
      if (this.payment) throw new IntegrationError("this Elements group already has a Payment Element.");
      this.payment = new PaymentElement(this, options);
      return this.payment;
    }

    getElement(type) {
      return type === "payment" ? this.payment : type === "address" ? this.address : null;
    }

    fetchUpdates() {
      return Promise.resolve({});
    }

    // submit validates the Payment Element, as Stripe.js does before
    // createConfirmationToken: {} or {error:{type:"validation_error",code,message}}.
    submit() {
      return Promise.resolve().then(() => {
        const pe = this.payment;
        if (!pe || pe.state !== "mounted") {
          throw new IntegrationError("elements.submit() needs a mounted Payment Element.");
        }
        const { check } = pe.value();
        if (!check.card) {
          pe.showError(check);
          this.submitted = false;
          return { error: { type: "validation_error", code: check.code, message: check.message } };
        }
        pe.showError(null);
        const ae = this.address;
        if (ae && ae.state === "mounted") {
          const { missing } = ae.value();
          if (missing) {
            ae.showError("Your address is incomplete.", missing);
            this.submitted = false;
            return { error: { type: "validation_error", code: "incomplete_address", message: "Your address is incomplete." } };
          }
          ae.showError(null);
        }
        this.submitted = true;
        return {};
      });
    }
  }

  // stripeRequest calls the sandbox's /v1 API with the publishable key, as
  // Stripe.js calls api.stripe.com.
  async function stripeRequest(key, method, path, form) {
    const init = { method, headers: { Authorization: "Bearer " + key }, cache: "no-store" };
    if (form) {
      init.headers["Content-Type"] = "application/x-www-form-urlencoded";
      init.body = new URLSearchParams(form).toString();
    }
    let res, body;
    try {
      res = await fetch(BASE + path, init);
      body = await res.json();
    } catch (err) {
      return { error: { type: "api_connection_error", message: "Could not reach the Stripe sandbox at " + BASE + ". Is it running?" } };
    }
    if (!res.ok) return { error: (body && body.error) || { type: "api_error", message: "HTTP " + res.status } };
    return { body };
  }

  // flatten turns {a:{b:1}} into {"prefix[a][b]": "1"}, Stripe's form encoding.
  function flatten(prefix, value, out) {
    if (value === undefined || value === null) return out;
    if (typeof value === "object") {
      for (const [k, v] of Object.entries(value)) flatten(prefix + "[" + k + "]", v, out);
    } else {
      out[prefix] = String(value);
    }
    return out;
  }

  async function createConfirmationToken(key, opts) {
    if (!opts || !(opts.elements instanceof Elements)) {
      throw new IntegrationError("createConfirmationToken() needs {elements}, the Elements group with the mounted Payment Element.");
    }
    const elements = opts.elements;
    if (!elements.submitted) {
      throw new IntegrationError("elements.submit() must be called (and succeed) before stripe.createConfirmationToken().");
    }
    const pe = elements.payment;
    const { check } = pe.value();
    if (!check.card) return { error: { type: "validation_error", code: check.code, message: check.message } };
    const params = opts.params || {};
    const form = {
      "payment_method_data[type]": "card",
      "payment_method_data[card][number]": check.card.number,
      "payment_method_data[card][exp_month]": check.card.exp_month,
      "payment_method_data[card][exp_year]": check.card.exp_year,
      "payment_method_data[card][cvc]": check.card.cvc,
    };
    const pmd = params.payment_method_data || {};
    flatten("payment_method_data[billing_details]", pmd.billing_details, form);
    if (pmd.allow_redisplay) form["payment_method_data[allow_redisplay]"] = pmd.allow_redisplay;
    if (params.return_url) form.return_url = params.return_url;
    if (params.shipping) {
      flatten("shipping", params.shipping, form);
    } else if (elements.address && elements.address.state === "mounted" && elements.address.options.mode === "shipping") {
      // Stripe.js takes the shipping address from a mounted Address Element.
      const a = elements.address.value().value;
      flatten("shipping", { name: a.name, phone: a.phone, address: a.address }, form);
    }
    const o = elements.options;
    if (o.setupFutureUsage) form.setup_future_usage = o.setupFutureUsage;
    if (o.mode) form["client_context[mode]"] = o.mode;
    if (o.currency) form["client_context[currency]"] = o.currency.toLowerCase();
    if (o.captureMethod) form["client_context[capture_method]"] = o.captureMethod;
    if (o.paymentMethodCreation) form["client_context[payment_method_creation]"] = o.paymentMethodCreation;
    const r = await stripeRequest(key, "POST", "/v1/confirmation_tokens", form);
    if (r.error) {
      if (r.error.type === "card_error") pe.showError({ message: r.error.message, field: "cardnumber" });
      return { error: r.error };
    }
    return { confirmationToken: r.body };
  }

  function intentIdFromSecret(clientSecret) {
    const m = /^(pi_[A-Za-z0-9]+)_secret_[A-Za-z0-9]+$/.exec(String(clientSecret || ""));
    if (!m) throw new IntegrationError("expected a PaymentIntent client secret (pi_..._secret_...).");
    return m[1];
  }

  async function retrievePaymentIntent(key, clientSecret) {
    const id = intentIdFromSecret(clientSecret);
    const r = await stripeRequest(key, "GET", "/v1/payment_intents/" + id + "?client_secret=" + encodeURIComponent(clientSecret));
    return r.error ? { error: r.error } : { paymentIntent: r.body };
  }

  // The 3D Secure challenge: a modal overlay with "Complete authentication" and
  // "Fail authentication" buttons. Setting window.__stripeSandbox = {threeDS:
  // "complete"|"fail"} before handleNextAction answers it without the overlay.
  function challenge(pi) {
    const auto = window.__stripeSandbox && window.__stripeSandbox.threeDS;
    if (auto === "complete" || auto === "fail") return Promise.resolve(auto);
    return new Promise((resolve) => {
      const done = (outcome) => {
        overlay.remove();
        resolve(outcome);
      };
      const complete = el("button", { type: "button", "data-sandbox-3ds-complete": "", text: "Complete authentication" }, css.button);
      const fail = el("button", { type: "button", "data-sandbox-3ds-fail": "", text: "Fail authentication" },
        Object.assign({}, css.button, { background: "#ffffff", color: "#b42318", border: "1px solid #b42318" }));
      complete.addEventListener("click", () => done("complete"));
      fail.addEventListener("click", () => done("fail"));
      const dialog = el("div", { role: "dialog", "aria-modal": "true", "aria-label": "3D Secure authentication", "data-sandbox-3ds": "" },
        Object.assign({}, css.root, { position: "relative", margin: "10vh auto 0", boxShadow: "0 10px 40px rgba(0,0,0,0.3)" }), [
          el("p", { "data-sandbox-banner": "", role: "note", text: "Stripe sandbox — simulated 3D Secure challenge, no real bank" }, css.banner),
          el("p", { text: "Your bank asks you to confirm this payment of " + formatAmount(pi.amount, pi.currency) + "." }, css.message),
          complete,
          fail,
        ]);
      const overlay = el("div", { "data-sandbox-3ds-overlay": "" }, {
        position: "fixed", inset: "0", zIndex: "2147483647", background: "rgba(16,24,40,0.6)", overflow: "auto",
      }, [dialog]);
      document.body.appendChild(overlay);
      complete.focus();
    });
  }

  async function handleNextAction(key, opts) {
    if (!opts || typeof opts.clientSecret !== "string") {
      throw new IntegrationError("handleNextAction() needs {clientSecret}, the PaymentIntent's client secret.");
    }
    const id = intentIdFromSecret(opts.clientSecret);
    const got = await retrievePaymentIntent(key, opts.clientSecret);
    if (got.error) return got;
    let pi = got.paymentIntent;
    if (pi.status !== "requires_action") return { paymentIntent: pi };
    const outcome = await challenge(pi);
    let res, body;
    try {
      res = await fetch(BASE + "/_sandbox/payment_intents/" + encodeURIComponent(id) + "/authenticate", {
        method: "POST",
        headers: { "Content-Type": "application/json" },
        body: JSON.stringify({ client_secret: opts.clientSecret, outcome }),
      });
      body = await res.json();
    } catch (err) {
      return { error: { type: "api_connection_error", message: "Could not reach the Stripe sandbox at " + BASE + ". Is it running?" } };
    }
    if (!res.ok) return { error: (body && body.error) || { type: "api_error", message: "HTTP " + res.status } };
    pi = body;
    if (pi.status === "requires_payment_method" && pi.last_payment_error) {
      return { error: Object.assign({}, pi.last_payment_error, { payment_intent: pi }) };
    }
    return { paymentIntent: pi };
  }

  function unsupported(name) {
    return function () {
      throw new IntegrationError(
        name + "() is not implemented by the development stand-in; it has initEmbeddedCheckout, elements, createConfirmationToken, handleNextAction and retrievePaymentIntent.",
      );
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
      elements(opts) {
        return new Elements(this, opts);
      },
      createConfirmationToken(opts) {
        return Promise.resolve().then(() => createConfirmationToken(publishableKey, opts));
      },
      handleNextAction(opts) {
        return Promise.resolve().then(() => handleNextAction(publishableKey, opts));
      },
      retrievePaymentIntent(clientSecret) {
        return Promise.resolve().then(() => retrievePaymentIntent(publishableKey, clientSecret));
      },
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
