package proc

import (
	"os"
	"os/exec"
	"runtime"
	"strings"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

func TestParseStat(t *testing.T) {
	for _, tc := range []struct {
		name, in string
		want     Times
		fails    bool
	}{
		{"plain", "42 (sh) S 1 42 42 0 -1 4194304 100 0 0 0 7 3 0 0 20 0 1 0", Times{70 * time.Millisecond, 30 * time.Millisecond}, false},
		{"name with ') '", "42 (a) b (c)) R 1 42 42 0 -1 0 0 0 0 0 150 250 0 0", Times{1500 * time.Millisecond, 2500 * time.Millisecond}, false},
		{"no name", "42 sh S 1", Times{}, true},
		{"short", "42 (sh) S 1 42", Times{}, true},
		{"not a number", "42 (sh) S 1 42 42 0 -1 0 0 0 0 0 x 3 0 0", Times{}, true},
	} {
		got, err := parseStat([]byte(tc.in))
		if (err != nil) != tc.fails || got != tc.want {
			t.Errorf("%s: got %v, %v; want %v, error %v", tc.name, got, err, tc.want, tc.fails)
		}
	}
}

func TestParseStatus(t *testing.T) {
	const status = "Name:\tx\nVmHWM:\t    2048 kB\nVmRSS:\t    1024 kB\nThreads:\t5\nvoluntary_ctxt_switches:\t17\n"
	for _, tc := range []struct {
		key   string
		want  int64
		fails bool
	}{
		{"VmRSS", 1 << 20, false},
		{"VmHWM", 2 << 20, false},
		{"Threads", 5, false},
		{"voluntary_ctxt_switches", 17, false},
		{"Vm", 0, true},
		{"Name", 0, true},
		{"VmSwap", 0, true},
	} {
		got, err := parseStatus([]byte(status), tc.key)
		if (err != nil) != tc.fails || got != tc.want {
			t.Errorf("%s: got %d, %v; want %d, error %v", tc.key, got, err, tc.want, tc.fails)
		}
	}
}

func TestParseBusy(t *testing.T) {
	got, err := parseBusy([]byte("cpu  100 5 50 9000 40 1 2 3 7 0\ncpu0 1 2 3 4 5 6 7 8 9 10\n"))
	if want := 161 * tick; err != nil || got != want {
		t.Errorf("got %v, %v; want %v", got, err, want)
	}
	if _, err := parseBusy([]byte("intr 1 2 3\n")); err == nil {
		t.Error("a first line that is not cpu: no error")
	}
}

// spin burns d of CPU time on this thread, from start, as the scheduler
// counts it: on a loaded machine that takes longer than d.
func spin(t *testing.T, tid int, start, d time.Duration) {
	for deadline := time.Now().Add(10 * time.Second); time.Now().Before(deadline); {
		now, err := ThreadCPU(os.Getpid(), tid)
		if err != nil {
			t.Fatal(err)
		}
		if now-start >= d {
			return
		}
	}
	t.Fatalf("could not spin %v of CPU in 10s", d)
}

func TestSelf(t *testing.T) {
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	pid, tid := os.Getpid(), unix.Gettid()
	u0, err := ReadUsage(pid)
	if err != nil {
		t.Fatal(err)
	}
	c0, err := CPU(pid)
	if err != nil {
		t.Fatal(err)
	}
	th0, err := ThreadCPU(pid, tid)
	if err != nil {
		t.Fatal(err)
	}
	busy0, err := Busy()
	if err != nil {
		t.Fatal(err)
	}
	spin(t, tid, th0, 100*time.Millisecond)
	u1, err := ReadUsage(pid)
	if err != nil {
		t.Fatal(err)
	}
	c1, _ := CPU(pid)
	th1, _ := ThreadCPU(pid, tid)
	busy1, _ := Busy()
	d := u1.Sub(u0)
	// The ticks of /proc/PID/stat are coarse; schedstat is not.
	if c1.Sub(c0).Total() < 50*time.Millisecond || d.CPU < 50*time.Millisecond || d.Sched < 100*time.Millisecond {
		t.Errorf("100 ms of spinning: stat %v, usage %v, schedstat %v", c1.Sub(c0).Total(), d.CPU, d.Sched)
	}
	if th1-th0 < 100*time.Millisecond || busy1-busy0 < 50*time.Millisecond {
		t.Errorf("100 ms of spinning: thread %v, machine %v", th1-th0, busy1-busy0)
	}
	if u1.RSS <= 0 || u1.HWM < u1.RSS || u1.Switches <= 0 || u1.Syscalls <= 0 {
		t.Errorf("usage %+v", u1)
	}
	threads, err := Threads(pid)
	if err != nil {
		t.Fatal(err)
	}
	if _, ok := threads[tid]; !ok || len(threads) < 2 {
		t.Errorf("threads %v: want this one (%d) among several", threads, tid)
	}
}

func TestKworkers(t *testing.T) {
	if _, err := Kworkers(); err != nil {
		t.Fatal(err)
	}
}

func TestStart(t *testing.T) {
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	ready := make(chan struct{})
	p, err := Start("sh", exec.Command("sh", "-c", "echo one; echo ready; exec sleep 30"), func(line string) {
		if line == "ready" {
			close(ready)
		}
	})
	if err != nil {
		t.Fatal(err)
	}
	select {
	case <-ready:
	case <-time.After(10 * time.Second):
		t.Fatal("no ready line")
	}
	if _, err := RSS(p.Pid()); err != nil {
		t.Error(err)
	}
	if err := p.Stop(5 * time.Second); err != nil {
		t.Fatal(err)
	}
	err = p.Failed("ended")
	if msg := err.Error(); !strings.Contains(msg, "sh ended: exited (signal: terminated)") || !strings.HasSuffix(msg, "one\nready") {
		t.Errorf("Failed: %q", msg)
	}
}

func TestStopKills(t *testing.T) {
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	p, err := Start("sh", exec.Command("sh", "-c", "trap '' TERM; echo ready; while :; do sleep 1; done"), nil)
	if err != nil {
		t.Fatal(err)
	}
	for p.Output() != "ready" {
		time.Sleep(10 * time.Millisecond) // polling the output, bounded by the test's timeout
	}
	if err := p.Stop(200 * time.Millisecond); err == nil || !strings.Contains(err.Error(), "killed") {
		t.Errorf("Stop of a program that ignores SIGTERM: %v", err)
	}
	select {
	case <-p.Exited():
	default:
		t.Error("not exited after Stop")
	}
}

func TestFind(t *testing.T) {
	if p, err := Find("sh", "dash"); err != nil || p == "" {
		t.Errorf("sh: %q, %v", p, err)
	}
	if p, err := Find("no-such-program-here", "pkg", "/bin/sh"); err != nil || p != "/bin/sh" {
		t.Errorf("fallback: %q, %v", p, err)
	}
	if _, err := Find("no-such-program-here", "pkg", "/nonexistent"); err == nil || !strings.Contains(err.Error(), "apt-get install pkg") {
		t.Errorf("missing: %v", err)
	}
}
