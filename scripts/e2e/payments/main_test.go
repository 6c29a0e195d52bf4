package payments

import (
	"testing"

	"checkoutkit/scripts/e2e/internal/e2e"
)

// TestMain runs the suite on a stack of its own: the bundled catalog and an
// ADMIN_TOKEN (random unless set).
func TestMain(m *testing.M) { e2e.Main(m, "payments", nil, nil) }
