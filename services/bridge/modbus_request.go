package bridge

import (
	"errors"
	"fmt"
	"strconv"

	"github.com/iogate/iogate/modbus"
)

// request takes a raw Modbus request from MQTT:
// {"id","slave","function","address","count"} for a read, plus "values"
// for a write; answered on reply with {"id","registers":[...]} or
// {"id","bits":[...]}, or {"id","error"}.
func (m *modbusMaster) request(topic string, payload []byte, retained bool) {
	d := m.d
	if retained {
		d.reject(topic, errors.New("retained request ignored: it would be asked again at every reconnect"))
		return
	}
	f, id, err := parseRequest(payload)
	if err == nil {
		var req modbus.Request
		if req, err = modbusRequestOf(f); err == nil {
			t := &mtxn{req: req, slave: m.byID[req.Slave], raw: id, lane: urgent}
			if !m.enqueue(t) {
				err = errQueueFull
			}
		}
	}
	if err != nil {
		d.reject(topic, err)
		if id != "" {
			m.out = appendErrorReply(m.out[:0], id, err)
			d.s.out.frame(m.reply, m.out)
		}
	}
}

// modbusRequestOf checks a raw request's fields.
func modbusRequestOf(f requestFields) (modbus.Request, error) {
	var r modbus.Request
	switch {
	case f.Slave == nil || *f.Slave < 0 || *f.Slave > modbus.MaxSlave:
		return r, fmt.Errorf(`"slave": want 0 (broadcast) to %d`, modbus.MaxSlave)
	case f.Function == nil || !modbus.Function(clampByte(*f.Function)).Supported() || *f.Function > 255:
		return r, errors.New(`"function": want 1, 2, 3, 4 (reads), 5, 6, 15 or 16 (writes)`)
	case f.Address == nil || *f.Address < 0 || *f.Address > 0xffff:
		return r, errors.New(`"address": want 0 to 65535`)
	}
	r = modbus.Request{Slave: uint8(*f.Slave), Function: modbus.Function(*f.Function), Address: uint16(*f.Address)}
	if r.Function.Read() {
		if f.Count == nil || *f.Count < 1 || *f.Count > 0xffff {
			return r, errors.New(`"count": the registers or bits to read`)
		}
		r.Count = uint16(*f.Count)
	} else {
		if len(f.Values) == 0 {
			return r, errors.New(`"values": what to write`)
		}
		r.Values, r.Count = f.Values, uint16(len(f.Values))
	}
	if r.Broadcast() && r.Function.Read() {
		return r, errors.New(`"slave": 0 is a broadcast, which only writes`)
	}
	return r, r.Validate()
}

func clampByte(n int) uint8 { return uint8(min(max(n, 0), 255)) }

// appendValuesReply appends a raw request's answer: the registers or bits
// read, or, for a write, the values the slave echoed back.
func appendValuesReply(dst []byte, id string, fn modbus.Function, values []uint16) []byte {
	dst = append(dst, `{"id":`...)
	dst = appendJSONString(dst, validUTF8(id))
	if fn.Bits() {
		dst = append(dst, `,"bits":[`...)
		for i, v := range values {
			if i > 0 {
				dst = append(dst, ',')
			}
			dst = strconv.AppendBool(dst, v != 0)
		}
	} else {
		dst = append(dst, `,"registers":[`...)
		for i, v := range values {
			if i > 0 {
				dst = append(dst, ',')
			}
			dst = strconv.AppendUint(dst, uint64(v), 10)
		}
	}
	return append(dst, "]}"...)
}
