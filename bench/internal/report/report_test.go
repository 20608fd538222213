package report

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestWriteSection(t *testing.T) {
	sec := "<!-- bench:x -->\nnew\n<!-- /bench:x -->\n"
	for _, tc := range []struct{ name, before, want string }{
		{"created", "", header + "\n" + sec},
		{"appended", "# B\n\nkept\n", "# B\n\nkept\n\n" + sec},
		{"replaced", "a\n<!-- bench:x -->\nold\n<!-- /bench:x -->\nb\n", "a\n" + sec + "b\n"},
	} {
		path := filepath.Join(t.TempDir(), "B.md")
		if tc.before != "" {
			os.WriteFile(path, []byte(tc.before), 0o644)
		}
		if err := WriteSection(path, "x", sec); err != nil {
			t.Fatalf("%s: %v", tc.name, err)
		}
		got, _ := os.ReadFile(path)
		if string(got) != tc.want {
			t.Errorf("%s: got %q, want %q", tc.name, got, tc.want)
		}
	}
	path := filepath.Join(t.TempDir(), "B.md")
	os.WriteFile(path, []byte("<!-- bench:x -->\nno end\n"), 0o644)
	if err := WriteSection(path, "x", sec); err == nil || !strings.Contains(err.Error(), "unbalanced") {
		t.Fatalf("unbalanced markers: %v", err)
	}
}
