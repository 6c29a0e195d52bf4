//go:build js && wasm && tinygo

package main

import "runtime"

// seedRand seeds the TinyGo runtime's fastrand (map hash seeds) before the
// first request is served. The worker is built with the tag runtime_lazyrand
// (build/worker.go, scripts/tinygo-patches/08-lazy-rand-seed.patch), so that
// start-up asks for no randomness and the first instance can start in
// workerd's global scope, which refuses it (instance.mjs, startEarly). serve
// is always called inside a request, where randomness is real; later calls
// cost a flag check. Maps made during start-up keep their predictable seeds
// until they grow (the bound is in the patch's header).
func seedRand() { runtime.SeedRand() }
