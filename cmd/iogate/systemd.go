package main

import (
	"context"
	"time"

	"github.com/sirupsen/logrus"

	"github.com/iogate/iogate/services/bridge"
	"github.com/iogate/iogate/systemd"
)

// readyTimeout bounds the wait for the loop's first answer before READY=1.
const readyTimeout = 30 * time.Second

// superviseSystemd tells systemd the gateway is ready once its loop runs,
// and then, if a watchdog is set, pings it at half its interval for as long
// as the loop answers: a stalled loop stops the pings and systemd restarts
// the service. Outside systemd it does nothing.
func superviseSystemd(svc *bridge.Service, log *logrus.Entry, done <-chan struct{}) {
	interval, err := systemd.WatchdogInterval()
	if err != nil {
		log.WithError(err).Warn("systemd: watchdog setting ignored")
	}
	ctx, cancel := context.WithTimeout(context.Background(), readyTimeout)
	err = svc.Ping(ctx)
	cancel()
	if err != nil {
		log.WithError(err).Error("systemd: not ready")
		return
	}
	if _, err := systemd.Notify(systemd.Ready + "\nSTATUS=running"); err != nil {
		log.WithError(err).Warn("systemd: READY not sent")
	}
	if interval == 0 {
		return
	}
	tick := time.NewTicker(interval / 2)
	defer tick.Stop()
	for {
		select {
		case <-done:
			return
		case <-tick.C:
			ctx, cancel := context.WithTimeout(context.Background(), interval/2)
			err := svc.Ping(ctx)
			cancel()
			if err != nil {
				log.WithError(err).Error("systemd: the loop is stalled; withholding the watchdog ping")
				continue
			}
			if _, err := systemd.Notify(systemd.Watchdog); err != nil {
				log.WithError(err).Warn("systemd: watchdog ping not sent")
			}
		}
	}
}
