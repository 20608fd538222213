package integration

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// iogateBin is the gateway under test, built once per run by TestMain
// from the module at moduleRoot.
var iogateBin, moduleRoot string

func TestMain(m *testing.M) {
	os.Exit(runMain(m))
}

func runMain(m *testing.M) int {
	dir, err := os.MkdirTemp("", "iogate-integration-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	defer os.RemoveAll(dir)
	iogateBin = filepath.Join(dir, "iogate")
	if raceEnabled {
		// The race runtime waits a second at exit by default, which would
		// eat a fifth of the 5 s a graceful stop may take.
		os.Setenv("GORACE", strings.TrimSpace(os.Getenv("GORACE")+" atexit_sleep_ms=0"))
	}
	if err := buildIogate(iogateBin); err != nil {
		fmt.Fprintf(os.Stderr, "integration: build iogate: %v\n", err)
		return 1
	}
	return m.Run()
}

// buildIogate builds cmd/iogate the way a user does, from the module root,
// with the race detector when the tests have it: a data race in the
// gateway then fails the test that provoked it.
func buildIogate(out string) error {
	goTool, err := exec.LookPath("go")
	if err != nil {
		return err
	}
	moduleRoot = ".."
	if gomod, err := exec.Command(goTool, "env", "GOMOD").Output(); err == nil {
		if p := strings.TrimSpace(string(gomod)); p != "" && p != os.DevNull {
			moduleRoot = filepath.Dir(p)
		}
	}
	args := []string{"build", "-o", out}
	if raceEnabled {
		args = append(args, "-race")
	}
	cmd := exec.Command(goTool, append(args, "./cmd/iogate")...)
	cmd.Dir = moduleRoot
	cmd.Stdout, cmd.Stderr = os.Stderr, os.Stderr
	return cmd.Run()
}
