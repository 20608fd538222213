package framing

import "bytes"

// A COBS frame is a series of blocks, each a code byte n followed by n-1
// bytes that are not 0x00. A block with a code below 0xFF stands for its
// bytes and a 0x00, except the last block of the frame, whose 0x00 is
// implied by the frame's end; 0xFF marks 254 bytes with no 0x00.
const cobsFull = 0xFF

// feedCOBS cuts data at 0x00, decoding as it goes, and returns where the
// frame under way began.
func (d *Decoder) feedCOBS(data []byte) (since int) {
	for i := 0; i < len(data); {
		c := data[i]
		switch {
		case c == 0:
			if d.left > 0 { // a block cut short
				d.malformed()
			}
			d.end()
			i++
			since = i
		case d.left == 0:
			if d.zero {
				d.putByte(0)
			}
			d.left, d.zero = int(c)-1, c != cobsFull
			i++
		default:
			j := i + min(d.left, len(data)-i)
			if k := bytes.IndexByte(data[i:j], 0); k >= 0 {
				j = i + k
			}
			d.put(data[i:j])
			d.left -= j - i
			i = j
		}
	}
	return since
}

// encodeCOBS ends a full block at the end of payload without the empty
// block after it, which decoders take either way, so the output is the
// shortest encoding.
func encodeCOBS(dst, payload []byte) []byte {
	for {
		n := min(len(payload), cobsFull-1)
		if i := bytes.IndexByte(payload[:n], 0); i >= 0 {
			dst = append(dst, byte(i+1))
			dst = append(dst, payload[:i]...)
			payload = payload[i+1:]
			continue
		}
		if n < cobsFull-1 {
			dst = append(dst, byte(n+1))
			dst = append(dst, payload...)
			return append(dst, 0)
		}
		dst = append(dst, cobsFull)
		dst = append(dst, payload[:n]...)
		payload = payload[n:]
		if len(payload) == 0 {
			return append(dst, 0)
		}
	}
}
