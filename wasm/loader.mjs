// The worker's JavaScript entry (copied to dist/worker/worker.mjs by the build).
//
// It loads the Go program compiled to WebAssembly (app.wasm) with the
// toolchain's own wasm_exec.js (TinyGo's or Go's, chosen at build time) and
// keeps one Go instance per isolate serving many requests, concurrently when
// they overlap; see instance.mjs. syumai/workers' generated entry instead
// starts a new instance, Go runtime and every package initializer for each
// request, which costs tens of milliseconds of CPU.
//
// GO_INSTANCE=per-request (a wrangler var) restores one instance per request,
// for comparison in benchmarks.
import "./wasm_exec.js";
import wasmModule from "./app.wasm";
// A namespace import: a runtime without the env export (workerd before
// 2025-03) gives undefined here instead of failing to load the worker.
import * as workers from "cloudflare:workers";
import { InstancePool, warmUp } from "./instance.mjs";

// Compile the Go program's code now, at start-up, rather than in the first
// request (see warmUp).
warmUp(wasmModule);

const pool = new InstancePool(wasmModule);
pool.prepare(); // instantiate the first instance's module now, too
// And start it, with the deployment's env, so that the first request only
// serves; where start-up needs what global scope refuses (standard Go's
// runtime reads random bytes), the first request starts it instead.
pool.startEarly(workers.env);

export default {
  fetch(request, env) {
    return pool.fetch(request, env);
  },
};
