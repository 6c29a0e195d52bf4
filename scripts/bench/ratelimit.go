package main

import (
	"fmt"
	"os"
	"regexp"
)

// benchConfig is the wrangler config the variants run with: wrangler.toml
// with every [[ratelimits]] limit raised out of reach, since a run sends
// thousands of requests from 127.0.0.1 (the checks themselves still happen
// and are measured). Like scripts/internal/stack's copy it sits next to
// wrangler.toml, whose relative paths wrangler resolves from the file's
// directory.
var benchConfig = fmt.Sprintf(".wrangler-stack-bench-%d.toml", os.Getpid())

var rateLimitLine = regexp.MustCompile(`(?m)^(simple\s*=\s*\{\s*limit\s*=\s*)\d+`)

// writeBenchConfig writes benchConfig; the caller removes it.
func writeBenchConfig() error {
	b, err := os.ReadFile("wrangler.toml")
	if err != nil {
		return err
	}
	n := len(regexp.MustCompile(`(?m)^\[\[ratelimits\]\]`).FindAll(b, -1))
	if got := len(rateLimitLine.FindAll(b, -1)); got != n {
		return fmt.Errorf("wrangler.toml: write each [[ratelimits]] binding's limits as one line, simple = { limit = N, period = P } (%d of %d are)", got, n)
	}
	return os.WriteFile(benchConfig, rateLimitLine.ReplaceAll(b, []byte("${1}1000000")), 0o644)
}
