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

// The request topic of a writable device takes a JSON object and is
// answered on its reply topic with the same id:
//
//	{"id":"r1","data":"ID?\n","enc":"text","timeout":"1s"}   a stream device
//	{"id":"r1","slave":1,"function":3,"address":0,"count":2}  a Modbus device
//
// answered by {"id":"r1","data":"...","enc":"text","ms":12.5},
// {"id":"r1","registers":[...]} or {"id":"r1","bits":[...]}, or
// {"id":"r1","error":"timeout"}.

// The bounds of a request's timeout.
const (
	defaultRequestTimeout = time.Second
	maxRequestTimeout     = time.Minute
)

// streamRequest is a request to a stream device, decoded.
type streamRequest struct {
	id      string
	data    []byte
	enc     string
	timeout time.Duration
}

// requestFields are what a request's JSON may hold; Modbus fields too.
type requestFields struct {
	ID       *string  `json:"id"`
	Data     *string  `json:"data"`
	Enc      string   `json:"enc"`
	Timeout  string   `json:"timeout"`
	Slave    *int     `json:"slave"`
	Function *int     `json:"function"`
	Address  *int     `json:"address"`
	Count    *int     `json:"count"`
	Values   []uint16 `json:"values"`
}

// errNoID is a request without an id, which cannot be answered.
var errNoID = errors.New(`request without an "id": nothing to answer it with`)

// parseRequest decodes the JSON of a request; it returns the id (empty
// when there is none) even when the rest is wrong, so the error can be
// answered.
func parseRequest(payload []byte) (requestFields, string, error) {
	var f requestFields
	if err := json.Unmarshal(payload, &f); err != nil {
		return f, "", fmt.Errorf("request is not a JSON object: %v", err)
	}
	if f.ID == nil || *f.ID == "" {
		return f, "", errNoID
	}
	return f, *f.ID, nil
}

// streamRequestOf decodes a stream device's request.
func streamRequestOf(f requestFields) (streamRequest, error) {
	r := streamRequest{id: *f.ID, enc: f.Enc, timeout: defaultRequestTimeout}
	if r.enc == "" {
		r.enc = encText
	}
	if f.Data == nil {
		return r, errors.New(`request without "data"`)
	}
	switch r.enc {
	case encText:
		r.data = []byte(*f.Data)
	case encHex:
		b, err := hex.DecodeString(*f.Data)
		if err != nil {
			return r, fmt.Errorf("data is not hex: %v", err)
		}
		r.data = b
	case encBase64:
		b, err := base64.StdEncoding.DecodeString(*f.Data)
		if err != nil {
			return r, fmt.Errorf("data is not base64: %v", err)
		}
		r.data = b
	default:
		return r, fmt.Errorf("enc %q: want text, hex or base64", r.enc)
	}
	if len(r.data) == 0 {
		return r, errors.New("request with empty data")
	}
	if f.Timeout != "" {
		d, err := time.ParseDuration(f.Timeout)
		if err != nil || d <= 0 || d > maxRequestTimeout {
			return r, fmt.Errorf("timeout %q: want a duration from 1ms to %s", f.Timeout, maxRequestTimeout)
		}
		r.timeout = d
	}
	return r, nil
}

// appendDataReply appends a stream device's reply: the frame in the
// request's encoding (base64 when it asked for text and the frame is not
// UTF-8), and the time from the request's write to its reply.
func appendDataReply(dst []byte, id, enc string, frame []byte, took time.Duration) []byte {
	dst = append(dst, `{"id":`...)
	dst = appendJSONString(dst, validUTF8(id))
	if enc == encText && !utf8.Valid(frame) {
		enc = encBase64
	}
	switch enc {
	case encHex:
		dst = append(dst, `,"data":"`...)
		dst = append(hex.AppendEncode(dst, frame), '"')
	case encBase64:
		dst = append(dst, `,"data":"`...)
		dst = append(base64.StdEncoding.AppendEncode(dst, frame), '"')
	default:
		dst = append(dst, `,"data":`...)
		dst = appendJSONString(dst, string(frame))
	}
	dst = append(dst, `,"enc":"`...)
	dst = append(dst, enc...)
	dst = append(dst, `","ms":`...)
	dst = strconv.AppendFloat(dst, float64(took.Microseconds())/1000, 'f', -1, 64)
	return append(dst, '}')
}

// appendErrorReply appends {"id":...,"error":...}.
func appendErrorReply(dst []byte, id string, err error) []byte {
	dst = append(dst, `{"id":`...)
	dst = appendJSONString(dst, validUTF8(id))
	dst = append(dst, `,"error":`...)
	dst = appendJSONString(dst, validUTF8(err.Error()))
	return append(dst, '}')
}

// validUTF8 replaces what is not UTF-8, for appendJSONString.
func validUTF8(s string) string {
	if utf8.ValidString(s) {
		return s
	}
	return string([]rune(s))
}
