// Host tests of how wasm/instance.mjs reads request bodies (readBody and
// GoInstance.handle), with an echoing stand-in for the Go program: no build,
// no wasm, no wrangler. Run by wasm/instance_test.go (go test ./wasm), or:
//
//   node --test wasm/testdata/instance.test.mjs
//
// What they hold to: wrangler dev breaks the next request when a body is read
// in part and then cancelled or abandoned (see readBody), so an oversized
// body must be refused without touching it when its length is declared, and
// read to its end, never cancelled, when it is not.
import { test } from "node:test";
import assert from "node:assert/strict";
import { GoInstance, MAX_REQUEST_BYTES, TOO_LARGE, readBody } from "../instance.mjs";

const MiB = 1 << 20;
const CHUNK = 64 << 10;

// observedBody is a request body of `size` bytes, given out in CHUNK-byte
// chunks, that records what is done to it. highWaterMark 0: nothing is pulled
// until someone reads.
function observedBody(size) {
  const seen = { pulls: 0, sent: 0, closed: false, cancels: 0 };
  const stream = new ReadableStream(
    {
      pull(controller) {
        seen.pulls++;
        if (seen.sent >= size) {
          seen.closed = true;
          controller.close();
          return;
        }
        const n = Math.min(CHUNK, size - seen.sent);
        controller.enqueue(new Uint8Array(n).fill(0x61 + (seen.pulls % 26)));
        seen.sent += n;
      },
      cancel() {
        seen.cancels++;
      },
    },
    { highWaterMark: 0 },
  );
  return { stream, seen };
}

// request is what readBody and handle use of a Request, with arrayBuffer()
// counted. declared: the Content-Length header, or null for a chunked body.
function request(size, declared = size, { method = "POST", path = "/create-checkout-session" } = {}) {
  const { stream, seen } = observedBody(size);
  const headers = new Headers({ "content-type": "application/json" });
  if (declared !== null) headers.set("content-length", String(declared));
  seen.arrayBuffers = 0;
  const req = {
    method,
    url: "http://shop.test" + path,
    headers,
    body: stream,
    async arrayBuffer() {
      seen.arrayBuffers++;
      return new Response(stream).arrayBuffer();
    },
  };
  return { req, seen };
}

// echoInstance is a GoInstance whose "Go program" answers every request with
// its body, and counts the requests that reach it. It speaks the bridge's
// packed messages (instance.mjs): a 64 KiB scratch buffer at 0 in its
// memory, so that larger requests come as a Uint8Array instead; its answer
// is written at 512 KiB.
function echoInstance() {
  const served = [];
  const memory = new WebAssembly.Memory({ initial: 16 }); // 1 MiB
  const SCRATCH = 64 << 10;
  const OUT = 512 << 10;
  const go = {
    exited: false,
    _resume() {},
    run() {
      const bridge = globalThis.context.binding;
      bridge.serve = (id, length, message) => {
        const mem = new Uint8Array(memory.buffer);
        const msg = message === undefined ? mem.slice(0, length) : message;
        assert.equal(msg.byteLength, length);
        let end = 0;
        while (!(msg[end] === 10 && msg[end + 1] === 10)) end++;
        const [first] = new TextDecoder().decode(msg.subarray(0, end)).split("\n");
        const [method, url] = first.split(" ");
        const body = msg.slice(end + 2);
        served.push({ method, url, body, packed: message === undefined });
        const headers = new TextEncoder().encode("content-type: application/octet-stream\n");
        mem.set(headers, OUT);
        mem.set(body, OUT + headers.byteLength);
        bridge.reply(id, 200, OUT, headers.byteLength, OUT + headers.byteLength, body.byteLength);
      };
      bridge.ready(false, 0, SCRATCH);
      return Promise.resolve();
    },
  };
  const instance = { exports: { memory } };
  const inst = new GoInstance(null, {}, { prepared: { go, instance } });
  assert.equal(inst.dead, false);
  return { inst, served };
}

async function assertTooLarge(res) {
  assert.equal(res.status, 413);
  assert.equal(res.headers.get("content-type"), "application/json; charset=utf-8");
  assert.equal(res.headers.get("cache-control"), "no-store");
  assert.deepEqual(await res.json(), {
    error: { code: "body_too_large", message: `request body is larger than ${MAX_REQUEST_BYTES} bytes` },
  });
}

test("the ceiling is the webhook's limit, the largest of Go's", () => {
  assert.equal(MAX_REQUEST_BYTES, 256 << 10); // worker/webhook.go maxWebhookBytes
});

test("readBody: a declared Content-Length over the limit is refused without touching the body", async () => {
  const { req, seen } = request(2 * MiB);
  assert.equal(await readBody(req), TOO_LARGE);
  assert.equal(seen.pulls, 0, "the body was read");
  assert.equal(seen.cancels, 0, "the body was cancelled");
  assert.equal(seen.arrayBuffers, 0);
  assert.equal(req.body.locked, false, "the body was locked by a reader");
});

test("readBody: a Content-Length within the limit is read with one arrayBuffer() call", async () => {
  const { req, seen } = request(10_000);
  const body = await readBody(req);
  assert.ok(body instanceof Uint8Array);
  assert.equal(body.byteLength, 10_000);
  assert.equal(seen.arrayBuffers, 1);
  assert.equal(seen.cancels, 0);
});

test("readBody: a body of exactly the limit is kept, declared or chunked", async () => {
  for (const declared of [MAX_REQUEST_BYTES, null]) {
    const { req, seen } = request(MAX_REQUEST_BYTES, declared);
    const body = await readBody(req);
    assert.ok(body instanceof Uint8Array, `declared ${declared}`);
    assert.equal(body.byteLength, MAX_REQUEST_BYTES);
    assert.equal(seen.cancels, 0);
  }
});

test("readBody: a chunked body over the limit is read to its end, never cancelled, and refused", async () => {
  const { req, seen } = request(2 * MiB, null);
  assert.equal(await readBody(req), TOO_LARGE);
  assert.equal(seen.sent, 2 * MiB, "the body was not read to its end");
  assert.equal(seen.closed, true, "the body was not read to its end");
  assert.equal(seen.cancels, 0, "the body was cancelled after a read");
});

test("readBody: a small chunked body arrives whole, in order", async () => {
  const { req, seen } = request(3 * CHUNK + 5, null);
  const body = await readBody(req);
  assert.equal(body.byteLength, 3 * CHUNK + 5);
  assert.equal(body[0], 0x61 + 1);
  assert.equal(body[CHUNK], 0x61 + 2);
  assert.equal(body[3 * CHUNK + 4], 0x61 + 4);
  assert.equal(seen.cancels, 0);
});

test("handle: a declared oversized body is answered 413 at once; Go never sees it", async () => {
  const { inst, served } = echoInstance();
  const { req, seen } = request(2 * MiB);
  await assertTooLarge(await inst.handle(req));
  assert.equal(served.length, 0);
  assert.equal(seen.pulls, 0, "the body was read");
  assert.equal(seen.cancels, 0, "the body was cancelled");
});

test("handle: a chunked oversized body is read to its end and answered 413; Go never sees it", async () => {
  const { inst, served } = echoInstance();
  const { req, seen } = request(2 * MiB, null, { path: "/webhook" });
  await assertTooLarge(await inst.handle(req));
  assert.equal(served.length, 0);
  assert.equal(seen.closed, true, "the body was not read to its end");
  assert.equal(seen.cancels, 0, "the body was cancelled after a read");
});

test("handle: ordinary bodies still reach Go, before and after refused ones", async () => {
  const { inst, served } = echoInstance();
  const json = '{"items":[{"id":"mug","quantity":1}]}';
  const send = () =>
    inst.handle(new Request("http://shop.test/create-checkout-session", { method: "POST", headers: { "content-type": "application/json" }, body: json }));
  let res = await send();
  assert.equal(res.status, 200);
  assert.equal(await res.text(), json);
  await assertTooLarge(await inst.handle(request(2 * MiB).req));
  await assertTooLarge(await inst.handle(request(2 * MiB, null).req));
  res = await send();
  assert.equal(res.status, 200);
  assert.equal(await res.text(), json);
  const chunked = request(1000, null);
  res = await inst.handle(chunked.req);
  assert.equal(res.status, 200);
  assert.equal((await res.arrayBuffer()).byteLength, 1000);
  assert.equal(served.length, 3);
  assert.equal(inst.dead, false);
});

test("handle: a request larger than Go's scratch buffer crosses as its own message", async () => {
  const { inst, served } = echoInstance();
  const big = new Uint8Array(200 << 10).fill(7); // over the echo's 64 KiB scratch
  let res = await inst.handle(new Request("http://shop.test/webhook", { method: "POST", body: big }));
  assert.equal(res.status, 200);
  assert.deepEqual(new Uint8Array(await res.arrayBuffer()), big);
  res = await inst.handle(new Request("http://shop.test/config?x=1"));
  assert.equal(res.status, 200);
  assert.equal(res.headers.get("content-type"), "application/octet-stream");
  assert.deepEqual(
    served.map((r) => [r.method, r.url, r.body.byteLength, r.packed]),
    [
      ["POST", "http://shop.test/webhook", 200 << 10, false],
      ["GET", "http://shop.test/config?x=1", 0, true],
    ],
  );
});
