package framing

import "bytes"

// feedLine cuts data at "\n" and returns where the line under way began.
func (d *Decoder) feedLine(data []byte) (since int) {
	for {
		i := bytes.IndexByte(data[since:], '\n')
		if i < 0 {
			break
		}
		line := data[since : since+i]
		since += i + 1
		if d.n == 0 && !d.drop && !d.cr {
			d.whole(bytes.TrimSuffix(line, []byte{'\r'}))
			continue
		}
		d.lineSpan(line)
		d.end() // drops a held "\r": it came right before "\n"
	}
	d.lineSpan(data[since:])
	return since
}

// lineSpan adds bytes of a line to the frame, holding a final "\r" out of
// the buffer until the next byte tells whether it is data or ends the line,
// so that a line of exactly Max bytes fits even when it ends in "\r\n".
func (d *Decoder) lineSpan(p []byte) {
	if len(p) == 0 {
		return
	}
	if d.cr {
		d.putByte('\r')
		d.cr = false
	}
	if p[len(p)-1] == '\r' {
		p = p[:len(p)-1]
		d.cr = true
	}
	d.put(p)
}

func encodeLine(c Config, dst, payload []byte) []byte {
	dst = append(dst, payload...)
	if len(payload) > 0 && payload[len(payload)-1] == '\n' {
		return dst
	}
	if string(c.Delimiter) == "\r\n" {
		return append(dst, '\r', '\n')
	}
	return append(dst, '\n')
}
