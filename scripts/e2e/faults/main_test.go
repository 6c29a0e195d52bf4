package faults

import (
	"fmt"
	"sort"
	"strings"
	"testing"

	"checkoutkit/scripts/e2e/internal/e2e"
	"checkoutkit/scripts/internal/stack"
)

// TestMain runs the suite on a stack of its own: an ADMIN_TOKEN (the
// operator's capture is one of the endpoints faulted), a short
// STRIPE_TIMEOUT_MS (fltTimeout), so that a slow Stripe times out in 2 s
// instead of 15, and the fulfillment counter (faults_webhook_test.go). Once
// the whole suite passed, checkInjected must hold too.
func TestMain(m *testing.M) {
	e2e.Main(m, "faults", func(cfg *stack.Config) error {
		sink, err := e2e.ServeSink()
		if err != nil {
			return err
		}
		cfg.Vars["STRIPE_TIMEOUT_MS"] = fmt.Sprint(fltTimeout.Milliseconds())
		cfg.Vars["FULFILLMENT_WEBHOOK_URL"] = sink
		return nil
	}, checkInjected)
}

// checkInjected: every kind of fault the cases declare was injected and hit
// by the sandbox at least once (fltInjected, counted by fltRun), unless -run
// or -skip chose some tests only. It prints the counts.
func checkInjected() error {
	if e2e.Filtered() {
		return nil
	}
	var kinds, missing []string
	total := 0
	seen := map[string]bool{}
	for _, c := range append(append([]fltCase{}, fltPOSTCases...), fltGETCases...) {
		k := c.kind()
		if seen[k] {
			continue
		}
		seen[k] = true
		if fltInjected[k] == 0 {
			missing = append(missing, k)
		}
	}
	for k, n := range fltInjected {
		kinds = append(kinds, fmt.Sprintf("%s: %d", k, n))
		total += n
	}
	sort.Strings(kinds)
	fmt.Printf("faults injected and hit: %d (%s)\n", total, strings.Join(kinds, ", "))
	if len(missing) > 0 {
		sort.Strings(missing)
		return fmt.Errorf("fault kinds declared but never injected and hit: %s", strings.Join(missing, ", "))
	}
	return nil
}
