package bridge

import (
	"errors"
	"time"

	"github.com/sirupsen/logrus"

	"github.com/iogate/iogate/resources/serial"
	"github.com/iogate/iogate/rfc2217"
)

// A device with tcp_protocol = "rfc2217" speaks telnet with the Com Port
// Control Option to its TCP clients, as ser2net's telnet(rfc2217) does:
// what the device sends goes out with 0xFF escaped, and a client may set
// the line (baud rate, data size, parity, stop bits, flow control), the DTR
// and RTS outputs and breaks, and read the modem lines.
//
// The first client that changes a setting controls the port until it
// disconnects; the others are answered with the settings in force, which
// RFC 2217 clients report as a refusal. When the controller leaves, the
// configured settings come back, so that MQTT and the other clients see
// the documented ones. A device that is not writable answers every client
// with the settings in force and changes nothing.

// Timings of RFC 2217 access.
const (
	breakLength = 250 * time.Millisecond // a telnet BRK, as ser2net sends it
	modemPoll   = time.Second            // the modem lines are read this often while a client wants them
)

// defaultLines are DTR and RTS as a port has them after open.
var defaultLines = rfc2217.Lines{DTR: true, RTS: true}

// fromTelnet takes what an RFC 2217 client sent: the data goes to the
// device, the commands are carried out and answered, in the order sent.
func (c *client) fromTelnet(in []byte) {
	a := c.a
	for len(in) > 0 {
		var n int
		var cmd rfc2217.Command
		a.tnData, a.tnReply, n, cmd = c.tn.Decode(a.tnData[:0], a.tnReply[:0], in)
		in = in[n:]
		if len(a.tnData) > 0 {
			c.toDevice(a.tnData)
		}
		if cmd.Op != rfc2217.OpNone {
			a.tnReply = c.comPort(cmd, a.tnReply)
		}
		if !c.notified && c.tn.ComPort() {
			// The first notification tells the client the modem lines;
			// pyserial reads none before it.
			c.notified = true
			a.tnReply = c.tn.NotifyModemState(a.tnReply, a.d.modemState())
			a.d.pollModem()
		}
		if len(a.tnReply) > 0 && !c.send(a.tnReply) {
			return
		}
		if n == 0 && cmd.Op == rfc2217.OpNone {
			return
		}
	}
}

// comPort carries out a client's command on the port, if the client may,
// and appends the answer: the setting in force afterwards.
func (c *client) comPort(cmd rfc2217.Command, reply []byte) []byte {
	d := c.a.d
	switch cmd.Op {
	case rfc2217.OpSetBaudRate, rfc2217.OpSetDataSize, rfc2217.OpSetParity, rfc2217.OpSetStopSize, rfc2217.OpSetControl:
		if next, ok := rfc2217.ApplyMode(d.mode, cmd); ok {
			if next != d.mode && c.mayControl(cmd) {
				if err := d.port.SetMode(next); err != nil {
					d.logLimited("rfc2217-mode", logrus.WarnLevel, "rfc2217: "+cmd.String()+" refused by the port", err, "client", c.addr.String())
				} else {
					d.mode = next
					c.logger().WithField("mode", next.String()).Info("rfc2217: line settings changed by the client")
				}
			}
			return c.tn.Reply(reply, cmd.Op, rfc2217.ModeValue(d.mode, cmd))
		}
		if next, ok := rfc2217.ApplyLines(d.lines, cmd); ok {
			if next != d.lines && c.mayControl(cmd) {
				if err := setLines(d.port, d.lines, next); err != nil {
					d.logLimited("rfc2217-lines", logrus.WarnLevel, "rfc2217: "+cmd.String()+" refused by the port", err, "client", c.addr.String())
				} else {
					d.lines = next
				}
			}
			return c.tn.Reply(reply, cmd.Op, rfc2217.LinesValue(d.lines, cmd))
		}
	case rfc2217.OpPurgeData:
		if c.mayControl(cmd) {
			var err error
			if cmd.Value&rfc2217.PurgeReceive != 0 {
				err = d.port.DiscardInput()
			}
			if cmd.Value&rfc2217.PurgeTransmit != 0 {
				err = errors.Join(err, d.port.DiscardOutput())
			}
			if err != nil {
				d.logLimited("rfc2217-purge", logrus.WarnLevel, "rfc2217: purge failed", err, "client", c.addr.String())
			}
		}
		return c.tn.Reply(reply, cmd.Op, cmd.Value)
	case rfc2217.OpBreak:
		if d.breakTimer == 0 && c.mayControl(cmd) && d.port.SetBreak(true) == nil {
			d.breakTimer = d.s.r.SetTimer(breakLength, d.onBreakEnd)
		}
		return reply
	case rfc2217.OpNotifyLineState:
		return c.tn.Reply(reply, cmd.Op, 0) // a serial.Port does not report line errors
	case rfc2217.OpNotifyModemState:
		return c.tn.Reply(reply, cmd.Op, uint32(d.modemState()))
	}
	// FLOWCONTROL-SUSPEND and -RESUME: TCP's own flow control and the
	// client's buffer limit already hold back what the client cannot take.
	return reply
}

// mayControl tells whether c may change the port, and makes it the
// port's controller if no client is.
func (c *client) mayControl(cmd rfc2217.Command) bool {
	d := c.a.d
	why := ""
	switch {
	case !d.cfg.Writable:
		why = "the device is not writable"
	case d.port == nil:
		why = "the device is offline"
	case d.controller != nil && d.controller != c:
		why = "another client (" + d.controller.addr.String() + ") controls the port"
	}
	if why != "" {
		d.logLimited("rfc2217-refused", logrus.WarnLevel, "rfc2217: "+cmd.String()+" refused: "+why, nil, "client", c.addr.String())
		return false
	}
	d.controller = c
	return true
}

// releasePort gives the port back its configured settings when its
// controller leaves.
func (c *client) releasePort() {
	d := c.a.d
	if d.controller != c {
		return
	}
	d.controller = nil
	if d.mode == d.configMode() && d.lines == defaultLines {
		return
	}
	if d.port != nil {
		if err := d.setLine(d.configMode(), d.lines, defaultLines); err != nil {
			d.log.WithError(err).Error("rfc2217: configured line settings not restored")
			return
		}
	}
	d.mode, d.lines = d.configMode(), defaultLines
	d.log.Info("rfc2217: the controlling client left; configured line settings restored")
}

// reapply sets a reopened port to what its controller had chosen.
func (d *device) reapply() {
	if d.controller == nil || d.port == nil {
		return
	}
	if err := d.setLine(d.mode, defaultLines, d.lines); err != nil {
		d.log.WithError(err).Warn("rfc2217: the client's line settings not restored after a reopen")
	}
}

// setLine sets mode on the open port, and its lines from was to next.
func (d *device) setLine(mode serial.Mode, was, next rfc2217.Lines) error {
	if err := d.port.SetMode(mode); err != nil {
		return err
	}
	return setLines(d.port, was, next)
}

// setLines drives the DTR and RTS outputs and the break from was to next.
// A pty has no modem lines: taking the request is the honest answer there,
// since the line it would drive does not exist.
func setLines(p *serial.Port, was, next rfc2217.Lines) error {
	var err error
	if next.DTR != was.DTR {
		err = p.SetDTR(next.DTR)
	}
	if err == nil && next.RTS != was.RTS {
		err = p.SetRTS(next.RTS)
	}
	if err == nil && next.Break != was.Break {
		err = p.SetBreak(next.Break)
	}
	if errors.Is(err, serial.ErrNotSupported) {
		return nil
	}
	return err
}

// endBreak ends a telnet BRK.
func (d *device) endBreak() {
	d.breakTimer = 0
	if d.port != nil && !d.lines.Break {
		d.port.SetBreak(false)
	}
}

// modemState reads the device's modem inputs. A port without them (a pty)
// reports CTS, DSR and CD on, as a null-modem cable would.
func (d *device) modemState() rfc2217.ModemState {
	if d.port == nil {
		return 0
	}
	st, err := d.port.ModemStatus()
	if errors.Is(err, serial.ErrNotSupported) {
		return rfc2217.ModemCTS | rfc2217.ModemDSR | rfc2217.ModemCD
	}
	if err != nil {
		return 0
	}
	return rfc2217.ModemStateOf(st)
}

// pollModem arms the modem-line poll of a device, unless it is armed.
func (d *device) pollModem() {
	if d.modemTimer == 0 {
		d.modemTimer = d.s.r.SetTimer(modemPoll, d.onModemPoll)
	}
}

// notifyModem tells the device's RFC 2217 clients what changed on the
// modem lines, and polls again while any of them listens.
func (d *device) notifyModem() {
	d.modemTimer = 0
	if d.tcp == nil {
		return
	}
	var st rfc2217.ModemState
	polled, listening := false, false
	for i := 0; i < len(d.tcp.clients); {
		c := d.tcp.clients[i]
		if c.tn == nil || !c.notified {
			i++
			continue
		}
		if !polled {
			st, polled = d.modemState(), true
		}
		listening = true
		if out := c.tn.NotifyModemState(d.tcp.tnReply[:0], st); len(out) > 0 && !c.send(out) {
			continue // c is gone from the clients
		}
		i++
	}
	if listening {
		d.pollModem()
	}
}
