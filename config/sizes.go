package config

import (
	"fmt"

	"github.com/iogate/iogate/spool"
)

// Sizes that depend on each other are checked together here, so that a
// frame the configuration accepts can always be spooled and published: the
// largest payload of a device's frames, in its encoding, against the
// largest record the spool can hold. The spool's segments are sized to
// take it, and the broker connection's output limit follows from them.

// jsonEnvelope bounds what the json encoding adds around a frame's data,
// beyond the device name: {"device":"","seq":18446744073709551615,
// "ts":"2006-01-02T15:04:05.999999999Z","data":"","enc":"base64"}.
const jsonEnvelope = 128

// MaxPayload is the largest MQTT payload a frame of the device can make in
// its encoding. For json, a frame's text is counted at the size of its
// base64 form: text full of control characters, each escaped in six bytes,
// can be larger, and is refused at run time if it does not fit.
func (d Device) MaxPayload() int {
	n := d.MaxFrame
	switch d.Encoding {
	case "hex":
		return 2 * n
	case "base64":
		return base64Len(n)
	case "json":
		return jsonEnvelope + len(d.Name) + base64Len(n)
	}
	return n
}

func base64Len(n int) int { return (n + 2) / 3 * 4 }

// RxTail is the topic of the device's frames below the prefix, which is
// also the key of their records in the spool.
func (d Device) RxTail() string { return d.Name + "/rx" }

// spoolRecord is the size on disk of the largest record of the device's
// frames.
func (d Device) spoolRecord() int64 {
	return int64(spool.RecordOverhead + len(d.RxTail()) + d.MaxPayload())
}

// sizes checks that the device's frames fit the spool, and notes the
// largest record.
func (v *validator) sizes(key string, c *Config, d Device, largest *int64) {
	if c.MQTT.Kind == BrokerNone || !d.Publish {
		return
	}
	rec := d.spoolRecord()
	if _, err := spool.SegmentBytesFor(c.Spool.MaxBytes, rec); err != nil {
		what := fmt.Sprintf("%d bytes in %s make payloads of up to %d bytes, more than spool.max_bytes = %s can hold in one record",
			d.MaxFrame, d.Encoding, d.MaxPayload(), FormatSize(c.Spool.MaxBytes))
		if need := 2 * (rec + 64); need <= 128<<20 {
			v.addf(key+".max_frame", "%s; raise spool.max_bytes to at least %dMiB, or lower max_frame", what, (need+1<<20-1)>>20)
		} else {
			v.addf(key+".max_frame", "%s, and no spool holds records over 64MiB; lower max_frame, or choose a denser encoding", what)
		}
		return
	}
	*largest = max(*largest, rec)
}

// segmentBytes sizes the spool's segments for its largest record.
func (v *validator) segmentBytes(c *Config, largest int64) {
	seg, err := spool.SegmentBytesFor(c.Spool.MaxBytes, largest)
	if err != nil {
		seg, _ = spool.SegmentBytesFor(c.Spool.MaxBytes, 0) // reported per device
	}
	c.Spool.SegmentBytes = seg
}

// FormatSize prints a byte count the way the config file takes it:
// "64MiB", "512KiB", "1000".
func FormatSize(n int64) string {
	for _, u := range []struct {
		unit  string
		shift uint
	}{{"GiB", 30}, {"MiB", 20}, {"KiB", 10}} {
		if n >= 1<<u.shift && n%(1<<u.shift) == 0 {
			return fmt.Sprintf("%d%s", n>>u.shift, u.unit)
		}
	}
	return fmt.Sprintf("%d", n)
}
