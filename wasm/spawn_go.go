//go:build js && wasm && !tinygo

package main

// spawn runs a request's work. Standard Go runs js.FuncOf callbacks on its
// event goroutine, which must not block, so the work gets a goroutine.
func spawn(f func()) { go f() }

// scratchLen is the size of the scratch buffer JavaScript writes messages
// into (message_js.go). Standard Go gets none, so its messages come as
// Uint8Arrays: measured under wrangler dev at concurrency 10, its isolate
// was restarted mid-request (wrangler's 503) in 4 of 5 runs with the buffer
// and in none without; the cause is not known.
const scratchLen = 0
