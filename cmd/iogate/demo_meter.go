package main

import (
	"encoding/binary"
	"math"
	"os"
	"time"

	"github.com/iogate/iogate/modbus"
)

// The demo's energy meter: a Modbus RTU slave (id 1) on a pty, with the
// input registers of an Eastron SDM120 that the demo's gateway reads:
// voltage at 0x0000, current at 0x0006, active power at 0x000C and import
// active energy at 0x0048, each a float32, the load wandering a little.
const meterConfig = `
[[device]]
name = "meter"
path = %q
baud = 9600
protocol = "modbus-rtu"
[[device.slave]]
id = 1
name = "sdm120"
every = "2s"
[[device.slave.point]]
name = "voltage"
table = "input"
address = 0x0000
type = "float32"
unit = "V"
[[device.slave.point]]
name = "current"
table = "input"
address = 0x0006
type = "float32"
unit = "A"
[[device.slave.point]]
name = "power"
table = "input"
address = 0x000C
type = "float32"
unit = "W"
[[device.slave.point]]
name = "energy"
table = "input"
address = 0x0048
type = "float32"
unit = "kWh"
`

// simulateMeter answers the gateway's read requests on dev until it is
// closed.
func simulateMeter(dev *os.File) {
	start := time.Now()
	var in, out []byte
	buf := make([]byte, 256)
	for {
		n, err := dev.Read(buf)
		if err != nil {
			return
		}
		in = append(in, buf[:n]...)
		// A read request is 8 bytes: slave, function, address, count, CRC.
		for len(in) >= 8 {
			frame := in[:8]
			in = in[8:]
			if modbus.CRC(frame[:6]) != binary.LittleEndian.Uint16(frame[6:]) || frame[0] != 1 {
				in = in[:0] // noise: wait for the next request
				break
			}
			r := modbus.Request{Slave: 1, Function: modbus.Function(frame[1]),
				Address: binary.BigEndian.Uint16(frame[2:]), Count: binary.BigEndian.Uint16(frame[4:])}
			if r.Function != modbus.ReadInputRegisters {
				out = modbus.AppendRTUException(out[:0], 1, r.Function, modbus.IllegalFunction)
			} else {
				out, _ = modbus.AppendRTUReply(out[:0], r, meterRegisters(r, time.Since(start)))
			}
			dev.Write(out)
		}
	}
}

// meterRegisters are the registers a read asks for, at a moment of the
// meter's life.
func meterRegisters(r modbus.Request, up time.Duration) []uint16 {
	s := up.Seconds()
	amps := 1.2 + 0.3*math.Sin(s/20)
	volts := 230 + 1.5*math.Sin(s/7)
	values := map[uint16]float64{0x00: volts, 0x06: amps, 0x0C: volts * amps, 0x48: 1234.5 + volts*amps*s/3.6e6}
	regs := make([]uint16, r.Count)
	for i := range regs {
		a := r.Address + uint16(i)
		if v, ok := values[a&^1]; ok {
			bits := math.Float32bits(float32(math.Round(v*100) / 100))
			regs[i] = uint16(bits >> 16)
			if a&1 == 1 {
				regs[i] = uint16(bits)
			}
		}
	}
	return regs
}
