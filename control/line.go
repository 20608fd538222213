package control

import "strconv"

// AppendLine appends ev as the line `iogate trace` prints, "\n" included:
//
//	2026-12-04T02:20:04.123456Z d0 rx 9  24 47 50 47 47 41 2c 31 0a  |$GPGGA,1.|
//
// the time in UTC with microseconds, the device, rx or tx, the byte count,
// two spaces, with hex the bytes in hex separated by single spaces and two
// spaces more, then the bytes between bars, printable ASCII as it is and
// '.' for the rest. An event is one line however long: a 64 KiB read,
// the most the reactor reads at once, is a line of 256 KiB with hex and
// 64 KiB without. It does not allocate when dst has the room.
func AppendLine(dst []byte, ev Event, hex bool) []byte {
	const digits = "0123456789abcdef"
	dst = appendTime(dst, ev.Time)
	dst = append(dst, ' ')
	dst = append(dst, ev.Device...)
	dst = append(dst, ' ')
	dst = append(dst, ev.Dir.String()...)
	dst = append(dst, ' ')
	dst = strconv.AppendInt(dst, int64(len(ev.Data)), 10)
	dst = append(dst, ' ', ' ')
	if hex {
		for i, c := range ev.Data {
			if i > 0 {
				dst = append(dst, ' ')
			}
			dst = append(dst, digits[c>>4], digits[c&0xf])
		}
		dst = append(dst, ' ', ' ')
	}
	dst = append(dst, '|')
	for _, c := range ev.Data {
		if c < 0x20 || c > 0x7e {
			c = '.'
		}
		dst = append(dst, c)
	}
	return append(dst, '|', '\n')
}

// AppendLostLine appends the line `iogate trace` prints for a notice of
// lost events: "2026-12-04T02:20:05.000001Z lost 12 lines".
func AppendLostLine(dst []byte, l Lost) []byte {
	dst = appendTime(dst, l.Time)
	dst = append(dst, " lost "...)
	dst = strconv.AppendUint(dst, l.Count, 10)
	if l.Count == 1 {
		return append(dst, " line\n"...)
	}
	return append(dst, " lines\n"...)
}
