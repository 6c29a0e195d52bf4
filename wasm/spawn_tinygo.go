//go:build js && wasm && tinygo

package main

// spawn runs a request's work. TinyGo runs every call from JavaScript into Go
// (js.FuncOf) on a goroutine of its own, which may block, so the request is
// served right there: one goroutine stack per request instead of two, which
// halves what TinyGo's garbage collector must scan and reclaim.
func spawn(f func()) { f() }

// scratchLen is the size of the scratch buffer JavaScript writes messages
// into (message_js.go).
const scratchLen = scratchSize
