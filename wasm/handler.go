package main

import (
	"fmt"
	"net/http"

	"checkoutkit/worker"
)

// newHandler is shared by the wasm and host builds: it reads the
// configuration and builds the worker with what the platform gives it
// (deps: the HTTP client, the order store, the rate limiters).
//
// This is where a shop plugs in its own fulfillment action or approval
// rules, e.g.
//
//	deps.Fulfiller = worker.Fulfillers{worker.LogFulfiller{}, myAction}
//	deps.Rules = []worker.ApprovalRule{myRule}
//
// (see worker.Fulfiller; the default is a log line, plus a POST to
// FULFILLMENT_WEBHOOK_URL when it is set).
//
// logOnce logs a start-up notice once per process (on Workers once per
// isolate, however often the Go instance is replaced, and never from the
// loader's warm-up).
func newHandler(getenv func(string) string, deps worker.Deps, logOnce func(topic, message string)) http.Handler {
	cfg, err := worker.LoadConfig(getenv)
	if err != nil {
		return worker.ConfigErrorHandler(err)
	}
	if cfg.DeploymentFromDefault {
		logOnce("deployment", fmt.Sprintf("orders: this deployment marks its Stripe objects kit_deployment=%s (DEPLOYMENT_ID is not set); give each deployment that shares a Stripe account its own DEPLOYMENT_ID", cfg.Deployment))
	}
	return worker.NewServer(cfg, deps)
}
