package control

import (
	"bytes"
	"errors"
	"math/rand/v2"
	"reflect"
	"strings"
	"testing"
)

// fuzzChunks cuts stream into reads: mostly short ones, where requests
// straddle them, some long.
func fuzzChunks(stream []byte, seed uint64) [][]byte {
	rng := rand.New(rand.NewPCG(seed, seed>>32))
	var chunks [][]byte
	for len(stream) > 0 {
		n := 1 + rng.IntN(8)
		if rng.IntN(4) == 0 {
			n = rng.IntN(300)
		}
		n = min(n, len(stream))
		chunks = append(chunks, stream[:n])
		stream = stream[n:]
	}
	return chunks
}

// decodeAll feeds the chunks to a new Server as a reactor handler would,
// checking what must hold of every call, and returns what it made of them.
func decodeAll(t *testing.T, chunks [][]byte) (reqs []Request, reply []byte, err error) {
	s := NewServer("v1")
	for _, chunk := range chunks {
		for len(chunk) > 0 {
			var n int
			var req Request
			var e error
			reply, n, req, e = s.Decode(reply, chunk)
			if n <= 0 || n > len(chunk) {
				t.Fatalf("Decode consumed %d of %d bytes", n, len(chunk))
			}
			chunk = chunk[n:]
			if req.Kind != "" {
				reqs = append(reqs, req)
			}
			switch {
			case err != nil && !errors.Is(e, err):
				t.Fatalf("after %v, Decode returned %v", err, e)
			case e != nil:
				var pe *Error
				if !errors.As(e, &pe) {
					t.Fatalf("Decode returned %T %v, not an *Error", e, e)
				}
				err = e
			}
		}
	}
	return reqs, reply, err
}

func FuzzServer(f *testing.F) {
	for _, seed := range []string{
		hello + `{"type":"status"}` + "\n" + `{"type":"trace","devices":["d0","d1"]}` + "\n",
		`{"type":"hello","protocol":2,"version":"v2"}` + "\n",
		"\r\n" + strings.TrimSuffix(hello, "\n") + "\r\n" + `{"type":"status","x":{"y":[1,2,3]}}` + "\r\n",
		hello + `{"type":"trace","devices":[]}` + "\n",
		hello + `{"type":"trace","devices":["a"]}` + "\n" + `{"type":"status"}` + "\n",
		`{"type":"status"}` + "\n",
		"GET / HTTP/1.1\r\nHost: x\r\n\r\n",
		hello + "\x00\xff\n",
		hello + hello,
		hello + `{"type":"trace","devices":["\u00e9\ud800",""]}` + "\n",
	} {
		f.Add([]byte(seed), uint64(1))
	}
	f.Fuzz(func(t *testing.T, stream []byte, seed uint64) {
		reqs, reply, err := decodeAll(t, fuzzChunks(stream, seed))
		// However the stream is cut, the server makes the same of it.
		wholeReqs, wholeReply, wholeErr := decodeAll(t, [][]byte{stream})
		if !reflect.DeepEqual(reqs, wholeReqs) || !bytes.Equal(reply, wholeReply) || (err == nil) != (wholeErr == nil) {
			t.Fatalf("in pieces: %v %q %v; whole: %v %q %v", reqs, reply, err, wholeReqs, wholeReply, wholeErr)
		}
		// A hello comes first and once, and a trace last.
		for i, r := range reqs {
			if (r.Kind == KindHello) != (i == 0) {
				t.Fatalf("requests %v", reqs)
			}
			if r.Kind == KindTrace && (i != len(reqs)-1 || len(r.Devices) == 0) {
				t.Fatalf("requests %v", reqs)
			}
		}
		// What the server answered is messages a client reads, with one
		// error at the end if it failed.
		lines := bytes.SplitAfter(reply, []byte("\n"))
		if len(lines[len(lines)-1]) == 0 {
			lines = lines[:len(lines)-1]
		}
		for i, line := range lines {
			m, perr := ParseMessage(line)
			if perr != nil {
				t.Fatalf("reply line %q: %v", line, perr)
			}
			if (m.Kind == KindError) != (err != nil && i == len(lines)-1) {
				t.Fatalf("reply %q with error %v", reply, err)
			}
		}
	})
}
