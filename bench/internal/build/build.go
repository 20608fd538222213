// Package build builds the iogate binary the benchmarks run: from the work
// tree, as a user builds it, or from a git revision, so that a benchmark in
// a work tree shared with others' uncommitted changes measures a known
// commit.
package build

import (
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"

	"github.com/iogate/iogate/bench/internal/machine"
)

// Iogate builds iogate's ./cmd/iogate into dir and returns the binary's
// path. With rev empty it builds the work tree, in iogate's own module as
// users build it, and commit is empty; otherwise it builds revision rev,
// extracted with git archive (uncommitted changes left out), and commit is
// its short hash. It must run inside the bench module, whose replace
// directive says where iogate's module is.
func Iogate(dir, rev string) (bin, commit string, err error) {
	root, err := exec.Command("go", "list", "-m", "-f", "{{.Dir}}", "github.com/iogate/iogate").Output()
	if err != nil {
		return "", "", fmt.Errorf("find iogate's module (run inside the bench module): %w", err)
	}
	src := strings.TrimSpace(string(root))
	if rev != "" {
		if src, commit, err = Checkout(src, rev, filepath.Join(dir, "src")); err != nil {
			return "", "", err
		}
	}
	bin = filepath.Join(dir, "iogate")
	build := exec.Command("go", "build", "-o", bin, "./cmd/iogate")
	build.Dir = src
	build.Stdout, build.Stderr = os.Stderr, os.Stderr
	if err := build.Run(); err != nil {
		return "", "", fmt.Errorf("build iogate: %w", err)
	}
	return bin, commit, nil
}

// Checkout extracts revision rev of the repository at root into dir, and
// returns dir and the revision's short hash.
func Checkout(root, rev, dir string) (string, string, error) {
	hash, err := exec.Command("git", "-C", root, "rev-parse", "--short", rev+"^{commit}").Output()
	if err != nil {
		return "", "", fmt.Errorf("revision %s: %w", rev, err)
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return "", "", err
	}
	archive := exec.Command("git", "-C", root, "archive", "--format=tar", rev)
	untar := exec.Command("tar", "-x", "-C", dir)
	pipe, err := archive.StdoutPipe()
	if err != nil {
		return "", "", err
	}
	untar.Stdin = pipe
	if err := untar.Start(); err != nil {
		return "", "", err
	}
	if err := errors.Join(archive.Run(), untar.Wait()); err != nil {
		return "", "", fmt.Errorf("revision %s: git archive | tar: %w", rev, err)
	}
	return dir, strings.TrimSpace(string(hash)), nil
}

// iogatePackages are the directories whose changes make another iogate.
var iogatePackages = []string{"cmd", "services", "resources", "reactor", "poller", "framing", "config", "spool"}

// Describe says, for a report, which iogate was measured: given is a
// binary the user passed in instead of a build, commit what Iogate returned;
// with neither it is the work tree's HEAD, and whether iogate's packages
// had uncommitted changes, which the binary then included.
func Describe(given, commit string) string {
	switch {
	case given != "":
		return "unknown: the binary " + given + " given with -iogate"
	case commit != "":
		return commit + ", built from git archive"
	}
	hash, dirty := machine.Commit(iogatePackages...)
	if dirty {
		hash += " with uncommitted changes in iogate's packages"
	}
	return hash
}
