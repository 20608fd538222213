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
	"github.com/iogate/iogate/systemd"
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
				return serve(c, log, func(l config.Log) error { return logs.apply(log.Logger, l) })
			}
		},
	}
}

// serve runs the gateway for c until SIGINT or SIGTERM, starting the
// embedded broker first when the config asks for it. SIGHUP reloads the
// file: a valid one is applied (setLog takes its [log]), an invalid one is
// logged and the running configuration stays.
func serve(c *config.Config, log *logrus.Entry, setLog func(config.Log) error) error {
	var broker *mqtt.Broker
	if c.MQTT.Kind == config.BrokerEmbedded {
		b, err := startBroker(c, log.WithField("component", "broker"))
		if err != nil {
			return fmt.Errorf("embedded broker: %w", err)
		}
		defer b.Close()
		broker = b
	}
	svc, err := bridge.New(c, log)
	if err != nil {
		return err
	}
	svc.SetVersion(buildVersion())
	if c.Metrics.Listen != "" {
		stop, err := serveMetrics(c.Metrics.Listen, svc, broker, log)
		if err != nil {
			return fmt.Errorf("metrics.listen: %w", err)
		}
		defer stop()
	}
	signals := make(chan os.Signal, 2)
	signal.Notify(signals, syscall.SIGINT, syscall.SIGTERM, syscall.SIGHUP)
	defer signal.Stop(signals)
	go func(running *config.Config) {
		for sig := range signals {
			if sig == syscall.SIGHUP {
				if next := reload(running, log, svc, broker, setLog); next != nil {
					running = next
				}
				continue
			}
			log.WithField("signal", sig).Info("signal received")
			systemd.Notify(systemd.Stopping)
			svc.Stop()
			time.AfterFunc(stopLimit, func() {
				log.Error("graceful stop took too long; exiting")
				os.Exit(exitFailure)
			})
		}
	}(c)
	log.WithField("config", c.Path).WithField("devices", len(c.Devices)).Info("iogate running")
	done := make(chan struct{})
	defer close(done)
	go superviseSystemd(svc, log, done)
	return svc.Run()
}

// reload reads the configuration file of the running one again and hands
// it to the gateway; it returns the new configuration, or nil if it was
// invalid and the running one stays.
func reload(running *config.Config, log *logrus.Entry, svc *bridge.Service, broker *mqtt.Broker, setLog func(config.Log) error) *config.Config {
	next, err := config.Load(running.Path)
	if err != nil {
		log.WithField("config", running.Path).Error("reload: the new configuration is invalid; keeping the running one:\n" + err.Error())
		return nil
	}
	if broker != nil && next.MQTT.Kind == config.BrokerEmbedded {
		useBroker(next, broker) // the gateway's connection stays what it is
	}
	log.WithField("config", running.Path).Info("reloading the configuration")
	if err := svc.Reload(next); err != nil {
		log.WithError(err).Error("reload: the new configuration cannot be applied; keeping the running one")
		return nil
	}
	reloadBroker(broker, running, next, log.WithField("component", "broker"))
	if running.Metrics.Listen != next.Metrics.Listen {
		log.Warn("reload: metrics.listen takes effect at the next start")
	}
	if err := setLog(next.Log); err != nil {
		log.WithError(err).Error("reload: [log] not applied")
	}
	return next
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
	l := logrus.New()
	l.SetOutput(w)
	if err := f.apply(l, c); err != nil {
		return nil, err
	}
	return logrus.NewEntry(l), nil
}

// apply sets the level and format of l from the config, overridden by flags.
func (f logFlags) apply(l *logrus.Logger, c config.Log) error {
	level, format := c.Level, c.Format
	if *f.level != "" {
		level = *f.level
	}
	if *f.format != "" {
		format = *f.format
	}
	switch level {
	case "debug", "info", "warn", "error":
		lv, _ := logrus.ParseLevel(level)
		l.SetLevel(lv)
	default:
		return usageError{fmt.Errorf("--log-level %q: want debug, info, warn or error", level)}
	}
	switch format {
	case "text":
		l.SetFormatter(&logrus.TextFormatter{FullTimestamp: true, DisableColors: true})
	case "json":
		l.SetFormatter(&logrus.JSONFormatter{})
	default:
		return usageError{fmt.Errorf("--log-format %q: want text or json", format)}
	}
	return nil
}
