// Package runs holds what the benchmark drivers share about how they run:
// the flags for rounds, timing, a quiet machine and the iogate build, with
// -quick's smaller defaults, and the parsing of comma-separated choices.
package runs

import (
	"errors"
	"flag"
	"fmt"
	"slices"
	"strings"
	"time"
)

// Flags are the settings every driver takes.
type Flags struct {
	Rounds    int
	Duration  time.Duration
	Warmup    time.Duration
	Settle    time.Duration
	Quiet     float64
	Disturbed float64
	Retries   int
	Iogate    string // a binary to run instead of building one
	Rev       string // a git revision to build iogate from
	Quick     bool
}

// Register defines the flags on fs; unit names what each round runs once
// per case ("bridge", "server").
func (f *Flags) Register(fs *flag.FlagSet, unit string) {
	fs.IntVar(&f.Rounds, "rounds", 5, "rounds; each runs every "+unit+" once per case")
	fs.DurationVar(&f.Duration, "duration", 5*time.Second, "measured time of one run")
	fs.DurationVar(&f.Warmup, "warmup", time.Second, "writing before the measured time of each run")
	fs.DurationVar(&f.Settle, "settle", 20*time.Second, "before each run, wait up to this long for the machine to be quiet; 0 does not wait")
	fs.Float64Var(&f.Quiet, "quiet", 0.25, "CPUs of background load below which the machine counts as quiet")
	fs.Float64Var(&f.Disturbed, "disturbed", 0.5, "CPUs of background load during a run above which it is run again")
	fs.IntVar(&f.Retries, "retries", 1, "runs made again at most, per "+unit+" and round, when disturbed")
	fs.StringVar(&f.Iogate, "iogate", "", "iogate `binary` to run, for comparing builds; empty builds iogate's ./cmd/iogate")
	fs.StringVar(&f.Rev, "iogate-rev", "", "build iogate from this git `revision` (git archive) instead of the work tree, whose uncommitted changes are then left out")
	fs.BoolVar(&f.Quick, "quick", false, "smoke run: 1 round of 2 s, 0.5 s warm-up, no settling, unless flags say otherwise")
}

// Finish applies -quick's defaults to the flags not given explicitly, and
// checks the values; call it after fs.Parse.
func (f *Flags) Finish(fs *flag.FlagSet) error {
	if f.Quick {
		set := map[string]bool{}
		fs.Visit(func(fl *flag.Flag) { set[fl.Name] = true })
		if !set["rounds"] {
			f.Rounds = 1
		}
		if !set["duration"] {
			f.Duration = 2 * time.Second
		}
		if !set["warmup"] {
			f.Warmup = 500 * time.Millisecond
		}
		if !set["settle"] {
			f.Settle = 0
		}
		if !set["retries"] {
			f.Retries = 0
		}
	}
	switch {
	case f.Rounds <= 0 || f.Duration <= 0 || f.Warmup < 0:
		return errors.New("-rounds and -duration must be positive, -warmup not negative")
	case f.Settle < 0 || f.Retries < 0:
		return errors.New("-settle and -retries must not be negative")
	}
	return nil
}

// Choose parses the comma-separated value of -name, each of which must be
// one of all; unit names what they are in the error.
func Choose(name, value string, all []string, unit string) ([]string, error) {
	var out []string
	for v := range strings.SplitSeq(value, ",") {
		v = strings.TrimSpace(v)
		if !slices.Contains(all, v) {
			return nil, fmt.Errorf("-%s: no %s %q; there are %s", name, unit, v, strings.Join(all, ", "))
		}
		out = append(out, v)
	}
	return out, nil
}
