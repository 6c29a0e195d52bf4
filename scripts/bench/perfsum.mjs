// perfsum.mjs: summarises `perf script -F comm,tid,ip,sym,dso` (samples with
// call chains, from perf record -g) of the user workerd for perf.sh: CPU ms
// (per request with -requests) on the worker's thread ("main": the thread
// whose id is -pid) and on the others, by what the sample was doing.
//
//   perf script -i perf.data -F comm,tid,ip,sym,dso | node scripts/bench/perfsum.mjs -hz 10000 -pid 1234 -requests 300
//
// A sample counts under the first of these its call chain matches (so a
// lazy compile is counted as such whoever called it), else by its leaf:
//   wasm lazy compile   V8 compiling a WebAssembly function (Liftoff) at its
//                       first call: Runtime_WasmCompileLazy
//   JS lazy compile     V8 compiling a JavaScript function at its first call
//   wasm tier-up        TurboFan/Turboshaft compiling hot WebAssembly
//   JS optimise         Maglev/TurboFan on hot JavaScript
//   GC                  garbage collection, any phase
//   JIT code            running compiled code: Go's WebAssembly and the
//                       JavaScript of the worker, wasm_exec.js and the bridge
//   kernel, V8 builtins, workerd and V8 runtime (the rest)
import readline from "node:readline";

const args = process.argv.slice(2);
const flag = (name, def) => {
  const i = args.indexOf("-" + name);
  return i < 0 ? def : args[i + 1];
};
const hz = Number(flag("hz", 10000));
const pid = String(flag("pid", ""));
const requests = Number(flag("requests", 1));

const chainRules = [
  ["wasm lazy compile", /Runtime_WasmCompileLazy/],
  ["JS lazy compile", /Runtime_CompileLazy\b/],
  ["wasm tier-up", /wasm::.*(TurboFan|Turboshaft|ExecuteCompilation|CompilationUnit)|WasmCompilationUnit|TriggerTierUp/],
  ["JS optimise", /maglev::|compiler::Pipeline|OptimizingCompileDispatcher|turboshaft::(?!.*wasm)/],
  ["GC", /Heap::CollectGarbage|Scavenger|MarkCompact|ConcurrentMarking|Sweeper|MinorMarkSweep|IncrementalMarking|cppgc::/],
];
function leafCategory(sym, dso) {
  if (dso.startsWith("[JIT]") || dso.includes("/perf-")) return "JIT code";
  if (dso.startsWith("[kernel")) return "kernel";
  if (sym.startsWith("Builtins_")) return "V8 builtins";
  return "workerd and V8 runtime";
}

const totals = { main: new Map(), other: new Map() };
let sample = null;
function flush() {
  if (!sample) return;
  const chain = sample.frames.map((f) => f.sym).join("\n");
  let cat = null;
  for (const [name, re] of chainRules) {
    if (re.test(chain)) {
      cat = name;
      break;
    }
  }
  if (!cat) cat = sample.frames.length ? leafCategory(sample.frames[0].sym, sample.frames[0].dso) : "unknown";
  const t = sample.tid === pid ? totals.main : totals.other;
  t.set(cat, (t.get(cat) || 0) + 1);
  sample = null;
}
const rl = readline.createInterface({ input: process.stdin });
for await (const line of rl) {
  if (line.trim() === "") {
    flush();
    continue;
  }
  if (!/^\s/.test(line)) {
    flush();
    // "workerd 1234" or "V8 DefaultWorke 1240": the thread id is the last field.
    const f = line.trim().split(/\s+/);
    sample = { tid: f[f.length - 1], frames: [] };
    continue;
  }
  const m = /^\s*[0-9a-f]+\s+(.*?)\s+\((.*)\)\s*$/.exec(line);
  if (m && sample) sample.frames.push({ sym: m[1], dso: m[2] });
}
flush();

const unit = requests > 1 ? "ms/request" : "ms";
const ms = (n) => (n / hz) * 1000 / requests;
for (const [name, t] of Object.entries(totals)) {
  const rows = [...t.entries()].sort((a, b) => b[1] - a[1]);
  const sum = rows.reduce((s, [, n]) => s + n, 0);
  if (sum === 0) continue;
  console.log(`${name === "main" ? "worker's thread" : "other threads"}: ${ms(sum).toFixed(2)} ${unit}`);
  for (const [cat, n] of rows) console.log(`  ${cat.padEnd(24)} ${ms(n).toFixed(2).padStart(8)}  ${((100 * n) / sum).toFixed(0).padStart(3)}%`);
}
