// Command stack runs a command against a stack of its own
// (scripts/internal/stack: the Stripe sandbox, and the built worker under
// `wrangler dev` with a fresh local D1 database), with the stack's
// description in the command's environment (BASE_URL, SANDBOX_URL,
// ADMIN_TOKEN, STRIPE_WEBHOOK_SECRET, D1_PERSIST_DIR, WORKER_DIR, ...). The
// stack stops when the command ends; the command's exit status is stack's.
// It is how the node tests get a stack:
//
//	go run ./scripts/stack -- node --test scripts/e2e/browser.test.mjs
//	WORKER_DIR=dist/worker-go go run ./scripts/stack -name browser -- node --test scripts/e2e/embed.test.mjs
//
// The environment chooses the build, ports, secrets and ALLOWED_ORIGINS as for
// the Go suites (stack.FromEnv); logs go to $E2E_LOG_DIR/<flavour>-<name>/.
//
// With -dev it is `make dev` (dev.go): the stack on fixed ports with the
// examples server, rebuilding and reloading on edits until Ctrl-C or SIGTERM:
//
//	go run ./build all && go build -o dist/.bin/stack ./scripts/stack && dist/.bin/stack -dev
package main

import (
	"errors"
	"flag"
	"fmt"
	"os"
	"os/exec"

	"checkoutkit/scripts/internal/stack"
)

func main() {
	name := flag.String("name", "stack", "the stack's name: its logs go to <E2E_LOG_DIR>/<flavour>-<name>/")
	devMode := flag.Bool("dev", false, "make dev: serve on fixed ports and reload on edits until stopped (see dev.go)")
	flag.Usage = func() {
		fmt.Fprintln(os.Stderr, "usage: go run ./scripts/stack [-name NAME] -- command [args...]\n       stack -dev")
		flag.PrintDefaults()
	}
	flag.Parse()
	if *devMode {
		os.Exit(dev())
	}
	if flag.NArg() == 0 {
		flag.Usage()
		os.Exit(2)
	}
	os.Exit(run(*name, flag.Args()))
}

func run(name string, args []string) int {
	cfg, err := stack.FromEnv(name)
	if err == nil {
		err = os.RemoveAll(cfg.LogDir)
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "stack:", err)
		return 1
	}
	s, err := stack.Start(cfg)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	defer s.Stop()
	fmt.Fprintf(os.Stderr, "stack %s: %s build at %s, sandbox %s, logs in %s\n", name, stack.Flavour(cfg), s.BaseURL, s.SandboxURL, s.LogDir)
	cmd := exec.Command(args[0], args[1:]...)
	cmd.Stdin, cmd.Stdout, cmd.Stderr = os.Stdin, os.Stdout, os.Stderr
	cmd.Env = append(os.Environ(), s.Env()...)
	if err := cmd.Run(); err != nil {
		var exit *exec.ExitError
		if errors.As(err, &exit) && exit.ExitCode() > 0 {
			return exit.ExitCode()
		}
		fmt.Fprintln(os.Stderr, "stack:", err)
		return 1
	}
	return 0
}
