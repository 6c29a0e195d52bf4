package main

import (
	"fmt"
	"os/exec"
	"sync"
	"syscall"
	"time"
)

// The /proc readings (user-worker workerd, CPU ticks, RSS) are in
// scripts/internal/procfs, shared with the load test (scripts/e2e).

// group is a child started in its own process group; stopping it ends the
// whole group (wrangler's node and both workerd processes, or stripe-mock).
type group struct {
	name string
	cmd  *exec.Cmd
	done chan struct{}
	err  error
}

var (
	groupsMu sync.Mutex
	groups   = map[*group]bool{}
)

// startGroup starts cmd as the leader of a new process group and remembers it
// so stopAll can end it on any exit path.
func startGroup(name string, cmd *exec.Cmd) (*group, error) {
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	g := &group{name: name, cmd: cmd, done: make(chan struct{})}
	groupsMu.Lock()
	defer groupsMu.Unlock()
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("start %s: %w", name, err)
	}
	groups[g] = true
	go func() {
		g.err = cmd.Wait()
		close(g.done)
	}()
	return g, nil
}

func (g *group) pid() int { return g.cmd.Process.Pid }

func (g *group) exited() bool {
	select {
	case <-g.done:
		return true
	default:
		return false
	}
}

// stop sends SIGTERM to the group, then SIGKILL to whatever is left after a
// grace period. The group id is the leader's pid (Setpgid with Pgid 0).
func (g *group) stop() {
	pgid := g.pid()
	_ = syscall.Kill(-pgid, syscall.SIGTERM)
	deadline := time.Now().Add(5 * time.Second)
	for time.Now().Before(deadline) && groupAlive(pgid) {
		time.Sleep(50 * time.Millisecond)
	}
	if groupAlive(pgid) {
		_ = syscall.Kill(-pgid, syscall.SIGKILL)
	}
	select {
	case <-g.done:
	case <-time.After(5 * time.Second):
	}
	groupsMu.Lock()
	delete(groups, g)
	groupsMu.Unlock()
}

// groupAlive reports whether any process of the group still exists
// (kill with signal 0 on the negative pgid).
func groupAlive(pgid int) bool {
	return syscall.Kill(-pgid, 0) == nil
}

// stopAll stops every group still running.
func stopAll() {
	groupsMu.Lock()
	var gs []*group
	for g := range groups {
		gs = append(gs, g)
	}
	groupsMu.Unlock()
	for _, g := range gs {
		g.stop()
	}
}
