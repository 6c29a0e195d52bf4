package main

import (
	"log"
	"net/http"

	"checkoutkit/worker"
	"checkoutkit/worker/orders"
)

// newHandler is shared by the wasm and host builds. store keeps the orders
// (nil: none are recorded).
//
// This is where a shop plugs in its own fulfillment action, e.g.
//
//	s.SetFulfiller(worker.Fulfillers{worker.LogFulfiller{}, myAction})
//
// (see worker.Fulfiller; the default is a log line, plus a POST to
// FULFILLMENT_WEBHOOK_URL when it is set).
func newHandler(getenv func(string) string, client *http.Client, store orders.Store) http.Handler {
	cfg, err := worker.LoadConfig(getenv)
	if err != nil {
		return worker.ConfigErrorHandler(err)
	}
	if cfg.DeploymentFromDefault {
		log.Printf("orders: this deployment marks its Stripe objects kit_deployment=%s (DEPLOYMENT_ID is not set); give each deployment that shares a Stripe account its own DEPLOYMENT_ID", cfg.Deployment)
	}
	s := worker.NewServer(cfg, client)
	s.SetStore(store)
	return s
}
