package bridge

import (
	"github.com/iogate/iogate/config"
	"github.com/iogate/iogate/reactor"
	"github.com/iogate/iogate/resources/tcp"
)

// A device has at most one listener: its TCP access (tcp_listen), or, for
// a Modbus device, its Modbus TCP server (modbus_tcp_listen).

// listenAddr is the address of a device's listener, "" for none.
func listenAddr(dc config.Device) string {
	if dc.ModbusTCPListen != "" {
		return dc.ModbusTCPListen
	}
	return dc.TCPListen
}

// listenKey is the configuration key of a device's listener, for errors.
func listenKey(dc config.Device) string {
	if dc.ModbusTCPListen != "" {
		return "modbus_tcp_listen"
	}
	return "tcp_listen"
}

// listen serves the device's listener on l.
func (d *device) listen(l *tcp.Listener) error {
	if m, ok := d.proto.(*modbusMaster); ok {
		return m.serveModbus(l)
	}
	return d.serve(l)
}

// listener is the device's registered listener, 0 for none.
func (d *device) listener() reactor.ID {
	switch {
	case d.tcp != nil:
		return d.tcp.listener
	case d.proto != nil:
		if m, ok := d.proto.(*modbusMaster); ok && m.gateway != nil {
			return m.gateway.listener
		}
	}
	return 0
}

// detachListener takes the listener off the device, open, for a
// successor; its clients are closed.
func (d *device) detachListener() *tcp.Listener {
	id := d.listener()
	if id == 0 {
		return nil
	}
	res, err := d.s.r.Unregister(id)
	if d.tcp != nil {
		d.tcp.listener = 0
		d.tcp.close()
	} else if m, ok := d.proto.(*modbusMaster); ok {
		m.gateway.listener = 0
		m.gateway.close()
	}
	if err != nil {
		return nil
	}
	l, _ := res.(*tcp.Listener)
	return l
}
