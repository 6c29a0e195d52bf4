// Browser tests of the pay page (site/pay.html): the Payment Element in
// deferred-intent mode (the sandbox's Stripe.js stand-in), a ConfirmationToken
// POSTed with the cart to /create-confirm-intent, 3D Secure through
// stripe.handleNextAction, declines, approval refusals.
//
//   BASE_URL=http://127.0.0.1:18787 SANDBOX_URL=http://127.0.0.1:18789 \
//     node --test scripts/e2e/payments.test.mjs
//
// Both must be running (go run ./scripts/stack) with the bundled catalog, the worker
// handing out the stand-in as Stripe.js. Chromium set-up: chromium.mjs.

import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import { launchChromium, requiredOrigin } from "./chromium.mjs";

const HINT =
  "These tests drive a running stack; start it and pass its origins, e.g.\n" +
  "  go run ./scripts/stack -- node --test scripts/e2e/payments.test.mjs";

const BASE_URL = requiredOrigin("BASE_URL", { hint: HINT });
const SANDBOX_URL = requiredOrigin("SANDBOX_URL", { hint: HINT });
const TEST_TIMEOUT = 60_000;
const STEP_TIMEOUT = 20_000;

// Stripe's test cards.
const CARD_OK = "4242424242424242";
const CARD_3DS = "4000002500003155";
const CARD_INSUFFICIENT = "4000000000009995";
const CARD_PREPAID = "5105105105105100"; // the bundled catalog's card rule refuses prepaid cards

// The browser logs failed fetches (the worker's 4xx answers) as console errors.
const HTTP_ERROR_LOG = /Failed to load resource: the server responded with a status of (402|409|422)/;

let browser;

async function getJSON(url, init) {
  const res = await fetch(url, init);
  const text = await res.text();
  let body;
  try {
    body = JSON.parse(text);
  } catch {
    body = text;
  }
  return { status: res.status, body };
}

/** A PaymentIntent as the sandbox holds it (read with the worker's secret key). */
async function sandboxIntent(id) {
  const res = await getJSON(`${SANDBOX_URL}/v1/payment_intents/${id}`, { headers: { Authorization: "Bearer sk_test_sandbox" } });
  assert.equal(res.status, 200, `sandbox GET ${id}: ${JSON.stringify(res.body)}`);
  return res.body;
}

/** How many PaymentIntents the sandbox has been asked to create so far. */
async function intentCreates() {
  const res = await getJSON(`${SANDBOX_URL}/_sandbox/requests`);
  assert.equal(res.status, 200);
  return res.body.requests.filter((r) => r.method === "POST" && r.path === "/v1/payment_intents").length;
}

before(async () => {
  const health = await getJSON(`${SANDBOX_URL}/_sandbox/health`);
  assert.equal(health.status, 200, `sandbox at ${SANDBOX_URL} is not healthy`);
  const cfg = await getJSON(`${BASE_URL}/config`);
  assert.equal(cfg.status, 200);
  for (const id of ["mug", "stove-rental"]) {
    assert.ok(cfg.body.catalog.some((p) => p.id === id), `the bundled catalog (with ${id}) is expected`);
  }
  assert.ok(cfg.body.stripeJsUrl.startsWith(SANDBOX_URL), "the worker must hand out the sandbox's stand-in as Stripe.js");
  browser = await launchChromium();
});

after(async () => {
  await browser?.close();
});

async function withPage(fn, { allow = [] } = {}) {
  const context = await browser.newContext({ baseURL: BASE_URL, locale: "en-US" });
  const page = await context.newPage();
  page.setDefaultTimeout(STEP_TIMEOUT);
  const problems = [];
  page.on("console", (msg) => {
    if (msg.type() === "error") problems.push(`console.error: ${msg.text()}`);
  });
  page.on("pageerror", (err) => problems.push(`uncaught exception: ${err.message}`));
  try {
    await fn(page);
  } catch (err) {
    let seen = "";
    try {
      seen = `\n--- page ${page.url()} ---\n${(await page.locator("body").innerText({ timeout: 2000 })).slice(0, 2000)}`;
    } catch {
      // page gone
    }
    if (problems.length > 0) seen += `\n--- console ---\n${problems.join("\n")}`;
    err.message += seen;
    throw err;
  } finally {
    await context.close();
  }
  const unexpected = problems.filter((p) => !allow.some((re) => re.test(p)));
  assert.deepEqual(unexpected, [], "unexpected console errors or exceptions in the page");
}

/** Opens the pay page with quantities {id: qty} (others 0) and an optional email, then continues to payment. */
async function chooseOrder(page, quantities, email) {
  await page.goto("/pay.html");
  await page.locator("#order-form input[data-product]").first().waitFor({ state: "visible" });
  for (const input of await page.locator("#order-form input[data-product]").all()) {
    const id = await input.getAttribute("data-product");
    await input.fill(String(quantities[id] ?? 0));
  }
  if (email) await page.locator("#order-email").fill(email);
  await page.locator("#order-continue").click();
}

/** Types a card into the stand-in's Payment Element and presses Pay; returns the confirm-intent request. */
async function pay(page, card) {
  const number = page.locator('#payment-element input[name="cardnumber"]');
  await number.waitFor({ state: "visible" });
  await number.fill(card);
  const request = page.waitForRequest((r) => r.method() === "POST" && new URL(r.url()).pathname === "/create-confirm-intent");
  await page.locator("#payment-submit").click();
  return request;
}

async function result(page, status) {
  await page.locator(`#pay-result[data-status="${status}"]`).waitFor({ state: "visible" });
  return page.locator("#pay-result").innerText();
}

describe("pay page", { timeout: TEST_TIMEOUT * 10 }, () => {
  test("pays with the default card; the worker prices the order", { timeout: TEST_TIMEOUT }, async () => {
    await withPage(async (page) => {
      await chooseOrder(page, { mug: 2 }, "jenny@example.com");
      // 2 mugs and standard shipping; express changes the total.
      assert.match(await page.locator("#payment-submit").innerText(), /Pay \$29\.00/);
      await page.locator('#shipping-rates input[value="express"]').check();
      assert.match(await page.locator("#payment-submit").innerText(), /Pay \$39\.00/);
      await page.locator('#address-element input[name="name"]').fill("Ada Lovelace");
      const request = await pay(page, CARD_OK);
      const sent = request.postDataJSON();
      assert.deepEqual(sent.items, [{ id: "mug", quantity: 2 }], "the page sends only ids and quantities");
      assert.equal(sent.shippingRate, "express", "the chosen rate, by id");
      assert.match(sent.confirmationToken, /^ctoken_/);
      assert.match(sent.idempotencyKey, /^[A-Za-z0-9_-]{8,64}$/);
      assert.equal(sent.email, "jenny@example.com");
      assert.equal(sent.amount, undefined, "no amount from the browser");
      const answer = await (await request.response()).json();
      const text = await result(page, "succeeded");
      assert.match(text, /successful/);
      const pi = await sandboxIntent(answer.id);
      assert.equal(pi.status, "succeeded");
      assert.equal(pi.amount, 2400 + 1500, "the worker charged the lines and the express rate");
      assert.equal(pi.metadata.kit_cart, "mug:2:1200");
      assert.equal(pi.metadata.kit_shipping, "express:1500");
      assert.equal(pi.shipping.name, "Ada Lovelace", "the Address Element's address went with the token");
      assert.match(pi.metadata.kit_order, /^ord_[0-9a-f]{16}$/);
      assert.equal(pi.receipt_email, "jenny@example.com");
    });
  });

  test("a T-shirt asks its size on the pay page; the size reaches the payment", { timeout: TEST_TIMEOUT }, async () => {
    await withPage(
      async (page) => {
        await chooseOrder(page, { tshirt: 1 });
        const number = page.locator('#payment-element input[name="cardnumber"]');
        await number.waitFor({ state: "visible" });
        await page.locator("#payment-submit").click();
        await page.locator("#payment-error").waitFor({ state: "visible" });
        assert.match(await page.locator("#payment-error").innerText(), /Size/, "the size is required before paying");
        await page.locator('#custom-fields select[data-field="size"]').selectOption("L");
        const request = await pay(page, CARD_OK);
        assert.deepEqual(request.postDataJSON().customFields, { size: "L" });
        const answer = await (await request.response()).json();
        await result(page, "succeeded");
        const pi = await sandboxIntent(answer.id);
        assert.equal(pi.metadata.kit_fields, "size=L");
        assert.equal(pi.amount, 2000 + 500);
      },
      { allow: [HTTP_ERROR_LOG] },
    );
  });

  test("a rental is authorized after 3D Secure (handleNextAction), not charged", { timeout: TEST_TIMEOUT }, async () => {
    await withPage(async (page) => {
      await chooseOrder(page, { "stove-rental": 1 });
      assert.match(await page.locator("#payment-submit").innerText(), /Authorize \$40\.00/);
      const request = await pay(page, CARD_3DS);
      const answer = await (await request.response()).json();
      assert.equal(answer.status, "requires_action");
      await page.locator("[data-sandbox-3ds-overlay] [data-sandbox-3ds-complete]").click();
      const text = await result(page, "requires_capture");
      assert.match(text, /authorized/);
      const pi = await sandboxIntent(answer.id);
      assert.equal(pi.status, "requires_capture");
      assert.equal(pi.capture_method, "manual");
      assert.equal(pi.amount_capturable, 4000);
      assert.equal(pi.payment_method_options.card.request_incremental_authorization, "if_available");
    });
  });

  test("a failed 3D Secure challenge leaves the form up for another try", { timeout: TEST_TIMEOUT }, async () => {
    await withPage(async (page) => {
      await chooseOrder(page, { mug: 1 });
      await pay(page, CARD_3DS);
      await page.locator("[data-sandbox-3ds-overlay] [data-sandbox-3ds-fail]").click();
      await page.locator("#payment-error").waitFor({ state: "visible" });
      assert.ok(await page.locator("#payment-submit").isEnabled(), "Pay can be pressed again");
      assert.ok(await page.locator("#pay-result").isHidden());
      await pay(page, CARD_OK);
      await result(page, "succeeded");
    });
  });

  test("a declined card shows Stripe's reason; another card then pays", { timeout: TEST_TIMEOUT }, async () => {
    await withPage(
      async (page) => {
        await chooseOrder(page, { stickers: 3 });
        const declined = await pay(page, CARD_INSUFFICIENT);
        assert.equal((await declined.response()).status(), 402);
        const error = page.locator("#payment-error");
        await error.waitFor({ state: "visible" });
        assert.match(await error.innerText(), /insufficient funds/i);
        const retry = await pay(page, CARD_OK);
        assert.notEqual(retry.postDataJSON().idempotencyKey, declined.postDataJSON().idempotencyKey, "a new attempt, a new key");
        await result(page, "succeeded");
      },
      { allow: [HTTP_ERROR_LOG] },
    );
  });

  test("an approval refusal is shown and creates no PaymentIntent", { timeout: TEST_TIMEOUT }, async () => {
    await withPage(
      async (page) => {
        const before = await intentCreates();
        await chooseOrder(page, { mug: 1 }, "someone@blocked.example");
        const request = await pay(page, CARD_OK);
        assert.equal((await request.response()).status(), 422);
        const error = page.locator("#payment-error");
        await error.waitFor({ state: "visible" });
        assert.match(await error.innerText(), /blocked\.example/);
        assert.equal(await intentCreates(), before, "no PaymentIntent was created");
      },
      { allow: [HTTP_ERROR_LOG] },
    );
  });

  test("a prepaid card is refused by the card rule, creating nothing; a credit card then pays", { timeout: TEST_TIMEOUT }, async () => {
    await withPage(
      async (page) => {
        const before = await intentCreates();
        await chooseOrder(page, { mug: 1 });
        const refused = await pay(page, CARD_PREPAID);
        const res = await refused.response();
        assert.equal(res.status(), 422);
        assert.equal((await res.json()).error.code, "card_refused");
        const error = page.locator("#payment-error");
        await error.waitFor({ state: "visible" });
        assert.match(await error.innerText(), /prepaid/);
        assert.equal(await intentCreates(), before, "no PaymentIntent was created");
        assert.ok(await page.locator("#payment-submit").isEnabled(), "Pay can be pressed again");
        await pay(page, CARD_OK);
        await result(page, "succeeded");
        assert.equal(await intentCreates(), before + 1);
      },
      { allow: [HTTP_ERROR_LOG] },
    );
  });

  test("embedded Checkout of a rental: the return page says the payment is authorized", { timeout: TEST_TIMEOUT }, async () => {
    await withPage(async (page) => {
      await page.goto("/");
      await page.locator('button[data-buy="stove-rental"]').click();
      const form = page.locator("#checkout [data-sandbox-checkout]");
      await form.locator("[data-sandbox-pay]").waitFor({ state: "visible" });
      await form.locator('input[name="email"]').fill("renter@example.com");
      await form.locator("[data-sandbox-pay]").click();
      await page.waitForURL(/\/return(?:\.html)?\?session_id=cs_test_/);
      const status = page.locator('[data-status="complete"]');
      await status.waitFor({ state: "visible" });
      assert.match(await status.innerText(), /authorized/);
    });
  });

  test("an order mixing a rental and a purchase is refused on the page", { timeout: TEST_TIMEOUT }, async () => {
    await withPage(async (page) => {
      await chooseOrder(page, { mug: 1, "stove-rental": 1 });
      const error = page.locator("#order-error");
      await error.waitFor({ state: "visible" });
      assert.match(await error.innerText(), /separately/);
      assert.ok(await page.locator("#payment-section").isHidden(), "no payment step");
    });
  });
});
