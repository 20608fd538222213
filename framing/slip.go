package framing

// SLIP's special bytes, from RFC 1055.
const (
	slipEnd    = 0xC0
	slipEsc    = 0xDB
	slipEscEnd = 0xDC // after ESC: a data END
	slipEscEsc = 0xDD // after ESC: a data ESC
)

// feedSLIP cuts data at END, undoing escapes, and returns where the frame
// under way began.
func (d *Decoder) feedSLIP(data []byte) (since int) {
	for i := 0; i < len(data); i++ {
		c := data[i]
		if d.esc {
			d.esc = false
			switch c {
			case slipEscEnd:
				d.putByte(slipEnd)
				continue
			case slipEscEsc:
				d.putByte(slipEsc)
				continue
			}
			d.malformed()
			if c == slipEnd { // still ends the frame, so that the next one is good
				d.end()
				since = i + 1
			}
			continue
		}
		j := i + indexSLIP(data[i:])
		switch {
		case j == len(data):
			d.put(data[i:])
			return since
		case data[j] == slipEsc:
			d.put(data[i:j])
			d.esc = true
		case d.n == 0 && !d.drop:
			d.whole(data[i:j])
			since = j + 1
		default:
			d.put(data[i:j])
			d.end()
			since = j + 1
		}
		i = j
	}
	return since
}

// indexSLIP returns the index of the first END or ESC in p, or len(p).
func indexSLIP(p []byte) int {
	for i, c := range p {
		if c == slipEnd || c == slipEsc {
			return i
		}
	}
	return len(p)
}

// encodeSLIP starts as well as ends the frame with END, as RFC 1055
// suggests, so that line noise before it is flushed as a frame of its own.
func encodeSLIP(dst, payload []byte) []byte {
	dst = append(dst, slipEnd)
	for {
		i := indexSLIP(payload)
		dst = append(dst, payload[:i]...)
		if i == len(payload) {
			return append(dst, slipEnd)
		}
		if payload[i] == slipEnd {
			dst = append(dst, slipEsc, slipEscEnd)
		} else {
			dst = append(dst, slipEsc, slipEscEsc)
		}
		payload = payload[i+1:]
	}
}
