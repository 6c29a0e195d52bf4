//go:build integration && faults

package e2e

import (
	"fmt"
	"sort"
	"strings"
	"testing"
)

// TestFaultsSummary prints the faults the suite injected, by kind (this file's name sorts
// after the other faults files, and Go runs tests in source order).
func TestFaultsSummary(t *testing.T) {
	if len(fltInjected) == 0 {
		t.Skip("no fault tests ran")
	}
	kinds := make([]string, 0, len(fltInjected))
	total := 0
	for k, n := range fltInjected {
		kinds = append(kinds, fmt.Sprintf("%s: %d", k, n))
		total += n
	}
	sort.Strings(kinds)
	t.Logf("faults injected and hit: %d (%s)", total, strings.Join(kinds, ", "))
}
