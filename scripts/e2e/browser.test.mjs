// Browser end-to-end tests for the site: product page -> embedded Checkout
// (the local sandbox's Stripe.js stand-in) -> return page.
//
//   BASE_URL=http://127.0.0.1:18787 SANDBOX_URL=http://127.0.0.1:18789 \
//     node --test scripts/e2e/browser.test.mjs
//
// BASE_URL is the worker origin (serving the built site and the API) and
// SANDBOX_URL the local Stripe sandbox; both must already be running (see
// go run ./scripts/stack). The worker must be configured with the sandbox's
// stand-in as its Stripe.js URL. Chromium set-up: chromium.mjs.

import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import { launchChromium, requiredOrigin } from "./chromium.mjs";

const HINT =
  "These tests drive a running stack; start it and pass its origins, e.g.\n" +
  "  go run ./scripts/stack -- node --test scripts/e2e/browser.test.mjs\n" +
  "or by hand:\n" +
  "  BASE_URL=http://127.0.0.1:18787 SANDBOX_URL=http://127.0.0.1:18789 node --test scripts/e2e/browser.test.mjs";

const BASE_URL = requiredOrigin("BASE_URL", { hint: HINT });
const SANDBOX_URL = requiredOrigin("SANDBOX_URL", { hint: HINT });
const TEST_TIMEOUT = 90_000;
const STEP_TIMEOUT = 20_000;

// The return page's path: /return.html, or /return where the asset server
// drops the extension (wrangler's default html_handling redirects to it).
const RETURN_URL_RE = /\/return(?:\.html)?\?session_id=cs_test_[A-Za-z0-9]+$/;
const PAGE_PATH_RE = /^\/(?:index(?:\.html)?)?$/;

let browser;
let config;

async function getJSON(url, init) {
  let res;
  try {
    res = await fetch(url, init);
  } catch (err) {
    throw new Error(`${init?.method ?? "GET"} ${url} failed: ${err.cause?.message ?? err.message} (is the stack running?)`);
  }
  const text = await res.text();
  let body;
  try {
    body = JSON.parse(text);
  } catch {
    body = text;
  }
  return { status: res.status, body };
}

before(async () => {
  const health = await getJSON(`${SANDBOX_URL}/_sandbox/health`);
  assert.equal(health.status, 200, `sandbox at ${SANDBOX_URL} is not healthy: ${JSON.stringify(health.body)}`);
  const cfg = await getJSON(`${BASE_URL}/config`);
  assert.equal(cfg.status, 200, `GET ${BASE_URL}/config answered ${cfg.status}: ${JSON.stringify(cfg.body)}`);
  config = cfg.body;
  assert.ok(Array.isArray(config.catalog) && config.catalog.length > 0, "the worker's catalog is empty");
  assert.ok(
    config.stripeJsUrl.startsWith(SANDBOX_URL),
    `the worker hands out Stripe.js from ${config.stripeJsUrl}, not the sandbox stand-in at ${SANDBOX_URL}/stripe.js; ` +
      `start it with STRIPE_JS_URL=${SANDBOX_URL}/stripe.js`,
  );
  browser = await launchChromium();
});

after(async () => {
  await browser?.close();
});

/** The default product and, if the catalog has one, a different product. */
function products() {
  const main = config.catalog.find((p) => p.id === config.defaultItem) ?? config.catalog[0];
  const other = config.catalog.find((p) => p.id !== main.id);
  return { main, other };
}

/**
 * Runs fn with a fresh page and fails on console errors and uncaught
 * exceptions, except those matching `allow` (e.g. the browser's own log line
 * for an expected HTTP error). The browser context is always closed.
 */
async function withPage(fn, { allow = [] } = {}) {
  const context = await browser.newContext({ baseURL: BASE_URL, locale: "en-US" });
  const page = await context.newPage();
  page.setDefaultTimeout(STEP_TIMEOUT);
  page.setDefaultNavigationTimeout(STEP_TIMEOUT);
  const problems = [];
  page.on("console", (msg) => {
    if (msg.type() === "error") {
      const where = msg.location()?.url;
      problems.push(`console.error: ${msg.text()}${where ? ` (${where})` : ""}`);
    }
  });
  page.on("pageerror", (err) => problems.push(`uncaught exception: ${err.message}`));
  try {
    await fn(page);
  } catch (err) {
    // Add what the shopper would have seen, to make failures readable.
    let seen = "";
    try {
      seen = `\n--- page ${page.url()} ---\n${(await page.locator("body").innerText({ timeout: 2000 })).slice(0, 2000)}`;
    } catch {
      // page already gone
    }
    if (problems.length > 0) {
      seen += `\n--- console ---\n${problems.join("\n")}`;
    }
    err.message += seen;
    throw err;
  } finally {
    await context.close();
  }
  const unexpected = problems.filter((p) => !allow.some((re) => re.test(p)));
  assert.deepEqual(unexpected, [], "unexpected console errors or exceptions in the page");
}

/** Waits for the stand-in's payment form inside #checkout and returns its root. */
async function checkoutForm(page) {
  const form = page.locator("#checkout [data-sandbox-checkout]");
  await form.locator("[data-sandbox-pay]").waitFor({ state: "visible" });
  assert.equal(await page.locator("[data-sandbox-checkout]").count(), 1, "exactly one embedded checkout may be mounted");
  return form;
}

/** Picks a size when the product asks for one (the demo T-shirt's custom field). */
async function chooseSize(form) {
  const size = form.locator('select[name="custom_fields[size]"]');
  if ((await size.count()) > 0) await size.selectOption("M");
}

async function waitForProducts(page) {
  await page.goto("/");
  await page.locator("button[data-buy]").first().waitFor({ state: "visible" });
}

/** Sets the quantity for product id and presses its Buy button; returns the create request. */
async function buy(page, id, quantity) {
  const card = page.locator(".product", { has: page.locator(`button[data-buy="${id}"]`) });
  if (quantity !== undefined) {
    await card.locator('input[name="quantity"]').fill(String(quantity));
  }
  const request = page.waitForRequest((r) => r.method() === "POST" && new URL(r.url()).pathname === "/create-checkout-session");
  await page.locator(`button[data-buy="${id}"]`).click();
  return request;
}

function sessionIdFromSecret(secret) {
  assert.equal(typeof secret, "string", "clientSecret must be a string");
  const id = secret.split("_secret_")[0];
  assert.match(id, /^cs_test_[A-Za-z0-9]+$/, `unexpected client secret ${secret}`);
  return id;
}

/** Creates a Checkout Session from inside the page (same origin as the shop). */
async function createSessionFromPage(page, items) {
  const res = await page.evaluate(async (items) => {
    const r = await fetch("/create-checkout-session", {
      method: "POST",
      headers: { "Content-Type": "application/json" },
      body: JSON.stringify({ items }),
    });
    return { status: r.status, body: await r.json() };
  }, items);
  assert.equal(res.status, 200, `POST /create-checkout-session: ${JSON.stringify(res.body)}`);
  return sessionIdFromSecret(res.body.clientSecret);
}

async function sandboxSession(id) {
  const res = await getJSON(`${SANDBOX_URL}/_sandbox/sessions/${id}`);
  assert.equal(res.status, 200, `sandbox GET session ${id}: ${JSON.stringify(res.body)}`);
  return res.body;
}

function returnURL(query) {
  return `/return.html${query}`;
}

async function expectStatus(page, status) {
  const el = page.locator("[data-status]");
  await page.locator(`[data-status="${status}"]`).waitFor({ state: "visible" });
  return el;
}

describe("site in the browser", { timeout: TEST_TIMEOUT * 8 }, () => {
  test("buy -> embedded checkout -> pay -> thank-you page names the email", { timeout: TEST_TIMEOUT }, async () => {
    const { main, other } = products();
    const quantity = Math.min(2, main.maxQuantity);
    const email = `shopper.${Date.now()}@example.com`;

    await withPage(async (page) => {
      await waitForProducts(page);
      const cards = page.locator("#products .product");
      assert.equal(await cards.count(), config.catalog.length, "every catalog product is listed");
      const mainCard = page.locator(".product", { has: page.locator(`button[data-buy="${main.id}"]`) });
      assert.equal(await mainCard.locator(".product-name").innerText(), main.name, "product name shown");
      const price = await mainCard.locator(".product-price").innerText();
      assert.match(price, /\d/, "price shown");

      if (other) {
        // Open checkout for another product first: the second Buy must replace it.
        await buy(page, other.id, 1);
        const first = await checkoutForm(page);
        await first.getByText(other.name).first().waitFor();
      }

      const request = await buy(page, main.id, quantity);
      assert.deepEqual(request.postDataJSON(), { items: [{ id: main.id, quantity }] }, "create-checkout-session body");
      const response = await request.response();
      assert.equal(response.status(), 200);
      const sessionId = sessionIdFromSecret((await response.json()).clientSecret);

      const form = await checkoutForm(page);
      await form.getByText(main.name).first().waitFor();
      if (other) {
        assert.equal(await form.getByText(other.name).count(), 0, "the earlier checkout was destroyed");
      }

      await form.locator('input[name="email"]').fill(email);
      await chooseSize(form);
      await form.locator("[data-sandbox-pay]").click();
      await page.waitForURL(RETURN_URL_RE);
      assert.equal(new URL(page.url()).searchParams.get("session_id"), sessionId, "returned for the paid session");

      const status = await expectStatus(page, "complete");
      await status.getByText(email).waitFor();
      assert.match(await status.innerText(), /thank you/i);

      const session = await sandboxSession(sessionId);
      assert.equal(session.status, "complete");
      assert.equal(session.payment_status, "paid");
      assert.equal(session.line_items?.data?.[0]?.quantity, quantity, "the paid session has the chosen quantity");
    });
  });

  test("return page for an open session offers checkout again for the saved cart", { timeout: TEST_TIMEOUT }, async () => {
    const { main, other } = products();
    const product = other ?? main;
    const quantity = Math.min(3, product.maxQuantity);

    await withPage(async (page) => {
      // Start a checkout (this saves the cart), then leave without paying.
      await waitForProducts(page);
      const request = await buy(page, product.id, quantity);
      const response = await request.response();
      const sessionId = sessionIdFromSecret((await response.json()).clientSecret);
      await checkoutForm(page);

      const remount = page.waitForRequest((r) => r.method() === "POST" && new URL(r.url()).pathname === "/create-checkout-session");
      await page.goto(returnURL(`?session_id=${sessionId}`));
      const status = await expectStatus(page, "open");
      await status.getByText("Your payment was not completed — you can try again below.").waitFor();
      assert.deepEqual((await remount).postDataJSON(), { items: [{ id: product.id, quantity }] }, "remounted for the saved cart");

      const form = await checkoutForm(page);
      await form.getByText(product.name).first().waitFor();

      // Paying now completes the new session.
      await form.locator('input[name="email"]').fill("retry@example.com");
      await chooseSize(form);
      await form.locator("[data-sandbox-pay]").click();
      await page.waitForURL((url) => RETURN_URL_RE.test(url.href) && url.searchParams.get("session_id") !== sessionId);
      await (await expectStatus(page, "complete")).getByText("retry@example.com").waitFor();
    });
  });

  test("return page for an open session without a saved cart uses the default item", { timeout: TEST_TIMEOUT }, async () => {
    await withPage(async (page) => {
      // A same-origin page that saves no cart (and looks nothing up).
      await page.goto("/return.html");
      await expectStatus(page, "error");
      const sessionId = await createSessionFromPage(page, [{ id: config.defaultItem, quantity: 1 }]);
      const remount = page.waitForRequest((r) => r.method() === "POST" && new URL(r.url()).pathname === "/create-checkout-session");
      await page.goto(returnURL(`?session_id=${sessionId}`));
      await expectStatus(page, "open");
      assert.deepEqual((await remount).postDataJSON(), { items: [{ id: config.defaultItem, quantity: 1 }] });
      await checkoutForm(page);
    });
  });

  test("a declined card shows the error inside the payment form", { timeout: TEST_TIMEOUT }, async () => {
    const { main } = products();
    await withPage(
      async (page) => {
        await waitForProducts(page);
        await buy(page, main.id, 1);
        const form = await checkoutForm(page);
        await form.locator('input[name="email"]').fill("declined@example.com");
        await form.locator('input[name="card_number"]').fill("4000 0000 0000 0002");
        await chooseSize(form);
        await form.locator("[data-sandbox-pay]").click();

        const error = form.locator("[data-sandbox-error]");
        await assert.doesNotReject(
          page.waitForFunction(() => {
            const el = document.querySelector("#checkout [data-sandbox-error]");
            return el !== null && el.textContent.trim() !== "";
          }),
        );
        assert.match(await error.innerText(), /declined/i);
        assert.match(new URL(page.url()).pathname, PAGE_PATH_RE, "stays on the product page");
        await assert.doesNotReject(form.locator("[data-sandbox-pay]:enabled").waitFor(), "can try another card");
      },
      { allow: [/status of 402/] },
    );
  });

  test("an expired session shows expired with a Start over link", { timeout: TEST_TIMEOUT }, async () => {
    await withPage(async (page) => {
      await waitForProducts(page);
      const sessionId = await createSessionFromPage(page, [{ id: config.defaultItem, quantity: 1 }]);
      const expired = await getJSON(`${SANDBOX_URL}/_sandbox/sessions/${sessionId}/expire`, { method: "POST" });
      assert.equal(expired.status, 200, `expire: ${JSON.stringify(expired.body)}`);

      await page.goto(returnURL(`?session_id=${sessionId}`));
      const status = await expectStatus(page, "expired");
      assert.match(await status.innerText(), /expired/i);
      assert.equal(await page.locator("#checkout [data-sandbox-checkout]").count(), 0, "no checkout for an expired session");

      const startOver = status.getByRole("link", { name: "Start over" });
      assert.equal(new URL(await startOver.getAttribute("href"), BASE_URL).href, `${BASE_URL}/`);
      await startOver.click();
      await page.waitForURL((url) => PAGE_PATH_RE.test(url.pathname));
      await page.locator("button[data-buy]").first().waitFor();
    });
  });

  test("return page without session_id explains the problem", { timeout: TEST_TIMEOUT }, async () => {
    await withPage(async (page) => {
      const lookups = [];
      page.on("request", (r) => {
        if (new URL(r.url()).pathname === "/session-status") lookups.push(r.url());
      });
      await page.goto("/return.html");
      const status = await expectStatus(page, "error");
      assert.ok((await status.innerText()).trim().length > 20, "a plain-language explanation");
      const back = status.getByRole("link", { name: /back to the shop/i });
      assert.equal(new URL(await back.getAttribute("href"), BASE_URL).href, `${BASE_URL}/`);
      assert.deepEqual(lookups, [], "no status lookup without a session id");
    });
  });

  test("return page for an unknown or malformed session id shows an error", { timeout: TEST_TIMEOUT }, async () => {
    await withPage(
      async (page) => {
        for (const id of [`cs_test_${"a1".repeat(29)}`, "not-a-session"]) {
          await page.goto(returnURL(`?session_id=${encodeURIComponent(id)}`));
          const status = await expectStatus(page, "error");
          assert.match(await status.innerText(), /couldn't find this order/i, `message for ${id}`);
          await status.getByRole("link", { name: /back to the shop/i }).waitFor();
          assert.equal(await page.locator("#checkout [data-sandbox-checkout]").count(), 0);
        }
      },
      { allow: [/status of 40[04]/] },
    );
  });

  test("the worker's error message is shown when checkout cannot start", { timeout: TEST_TIMEOUT }, async () => {
    const { main } = products();
    await withPage(
      async (page) => {
        // Offer more than the worker allows, so that it (not the page) rejects the order.
        await page.route("**/config", async (route) => {
          const response = await route.fetch();
          const body = await response.json();
          for (const p of body.catalog) p.maxQuantity += 5;
          await route.fulfill({ response, json: body });
        });
        await waitForProducts(page);
        const request = await buy(page, main.id, main.maxQuantity + 1);
        const response = await request.response();
        assert.equal(response.status(), 400);
        const message = (await response.json()).error?.message;
        assert.ok(message, "the worker sent an error message");

        const alert = page.locator("#checkout-error");
        await alert.waitFor({ state: "visible" });
        assert.ok((await alert.innerText()).includes(message), `shows the worker's message ${JSON.stringify(message)}`);
      },
      { allow: [/status of 400/] },
    );
  });
});
