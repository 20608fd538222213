// Package report writes the sections of BENCHMARKS.md that the benchmark
// drivers own: each driver rewrites the text between its own
// <!-- bench:NAME --> markers and keeps everything else.
package report

import (
	"errors"
	"fmt"
	"os"
	"strings"
)

// header starts a BENCHMARKS.md that does not exist yet.
const header = `# Benchmarks

iogate against its peers. Each section is written by ` + "`make bench`" + ` (bench/cmd/benchrun)
between its ` + "`<!-- bench:NAME -->`" + ` markers and regenerated in place; text outside
the markers is kept. See bench/README.md.
`

// WriteSection replaces the named section of the markdown file at path,
// markers included, with section; a file without it gets it appended, and
// a missing file is created with the benchmarks header.
func WriteSection(path, name, section string) error {
	old, err := os.ReadFile(path)
	if err != nil && !errors.Is(err, os.ErrNotExist) {
		return err
	}
	doc := string(old)
	if doc == "" {
		doc = header
	}
	begin := fmt.Sprintf("<!-- bench:%s -->", name)
	end := fmt.Sprintf("<!-- /bench:%s -->\n", name)
	i, j := strings.Index(doc, begin), strings.Index(doc, end)
	switch {
	case i >= 0 && j > i:
		doc = doc[:i] + section + doc[j+len(end):]
	case i >= 0 || j >= 0:
		return fmt.Errorf("%s: unbalanced %s markers; fix them by hand", path, name)
	default:
		if !strings.HasSuffix(doc, "\n\n") {
			doc = strings.TrimRight(doc, "\n") + "\n\n"
		}
		doc += section
	}
	return os.WriteFile(path, []byte(doc), 0o644)
}
