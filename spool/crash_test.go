package spool

import (
	"bufio"
	"bytes"
	"fmt"
	"math/rand/v2"
	"os"
	"os/exec"
	"slices"
	"strconv"
	"syscall"
	"testing"
	"time"
)

// crashEnv names the spool directory of a child process of TestCrash.
const crashEnv = "SPOOL_CRASH_DIR"

// TestCrash kills a process that appends and acknowledges as fast as it
// can with SIGKILL, reopens its spool, and checks that nothing the child
// was told is stored went missing, that the order holds, and that only
// what was not acknowledged comes back. Three rounds on the same spool:
// each child first replays and acknowledges what its predecessor left, as
// the bridge does after a restart.
func TestCrash(t *testing.T) {
	if dir := os.Getenv(crashEnv); dir != "" {
		crashChild(dir)
		return
	}
	dir := t.TempDir()
	appended := map[uint64]bool{} // the child's Append returned
	acked := map[uint64]bool{}    // the child was about to acknowledge
	var lastAppend, syncedAck uint64
	for round := range 3 {
		cmd := exec.Command(os.Args[0], "-test.run=^TestCrash$")
		cmd.Env = append(os.Environ(), crashEnv+"="+dir)
		out, err := cmd.StdoutPipe()
		if err != nil {
			t.Fatal(err)
		}
		cmd.Stderr = os.Stderr
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { cmd.Process.Kill() }) // should the test fail before its kill
		killAfter := 2000 + rand.IntN(4000)      // appends of this round
		n := 0
		sc := bufio.NewScanner(out)
		for sc.Scan() {
			kind, arg, ok := bytes.Cut(sc.Bytes(), []byte(" "))
			if !ok {
				continue // the test framework's own output
			}
			v, err := strconv.ParseUint(string(arg), 10, 64)
			if err != nil {
				t.Fatalf("child: %s", sc.Bytes())
			}
			switch string(kind) {
			case "a":
				appended[v] = true
				lastAppend = max(lastAppend, v)
				if n++; n == killAfter {
					cmd.Process.Signal(syscall.SIGKILL) // the lines already written still come
				}
			case "c":
				acked[v] = true
			case "k":
				syncedAck = max(syncedAck, v)
			}
		}
		err = cmd.Wait()
		if ws, ok := cmd.ProcessState.Sys().(syscall.WaitStatus); !ok || !ws.Signaled() || ws.Signal() != syscall.SIGKILL {
			t.Fatalf("round %d: child ended with %v, not killed", round, err)
		}
		if n < killAfter {
			t.Fatalf("round %d: child stopped after %d appends", round, n)
		}

		s, rep, err := Open(dir, crashOptions)
		if err != nil {
			t.Fatal(err)
		}
		// A kill can cut a write(2) short only for the record being
		// appended, whose Append never returned.
		for _, tr := range rep.Truncated {
			t.Logf("round %d: %v", round, tr)
		}
		if s.Next() <= lastAppend {
			t.Fatalf("round %d: next seq %d, but Append returned %d", round, s.Next(), lastAppend)
		}
		if s.First() < syncedAck {
			t.Fatalf("round %d: replay from %d, acknowledged and synced up to %d", round, s.First(), syncedAck)
		}
		var replayed []uint64
		for r, err := range s.Records(s.First()) {
			if err != nil {
				t.Fatal(err)
			}
			if want := fmt.Sprintf("seq %d", r.Seq); string(r.Payload) != want {
				t.Fatalf("seq %d: payload %q", r.Seq, r.Payload)
			}
			replayed = append(replayed, r.Seq)
		}
		if want := seqRange(s.First(), s.Next()); !slices.Equal(replayed, want) {
			t.Fatalf("round %d: replayed %d records from %d, not %d..%d in order", round, len(replayed), s.First(), s.First(), s.Next()-1)
		}
		for seq := range appended {
			if !acked[seq] && seq < s.First() {
				t.Fatalf("round %d: seq %d lost: appended, never acknowledged, before %d", round, seq, s.First())
			}
		}
		t.Logf("round %d: %d appended, killed at %d, replay %d..%d (%d records; synced ack %d)",
			round, len(appended), lastAppend, s.First(), s.Next()-1, len(replayed), syncedAck)
		if err := s.Close(); err != nil {
			t.Fatal(err)
		}
	}
}

var crashOptions = Options{MaxBytes: 1 << 20, SegmentBytes: 4 << 10}

// crashChild appends until it is killed, acknowledging in an order that
// is mostly but not quite the order of appending, and says on stdout what
// it did: "a SEQ" after Append returned, "c SEQ" before an Ack, "k SEQ"
// after a Sync that persisted acknowledgements up to SEQ.
func crashChild(dir string) {
	s, _, err := Open(dir, crashOptions)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(2)
	}
	line := make([]byte, 0, 32)
	say := func(kind byte, n uint64) {
		line = strconv.AppendUint(append(line[:0], kind, ' '), n, 10)
		os.Stdout.Write(append(line, '\n'))
	}
	ack := func(seq uint64) {
		say('c', seq)
		if err := s.Ack(seq); err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(2)
		}
	}
	var left []uint64
	for r, err := range s.Records(s.First()) {
		if err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(2)
		}
		left = append(left, r.Seq)
	}
	for _, seq := range left {
		ack(seq)
	}
	var window []uint64
	payload := make([]byte, 0, 64)
	for i := 0; ; i++ {
		payload = fmt.Appendf(payload[:0], "seq %d", s.Next())
		seq, err := s.Append("crash", payload, time.Now())
		if err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(2)
		}
		say('a', seq)
		if window = append(window, seq); len(window) == 64 {
			for j := 31; j >= 0; j-- {
				ack(window[j])
			}
			window = window[:copy(window, window[32:])]
			s.SyncAsync()
		}
		if i%1000 == 999 {
			first := s.First()
			if err := s.Sync(); err != nil {
				fmt.Fprintln(os.Stderr, err)
				os.Exit(2)
			}
			say('k', first)
		}
	}
}
