// valuetable.mjs: the value-table check the instance node tests share.
//
// Without a collecting GC (TinyGo's leaking allocator) Go never gives a
// js.Value back, so instance.mjs releases what Go keeps no longer
// (releaseCallbackValues, releaseArgs); under standard Go its finalizers do,
// and releasing them as well would free a reference twice.
import assert from "node:assert/strict";

// liveValues counts the JavaScript values Go holds references to
// (wasm_exec.js's value table).
export function liveValues(inst) {
  return inst.go._values.filter((v) => v !== null && v !== undefined).length;
}

// assertNothingLeftBehind runs round(1), then counts the live values, runs
// round(2) and round(3), and asserts the table grew by at most 5 (what, for
// the message, names the work of the two rounds). For a collecting GC's
// instance it only asserts that releasing is off.
export async function assertNothingLeftBehind(inst, round, what) {
  if (!inst.neverFrees) {
    assert.equal(inst.go.releaseCallbackValues, false, "a collecting GC's instance must not have its values released");
    return;
  }
  assert.equal(inst.go.releaseCallbackValues, true);
  await round(1);
  const before = liveValues(inst);
  await round(2);
  await round(3);
  const after = liveValues(inst);
  assert.ok(after - before <= 5, `the value table grew from ${before} to ${after} live values over ${what}`);
}
