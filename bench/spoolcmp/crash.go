package main

import (
	"bufio"
	"bytes"
	"fmt"
	"log"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
)

// crashes kills a child appending to each store with SIGKILL, then damages
// a copy of what it left the way a power cut can (the last record cut
// short, a byte of it changed) and reads each back.
func crashes(base string) {
	const killAfter = 20000
	fmt.Printf("### Crashes: SIGKILL after %d appends (group sync every 1000), then damage to the newest file\n\n", killAfter)
	fmt.Println("| store | SIGKILL mid-stream | last record cut short (7 bytes) | a byte of the last record flipped |")
	fmt.Println("|---|---|---|---|")
	for _, name := range []string{"spool", "tidwall/wal + TruncateFront", "bbolt, tx per frame", "bbolt, tx per group"} {
		c := find(name)
		dir := filepath.Join(base, "crash")
		os.RemoveAll(dir)
		appended, err := runChild(c, dir, killAfter)
		if err != nil {
			fmt.Printf("| %s | error: %v | | |\n", name, err)
			continue
		}
		frames, note, err := c.read(dir)
		row := []string{describe(frames, note, err, appended)}
		last := uint64(0)
		if len(frames) > 0 {
			last = frames[len(frames)-1].seq
		}
		for _, damage := range []func(path string) error{
			func(path string) error {
				fi, err := os.Stat(path)
				if err != nil {
					return err
				}
				return os.Truncate(path, fi.Size()-7)
			},
			func(path string) error { return flipPayload(path, framePayload(last)) },
		} {
			cp := filepath.Join(base, "damaged")
			if err := copyDir(dir, cp); err != nil {
				log.Fatal(err)
			}
			if err := damage(newestFile(cp)); err != nil {
				row = append(row, "damage failed: "+err.Error())
				continue
			}
			frames, note, err := c.read(cp)
			row = append(row, describe(frames, note, err, appended))
		}
		fmt.Printf("| %s | %s |\n", name, strings.Join(row, " | "))
	}
	fmt.Println()
}

func framePayload(i uint64) []byte {
	p := fmt.Appendf(nil, "frame %08d ", i)
	return append(p, payload[:64-len(p)]...)
}

// runChild runs the crash child until it has said it appended n frames,
// kills it, and returns how many it said it appended.
func runChild(c candidate, dir string, n int) (uint64, error) {
	cmd := exec.Command(os.Args[0], "-child", c.name, "-dir", dir)
	cmd.Stderr = os.Stderr
	out, err := cmd.StdoutPipe()
	if err != nil {
		return 0, err
	}
	if err := cmd.Start(); err != nil {
		return 0, err
	}
	var appended uint64
	sc := bufio.NewScanner(out)
	for sc.Scan() {
		v, err := strconv.ParseUint(strings.TrimPrefix(sc.Text(), "a "), 10, 64)
		if err != nil {
			continue
		}
		appended = v
		if v == uint64(n) {
			cmd.Process.Signal(syscall.SIGKILL)
		}
	}
	cmd.Wait()
	if appended < uint64(n) {
		return appended, fmt.Errorf("child stopped after %d", appended)
	}
	return appended, nil
}

func crashChild(name, dir string) {
	c := find(name)
	if err := os.MkdirAll(dir, 0o700); err != nil {
		log.Fatal(err)
	}
	st, err := c.open(dir)
	if err != nil {
		log.Fatal(err)
	}
	w := bufio.NewWriterSize(os.Stdout, 64)
	for i := uint64(1); ; i++ {
		if err := st.Append(framePayload(i)); err != nil {
			log.Fatal(err)
		}
		fmt.Fprintf(w, "a %d\n", i)
		w.Flush()
		if i%1000 == 0 {
			if err := st.Sync(); err != nil {
				log.Fatal(err)
			}
		}
	}
}

// describe says what a store gave back after a crash.
func describe(frames []frame, note string, err error, appended uint64) string {
	if err != nil && len(frames) == 0 {
		return "**open fails**: " + oneLine(err.Error())
	}
	wrong, kept := 0, uint64(0)
	for i, f := range frames {
		if !bytes.Equal(f.payload, framePayload(f.seq)) {
			wrong++
		}
		if f.seq <= appended && (i == 0 || f.seq == frames[i-1].seq+1) {
			kept++
		}
	}
	s := fmt.Sprintf("%d of %d kept", kept, appended)
	if lost := appended - kept; lost > 0 {
		s = fmt.Sprintf("%d of %d kept, **%d lost**", kept, appended, lost)
	}
	if wrong > 0 {
		s += fmt.Sprintf(", **%d returned corrupt, undetected**", wrong)
	}
	if err != nil {
		s += "; then " + oneLine(err.Error())
	}
	if note != "" && note != "opened" && note != "clean" {
		s += "; reported: " + oneLine(note)
	}
	return s
}

func oneLine(s string) string {
	s = strings.ReplaceAll(s, "\n", " ")
	s = strings.ReplaceAll(s, "|", "/")
	if len(s) > 120 {
		s = s[:120] + "..."
	}
	return s
}

// flipPayload changes a byte in every copy of p in the file (a B+tree
// keeps stale copies in free pages; one of them is the live one).
func flipPayload(path string, p []byte) error {
	b, err := os.ReadFile(path)
	if err != nil {
		return err
	}
	n := 0
	for off := 0; ; {
		i := bytes.Index(b[off:], p)
		if i < 0 {
			break
		}
		b[off+i+10] ^= 0x20
		off += i + len(p)
		n++
	}
	if n == 0 {
		return fmt.Errorf("%s: last frame not found", filepath.Base(path))
	}
	return os.WriteFile(path, b, 0o600)
}

// newestFile is the last data file by name: the spool's and the WAL's
// last segment, bbolt's only file.
func newestFile(dir string) string {
	ents, _ := os.ReadDir(dir)
	var names []string
	for _, e := range ents {
		if e.Type().IsRegular() && !strings.HasPrefix(e.Name(), "cursor") {
			names = append(names, e.Name())
		}
	}
	slices.Sort(names)
	if len(names) == 0 {
		return filepath.Join(dir, "none")
	}
	return filepath.Join(dir, names[len(names)-1])
}

func copyDir(from, to string) error {
	os.RemoveAll(to)
	if err := os.MkdirAll(to, 0o700); err != nil {
		return err
	}
	ents, err := os.ReadDir(from)
	if err != nil {
		return err
	}
	for _, e := range ents {
		b, err := os.ReadFile(filepath.Join(from, e.Name()))
		if err != nil {
			return err
		}
		if err := os.WriteFile(filepath.Join(to, e.Name()), b, 0o600); err != nil {
			return err
		}
	}
	return nil
}
