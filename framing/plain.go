package framing

// feedFixed cuts data every len(d.buf) bytes and returns where the frame
// under way began.
func (d *Decoder) feedFixed(data []byte) (since int) {
	size := len(d.buf)
	for since < len(data) {
		if d.n == 0 && len(data)-since >= size {
			d.out(data[since : since+size])
			since += size
			continue
		}
		k := copy(d.buf[d.n:], data[since:])
		d.n += k
		if d.n < size {
			break
		}
		since += k
		d.end()
	}
	return since
}

// feedRaw emits data as it is, in frames of at most Max bytes.
func (d *Decoder) feedRaw(data []byte) {
	for len(data) > 0 {
		n := min(len(data), d.max)
		d.out(data[:n])
		data = data[n:]
	}
}
