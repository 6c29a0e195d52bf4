// Command build bundles the site with esbuild's Go API and compiles the worker
// to WebAssembly with TinyGo or the standard Go toolchain.
//
//	go run ./build site   [-out dist/site]
//	go run ./build worker [-compiler tinygo|go] [-out dist/worker]
//	go run ./build all    [-compiler tinygo|go]
//	go run ./build dev-site -dev-origin http://127.0.0.1:8789 [-site-out dist/site] [-dev-site-out dist/site-dev]
//
// Output directories are wiped before each build, except a worker build whose
// inputs are unchanged (see workerkey.go; -force rebuilds anyway). Nothing
// here is committed.
package main

import (
	"flag"
	"fmt"
	"os"
	"strings"
	"time"
)

func main() {
	if len(os.Args) < 2 {
		usage()
	}
	cmd, args := os.Args[1], os.Args[2:]
	fs := flag.NewFlagSet(cmd, flag.ExitOnError)
	siteOut := fs.String("site-out", "dist/site", "output directory of the site bundle")
	workerOut := fs.String("worker-out", "dist/worker", "output directory of the worker")
	compiler := fs.String("compiler", envOr("COMPILER", "tinygo"), "worker compiler: tinygo or go")
	devSiteOut := fs.String("dev-site-out", devSiteDefaultDir, "dev-site: where the development copy of the site goes")
	devOrigin := fs.String("dev-origin", "", "dev-site: origins (comma-separated) the development copy's policy also allows, e.g. the Stripe sandbox")
	force := fs.Bool("force", false, "worker: rebuild even if nothing it depends on changed")
	fs.Parse(args)

	var err error
	switch cmd {
	case "site":
		err = timed("site", func() error { return BuildSite(SiteOptions{SrcDir: "site", OutDir: *siteOut}) })
	case "worker":
		err = timed("worker ("+*compiler+")", func() error {
			return BuildWorker(WorkerOptions{Compiler: *compiler, OutDir: *workerOut, Force: *force})
		})
	case "all":
		err = timed("site", func() error { return BuildSite(SiteOptions{SrcDir: "site", OutDir: *siteOut}) })
		if err == nil {
			err = timed("worker ("+*compiler+")", func() error {
				return BuildWorker(WorkerOptions{Compiler: *compiler, OutDir: *workerOut, Force: *force})
			})
		}
	case "dev-site":
		opts := DevSiteOptions{From: *siteOut, OutDir: *devSiteOut}
		for _, o := range strings.Split(*devOrigin, ",") {
			if o = strings.TrimSpace(o); o != "" {
				opts.DevOrigins = append(opts.DevOrigins, o)
			}
		}
		err = BuildDevSite(opts)
	default:
		usage()
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "build:", err)
		os.Exit(1)
	}
}

func timed(what string, f func() error) error {
	start := time.Now()
	fmt.Fprintf(os.Stderr, "==> building %s\n", what)
	if err := f(); err != nil {
		return fmt.Errorf("%s: %w", what, err)
	}
	fmt.Fprintf(os.Stderr, "==> built %s in %.1fs\n", what, time.Since(start).Seconds())
	return nil
}

func envOr(k, def string) string {
	if v := os.Getenv(k); v != "" {
		return v
	}
	return def
}

func usage() {
	fmt.Fprintln(os.Stderr, "usage: go run ./build site|worker|all [-compiler tinygo|go] [-site-out dir] [-worker-out dir]\n       go run ./build dev-site -dev-origin <origin> [-site-out dir] [-dev-site-out dir]")
	os.Exit(2)
}
