package main

import (
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/sirupsen/logrus"

	"github.com/iogate/iogate/config"
	"github.com/iogate/iogate/resources/mqtt"
	"github.com/iogate/iogate/services/bridge"
)

// stopLimit is how long a graceful stop may take before the process exits
// anyway, per the product contract.
const stopLimit = 5 * time.Second

func runCommand() command {
	return command{
		name:    "run",
		summary: "run the gateway",
		setup: func(fs *flag.FlagSet) func(stdout, stderr io.Writer) error {
			path := configFlag(fs)
			logs := addLogFlags(fs)
			return func(_, stderr io.Writer) error {
				c, err := loadConfig(*path)
				if err != nil {
					return err
				}
				log, err := logs.logger(stderr, c.Log)
				if err != nil {
					return err
				}
				return serve(c, log)
			}
		},
	}
}

// serve runs the gateway for c until SIGINT or SIGTERM, starting the
// embedded broker first when the config asks for it.
func serve(c *config.Config, log *logrus.Entry) error {
	if c.MQTT.Kind == config.BrokerEmbedded {
		b, err := mqtt.StartBroker(c.MQTT.EmbeddedListen, slogTo(log.WithField("component", "broker")))
		if err != nil {
			return fmt.Errorf("embedded broker: %w", err)
		}
		defer b.Close()
		log.WithField("listen", b.Addr()).Info("embedded broker started")
	}
	svc, err := bridge.New(c, log)
	if err != nil {
		return err
	}
	signals := make(chan os.Signal, 2)
	signal.Notify(signals, syscall.SIGINT, syscall.SIGTERM, syscall.SIGHUP)
	defer signal.Stop(signals)
	go func() {
		for sig := range signals {
			if sig == syscall.SIGHUP {
				log.Warn("SIGHUP: configuration reload is not supported yet; restart to apply changes")
				continue
			}
			log.WithField("signal", sig).Info("signal received")
			svc.Stop()
			time.AfterFunc(stopLimit, func() {
				log.Error("graceful stop took too long; exiting")
				os.Exit(exitFailure)
			})
		}
	}()
	log.WithField("config", c.Path).WithField("devices", len(c.Devices)).Info("iogate running")
	return svc.Run()
}

// logFlags are --log-level and --log-format, which override the config.
type logFlags struct{ level, format *string }

func addLogFlags(fs *flag.FlagSet) logFlags {
	return logFlags{
		level:  fs.String("log-level", "", "debug, info, warn or error (default: the config's log.level)"),
		format: fs.String("log-format", "", "text or json (default: the config's log.format)"),
	}
}

// logger builds the process's logger from the config, overridden by flags.
func (f logFlags) logger(w io.Writer, c config.Log) (*logrus.Entry, error) {
	level, format := c.Level, c.Format
	if *f.level != "" {
		level = *f.level
	}
	if *f.format != "" {
		format = *f.format
	}
	l := logrus.New()
	l.SetOutput(w)
	switch level {
	case "debug", "info", "warn", "error":
		lv, _ := logrus.ParseLevel(level)
		l.SetLevel(lv)
	default:
		return nil, usageError{fmt.Errorf("--log-level %q: want debug, info, warn or error", level)}
	}
	switch format {
	case "text":
		l.SetFormatter(&logrus.TextFormatter{FullTimestamp: true, DisableColors: true})
	case "json":
		l.SetFormatter(&logrus.JSONFormatter{})
	default:
		return nil, usageError{fmt.Errorf("--log-format %q: want text or json", format)}
	}
	return logrus.NewEntry(l), nil
}
