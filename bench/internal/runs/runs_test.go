package runs

import (
	"flag"
	"io"
	"strings"
	"testing"
	"time"
)

func parse(t *testing.T, args ...string) (Flags, error) {
	t.Helper()
	var f Flags
	fs := flag.NewFlagSet("t", flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	f.Register(fs, "server")
	if err := fs.Parse(args); err != nil {
		t.Fatal(err)
	}
	return f, f.Finish(fs)
}

func TestQuickKeepsExplicitFlags(t *testing.T) {
	f, err := parse(t, "-quick", "-rounds", "3")
	if err != nil {
		t.Fatal(err)
	}
	if f.Rounds != 3 || f.Duration != 2*time.Second || f.Warmup != 500*time.Millisecond || f.Settle != 0 || f.Retries != 0 {
		t.Errorf("quick: %+v", f)
	}
	if f, _ := parse(t); f.Rounds != 5 || f.Duration != 5*time.Second || f.Settle != 20*time.Second || f.Retries != 1 {
		t.Errorf("defaults: %+v", f)
	}
	if _, err := parse(t, "-rounds", "0"); err == nil {
		t.Error("-rounds 0 accepted")
	}
}

func TestChoose(t *testing.T) {
	got, err := Choose("impls", "iogate, ser2net", []string{"iogate", "ser2net", "gnet"}, "server")
	if err != nil || strings.Join(got, "|") != "iogate|ser2net" {
		t.Errorf("%q, %v", got, err)
	}
	if _, err := Choose("impls", "iogate,nope", []string{"iogate"}, "server"); err == nil || err.Error() != `-impls: no server "nope"; there are iogate` {
		t.Errorf("error %v", err)
	}
}
