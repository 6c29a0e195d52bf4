package procfs

import (
	"os"
	"testing"
)

func TestParseProcStat(t *testing.T) {
	// A command name with spaces and parentheses, as the kernel writes it.
	line := "4242 (work (er) d) S 17 4242 4242 0 -1 4194560 12345 0 0 0 731 96 0 0 20 0 9 0 5000 123456789 4567 18446744073709551615 1 1 0 0 0 0 0 4096 0 0 0 0 17 1 0 0 0 0 0\n"
	st, err := ParseStat(line)
	if err != nil {
		t.Fatal(err)
	}
	if st.PID != 4242 || st.Comm != "work (er) d" || st.PPID != 17 || st.Utime != 731 || st.Stime != 96 {
		t.Fatalf("got %+v", st)
	}
	for _, bad := range []string{"", "12 no-parens S 1", "12 (x) S 1 2 3"} {
		if _, err := ParseStat(bad); err == nil {
			t.Errorf("%q: accepted", bad)
		}
	}
}

func TestOwnStat(t *testing.T) {
	if _, err := os.Stat("/proc/self/stat"); err != nil {
		t.Skip("no /proc")
	}
	st, err := ReadStat(os.Getpid())
	if err != nil {
		t.Fatal(err)
	}
	if st.PPID != os.Getppid() {
		t.Fatalf("ppid %d, want %d", st.PPID, os.Getppid())
	}
	procs := All()
	found := false
	for _, pid := range Descendants(os.Getppid(), procs) {
		found = found || pid == os.Getpid()
	}
	if !found {
		t.Fatal("this process is not among its parent's Descendants")
	}
}

func TestDescendants(t *testing.T) {
	procs := map[int]Stat{
		1: {PID: 1}, 10: {PID: 10, PPID: 1}, 11: {PID: 11, PPID: 10}, 12: {PID: 12, PPID: 11},
		13: {PID: 13, PPID: 10}, 20: {PID: 20, PPID: 1},
	}
	got := Descendants(10, procs)
	want := []int{10, 11, 13, 12}
	if len(got) != len(want) {
		t.Fatalf("got %v, want %v", got, want)
	}
	for i := range want {
		if got[i] != want[i] {
			t.Fatalf("got %v, want %v", got, want)
		}
	}
	if got := Descendants(99, procs); len(got) != 0 {
		t.Fatalf("missing root: got %v", got)
	}
}

func TestIsUserWorkerd(t *testing.T) {
	user := "/x/node_modules/@cloudflare/workerd-linux-64/bin/workerd serve --binary --experimental --socket-addr=entry=127.0.0.1:0 --control-fd=3 - --inspector-addr=localhost:0"
	proxy := "/x/node_modules/@cloudflare/workerd-linux-64/bin/workerd serve --binary --experimental --socket-addr=entry=127.0.0.1:8787 --control-fd=3 -"
	node := "node wrangler dev x.mjs --inspector-addr"
	if !IsUserWorkerd(user) || IsUserWorkerd(proxy) || IsUserWorkerd(node) {
		t.Fatal("wrong classification")
	}
}

func TestOwnCmdlineAndRSS(t *testing.T) {
	if _, err := os.Stat("/proc/self/stat"); err != nil {
		t.Skip("no /proc")
	}
	if cmd := Cmdline(os.Getpid()); cmd == "" || cmd[0] != os.Args[0][0] {
		t.Errorf("Cmdline = %q, want it to start with %q", cmd, os.Args[0])
	}
	if rss := RSSMiB(os.Getpid()); rss <= 0 || rss > 1<<20 {
		t.Errorf("RSSMiB = %v", rss)
	}
	if _, err := FindUserWorkerd(os.Getpid()); err == nil {
		t.Error("found a user workerd below the test process")
	}
}
