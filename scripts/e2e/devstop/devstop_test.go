// Package devstop checks that stopping `make dev` stops everything it
// started: it runs `make serve` (make dev without the build; dist/ must be
// built) on free ports, waits until the worker, the sandbox and the examples
// server answer, notes every process below make, then stops make the way a
// developer does (Ctrl-C: SIGINT to the whole foreground process group;
// SIGTERM: to make alone) and asserts that none of those processes is alive
// and every port is free again.
//
//	go test -count=1 ./scripts/e2e/devstop
//	WORKER_DIR=dist/worker-go go test -count=1 ./scripts/e2e/devstop
package devstop

import (
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"checkoutkit/scripts/internal/stack"
)

func TestCtrlCStopsEverything(t *testing.T)   { stopTest(t, true, syscall.SIGINT) }
func TestSIGTERMStopsEverything(t *testing.T) { stopTest(t, false, syscall.SIGTERM) }

// stopTest starts make serve, then sends sig to make's process group (as a
// terminal's Ctrl-C does) when group is set, else to make's process only.
func stopTest(t *testing.T, group bool, sig syscall.Signal) {
	root, err := stack.FindRoot()
	if err != nil {
		t.Fatal(err)
	}
	workerDir := os.Getenv("WORKER_DIR")
	if workerDir == "" {
		workerDir = "dist/worker"
	}
	if _, err := os.Stat(filepath.Join(root, workerDir, "worker.mjs")); err != nil {
		t.Fatalf("%s is not built (make builds): %v", workerDir, err)
	}
	ports := map[string]int{}
	for _, name := range []string{"PORT", "SANDBOX_PORT", "INSPECTOR_PORT", "EXAMPLES_PORT"} {
		if ports[name], err = stack.FreePort(); err != nil {
			t.Fatal(err)
		}
	}
	tmp := t.TempDir()
	cmd := exec.Command("make", "-s", "--no-print-directory", "serve", "SKIP_TOOLS=1", "PORT="+strconv.Itoa(ports["PORT"]))
	cmd.Dir = root
	cmd.Env = append(os.Environ(),
		"WORKER_DIR="+workerDir,
		"SANDBOX_PORT="+strconv.Itoa(ports["SANDBOX_PORT"]),
		"INSPECTOR_PORT="+strconv.Itoa(ports["INSPECTOR_PORT"]),
		"EXAMPLES_PORT="+strconv.Itoa(ports["EXAMPLES_PORT"]),
		"D1_PERSIST_DIR="+filepath.Join(tmp, "d1"),
		"STACK_LOG_DIR="+filepath.Join(tmp, "logs"),
		"STRIPE_MODE=sandbox",
		"ALLOWED_ORIGINS=",
	)
	out, err := os.Create(filepath.Join(tmp, "make.log"))
	if err != nil {
		t.Fatal(err)
	}
	defer out.Close()
	cmd.Stdout, cmd.Stderr = out, out
	// make leads a process group of its own, standing for the terminal's
	// foreground group that a Ctrl-C signals.
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	killAll := func() { syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL) }
	defer killAll()
	logs := func() string {
		b, _ := os.ReadFile(filepath.Join(tmp, "make.log"))
		return string(b)
	}

	base := fmt.Sprintf("http://%s:%d", stack.Host, ports["PORT"])
	for _, url := range []string{
		fmt.Sprintf("http://%s:%d/_sandbox/health", stack.Host, ports["SANDBOX_PORT"]),
		base + "/config",
		fmt.Sprintf("http://%s:%d/plain.html", stack.Host, ports["EXAMPLES_PORT"]),
	} {
		if err := waitHTTP(url, 4*time.Minute, done); err != nil {
			t.Fatalf("make serve: %v\n%s", err, logs())
		}
	}

	procs := descendants(cmd.Process.Pid)
	names := map[string]bool{}
	for _, p := range procs {
		names[p.comm] = true
	}
	for _, want := range []string{"stack", "stripe-sandbox", "workerd", "node"} {
		if !names[want] {
			t.Fatalf("no %s process below make (found %v): the test would prove nothing", want, names)
		}
	}

	target := cmd.Process.Pid
	if group {
		target = -target
	}
	if err := syscall.Kill(target, sig); err != nil {
		t.Fatal(err)
	}
	select {
	case <-done:
	case <-time.After(60 * time.Second):
		t.Fatalf("make did not exit within 60 s of %v\n%s", sig, logs())
	}
	var alive []string
	for _, p := range procs {
		if running(p.pid) {
			alive = append(alive, fmt.Sprintf("%d (%s)", p.pid, p.comm))
		}
	}
	if len(alive) > 0 {
		t.Errorf("after %v and make's exit these processes it started still run: %s", sig, strings.Join(alive, ", "))
	}
	for name, port := range ports {
		if c, err := net.DialTimeout("tcp", net.JoinHostPort(stack.Host, strconv.Itoa(port)), time.Second); err == nil {
			c.Close()
			t.Errorf("%s %d still answers after make exited", name, port)
		}
	}
	if t.Failed() {
		t.Logf("make's output:\n%s", logs())
	}
}

// waitHTTP polls url until it answers below 500, or make exits.
func waitHTTP(url string, limit time.Duration, done chan error) error {
	client := &http.Client{Timeout: 2 * time.Second}
	for deadline := time.Now().Add(limit); time.Now().Before(deadline); time.Sleep(200 * time.Millisecond) {
		select {
		case err := <-done:
			done <- err
			return fmt.Errorf("make exited (%v) before %s answered", err, url)
		default:
		}
		if r, err := client.Get(url); err == nil {
			r.Body.Close()
			if r.StatusCode < 500 {
				return nil
			}
		}
	}
	return fmt.Errorf("%s did not answer within %v", url, limit)
}

type proc struct {
	pid, ppid, pgid int
	comm            string
}

// processes reads every process's parent and group from /proc.
func processes() map[int]proc {
	all := map[int]proc{}
	entries, _ := os.ReadDir("/proc")
	for _, e := range entries {
		pid, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		b, err := os.ReadFile(filepath.Join("/proc", e.Name(), "stat"))
		if err != nil {
			continue
		}
		// pid (comm) state ppid pgrp ...; comm may hold spaces and parens.
		s := string(b)
		open, close := strings.IndexByte(s, '('), strings.LastIndexByte(s, ')')
		if open < 0 || close < open {
			continue
		}
		f := strings.Fields(s[close+1:])
		if len(f) < 3 {
			continue
		}
		ppid, _ := strconv.Atoi(f[1])
		pgid, _ := strconv.Atoi(f[2])
		all[pid] = proc{pid: pid, ppid: ppid, pgid: pgid, comm: s[open+1 : close]}
	}
	return all
}

// descendants lists every process below root, and every other member of
// their process groups (a server that double-forked stays in its group).
func descendants(root int) []proc {
	all := processes()
	below := map[int]bool{root: true}
	for changed := true; changed; {
		changed = false
		for _, p := range all {
			if !below[p.pid] && below[p.ppid] {
				below[p.pid], changed = true, true
			}
		}
	}
	groups := map[int]bool{}
	for pid := range below {
		groups[all[pid].pgid] = true
	}
	var out []proc
	for _, p := range all {
		if p.pid != root && (below[p.pid] || (groups[p.pgid] && p.pgid != os.Getpid() && p.pgid != syscall.Getpgrp())) {
			out = append(out, p)
		}
	}
	return out
}

// running reports whether pid is a live process (a zombie is not).
func running(pid int) bool {
	b, err := os.ReadFile(filepath.Join("/proc", strconv.Itoa(pid), "stat"))
	if err != nil {
		return false
	}
	s := string(b)
	i := strings.LastIndexByte(s, ')')
	return i < 0 || !strings.HasPrefix(strings.TrimSpace(s[i+1:]), "Z")
}
