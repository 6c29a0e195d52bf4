//go:build js && wasm && !tinygo

package main

// seedRand does nothing: standard Go seeds its runtime at start-up (which is
// why its first instance cannot start in workerd's global scope; see
// seed_tinygo.go).
func seedRand() {}
