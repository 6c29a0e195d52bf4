//go:build js && wasm && !gc.leaking

package main

// allocatorNeverFrees: a collecting GC (standard Go's, or TinyGo's
// conservative one) reuses memory, so the instance is kept as long as it lives.
const allocatorNeverFrees = false
