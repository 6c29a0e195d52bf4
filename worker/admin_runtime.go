package worker

import (
	"net/http"
	"runtime"
)

// runtimeStats is GET /admin/runtime: the Go instance's memory and
// goroutines, for operators and for the load test (which checks that they
// stay flat under load). Sizes are bytes; sys never shrinks (on wasm it is the
// linear memory the Go runtime has taken).
type runtimeStats struct {
	Goroutines int    `json:"goroutines"`
	HeapAlloc  uint64 `json:"heap_alloc"`
	HeapSys    uint64 `json:"heap_sys"`
	Sys        uint64 `json:"sys"`
	Mallocs    uint64 `json:"mallocs"`
	Frees      uint64 `json:"frees"`
	NumGC      uint32 `json:"num_gc"`
}

func (s *Server) handleAdminRuntime(w http.ResponseWriter, r *http.Request) {
	if r.URL.Query().Get("gc") == "1" {
		runtime.GC() // live heap only, for leak checks
	}
	var m runtime.MemStats
	runtime.ReadMemStats(&m)
	writeJSON(w, http.StatusOK, runtimeStats{
		Goroutines: runtime.NumGoroutine(),
		HeapAlloc:  m.HeapAlloc,
		HeapSys:    m.HeapSys,
		Sys:        m.Sys,
		Mallocs:    m.Mallocs,
		Frees:      m.Frees,
		NumGC:      m.NumGC,
	})
}
