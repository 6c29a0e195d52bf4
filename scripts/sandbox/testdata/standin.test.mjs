// Chromium test of the Stripe.js stand-in's Elements: the Payment Element,
// elements.submit(), stripe.createConfirmationToken() and
// stripe.handleNextAction() with the 3D Secure overlay, on a page with a
// strict Content-Security-Policy served from another origin than the sandbox.
//
//   SANDBOX_URL=http://127.0.0.1:8789 node --test scripts/sandbox/testdata/standin.test.mjs
//
// go test ./scripts/sandbox runs it (TestStandinInChromium) against a sandbox of
// its own; this file plays both the shop's page and the shop's server (which
// creates and confirms PaymentIntents with a secret key).

import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import http from "node:http";
import { launchChromium, requiredOrigin } from "../../e2e/chromium.mjs";

const SANDBOX_URL = requiredOrigin("SANDBOX_URL", { hint: "Run it through go test ./scripts/sandbox -run StandinInChromium." });
const SECRET_KEY = "sk_test_unit";
const STEP = 10_000;

const PAGE = `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>pay</title>
<script src="${SANDBOX_URL}/stripe.js"></script></head>
<body><div id="payment-element"></div><script src="/pay.js"></script></body></html>`;

// The page's script: no inline code, as the policy forbids it.
const SCRIPT = `
window.__events = [];
window.__csp = [];
document.addEventListener("securitypolicyviolation", (e) => window.__csp.push(e.violatedDirective + " " + e.blockedURI));
window.stripe = Stripe("pk_test_sandbox");
window.elements = stripe.elements({ mode: "payment", amount: 1099, currency: "usd", captureMethod: "manual", paymentMethodCreation: "manual" });
window.paymentElement = elements.create("payment");
for (const name of ["ready", "change", "focus", "blur"]) paymentElement.on(name, (e) => window.__events.push(name + ":" + JSON.stringify(e)));
paymentElement.mount("#payment-element");
`;

let server, origin, browser, page;
const consoleErrors = [];

async function api(method, path, form) {
  const init = { method, headers: { Authorization: "Bearer " + SECRET_KEY } };
  if (form) {
    init.headers["Content-Type"] = "application/x-www-form-urlencoded";
    init.body = new URLSearchParams(form).toString();
  }
  const res = await fetch(SANDBOX_URL + path, init);
  return { status: res.status, body: await res.json() };
}

// The shop's server: create and confirm a PaymentIntent with the token.
function createAndConfirm(token, extra = {}) {
  return api("POST", "/v1/payment_intents", {
    amount: "1099",
    currency: "usd",
    confirm: "true",
    confirmation_token: token,
    "automatic_payment_methods[enabled]": "true",
    return_url: origin + "/return",
    ...extra,
  });
}

async function setCard(number) {
  await page.locator("input[name=cardnumber]").fill(number);
}

// submit + createConfirmationToken in the page, as a pay page does.
function tokenInPage() {
  return page.evaluate(async () => {
    const { error } = await elements.submit();
    if (error) return { submitError: error };
    return stripe.createConfirmationToken({ elements, params: { return_url: location.origin + "/return" } });
  });
}

before(async () => {
  server = http.createServer((req, res) => {
    const csp = `default-src 'none'; script-src 'self' ${SANDBOX_URL}; connect-src ${SANDBOX_URL}; style-src 'self'; base-uri 'none'`;
    if (req.url === "/pay.html") {
      res.writeHead(200, { "Content-Type": "text/html; charset=utf-8", "Content-Security-Policy": csp });
      res.end(PAGE);
    } else if (req.url === "/pay.js") {
      res.writeHead(200, { "Content-Type": "text/javascript" });
      res.end(SCRIPT);
    } else {
      res.writeHead(404);
      res.end();
    }
  });
  await new Promise((resolve) => server.listen(0, "127.0.0.1", resolve));
  origin = `http://127.0.0.1:${server.address().port}`;
  browser = await launchChromium();
  page = await browser.newPage();
  page.setDefaultTimeout(STEP);
  page.on("console", (m) => {
    if (m.type() === "error") consoleErrors.push(m.text());
  });
  page.on("pageerror", (e) => consoleErrors.push(String(e)));
  await page.goto(origin + "/pay.html");
  await page.locator("[data-sandbox-payment-element] input[name=cardnumber]").waitFor();
});

after(async () => {
  await browser?.close();
  await new Promise((resolve) => (server ? server.close(resolve) : resolve()));
});

describe("Stripe.js stand-in: Elements", () => {
  test("the Payment Element renders card inputs with Stripe's test card and fires ready", async () => {
    assert.equal(await page.locator("input[name=cardnumber]").inputValue(), "4242 4242 4242 4242");
    assert.equal(await page.locator("input[name=exp-date]").inputValue(), "12 / 34");
    assert.equal(await page.locator("input[name=cvc]").inputValue(), "123");
    await page.waitForFunction(() => window.__events.some((e) => e.startsWith("ready:")));
  });

  test("misuse throws IntegrationError, as Stripe.js does", async () => {
    const errs = await page.evaluate(async () => {
      const out = [];
      for (const f of [
        () => stripe.elements({ mode: "payment", amount: 100 }),
        () => stripe.elements({ mode: "payment", currency: "usd" }),
        () => elements.create("card"),
      ]) {
        try {
          f();
          out.push("no error");
        } catch (e) {
          out.push(e.name);
        }
      }
      const fresh = stripe.elements({ mode: "payment", amount: 100, currency: "usd" });
      try {
        await stripe.createConfirmationToken({ elements: fresh });
        out.push("no error");
      } catch (e) {
        out.push(e.name);
      }
      return out;
    });
    assert.deepEqual(errs, ["IntegrationError", "IntegrationError", "IntegrationError", "IntegrationError"]);
  });

  test("createConfirmationToken needs a successful submit first", async () => {
    await setCard("4242 4242 4242 4241");
    const res = await tokenInPage();
    assert.equal(res.submitError?.type, "validation_error");
    assert.equal(res.submitError?.code, "invalid_number");
    assert.match(await page.locator("[data-sandbox-element-error]").textContent(), /card number is invalid/);
    const thrown = await page.evaluate(() => stripe.createConfirmationToken({ elements }).then(() => "no error", (e) => e.name));
    assert.equal(thrown, "IntegrationError");
    await page.waitForFunction(() => window.__events.some((e) => e.startsWith("change:") && e.includes('"complete":false')));
  });

  test("a good card: token, then the server confirms with manual capture", async () => {
    await setCard("4242 4242 4242 4242");
    assert.equal(await page.locator("[data-sandbox-element-error]").textContent(), "", "typing clears the error");
    const res = await tokenInPage();
    assert.ok(res.confirmationToken?.id?.startsWith("ctoken_"), JSON.stringify(res));
    assert.equal(res.confirmationToken.payment_method_preview.card.last4, "4242");
    assert.equal(res.confirmationToken.return_url, origin + "/return");
    const pi = await createAndConfirm(res.confirmationToken.id, { capture_method: "manual" });
    assert.equal(pi.status, 200, JSON.stringify(pi.body));
    assert.equal(pi.body.status, "requires_capture");
    // No action needed: handleNextAction hands the PaymentIntent back.
    const next = await page.evaluate((cs) => stripe.handleNextAction({ clientSecret: cs }), pi.body.client_secret);
    assert.equal(next.paymentIntent?.status, "requires_capture");
  });

  test("3D Secure: the overlay's Complete authentication button finishes the payment", async () => {
    await setCard("4000 0025 0000 3155");
    const { confirmationToken } = await tokenInPage();
    const pi = await createAndConfirm(confirmationToken.id);
    assert.equal(pi.body.status, "requires_action");
    assert.equal(pi.body.next_action.type, "use_stripe_sdk");
    const result = page.evaluate((cs) => stripe.handleNextAction({ clientSecret: cs }), pi.body.client_secret);
    const button = page.locator("[data-sandbox-3ds-overlay] [data-sandbox-3ds-complete]");
    await button.waitFor({ state: "visible" });
    assert.equal(await button.textContent(), "Complete authentication");
    await button.click();
    const done = await result;
    assert.equal(done.paymentIntent?.status, "succeeded", JSON.stringify(done));
    assert.equal(await page.locator("[data-sandbox-3ds-overlay]").count(), 0, "the overlay is gone");
    const server = await api("GET", `/v1/payment_intents/${pi.body.id}`);
    assert.equal(server.body.status, "succeeded");
  });

  test("3D Secure: Fail authentication returns the error", async () => {
    const { confirmationToken } = await tokenInPage();
    const pi = await createAndConfirm(confirmationToken.id);
    const result = page.evaluate((cs) => stripe.handleNextAction({ clientSecret: cs }), pi.body.client_secret);
    await page.locator("[data-sandbox-3ds-fail]").click();
    const done = await result;
    assert.equal(done.error?.code, "payment_intent_authentication_failure", JSON.stringify(done));
    assert.equal(done.error?.payment_intent?.status, "requires_payment_method");
  });

  test("3D Secure answered without the overlay through window.__stripeSandbox", async () => {
    const { confirmationToken } = await tokenInPage();
    const pi = await createAndConfirm(confirmationToken.id);
    const done = await page.evaluate(async (cs) => {
      window.__stripeSandbox = { threeDS: "complete" };
      try {
        return await stripe.handleNextAction({ clientSecret: cs });
      } finally {
        delete window.__stripeSandbox;
      }
    }, pi.body.client_secret);
    assert.equal(done.paymentIntent?.status, "succeeded");
  });

  test("a declined card: the token is made, the server's confirm gets 402", async () => {
    await setCard("4000 0000 0000 9995");
    const { confirmationToken } = await tokenInPage();
    const pi = await createAndConfirm(confirmationToken.id);
    assert.equal(pi.status, 402);
    assert.equal(pi.body.error.decline_code, "insufficient_funds");
  });

  test("no CSP violations and no console errors", async () => {
    assert.deepEqual(await page.evaluate(() => window.__csp), []);
    assert.deepEqual(consoleErrors, []);
  });
});
