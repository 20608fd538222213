package modbus

import (
	"fmt"
	"slices"
)

// Read is one read request of a plan, and the points its reply carries.
type Read struct {
	Request Request // function 1 to 4, no Values
	Slots   []Slot  // by address
}

// Slot is where one point is in the reply of a Read.
type Slot struct {
	Point  int // the point's index in the slice given to Plan
	Offset int // the point's first register or bit in the reply's values
	Width  int // its registers or bits
}

// Plan returns the fewest reads that cover points, all of one slave:
// points of the same table that are contiguous or overlap share a read of
// at most 125 registers or 2000 bits. Gaps are never read, so that a
// slave with holes in its map is not asked for an address it refuses.
// The reads come by table (coils, discrete inputs, input registers,
// holding registers), then by address.
func Plan(slave uint8, points []Point) ([]Read, error) {
	order, err := sorted(slave, points)
	if err != nil {
		return nil, err
	}
	var reads []Read
	var cur *Read
	end := 0 // one past the last register or bit cur reads
	for _, i := range order {
		p := points[i]
		start, w := int(p.Address), p.Width()
		limit := MaxReadRegisters
		if p.Table.Bits() {
			limit = MaxReadBits
		}
		if cur == nil || cur.Request.Function != p.Table.ReadFunction() || start > end ||
			max(end, start+w)-int(cur.Request.Address) > limit {
			reads = append(reads, Read{Request: Request{Slave: slave, Function: p.Table.ReadFunction(), Address: p.Address}})
			cur = &reads[len(reads)-1]
			end = start
		}
		end = max(end, start+w)
		cur.Request.Count = uint16(end - int(cur.Request.Address))
		cur.Slots = append(cur.Slots, Slot{Point: i, Offset: start - int(cur.Request.Address), Width: w})
	}
	return reads, nil
}

// PlanEach returns one read per point, by table and address: the plan for
// a slave that refused a grouped read with IllegalDataAddress, as those
// whose map has holes inside what looks contiguous do.
func PlanEach(slave uint8, points []Point) ([]Read, error) {
	order, err := sorted(slave, points)
	if err != nil {
		return nil, err
	}
	reads := make([]Read, 0, len(order))
	for _, i := range order {
		p := points[i]
		reads = append(reads, Read{
			Request: Request{Slave: slave, Function: p.Table.ReadFunction(), Address: p.Address, Count: uint16(p.Width())},
			Slots:   []Slot{{Point: i, Width: p.Width()}},
		})
	}
	return reads, nil
}

// Split returns one read per point of r, for when r alone was refused.
func (r Read) Split() []Read {
	reads := make([]Read, 0, len(r.Slots))
	for _, s := range r.Slots {
		q := r.Request
		q.Address += uint16(s.Offset)
		q.Count = uint16(s.Width)
		reads = append(reads, Read{Request: q, Slots: []Slot{{Point: s.Point, Width: s.Width}}})
	}
	return reads
}

// sorted validates the points and returns their indexes by table, then
// address, then index.
func sorted(slave uint8, points []Point) ([]int, error) {
	if slave < 1 || slave > MaxSlave {
		return nil, fmt.Errorf("modbus: slave %d: want 1 to %d", slave, MaxSlave)
	}
	order := make([]int, len(points))
	for i, p := range points {
		if err := p.Validate(); err != nil {
			return nil, fmt.Errorf("point %d: %w", i, err)
		}
		order[i] = i
	}
	slices.SortFunc(order, func(a, b int) int {
		pa, pb := points[a], points[b]
		if pa.Table != pb.Table {
			return int(pa.Table) - int(pb.Table)
		}
		if pa.Address != pb.Address {
			return int(pa.Address) - int(pb.Address)
		}
		return a - b
	})
	return order, nil
}
