package main

import (
	"flag"
	"fmt"
	"io"
	"strings"

	"github.com/iogate/iogate/config"
	"github.com/iogate/iogate/poller"
)

func checkCommand() command {
	return command{
		name:    "check",
		summary: "validate a config and print what it would open; exit 0 ok, 2 invalid",
		setup: func(fs *flag.FlagSet) func(stdout, stderr io.Writer) error {
			path := configFlag(fs)
			return func(stdout, _ io.Writer) error {
				c, err := loadConfig(*path)
				if err != nil {
					return err
				}
				p, err := poller.New(c.Gateway.Poller)
				if err != nil {
					return usageError{fmt.Errorf("%s: gateway.poller: %w", c.Path, err)}
				}
				engine := p.Name()
				p.Close()
				describe(stdout, c, engine)
				return nil
			}
		},
	}
}

// describe prints, for an operator, what the gateway would open and where
// its data would go.
func describe(w io.Writer, c *config.Config, engine string) {
	fmt.Fprintf(w, "%s: ok\n", c.Path)
	fmt.Fprintf(w, "gateway %s: poller %s (%s), state in %s, log %s/%s\n",
		c.Gateway.ID, c.Gateway.Poller, engine, c.Gateway.StateDir, c.Log.Level, c.Log.Format)
	m := c.MQTT
	switch m.Kind {
	case config.BrokerNone:
		fmt.Fprintln(w, "mqtt: none (devices are served over TCP only)")
	case config.BrokerEmbedded:
		describeBroker(w, c)
	default:
		tls := ""
		if m.TLS {
			tls = " over TLS"
			if m.InsecureSkipVerify {
				tls += " WITHOUT server verification"
			}
		}
		auth := ""
		if m.Username != "" {
			auth = " as user " + m.Username
		}
		fmt.Fprintf(w, "mqtt: %s%s%s, client %s, topics %s/..., qos %d, keepalive %s\n", m.Address, tls, auth, m.ClientID, m.TopicPrefix, m.QoS, m.Keepalive)
	}
	if c.Metrics.Listen != "" {
		fmt.Fprintf(w, "metrics: http://%s/metrics and /healthz\n", c.Metrics.Listen)
	}
	fmt.Fprintf(w, "spool: up to %s, %s\n", config.FormatSize(c.Spool.MaxBytes), c.Spool.Overflow)
	for _, d := range c.Devices {
		fmt.Fprintf(w, "device %s: %s\n", d.Name, deviceSummary(d))
		if d.Protocol != config.ProtocolStream {
			describeModbus(w, m, d)
			continue
		}
		for _, p := range d.Polls {
			fmt.Fprintf(w, "  poll %s: %q every %s, reply within %s -> %s/%s/%s\n", p.Name, p.Send, p.Every, p.Timeout, m.TopicPrefix, d.Name, p.Name)
		}
		if d.Publish && m.Kind != config.BrokerNone {
			fmt.Fprintf(w, "  frames -> %s/%s/rx (%s)\n", m.TopicPrefix, d.Name, d.Encoding)
		}
		if d.Writable && m.Kind != config.BrokerNone {
			fmt.Fprintf(w, "  writes <- %s/%s/tx\n", m.TopicPrefix, d.Name)
		}
		if d.TCPListen != "" {
			rw := "read-only"
			if d.Writable {
				rw = "read-write"
			}
			fmt.Fprintf(w, "  tcp (%s) on %s, %s, up to %d clients\n", d.TCPProtocol, d.TCPListen, rw, d.TCPMaxClients)
		}
	}
}

// describeModbus prints a Modbus device's slaves and points.
func describeModbus(w io.Writer, m config.MQTT, d config.Device) {
	fmt.Fprintf(w, "  %s master, timeout %s, %d retries", d.Protocol, d.ModbusTimeout, d.ModbusRetries)
	if d.RS485 {
		fmt.Fprint(w, ", RS-485 mode")
	}
	fmt.Fprintln(w)
	for _, s := range d.Slaves {
		fmt.Fprintf(w, "  slave %d %s: %d points every %s -> %s/%s/%s/<point>\n", s.ID, s.Name, len(s.Points), s.Every, m.TopicPrefix, d.Name, s.Name)
	}
	if d.ModbusTCPListen != "" {
		fmt.Fprintf(w, "  modbus tcp server on %s, its requests on the same line\n", d.ModbusTCPListen)
	}
	if d.Writable {
		fmt.Fprintf(w, "  requests <- %s/%s/request, replies -> %s/%s/reply\n", m.TopicPrefix, d.Name, m.TopicPrefix, d.Name)
	}
}

func deviceSummary(d config.Device) string {
	var b strings.Builder
	switch {
	case d.Kind == "file":
		fmt.Fprintf(&b, "file %s", d.Path)
	case d.Kind == "tcp":
		fmt.Fprintf(&b, "tcp %s (%s)", d.Remote.Address, d.Remote.Protocol)
	case d.USB != "":
		fmt.Fprintf(&b, "serial USB %s", d.USB)
		if d.USBSerial != "" {
			fmt.Fprintf(&b, " serial number %q", d.USBSerial)
		}
	default:
		fmt.Fprintf(&b, "serial %s", d.Path)
	}
	if d.Kind == "serial" || d.Remote.Protocol == "rfc2217" {
		fmt.Fprintf(&b, " %d %d%s%d", d.Baud, d.DataBits, strings.ToUpper(d.Parity[:1]), d.StopBits)
		if d.Flow != "none" {
			b.WriteString(" " + d.Flow)
		}
	}
	if d.Remote.IdleTimeout > 0 {
		fmt.Fprintf(&b, ", redialled after %s of silence", d.Remote.IdleTimeout)
	}
	if d.Protocol != config.ProtocolStream {
		return b.String()
	}
	fmt.Fprintf(&b, ", %s framing", d.Framing)
	switch d.Framing {
	case "delimiter":
		fmt.Fprintf(&b, " %q", d.Delimiter)
	case "fixed":
		fmt.Fprintf(&b, " of %d bytes", d.FrameSize)
	case "idle":
		fmt.Fprintf(&b, " after %s", d.IdleGap)
	}
	fmt.Fprintf(&b, ", max %d bytes", d.MaxFrame)
	return b.String()
}
