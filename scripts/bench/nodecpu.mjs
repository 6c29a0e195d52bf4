// nodecpu.mjs: CPU per request of the worker's own code, in Node, without
// wrangler: a worker build (WORKER_DIR: app.wasm, wasm_exec.js, instance.mjs)
// or the JavaScript reference (scripts/bench/reference/worker.mjs, bundled
// with esbuild as wrangler would), serving the bench's create-session or
// session-status request with Stripe's answers replayed from stripe-mock.
//
//   . scripts/env.sh
//   node scripts/bench/nodecpu.mjs -worker dist/worker -endpoint create
//   node scripts/bench/nodecpu.mjs -reference -endpoint status -n 3000
//
// Why next to `make bench`: in workerd a request costs 3-5 ms of which the
// worker's own code is a fraction, and run-to-run noise there is ±20%, so a
// lever worth 0.1 ms per request does not show; here the same request costs
// well under 2 ms with far less noise. It measures what the worker's code
// and its bridge cost, not workerd's own work (Node's Request and Response
// stand in for workerd's). Prints the process CPU per request (all threads,
// process.cpuUsage) and the part off the main thread (V8's garbage collector
// and compiler threads), medians of 5 rounds.
//
// Stripe's answers are replayed from a stripe-mock it starts and stops
// (nodestack.mjs). The instance retires as in production (RETIRE_REQUESTS,
// RETIRE_BYTES) unless -retire 0.
import fs from "node:fs";
import { nodeStack, requests } from "./nodestack.mjs";

const args = process.argv.slice(2);
const flag = (name, def) => {
  const i = args.indexOf("-" + name);
  return i < 0 ? def : args[i + 1];
};
const endpoint = flag("endpoint", "create");
const n = Number(flag("n", 3000));
const retire = flag("retire", "1") !== "0";
const workerDir = args.includes("-reference") ? null : flag("worker", "dist/worker");
if (!Object.hasOwn(requests, endpoint)) throw new Error("-endpoint create or status");

const stack = await nodeStack({ workerDir, retire });
const run = (count) => stack.run(requests[endpoint], count);
const mainThreadMs = () => Number(fs.readFileSync(`/proc/self/task/${process.pid}/schedstat`, "utf8").split(" ")[0]) / 1e6;

await run(500); // compiled and warm
const all = [];
const off = [];
for (let round = 0; round < 5; round++) {
  const m0 = mainThreadMs();
  const c0 = process.cpuUsage();
  await run(n);
  const c = process.cpuUsage(c0);
  const total = (c.user + c.system) / 1000 / n;
  all.push(total);
  off.push(total - (mainThreadMs() - m0) / n);
}
const med = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
console.log(`${stack.name} ${endpoint}: ${med(all).toFixed(3)} ms CPU per request (rounds: ${all.map((x) => x.toFixed(3)).join(" ")}), ${med(off).toFixed(3)} off the main thread; ${n} requests a round`);
stack.stop();
process.exit(0);
