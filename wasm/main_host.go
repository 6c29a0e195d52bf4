//go:build !js

// On the host the same entry serves the worker's handler and the built site
// (SITE_DIR, default dist/site) with net/http, so pages and handlers can be
// tried without wasm or wrangler: `PORT=8787 go run ./wasm`.
package main

import (
	"log"
	"net/http"
	"os"

	"checkoutkit/worker"
	"checkoutkit/worker/orders"
)

func main() {
	port := os.Getenv("PORT")
	if port == "" {
		port = "8787"
	}
	siteDir := os.Getenv("SITE_DIR")
	if siteDir == "" {
		siteDir = "dist/site"
	}
	// Orders are kept in memory, lost when the process ends.
	api := newHandler(os.Getenv, worker.Deps{Transport: http.DefaultTransport, Store: orders.NewMemStore()},
		func(_, message string) { log.Print(message) })
	files := http.FileServer(http.Dir(siteDir))
	// Like wrangler's [assets]: a file that exists is served, anything else goes
	// to the worker.
	h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/" || fileExists(siteDir, r.URL.Path) {
			files.ServeHTTP(w, r)
			return
		}
		api.ServeHTTP(w, r)
	})
	addr := "127.0.0.1:" + port
	log.Printf("host mode: serving %s and the worker on http://%s", siteDir, addr)
	log.Fatal(http.ListenAndServe(addr, h))
}

func fileExists(dir, urlPath string) bool {
	f, err := http.Dir(dir).Open(urlPath)
	if err != nil {
		return false
	}
	defer f.Close()
	st, err := f.Stat()
	return err == nil && !st.IsDir()
}
