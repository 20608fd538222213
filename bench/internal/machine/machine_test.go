package machine

import (
	"errors"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"
)

func TestCPUModel(t *testing.T) {
	for _, tc := range []struct{ in, want string }{
		{"processor\t: 0\nvendor_id\t: GenuineIntel\nmodel name\t: Intel(R) Xeon(R) Processor\nmodel\t\t: 85\n", "Intel(R) Xeon(R) Processor"},
		{"processor\t: 0\nmodel\t\t: 85\n", "unknown"},
		{"", "unknown"},
	} {
		if got := cpuModel([]byte(tc.in)); got != tc.want {
			t.Errorf("cpuModel(%q) = %q, want %q", tc.in, got, tc.want)
		}
	}
}

func TestDescribe(t *testing.T) {
	m := Describe()
	if m.CPUs < 1 || m.Go == "" || !regexp.MustCompile(`^Linux \S+ \S+$`).MatchString(m.Kernel) || time.Since(m.Started) > time.Minute {
		t.Errorf("%+v", m)
	}
}

func TestCommit(t *testing.T) {
	top := t.TempDir()
	write := func(name, text string) {
		path := filepath.Join(top, name)
		if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, []byte(text), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	git := func(args ...string) string {
		out, err := exec.Command("git", append([]string{"-C", top, "-c", "user.name=t", "-c", "user.email=t@example.com"}, args...)...).CombinedOutput()
		if err != nil {
			t.Fatalf("git %v: %v: %s", args, err, out)
		}
		return strings.TrimSpace(string(out))
	}
	write("reactor/a.go", "package reactor\n")
	write("bench/b.go", "package bench\n")
	git("init", "-q")
	git("add", ".")
	git("commit", "-q", "-m", "one")
	head := git("rev-parse", "--short", "HEAD")
	// The driver runs in a subdirectory; dirs are from the top.
	t.Chdir(filepath.Join(top, "bench"))
	for _, step := range []struct {
		change, dirs string
		dirty        bool
	}{
		{"", "reactor", false},
		{"bench/b.go", "reactor", false},
		{"", "reactor bench", true},
		{"reactor/new.go", "reactor", true},
	} {
		if step.change != "" {
			write(step.change, "package x\n")
		}
		hash, dirty := Commit(strings.Fields(step.dirs)...)
		if hash != head || dirty != step.dirty {
			t.Errorf("after %q, Commit(%s) = %q, %v; want %q, %v", step.change, step.dirs, hash, dirty, head, step.dirty)
		}
	}
	t.Chdir(t.TempDir())
	if hash, dirty := Commit("reactor"); hash != "unknown" || dirty {
		t.Errorf("outside a checkout: %q, %v", hash, dirty)
	}
}

func TestSettle(t *testing.T) {
	start := time.Now()
	// No machine is ever below 0 CPUs busy: Settle waits out its limit.
	if err := Settle(time.Second, 0); err != nil {
		t.Fatal(err)
	}
	if el := time.Since(start); el < time.Second || el > 3*time.Second {
		t.Errorf("Settle(1s, 0) returned after %v", el)
	}
	start = time.Now()
	if err := Settle(time.Minute, 1e9); err != nil {
		t.Fatal(err)
	}
	if el := time.Since(start); el > 2*time.Second {
		t.Errorf("Settle(1m, any load) returned after %v, want one probe", el)
	}
}

func TestLeastDisturbed(t *testing.T) {
	p := Policy{Disturbed: 0.5, Retries: 2}
	for _, tc := range []struct {
		name      string
		loads     []float64 // the background load of each run, in order
		want      float64
		runs      int
		logged    int
		noRetries bool
	}{
		{"quiet", []float64{0.1}, 0.1, 1, 0, false},
		{"disturbed once", []float64{0.9, 0.2}, 0.2, 2, 1, false},
		{"always disturbed: the least", []float64{0.9, 0.7, 0.8}, 0.7, 3, 2, false},
		{"no retries", []float64{0.9}, 0.9, 1, 0, true},
	} {
		q := p
		if tc.noRetries {
			q.Retries = 0
		}
		var log strings.Builder
		got, runs, err := LeastDisturbed(q, func(try int) (float64, error) { return tc.loads[try], nil },
			func(load float64) float64 { return load }, &log)
		if err != nil || got != tc.want || runs != tc.runs || strings.Count(log.String(), "disturbed, running again") != tc.logged {
			t.Errorf("%s: got %v after %d runs (%v), logged %q; want %v after %d", tc.name, got, runs, err, log.String(), tc.want, tc.runs)
		}
	}
	boom := errors.New("boom")
	if _, _, err := LeastDisturbed(p, func(int) (int, error) { return 0, boom }, func(int) float64 { return 0 }, io.Discard); err != boom {
		t.Errorf("a failed run: %v", err)
	}
}
