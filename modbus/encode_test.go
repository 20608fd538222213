package modbus

import (
	"slices"
	"strings"
	"testing"
)

func TestEncode(t *testing.T) {
	coil := Point{Table: Coil, Type: Bool}
	hr := func(ty Type) Point { return Point{Table: Holding, Type: ty} }
	for _, tc := range []struct {
		p       Point
		payload string
		want    []uint16
	}{
		{coil, "true", []uint16{1}},
		{coil, "false", []uint16{0}},
		{coil, "1", []uint16{1}},
		{coil, " 0\n", []uint16{0}},
		{coil, `"ON"`, []uint16{1}},
		{coil, `"off"`, []uint16{0}},
		{coil, "ON", []uint16{1}},
		{coil, `"True"`, []uint16{1}},
		{hr(Uint16), "99", []uint16{99}},
		{hr(Uint16), "65535", []uint16{65535}},
		{hr(Uint16), "12.5", []uint16{13}},
		{hr(Uint16), "1e3", []uint16{1000}},
		{hr(Uint16), "-0", []uint16{0}},
		{hr(Int16), "-32768", []uint16{0x8000}},
		{hr(Int16), "-2.5", []uint16{0xFFFD}},
		{hr(Int32), "-2", []uint16{0xFFFF, 0xFFFE}},
		{Point{Table: Holding, Type: Uint32, Order: CDAB}, "305419896", []uint16{0x5678, 0x1234}},
		{Point{Table: Holding, Type: Uint32, Order: BADC}, "305419896", []uint16{0x3412, 0x7856}},
		{Point{Table: Holding, Type: Uint64, Order: DCBA}, "72623859790382856", []uint16{0x0807, 0x0605, 0x0403, 0x0201}},
		{hr(Int64), "-9223372036854775808", []uint16{0x8000, 0, 0, 0}},
		{hr(Uint64), "18446744073709551615", []uint16{0xFFFF, 0xFFFF, 0xFFFF, 0xFFFF}},
		{hr(Float32), "230.1", []uint16{0x4366, 0x199A}},
		{Point{Table: Holding, Type: Float32, Order: CDAB}, "230.1", []uint16{0x199A, 0x4366}},
		{hr(Float64), "0.1", f64(0.1)},
		{Point{Table: Holding, Type: Uint16, Scale: 0.1}, "230.1", []uint16{2301}},
		{Point{Table: Holding, Type: Int16, Scale: 0.01}, "-0.15", []uint16{0xFFF1}},
		{Point{Table: Holding, Type: Uint16, Scale: 0.5, Offset: -40}, "-35", []uint16{10}},
		{Point{Table: Holding, Type: Float32, Scale: 0.001}, "12.34567", f32(12345.67)},
		{Point{Table: Holding, Type: String, Count: 2}, `"AB"`, []uint16{0x4142, 0}},
		{Point{Table: Holding, Type: String, Count: 2}, `"é\u0041"`, []uint16{0xC3A9, 0x4100}},
		{Point{Table: Holding, Type: String, Count: 2}, `ABC`, []uint16{0x4142, 0x4300}},
		{Point{Table: Holding, Type: String, Count: 1}, `""`, []uint16{0}},
	} {
		got, err := tc.p.Encode([]uint16{7}, []byte(tc.payload))
		if err != nil || !slices.Equal(got, append([]uint16{7}, tc.want...)) {
			t.Errorf("%+v of %s: %04x %v, want %04x", tc.p, tc.payload, got, err, tc.want)
		}
	}
}

func TestEncodeErrors(t *testing.T) {
	for _, tc := range []struct {
		p       Point
		payload string
		want    string
	}{
		{Point{Table: Holding, Type: Uint16}, "70000", "70000 is out of range for a uint16 (0 to 65535)"},
		{Point{Table: Holding, Type: Uint16}, "-1", "-1 is out of range for a uint16"},
		{Point{Table: Holding, Type: Uint16}, "65535.5", "65535.5 is out of range for a uint16"},
		{Point{Table: Holding, Type: Uint16, Scale: 0.1}, "7000", "7000 scales back to 70000 ((value - offset) / scale), out of range for a uint16 (0 to 65535)"},
		{Point{Table: Holding, Type: Int16}, "32768", "out of range for an int16 (-32768 to 32767)"},
		{Point{Table: Holding, Type: Int64}, "9223372036854775808", "out of range for an int64"},
		{Point{Table: Holding, Type: Int64}, "9.3e18", "out of range for an int64"},
		{Point{Table: Holding, Type: Uint64}, "18446744073709551616", "out of range for a uint64"},
		{Point{Table: Holding, Type: Uint64}, "-1", "out of range for a uint64"},
		{Point{Table: Holding, Type: Float32}, "1e39", "out of range for a float32"},
		{Point{Table: Holding, Type: Float64}, "1e400", "out of range for a float64"},
		{Point{Table: Holding, Type: Uint16}, "true", "is not a number"},
		{Point{Table: Holding, Type: Uint16}, `"12"`, "is not a number"},
		{Point{Table: Holding, Type: Uint16}, "NaN", "is not a number"},
		{Point{Table: Holding, Type: Uint16}, "0x10", "is not a number"},
		{Point{Table: Holding, Type: Uint16}, "01", "is not a number"},
		{Point{Table: Holding, Type: Uint16}, "1.", "is not a number"},
		{Point{Table: Holding, Type: Uint16}, "", "is not a number"},
		{Point{Table: Coil, Type: Bool}, "2", "is not a bool"},
		{Point{Table: Coil, Type: Bool}, `"yes"`, "is not a bool"},
		{Point{Table: Holding, Type: String, Count: 1}, `"ABC"`, "a string of 3 bytes does not fit in 1 registers"},
		{Point{Table: Holding, Type: String, Count: 1}, `"A`, "is not a JSON string"},
		{Point{Table: Holding, Type: Bool}, "true", "cannot be bool"},
	} {
		got, err := tc.p.Encode([]uint16{7}, []byte(tc.payload))
		if err == nil || !strings.Contains(err.Error(), tc.want) || !slices.Equal(got, []uint16{7}) {
			t.Errorf("%+v of %s: %v %v, want %q", tc.p, tc.payload, got, err, tc.want)
		}
	}
}

// What Encode writes, AppendValue reads back as it was written.
func TestEncodeRoundTrip(t *testing.T) {
	for _, tc := range []struct {
		p        Point
		payloads []string
	}{
		{Point{Table: Coil, Type: Bool}, []string{"true", "false"}},
		{Point{Table: Holding, Type: Int16}, []string{"-32768", "0", "32767"}},
		{Point{Table: Holding, Type: Uint32, Order: CDAB}, []string{"4294967295", "1"}},
		{Point{Table: Holding, Type: Int64, Order: BADC}, []string{"-9223372036854775808", "9223372036854775807"}},
		{Point{Table: Holding, Type: Float32, Order: DCBA}, []string{"230.1", "-0.15", "1e-7", "3.4028235e+38"}},
		{Point{Table: Holding, Type: Float64}, []string{"0.1", "1e+21", "-123456.789"}},
		{Point{Table: Holding, Type: Uint16, Scale: 0.1, Offset: -40}, []string{"-40", "230.1", "6513.5"}},
		{Point{Table: Holding, Type: Int32, Scale: 0.001}, []string{"-2147483.648", "0.001"}},
		{Point{Table: Holding, Type: String, Count: 4}, []string{`"iogate"`, `"\"q\""`, `""`}},
	} {
		for _, payload := range tc.payloads {
			regs, err := tc.p.Encode(nil, []byte(payload))
			if err != nil {
				t.Errorf("%+v: %s: %v", tc.p, payload, err)
				continue
			}
			if got, err := tc.p.AppendValue(nil, regs); err != nil || string(got) != payload {
				t.Errorf("%+v: %s wrote %04x, read back %s %v", tc.p, payload, regs, got, err)
			}
		}
	}
}

func TestWriteRequest(t *testing.T) {
	for _, tc := range []struct {
		p    Point
		n    int
		want Function
	}{
		{Point{Table: Coil, Type: Bool, Address: 3}, 1, WriteSingleCoil},
		{Point{Table: Holding, Type: Int16, Address: 3}, 1, WriteSingleRegister},
		{Point{Table: Holding, Type: Float32, Address: 3}, 2, WriteMultipleRegisters},
		{Point{Table: Holding, Type: String, Count: 10, Address: 3}, 10, WriteMultipleRegisters},
	} {
		r, err := tc.p.WriteRequest(5, make([]uint16, tc.n))
		if err != nil || r.Function != tc.want || r.Slave != 5 || r.Address != 3 || int(r.Count) != tc.n {
			t.Errorf("%+v: %+v %v", tc.p, r, err)
		}
	}
	if _, err := (Point{Table: Input, Type: Uint16}).WriteRequest(1, []uint16{1}); err == nil || !strings.Contains(err.Error(), "read-only") {
		t.Errorf("an input register written: %v", err)
	}
	if _, err := (Point{Table: Holding, Type: Uint32}).WriteRequest(1, []uint16{1}); err == nil {
		t.Error("a uint32 written with one register")
	}
	if f, err := WriteFunction(Coil, 3); f != WriteMultipleCoils || err != nil {
		t.Errorf("3 coils: %v %v", f, err)
	}
	if _, err := WriteFunction(Discrete, 1); err == nil {
		t.Error("a discrete input written")
	}
}
