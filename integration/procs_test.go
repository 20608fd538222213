package integration

import (
	"bufio"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

// deadline bounds every wait for something that must happen.
const deadline = 15 * time.Second

// need returns the path of a program the test needs, skipping the test if
// it is missing, or failing it under CI.
func need(t *testing.T, name string) string {
	t.Helper()
	path, err := exec.LookPath(name)
	if err != nil {
		for _, dir := range []string{"/usr/sbin", "/usr/local/sbin", "/sbin"} {
			if p := filepath.Join(dir, name); isExecutable(p) {
				return p
			}
		}
		if os.Getenv("CI") == "true" {
			t.Fatalf("%s is missing; CI must have it (apt-get install %s)", name, name)
		}
		t.Skipf("%s is not installed (apt-get install %s)", name, name)
	}
	return path
}

func isExecutable(path string) bool {
	st, err := os.Stat(path)
	return err == nil && st.Mode().IsRegular() && st.Mode()&0o111 != 0
}

// proc is a program started by a test, stopped when the test ends.
type proc struct {
	t    *testing.T
	cmd  *exec.Cmd
	done chan struct{}
	err  error
}

// start runs a program with its output copied to the test log, line by line,
// and each line also offered to watch (if set) until it returns true.
func start(t *testing.T, watch func(line string) bool, name string, args ...string) *proc {
	t.Helper()
	cmd := exec.Command(name, args...)
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	cmd.Stderr = cmd.Stdout
	if err := cmd.Start(); err != nil {
		t.Fatalf("start %s: %v", name, err)
	}
	p := &proc{t: t, cmd: cmd, done: make(chan struct{})}
	lines := make(chan string, 256)
	go func() {
		defer close(lines)
		sc := bufio.NewScanner(out)
		sc.Buffer(make([]byte, 64<<10), 1<<20)
		for sc.Scan() {
			lines <- sc.Text()
		}
		io.Copy(io.Discard, out)
	}()
	go func() {
		for line := range lines {
			t.Logf("%s: %s", filepath.Base(name), line)
			if watch != nil && watch(line) {
				watch = nil
			}
		}
		p.err = cmd.Wait()
		close(p.done)
	}()
	t.Cleanup(func() { p.kill(syscall.SIGKILL) })
	return p
}

// kill sends sig to the program's process group and waits for it to exit.
func (p *proc) kill(sig syscall.Signal) {
	select {
	case <-p.done:
		return
	default:
	}
	syscall.Kill(-p.cmd.Process.Pid, sig)
	select {
	case <-p.done:
	case <-time.After(deadline):
		p.t.Errorf("%s did not exit after %v", p.cmd.Path, sig)
	}
}

// socatPair starts socat with two linked ptys at dir/a and dir/b, and
// waits until both links exist.
func socatPair(t *testing.T, dir string) (a, b string, p *proc) {
	t.Helper()
	socat := need(t, "socat")
	a, b = filepath.Join(dir, "a"), filepath.Join(dir, "b")
	ready := make(chan struct{})
	p = start(t, func(line string) bool {
		if strings.Contains(line, "starting data transfer loop") {
			close(ready) // both ptys and their links exist
			return true
		}
		return false
	}, socat, "-d", "-d", "pty,raw,echo=0,link="+a, "pty,raw,echo=0,link="+b)
	select {
	case <-ready:
	case <-p.done:
		t.Fatalf("socat exited: %v", p.err)
	case <-time.After(deadline):
		t.Fatal("socat did not start")
	}
	return a, b, p
}
