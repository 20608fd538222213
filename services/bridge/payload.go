package bridge

import (
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"time"
	"unicode/utf8"
)

// Encodings of MQTT payloads, from a device's encoding key.
const (
	encText   = "text"
	encHex    = "hex"
	encBase64 = "base64"
	encJSON   = "json"
)

// appendPayload appends the MQTT payload of a frame in the device's
// encoding to dst. It does not allocate when dst has room.
func appendPayload(dst []byte, enc, device string, seq uint64, ts time.Time, frame []byte) []byte {
	switch enc {
	case encHex:
		return hex.AppendEncode(dst, frame)
	case encBase64:
		return base64.StdEncoding.AppendEncode(dst, frame)
	case encJSON:
		dst = append(dst, `{"device":`...)
		dst = appendJSONString(dst, device)
		dst = append(dst, `,"seq":`...)
		dst = strconv.AppendUint(dst, seq, 10)
		dst = append(dst, `,"ts":"`...)
		dst = ts.UTC().AppendFormat(dst, time.RFC3339Nano)
		dst = append(dst, `","data":`...)
		if utf8.Valid(frame) {
			dst = appendJSONString(dst, string(frame))
			return append(dst, `,"enc":"text"}`...)
		}
		dst = append(dst, '"')
		dst = base64.StdEncoding.AppendEncode(dst, frame)
		return append(dst, `","enc":"base64"}`...)
	}
	return append(dst, frame...)
}

// appendJSONString appends s, valid UTF-8, as a JSON string.
func appendJSONString(dst []byte, s string) []byte {
	const hexDigits = "0123456789abcdef"
	dst = append(dst, '"')
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c == '"' || c == '\\':
			dst = append(dst, '\\', c)
		case c == '\n':
			dst = append(dst, '\\', 'n')
		case c == '\r':
			dst = append(dst, '\\', 'r')
		case c == '\t':
			dst = append(dst, '\\', 't')
		case c < 0x20 || c == 0x7f:
			dst = append(dst, '\\', 'u', '0', '0', hexDigits[c>>4], hexDigits[c&0xf])
		default:
			dst = append(dst, c)
		}
	}
	return append(dst, '"')
}

// errorPayload is the JSON object of a device's error topic: the device,
// the topic of the command refused (if it is about one), why, and when.
func errorPayload(device, topic string, err error, now time.Time) []byte {
	payload, _ := json.Marshal(struct {
		Device string `json:"device"`
		Topic  string `json:"topic,omitempty"`
		Error  string `json:"error"`
		TS     string `json:"ts"`
	}{device, topic, err.Error(), now.UTC().Format(time.RFC3339Nano)})
	return payload
}

// errBadCommand marks a tx payload that cannot be decoded in the device's
// encoding.
var errBadCommand = errors.New("bad command")

// txEnvelope is the json encoding's command: the same shape as a frame.
type txEnvelope struct {
	Data *string `json:"data"`
	Enc  string  `json:"enc"`
}

// decodeCommand turns a tx payload into the bytes to write, per encoding.
func decodeCommand(enc string, payload []byte) ([]byte, error) {
	switch enc {
	case encHex:
		b, err := hex.AppendDecode(nil, payload)
		if err != nil {
			return nil, fmt.Errorf("%w: not hex: %v", errBadCommand, err)
		}
		return b, nil
	case encBase64:
		b, err := base64.StdEncoding.AppendDecode(nil, payload)
		if err != nil {
			return nil, fmt.Errorf("%w: not base64: %v", errBadCommand, err)
		}
		return b, nil
	case encJSON:
		var e txEnvelope
		if err := json.Unmarshal(payload, &e); err != nil || e.Data == nil {
			return nil, fmt.Errorf(`%w: want {"data":"...","enc":"text|base64"}`, errBadCommand)
		}
		switch e.Enc {
		case "", encText:
			return []byte(*e.Data), nil
		case encBase64:
			b, err := base64.StdEncoding.DecodeString(*e.Data)
			if err != nil {
				return nil, fmt.Errorf("%w: data is not base64: %v", errBadCommand, err)
			}
			return b, nil
		}
		return nil, fmt.Errorf("%w: enc %q is not text or base64", errBadCommand, e.Enc)
	}
	return payload, nil
}
