// examples-server.mjs — serves site/examples/ as "somebody else's static site":
// another origin than the worker, with a strict Content-Security-Policy, the
// way a site owner's host would serve the pages with the pasted snippet.
//
//   node scripts/examples-server.mjs [--port 8790] [--worker http://127.0.0.1:8787] [--sandbox http://127.0.0.1:8789]
//
// `make dev` starts it (scripts/stack/dev.go); scripts/e2e/embed.test.mjs imports
// startExamplesServer and runs it on its own ports. The example pages load
// the snippet from http://127.0.0.1:8787 (make dev's worker); when the worker
// runs elsewhere, that origin is rewritten in the HTML served.

import { createServer } from "node:http";
import { readFile, stat } from "node:fs/promises";
import { extname, join, normalize, resolve, sep } from "node:path";
import { fileURLToPath } from "node:url";

/** The worker origin written in the example pages. */
export const EXAMPLES_WORKER_ORIGIN = "http://127.0.0.1:8787";

export const EXAMPLES_DIR = resolve(fileURLToPath(new URL("../site/examples/", import.meta.url)));

const TYPES = {
  ".html": "text/html; charset=utf-8",
  ".css": "text/css; charset=utf-8",
  ".js": "text/javascript; charset=utf-8",
  ".svg": "image/svg+xml",
  ".png": "image/png",
  ".ico": "image/x-icon",
  ".txt": "text/plain; charset=utf-8",
};

/**
 * The strict policy from the README ("Add checkout to your site") for a site
 * that uses the worker at workerOrigin; sandboxOrigin adds the local Stripe
 * sandbox, whose stand-in for Stripe.js the worker hands out in development.
 */
export function contentSecurityPolicy(workerOrigin, sandboxOrigin) {
  const dev = sandboxOrigin ? ` ${sandboxOrigin}` : "";
  return [
    "default-src 'self'",
    `script-src 'self' ${workerOrigin} https://js.stripe.com https://*.js.stripe.com${dev}`,
    `connect-src 'self' ${workerOrigin} https://api.stripe.com https://checkout.stripe.com${dev}`,
    "frame-src https://js.stripe.com https://*.js.stripe.com https://hooks.stripe.com https://checkout.stripe.com",
    "img-src 'self' https://*.stripe.com",
    "style-src 'self'",
    "object-src 'none'",
    "base-uri 'self'",
    "form-action 'self'",
    "frame-ancestors 'self'",
  ].join("; ");
}

/**
 * Starts the server. Options: port (0 = any free port), host, workerOrigin,
 * sandboxOrigin, root (default site/examples), pages (extra files by URL path,
 * e.g. {"/fixture.html": "<!doctype html>..."}, for tests).
 * Resolves to { origin, close() }.
 */
export async function startExamplesServer({
  port = 0,
  host = "127.0.0.1",
  workerOrigin = EXAMPLES_WORKER_ORIGIN,
  sandboxOrigin = "",
  root = EXAMPLES_DIR,
  pages = {},
} = {}) {
  const csp = contentSecurityPolicy(workerOrigin, sandboxOrigin);
  const server = createServer(async (req, res) => {
    const send = (status, type, body, extra = {}) => {
      res.writeHead(status, {
        "Content-Type": type,
        "Cache-Control": "no-store",
        "X-Content-Type-Options": "nosniff",
        ...extra,
      });
      res.end(req.method === "HEAD" ? undefined : body);
    };
    if (req.method !== "GET" && req.method !== "HEAD") {
      send(405, "text/plain; charset=utf-8", "method not allowed\n", { Allow: "GET, HEAD" });
      return;
    }
    let path;
    try {
      path = decodeURIComponent(new URL(req.url, "http://x").pathname);
    } catch {
      send(400, "text/plain; charset=utf-8", "bad path\n");
      return;
    }
    if (path === "/favicon.ico") {
      send(204, "image/x-icon", "");
      return;
    }
    let body = pages[path];
    let file = path;
    if (body === undefined) {
      file = normalize(join(root, path));
      if (file !== root && !file.startsWith(root + sep)) {
        send(404, "text/plain; charset=utf-8", "not found\n");
        return;
      }
      try {
        if ((await stat(file)).isDirectory()) {
          if (!path.endsWith("/")) {
            send(301, "text/plain; charset=utf-8", "moved\n", { Location: path + "/" });
            return;
          }
          file = join(file, "index.html");
        }
        body = await readFile(file);
      } catch {
        send(404, "text/plain; charset=utf-8", `not found: ${path}\n`);
        return;
      }
    }
    const type = TYPES[extname(file)] ?? "application/octet-stream";
    if (type.startsWith("text/html")) {
      body = String(body).replaceAll(EXAMPLES_WORKER_ORIGIN, workerOrigin);
      send(200, type, body, { "Content-Security-Policy": csp });
    } else {
      send(200, type, body);
    }
  });
  await new Promise((resolveListen, reject) => {
    server.once("error", reject);
    server.listen(port, host, resolveListen);
  });
  const address = server.address();
  return {
    origin: `http://${host}:${address.port}`,
    close: () =>
      new Promise((done) => {
        server.close(() => done());
        server.closeAllConnections?.();
      }),
  };
}

// Command line: serve until interrupted.
if (process.argv[1] && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  const args = process.argv.slice(2);
  const opt = (name, def) => {
    const i = args.indexOf(`--${name}`);
    return i >= 0 && args[i + 1] ? args[i + 1] : def;
  };
  const server = await startExamplesServer({
    port: Number(opt("port", "8790")),
    host: opt("host", "127.0.0.1"),
    workerOrigin: opt("worker", EXAMPLES_WORKER_ORIGIN),
    sandboxOrigin: opt("sandbox", ""),
  });
  console.log(`examples: ${server.origin}/plain.html, ${server.origin}/hugo-shaped/ and the two-page shop ${server.origin}/shop/ (worker ${opt("worker", EXAMPLES_WORKER_ORIGIN)})`);
  const stop = () => server.close().then(() => process.exit(0));
  process.on("SIGINT", stop);
  process.on("SIGTERM", stop);
}
