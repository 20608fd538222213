package config

import (
	"fmt"
	"math"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/BurntSushi/toml"
	"github.com/iogate/iogate/modbus"
)

// The protocols of a device, from protocol.
const (
	ProtocolStream    = ""           // a byte stream, cut into frames by framing
	ProtocolModbusRTU = "modbus-rtu" // the gateway is the Modbus master of the line
	ProtocolModbusTCP = "modbus-tcp" // a Modbus TCP device, kind = "tcp"
)

// Slave is one [[device.slave]] of a Modbus device.
type Slave struct {
	ID     uint8 // 1 to 247
	Name   string
	Every  time.Duration // how often its points are read
	Points []Point
}

// Point is one [[device.slave.point]]: where the value is and how it is
// read (modbus.Point), and what is published of it.
type Point struct {
	Name string
	modbus.Point
	Unit        string
	Writable    bool // holding and coil points only: <...>/set writes them
	DeviceClass string
	StateClass  string
}

type slaveFile struct {
	ID    *int             `toml:"id"`
	Name  string           `toml:"name"`
	Every Duration         `toml:"every"`
	Point []toml.Primitive `toml:"point"`

	points []pointFile // Point, decoded
}

type pointFile struct {
	Name        string  `toml:"name"`
	Table       string  `toml:"table"`
	Address     *int64  `toml:"address"`
	Type        string  `toml:"type"`
	Order       string  `toml:"order"`
	Count       int64   `toml:"count"`
	Scale       float64 `toml:"scale"`
	Offset      float64 `toml:"offset"`
	Unit        string  `toml:"unit"`
	Writable    bool    `toml:"writable"`
	DeviceClass string  `toml:"device_class"`
	StateClass  string  `toml:"state_class"`
}

func defaultSlave() slaveFile { return slaveFile{Every: Duration(5 * time.Second)} }
func defaultPoint() pointFile { return pointFile{Order: "ABCD", Scale: 1} }

// The defaults of the Modbus keys of a device.
const (
	defaultModbusTimeout = 500 * time.Millisecond
	defaultModbusRetries = 2
)

// pointLevels are the topic levels a point may not take: those of the
// device, and its own set.
var pointLevels = append(slices.Clone(deviceLevels), "set")

// decodeSlaves decodes the [[device.slave]] tables of the device at key,
// and the [[device.slave.point]] tables of each.
func decodeSlaves(v *validator, md *toml.MetaData, key string, f *deviceFile, failed map[string]bool) {
	f.slaves = decodeArray(v, md, key, "slave", f.Slave, defaultSlave, failed)
	for i := range f.slaves {
		k := key + ".slave." + strconv.Itoa(i)
		if !failed[k] {
			f.slaves[i].points = decodeArray(v, md, k, "point", f.slaves[i].Point, defaultPoint, failed)
		}
	}
}

func isModbus(protocol string) bool {
	return protocol == ProtocolModbusRTU || protocol == ProtocolModbusTCP
}

// modbus validates the protocol and the Modbus keys of the device at key,
// and its slaves, into d.
func (v *validator) modbus(key string, f *deviceFile, d *Device, names map[string]string, failed map[string]bool) {
	d.Protocol, d.RS485 = f.Protocol, f.RS485
	d.ModbusTimeout, d.ModbusRetries = time.Duration(f.ModbusTimeout), f.ModbusRetries
	d.ModbusPause, d.ModbusTCPListen = time.Duration(f.ModbusPause), f.ModbusTCPListen
	switch f.Protocol {
	case ProtocolStream, ProtocolModbusRTU:
	case ProtocolModbusTCP:
		if d.Kind != "tcp" {
			v.addf(key+".protocol", "%q is for a Modbus TCP device, kind = \"tcp\"; a serial line speaks %q", f.Protocol, ProtocolModbusRTU)
		}
	default:
		v.addf(key+".protocol", "%q is not one of \"\" (a byte stream), %s, %s", f.Protocol, ProtocolModbusRTU, ProtocolModbusTCP)
		return
	}
	if d.RS485 && d.Kind != "serial" {
		v.addf(key+".rs485", "the kernel's RS-485 mode is a serial port's; kind = %q has none", d.Kind)
	}
	if !isModbus(f.Protocol) {
		for _, m := range []struct {
			key   string
			given bool
		}{
			{"modbus_timeout", d.ModbusTimeout != defaultModbusTimeout},
			{"modbus_retries", d.ModbusRetries != defaultModbusRetries},
			{"modbus_pause", d.ModbusPause != 0},
			{"modbus_tcp_listen", d.ModbusTCPListen != ""},
		} {
			if m.given {
				v.addf(key+"."+m.key, "is for protocol = %q or %q", ProtocolModbusRTU, ProtocolModbusTCP)
			}
		}
		if len(f.Slave) > 0 {
			v.addf(key+".slave.0", "slaves need protocol = %q (or %q on kind = \"tcp\")", ProtocolModbusRTU, ProtocolModbusTCP)
		}
		return
	}
	if d.ModbusTimeout <= 0 {
		v.addf(key+".modbus_timeout", "%s: must be more than 0", d.ModbusTimeout)
	}
	if d.ModbusRetries < 0 || d.ModbusRetries > 10 {
		v.addf(key+".modbus_retries", "%d: want 0 to 10", d.ModbusRetries)
	}
	if d.ModbusPause < 0 {
		v.addf(key+".modbus_pause", "%s: must not be negative", d.ModbusPause)
	}
	if d.ModbusTCPListen != "" {
		v.listenAddr(key+".modbus_tcp_listen", d.ModbusTCPListen)
	}
	if d.TCPListen != "" {
		v.addf(key+".tcp_listen", "raw TCP access is for byte streams; Modbus TCP masters share a Modbus device through modbus_tcp_listen")
	}
	if len(f.Poll) > 0 {
		v.addf(key+".poll.0", "polls are for byte streams; a Modbus device reads points ([[device.slave.point]])")
	}
	if len(f.Slave) == 0 {
		v.addf(key+".protocol", "protocol = %q needs at least one [[device.slave]]", f.Protocol)
	}
	ids := map[int]int{}
	for i, sf := range f.slaves {
		k := key + ".slave." + strconv.Itoa(i)
		if failed[k] {
			continue
		}
		s := Slave{Name: sf.Name, Every: time.Duration(sf.Every)}
		switch {
		case sf.ID == nil:
			v.addf(k+".id", "required: the slave's address, 1 to %d", modbus.MaxSlave)
		case *sf.ID < 1 || *sf.ID > modbus.MaxSlave:
			v.addf(k+".id", "%d: want 1 to %d (0 is broadcast, which no slave answers)", *sf.ID, modbus.MaxSlave)
		default:
			if first, dup := ids[*sf.ID]; dup {
				v.addf(k+".id", "%d is already the id of slave[%d]", *sf.ID, first)
			}
			ids[*sf.ID] = i
			s.ID = uint8(*sf.ID)
		}
		if v.topicLevel(k+".name", s.Name, deviceLevels) {
			v.claim(names, k, s.Name)
		}
		if s.Every < minInterval {
			v.addf(k+".every", "%s: want at least 10ms", s.Every)
		}
		s.Points = v.points(k, sf.points, failed)
		d.Slaves = append(d.Slaves, s)
	}
}

// points validates the points of the slave at key.
func (v *validator) points(key string, files []pointFile, failed map[string]bool) []Point {
	var points []Point
	names := map[string]string{}
	type place struct{ point, file int }
	var placed []place // the points whose registers are known, for the overlaps
	for i, pf := range files {
		k := key + ".point." + strconv.Itoa(i)
		if failed[k] {
			continue
		}
		p, ok := v.point(k, pf)
		if v.topicLevel(k+".name", p.Name, pointLevels) {
			v.claim(names, k, p.Name)
		}
		if ok {
			placed = append(placed, place{len(points), i})
		}
		points = append(points, p)
	}
	slices.SortStableFunc(placed, func(a, b place) int {
		pa, pb := points[a.point].Point, points[b.point].Point
		if pa.Table != pb.Table {
			return int(pa.Table) - int(pb.Table)
		}
		return int(pa.Address) - int(pb.Address)
	})
	for n, b := range placed {
		for _, a := range placed[:n] {
			pa, pb := points[a.point].Point, points[b.point].Point
			if pa.Table == pb.Table && int(pb.Address) <= int(pa.Address)+pa.Width()-1 {
				v.addf(key+".point."+strconv.Itoa(b.file)+".address", "%s overlaps point[%d] %q (%s)",
					span(pb), a.file, points[a.point].Name, span(pa))
				break
			}
		}
	}
	return points
}

// span describes the registers or bits of a point: "holding registers 10
// to 11", "coil 3".
func span(p modbus.Point) string {
	unit := map[modbus.Table][2]string{
		modbus.Coil:     {"coil", "coils"},
		modbus.Discrete: {"discrete input", "discrete inputs"},
		modbus.Input:    {"input register", "input registers"},
		modbus.Holding:  {"holding register", "holding registers"},
	}[p.Table]
	if p.Width() == 1 {
		return fmt.Sprintf("%s %d", unit[0], p.Address)
	}
	return fmt.Sprintf("%s %d to %d", unit[1], p.Address, int(p.Address)+p.Width()-1)
}

// point validates one point; ok says its table, address and width are
// known, for the overlap check.
func (v *validator) point(key string, f pointFile) (p Point, ok bool) {
	p = Point{Name: f.Name, Unit: f.Unit, Writable: f.Writable, DeviceClass: f.DeviceClass, StateClass: f.StateClass}
	p.Scale, p.Offset = f.Scale, f.Offset
	bad := len(v.errs)
	tables := []string{"coil", "discrete", "input", "holding"}
	switch {
	case f.Table == "":
		v.addf(key+".table", "required: one of %s", strings.Join(tables, ", "))
	case !slices.Contains(tables, f.Table):
		oneOf(v, key+".table", f.Table, tables...)
	default:
		p.Table, _ = modbus.ParseTable(f.Table)
	}
	if f.Type == "" && p.Table != 0 {
		f.Type = "uint16"
		if p.Table.Bits() {
			f.Type = "bool"
		}
	}
	types := []string{"bool", "int16", "uint16", "int32", "uint32", "int64", "uint64", "float32", "float64", "string"}
	switch {
	case f.Type == "":
	case !slices.Contains(types, f.Type):
		oneOf(v, key+".type", f.Type, types...)
	default:
		p.Type, _ = modbus.ParseType(f.Type)
		switch {
		case p.Table.Bits() && p.Type != modbus.Bool:
			v.addf(key+".type", "%q: a %s point is a bool", f.Type, p.Table)
		case p.Table != 0 && !p.Table.Bits() && p.Type == modbus.Bool:
			v.addf(key+".type", "\"bool\" is for coil and discrete points; a %s register is a number or a string", p.Table)
		}
	}
	if o, err := modbus.ParseOrder(f.Order); err != nil {
		oneOf(v, key+".order", f.Order, "ABCD", "CDAB", "BADC", "DCBA")
	} else if p.Order = o; o != modbus.ABCD && p.Type != 0 && p.Type.Registers() < 2 {
		v.addf(key+".order", "%q is for 32- and 64-bit types; %q has no words to order", f.Order, f.Type)
	}
	switch {
	case p.Type == modbus.String && (f.Count < 1 || f.Count > modbus.MaxReadRegisters):
		v.addf(key+".count", "%d: a string needs its length in registers, 1 to %d", f.Count, modbus.MaxReadRegisters)
	case p.Type != modbus.String && p.Type != 0 && f.Count != 0:
		v.addf(key+".count", "%d: count is the length of a string; %q has its own", f.Count, f.Type)
	default:
		p.Count = uint16(f.Count)
	}
	switch {
	case f.Address == nil:
		v.addf(key+".address", "required: the 0-based address, as on the wire (register 40001 is holding 0)")
	case *f.Address < 0 || *f.Address > math.MaxUint16:
		v.addf(key+".address", "%d: want 0 to 65535", *f.Address)
	default:
		p.Address = uint16(*f.Address)
		if w := p.Width(); p.Type != 0 && int(p.Address)+w-1 > math.MaxUint16 {
			v.addf(key+".address", "%d: %s takes %d registers, past 65535", p.Address, f.Type, w)
		}
	}
	switch {
	case p.Scale == 0:
		v.addf(key+".scale", "must not be 0")
	case math.IsNaN(p.Scale) || math.IsInf(p.Scale, 0):
		v.addf(key+".scale", "%v: must be a finite number", p.Scale)
	}
	if math.IsNaN(p.Offset) || math.IsInf(p.Offset, 0) {
		v.addf(key+".offset", "%v: must be a finite number", p.Offset)
	}
	if p.Writable && p.Table != 0 && !p.Table.Writable() {
		v.addf(key+".writable", "a %s point is read-only: only holding and coil points can be written", p.Table)
	}
	if f.Type != "" {
		if k, err := checkPointClasses(f.Type, p.Unit, p.DeviceClass, p.StateClass); err != nil {
			v.add(key+"."+k, err)
		}
	}
	if len(v.errs) > bad {
		return p, false
	}
	if err := p.Point.Validate(); err != nil {
		v.add(key, err)
		return p, false
	}
	return p, true
}
