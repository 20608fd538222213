package build

import (
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

// TestIogate builds HEAD: the work tree is shared with others' edits, and
// may not build at any given moment.
func TestIogate(t *testing.T) {
	if testing.Short() {
		t.Skip("builds iogate")
	}
	bin, commit, err := Iogate(t.TempDir(), "HEAD")
	if err != nil {
		t.Fatal(err)
	}
	if commit == "" {
		t.Error("no commit")
	}
	out, err := exec.Command(bin, "version").CombinedOutput()
	if err != nil || !strings.Contains(string(out), "iogate") {
		t.Errorf("iogate version: %q, %v", out, err)
	}
}

func TestCheckout(t *testing.T) {
	dir := t.TempDir()
	root := filepath.Join("..", "..", "..")
	got, hash, err := Checkout(root, "HEAD", dir)
	if err != nil {
		t.Fatal(err)
	}
	want, _ := exec.Command("git", "-C", root, "rev-parse", "--short", "HEAD").Output()
	if got != dir || hash != strings.TrimSpace(string(want)) {
		t.Errorf("Checkout: %q, %q; want %q, %q", got, hash, dir, want)
	}
	if _, err := os.Stat(filepath.Join(dir, "go.mod")); err != nil {
		t.Error(err)
	}
	if _, _, err := Checkout(root, "no-such-revision", t.TempDir()); err == nil {
		t.Error("a revision that does not exist: no error")
	}
}

func TestDescribe(t *testing.T) {
	if got := Describe("/tmp/iogate", ""); got != "unknown: the binary /tmp/iogate given with -iogate" {
		t.Errorf("given: %q", got)
	}
	if got := Describe("", "abc1234"); got != "abc1234, built from git archive" {
		t.Errorf("revision: %q", got)
	}
	if got := Describe("", ""); !regexp.MustCompile(`^[0-9a-f]{7,}( with uncommitted changes in iogate's packages)?$`).MatchString(got) {
		t.Errorf("work tree: %q", got)
	}
}
