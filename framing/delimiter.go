package framing

import "bytes"

// feedDelimiter cuts data at the delimiter and returns where the frame under
// way began. It searches with bytes.Index while no delimiter is begun and
// steps byte by byte only through the bytes that may continue or begin one
// across Feed calls, which it holds out of the buffer in d.match.
func (d *Decoder) feedDelimiter(data []byte) (since int) {
	p := data
	for len(p) > 0 {
		if d.match > 0 {
			c := p[0]
			p = p[1:]
			if d.step(c) {
				since = len(data) - len(p)
			}
			continue
		}
		i := bytes.Index(p, d.delim)
		if i < 0 {
			// Only the last len(delim)-1 bytes can begin a delimiter.
			k := max(0, len(p)-len(d.delim)+1)
			d.put(p[:k])
			for _, c := range p[k:] {
				d.step(c)
			}
			break
		}
		if d.n == 0 && !d.drop {
			d.whole(p[:i])
		} else {
			d.put(p[:i])
			d.end()
		}
		p = p[i+len(d.delim):]
		since = len(data) - len(p)
	}
	return since
}

// step advances the delimiter match by one byte, the Knuth-Morris-Pratt
// way, and reports whether it completed a delimiter and so ended a frame.
func (d *Decoder) step(c byte) bool {
	for d.match > 0 && c != d.delim[d.match] {
		// The match falls back to its longest border; the bytes before the
		// border turn out to be data.
		k := d.border[d.match-1]
		d.put(d.delim[:d.match-k])
		d.match = k
	}
	if c != d.delim[d.match] {
		d.putByte(c)
		return false
	}
	d.match++
	if d.match < len(d.delim) {
		return false
	}
	d.match = 0
	d.end()
	return true
}

// borders returns the prefix function of p: for every i, the length of the
// longest proper prefix of p[:i+1] that is also its suffix.
func borders(p []byte) []int {
	b := make([]int, len(p))
	k := 0
	for i := 1; i < len(p); i++ {
		for k > 0 && p[i] != p[k] {
			k = b[k-1]
		}
		if p[i] == p[k] {
			k++
		}
		b[i] = k
	}
	return b
}

func encodeDelimiter(c Config, dst, payload []byte) []byte {
	dst = append(dst, payload...)
	if bytes.HasSuffix(payload, c.Delimiter) {
		return dst
	}
	return append(dst, c.Delimiter...)
}
