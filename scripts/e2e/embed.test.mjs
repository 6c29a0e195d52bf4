// Browser tests of the embed snippet (embed.js) on other sites: the example
// pages from site/examples, served from other origins than the worker by
// scripts/examples-server.mjs under a strict Content-Security-Policy, driven
// in Chromium against the worker and the local Stripe sandbox.
//
//   ALLOWED_ORIGINS=http://127.0.0.1:18790 \
//     go run ./scripts/stack -- node --test scripts/e2e/embed.test.mjs
//
// BASE_URL (worker) and SANDBOX_URL (sandbox) come from go run ./scripts/stack.
// EMBED_SITE_ORIGIN (default http://127.0.0.1:18790) is the site origin the
// worker allows; this test serves the examples there and, for the refusal
// test, on another free port that the worker does not allow.

import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import { startExamplesServer } from "../examples-server.mjs";
import { launchChromium, requiredOrigin } from "./chromium.mjs";

const HINT =
  "Run under the stack with the test site allowed, e.g.\n" +
  '  ALLOWED_ORIGINS=http://127.0.0.1:18790 go run ./scripts/stack -- node --test scripts/e2e/embed.test.mjs';

const BASE_URL = requiredOrigin("BASE_URL", { hint: HINT });
const SANDBOX_URL = requiredOrigin("SANDBOX_URL", { hint: HINT });
const SITE_ORIGIN = requiredOrigin("EMBED_SITE_ORIGIN", { fallback: "http://127.0.0.1:18790", hint: HINT });
const TEST_TIMEOUT = 90_000;
const STEP_TIMEOUT = 20_000;

let browser;
let site; // the allowed origin
let stranger; // an origin the worker does not allow

before(async () => {
  const cfg = await fetch(`${BASE_URL}/config`, { headers: { Origin: SITE_ORIGIN } }).catch((err) => {
    throw new Error(`GET ${BASE_URL}/config failed: ${err.cause?.message ?? err.message} (is the stack running?)`);
  });
  assert.equal(
    cfg.headers.get("access-control-allow-origin"),
    SITE_ORIGIN,
    `the worker does not allow ${SITE_ORIGIN} (GET /config answered ${cfg.status}); start the stack with ` +
      `ALLOWED_ORIGINS=${SITE_ORIGIN}`,
  );
  const config = await cfg.json();
  assert.ok(config.stripeJsUrl.startsWith(SANDBOX_URL), `the worker must hand out the sandbox stand-in, not ${config.stripeJsUrl}`);

  const port = Number(new URL(SITE_ORIGIN).port);
  site = await startExamplesServer({ port, workerOrigin: BASE_URL, sandboxOrigin: SANDBOX_URL, pages: FIXTURES });
  stranger = await startExamplesServer({ port: 0, workerOrigin: BASE_URL, sandboxOrigin: SANDBOX_URL, pages: FIXTURES });
  browser = await launchChromium();
});

after(async () => {
  await browser?.close();
  await site?.close();
  await stranger?.close();
});

// A page of the test's own: every kind of markup, plus a way to read events.
const FIXTURES = {
  "/fixture.html": `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>fixture</title>
<script src="http://127.0.0.1:8787/embed.js" defer></script></head>
<body>
<button id="mug" data-checkout-product="mug">Mug</button>
<button id="two-mugs" data-checkout-product="mug" data-checkout-quantity="2">Two mugs</button>
<button id="fraction" data-checkout-product="mug" data-checkout-quantity="1.5">Half a mug more</button>
<button id="unknown" data-checkout-product="no-such-thing">Unknown</button>
<button id="too-many" data-checkout-product="mug" data-checkout-quantity="99">Too many</button>
<button id="lost" data-checkout-product="mug" data-checkout-target="#nowhere">Lost</button>
<form id="empty-cart" data-checkout-cart><input data-checkout-item="mug" value="0"><button>Check out</button></form>
</body></html>`,
  // The snippet pasted twice, as happens with a layout and a page both including it.
  "/twice.html": `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>twice</title>
<script src="http://127.0.0.1:8787/embed.js" defer></script>
<script src="http://127.0.0.1:8787/embed.js" defer></script></head>
<body><button id="stickers" data-checkout-product="stickers" data-checkout-target="#here">Stickers</button><div id="here"></div></body></html>`,
};

/** Records every checkout:* event and CSP violation into window.__events. */
const RECORDER = `
  window.__events = [];
  for (const name of ["ready", "opened", "completed", "error"]) {
    document.addEventListener("checkout:" + name, (e) => {
      window.__events.push({ type: e.type, target: e.target === document ? "document" : (e.target.id || e.target.tagName), detail: JSON.parse(JSON.stringify(e.detail)) });
    });
  }
  document.addEventListener("securitypolicyviolation", (e) => {
    window.__events.push({ type: "csp-violation", detail: { directive: e.violatedDirective, blocked: e.blockedURI } });
  });
`;

/**
 * Runs fn with a fresh page that records events, and fails on uncaught
 * exceptions, CSP violations and console errors except those matching allow.
 */
async function withPage(fn, { allow = [] } = {}) {
  const context = await browser.newContext({ locale: "en-US" });
  await context.addInitScript(RECORDER);
  const page = await context.newPage();
  page.setDefaultTimeout(STEP_TIMEOUT);
  page.setDefaultNavigationTimeout(STEP_TIMEOUT);
  const problems = [];
  page.on("console", (msg) => {
    if (msg.type() === "error") problems.push(`console.error: ${msg.text()}`);
  });
  page.on("pageerror", (err) => problems.push(`uncaught exception: ${err.message}`));
  try {
    await fn(page);
    const violations = (await events(page)).filter((e) => e.type === "csp-violation");
    assert.deepEqual(violations, [], "the snippet must work under the strict Content-Security-Policy");
  } catch (err) {
    let seen = "";
    try {
      seen = `\n--- page ${page.url()} ---\n${(await page.locator("body").innerText({ timeout: 2000 })).slice(0, 2000)}`;
      seen += `\n--- events ---\n${JSON.stringify(await events(page), null, 1).slice(0, 3000)}`;
    } catch {
      // page already gone
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

const events = (page) => page.evaluate(() => window.__events);

async function waitForEvent(page, type, count = 1) {
  type = "checkout:" + type;
  await page.waitForFunction(([t, n]) => window.__events.filter((e) => e.type === t).length >= n, [type, count]);
  return (await events(page)).filter((e) => e.type === type);
}

/** Checkout Session creations the sandbox saw since `since` for sessions returning to origin. */
async function sessionsCreated(since, origin) {
  const res = await fetch(`${SANDBOX_URL}/_sandbox/requests`);
  const { requests } = await res.json();
  return requests.filter(
    (r) =>
      r.method === "POST" &&
      r.path === "/v1/checkout/sessions" &&
      new Date(r.time) >= since &&
      String(r.form.return_url ?? r.form.success_url ?? "").startsWith(origin + "/"),
  );
}

async function sandboxSession(id) {
  const res = await fetch(`${SANDBOX_URL}/_sandbox/sessions/${id}`);
  assert.equal(res.status, 200, `sandbox GET session ${id}`);
  return res.json();
}

/** The stand-in's form inside container; exactly one may exist on the page. */
async function mountedCheckout(page, container) {
  const form = page.locator(`${container} [data-sandbox-checkout]`);
  await form.locator("[data-sandbox-pay]").waitFor({ state: "visible" });
  assert.equal(await page.locator("[data-sandbox-checkout]").count(), 1, "exactly one embedded checkout is mounted");
  return form;
}

async function pay(form, email) {
  await form.locator('input[name="email"]').fill(email);
  // The demo T-shirt asks for a size (a custom field).
  const size = form.locator('select[name="custom_fields[size]"]');
  if ((await size.count()) > 0) await size.selectOption("M");
  await form.locator("[data-sandbox-pay]").click();
}

describe("embed snippet on another site", { timeout: TEST_TIMEOUT * 8 }, () => {
  test("plain page: button appears, overlay checkout, pay, completed event, no redirect", { timeout: TEST_TIMEOUT }, async () => {
    const since = new Date();
    await withPage(async (page) => {
      const url = `${site.origin}/plain.html`;
      await page.goto(url);
      const buy = page.locator('button[data-checkout-product="mug"]');
      await buy.waitFor({ state: "visible" }); // hidden until the snippet has loaded
      const [ready] = await waitForEvent(page, "ready");
      assert.equal(ready.target, "document");
      assert.equal(ready.detail.elements, 3, "the page's three buy buttons were found");
      assert.equal(await page.locator("script[data-stripe-js], script[src*='stripe.js']").count(), 0, "Stripe.js is not loaded before it is needed");

      const create = page.waitForRequest((r) => r.method() === "POST" && r.url() === `${BASE_URL}/create-checkout-session`);
      await buy.click();
      const request = await create;
      assert.deepEqual(request.postDataJSON(), {
        items: [{ id: "mug", quantity: 1 }],
        returnPath: "/plain.html",
        redirectOnCompletion: "if_required",
      });

      const form = await mountedCheckout(page, "dialog[data-checkout-overlay][open]");
      await form.getByText("Enamel mug").first().waitFor();
      const [opened] = await waitForEvent(page, "opened");
      assert.equal(opened.target, "BUTTON");
      assert.equal(opened.detail.mode, "overlay");
      assert.deepEqual(opened.detail.items, [{ id: "mug", quantity: 1 }]);
      assert.match(opened.detail.sessionId, /^cs_test_[A-Za-z0-9]+$/);
      assert.ok(!JSON.stringify(await events(page)).includes("_secret_"), "no client secret in event details");

      await pay(form, "embed.shopper@example.com");
      const [completed] = await waitForEvent(page, "completed");
      assert.equal(completed.detail.sessionId, opened.detail.sessionId);
      assert.equal(page.url(), url, "the shopper stays on the page");
      await page.getByText(`Thank you! Your order is paid (${opened.detail.sessionId}).`).waitFor();

      const session = await sandboxSession(opened.detail.sessionId);
      assert.equal(session.status, "complete");
      assert.equal(session.payment_status, "paid");
      assert.equal(session.redirect_on_completion, "if_required");
      assert.equal(session.return_url, `${site.origin}/plain.html?session_id={CHECKOUT_SESSION_ID}`, "return URL on the allowed site");
    });
    assert.equal((await sessionsCreated(since, site.origin)).length, 1, "one Checkout Session");
  });

  test("an origin that is not allowed is refused with a clear message and no session", { timeout: TEST_TIMEOUT }, async () => {
    const since = new Date();
    await withPage(
      async (page) => {
        await page.goto(`${stranger.origin}/plain.html`);
        const buy = page.locator('button[data-checkout-product="mug"]');
        await buy.click();
        const [error] = await waitForEvent(page, "error");
        assert.equal(error.detail.code, "origin_not_allowed");
        assert.equal(error.detail.status, 403);
        const line = page.locator('button[data-checkout-product="mug"] + [data-checkout-error][role="alert"]');
        await line.waitFor({ state: "visible" });
        const text = await line.innerText();
        assert.match(text, /^Checkout could not start: /);
        assert.ok(text.includes(`does not accept requests from ${stranger.origin}`), `message names the origin: ${text}`);
        assert.match(text, /ALLOWED_ORIGINS/);
        assert.equal(await page.locator("[data-sandbox-checkout]").count(), 0, "nothing mounted");
        assert.equal(await page.locator("script[src*='stripe.js']").count(), 0, "Stripe.js never loaded");
      },
      // Chromium logs the refused request itself.
      { allow: [/status of 403/, /Failed to load resource/] },
    );
    const res = await fetch(`${SANDBOX_URL}/_sandbox/requests`);
    const { requests } = await res.json();
    assert.equal(
      requests.filter((r) => r.path === "/v1/checkout/sessions" && new Date(r.time) >= since && JSON.stringify(r.form).includes(stranger.origin)).length,
      0,
      "no Checkout Session for the refused origin",
    );
  });

  test("double clicks and re-opening give one session and one mounted checkout", { timeout: TEST_TIMEOUT }, async () => {
    const since = new Date();
    await withPage(async (page) => {
      await page.goto(`${site.origin}/plain.html`);
      const mug = page.locator('button[data-checkout-product="mug"]');
      await mug.waitFor({ state: "visible" });
      await mug.dblclick();
      // And three more clicks in one go, before any answer can arrive.
      await mug.evaluate((el) => {
        el.click();
        el.click();
        el.click();
      });
      const first = await mountedCheckout(page, "dialog[data-checkout-overlay][open]");
      await first.getByText("Enamel mug").first().waitFor();
      await page.waitForTimeout(500); // let any stray request arrive
      assert.equal((await sessionsCreated(since, site.origin)).length, 1, "a double click creates one session");
      assert.equal((await waitForEvent(page, "opened")).length, 1);

      // Close the overlay and open the same product again: the same checkout comes back.
      await page.locator("dialog[data-checkout-overlay] > button").click();
      await page.locator("dialog[data-checkout-overlay][open]").waitFor({ state: "detached" });
      await mug.click();
      await mountedCheckout(page, "dialog[data-checkout-overlay][open]");
      await page.waitForTimeout(300);
      assert.equal((await sessionsCreated(since, site.origin)).length, 1, "re-opening the same cart reuses its session");

      // Another product replaces it: the first checkout is destroyed first.
      await page.locator("dialog[data-checkout-overlay] > button").click();
      await page.locator('button[data-checkout-product="tshirt"]').click();
      const inline = await mountedCheckout(page, "#tshirt-checkout");
      await inline.getByText("Kit T-shirt").first().waitFor();
      assert.equal(await page.locator("dialog[data-checkout-overlay] [data-sandbox-checkout]").count(), 0, "the overlay checkout was destroyed");
      const opened = await waitForEvent(page, "opened", 2);
      assert.equal(opened[1].detail.mode, "inline");
      assert.deepEqual(opened[1].detail.items, [{ id: "tshirt", quantity: 2 }]);
      assert.equal((await sessionsCreated(since, site.origin)).length, 2, "one new session for the new cart");
    });
  });

  test("the snippet pasted twice still starts one session per click", { timeout: TEST_TIMEOUT }, async () => {
    const since = new Date();
    await withPage(async (page) => {
      await page.goto(`${site.origin}/twice.html`);
      await waitForEvent(page, "ready");
      await page.locator("#stickers").click();
      await mountedCheckout(page, "#here");
      await page.waitForTimeout(500);
      const all = await events(page);
      assert.equal(all.filter((e) => e.type === "checkout:ready").length, 1, "one copy acts");
      assert.equal(all.filter((e) => e.type === "checkout:opened").length, 1);
    });
    assert.equal((await sessionsCreated(since, site.origin)).length, 1);
  });

  test("hugo-shaped page: a cart form mounts in place and completes", { timeout: TEST_TIMEOUT }, async () => {
    const since = new Date();
    await withPage(async (page) => {
      await page.goto(`${site.origin}/hugo-shaped/`);
      const cart = page.locator("form[data-checkout-cart]");
      // The example hides its submit button (not the form) until the snippet has loaded.
      await cart.getByRole("button", { name: "Check out" }).waitFor({ state: "visible" });
      await cart.locator('input[data-checkout-item="mug"]').fill("2");
      await cart.locator('input[data-checkout-item="tshirt"]').fill("1");
      await cart.locator('input[data-checkout-item="stickers"]').fill("0");
      const create = page.waitForRequest((r) => r.method() === "POST" && r.url() === `${BASE_URL}/create-checkout-session`);
      await cart.getByRole("button", { name: "Check out" }).click();
      assert.deepEqual((await create).postDataJSON().items, [
        { id: "mug", quantity: 2 },
        { id: "tshirt", quantity: 1 },
      ]);
      const form = await mountedCheckout(page, "#cart-checkout");
      await form.getByText("Enamel mug").first().waitFor();
      await form.getByText("Kit T-shirt").first().waitFor();
      const [opened] = await waitForEvent(page, "opened");
      assert.equal(opened.target, "FORM");
      await pay(form, "hugo.shopper@example.com");
      const [completed] = await waitForEvent(page, "completed");
      assert.equal(completed.detail.sessionId, opened.detail.sessionId);
      const session = await sandboxSession(opened.detail.sessionId);
      assert.equal(session.status, "complete");
      assert.equal(session.return_url, `${site.origin}/hugo-shaped/?session_id={CHECKOUT_SESSION_ID}`);
    });
    assert.equal((await sessionsCreated(since, site.origin)).length, 1);
  });

  test("a return page: pay, land on thanks.html, completed event there", { timeout: TEST_TIMEOUT }, async () => {
    await withPage(async (page) => {
      await page.goto(`${site.origin}/plain.html`);
      const bundle = page.locator("button[data-checkout-cart]");
      const create = page.waitForRequest((r) => r.method() === "POST" && r.url() === `${BASE_URL}/create-checkout-session`);
      await bundle.click();
      assert.deepEqual((await create).postDataJSON(), {
        items: [
          { id: "mug", quantity: 1 },
          { id: "tshirt", quantity: 1 },
          { id: "stickers", quantity: 1 },
        ],
        returnPath: "/thanks.html",
      });
      const form = await mountedCheckout(page, "dialog[data-checkout-overlay][open]");
      const [opened] = await waitForEvent(page, "opened");
      await pay(form, "bundle.shopper@example.com");
      await page.waitForURL(`${site.origin}/thanks.html?session_id=${opened.detail.sessionId}`);
      const [completed] = await waitForEvent(page, "completed");
      assert.equal(completed.target, "document");
      assert.equal(completed.detail.sessionId, opened.detail.sessionId);
      await page.getByText(`Thank you! Your order is paid (${opened.detail.sessionId}).`).waitFor();
    });
  });

  test("hosted mode: redirect to the hosted page, pay, come back, completed event", { timeout: TEST_TIMEOUT }, async () => {
    const since = new Date();
    await withPage(async (page) => {
      const shop = `${site.origin}/hugo-shaped/`;
      await page.goto(shop);
      const buy = page.locator('button[data-checkout-mode="hosted"]');
      const create = page.waitForRequest((r) => r.method() === "POST" && r.url() === `${BASE_URL}/create-checkout-session`);
      await buy.click();
      assert.deepEqual((await create).postDataJSON(), {
        items: [{ id: "stickers", quantity: 3 }],
        returnPath: "/hugo-shaped/",
        uiMode: "hosted",
        cancelPath: "/hugo-shaped/",
      });
      await page.waitForURL(new RegExp(`^${SANDBOX_URL}/c/pay/cs_test_[A-Za-z0-9]+$`));
      const sessionId = new URL(page.url()).pathname.split("/").pop();
      assert.equal(await page.locator("script[src*='stripe.js']").count(), 1, "only the hosted page loads Stripe.js");
      const form = await mountedCheckout(page, "#checkout");
      await form.getByText("Sticker pack").first().waitFor();
      assert.equal(await page.locator("[data-sandbox-cancel]").getAttribute("href"), shop, "the hosted page links back to the shop");
      await pay(form, "hosted.shopper@example.com");
      await page.waitForURL(`${shop}?session_id=${sessionId}`);
      const [completed] = await waitForEvent(page, "completed");
      assert.equal(completed.target, "document");
      assert.equal(completed.detail.sessionId, sessionId);
      const session = await sandboxSession(sessionId);
      assert.equal(session.ui_mode, "hosted");
      assert.equal(session.status, "complete");
      assert.equal(session.success_url, `${shop}?session_id={CHECKOUT_SESSION_ID}`);
    });
    assert.equal((await sessionsCreated(since, site.origin)).length, 1);
  });

  test("markup mistakes and worker refusals are reported, never sent to Stripe", { timeout: TEST_TIMEOUT }, async () => {
    const since = new Date();
    await withPage(
      async (page) => {
        await page.goto(`${site.origin}/fixture.html`);
        await waitForEvent(page, "ready");
        const cases = [
          ["fraction", "invalid_quantity", /must be a whole number/], // the worker refuses it, before Stripe
          ["unknown", "unknown_product", /names no product/],
          ["too-many", "invalid_quantity", /between 1 and 5/],
          ["lost", "no_target", /no element #nowhere/],
          ["empty-cart", "empty_cart", /choose at least one product/],
        ];
        let n = 0;
        for (const [id, code, message] of cases) {
          const el = page.locator(`#${id}`);
          if (id === "empty-cart") await el.getByRole("button").click();
          else await el.click();
          const errors = await waitForEvent(page, "error", ++n);
          const last = errors[errors.length - 1];
          assert.equal(last.target, id === "empty-cart" ? "empty-cart" : id);
          assert.equal(last.detail.code, code, `${id}: ${JSON.stringify(last.detail)}`);
          assert.match(last.detail.message, message);
          await page.locator(`#${id} + [data-checkout-error]`).getByText(message).waitFor();
        }
        // A good click afterwards works and clears that button's error line.
        await page.locator("#two-mugs").click();
        await mountedCheckout(page, "dialog[data-checkout-overlay][open]");
      },
      { allow: [/status of 400/, /Failed to load resource/] },
    );
    assert.equal((await sessionsCreated(since, site.origin)).length, 1, "only the good click reached Stripe");
  });
});
