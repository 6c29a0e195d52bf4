//go:build js && wasm && !tinygo

package main

// spawn runs a request's work. Standard Go runs js.FuncOf callbacks on its
// event goroutine, which must not block, so the work gets a goroutine.
func spawn(f func()) { go f() }
