package bridge_test

import (
	"encoding/binary"
	"os"
	"sync"
	"testing"

	"golang.org/x/sys/unix"

	"github.com/iogate/iogate/modbus"
)

// rtuSlave is a Modbus RTU slave of the test's own on a device's pty, whose
// answers the test shapes: exceptions, silence, refused groups.
type rtuSlave struct {
	mu       sync.Mutex
	id       uint8
	regs     [100]uint16
	busyOnce bool // answer the next read with exception 6 (busy) first
	noGroups bool // refuse reads of more than one register with exception 2
	mute     bool // answer nothing
}

// serve answers read-holding and write-single-register requests on the
// device's pty until the test ends.
func (s *rtuSlave) serve(w *world, name string) {
	w.t.Helper()
	fd, err := unix.Dup(w.devices[name].Fd())
	if err != nil {
		w.t.Fatal(err)
	}
	f := os.NewFile(uintptr(fd), name)
	w.t.Cleanup(func() { f.Close() })
	go func() {
		var in, out []byte
		buf := make([]byte, 256)
		for {
			n, err := f.Read(buf)
			if err != nil {
				return
			}
			in = append(in, buf[:n]...)
			for len(in) >= 8 {
				frame := in[:8]
				in = in[8:]
				if modbus.CRC(frame[:6]) != binary.LittleEndian.Uint16(frame[6:]) {
					in = in[:0]
					break
				}
				if out = s.answer(out[:0], frame); len(out) > 0 {
					f.Write(out)
				}
			}
		}
	}()
}

func (s *rtuSlave) answer(out, frame []byte) []byte {
	s.mu.Lock()
	defer s.mu.Unlock()
	if frame[0] != s.id || s.mute {
		return out
	}
	r := modbus.Request{Slave: s.id, Function: modbus.Function(frame[1]), Address: binary.BigEndian.Uint16(frame[2:]), Count: binary.BigEndian.Uint16(frame[4:])}
	switch {
	case r.Function == modbus.WriteSingleRegister:
		s.regs[r.Address] = r.Count // the value, where a read has its count
		r.Values, r.Count = []uint16{s.regs[r.Address]}, 1
		out, _ = modbus.AppendRTUReply(out, r, r.Values)
		return out
	case r.Function != modbus.ReadHoldingRegisters:
		return modbus.AppendRTUException(out, s.id, r.Function, modbus.IllegalFunction)
	case s.busyOnce:
		s.busyOnce = false
		return modbus.AppendRTUException(out, s.id, r.Function, modbus.ServerDeviceBusy)
	case s.noGroups && r.Count > 1:
		return modbus.AppendRTUException(out, s.id, r.Function, modbus.IllegalDataAddress)
	}
	out, _ = modbus.AppendRTUReply(out, r, s.regs[r.Address:r.Address+r.Count])
	return out
}

func (s *rtuSlave) set(f func(s *rtuSlave)) {
	s.mu.Lock()
	f(s)
	s.mu.Unlock()
}

const modbusSlaveConfig = `protocol = "modbus-rtu"
baud = 115200
writable = true
modbus_timeout = "100ms"
modbus_retries = 1
[[device.slave]]
id = 7
name = "plc"
every = "50ms"
[[device.slave.point]]
name = "a"
table = "holding"
address = 0
[[device.slave.point]]
name = "b"
table = "holding"
address = 1
writable = true`

// A busy slave is asked again; a slave that refuses grouped reads is read
// point by point; a slave that goes silent goes offline, and comes back.
func TestModbusMasterRules(t *testing.T) {
	w := newWorld(t, "line")
	s := &rtuSlave{id: 7, busyOnce: true, noGroups: true}
	s.regs[0], s.regs[1] = 11, 22
	s.serve(w, "line")
	w.run(map[string]string{"line": modbusSlaveConfig})
	w.expectPayload("iogate/gw/line/plc/status", "online")
	w.expectAll("iogate/gw/line/plc/a 11", "iogate/gw/line/plc/b 22")

	w.publish("iogate/gw/line/plc/b/set", []byte("33"), false)
	w.expectPayload("iogate/gw/line/plc/b", "33")

	s.set(func(s *rtuSlave) { s.mute = true })
	w.expectPayload("iogate/gw/line/plc/status", "offline")
	s.set(func(s *rtuSlave) { s.mute, s.regs[0] = false, 12 })
	w.expectPayload("iogate/gw/line/plc/status", "online")
	w.expectPayload("iogate/gw/line/plc/a", "12")
}
