// Shared set-up of the Chromium tests (browser.test.mjs, embed.test.mjs).
//
// Chromium comes from Debian (/usr/bin/chromium, override with CHROMIUM); the
// driver is playwright-core from node_modules. The flags keep Chromium off
// the network this machine does not have (background updates, sync, QUIC).

const CHROMIUM = process.env.CHROMIUM || "/usr/bin/chromium";

const CHROMIUM_ARGS = [
  "--headless",
  "--no-sandbox",
  "--disable-gpu",
  "--disable-quic",
  "--no-first-run",
  "--disable-background-networking",
  "--disable-component-update",
  "--disable-sync",
];

// requiredOrigin reads an origin from the environment (or fallback); hint
// tells how to run the test when it is missing.
export function requiredOrigin(name, { fallback, hint }) {
  const value = (process.env[name] ?? fallback ?? "").trim();
  if (value === "") throw new Error(`${name} is not set. ${hint}`);
  try {
    return new URL(value).origin;
  } catch {
    throw new Error(`${name}=${JSON.stringify(value)} is not a URL (want e.g. http://127.0.0.1:18787)`);
  }
}

// launchChromium starts headless Chromium; close it in an after() hook.
export async function launchChromium() {
  let chromium;
  try {
    ({ chromium } = await import("playwright-core"));
  } catch (err) {
    throw new Error(`playwright-core is not installed (run npm ci in the repository root): ${err.message}`);
  }
  return chromium.launch({ executablePath: CHROMIUM, args: CHROMIUM_ARGS });
}
