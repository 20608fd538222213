// Command iogate is the device and serial-port I/O gateway.
//
// Usage:
//
//	iogate <command> [flags]
//
// Run "iogate help" for the commands and "iogate <command> -h" for a
// command's flags. Exit codes: 0 clean stop, 1 runtime failure, 2 usage or
// configuration error.
package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"os"

	"github.com/iogate/iogate/config"
)

// Exit codes, per the product contract.
const (
	exitOK      = 0
	exitFailure = 1
	exitUsage   = 2
)

// command is one subcommand: its flags are defined on fs by setup, and run
// does the work once they are parsed.
type command struct {
	name    string
	summary string
	args    string // what follows the flags in the usage line
	setup   func(fs *flag.FlagSet) func(stdout, stderr io.Writer) error
}

func commands() []command {
	return []command{
		runCommand(),
		checkCommand(),
		demoCommand(),
		portsCommand(),
		statusCommand(),
		traceCommand(),
		versionCommand(),
	}
}

// usageError is a mistake on the command line or in the configuration:
// exit code 2, not 1.
type usageError struct{ err error }

func (e usageError) Error() string { return e.err.Error() }
func (e usageError) Unwrap() error { return e.err }

func main() {
	os.Exit(run(os.Args[1:], os.Stdout, os.Stderr))
}

func run(args []string, stdout, stderr io.Writer) int {
	if len(args) == 0 {
		usage(stderr)
		return exitUsage
	}
	switch args[0] {
	case "help", "-h", "-help", "--help":
		usage(stdout)
		return exitOK
	case "-version", "--version":
		args = []string{"version"}
	}
	for _, c := range commands() {
		if c.name != args[0] {
			continue
		}
		fs := flag.NewFlagSet("iogate "+c.name, flag.ContinueOnError)
		fs.SetOutput(stderr)
		do := c.setup(fs)
		fs.Usage = func() {
			fmt.Fprintf(fs.Output(), "usage: iogate %s [flags]%s\n\n%s\n\nflags:\n", c.name, c.args, c.summary)
			fs.PrintDefaults()
		}
		if err := fs.Parse(args[1:]); err != nil {
			if errors.Is(err, flag.ErrHelp) {
				return exitOK
			}
			return exitUsage
		}
		if fs.NArg() > 0 && c.args == "" {
			fmt.Fprintf(stderr, "iogate %s: unexpected argument %q\n", c.name, fs.Arg(0))
			return exitUsage
		}
		err := do(stdout, stderr)
		var ue usageError
		var bad config.Errors
		switch {
		case err == nil:
			return exitOK
		case errors.As(err, &bad):
			// file:line: key: problem, one per line, as compilers print them.
			fmt.Fprintln(stderr, bad)
			return exitUsage
		case errors.As(err, &ue):
			fmt.Fprintf(stderr, "iogate %s: %v\n", c.name, err)
			return exitUsage
		default:
			fmt.Fprintf(stderr, "iogate %s: %v\n", c.name, err)
			return exitFailure
		}
	}
	fmt.Fprintf(stderr, "iogate: unknown command %q\n\n", args[0])
	usage(stderr)
	return exitUsage
}

func usage(w io.Writer) {
	fmt.Fprintf(w, "iogate is a device and serial-port I/O gateway.\n\nusage: iogate <command> [flags]\n\ncommands:\n")
	for _, c := range commands() {
		fmt.Fprintf(w, "  %-8s %s\n", c.name, c.summary)
	}
	fmt.Fprintf(w, "\nRun 'iogate <command> -h' for a command's flags.\n")
}
