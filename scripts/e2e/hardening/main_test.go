package hardening

import (
	"os"
	"testing"

	"checkoutkit/scripts/e2e/internal/e2e"
	"checkoutkit/scripts/internal/stack"
)

// TestMain runs the suite on a stack of its own: an ADMIN_TOKEN and a
// CUSTOMER_TOKEN_SECRET (random unless set), and a catalog in two currencies
// and two capture methods (testdata/two-currencies.json as CATALOG_JSON).
func TestMain(m *testing.M) {
	e2e.Main(m, "hardening", func(cfg *stack.Config) error {
		secret := os.Getenv("CUSTOMER_TOKEN_SECRET")
		if secret == "" {
			secret = stack.RandomHex(32)
		}
		cfg.Vars["CUSTOMER_TOKEN_SECRET"] = secret
		var err error
		cfg.CatalogJSON, err = stack.CompactJSONFile(cfg.Root, "scripts/e2e/testdata/two-currencies.json")
		return err
	}, nil)
}
