package modbus

// The word and byte orders of 32- and 64-bit values, for any number of
// registers: CDAB reverses the registers, BADC swaps the bytes of each,
// DCBA does both, so every order is its own inverse.

func (o Order) wordSwap() bool { return o == CDAB || o == DCBA }
func (o Order) byteSwap() bool { return o == BADC || o == DCBA }

// gather makes the value of regs[:n] in order o, the first word the most
// significant.
func (o Order) gather(regs []uint16, n int) uint64 {
	var v uint64
	for i := range n {
		r := regs[i]
		if o.wordSwap() {
			r = regs[n-1-i]
		}
		if o.byteSwap() {
			r = r<<8 | r>>8
		}
		v = v<<16 | uint64(r)
	}
	return v
}

// scatter appends the n registers that carry the low 16*n bits of v in
// order o to dst.
func (o Order) scatter(dst []uint16, v uint64, n int) []uint16 {
	start := len(dst)
	for i := range n {
		r := uint16(v >> (16 * (n - 1 - i)))
		if o.byteSwap() {
			r = r<<8 | r>>8
		}
		dst = append(dst, r)
	}
	if o.wordSwap() {
		regs := dst[start:]
		for i, j := 0, n-1; i < j; i, j = i+1, j-1 {
			regs[i], regs[j] = regs[j], regs[i]
		}
	}
	return dst
}
