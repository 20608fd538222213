package modbus

import (
	"encoding/json"
	"errors"
	"math"
	"strings"
	"testing"
)

func f32(f float32) []uint16 {
	b := math.Float32bits(f)
	return []uint16{uint16(b >> 16), uint16(b)}
}

func f64(f float64) []uint16 {
	b := math.Float64bits(f)
	return []uint16{uint16(b >> 48), uint16(b >> 32), uint16(b >> 16), uint16(b)}
}

func TestAppendValue(t *testing.T) {
	hr := func(ty Type) Point { return Point{Table: Holding, Type: ty} }
	scaled := func(ty Type, scale, offset float64) Point {
		return Point{Table: Input, Type: ty, Scale: scale, Offset: offset}
	}
	ordered := func(ty Type, o Order) Point { return Point{Table: Holding, Type: ty, Order: o} }
	str := func(n uint16) Point { return Point{Table: Holding, Type: String, Count: n} }
	for _, tc := range []struct {
		p      Point
		values []uint16
		want   string
	}{
		{Point{Table: Coil, Type: Bool}, []uint16{1}, "true"},
		{Point{Table: Discrete, Type: Bool}, []uint16{0}, "false"},
		{hr(Uint16), []uint16{65535}, "65535"},
		{hr(Int16), []uint16{0xFFFF}, "-1"},
		{hr(Int16), []uint16{0x8000, 0x1234}, "-32768"}, // the extra value is not the point's
		{hr(Int32), []uint16{0xFFFF, 0xFFFE}, "-2"},
		{hr(Uint32), []uint16{0x1234, 0x5678}, "305419896"},
		{ordered(Uint32, CDAB), []uint16{0x5678, 0x1234}, "305419896"},
		{ordered(Uint32, BADC), []uint16{0x3412, 0x7856}, "305419896"},
		{ordered(Uint32, DCBA), []uint16{0x7856, 0x3412}, "305419896"},
		{hr(Uint64), []uint16{0x0102, 0x0304, 0x0506, 0x0708}, "72623859790382856"},
		{ordered(Uint64, CDAB), []uint16{0x0708, 0x0506, 0x0304, 0x0102}, "72623859790382856"},
		{ordered(Uint64, BADC), []uint16{0x0201, 0x0403, 0x0605, 0x0807}, "72623859790382856"},
		{ordered(Uint64, DCBA), []uint16{0x0807, 0x0605, 0x0403, 0x0201}, "72623859790382856"},
		{hr(Int64), []uint16{0x8000, 0, 0, 0}, "-9223372036854775808"},
		{hr(Uint64), []uint16{0xFFFF, 0xFFFF, 0xFFFF, 0xFFFF}, "18446744073709551615"},
		{hr(Float32), []uint16{0x4366, 0x199A}, "230.1"},
		{ordered(Float32, CDAB), []uint16{0x199A, 0x4366}, "230.1"},
		{hr(Float32), f32(-0.15), "-0.15"},
		{hr(Float32), f32(1e-7), "1e-7"},
		{hr(Float32), f32(3e21), "3e+21"},
		{hr(Float32), f32(0), "0"},
		{hr(Float64), f64(0.1), "0.1"},
		{hr(Float64), f64(1e21), "1e+21"},
		{hr(Float64), f64(123456789.125), "123456789.125"},
		{ordered(Float64, DCBA), []uint16{0x9a99, 0x9999, 0x9999, 0xb93f}, "0.1"},
		{scaled(Uint16, 0.1, 0), []uint16{2301}, "230.1"},
		{scaled(Int16, 0.01, 0), []uint16{0xFFF1}, "-0.15"},
		{scaled(Uint16, 1, -40), []uint16{5}, "-35"},
		{scaled(Uint16, 0.5, 0.25), []uint16{3}, "1.75"},
		{scaled(Uint16, 1000, 0), []uint16{1000}, "1000000"},
		{scaled(Uint16, 0.001, 0), []uint16{1}, "0.001"},
		{scaled(Uint32, 0.01, 0), []uint16{0x0001, 0xE240}, "1234.56"},
		{scaled(Float32, 0.001, 0), f32(12345.67), "12.34567"},
		{scaled(Float32, 1, 0.1), f32(0.2), "0.3"},
		{scaled(Uint64, 2, 0), []uint16{0xFFFF, 0xFFFF, 0xFFFF, 0xFFFF}, "36893488147419103000"},
		{scaled(Int16, 1.0/3, 0), []uint16{100}, "33.33333333333333"},
		{str(2), []uint16{0x4142, 0x4300}, `"ABC"`},
		{str(3), []uint16{0x4142, 0x2020, 0x2000}, `"AB"`},
		{str(2), []uint16{0, 0}, `""`},
		{str(2), []uint16{0x2241, 0x5C0A}, `"\"A\\\n"`},
		{str(2), []uint16{0x41FF, 0x0142}, `"A\ufffd\u0001B"`},
		{str(2), []uint16{0xC3A9, 0x00E9}, `"é\u0000\ufffd"`},
		{str(3), []uint16{0x41E2, 0x82AC, 0x4200}, `"A€B"`}, // UTF-8 across registers
	} {
		got, err := tc.p.AppendValue([]byte("x"), tc.values)
		if err != nil || string(got) != "x"+tc.want {
			t.Errorf("%+v of %04x: %s %v, want %s", tc.p, tc.values, got, err, tc.want)
			continue
		}
		if !json.Valid(got[1:]) {
			t.Errorf("%+v of %04x: %s is not JSON", tc.p, tc.values, got[1:])
		}
	}
}

func TestAppendValueErrors(t *testing.T) {
	for _, tc := range []struct {
		p      Point
		values []uint16
		want   error
	}{
		{Point{Table: Input, Type: Float32}, f32(float32(math.NaN())), ErrNotFinite},
		{Point{Table: Input, Type: Float32}, f32(float32(math.Inf(-1))), ErrNotFinite},
		{Point{Table: Input, Type: Float64}, f64(math.Inf(1)), ErrNotFinite},
		{Point{Table: Input, Type: Float32, Scale: 2}, f32(float32(math.NaN())), ErrNotFinite},
		{Point{Table: Input, Type: Float64, Scale: 10}, f64(math.MaxFloat64), ErrNotFinite},
	} {
		got, err := tc.p.AppendValue([]byte("x"), tc.values)
		if !errors.Is(err, tc.want) || string(got) != "x" {
			t.Errorf("%+v of %04x: %q %v, want %v", tc.p, tc.values, got, err, tc.want)
		}
	}
	if _, err := (Point{Table: Input, Type: Uint32}).AppendValue(nil, []uint16{1}); err == nil || !strings.Contains(err.Error(), "given 1 values") {
		t.Errorf("one register for a uint32: %v", err)
	}
	if _, err := (Point{Table: Input}).AppendValue(nil, []uint16{1}); err == nil {
		t.Error("a point without a type has a value")
	}
}

func TestPointValidate(t *testing.T) {
	for _, tc := range []struct {
		p    Point
		want string
	}{
		{Point{Table: Holding, Type: Uint16}, ""},
		{Point{Table: Coil, Type: Bool, Address: 65535}, ""},
		{Point{Table: Input, Type: Float64, Address: 65532, Order: DCBA}, ""},
		{Point{Table: Input, Type: String, Count: 125}, ""},
		{Point{Type: Uint16}, "table 0"},
		{Point{Table: Holding}, "type 0"},
		{Point{Table: Holding, Type: Bool}, "a holding point cannot be bool"},
		{Point{Table: Coil, Type: Uint16}, "a coil point cannot be uint16"},
		{Point{Table: Input, Type: String}, "a string of 0 registers"},
		{Point{Table: Input, Type: String, Count: 126}, "a string of 126 registers"},
		{Point{Table: Input, Type: Uint16, Count: 2}, "count 2 is for strings"},
		{Point{Table: Input, Type: Uint16, Order: CDAB}, "order CDAB is for 32- and 64-bit types"},
		{Point{Table: Input, Type: Uint32, Order: 9}, "order 9 is not one of"},
		{Point{Table: Input, Type: Float64, Address: 65533}, "address 65533 and 3 more go past 65535"},
		{Point{Table: Input, Type: Uint16, Scale: math.Inf(1)}, "must be finite"},
	} {
		err := tc.p.Validate()
		if tc.want == "" && err != nil || tc.want != "" && (err == nil || !strings.Contains(err.Error(), tc.want)) {
			t.Errorf("%+v: %v, want %q", tc.p, err, tc.want)
		}
	}
}

func TestParseNames(t *testing.T) {
	for _, name := range []string{"coil", "discrete", "input", "holding"} {
		if tb, err := ParseTable(name); err != nil || tb.String() != name {
			t.Errorf("table %s: %v %v", name, tb, err)
		}
	}
	for _, name := range []string{"bool", "int16", "uint16", "int32", "uint32", "int64", "uint64", "float32", "float64", "string"} {
		if ty, err := ParseType(name); err != nil || ty.String() != name {
			t.Errorf("type %s: %v %v", name, ty, err)
		}
	}
	for _, name := range []string{"ABCD", "CDAB", "BADC", "DCBA"} {
		if o, err := ParseOrder(name); err != nil || o.String() != name {
			t.Errorf("order %s: %v %v", name, o, err)
		}
	}
	if o, err := ParseOrder(""); o != ABCD || err != nil {
		t.Errorf("order \"\": %v %v", o, err)
	}
	if _, err := ParseType("uint8"); err == nil || !strings.Contains(err.Error(), `"uint8" is not one of bool, int16`) {
		t.Errorf("uint8: %v", err)
	}
	if _, err := ParseTable("register"); err == nil {
		t.Error("table register")
	}
	if _, err := ParseOrder("abcd"); err == nil {
		t.Error("order abcd")
	}
}
