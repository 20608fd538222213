package modbus

import (
	"errors"
	"fmt"
	"math"
	"strconv"
	"unicode/utf8"
)

// ErrNotFinite is a value that JSON cannot carry: a float point that reads
// NaN or an infinity (meters answer NaN for what they do not measure), or
// a value that scaling takes past the range of a float64. AppendValue
// appends nothing then; what to publish instead, if anything, is the
// caller's choice.
var ErrNotFinite = errors.New("modbus: the value is NaN or infinite, which JSON cannot carry")

// AppendValue appends p's value to dst as a JSON scalar, read from values,
// which hold p's registers from its Address on (Width of them, more are
// ignored), or, for a coil or discrete input, its bit as 0 or 1.
//
// A bool is true or false, and a string a JSON string of its bytes, high
// byte first, with trailing NULs and spaces trimmed, control characters
// escaped, and bytes that are not UTF-8 replaced by U+FFFD. A number is
// raw * Scale + Offset. Integers with no scale and no offset are
// published exactly, int64 and uint64 included; other values are printed
// as the shortest decimal that reads back the same float64, after rounding
// to the decimals that raw, Scale and Offset have between them, so that a
// raw 2301 with scale 0.1 is 230.1, not 230.10000000000002, and a float32
// reads as the decimal it was written as: 230.1, not 230.10000610351562.
// Exponents are used below 1e-6 and from 1e21 on, as encoding/json does.
// NaN and infinities return ErrNotFinite.
func (p Point) AppendValue(dst []byte, values []uint16) ([]byte, error) {
	w := p.Width()
	if w == 0 || len(values) < w {
		return dst, fmt.Errorf("modbus: %s point of %d registers given %d values", withArticle(p.Type), w, len(values))
	}
	values = values[:w]
	switch p.Type {
	case Bool:
		return strconv.AppendBool(dst, values[0] != 0), nil
	case String:
		return appendString(dst, values), nil
	case Float32:
		f := float64(math.Float32frombits(uint32(p.Order.gather(values, 2))))
		if p.raw() {
			if math.IsNaN(f) || math.IsInf(f, 0) {
				return dst, ErrNotFinite
			}
			return appendFloat(dst, f, 32), nil
		}
		return p.appendScaled(dst, f, decimals(f, 32))
	case Float64:
		f := math.Float64frombits(p.Order.gather(values, 4))
		if p.raw() {
			if math.IsNaN(f) || math.IsInf(f, 0) {
				return dst, ErrNotFinite
			}
			return appendFloat(dst, f, 64), nil
		}
		return p.appendScaled(dst, f, decimals(f, 64))
	}
	u := p.Order.gather(values, w)
	var i int64
	signed := true
	switch p.Type {
	case Int16:
		i = int64(int16(u))
	case Int32:
		i = int64(int32(u))
	case Int64:
		i = int64(u)
	default:
		signed = false
	}
	switch {
	case p.raw() && signed:
		return strconv.AppendInt(dst, i, 10), nil
	case p.raw():
		return strconv.AppendUint(dst, u, 10), nil
	case signed:
		return p.appendScaled(dst, float64(i), 0)
	}
	return p.appendScaled(dst, float64(u), 0)
}

// appendScaled appends raw * scale + offset, rounded to the decimals that
// raw (rawDecimals of them), the scale and the offset have between them.
func (p Point) appendScaled(dst []byte, raw float64, rawDecimals int) ([]byte, error) {
	s := p.scale()
	v := raw*s + p.Offset
	if math.IsNaN(v) || math.IsInf(v, 0) {
		return dst, ErrNotFinite
	}
	d := max(rawDecimals+decimals(s, 64), decimals(p.Offset, 64))
	if d < len(pow10) {
		// Only while v*10^d is an exact integer in a float64 does the
		// division give the float64 nearest to the decimal.
		if m := math.Abs(v) * pow10[d]; m < 1<<53 {
			v = math.Round(v*pow10[d]) / pow10[d]
		}
	}
	return appendFloat(dst, v, 64), nil
}

// pow10 holds the powers of ten that a float64 has exactly.
var pow10 = [...]float64{1, 1e1, 1e2, 1e3, 1e4, 1e5, 1e6, 1e7, 1e8, 1e9, 1e10, 1e11,
	1e12, 1e13, 1e14, 1e15, 1e16, 1e17, 1e18, 1e19, 1e20, 1e21, 1e22}

// decimals is the number of digits after the point of the shortest
// decimal that reads back as f, at the given bit size: 1 for 0.1 and
// 230.1, 0 for 1e21.
func decimals(f float64, bits int) int {
	if f == 0 || math.IsNaN(f) || math.IsInf(f, 0) {
		return 0
	}
	var buf [32]byte
	b := strconv.AppendFloat(buf[:0], f, 'e', -1, bits) // -d.ddde±dd
	if b[0] == '-' {
		b = b[1:]
	}
	digits, exp, sign := 0, 0, 1
	inExp := false
	for _, c := range b {
		switch {
		case c == 'e':
			inExp = true
		case c == '-':
			sign = -1
		case c < '0' || c > '9':
		case inExp:
			exp = 10*exp + int(c-'0')
		default:
			digits++
		}
	}
	return max(0, digits-1-sign*exp)
}

// appendFloat appends f as encoding/json does: the shortest decimal that
// reads back as f at the bit size, with an exponent only below 1e-6 and
// from 1e21 on.
func appendFloat(dst []byte, f float64, bits int) []byte {
	format := byte('f')
	if a := math.Abs(f); a != 0 {
		if bits == 64 && (a < 1e-6 || a >= 1e21) || bits == 32 && (float32(a) < 1e-6 || float32(a) >= 1e21) {
			format = 'e'
		}
	}
	dst = strconv.AppendFloat(dst, f, format, -1, bits)
	if format == 'e' {
		// 1e-07 becomes 1e-7.
		if n := len(dst); n >= 4 && dst[n-4] == 'e' && dst[n-3] == '-' && dst[n-2] == '0' {
			dst[n-2] = dst[n-1]
			dst = dst[:n-1]
		}
	}
	return dst
}

// appendString appends the bytes of regs, high byte first, as a JSON
// string, without trailing NULs and spaces.
func appendString(dst []byte, regs []uint16) []byte {
	n := 2 * len(regs)
	at := func(i int) byte {
		if i%2 == 0 {
			return byte(regs[i/2] >> 8)
		}
		return byte(regs[i/2])
	}
	for n > 0 && (at(n-1) == 0 || at(n-1) == ' ') {
		n--
	}
	// The bytes go through a small array so that UTF-8 can be checked
	// across register boundaries.
	var buf [2 * MaxReadRegisters]byte
	for i := range n {
		buf[i] = at(i)
	}
	return appendJSONString(dst, buf[:n])
}

const hexDigits = "0123456789abcdef"

// appendJSONString appends s as a JSON string: quotes, backslashes and
// control characters escaped, invalid UTF-8 replaced by U+FFFD.
func appendJSONString(dst, s []byte) []byte {
	dst = append(dst, '"')
	for i := 0; i < len(s); {
		c := s[i]
		if c < utf8.RuneSelf {
			switch {
			case c == '"' || c == '\\':
				dst = append(dst, '\\', c)
			case c == '\n':
				dst = append(dst, '\\', 'n')
			case c == '\r':
				dst = append(dst, '\\', 'r')
			case c == '\t':
				dst = append(dst, '\\', 't')
			case c < 0x20 || c == 0x7f:
				dst = append(dst, '\\', 'u', '0', '0', hexDigits[c>>4], hexDigits[c&0xF])
			default:
				dst = append(dst, c)
			}
			i++
			continue
		}
		r, size := utf8.DecodeRune(s[i:])
		if r == utf8.RuneError && size == 1 {
			dst = append(dst, `\ufffd`...)
		} else {
			dst = append(dst, s[i:i+size]...)
		}
		i += size
	}
	return append(dst, '"')
}
