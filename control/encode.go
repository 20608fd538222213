package control

import (
	"encoding/base64"
	"encoding/json"
	"strconv"
	"time"
	"unicode/utf8"
)

// TimeLayout is how the protocol and the trace lines write a moment: UTC,
// with microseconds.
const TimeLayout = "2006-01-02T15:04:05.000000Z"

// AppendHello appends the hello that opens a session, on either side:
// this package's Version and the iogate version of the sender.
func AppendHello(dst []byte, version string) []byte {
	dst = append(dst, `{"type":"hello","protocol":`...)
	dst = strconv.AppendInt(dst, Version, 10)
	dst = append(dst, `,"version":`...)
	dst = appendString(dst, version)
	return append(dst, "}\n"...)
}

// AppendStatusRequest appends a client's request for the status.
func AppendStatusRequest(dst []byte) []byte {
	return append(dst, `{"type":"status"}`+"\n"...)
}

// AppendTraceRequest appends a client's request to trace devices.
func AppendTraceRequest(dst []byte, devices []string) []byte {
	dst = append(dst, `{"type":"trace","devices":`...)
	dst = appendStrings(dst, devices)
	return append(dst, "}\n"...)
}

// AppendStatus appends the answer to a status request. It fails only for
// a document encoding/json refuses, which a Status never is.
func AppendStatus(dst []byte, st *Status) ([]byte, error) {
	b, err := json.Marshal(struct {
		Type   Kind    `json:"type"`
		Status *Status `json:"status"`
	}{KindStatus, st})
	if err != nil {
		return dst, err
	}
	dst = append(dst, b...)
	return append(dst, '\n'), nil
}

// AppendTracing appends the answer to a trace request: the devices are
// tapped, and their events follow.
func AppendTracing(dst []byte, devices []string) []byte {
	dst = append(dst, `{"type":"tracing","devices":`...)
	dst = appendStrings(dst, devices)
	return append(dst, "}\n"...)
}

// AppendEvent appends a trace event. It does not allocate when dst has
// room for it: about 4/3 of len(ev.Data) plus 80 bytes and the name.
func AppendEvent(dst []byte, ev Event) []byte {
	dst = append(dst, `{"type":"trace","time":"`...)
	dst = appendTime(dst, ev.Time)
	dst = append(dst, `","device":`...)
	dst = appendString(dst, ev.Device)
	if ev.Dir == TX {
		dst = append(dst, `,"dir":"tx","data":"`...)
	} else {
		dst = append(dst, `,"dir":"rx","data":"`...)
	}
	dst = base64.StdEncoding.AppendEncode(dst, ev.Data)
	return append(dst, "\"}\n"...)
}

// AppendLost appends the notice that l.Count trace events were dropped.
func AppendLost(dst []byte, l Lost) []byte {
	dst = append(dst, `{"type":"lost","time":"`...)
	dst = appendTime(dst, l.Time)
	dst = append(dst, `","count":`...)
	dst = strconv.AppendUint(dst, l.Count, 10)
	return append(dst, "}\n"...)
}

// AppendError appends an error message, after which the server closes.
func AppendError(dst []byte, e *Error) []byte {
	dst = append(dst, `{"type":"error","code":`...)
	dst = appendString(dst, string(e.Code))
	dst = append(dst, `,"error":`...)
	dst = appendString(dst, e.Message)
	if len(e.Devices) > 0 {
		dst = append(dst, `,"devices":`...)
		dst = appendStrings(dst, e.Devices)
	}
	return append(dst, "}\n"...)
}

func appendStrings(dst []byte, ss []string) []byte {
	dst = append(dst, '[')
	for i, s := range ss {
		if i > 0 {
			dst = append(dst, ',')
		}
		dst = appendString(dst, s)
	}
	return append(dst, ']')
}

// appendString appends s as a JSON string. Bytes that are not UTF-8
// become U+FFFD, as encoding/json makes them, so that the line is valid
// JSON whatever s holds.
func appendString(dst []byte, s string) []byte {
	const hex = "0123456789abcdef"
	dst = append(dst, '"')
	start := 0
	for i := 0; i < len(s); {
		c := s[i]
		if c < utf8.RuneSelf {
			if c >= 0x20 && c != '"' && c != '\\' {
				i++
				continue
			}
			dst = append(dst, s[start:i]...)
			switch c {
			case '"', '\\':
				dst = append(dst, '\\', c)
			case '\n':
				dst = append(dst, '\\', 'n')
			case '\r':
				dst = append(dst, '\\', 'r')
			case '\t':
				dst = append(dst, '\\', 't')
			default:
				dst = append(dst, '\\', 'u', '0', '0', hex[c>>4], hex[c&0xf])
			}
			i++
			start = i
			continue
		}
		r, size := utf8.DecodeRuneInString(s[i:])
		if r == utf8.RuneError && size == 1 {
			dst = append(dst, s[start:i]...)
			dst = append(dst, `\ufffd`...)
			i++
			start = i
			continue
		}
		i += size
	}
	dst = append(dst, s[start:]...)
	return append(dst, '"')
}

// appendTime appends t in TimeLayout. It is written out by hand, as it
// takes a third of the time of AppendFormat, which was two thirds of a
// trace event's cost.
func appendTime(dst []byte, t time.Time) []byte {
	t = t.UTC()
	year, month, day := t.Date()
	if year < 0 || year > 9999 {
		return t.AppendFormat(dst, TimeLayout)
	}
	hour, minute, sec := t.Clock()
	dst = appendDigits(dst, year, 4)
	dst = append(dst, '-')
	dst = appendDigits(dst, int(month), 2)
	dst = append(dst, '-')
	dst = appendDigits(dst, day, 2)
	dst = append(dst, 'T')
	dst = appendDigits(dst, hour, 2)
	dst = append(dst, ':')
	dst = appendDigits(dst, minute, 2)
	dst = append(dst, ':')
	dst = appendDigits(dst, sec, 2)
	dst = append(dst, '.')
	dst = appendDigits(dst, t.Nanosecond()/1000, 6)
	return append(dst, 'Z')
}

// appendDigits appends n, at least 0, as width decimal digits.
func appendDigits(dst []byte, n, width int) []byte {
	var b [8]byte
	for i := width - 1; i >= 0; i-- {
		b[i] = byte('0' + n%10)
		n /= 10
	}
	return append(dst, b[:width]...)
}
