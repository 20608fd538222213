package modbus

import (
	"bytes"
	"encoding/json"
	"fmt"
	"math"
	"strconv"
)

// Encode appends to dst the registers that carry payload, a JSON scalar
// such as an MQTT set command brings, as p's value, in p's order: Width
// of them, or for a coil one bit, 0 or 1.
//
// A bool takes true, false, 1, 0, and "ON", "OFF", "true", "false", "1",
// "0" in any case, quoted or not (Home Assistant's switch sends ON
// unquoted). A string takes a JSON string, or text that does not start
// with a quote as it is, of at most 2*Count bytes, padded with NULs. A
// number is a JSON number, scaled back to raw = (value - Offset) / Scale;
// an integer type rounds raw to the nearest integer, half away from zero,
// and refuses a raw value out of its range, as a uint16 refuses 70000.
// Integers with no scale and no offset are taken exactly, int64 and uint64
// included.
func (p Point) Encode(dst []uint16, payload []byte) ([]uint16, error) {
	if err := p.Validate(); err != nil {
		return dst, err
	}
	s := bytes.TrimSpace(payload)
	switch p.Type {
	case Bool:
		on, err := parseBool(s)
		if err != nil {
			return dst, err
		}
		if on {
			return append(dst, 1), nil
		}
		return append(dst, 0), nil
	case String:
		return p.encodeString(dst, s)
	}
	if !isJSONNumber(s) {
		return dst, fmt.Errorf("modbus: %q is not a number, which %s point takes", s, withArticle(p.Type))
	}
	n := p.Type.Registers()
	if p.raw() && p.Type.Integer() && !bytes.ContainsAny(s, ".eE") {
		u, err := parseInteger(s, p.Type)
		if err != nil {
			return dst, err
		}
		return p.Order.scatter(dst, u, n), nil
	}
	f, err := strconv.ParseFloat(string(s), 64)
	if err != nil {
		return dst, fmt.Errorf("modbus: %s is out of range for a float64", s)
	}
	raw := (f - p.Offset) / p.scale()
	outOfRange := func() error {
		if p.raw() {
			return fmt.Errorf("modbus: %s is out of range for %s (%s)", s, withArticle(p.Type), typeRange(p.Type))
		}
		return fmt.Errorf("modbus: %s scales back to %g ((value - offset) / scale), out of range for %s (%s)",
			s, raw, withArticle(p.Type), typeRange(p.Type))
	}
	switch p.Type {
	case Float32:
		if math.IsInf(float64(float32(raw)), 0) {
			return dst, outOfRange()
		}
		return p.Order.scatter(dst, uint64(math.Float32bits(float32(raw))), n), nil
	case Float64:
		if math.IsInf(raw, 0) || math.IsNaN(raw) {
			return dst, outOfRange()
		}
		return p.Order.scatter(dst, math.Float64bits(raw), n), nil
	}
	r := math.Round(raw)
	lo, hi := intBounds(p.Type)
	if math.IsNaN(r) || r < lo || r >= hi {
		return dst, outOfRange()
	}
	var u uint64
	if p.Type == Uint64 {
		u = uint64(r)
	} else {
		u = uint64(int64(r))
	}
	return p.Order.scatter(dst, u, n), nil
}

// intBounds is the range of an integer type as floats: lo <= v < hi.
func intBounds(t Type) (lo, hi float64) {
	switch t {
	case Int16:
		return math.MinInt16, math.MaxInt16 + 1
	case Uint16:
		return 0, math.MaxUint16 + 1
	case Int32:
		return math.MinInt32, math.MaxInt32 + 1
	case Uint32:
		return 0, math.MaxUint32 + 1
	case Int64:
		return math.MinInt64, -math.MinInt64
	}
	return 0, 2 * -math.MinInt64
}

func typeRange(t Type) string {
	switch t {
	case Int16:
		return "-32768 to 32767"
	case Uint16:
		return "0 to 65535"
	case Int32:
		return "-2147483648 to 2147483647"
	case Uint32:
		return "0 to 4294967295"
	case Int64:
		return "-9223372036854775808 to 9223372036854775807"
	case Uint64:
		return "0 to 18446744073709551615"
	case Float32:
		return "±3.4028235e+38"
	}
	return "a finite float64"
}

// parseInteger reads the JSON integer s exactly, in t's range, and returns
// its two's complement bits.
func parseInteger(s []byte, t Type) (uint64, error) {
	bits := 16 * t.Registers()
	signed := t == Int16 || t == Int32 || t == Int64
	var u uint64
	var err error
	if signed {
		var i int64
		i, err = strconv.ParseInt(string(s), 10, bits)
		u = uint64(i)
	} else if bytes.Equal(s, []byte("-0")) {
		u = 0
	} else {
		u, err = strconv.ParseUint(string(s), 10, bits)
	}
	if err != nil {
		return 0, fmt.Errorf("modbus: %s is out of range for %s (%s)", s, withArticle(t), typeRange(t))
	}
	if bits < 64 {
		u &= 1<<bits - 1
	}
	return u, nil
}

// isJSONNumber reports whether s is a number as JSON writes it.
func isJSONNumber(s []byte) bool {
	i := 0
	digits := func() bool {
		start := i
		for i < len(s) && s[i] >= '0' && s[i] <= '9' {
			i++
		}
		return i > start
	}
	if i < len(s) && s[i] == '-' {
		i++
	}
	if i < len(s) && s[i] == '0' {
		i++
	} else if !digits() {
		return false
	}
	if i < len(s) && s[i] == '.' {
		i++
		if !digits() {
			return false
		}
	}
	if i < len(s) && (s[i] == 'e' || s[i] == 'E') {
		i++
		if i < len(s) && (s[i] == '+' || s[i] == '-') {
			i++
		}
		if !digits() {
			return false
		}
	}
	return i == len(s)
}

// parseBool reads an MQTT command for a bool point.
func parseBool(s []byte) (bool, error) {
	t := s
	if len(t) >= 2 && t[0] == '"' && t[len(t)-1] == '"' {
		t = t[1 : len(t)-1]
	}
	for _, w := range [...]string{"on", "true", "1"} {
		if bytes.EqualFold(t, []byte(w)) {
			return true, nil
		}
	}
	for _, w := range [...]string{"off", "false", "0"} {
		if bytes.EqualFold(t, []byte(w)) {
			return false, nil
		}
	}
	return false, fmt.Errorf("modbus: %q is not a bool: want true, false, 1, 0, \"ON\" or \"OFF\"", s)
}

func (p Point) encodeString(dst []uint16, s []byte) ([]uint16, error) {
	text := s
	if len(s) > 0 && s[0] == '"' {
		var str string
		if err := json.Unmarshal(s, &str); err != nil {
			return dst, fmt.Errorf("modbus: %q is not a JSON string", s)
		}
		text = []byte(str)
	}
	if room := 2 * int(p.Count); len(text) > room {
		return dst, fmt.Errorf("modbus: a string of %d bytes does not fit in %d registers (%d bytes)", len(text), p.Count, room)
	}
	for i := 0; i < int(p.Count); i++ {
		var hi, lo byte
		if 2*i < len(text) {
			hi = text[2*i]
		}
		if 2*i+1 < len(text) {
			lo = text[2*i+1]
		}
		dst = append(dst, uint16(hi)<<8|uint16(lo))
	}
	return dst, nil
}

// WriteFunction is the function that writes n registers of table t, or
// n bits: 5 for one coil, 15 for several, 6 for one holding register, 16
// for several.
func WriteFunction(t Table, n int) (Function, error) {
	if n < 1 {
		return 0, fmt.Errorf("modbus: a write of %d values", n)
	}
	switch t {
	case Coil:
		if n == 1 {
			return WriteSingleCoil, nil
		}
		return WriteMultipleCoils, nil
	case Holding:
		if n == 1 {
			return WriteSingleRegister, nil
		}
		return WriteMultipleRegisters, nil
	}
	return 0, fmt.Errorf("modbus: %s points are read-only: only coils and holding registers can be written", t)
}

// WriteRequest is the request that writes values, from Encode, to p on
// slave: function 5 for a coil, 6 for a point of one register, 16 for a
// point of several.
func (p Point) WriteRequest(slave uint8, values []uint16) (Request, error) {
	fn, err := WriteFunction(p.Table, len(values))
	if err != nil {
		return Request{}, err
	}
	if len(values) != p.Width() {
		return Request{}, fmt.Errorf("modbus: %s point of %d registers given %d values", withArticle(p.Type), p.Width(), len(values))
	}
	r := Request{Slave: slave, Function: fn, Address: p.Address, Count: uint16(len(values)), Values: values}
	return r, r.Validate()
}
