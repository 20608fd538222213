// Command spoolcmp compares the storage behind iogate's spool: the
// append-only segment log of package spool against github.com/tidwall/wal
// and go.etcd.io/bbolt, on what the spool is for: 64-byte frames appended
// one by one, group-synced, acknowledged in order.
//
//	go run ./spoolcmp [-dir DIR] [-quick]
//
// It prints three Markdown tables: throughput with a group sync every 1000
// frames and every 100 ms; write amplification at 1 to 1000 frames per
// sync, from /proc/self/io and the block device's counters, with a model
// of an SD card; and what a SIGKILL mid-stream, a torn tail and a flipped
// byte do to each. The numbers and the choice are in docs/design.md,
// "The spool".
package main

import (
	"bytes"
	"flag"
	"fmt"
	"log"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"
)

func main() {
	base := flag.String("dir", "", "directory for the stores (default: a temporary one; put it on the disk to measure)")
	quick := flag.Bool("quick", false, "smaller runs, for a smoke test")
	child := flag.String("child", "", "internal: run as the crash child for this candidate")
	flag.Parse()
	log.SetFlags(0)
	if *child != "" {
		crashChild(*child, *base)
		return
	}
	if *base == "" {
		d, err := os.MkdirTemp("", "spoolcmp")
		if err != nil {
			log.Fatal(err)
		}
		defer os.RemoveAll(d)
		*base = d
	}
	if err := os.MkdirAll(*base, 0o700); err != nil {
		log.Fatal(err)
	}
	scale := 1
	if *quick {
		scale = 10
	}
	fmt.Printf("64-byte frames, in %s (%s)\n\n", *base, deviceName(*base))
	throughput(*base, scale)
	amplification(*base, scale)
	crashes(*base)
}

func find(name string) candidate {
	for _, c := range candidates {
		if c.name == name {
			return c
		}
	}
	log.Fatalf("no candidate %q", name)
	return candidate{}
}

var payload = bytes.Repeat([]byte("x"), 64)

// run appends n frames to a fresh store, acknowledging all but the last
// window ones at each sync; sync says when to sync.
type runStats struct {
	frames, syncs  int
	appendT, syncT time.Duration
	maxStall       time.Duration
	total          time.Duration
	io             ioDelta
}

func run(c candidate, dir string, n, window int, sync func(i int, sinceSync time.Duration) bool) (runStats, error) {
	os.RemoveAll(dir)
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return runStats{}, err
	}
	st, err := c.open(dir)
	if err != nil {
		return runStats{}, err
	}
	var rs runStats
	before := readIO(dir)
	start := time.Now()
	last := start
	for i := 1; i <= n; i++ {
		t := time.Now()
		if err := st.Append(payload); err != nil {
			return rs, err
		}
		d := time.Since(t)
		rs.appendT += d
		rs.maxStall = max(rs.maxStall, d)
		if sync(i, t.Sub(last)) || i == n {
			if i > window {
				st.Ack(uint64(i - window))
			}
			t = time.Now()
			if err := st.Sync(); err != nil {
				return rs, err
			}
			d := time.Since(t)
			rs.syncT += d
			rs.maxStall = max(rs.maxStall, d)
			rs.syncs++
			last = t
		}
	}
	rs.total = time.Since(start)
	rs.frames = n
	err = st.Close() // the async spool's last syncs finish here, outside the timing
	rs.io = readIO(dir).sub(before)
	return rs, err
}

func throughput(base string, scale int) {
	n := 200000 / scale
	fmt.Printf("### Throughput: %d frames, acknowledged 1000 behind\n\n", n)
	fmt.Println("| store | group sync | frames/s | append mean | sync mean | caller's longest stall | disk bytes / payload byte |")
	fmt.Println("|---|---|---|---|---|---|---|")
	modes := []struct {
		name string
		when func(i int, since time.Duration) bool
	}{
		{"every 1000 frames", func(i int, _ time.Duration) bool { return i%1000 == 0 }},
		{"every 100 ms", func(_ int, since time.Duration) bool { return since >= 100*time.Millisecond }},
	}
	for _, c := range candidates {
		if strings.Contains(c.name, "cursor") {
			continue // the same appends as without; their cost is in the next table
		}
		for _, m := range modes {
			rs, err := run(c, filepath.Join(base, "tp"), n, 1000, m.when)
			if err != nil {
				fmt.Printf("| %s | %s | error: %v | | | | |\n", c.name, m.name, err)
				continue
			}
			fmt.Printf("| %s | %s | %.0f | %v | %v | %v | %.2f |\n", c.name, m.name,
				float64(rs.frames)/rs.total.Seconds(), (rs.appendT / time.Duration(rs.frames)).Round(10*time.Nanosecond),
				(rs.syncT / time.Duration(rs.syncs)).Round(time.Microsecond), rs.maxStall.Round(time.Microsecond),
				float64(rs.io.devBytes)/float64(rs.frames*len(payload)))
		}
	}
	fmt.Println()
}

func amplification(base string, scale int) {
	fmt.Println("### Write amplification: bytes written per payload byte, by frames per sync")
	fmt.Println()
	fmt.Println("process: /proc/self/io write_bytes (page cache pages dirtied, 4 KiB each time). disk: the block device's sectors written,")
	fmt.Println("journal included (the least of three runs: other processes write to it too). IOs: device writes per sync.")
	fmt.Println("SD model: every device write programs whole 16 KiB flash pages, max(bytes, IOs x 16 KiB).")
	fmt.Println()
	fmt.Println("| store | frames/sync | process | disk | IOs/sync | SD model |")
	fmt.Println("|---|---|---|---|---|---|")
	for _, c := range candidates {
		if strings.Contains(c.name, "SyncAsync") {
			continue // the same I/O as the spool's Sync
		}
		for _, fps := range []int{1, 10, 100, 1000} {
			syncs := map[int]int{1: 1000, 10: 1000, 100: 500, 1000: 200}[fps] / scale
			n := fps * syncs
			var best runStats
			var err error
			for try := range 3 {
				var rs runStats
				rs, err = run(c, filepath.Join(base, "wa"), n, 1000, func(i int, _ time.Duration) bool { return i%fps == 0 })
				if err != nil {
					break
				}
				if try == 0 || rs.io.devBytes < best.io.devBytes {
					best = rs
				}
			}
			if err != nil {
				fmt.Printf("| %s | %d | error: %v | | | |\n", c.name, fps, err)
				continue
			}
			pb := float64(n * len(payload))
			sd := max(float64(best.io.devBytes), float64(best.io.devIOs*16<<10))
			fmt.Printf("| %s | %d | %.2f | %.2f | %.1f | %.1f |\n", c.name, fps,
				float64(best.io.procBytes)/pb, float64(best.io.devBytes)/pb,
				float64(best.io.devIOs)/float64(best.syncs), sd/pb)
		}
	}
	fmt.Println()
}

// ioDelta is what a run wrote, seen by the process and by the disk.
type ioDelta struct {
	procBytes int64 // write_bytes - cancelled_write_bytes
	devBytes  int64
	devIOs    int64
}

func (a ioDelta) sub(b ioDelta) ioDelta {
	return ioDelta{a.procBytes - b.procBytes, a.devBytes - b.devBytes, a.devIOs - b.devIOs}
}

func readIO(dir string) ioDelta {
	var d ioDelta
	if b, err := os.ReadFile("/proc/self/io"); err == nil {
		for _, line := range strings.Split(string(b), "\n") {
			k, v, _ := strings.Cut(line, ": ")
			n, _ := strconv.ParseInt(v, 10, 64)
			switch k {
			case "write_bytes":
				d.procBytes += n
			case "cancelled_write_bytes":
				d.procBytes -= n
			}
		}
	}
	if b, err := os.ReadFile(filepath.Join(devPath(dir), "stat")); err == nil {
		f := strings.Fields(string(b))
		if len(f) >= 7 {
			d.devIOs, _ = strconv.ParseInt(f[4], 10, 64)
			sectors, _ := strconv.ParseInt(f[6], 10, 64)
			d.devBytes = sectors * 512
		}
	}
	return d
}

// devPath is the sysfs directory of the block device dir is on.
func devPath(dir string) string {
	var st syscall.Stat_t
	if err := syscall.Stat(dir, &st); err != nil {
		return ""
	}
	return fmt.Sprintf("/sys/dev/block/%d:%d", st.Dev>>8&0xfff, st.Dev&0xff|st.Dev>>12&0xfff00)
}

func deviceName(dir string) string {
	p, err := filepath.EvalSymlinks(devPath(dir))
	if err != nil {
		return "no block device counters: disk columns are zero"
	}
	return filepath.Base(p)
}
