package main

import (
	"bufio"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os/signal"
	"strings"
	"syscall"

	"github.com/iogate/iogate/config"
	"github.com/iogate/iogate/control"
)

func traceCommand() command {
	return command{
		name:    "trace",
		summary: "live, timestamped dump of the bytes each DEVICE sends and receives, until Ctrl-C",
		args:    " DEVICE...",
		setup: func(fs *flag.FlagSet) func(stdout, stderr io.Writer) error {
			path := configFlag(fs)
			hex := fs.Bool("hex", false, "show the bytes in hex too")
			asJSON := fs.Bool("json", false, "print each event as a JSON object, one per line")
			return func(stdout, stderr io.Writer) error {
				devices, err := interspersed(fs)
				if err != nil {
					return err
				}
				if len(devices) == 0 {
					return usageError{errors.New("name the devices to trace, as in: iogate trace gps")}
				}
				c, err := loadConfig(*path)
				if err != nil {
					return err
				}
				ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM)
				defer stop()
				return trace(ctx, c, devices, traceFormat{hex: *hex, json: *asJSON}, stdout, stderr)
			}
		},
	}
}

// interspersed returns the arguments after the flags, parsing the flags
// among them too, so that "iogate trace gps --hex" works.
func interspersed(fs *flag.FlagSet) ([]string, error) {
	var args []string
	for fs.NArg() > 0 {
		args = append(args, fs.Arg(0))
		if err := fs.Parse(fs.Args()[1:]); err != nil {
			return nil, usageError{err}
		}
	}
	return args, nil
}

// traceFormat is how trace events are printed.
type traceFormat struct{ hex, json bool }

// trace prints the events of devices until ctx ends (exit 0), the gateway
// closes, or it says the trace cannot be (an unknown device: exit 2).
func trace(ctx context.Context, c *config.Config, devices []string, f traceFormat, stdout, stderr io.Writer) error {
	g, err := dialGateway(c)
	if err != nil {
		return err
	}
	defer g.Close()
	stopped := context.AfterFunc(ctx, func() { g.Close() })
	defer stopped()
	tapped, err := g.trace(devices)
	var unknown *control.Error
	switch {
	case err != nil && ctx.Err() != nil:
		return nil
	case errors.As(err, &unknown) && unknown.Code == control.ErrUnknownDevice:
		return usageError{err}
	case err != nil:
		return err
	}
	fmt.Fprintf(stderr, "tracing %s on the gateway with state_dir %s; Ctrl-C stops\n", strings.Join(tapped, ", "), c.Gateway.StateDir)
	w := bufio.NewWriterSize(stdout, 64<<10)
	var line []byte
	for {
		m, err := g.next()
		if err != nil {
			w.Flush()
			if ctx.Err() != nil {
				return nil
			}
			return err
		}
		switch {
		case m.Kind == control.KindTrace && f.json:
			line = control.AppendEvent(line[:0], m.Event)
		case m.Kind == control.KindTrace:
			line = control.AppendLine(line[:0], m.Event, f.hex)
		case m.Kind == control.KindLost && f.json:
			line = control.AppendLost(line[:0], m.Lost)
		case m.Kind == control.KindLost:
			line = control.AppendLostLine(line[:0], m.Lost)
		default:
			w.Flush()
			return fmt.Errorf("the gateway sent a %s message during a trace", m.Kind)
		}
		if _, err := w.Write(line); err != nil {
			return err
		}
		// Lines go out as they come, but a burst goes out in one write.
		if g.r.Buffered() == 0 {
			if err := w.Flush(); err != nil {
				return err
			}
		}
	}
}
