// The worker's JavaScript entry (copied to dist/worker/worker.mjs by the build).
//
// It loads the Go program compiled to WebAssembly (app.wasm) with the
// toolchain's own wasm_exec.js (TinyGo's or Go's, chosen at build time) and
// hands requests to the handler that syumai/workers registers on
// `context.binding`.
//
// Unlike syumai/workers' generated entry, which starts a new WebAssembly
// instance and Go runtime for every request, this keeps one Go instance per
// isolate and sends it many requests, concurrently if they overlap. If the Go
// program ever dies (a panic that escaped recovery, a trap, an exit), the
// requests in flight get a 500 and the next request starts a fresh instance.
//
// GO_INSTANCE=per-request (a wrangler var) restores one instance per request,
// for comparison in benchmarks.
import "./wasm_exec.js";
import wasmModule from "./app.wasm";

// syumai/workers' socket helper calls globalThis.tryCatch.
globalThis.tryCatch ??= (fn) => {
  try {
    return { result: fn() };
  } catch (error) {
    return { error };
  }
};

let shared = null;

class GoInstance {
  constructor(env) {
    this.binding = {};
    this.dead = false;
    let resolveReady;
    let rejectDied;
    this.ready = new Promise((resolve) => (resolveReady = resolve));
    // Settles (rejects) only when the instance dies; requests race against it.
    this.died = new Promise((_, reject) => (rejectDied = reject));
    this.died.catch(() => {});
    this.kill = (reason) => {
      if (this.dead) return;
      this.dead = true;
      rejectDied(reason instanceof Error ? reason : new Error(String(reason)));
    };

    const go = new Go();
    // Every call from JavaScript into Go goes through _resume; a trap there
    // (TinyGo panics end in `unreachable`) means the instance is gone.
    const resume = go._resume.bind(go);
    go._resume = () => {
      try {
        resume();
      } catch (err) {
        this.kill(err);
        throw err;
      }
    };
    const instance = new WebAssembly.Instance(wasmModule, {
      ...go.importObject,
      workers: { ready: () => resolveReady() },
    });
    // syumai/workers reads globalThis.context once, while Go's package
    // initializers run inside go.run below; the env object is per isolate.
    globalThis.context = { env, ctx: undefined, binding: this.binding };
    try {
      go.run(instance).then(
        () => this.kill(new Error("Go program exited")),
        (err) => this.kill(err),
      );
    } catch (err) {
      this.kill(err);
    }
    this.ready = Promise.race([this.ready, this.died]);
  }

  async handle(request) {
    await this.ready;
    return Promise.race([this.binding.handleRequest(request), this.died]);
  }
}

function instanceFor(env) {
  if (env.GO_INSTANCE === "per-request") return new GoInstance(env);
  if (shared === null || shared.dead) shared = new GoInstance(env);
  return shared;
}

function internalError(err) {
  console.error("worker instance failed:", err && err.stack ? err.stack : err);
  return new Response(
    JSON.stringify({ error: { code: "internal_error", message: "internal error; please try again" } }) + "\n",
    { status: 500, headers: { "content-type": "application/json; charset=utf-8", "cache-control": "no-store" } },
  );
}

export default {
  async fetch(request, env) {
    try {
      return await instanceFor(env).handle(request);
    } catch (err) {
      return internalError(err);
    }
  },
};
