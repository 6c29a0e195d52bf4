//go:build js && wasm && gc.leaking

package main

// allocatorNeverFrees: TinyGo's -gc=leaking allocator (build/worker.go) never
// frees memory, so the loader replaces the instance once its linear memory
// passes a budget (wasm/instance.mjs).
const allocatorNeverFrees = true
