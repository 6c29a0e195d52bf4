// One Go program compiled to WebAssembly, kept alive to serve many requests.
//
// Used by loader.mjs (the worker's entry) and by the tests, which load it in
// Node. It expects `globalThis.Go` from the toolchain's own wasm_exec.js
// (TinyGo's or Go's) to be loaded already.
//
// The bridge, as the Go side uses it (wasm/main.go, bridge_js.go,
// message_js.go, fetch_js.go, d1_js.go, ratelimit_js.go). The constructor
// sets globalThis.context to {env, ctx, binding} and runs Go's main, which
// reads context.env (the environment, through syumai/workers'
// cloudflare.Getenv, and the bindings DB, RATE_LIMIT_PAYMENTS and
// RATE_LIMIT_STATUS) and context.binding, the bridge object below. main, in
// this order:
//   - reads bridge.fetch and sets bridge.fetchDone;
//   - only when env.DB has a prepare function: reads bridge.d1 and sets
//     bridge.d1Done;
//   - reads bridge.rateLimit and sets bridge.rateLimitDone;
//   - may call bridge.logOnce (a missing rate-limit binding, a missing
//     DEPLOYMENT_ID);
//   - reads bridge.reply, sets bridge.serve, then calls bridge.ready(neverFrees, scratchPtr,
//     scratchLen): neverFrees is true for the leaking allocator (see Memory
//     below); scratch is the buffer in Go's linear memory where JavaScript
//     writes the messages it sends (below);
//   - blocks forever. go.run returns when main first blocks; if ready has
//     not been called by then, or main exited, the instance is killed.
//
// Requests, answers and Stripe calls cross as packed messages, one per
// direction, with only numbers passed through wasm_exec.js (each string or
// byte array it marshals costs an encode or decode, calls across the
// boundary and a slot in its value table):
//   - JavaScript to Go: the message is written into the scratch buffer and
//     its length passed; a message larger than the buffer is passed as a
//     Uint8Array after the other arguments instead. Go copies it out at once.
//   - Go to JavaScript: Go passes pointers into its linear memory and
//     lengths; JavaScript decodes or copies the bytes before returning.
// A request message is "METHOD URL\n", its header lines ("name: value\n"),
// a blank line, then the body; header lines alone are the same lines.
//
// JavaScript calls Go with:
//   warm(session)
//       set at package initialisation (wasm/warm_js.go), before main; called
//       once, only on an instance started in global scope
//       (InstancePool.startEarly): Go serves canned requests through a
//       handler of its own, with no I/O and no randomness, to build its
//       per-process caches. Nothing is answered.
//   serve(id, length, message?)
//       one request message (above), numbered by id. Go answers exactly
//       once (unless the instance dies), during the call or from a later
//       event, with the bridge's reply(id, ...) (below).
//   fetchDone(id, status, length, timedOut, message?)
//       the answer to fetch: status 0 when it failed, and the message is
//       then the error's text; else an empty line, the answer's header lines,
//       a blank line and its body. timedOut is true when the fetch was
//       aborted at timeoutMs (Go then returns context.DeadlineExceeded).
//   d1Done(id, result, error)
//       result a JSON string: {"changes": n, "last_row_id": n} for mode "run",
//       [[column names], [values]...] (stmt.raw({columnNames: true})) for
//       "raw"; error "" on success, else a message (result is then ignored).
//   rateLimitDone(id, success, error)
//       success a boolean, error "" on success, else a message.
// Go reads every string argument as a string: error must be "", never
// undefined or null. Go keeps no argument of these calls past the call
// (releaseCallbackValues). An answer whose id Go no longer waits for (its
// request's context ended first) is ignored.
//
// Go calls (fetch, d1, rateLimit and reply as plain functions, without
// this, the first three numbering their calls with their own counter from 1
// and expecting one answer per id; logOnce and ready as methods of the
// bridge):
//   reply(id, status, headersPtr, headersLen, bodyPtr, bodyLen)
//       the answer to serve(id, ...): header lines and body in linear
//       memory (length 0: none), copied before it returns.
//   fetch(id, headPtr, headLen, bodyPtr, bodyLen, timeoutMs)
//       head "METHOD URL\n" and header lines, body bytes (bodyLen 0 for
//       none: always for GET and HEAD, and for an empty body), both in
//       linear memory; timeoutMs 0 for no deadline, else the milliseconds
//       left before the request's context expires, less 50 ms (at least 1).
//       Answer: fetchDone.
//   d1(id, binding, mode, sql, params)
//       binding "DB"; mode "run" (exec) or "raw" (query); params a JSON array
//       of numbers, strings and nulls for the ? parameters. Answer: d1Done.
//   rateLimit(id, binding, key)
//       binding "RATE_LIMIT_PAYMENTS" or "RATE_LIMIT_STATUS";
//       env[binding].limit({key}). Answer: rateLimitDone.
//   logOnce(topic, message)
//       logs message once per isolate per topic, however many Go instances
//       the isolate goes through; nothing is answered.
//   ready(neverFrees, scratchPtr, scratchLen)
//       once, at the end of start-up (above).
//
// Memory: standard Go and TinyGo's collecting GCs reuse memory, so their
// instance lives as long as it works. The TinyGo build uses the "leaking"
// allocator (no GC at all; build/worker.go), and says so in ready(true): such
// an instance is retired once its linear memory reaches RETIRE_BYTES. It
// finishes the requests it has, and new requests go to a fresh instance
// (about 1.5 ms of CPU to start, once every several hundred requests).
//
// If the Go program dies (TinyGo cannot recover() on wasm, so any panic ends
// in a trap; standard Go exits), the requests in flight are answered with an
// error and `dead` is set, so the owner starts a new instance.
//
// Request bodies: handle() reads each body here, whole, before Go sees it,
// and refuses one over MAX_REQUEST_BYTES itself with a 413 (the same JSON
// error Go writes) without calling Go. How it reads is chosen so that no body,
// however large or however sent, can hurt the next request: a declared
// Content-Length over the limit is refused without touching the body, and a
// body of unknown length is read to its end, never cancelled (see readBody
// for what was measured in wrangler dev).

// Request bodies larger than this are refused here (413 body_too_large) and
// never reach Go. It is the largest of Go's own per-endpoint limits (the
// webhook's maxWebhookBytes, 256 KiB, in worker/webhook.go; JSON endpoints
// take 16 KiB, worker/respond.go's maxBodyBytes, and Go answers 413 past
// that): a larger body could only be refused by Go, so it is not worth
// holding in memory (the isolate has 128 MB for every request in flight).
// Keep it equal to maxWebhookBytes when that changes.
export const MAX_REQUEST_BYTES = 256 << 10;
// Responses from fetch() (Stripe's API) larger than this are refused.
export const MAX_FETCH_RESPONSE_BYTES = 8 << 20;
// A never-freeing instance is retired once its linear memory reaches this
// (the isolate's limit is 128 MB; the retiring and the new instance overlap
// briefly).
export const RETIRE_BYTES = 32 << 20;
// ... or once it has served this many requests. Without a collecting GC, Go
// never releases its js.Values either, so wasm_exec.js's value table keeps
// every request's JavaScript objects (bodies, headers, callbacks) alive until
// the instance goes; V8's garbage collector then marks them over and over.
// Measured in workerd: retiring after a few hundred requests costs less than
// that marking.
export const RETIRE_REQUESTS = 256;

export function formatHeaders(headers) {
  // forEach, not for-of: no [name, value] array per header (this runs for
  // every request and every Stripe answer).
  let s = "";
  headers.forEach((value, name) => {
    s += name + ": " + value + "\n";
  });
  return s;
}

// headerPairs reads "name: value\n" lines as [name, value] pairs, which
// fetch() and Response take in one call (Headers.append costs a call into
// the runtime per header).
export function headerPairs(s) {
  const pairs = [];
  let start = 0;
  while (start < s.length) {
    let end = s.indexOf("\n", start);
    if (end < 0) end = s.length;
    const i = s.indexOf(": ", start);
    if (i > start && i < end) pairs.push([s.slice(start, i), s.slice(i + 2, end)]);
    start = end + 1;
  }
  return pairs;
}

// Go answers almost every request of an endpoint with the same header lines
// (the API's security headers, the content type), so their parsed form is
// kept, a few dozen at most; Response copies them.
const responseHeaders = new Map();
function cachedHeaders(s) {
  let h = responseHeaders.get(s);
  if (h === undefined) {
    if (responseHeaders.size >= 64) responseHeaders.clear();
    h = headerPairs(s);
    responseHeaders.set(s, h);
  }
  return h;
}

const encoder = new TextEncoder();
const decoder = new TextDecoder();

// TOO_LARGE is what readBody returns for a body over its limit.
export const TOO_LARGE = Symbol("body too large");

// readBody reads the request body whole: a Uint8Array, null when there is
// none, or TOO_LARGE when it is larger than max bytes.
//
//   - Content-Length over max: TOO_LARGE at once; the body is not touched.
//   - Content-Length within max: one arrayBuffer() call, which costs far less
//     in workerd than reading the stream chunk by chunk.
//   - No Content-Length (chunked): the stream is read chunk by chunk to its
//     end; past max the chunks are dropped and the rest is read and thrown
//     away, then TOO_LARGE. Never cancelled, never left half-read.
//
// Why, as measured in wrangler dev 4.86.0 (workerd, compatibility_date
// 2026-04-01) with a bare JS worker: a 2 MiB POST, then a plain GET, each way
// with Content-Length and chunked (curl, with and without
// "Expect: 100-continue"), every approach tried 2 to 4 times:
//   - read past 256 KiB, then reader.cancel() (what this function did): every
//     time, either the next request got no answer within 10 s or the POST
//     itself got a 503.
//   - read past 256 KiB, then answer without cancelling (reader's lock
//     released or kept, or the rest read in ctx.waitUntil after answering):
//     the same, most times.
//   - body.cancel() without reading anything: the same, 7 times in 8 when the
//     body was on its way (fine only while curl still waited for
//     100 Continue and so never sent it).
//   - answer without touching the body, Content-Length or chunked: the next
//     request always fine (also with 64 MiB).
//   - read to the end, then answer (reader loop, or pipeTo a discarding
//     WritableStream), Content-Length or chunked: the next request always
//     fine; a 64 MiB chunked body took 0.7 s, and about as much workerd CPU
//     as not reading it (wrangler's proxy reads the whole body either way).
// The bad-input suite (scripts/e2e/hardening/badinput_test.go) checks the same through
// this loader: with the old cancel, the GET after each 2 MiB POST timed out.
// On Cloudflare itself the edge refuses bodies over the plan's limit (100 MB
// on Free and Pro), which bounds the reading to the end.
export async function readBody(request, max = MAX_REQUEST_BYTES) {
  if (request.body === null) return null;
  const length = request.headers.get("content-length");
  if (length !== null && /^[0-9]+$/.test(length)) {
    if (Number(length) > max) return TOO_LARGE;
    const buf = await request.arrayBuffer();
    return buf.byteLength <= max ? new Uint8Array(buf) : TOO_LARGE; // longer than it said
  }
  const reader = request.body.getReader();
  let chunks = [];
  let size = 0;
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    size += value.byteLength;
    if (size <= max) chunks.push(value);
    else chunks = null; // read on to the end, keeping nothing
  }
  if (size > max) return TOO_LARGE;
  if (chunks.length === 1) return chunks[0];
  const body = new Uint8Array(size);
  let off = 0;
  for (const c of chunks) {
    body.set(c, off);
    off += c.byteLength;
  }
  return body;
}

// API_HEADERS are the headers Go puts on every answer it writes
// (worker/headers.go's apiSecurityHeaders, plus the JSON content type); keep
// them the same.
const API_HEADERS = [
  ["content-type", "application/json; charset=utf-8"],
  ["content-security-policy", "default-src 'none'; frame-ancestors 'none'"],
  ["x-frame-options", "DENY"],
  ["x-content-type-options", "nosniff"],
  ["referrer-policy", "no-referrer"],
  ["cross-origin-resource-policy", "same-origin"],
  ["cache-control", "no-store"],
];

// errorResponse is an error answer in the shape Go writes
// ({"error":{"code","message"}}, worker/respond.go), for the answers made
// here without Go. It carries no CORS headers: a page on another site sees
// such an answer as a failed fetch.
function errorResponse(status, code, message) {
  return new Response(JSON.stringify({ error: { code, message } }) + "\n", { status, headers: API_HEADERS });
}

// bodyTooLarge is the 413 for a body over max bytes (Go's own wording).
export function bodyTooLarge(max = MAX_REQUEST_BYTES) {
  return errorResponse(413, "body_too_large", `request body is larger than ${max} bytes`);
}

const NULL_BODY_STATUS = new Set([101, 204, 205, 304]);

// Topics already logged by bridge.logOnce in this isolate.
const loggedOnce = new Set();

export class GoInstance {
  // module: a compiled WebAssembly.Module; env: the Workers env object.
  //
  // No promise here outlives the request that created it: workerd cancels the
  // continuations of a promise settled after its creating request has
  // finished. Each request's answer is settled directly (by Go's reply, or by
  // kill() through `inflight`), and the instance's death is noticed
  // synchronously after every call into Go.
  // prepared: a {go, instance, clock} from prepareInstance, instantiated
  // earlier (the pool prepares its first one in global scope). quiet: logOnce
  // logs nothing (warmUp's throw-away instance). globalScope: the instance
  // starts in the worker's global scope (InstancePool.startEarly), whose
  // clock is not a request's: Go's clock is set again at its first request.
  constructor(module, env, { fetch = globalThis.fetch, retireBytes = RETIRE_BYTES, retireRequests = RETIRE_REQUESTS, zeroRandom = false, prepared = null, quiet = false, globalScope = false } = {}) {
    this.dead = false;
    this.retiring = false; // set once a never-freeing instance is past retireBytes
    this.neverFrees = false;
    this.retireBytes = retireBytes;
    this.retireRequests = retireRequests;
    this.requests = 0;
    this.inflight = new Set(); // reject functions of requests awaiting Go
    this.replies = new Map(); // request id -> the function that takes Go's answer
    this.lastID = 0;
    let ready = false;
    this.scratch = null; // {ptr, len} of Go's scratch buffer

    const bridge = {
      ready: (neverFrees, scratchPtr, scratchLen) => {
        ready = true;
        this.neverFrees = neverFrees === true;
        // Go's values are never released without a collecting GC, so
        // the callbacks' own are released here (releaseCallbackValues).
        this.go.releaseCallbackValues = this.neverFrees;
        if (scratchLen > 0) this.scratch = { ptr: scratchPtr, len: scratchLen };
      },
      // Go's answer to serve(id, ...): header lines and body in linear
      // memory, copied before this returns.
      reply: (id, status, headersPtr, headersLen, bodyPtr, bodyLen) => {
        const reply = this.replies.get(id);
        if (reply === undefined) return;
        this.replies.delete(id);
        const mem = this.bytes();
        reply(status, decoder.decode(mem.subarray(headersPtr, headersPtr + headersLen)), bodyLen ? mem.slice(bodyPtr, bodyPtr + bodyLen) : null);
      },
      // timeoutMs > 0: the fetch is aborted then, and answered with
      // timedOut; the timer runs in this request's own context (see handle).
      fetch: (id, headPtr, headLen, bodyPtr, bodyLen, timeoutMs) => {
        const mem = this.bytes();
        const head = decoder.decode(mem.subarray(headPtr, headPtr + headLen));
        const nl = head.indexOf("\n");
        const first = nl < 0 ? head : head.slice(0, nl);
        const sp = first.indexOf(" ");
        const method = first.slice(0, sp);
        const url = first.slice(sp + 1);
        const init = { method, headers: headerPairs(nl < 0 ? "" : head.slice(nl + 1)), redirect: "follow" };
        if (bodyLen > 0) init.body = mem.slice(bodyPtr, bodyPtr + bodyLen);
        // The deadline is a timer cleared when the fetch settles, not
        // AbortSignal.timeout(): its signal, and the fetch it is attached to,
        // stay alive until the timer fires (the Stripe client's 15 s), so at
        // 100 requests a second 1,500 finished fetches were kept (measured in
        // Node: ~2.3 KB a call, marked again at every major GC).
        let timer;
        if (timeoutMs > 0) {
          try {
            const abort = new AbortController();
            timer = setTimeout(() => abort.abort(new DOMException("fetch deadline", "TimeoutError")), timeoutMs);
            init.signal = abort.signal;
          } catch {
            // Global scope (warmUp): no timers, and no real fetch either.
          }
        }
        fetch(url, init)
          .then(async (res) => {
            const len = Number(res.headers.get("content-length") || 0);
            if (len > MAX_FETCH_RESPONSE_BYTES) throw new Error(`response of ${len} bytes is too large`);
            const buf = new Uint8Array(await res.arrayBuffer());
            if (buf.byteLength > MAX_FETCH_RESPONSE_BYTES) throw new Error("response is too large");
            return [res.status, "\n" + formatHeaders(res.headers) + "\n", buf, false];
          })
          .catch((err) => [0, String((err && err.message) || err) || "fetch failed", null, !!(err && err.name === "TimeoutError")])
          .then(([status, head, body, timedOut]) => {
            clearTimeout(timer);
            if (this.dead) return;
            const [length, message] = this.pack(head, body);
            if (message === undefined) this.bridge.fetchDone(id, status, length, timedOut);
            else this.bridge.fetchDone(id, status, length, timedOut, message);
          })
          .catch((err) => this.kill(err));
      },
      d1: (id, binding, mode, sql, params) => {
        this.releaseArgs(binding, mode, sql, params);
        Promise.resolve()
          .then(() => {
            const db = env[binding];
            if (!db || typeof db.prepare !== "function") throw new Error(`no D1 database is bound as ${binding}`);
            const stmt = db.prepare(sql).bind(...JSON.parse(params));
            return mode === "raw" ? stmt.raw({ columnNames: true }) : stmt.run();
          })
          .then((res) => {
            const out = mode === "raw" ? res : { changes: res.meta.changes, last_row_id: res.meta.last_row_id };
            return [JSON.stringify(out), ""];
          })
          .catch((err) => ["", String((err && err.message) || err) || "D1 statement failed"])
          .then((result) => {
            if (!this.dead) this.bridge.d1Done(id, ...result);
          })
          .catch((err) => this.kill(err));
      },
      // One check of a Workers Rate Limiting binding: env[binding].limit({key}).
      // rateLimit(id, binding, key, timeoutMs): the binding's answer, or an
      // error once timeoutMs have passed (Go arms no timer of its own for
      // it: wasm/ratelimit_js.go); the timer is cleared when the binding
      // answers first.
      rateLimit: (id, binding, key, timeoutMs) => {
        this.releaseArgs(binding, key);
        let timer;
        Promise.resolve()
          .then(() => {
            const rl = env[binding];
            if (!rl || typeof rl.limit !== "function") throw new Error(`no rate limiting binding is named ${binding}`);
            const limit = rl.limit({ key });
            if (!(timeoutMs > 0)) return limit;
            const late = new Promise((_, reject) => {
              timer = setTimeout(() => reject(new Error(`no answer within ${timeoutMs} ms`)), timeoutMs);
            });
            return Promise.race([limit, late]);
          })
          .then((res) => {
            if (!res || typeof res.success !== "boolean") throw new Error("limit() answered without a success flag");
            return [res.success, ""];
          })
          .catch((err) => [false, String((err && err.message) || err) || "rate limit check failed"])
          .then((result) => {
            clearTimeout(timer);
            if (!this.dead) this.bridge.rateLimitDone(id, ...result);
          })
          .catch((err) => this.kill(err));
      },
      logOnce: (topic, message) => {
        if (quiet || loggedOnce.has(topic)) return;
        loggedOnce.add(topic);
        console.warn(message);
      },
    };
    this.bridge = bridge;

    const { go, instance, clock } = prepared || prepareInstance(module, { zeroRandom });
    this.go = go;
    this.clock = clock;
    this.clockUnset = globalScope;
    // Every call from JavaScript into Go goes through _resume: a trap there
    // (TinyGo panics end in `unreachable`) or an exit (standard Go's panics)
    // means the instance is gone.
    const resume = go._resume.bind(go);
    go._resume = () => {
      // A dead instance ignores what is still scheduled for it, such as the
      // timeout event of a Go timer (a Stripe call's deadline; see kill).
      if (this.dead) {
        go._scheduledTimeouts?.clear();
        return;
      }
      try {
        resume();
      } catch (err) {
        this.kill(err);
        throw err;
      }
      if (go.exited) this.kill(new Error("Go program exited"));
    };
    this.memory = instance.exports.memory || instance.exports.mem;
    // Go reads globalThis.context while main runs, inside go.run below:
    // syumai/workers' cloudflare.Getenv reads context.env, and main finds the
    // bridge at context.binding. main runs synchronously until it blocks
    // waiting for requests, having called bridge.ready().
    globalThis.context = { env, ctx: undefined, binding: bridge };
    try {
      go.run(instance).catch(() => {});
    } catch (err) {
      this.kill(err);
    }
    if (go.exited) this.kill(new Error("Go program exited during start-up"));
    else if (!ready && !this.dead) this.kill(new Error("Go program did not register its handler"));
  }

  // releaseArgs gives back the references Go made for the strings it passed
  // to a bridge function (syscall/js makes one per string argument of each
  // call and, without a collecting GC, never releases it: a D1 statement's
  // parameters or a client's rate-limit key stayed in the value table until
  // the instance retired). Go keeps none of them past the call.
  releaseArgs(...values) {
    if (!this.go.releaseCallbackValues) return;
    for (const v of values) releaseValue(this.go, v);
  }

  kill(reason) {
    if (this.dead) return;
    this.dead = true;
    // Nothing scheduled may wake a dead program. Go's wasm_exec.js keeps its
    // timeout events in _scheduledTimeouts (and retries one until Go has
    // taken it); TinyGo's wakes its scheduler from timers directly unless the
    // program has exited, and a trapped one has not.
    const timeouts = this.go._scheduledTimeouts;
    if (timeouts) {
      for (const t of timeouts.values()) clearTimeout(t);
      timeouts.clear();
    }
    this.go.exited = true;
    this.deathReason = reason instanceof Error ? reason : new Error(String(reason));
    for (const reject of this.inflight) reject(this.deathReason);
    this.inflight.clear();
    this.replies.clear();
  }

  // bytes is a view of the instance's linear memory (made anew each time:
  // growing the memory detaches the old buffer).
  bytes() {
    return new Uint8Array(this.memory.buffer);
  }

  // pack writes a message for Go: head (a string) then body (a Uint8Array or
  // null) into Go's scratch buffer, returning [length]; or, when it does not
  // fit, [length, message] with the message as a new Uint8Array.
  pack(head, body) {
    const bodyLen = body ? body.byteLength : 0;
    const s = this.scratch;
    // A UTF-16 code unit takes at most 3 bytes in UTF-8.
    if (s !== null && head.length * 3 + bodyLen <= s.len) {
      const mem = this.bytes();
      const { written } = encoder.encodeInto(head, mem.subarray(s.ptr, s.ptr + s.len));
      if (bodyLen) mem.set(body, s.ptr + written);
      return [written + bodyLen];
    }
    const h = encoder.encode(head);
    const message = new Uint8Array(h.byteLength + bodyLen);
    message.set(h);
    if (bodyLen) message.set(body, h.byteLength);
    return [message.byteLength, message];
  }

  // send passes one request to Go: reply(status, headers, body) gets its
  // answer (headers as "name: value\n" lines, body a Uint8Array or null).
  //
  // Go gets a number for the request, not the reply function: a function
  // passed to Go stays in wasm_exec.js's value table until Go releases it,
  // which TinyGo's leaking allocator never does, and it kept the request's
  // whole closure (the Request, its body) alive until the instance retired.
  send(method, url, headers, body, reply) {
    const [length, message] = this.pack(method + " " + url + "\n" + headers + "\n", body);
    const id = ++this.lastID;
    this.replies.set(id, reply);
    if (message === undefined) this.bridge.serve(id, length);
    else this.bridge.serve(id, length, message);
  }

  // handle serves one Request and resolves to a Response; it rejects if the
  // instance dies first.
  async handle(request) {
    if (this.dead) throw this.deathReason;
    const body = request.method === "GET" || request.method === "HEAD" ? null : await readBody(request);
    if (body === TOO_LARGE) return bodyTooLarge();
    if (this.dead) throw this.deathReason;
    if (this.clockUnset) {
      this.clockUnset = false;
      this.clock.reset();
    }
    this.requests++;
    const [status, headers, resBody] = await new Promise((resolve, reject) => {
      this.inflight.add(reject);
      this.send(request.method, request.url, formatHeaders(request.headers), body, (status, headers, resBody) => {
        this.inflight.delete(reject);
        if (this.neverFrees && (this.requests >= this.retireRequests || this.memoryBytes() >= this.retireBytes)) this.retiring = true;
        // Only data crosses here. Go may answer from another request's event
        // (a goroutine woken by a Go timer, such as a Stripe call's deadline,
        // runs in whichever event woke Go), and a Response made there belongs
        // to that request: workerd refuses it here ("Cannot perform I/O on
        // behalf of a different request"). It is made below, in this
        // request's own continuation.
        resolve([status, headers, resBody]);
      });
    });
    return new Response(NULL_BODY_STATUS.has(status) || request.method === "HEAD" ? null : resBody, { status, headers: cachedHeaders(headers) });
  }

  // memoryBytes is the size of the instance's linear memory (it never shrinks).
  memoryBytes() {
    return this.memory ? this.memory.buffer.byteLength : 0;
  }
}

// prepareInstance instantiates the module for a new Go object without running
// any Go code. In workerd, instantiating is a large part of an instance's
// start-up (about half of the first request's CPU when done there), and it
// needs nothing from a request, so the pool does its first one in global
// scope (InstancePool.prepare, called by loader.mjs).
export function prepareInstance(module, { zeroRandom = false } = {}) {
  const go = new Go();
  releaseCallbackValues(go);
  const clock = withRequestClock(go.importObject);
  if (zeroRandom) withZeroRandom(go.importObject);
  return { go, instance: new WebAssembly.Instance(module, go.importObject), clock };
}

// releaseCallbackValues makes each call from JavaScript into a Go callback
// (js.FuncOf: serve, fetchDone, d1Done, rateLimitDone, warm) release the
// values Go took from it, once go.releaseCallbackValues is set (GoInstance
// sets it when Go's ready() says its allocator never frees).
//
// Why: syscall/js's handleEvent takes a reference in wasm_exec.js's value
// table to the call's event object, its `this` and its arguments object,
// and one to each argument that is an object or a string, and Go gives a
// reference back only through a finalizer, which TinyGo never runs: so every
// call left them in the table, alive until the instance retired (measured
// in Node, with the reply functions gone: the table and what it held grew by
// ~0.4 KB per request, all of it marked again at every major GC).
//
// The contract this relies on, kept by wasm/*_js.go: a Go callback uses its
// arguments during the call and keeps no js.Value of them (the request's
// message is copied at once; answers are numbers, strings read with
// String(), or copied bytes). A call is released once its callback has
// returned (handleEvent then sets the event's result), at the end of the
// call or, for a callback that blocked, after a later one. Standard Go's
// finalizers do release their references, so its instance never sets the
// flag and nothing is released twice.
function releaseCallbackValues(go) {
  const release = (v) => releaseValue(go, v);
  // What handleEvent took: the event, this, the arguments object and each
  // argument it indexed (numbers, booleans, null and undefined have no
  // reference: release skips them).
  const releaseEvent = (event) => {
    for (let i = 0; i < event.args.length; i++) release(event.args[i]);
    release(event.args);
    release(event.this);
    release(event);
  };
  const has = (event) => Object.prototype.hasOwnProperty.call(event, "result");
  // Calls whose Go callback had not returned when the call did: a request
  // runs on the goroutine its serve() call started (wasm/spawn_tinygo.go)
  // and returns once it is answered, from a later event.
  const unfinished = new Set();
  const wrap = go._makeFuncWrapper;
  go._makeFuncWrapper = function (id) {
    if (!go._ids || !go._goRefCounts) return wrap.call(this, id); // not the wasm_exec.js this expects
    return function () {
      const event = { id, this: this, args: arguments };
      go._pendingEvent = event;
      go._resume();
      if (go.releaseCallbackValues) {
        if (has(event)) releaseEvent(event);
        else unfinished.add(event);
        for (const e of unfinished) {
          if (has(e)) {
            unfinished.delete(e);
            releaseEvent(e);
          }
        }
      }
      return event.result;
    };
  };
}

// releaseValue gives back one of Go's references to v in wasm_exec.js's value
// table, as Go's finalizers would (syscall/js.finalizeRef); v leaves the
// table with its last reference. Values without a reference (numbers,
// booleans, null, undefined) are skipped.
function releaseValue(go, v) {
  const id = go._ids && go._ids.get(v);
  if (id === undefined || go._goRefCounts[id] === undefined) return;
  if (--go._goRefCounts[id] === 0) {
    go._values[id] = null;
    go._ids.delete(v);
    go._idPool.push(id);
  }
}

// withRequestClock replaces TinyGo's clock import, which adds performance.now()
// to an origin that wasm_exec.js's Go constructor takes from Date.now() -
// performance.now(). In workerd's global scope those clocks do not agree with
// a request's (a Go object made there read the year 2083 later, and every
// webhook signature looked stale), so the origin is taken at the first call
// instead. An instance started in global scope (InstancePool.startEarly)
// reads the clock there too (Go's time package takes its monotonic base at
// start-up), so its GoInstance calls reset() at its first request and the
// origin is taken again there: wall time is then a request's, and only a
// duration measured across that moment (none is: no timer can be armed in
// global scope) would be wrong. (Standard Go's wasm_exec.js reads wall time
// from Date directly and uses the origin only for its monotonic clock, where
// a constant offset does not matter.) Returns {reset}.
function withRequestClock(importObject) {
  const gojs = importObject.gojs;
  if (!gojs || typeof gojs["runtime.ticks"] !== "function") return { reset() {} };
  let origin = null;
  gojs["runtime.ticks"] = () => {
    if (origin === null) origin = Date.now() - performance.now();
    return BigInt(Math.round((origin + performance.now()) * 1e6));
  };
  return {
    reset() {
      origin = null;
    },
  };
}

// withZeroRandom makes the Go runtime's random-number imports (Go's
// runtime.getRandomData, WASI's random_get under TinyGo) answer zeros where
// the platform refuses randomness, as workerd does in global scope. Only
// warmUp uses it: an instance seeded with zeros would hash and pick
// "random" values predictably, so it must never serve a request.
function withZeroRandom(importObject) {
  for (const ns of Object.values(importObject)) {
    for (const name of Object.keys(ns)) {
      if (name !== "random_get" && !name.endsWith(".getRandomData")) continue;
      const real = ns[name];
      ns[name] = (...args) => {
        try {
          return real(...args);
        } catch {
          return 0; // WASI success; the buffer stays zero
        }
      };
    }
  }
}

// warmUp runs a throw-away instance through start-up and a few requests
// (GET /config; POST /create-checkout-session empty, refused and with a
// valid cart of the catalog's first product; POST /create-confirm-intent;
// GET /session-status) whose
// Stripe calls get a canned Checkout Session, without any I/O. V8 compiles a
// WebAssembly function on its first call and keeps the code for every
// instance of the module, so each path warmed here is one the first request
// does not compile. It is called in the worker's global scope (loader.mjs), at
// deployment start-up, so that V8 has compiled the Go program's start-up and
// request code before the first request arrives; the first request then
// costs about what later ones do. The instance is discarded and nothing it
// does is observable. Errors are ignored: warming up is only an optimisation.
// WARM_SESSION is the canned answer to every Stripe call of a warm-up: this
// throw-away instance's and the early instance's own (bridge.warm,
// wasm/warm_js.go, which gets it from here). It has the shape of Stripe's
// answer to the worker's create call for a product with shipping and a
// dropdown field (the fields Stripe sends, nulls, numbers, nested objects and
// lists), not just the few fields the worker reads: decoding a real answer
// runs code that decoding a five-field one never reaches (skipping unknown
// objects and lists, storing numbers and booleans, custom fields, shipping
// cost), and whatever the warm-up leaves unrun is first run, and paid for, in
// the first request. Measured with `make bench` (-n 1, 8 rounds, one run):
// first request 1.5-2 ms less main-thread CPU in 6 rounds of 7 (wasm/README.md).
const WARM_SESSION = JSON.stringify({
  id: "cs_test_warmup",
  object: "checkout.session",
  adaptive_pricing: { enabled: true },
  after_expiration: null,
  allow_promotion_codes: true,
  amount_subtotal: 2000,
  amount_total: 2000,
  automatic_tax: { enabled: false, liability: null, provider: null, status: null },
  billing_address_collection: null,
  cancel_url: null,
  client_reference_id: "ord_0000000000000000",
  client_secret: "cs_test_warmup_secret_warmup",
  collected_information: null,
  consent: null,
  consent_collection: null,
  created: 1764720000,
  currency: "usd",
  currency_conversion: null,
  custom_fields: [
    {
      dropdown: { default_value: null, options: [{ label: "Small", value: "S" }, { label: "Medium", value: "M" }], value: null },
      key: "size",
      label: { custom: "Size", type: "custom" },
      optional: false,
      type: "dropdown",
    },
  ],
  custom_text: { after_submit: null, shipping_address: null, submit: null, terms_of_service_acceptance: null },
  customer: null,
  customer_creation: "if_required",
  customer_details: null,
  customer_email: null,
  discounts: [],
  expires_at: 1764721920,
  invoice: null,
  invoice_creation: { enabled: false, invoice_data: { account_tax_ids: null, custom_fields: null, description: null, footer: null, issuer: null, metadata: {}, rendering_options: null } },
  livemode: false,
  locale: null,
  metadata: { kit_cart: "warmup:1:2000", kit_flow: "checkout", kit_order: "ord_0000000000000000" },
  mode: "payment",
  payment_intent: null,
  payment_link: null,
  payment_method_collection: "if_required",
  payment_method_configuration_details: { id: "pmc_warmup", parent: null },
  payment_method_options: { card: { request_three_d_secure: "automatic" } },
  payment_method_types: ["card", "link"],
  payment_status: "unpaid",
  phone_number_collection: { enabled: false },
  recovered_from: null,
  saved_payment_method_options: null,
  setup_intent: null,
  shipping_address_collection: { allowed_countries: ["DE", "US"] },
  shipping_cost: { amount_subtotal: 500, amount_tax: 0, amount_total: 500, shipping_rate: "shr_warmup" },
  shipping_options: [{ shipping_amount: 500, shipping_rate: "shr_warmup" }],
  status: "open",
  submit_type: null,
  subscription: null,
  success_url: null,
  total_details: { amount_discount: 0, amount_shipping: 500, amount_tax: 0 },
  ui_mode: "embedded",
  url: null,
  wallet_options: null,
});

export function warmUp(module) {
  const session = encoder.encode(WARM_SESSION);
  const headers = new Headers({ "content-type": "application/json", "request-id": "req_warmup" });
  const fakeFetch = () => Promise.resolve({ status: 200, headers, arrayBuffer: () => Promise.resolve(session.buffer) });
  const env = { STRIPE_SECRET_KEY: "sk_test_warmup", STRIPE_API_BASE: "https://warm-up.invalid" };
  // Go arms JavaScript timeouts for its timers (a Stripe call's deadline),
  // which workerd refuses in global scope; the throw-away instance's timers
  // need never fire, so they are not armed.
  const { setTimeout: realSetTimeout, clearTimeout: realClearTimeout } = globalThis;
  globalThis.setTimeout = () => 0;
  globalThis.clearTimeout = () => {};
  try {
    // quiet: this env has no rate-limiting bindings (a check would make the
    // Stripe call wait for a promise, past the end of warmUp and its timer
    // stubs), and their absence must not be logged for the real one's.
    const inst = new GoInstance(module, env, { fetch: fakeFetch, zeroRandom: true, quiet: true });
    if (inst.dead) return false;
    const base = "https://warm-up.invalid";
    const ignore = () => {};
    const json = "content-type: application/json\n";
    // Through handle() once, for the JavaScript side of a request; then
    // straight to Go, whose bodies need no stream reading. /config answers
    // at once (no I/O), with the catalog's first product for a valid cart.
    inst.handle(new Request(base + "/config")).catch(ignore);
    let item = "";
    inst.send("GET", base + "/config", "", null, (status, headers, body) => {
      try {
        item = JSON.parse(decoder.decode(body)).catalog[0].id;
      } catch {
        // no catalog: the refused carts below still warm most of the path
      }
    });
    const cart = JSON.stringify({ items: [{ id: item, quantity: 1 }] });
    inst.send("POST", base + "/create-checkout-session", "", null, ignore);
    inst.send("POST", base + "/create-checkout-session", json, encoder.encode('{"items":[]}'), ignore);
    // A valid cart: the whole create path, its Stripe call answered with
    // the canned session.
    inst.send("POST", base + "/create-checkout-session", json, encoder.encode(cart), ignore);
    inst.send("POST", base + "/create-confirm-intent", json, encoder.encode(JSON.stringify({ items: [{ id: item, quantity: 1 }], confirmationToken: "ctoken_warmup" })), ignore);
    inst.send("GET", base + "/session-status?session_id=cs_test_warmup", "", null, ignore);
    // (No webhook: Go logs every refused one, and the warm-up must log
    // nothing.)
    return !inst.dead;
  } catch {
    return false;
  } finally {
    globalThis.setTimeout = realSetTimeout;
    globalThis.clearTimeout = realClearTimeout;
  }
}

export function internalError() {
  return errorResponse(500, "internal_error", "internal error; please try again");
}

// InstancePool hands out the shared instance, replacing it when it dies or
// retires.
// perRequest (GO_INSTANCE=per-request) starts a new one every time instead,
// for comparison in benchmarks.
export class InstancePool {
  // options are passed to each GoInstance (tests give their own fetch).
  constructor(module, options = {}) {
    this.module = module;
    this.options = options;
    this.shared = null;
    this.started = 0;
    this.retired = 0;
    this.spare = null; // a prepared {go, instance, clock} for the next GoInstance
    this.earlyFailure = null; // why startEarly could not start an instance
  }

  // prepare instantiates the module ahead of the first request (see
  // prepareInstance).
  prepare() {
    this.spare = prepareInstance(this.module);
  }

  // startEarly starts the first Go instance now, in the worker's global
  // scope (loader.mjs, after warmUp), with env, the Workers env object that
  // loader.mjs imports from "cloudflare:workers": the first request then only
  // serves, instead of also paying the Go runtime's start-up, package
  // initialisation and main (the catalog, the routes), nor building the
  // instance's own caches (bridge.warm, wasm/warm_js.go).
  //
  // It works only when start-up needs nothing workerd refuses in global scope:
  // randomness (the TinyGo build defers seeding its runtime to the first
  // request: build/worker.go, wasm/seed_tinygo.go; standard Go's runtime
  // reads random bytes at start-up, so it always falls back) and timers.
  // crypto.getRandomValues and setTimeout throw there, which kills the
  // instance at once: it is discarded and the first request starts one, as
  // without startEarly. The randomness an instance gets is therefore always
  // real (wasi-libc seeds arc4random, crypto/rand's source, from random_get on
  // first use, never from anything else). Returns whether it started.
  startEarly(env) {
    if (this.shared !== null || !env || typeof env !== "object") return false;
    try {
      if (env.GO_INSTANCE === "per-request") return false;
      const prepared = this.spare || prepareInstance(this.module);
      this.spare = null;
      const inst = new GoInstance(this.module, env, { ...this.options, prepared, globalScope: true });
      // Then its own per-process caches (wasm/warm_js.go: canned requests
      // through a second handler, no I/O); a failure there kills it too.
      if (!inst.dead && typeof inst.bridge.warm === "function") {
        try {
          inst.bridge.warm(WARM_SESSION);
        } catch (err) {
          inst.kill(err);
        }
      }
      if (inst.dead) {
        this.earlyFailure = inst.deathReason;
        this.prepare(); // the failed start used the prepared instantiation
        return false;
      }
      this.started++;
      this.shared = inst;
      return true;
    } catch (err) {
      this.earlyFailure = err;
      return false;
    }
  }

  newInstance(env) {
    this.started++;
    const prepared = this.spare;
    this.spare = null;
    return new GoInstance(this.module, env, prepared ? { ...this.options, prepared } : this.options);
  }

  get(env) {
    if (env.GO_INSTANCE === "per-request") return this.newInstance(env);
    if (this.shared === null || this.shared.dead || this.shared.retiring) {
      if (this.shared !== null && this.shared.retiring && !this.shared.dead) this.retired++;
      this.shared = this.newInstance(env);
    }
    return this.shared;
  }

  async fetch(request, env) {
    try {
      return await this.get(env).handle(request);
    } catch (err) {
      console.error("worker instance failed:", (err && err.stack) || err);
      return internalError();
    }
  }
}
