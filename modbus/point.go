package modbus

import (
	"errors"
	"fmt"
	"math"
	"strconv"
	"strings"
)

// Table is one of a slave's four tables.
type Table uint8

// The tables. The zero Table is none: a Point must name one.
const (
	Coil     Table = iota + 1 // read-write bits, functions 1, 5 and 15
	Discrete                  // read-only bits, function 2
	Input                     // read-only registers, function 4
	Holding                   // read-write registers, functions 3, 6 and 16
)

var tableNames = [...]string{Coil: "coil", Discrete: "discrete", Input: "input", Holding: "holding"}

// String is the name of t as the config writes it: "coil", "discrete",
// "input" or "holding".
func (t Table) String() string {
	if t >= Coil && int(t) < len(tableNames) {
		return tableNames[t]
	}
	return "Table(" + strconv.Itoa(int(t)) + ")"
}

// ParseTable returns the Table named s.
func ParseTable(s string) (Table, error) {
	for t := Coil; int(t) < len(tableNames); t++ {
		if tableNames[t] == s {
			return t, nil
		}
	}
	return 0, fmt.Errorf("modbus: table %q is not one of %s", s, strings.Join(tableNames[1:], ", "))
}

// Bits reports whether t holds bits rather than registers.
func (t Table) Bits() bool { return t == Coil || t == Discrete }

// Writable reports whether a master can write t: coils and holding
// registers.
func (t Table) Writable() bool { return t == Coil || t == Holding }

// ReadFunction is the function that reads t.
func (t Table) ReadFunction() Function {
	switch t {
	case Coil:
		return ReadCoils
	case Discrete:
		return ReadDiscreteInputs
	case Input:
		return ReadInputRegisters
	case Holding:
		return ReadHoldingRegisters
	}
	return 0
}

// Type is how a point's registers (or bit) make a value.
type Type uint8

// The types. The zero Type is none: a Point must name one.
const (
	Bool    Type = iota + 1 // a coil or a discrete input
	Int16                   // one register, two's complement
	Uint16                  // one register
	Int32                   // two registers
	Uint32                  // two registers
	Int64                   // four registers
	Uint64                  // four registers
	Float32                 // two registers, IEEE 754
	Float64                 // four registers, IEEE 754
	String                  // Point.Count registers, two bytes each, high byte first
)

var typeNames = [...]string{
	Bool: "bool", Int16: "int16", Uint16: "uint16", Int32: "int32", Uint32: "uint32",
	Int64: "int64", Uint64: "uint64", Float32: "float32", Float64: "float64", String: "string",
}

// String is the name of t as the config writes it, such as "float32".
func (t Type) String() string {
	if t >= Bool && int(t) < len(typeNames) {
		return typeNames[t]
	}
	return "Type(" + strconv.Itoa(int(t)) + ")"
}

// ParseType returns the Type named s.
func ParseType(s string) (Type, error) {
	for t := Bool; int(t) < len(typeNames); t++ {
		if typeNames[t] == s {
			return t, nil
		}
	}
	return 0, fmt.Errorf("modbus: type %q is not one of %s", s, strings.Join(typeNames[1:], ", "))
}

// withArticle is "a uint16", "an int16".
func withArticle(t Type) string {
	if t == Int16 || t == Int32 || t == Int64 {
		return "an " + t.String()
	}
	return "a " + t.String()
}

// Registers is the number of registers t takes: 1, 2 or 4; 0 for Bool,
// which is a bit, and for String, whose length the Point says.
func (t Type) Registers() int {
	switch t {
	case Int16, Uint16:
		return 1
	case Int32, Uint32, Float32:
		return 2
	case Int64, Uint64, Float64:
		return 4
	}
	return 0
}

// Integer reports whether t is one of the integer types.
func (t Type) Integer() bool { return t >= Int16 && t <= Uint64 }

// Order is the order of the bytes of a 32- or 64-bit value in its
// registers, named by where the value's bytes, A the most significant,
// travel: ABCD is big-endian, as the Modbus specification has it; CDAB
// swaps the registers (the order of many meters), BADC the bytes within
// each register, DCBA both. For 64-bit values the same swaps apply to
// four registers: CDAB is GHEFCDAB.
type Order uint8

// The orders. The zero Order is ABCD.
const (
	ABCD Order = iota
	CDAB
	BADC
	DCBA
)

var orderNames = [...]string{ABCD: "ABCD", CDAB: "CDAB", BADC: "BADC", DCBA: "DCBA"}

// String is the name of o, such as "CDAB".
func (o Order) String() string {
	if int(o) < len(orderNames) {
		return orderNames[o]
	}
	return "Order(" + strconv.Itoa(int(o)) + ")"
}

// ParseOrder returns the Order named s; "" is ABCD.
func ParseOrder(s string) (Order, error) {
	if s == "" {
		return ABCD, nil
	}
	for o, name := range orderNames {
		if name == s {
			return Order(o), nil
		}
	}
	return 0, fmt.Errorf("modbus: order %q is not one of %s", s, strings.Join(orderNames[:], ", "))
}

// Point is one value in a slave's tables: where it is, and how its
// registers or its bit make the value that is published, raw * Scale +
// Offset.
type Point struct {
	Table   Table
	Address uint16 // 0-based, as on the wire
	Type    Type
	Order   Order   // for the 32- and 64-bit types
	Count   uint16  // registers, for String: 1 to 125
	Scale   float64 // 0 is taken as 1, so that a Point literal without it is the raw value
	Offset  float64
}

// Width is the number of registers, or bits, p takes from Address on.
func (p Point) Width() int {
	switch {
	case p.Type == Bool:
		return 1
	case p.Type == String:
		return int(p.Count)
	}
	return p.Type.Registers()
}

// scale is p's scale, 1 for 0.
func (p Point) scale() float64 {
	if p.Scale == 0 {
		return 1
	}
	return p.Scale
}

// raw reports whether p publishes its raw value: no scale, no offset.
func (p Point) raw() bool { return p.scale() == 1 && p.Offset == 0 }

// Validate reports whether p describes a value a slave can hold: a table
// and a type, Bool exactly for coils and discrete inputs, a Count from 1
// to 125 for a String and 0 otherwise, an order other than ABCD only for
// the 32- and 64-bit types, an address range that ends by 65535, and a
// finite scale and offset.
func (p Point) Validate() error {
	var errs []error
	switch {
	case p.Table < Coil || p.Table > Holding:
		errs = append(errs, fmt.Errorf("table %d is not one of coil, discrete, input, holding", p.Table))
	case p.Type < Bool || p.Type > String:
		errs = append(errs, fmt.Errorf("type %d is not one of %s", p.Type, strings.Join(typeNames[1:], ", ")))
	case p.Table.Bits() != (p.Type == Bool):
		errs = append(errs, fmt.Errorf("a %s point cannot be %s: coils and discrete inputs are bool, and only they", p.Table, p.Type))
	}
	if p.Type == String && (p.Count < 1 || p.Count > MaxReadRegisters) {
		errs = append(errs, fmt.Errorf("a string of %d registers: want 1 to %d", p.Count, MaxReadRegisters))
	}
	if p.Type != String && p.Count != 0 {
		errs = append(errs, fmt.Errorf("count %d is for strings; %s has its own width", p.Count, withArticle(p.Type)))
	}
	if p.Order > DCBA {
		errs = append(errs, fmt.Errorf("order %d is not one of %s", p.Order, strings.Join(orderNames[:], ", ")))
	} else if p.Order != ABCD && p.Type.Registers() < 2 {
		errs = append(errs, fmt.Errorf("order %s is for 32- and 64-bit types; %s has no words to order", p.Order, withArticle(p.Type)))
	}
	if w := p.Width(); w > 0 && int(p.Address)+w-1 > math.MaxUint16 {
		errs = append(errs, fmt.Errorf("address %d and %d more go past 65535", p.Address, w-1))
	}
	if math.IsNaN(p.Scale) || math.IsInf(p.Scale, 0) || math.IsNaN(p.Offset) || math.IsInf(p.Offset, 0) {
		errs = append(errs, fmt.Errorf("scale %v and offset %v must be finite", p.Scale, p.Offset))
	}
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("modbus: point %s %d: %w", p.Table, p.Address, err)
	}
	return nil
}
