package webhooks

import (
	"os"
	"testing"

	"checkoutkit/scripts/e2e/internal/e2e"
	"checkoutkit/scripts/internal/stack"
)

// TestMain runs the suite on a stack of its own: a fresh D1 database, the
// sandbox delivering signed events to /webhook, the worker POSTing each order
// it fulfills to the counter these tests serve (e2e.ServeSink), a
// DEPLOYMENT_ID (default e2e-webhooks), and the bundled catalog plus the
// stocked products of testdata/trust-products.json.
func TestMain(m *testing.M) {
	e2e.Main(m, "webhooks", func(cfg *stack.Config) error {
		sink, err := e2e.ServeSink()
		if err != nil {
			return err
		}
		deployment := os.Getenv("DEPLOYMENT_ID")
		if deployment == "" {
			deployment = "e2e-webhooks"
			os.Setenv("DEPLOYMENT_ID", deployment)
		}
		cfg.Vars["FULFILLMENT_WEBHOOK_URL"] = sink
		cfg.Vars["DEPLOYMENT_ID"] = deployment
		cfg.CatalogJSON, err = stack.CatalogWith(cfg.Root, "worker/catalog.json", "scripts/e2e/testdata/trust-products.json")
		return err
	}, nil)
}
