package modbus

import (
	"fmt"
	"testing"
)

// describe writes a plan as "input 0+2 [0@0 1@6]": table, address,
// count, and each slot's point@offset.
func describe(reads []Read) string {
	s := ""
	for _, r := range reads {
		s += fmt.Sprintf("%d:%d+%d[", r.Request.Function, r.Request.Address, r.Request.Count)
		for k, sl := range r.Slots {
			if k > 0 {
				s += " "
			}
			s += fmt.Sprintf("%d@%d", sl.Point, sl.Offset)
		}
		s += "] "
	}
	return s
}

func TestPlan(t *testing.T) {
	f32 := func(addr uint16) Point { return Point{Table: Input, Type: Float32, Address: addr} }
	hr := func(addr uint16, ty Type) Point { return Point{Table: Holding, Type: ty, Address: addr} }
	coil := func(addr uint16) Point { return Point{Table: Coil, Type: Bool, Address: addr} }
	many := func(n int, p func(i int) Point) []Point {
		var ps []Point
		for i := range n {
			ps = append(ps, p(i))
		}
		return ps
	}
	for _, tc := range []struct {
		name   string
		points []Point
		want   string
	}{
		// An Eastron SDM120: voltage, current, power, frequency, import energy.
		{"sdm120", []Point{f32(0x00), f32(0x06), f32(0x0C), f32(0x46), f32(0x48)},
			"4:0+2[0@0] 4:6+2[1@0] 4:12+2[2@0] 4:70+4[3@0 4@2] "},
		{"by address", []Point{hr(5, Uint16), hr(3, Uint32), hr(6, Int16)}, "3:3+4[1@0 0@2 2@3] "},
		{"gap", []Point{hr(0, Uint16), hr(2, Uint16)}, "3:0+1[0@0] 3:2+1[1@0] "},
		{"overlap", []Point{hr(10, Uint32), hr(11, Uint16)}, "3:10+2[0@0 1@1] "},
		{"inside", []Point{hr(10, Float64), hr(11, Uint16), hr(14, Uint16)}, "3:10+5[0@0 1@1 2@4] "},
		{"same address", []Point{hr(7, Uint16), hr(7, Int16)}, "3:7+1[0@0 1@0] "},
		{"tables apart", []Point{hr(0, Uint16), {Table: Input, Type: Uint16}, coil(0), {Table: Discrete, Type: Bool}},
			"1:0+1[2@0] 2:0+1[3@0] 4:0+1[1@0] 3:0+1[0@0] "},
		{"125 registers", many(62, func(i int) Point { return f32(uint16(2 * i)) }), ""},
		{"string", []Point{{Table: Holding, Type: String, Count: 125, Address: 1}, hr(0, Uint16)}, "3:0+1[1@0] 3:1+125[0@0] "},
	} {
		reads, err := Plan(1, tc.points)
		if err != nil {
			t.Errorf("%s: %v", tc.name, err)
			continue
		}
		if tc.want != "" && describe(reads) != tc.want {
			t.Errorf("%s:\n got %s\nwant %s", tc.name, describe(reads), tc.want)
		}
		checkPlan(t, tc.name, tc.points, reads)
	}

	// A contiguous run longer than a request splits where a point would
	// not fit: 70 float32 are 140 registers, 62 of them fit in 125.
	reads, err := Plan(1, many(70, func(i int) Point { return f32(uint16(2 * i)) }))
	if err != nil || len(reads) != 2 || reads[0].Request.Count != 124 || reads[1].Request.Address != 124 || reads[1].Request.Count != 16 {
		t.Errorf("70 float32: %s %v", describe(reads), err)
	}
	reads, err = Plan(1, many(3000, func(i int) Point { return coil(uint16(i)) }))
	if err != nil || len(reads) != 2 || reads[0].Request.Count != 2000 || reads[1].Request.Count != 1000 || len(reads[1].Slots) != 1000 {
		t.Errorf("3000 coils: %d reads %v", len(reads), err)
	}
	reads, err = Plan(1, many(126, func(i int) Point { return hr(uint16(i), Uint16) }))
	if err != nil || len(reads) != 2 || reads[0].Request.Count != 125 || reads[1].Request.Count != 1 {
		t.Errorf("126 registers: %s %v", describe(reads), err)
	}
	if reads, err := Plan(1, nil); err != nil || len(reads) != 0 {
		t.Errorf("no points: %v %v", reads, err)
	}
	if _, err := Plan(0, []Point{hr(0, Uint16)}); err == nil {
		t.Error("a plan for slave 0")
	}
	if _, err := Plan(1, []Point{hr(0, Uint16), {Table: Holding, Type: Bool}}); err == nil {
		t.Error("a plan of an invalid point")
	}
}

// checkPlan checks that every point is in exactly one read, at its place,
// and every read is one the protocol allows.
func checkPlan(t *testing.T, name string, points []Point, reads []Read) {
	t.Helper()
	seen := make([]int, len(points))
	for _, r := range reads {
		if err := r.Request.Validate(); err != nil || !r.Request.Function.Read() {
			t.Errorf("%s: %+v: %v", name, r.Request, err)
		}
		for _, s := range r.Slots {
			p := points[s.Point]
			seen[s.Point]++
			if p.Table.ReadFunction() != r.Request.Function || int(r.Request.Address)+s.Offset != int(p.Address) ||
				s.Width != p.Width() || s.Offset+s.Width > int(r.Request.Count) {
				t.Errorf("%s: point %d %+v at slot %+v of %+v", name, s.Point, p, s, r.Request)
			}
		}
	}
	for i, n := range seen {
		if n != 1 {
			t.Errorf("%s: point %d is in %d reads", name, i, n)
		}
	}
}

func TestPlanEach(t *testing.T) {
	points := []Point{
		{Table: Holding, Type: Uint32, Address: 4},
		{Table: Holding, Type: Uint16, Address: 3},
		{Table: Coil, Type: Bool, Address: 9},
	}
	reads, err := PlanEach(2, points)
	if want := "1:9+1[2@0] 3:3+1[1@0] 3:4+2[0@0] "; err != nil || describe(reads) != want {
		t.Errorf("got %s %v, want %s", describe(reads), err, want)
	}
	checkPlan(t, "each", points, reads)
	grouped, err := Plan(2, points)
	if err != nil {
		t.Fatal(err)
	}
	var split []Read
	for _, r := range grouped {
		split = append(split, r.Split()...)
	}
	if describe(split) != describe(reads) {
		t.Errorf("split %s, each %s", describe(split), describe(reads))
	}
	if reads[0].Request.Slave != 2 {
		t.Errorf("slave %d", reads[0].Request.Slave)
	}
}
