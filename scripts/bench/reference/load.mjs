// Loading the two sides the bench compares, in Node: a worker build and the
// JavaScript reference. Used by the parity tests (scripts/e2e/reference_*)
// and scripts/bench/nodecpu.mjs.
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "../../..");

// loadBuild loads a worker build (dir: app.wasm, wasm_exec.js, instance.mjs,
// COMPILER) and returns instance.mjs's exports with the compiled module and
// the compiler's name.
export async function loadBuild(dir) {
  await import(pathToFileURL(path.resolve(dir, "wasm_exec.js")).href);
  const instance = await import(pathToFileURL(path.resolve(dir, "instance.mjs")).href);
  const wasm = new WebAssembly.Module(fs.readFileSync(path.join(dir, "app.wasm")));
  const compilerFile = path.join(dir, "COMPILER");
  const compiler = fs.existsSync(compilerFile) ? fs.readFileSync(compilerFile, "utf8").trim() : "?";
  return { ...instance, wasm, compiler };
}

// bundleReference bundles scripts/bench/reference/worker.mjs as the bench's
// wrangler does (stripe-node's "worker" export condition, the catalog
// imported as JSON) into a temporary directory, and returns a function that
// imports a fresh copy of its default export (the reference keeps its state
// per isolate) and one that removes the directory. esbuild's service
// process is stopped before it returns.
export async function bundleReference() {
  const tmp = fs.mkdtempSync(path.join(os.tmpdir(), "bench-reference-"));
  const out = path.join(tmp, "reference.mjs");
  const esbuild = await import(pathToFileURL(path.join(ROOT, "node_modules/esbuild/lib/main.js")).href);
  try {
    await esbuild.build({
      entryPoints: [path.join(ROOT, "scripts/bench/reference/worker.mjs")],
      outfile: out,
      bundle: true,
      format: "esm",
      platform: "node",
      conditions: ["worker"],
      loader: { ".json": "json" },
      logLevel: "error",
      banner: { js: 'import { createRequire as __cr } from "module"; const require = __cr(import.meta.url);' },
    });
  } finally {
    await esbuild.stop();
  }
  let loaded = 0;
  return {
    load: async () => (await import(pathToFileURL(out).href + "?copy=" + ++loaded)).default,
    remove: () => fs.rmSync(tmp, { recursive: true, force: true }),
  };
}
