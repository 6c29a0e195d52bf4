// Package procfs reads what the benchmarks and load tests measure about
// wrangler dev's processes from /proc (Linux): which workerd runs the user's
// worker, its CPU time and its resident memory.
package procfs

import (
	"bytes"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
)

// Stat is what is read from /proc/PID/stat.
type Stat struct {
	PID   int
	Comm  string
	PPID  int
	Utime uint64 // clock ticks
	Stime uint64 // clock ticks
}

// ParseStat parses one /proc/PID/stat line. The command name (field 2) is
// in parentheses and may itself hold spaces and parentheses, so the fields
// after it are counted from the last ')'.
func ParseStat(line string) (Stat, error) {
	var st Stat
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

func ReadStat(pid int) (Stat, error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return Stat{}, err
	}
	return ParseStat(string(b))
}

// CPUTicks is utime+stime of one process (all its threads), in clock ticks.
func CPUTicks(pid int) (uint64, error) {
	st, err := ReadStat(pid)
	if err != nil {
		return 0, err
	}
	return st.Utime + st.Stime, nil
}

// All reads every process's stat line.
func All() map[int]Stat {
	out := map[int]Stat{}
	ents, _ := os.ReadDir("/proc")
	for _, e := range ents {
		pid, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		if st, err := ReadStat(pid); err == nil {
			out[pid] = st
		}
	}
	return out
}

// Descendants lists root and every process below it, given all processes.
func Descendants(root int, procs map[int]Stat) []int {
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

// TreeTicks sums utime+stime over root and its descendants.
func TreeTicks(root int) uint64 {
	procs := All()
	var sum uint64
	for _, pid := range Descendants(root, procs) {
		sum += procs[pid].Utime + procs[pid].Stime
	}
	return sum
}

// Cmdline is a process's command line, arguments separated by spaces.
func Cmdline(pid int) string {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/cmdline", pid))
	if err != nil {
		return ""
	}
	return string(bytes.ReplaceAll(bytes.TrimRight(b, "\x00"), []byte{0}, []byte{' '}))
}

// IsUserWorkerd tells wrangler's user-worker workerd from its proxy workerd:
// only the user worker's runtime gets an inspector address.
func IsUserWorkerd(cmd string) bool {
	fields := strings.Fields(cmd)
	return len(fields) > 0 && filepath.Base(fields[0]) == "workerd" && strings.Contains(cmd, "--inspector-addr")
}

// FindUserWorkerd finds the user-worker workerd below the wrangler process.
func FindUserWorkerd(wranglerPID int) (int, error) {
	procs := All()
	var found []int
	for _, pid := range Descendants(wranglerPID, procs) {
		if IsUserWorkerd(Cmdline(pid)) {
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

// RSSMiB is VmRSS of a process in MiB (0 if unknown).
func RSSMiB(pid int) float64 {
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

// ClockTicks is CLK_TCK (USER_HZ), the unit of utime and stime.
func ClockTicks() int {
	out, err := exec.Command("getconf", "CLK_TCK").Output()
	if err == nil {
		if n, err := strconv.Atoi(strings.TrimSpace(string(out))); err == nil && n > 0 {
			return n
		}
	}
	return 100
}

// ThreadCPU is the CPU time each thread of a process has run, in nanoseconds
// (the first field of /proc/PID/task/TID/schedstat, kept by the scheduler at
// nanosecond precision, unlike utime and stime's clock ticks), by thread id,
// with the thread's name.
type ThreadCPU map[int]Thread

// Thread is one thread's name (comm) and CPU time so far.
type Thread struct {
	Comm  string
	Nanos uint64
}

// ReadThreadCPU reads every thread of pid; a thread that ends while it is
// read is left out.
func ReadThreadCPU(pid int) (ThreadCPU, error) {
	dir := fmt.Sprintf("/proc/%d/task", pid)
	ents, err := os.ReadDir(dir)
	if err != nil {
		return nil, err
	}
	out := ThreadCPU{}
	for _, e := range ents {
		tid, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		b, err := os.ReadFile(filepath.Join(dir, e.Name(), "schedstat"))
		if err != nil {
			continue
		}
		f := strings.Fields(string(b))
		if len(f) == 0 {
			continue
		}
		ns, err := strconv.ParseUint(f[0], 10, 64)
		if err != nil {
			continue
		}
		comm, _ := os.ReadFile(filepath.Join(dir, e.Name(), "comm"))
		out[tid] = Thread{Comm: strings.TrimSpace(string(comm)), Nanos: ns}
	}
	return out, nil
}

// Since is the CPU time each thread ran between before and t, in
// nanoseconds, by thread id (a thread started since counts whole; one that
// ended is lost, which utime+stime would still count).
func (t ThreadCPU) Since(before ThreadCPU) map[int]uint64 {
	out := map[int]uint64{}
	for tid, th := range t {
		d := th.Nanos
		if b, ok := before[tid]; ok && b.Nanos <= th.Nanos {
			d -= b.Nanos
		}
		out[tid] = d
	}
	return out
}

// MainAndOthers splits the CPU time since before into the process's main
// thread (its id is the process id: in workerd the thread that runs the
// isolate's JavaScript and WebAssembly) and all other threads (V8's
// background compilers and garbage collector, I/O), in milliseconds.
func (t ThreadCPU) MainAndOthers(pid int, before ThreadCPU) (main, others float64) {
	for tid, ns := range t.Since(before) {
		if tid == pid {
			main += float64(ns) / 1e6
		} else {
			others += float64(ns) / 1e6
		}
	}
	return main, others
}

// ThreadNanos is the CPU time thread tid of process pid has run, in
// nanoseconds (its schedstat).
func ThreadNanos(pid, tid int) (uint64, error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/task/%d/schedstat", pid, tid))
	if err != nil {
		return 0, err
	}
	f := strings.Fields(string(b))
	if len(f) == 0 {
		return 0, fmt.Errorf("schedstat of %d/%d: empty", pid, tid)
	}
	return strconv.ParseUint(f[0], 10, 64)
}
