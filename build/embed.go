package main

// The embed snippet: site/src/embed.ts is bundled on its own into
// dist/site/embed.js, a classic script (IIFE) under a stable, unhashed name,
// because site owners paste <script src="https://<worker>/embed.js" defer>
// into their pages; site/src/cart.ts likewise into dist/site/cart.js, the
// optional cart beside it. Their size budget is embedBudgetGzip each (checked
// by the tests and printed by `make bench`).

import (
	"bytes"
	"compress/gzip"
	"fmt"
	"os"
	"path/filepath"

	"github.com/evanw/esbuild/pkg/api"
)

const (
	// embedSource is the snippet's entry, relative to the site sources.
	embedSource = "src/embed.ts"
	// EmbedFile is the snippet's name in the built site and its URL path.
	EmbedFile = "embed.js"
	// cartSource and CartFile: the optional cart script beside it (cart.js),
	// also under a stable name, with the same budget.
	cartSource = "src/cart.ts"
	CartFile   = "cart.js"
	// embedBudgetGzip is the most embed.js, and cart.js, may weigh,
	// gzip-compressed.
	embedBudgetGzip = 2048
	// siteExamplesDir holds pages for site owners (site/examples); they are
	// served from another origin in development and never deployed.
	siteExamplesDir = "examples"
)

// siteBuildEmbed writes OutDir/embed.js from SrcDir/src/embed.ts and
// OutDir/cart.js from SrcDir/src/cart.ts, each if its source is present.
func siteBuildEmbed(src, out, srcLabel string) error {
	for _, f := range [][2]string{{embedSource, EmbedFile}, {cartSource, CartFile}} {
		if _, err := os.Stat(filepath.Join(src, filepath.FromSlash(f[0]))); os.IsNotExist(err) {
			continue
		}
		opts := browserBundle(src)
		opts.EntryPoints = []string{"./" + f[0]}
		opts.Outfile = filepath.Join(out, f[1])
		opts.Format = api.FormatIIFE
		// No "use strict" prologue: the bundle is an IIFE that needs none.
		opts.TsconfigRaw = `{"compilerOptions":{"alwaysStrict":false}}`
		result := api.Build(opts)
		if len(result.Errors) > 0 {
			return siteEsbuildError(srcLabel, result.Errors)
		}
	}
	return nil
}

// EmbedSizes reports the raw and gzip-compressed size of a built embed.js,
// with compress/gzip's default level (as `make bench` prints it).
func EmbedSizes(file string) (raw, gz int, err error) {
	data, err := os.ReadFile(file)
	if err != nil {
		return 0, 0, err
	}
	var buf bytes.Buffer
	zw := gzip.NewWriter(&buf)
	if _, err := zw.Write(data); err != nil {
		return 0, 0, err
	}
	if err := zw.Close(); err != nil {
		return 0, 0, fmt.Errorf("gzip %s: %w", file, err)
	}
	return len(data), buf.Len(), nil
}
