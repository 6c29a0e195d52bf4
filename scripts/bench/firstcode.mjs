// firstcode.mjs: what the first request of a warm isolate compiles again
// after V8 has dropped its baseline (Liftoff) WebAssembly code, in Node.
//
//   . scripts/env.sh
//   node scripts/bench/firstcode.mjs -worker dist/worker -endpoint create [-top 15] [-warm 5]
//
// Why: workerd calls MemoryPressureNotification for every isolate it
// creates, and V8 then discards the Liftoff code of every WebAssembly module
// in the process; only code TurboFan compiled survives. The first request
// after that compiles again every function it runs, about half its CPU in
// `make bench` (wasm/README.md, "Session 7"). So the code on a request's path
// is a cost of its own, and this prints it: after a few requests (-warm, 5),
// V8's %FlushWasmCode() (the same discard, available with
// --allow-natives-syntax) and one request, the functions V8 compiled for it
// (from --trace-wasm-compilation-times), their WebAssembly bytes and Liftoff's machine code, by package
// and the largest ones (names from the wasm name section, which
// the TinyGo build keeps). V8 runs with --liftoff-only, so that no function
// reaches TurboFan (whose code the flush keeps) by chance of timing (with
// --no-wasm-tier-up alone, Node 20's V8 still compiled the largest ones with
// TurboFan, now before the flush and now after): every function the request
// runs is compiled again, as after the loader's short warm-up in global
// scope. The median time of 40 such requests (wall clock) beside a request
// without the flush is indicative only.
//
// The script runs itself as children with those V8 flags and reads what V8
// prints.
import fs from "node:fs";
import { spawnSync } from "node:child_process";
import { fileURLToPath } from "node:url";
import path from "node:path";
import { nodeStack, requests } from "./nodestack.mjs";

const args = process.argv.slice(2);
const flag = (name, def) => {
  const i = args.indexOf("-" + name);
  return i < 0 ? def : args[i + 1];
};
const endpoint = flag("endpoint", "create");
const workerDir = flag("worker", "dist/worker");
const top = Number(flag("top", 15));
const warm = Number(flag("warm", 5));
const MARK = "### firstcode\n";
if (!Object.hasOwn(requests, endpoint)) throw new Error("-endpoint create or status");

// The child: -warm requests, then (-flush) V8's %FlushWasmCode() and one more
// request between two marks, or (-time) 40 pairs of a request without and
// after the flush, printed as JSON.
if (args.includes("-child")) {
  const stack = await nodeStack({ workerDir, retire: false });
  const make = requests[endpoint];
  await stack.run(make, warm);
  const flush = new Function("%FlushWasmCode()");
  if (args.includes("-flush")) {
    fs.writeSync(1, MARK);
    flush();
    await stack.run(make, 1);
    fs.writeSync(1, MARK);
  } else if (args.includes("-time")) {
    const once = async () => {
      const t0 = performance.now();
      await stack.run(make, 1);
      return performance.now() - t0;
    };
    const times = { plain: [], flushed: [] };
    for (let i = 0; i < 40; i++) {
      times.plain.push(await once());
      flush();
      times.flushed.push(await once());
    }
    console.log(JSON.stringify(times));
  }
  stack.stop();
  process.exit(0);
}

// child runs this script with mode ("-flush" or "-time"), V8's trace when
// trace is set, and returns what it printed.
const child = (mode, trace) => {
  const v8 = ["--allow-natives-syntax", "--liftoff-only", ...(trace ? ["--trace-wasm-compilation-times"] : [])];
  const r = spawnSync("stdbuf", ["-oL", process.execPath, ...v8, fileURLToPath(import.meta.url), ...args, "-child", mode], {
    encoding: "utf8",
    maxBuffer: 256 << 20,
    stdio: ["ignore", "pipe", "inherit"],
  });
  if (r.status !== 0) throw new Error(`the child exited with ${r.status}`);
  return r.stdout;
};

// The functions V8 compiled between the child's two marks. (stdbuf makes the
// C library's stdout, which V8's trace goes through, line-buffered, so that
// the trace and the marks keep their order.)
const parts = child("-flush", true).split(MARK);
if (parts.length !== 3) throw new Error("the child's marks are missing");
const compiled = [...parts[1].matchAll(/#(\d+) using Liftoff.* bodysize (\d+) codesize (\d+)/g)].map((m) => ({ index: Number(m[1]), body: Number(m[2]), code: Number(m[3]) }));
if (compiled.length === 0) throw new Error("no compiles after the flush: is this Node's V8 still printing --trace-wasm-compilation-times?");
const { plain, flushed } = JSON.parse(child("-time", false));

const names = functionNames(fs.readFileSync(path.join(workerDir, "app.wasm")));
const pkg = (name) => {
  const m = /^\(?\*?([\w./-]+?)\.[\w$(]/.exec(name ?? "");
  return m ? m[1] : name.startsWith("interface:") ? "(interface method dispatch)" : name;
};
const sum = (xs, f) => xs.reduce((a, x) => a + f(x), 0);
const med = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
const kb = (n) => (n / 1024).toFixed(1).padStart(6);
console.log(`${workerDir} ${endpoint}: the first request after the flush compiled ${compiled.length} functions, ` +
  `${kb(sum(compiled, (c) => c.body)).trim()} KB of WebAssembly into ${kb(sum(compiled, (c) => c.code)).trim()} KB of machine code ` +
  `(Liftoff); median request ${med(flushed).toFixed(2)} ms after the flush, ` +
  `${med(plain).toFixed(2)} ms without (${flushed.length} of each, wall clock)`);
const byPkg = new Map();
for (const c of compiled) {
  const p = pkg(names.get(c.index) ?? `#${c.index}`);
  const a = byPkg.get(p) ?? { n: 0, body: 0 };
  a.n++;
  a.body += c.body;
  byPkg.set(p, a);
}
console.log("\n   KB  functions  package");
for (const [p, a] of [...byPkg].sort((x, y) => y[1].body - x[1].body).slice(0, top)) {
  console.log(`${kb(a.body)}  ${String(a.n).padStart(9)}  ${p}`);
}
console.log("\n   KB  function");
for (const c of [...compiled].sort((x, y) => y.body - x.body).slice(0, top)) {
  console.log(`${kb(c.body)}  ${names.get(c.index) ?? "#" + c.index}`);
}

// functionNames reads the function names of a wasm module's name section
// (function index, imports included, to name): subsection 1, a vector of
// (index, name) pairs.
function functionNames(wasm) {
  const [section] = WebAssembly.Module.customSections(new WebAssembly.Module(wasm), "name");
  const out = new Map();
  if (!section) return out;
  const b = Buffer.from(section);
  let i = 0;
  const leb = () => {
    let r = 0;
    for (let s = 0; ; s += 7) {
      const x = b[i++];
      r += (x & 0x7f) * 2 ** s;
      if (x < 0x80) return r;
    }
  };
  while (i < b.length) {
    const sub = b[i++];
    const end = leb() + i;
    if (sub === 1) {
      for (let n = leb(); n > 0; n--) {
        const index = leb();
        const len = leb();
        out.set(index, b.toString("utf8", i, i + len));
        i += len;
      }
    }
    i = end;
  }
  return out;
}
