package main

import (
	"net/http"

	"checkoutkit/worker"
)

// newHandler is shared by the wasm and host builds.
func newHandler(getenv func(string) string, client *http.Client) http.Handler {
	cfg, err := worker.LoadConfig(getenv)
	if err != nil {
		return worker.ConfigErrorHandler(err)
	}
	return worker.NewServer(cfg, client)
}
