package checkout

import (
	"testing"

	"checkoutkit/scripts/e2e/internal/e2e"
)

// TestMain runs the suite on a stack of its own: the bundled catalog.
func TestMain(m *testing.M) { e2e.Main(m, "checkout", nil, nil) }
