package main

import (
	"bytes"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"
)

// procStat is what the benchmark reads from /proc/PID/stat.
type procStat struct {
	PID   int
	Comm  string
	PPID  int
	Utime uint64 // clock ticks
	Stime uint64 // clock ticks
}

// parseProcStat parses one /proc/PID/stat line. The command name (field 2) is
// in parentheses and may itself hold spaces and parentheses, so the fields
// after it are counted from the last ')'.
func parseProcStat(line string) (procStat, error) {
	var st procStat
	open := strings.IndexByte(line, '(')
	closing := strings.LastIndexByte(line, ')')
	if open < 0 || closing < open {
		return st, fmt.Errorf("stat: no command name in %q", line)
	}
	pid, err := strconv.Atoi(strings.TrimSpace(line[:open]))
	if err != nil {
		return st, fmt.Errorf("stat: pid: %v", err)
	}
	st.PID, st.Comm = pid, line[open+1:closing]
	// rest[0] is field 3 (state), so field k is rest[k-3].
	rest := strings.Fields(line[closing+1:])
	if len(rest) < 13 {
		return st, fmt.Errorf("stat: %d fields after the command name, want at least 13", len(rest))
	}
	if st.PPID, err = strconv.Atoi(rest[4-3]); err != nil {
		return st, fmt.Errorf("stat: ppid: %v", err)
	}
	if st.Utime, err = strconv.ParseUint(rest[14-3], 10, 64); err != nil {
		return st, fmt.Errorf("stat: utime: %v", err)
	}
	if st.Stime, err = strconv.ParseUint(rest[15-3], 10, 64); err != nil {
		return st, fmt.Errorf("stat: stime: %v", err)
	}
	return st, nil
}

func readProcStat(pid int) (procStat, error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return procStat{}, err
	}
	return parseProcStat(string(b))
}

// cpuTicks is utime+stime of one process (all its threads), in clock ticks.
func cpuTicks(pid int) (uint64, error) {
	st, err := readProcStat(pid)
	if err != nil {
		return 0, err
	}
	return st.Utime + st.Stime, nil
}

// allProcs reads every process's stat line.
func allProcs() map[int]procStat {
	out := map[int]procStat{}
	ents, _ := os.ReadDir("/proc")
	for _, e := range ents {
		pid, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		if st, err := readProcStat(pid); err == nil {
			out[pid] = st
		}
	}
	return out
}

// descendants lists root and every process below it, given all processes.
func descendants(root int, procs map[int]procStat) []int {
	children := map[int][]int{}
	for pid, st := range procs {
		children[st.PPID] = append(children[st.PPID], pid)
	}
	var out []int
	queue := []int{root}
	for len(queue) > 0 {
		pid := queue[0]
		queue = queue[1:]
		if _, ok := procs[pid]; !ok {
			continue
		}
		out = append(out, pid)
		kids := children[pid]
		sort.Ints(kids)
		queue = append(queue, kids...)
	}
	return out
}

// treeTicks sums utime+stime over root and its descendants.
func treeTicks(root int) uint64 {
	procs := allProcs()
	var sum uint64
	for _, pid := range descendants(root, procs) {
		sum += procs[pid].Utime + procs[pid].Stime
	}
	return sum
}

func cmdline(pid int) string {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/cmdline", pid))
	if err != nil {
		return ""
	}
	return string(bytes.ReplaceAll(bytes.TrimRight(b, "\x00"), []byte{0}, []byte{' '}))
}

// isUserWorkerd tells wrangler's user-worker workerd from its proxy workerd:
// only the user worker's runtime gets an inspector address.
func isUserWorkerd(cmd string) bool {
	fields := strings.Fields(cmd)
	return len(fields) > 0 && filepath.Base(fields[0]) == "workerd" && strings.Contains(cmd, "--inspector-addr")
}

// findUserWorkerd finds the user-worker workerd below the wrangler process.
func findUserWorkerd(wranglerPID int) (int, error) {
	procs := allProcs()
	var found []int
	for _, pid := range descendants(wranglerPID, procs) {
		if isUserWorkerd(cmdline(pid)) {
			found = append(found, pid)
		}
	}
	switch len(found) {
	case 0:
		return 0, fmt.Errorf("no workerd with --inspector-addr below wrangler (pid %d)", wranglerPID)
	case 1:
		return found[0], nil
	}
	return 0, fmt.Errorf("%d workerd processes with --inspector-addr below wrangler (pid %d): %v", len(found), wranglerPID, found)
}

// rssMB is VmRSS of a process in MiB (0 if unknown).
func rssMB(pid int) float64 {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return 0
	}
	for _, line := range strings.Split(string(b), "\n") {
		if f := strings.Fields(line); len(f) >= 2 && f[0] == "VmRSS:" {
			kb, _ := strconv.ParseFloat(f[1], 64)
			return kb / 1024
		}
	}
	return 0
}

// clockTicks is CLK_TCK (USER_HZ), the unit of utime and stime.
func clockTicks() int {
	out, err := exec.Command("getconf", "CLK_TCK").Output()
	if err == nil {
		if n, err := strconv.Atoi(strings.TrimSpace(string(out))); err == nil && n > 0 {
			return n
		}
	}
	return 100
}

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
