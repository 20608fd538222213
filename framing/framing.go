// Package framing splits device byte streams into frames, and frames
// payloads on their way back to a device, one codec for each framing of an
// iogate [[device]]: line, delimiter, fixed, idle, slip, cobs and raw.
//
// A Decoder is fed bytes as they are read and hands every complete frame to
// the emit function given to New. It owns one buffer of at most Config.Max
// bytes, allocated by New and reused for every frame, so decoding does not
// allocate in steady state. Where the framing allows, a frame that arrives
// whole within one Feed is handed out from the input itself, uncopied.
// Encode works the other way for the tx direction, appending to the
// caller's buffer.
//
// It is not I/O: it neither reads nor writes, logs nothing and keeps no
// time. The idle framing ends a frame when its caller, which owns the
// timer, calls Flush after idle_gap of silence; Pending says when a frame
// is under way and the timer is worth arming. A Decoder is not safe for
// concurrent use: like the resources it serves, it belongs to the reactor
// goroutine.
//
// Rules the package keeps where the framings leave the choice open:
//   - No frame is empty. Blank lines, back-to-back delimiters and empty
//     SLIP or COBS frames are skipped, so a sensor's "\r\n\r\n" yields
//     nothing and a leading END or 0x00 can resynchronise a stream.
//   - Line framing ends frames at "\n" and strips one "\r" right before it;
//     a "\r" anywhere else is data.
//   - Max bounds frames as emitted: after stripping the line ending,
//     unescaping SLIP or decoding COBS. A longer frame is discarded up to
//     its boundary and counted once in Stats.Overlong. A raw frame has no
//     boundary to discard up to, so raw input is split into frames of at
//     most Max bytes instead.
//   - A bad SLIP escape or a COBS block cut short by 0x00 makes the frame
//     malformed: it is discarded up to its END or 0x00 and counted once in
//     Stats.Malformed.
//   - Flush ends the frame as if its boundary had arrived. That is how idle
//     frames end, and how a device's last bytes are not lost when it
//     closes: a last line without "\n" is emitted, a fixed frame cut short
//     is emitted short, and a SLIP or COBS frame is checked as if END or
//     0x00 had followed.
package framing

import (
	"errors"
	"fmt"
	"math"
	"strconv"
)

// Kind is a framing: how a byte stream is cut into frames.
type Kind uint8

// The framings. The zero Kind is Line, the default framing of a device.
const (
	Line      Kind = iota // frames end at "\n"; a "\r" right before it is stripped
	Delimiter             // frames end at Config.Delimiter
	Fixed                 // every frame is Config.Size bytes
	Idle                  // a frame ends when the caller calls Flush after a silence
	SLIP                  // RFC 1055: frames end at END (0xC0) and are unescaped
	COBS                  // frames end at 0x00 and are COBS-decoded
	Raw                   // every Feed is a frame
)

var kindNames = [...]string{
	Line:      "line",
	Delimiter: "delimiter",
	Fixed:     "fixed",
	Idle:      "idle",
	SLIP:      "slip",
	COBS:      "cobs",
	Raw:       "raw",
}

// String returns the name of k as written in the config, such as "slip".
func (k Kind) String() string {
	if int(k) < len(kindNames) {
		return kindNames[k]
	}
	return "Kind(" + strconv.Itoa(int(k)) + ")"
}

// ParseKind returns the Kind named s, one of "line", "delimiter", "fixed",
// "idle", "slip", "cobs" and "raw".
func ParseKind(s string) (Kind, error) {
	for k, name := range kindNames {
		if s == name {
			return Kind(k), nil
		}
	}
	return 0, fmt.Errorf("framing: unknown framing %q: want line, delimiter, fixed, idle, slip, cobs or raw", s)
}

const (
	// DefaultMax is the longest frame when Config.Max is 0.
	DefaultMax = 4096
	// MaxLimit bounds Config.Max. Every decoder allocates Max bytes up
	// front, so a mistyped max_frame is refused rather than allowed to take
	// the memory of the gateway.
	MaxLimit = 16 << 20
)

// Config describes a framing. Fields that a Kind does not use are ignored,
// so a Config may carry the defaults of all of them.
type Config struct {
	Kind Kind

	// Delimiter ends every frame of Delimiter framing and must not be
	// empty. For Line framing it is the line ending that Encode appends:
	// "\n" (also when empty) or "\r\n". Line decoding accepts both.
	Delimiter []byte

	// Size is the length of every Fixed frame, from 1 to Max.
	Size int

	// Max is the longest frame in bytes, at most MaxLimit; 0 means
	// DefaultMax.
	Max int
}

// limit validates c and returns the longest frame it allows.
func (c Config) limit() (int, error) {
	if int(c.Kind) >= len(kindNames) {
		return 0, fmt.Errorf("framing: unknown framing %v", c.Kind)
	}
	limit := c.Max
	switch {
	case limit == 0:
		limit = DefaultMax
	case limit < 0:
		return 0, fmt.Errorf("framing: max frame %d is negative", limit)
	case limit > MaxLimit:
		return 0, fmt.Errorf("framing: max frame %d is above the limit of %d bytes", limit, MaxLimit)
	}
	switch c.Kind {
	case Line:
		if d := string(c.Delimiter); d != "" && d != "\n" && d != "\r\n" {
			return 0, fmt.Errorf(`framing: line framing ends lines with "\n" or "\r\n", not %q; use delimiter framing for other delimiters`, d)
		}
	case Delimiter:
		if len(c.Delimiter) == 0 {
			return 0, errors.New("framing: delimiter framing needs a delimiter")
		}
	case Fixed:
		if c.Size <= 0 {
			return 0, fmt.Errorf("framing: fixed framing needs a frame size above 0, not %d", c.Size)
		}
		if c.Size > limit {
			return 0, fmt.Errorf("framing: frame size %d is above max frame %d", c.Size, limit)
		}
	}
	return limit, nil
}

// Stats counts what a Decoder has done since New.
type Stats struct {
	Frames    uint64 // frames emitted
	Bytes     uint64 // bytes in the frames emitted
	Overlong  uint64 // frames discarded for being longer than Max
	Malformed uint64 // frames discarded for a bad SLIP escape or COBS block
	Cut       uint64 // frames under way discarded by Reset
}

// Decoder cuts a byte stream into frames. Make one with New.
type Decoder struct {
	kind    Kind
	emit    func(frame []byte)
	buf     []byte // the frame being assembled; its length is the longest frame and never changes
	n       int    // bytes of buf in use
	drop    bool   // the current frame is being discarded up to its boundary
	pending int
	stats   Stats
	max     int // raw: the longest frame, since raw frames are never buffered

	// State of the current frame that is not in buf, by framing.
	cr     bool   // line: a "\r" came last; it is data only if something other than "\n" follows
	delim  []byte // delimiter
	border []int  // delimiter: border[i] is the longest proper prefix of delim[:i+1] that is also its suffix
	match  int    // delimiter: bytes of delim matched by the last bytes fed
	esc    bool   // slip: ESC came last
	left   int    // cobs: data bytes left in the current block; 0 when the next byte is a code
	zero   bool   // cobs: the current block ends in a 0x00, written only if another block follows
}

// New returns a Decoder for the framing c describes, which calls emit with
// every complete frame. The frame is valid only until emit returns and
// must not be modified, since it may be part of the slice given to Feed;
// emit must not call the Decoder.
func New(c Config, emit func(frame []byte)) (*Decoder, error) {
	limit, err := c.limit()
	if err != nil {
		return nil, err
	}
	if emit == nil {
		return nil, errors.New("framing: New needs an emit function")
	}
	d := &Decoder{kind: c.Kind, emit: emit, max: limit}
	switch c.Kind {
	case Raw:
	case Fixed:
		d.buf = make([]byte, c.Size)
	case Delimiter:
		d.delim = append([]byte(nil), c.Delimiter...)
		d.border = borders(d.delim)
		d.buf = make([]byte, limit)
	default:
		d.buf = make([]byte, limit)
	}
	return d, nil
}

// Feed consumes data, calling emit for every frame it completes. It keeps
// no reference to data once it returns.
func (d *Decoder) Feed(data []byte) {
	var since int // where the frame under way began in data
	switch d.kind {
	case Line:
		since = d.feedLine(data)
	case Delimiter:
		since = d.feedDelimiter(data)
	case Fixed:
		since = d.feedFixed(data)
	case Idle:
		d.put(data)
	case SLIP:
		since = d.feedSLIP(data)
	case COBS:
		since = d.feedCOBS(data)
	case Raw:
		d.feedRaw(data)
		since = len(data)
	}
	// Saturate rather than wrap: a stream with no boundary for gigabytes
	// must not come to look like one at a boundary.
	if n := len(data) - since; d.pending > math.MaxInt-n {
		d.pending = math.MaxInt
	} else {
		d.pending += n
	}
}

// Flush ends the current frame as if its boundary had arrived, emitting it
// if it is a good frame and not empty. The bridge calls it when idle_gap
// passes with no new bytes, and when the device closes.
func (d *Decoder) Flush() {
	switch d.kind {
	case Delimiter:
		d.put(d.delim[:d.match]) // a delimiter begun but not finished is data
	case SLIP:
		if d.esc {
			d.malformed()
		}
	case COBS:
		if d.left > 0 {
			d.malformed()
		}
	}
	d.end() // drops a "\r" held by Line framing, as "\n" would
}

// Reset discards the frame under way, counting it in Stats.Cut if any of
// it had arrived, and starts afresh: for a stream that broke off (a device
// unplugged) whose next bytes do not continue it.
func (d *Decoder) Reset() {
	if d.pending > 0 && !d.drop {
		d.stats.Cut++
	}
	d.drop = true // end discards the frame
	d.end()
}

// Pending returns the number of bytes fed since the last frame boundary,
// including those being discarded: it is 0 exactly when no frame is under
// way. A caller of idle framing arms its idle timer while it is above 0.
func (d *Decoder) Pending() int { return d.pending }

// Stats returns the counters of d.
func (d *Decoder) Stats() Stats { return d.stats }

// put adds p to the frame, or starts discarding the frame if p would take
// it beyond the buffer.
func (d *Decoder) put(p []byte) {
	if d.drop {
		return
	}
	if len(p) > len(d.buf)-d.n {
		d.overlong()
		return
	}
	d.n += copy(d.buf[d.n:], p)
}

func (d *Decoder) putByte(c byte) {
	if d.drop {
		return
	}
	if d.n == len(d.buf) {
		d.overlong()
		return
	}
	d.buf[d.n] = c
	d.n++
}

func (d *Decoder) overlong() {
	d.stats.Overlong++
	d.drop = true
}

// malformed discards the current frame, counting it unless it was already
// discarded: a frame is counted once, for the first thing wrong with it.
func (d *Decoder) malformed() {
	if !d.drop {
		d.stats.Malformed++
		d.drop = true
	}
}

// end emits the frame being assembled, if any, and starts the next one.
func (d *Decoder) end() {
	if !d.drop && d.n > 0 {
		d.out(d.buf[:d.n])
	}
	d.n, d.drop, d.pending = 0, false, 0
	d.cr, d.match, d.esc, d.left, d.zero = false, 0, false, 0, false
}

// whole handles a frame that arrived within one Feed while nothing was
// buffered, without copying it.
func (d *Decoder) whole(frame []byte) {
	switch {
	case len(frame) > len(d.buf):
		d.stats.Overlong++
	case len(frame) > 0:
		d.out(frame)
	}
}

func (d *Decoder) out(frame []byte) {
	d.stats.Frames++
	d.stats.Bytes += uint64(len(frame))
	d.emit(frame)
}

// Encode appends payload to dst framed as c says, and returns the extended
// slice; it allocates only when dst lacks the capacity. SLIP payloads are
// escaped between two ENDs; COBS payloads are encoded and end in 0x00;
// Line and Delimiter payloads get the delimiter appended unless they
// already end with it (for Line, unless they end in "\n"); the other
// framings take the payload as it is. Encode trusts c: pass a Config that
// New accepts.
func Encode(c Config, dst, payload []byte) []byte {
	switch c.Kind {
	case Line:
		return encodeLine(c, dst, payload)
	case Delimiter:
		return encodeDelimiter(c, dst, payload)
	case SLIP:
		return encodeSLIP(dst, payload)
	case COBS:
		return encodeCOBS(dst, payload)
	}
	return append(dst, payload...)
}
