package mqtt

import (
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"
	"unicode/utf8"

	mochi "github.com/mochi-mqtt/server/v2"
	"github.com/mochi-mqtt/server/v2/packets"
)

// When a change of the retained messages reaches the file: saveDelay after
// it, so that a burst costs one write, and at most once per saveEvery, so
// that a churning box does not wear out its SD card. What a power cut can
// lose is that much; the gateway publishes its own retained topics again
// when it connects.
const (
	saveDelay = 2 * time.Second
	saveEvery = time.Minute
)

// retainHook bounds the retained messages and keeps them in a file, so that
// they outlive a restart. mochi's storage hooks would do the latter with
// badger, bolt, redis or pebble: each a large dependency for a file of a
// few kilobytes written once a minute at most.
type retainHook struct {
	mochi.HookBase
	server *mochi.Server
	max    int64
	file   string // "" keeps them in memory only
	log    *rateLog
	counts *counters

	mu     sync.Mutex
	sizes  map[string]int // per topic, its topic and payload bytes
	total  int64
	dirty  bool        // changed since the last save
	timer  *time.Timer // the save to come, if one is due
	last   time.Time   // when the last save started
	closed bool

	saving sync.Mutex // one save at a time
}

func newRetainHook(server *mochi.Server, max int64, file string, log *rateLog, counts *counters) *retainHook {
	return &retainHook{server: server, max: max, file: file, log: log, counts: counts, sizes: map[string]int{}}
}

func (h *retainHook) ID() string { return "iogate-retained" }

func (h *retainHook) Provides(b byte) bool {
	return b == mochi.OnPublish || b == mochi.OnRetainMessage || b == mochi.OnRetainedExpired
}

// OnPublish keeps a client other than the gateway from retaining past
// max: the message is delivered, not retained.
func (h *retainHook) OnPublish(cl *mochi.Client, pk packets.Packet) (packets.Packet, error) {
	if !pk.FixedHeader.Retain || len(pk.Payload) == 0 || cl.Net.Inline || cl.Net.Listener == gatewayListener {
		return pk, nil
	}
	size := int64(len(pk.TopicName) + len(pk.Payload))
	h.mu.Lock()
	over := h.total-int64(h.sizes[pk.TopicName])+size > h.max
	h.mu.Unlock()
	if over {
		pk.FixedHeader.Retain = false
		h.counts.retainedRefused.Add(1)
		h.log.warn("retained", cl.Net.Remote, "broker: message delivered but not retained: the retained messages are full",
			"remote", cl.Net.Remote, "client", cl.ID, "topic", pk.TopicName, "bytes", len(pk.Payload), "max", h.max)
	}
	return pk, nil
}

func (h *retainHook) OnRetainMessage(_ *mochi.Client, pk packets.Packet, _ int64) {
	h.set(pk.TopicName, len(pk.Payload))
}

func (h *retainHook) OnRetainedExpired(topic string) { h.set(topic, 0) }

// set accounts for topic's retained payload of n bytes (0: none) and
// schedules a save.
func (h *retainHook) set(topic string, n int) {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.total -= int64(h.sizes[topic])
	delete(h.sizes, topic)
	if n > 0 {
		h.sizes[topic] = len(topic) + n
		h.total += int64(len(topic) + n)
	}
	if h.file == "" || h.closed {
		return
	}
	h.dirty = true
	if h.timer == nil {
		wait := saveDelay
		if next := time.Until(h.last.Add(saveEvery)); next > wait && !h.last.IsZero() {
			wait = next
		}
		h.timer = time.AfterFunc(wait, h.saveDue)
	}
}

func (h *retainHook) saveDue() {
	if err := h.save(); err != nil {
		h.counts.retainedSaveErrors.Add(1)
		h.log.warn("save", "", "broker: retained messages not saved", "file", h.file, "error", err)
	}
}

// size is how many retained messages there are, and their bytes.
func (h *retainHook) size() (int, int64) {
	h.mu.Lock()
	defer h.mu.Unlock()
	return len(h.sizes), h.total
}

// load restores the retained messages of the file, if there is one.
func (h *retainHook) load() error {
	if h.file == "" {
		return nil
	}
	data, err := os.ReadFile(h.file)
	if errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	if err != nil {
		return err
	}
	msgs, err := decodeRetained(data)
	if err != nil {
		// Kept aside for whoever wants to look, rather than overwritten
		// by the next save.
		if rerr := os.Rename(h.file, h.file+".bad"); rerr != nil {
			return fmt.Errorf("%s: %w (and not moved aside: %v)", h.file, err, rerr)
		}
		return fmt.Errorf("%s: %w; moved to %s.bad", h.file, err, h.file)
	}
	now := time.Now().Unix()
	for _, m := range msgs {
		pk := packets.Packet{
			FixedHeader:     packets.FixedHeader{Type: packets.Publish, Qos: m.QoS, Retain: true},
			TopicName:       m.Topic,
			Payload:         m.Payload,
			Created:         now,
			Expiry:          m.Expiry,
			ProtocolVersion: 4,
		}
		if m.V5 {
			pk.ProtocolVersion = 5
		}
		h.server.Topics.RetainMessage(pk)
		h.sizes[m.Topic] = len(m.Topic) + len(m.Payload)
		h.total += int64(len(m.Topic) + len(m.Payload))
	}
	atomic.StoreInt64(&h.server.Info.Retained, int64(len(msgs)))
	return nil
}

// save writes the retained messages to the file, if they changed since
// the last time.
func (h *retainHook) save() error {
	h.saving.Lock()
	defer h.saving.Unlock()
	h.mu.Lock()
	h.timer = nil
	dirty := h.dirty
	h.dirty = false
	if dirty {
		h.last = time.Now()
	}
	h.mu.Unlock()
	if !dirty {
		return nil
	}
	var msgs []retainedMessage
	for topic, pk := range h.server.Topics.Retained.GetAll() {
		if strings.HasPrefix(topic, mochi.SysPrefix) || len(pk.Payload) == 0 {
			continue // the broker's own, published again every second
		}
		msgs = append(msgs, retainedMessage{Topic: topic, Payload: pk.Payload, QoS: pk.FixedHeader.Qos,
			V5: pk.ProtocolVersion == 5, Expiry: pk.Expiry})
	}
	slices.SortFunc(msgs, func(a, b retainedMessage) int { return strings.Compare(a.Topic, b.Topic) })
	if err := writeAtomic(h.file, appendRetained(nil, msgs)); err != nil {
		h.mu.Lock()
		h.dirty = true // so that the next change, or close, tries again
		h.mu.Unlock()
		return err
	}
	return nil
}

// close stops the saves to come and makes the last one.
func (h *retainHook) close() error {
	h.mu.Lock()
	h.closed = true
	if h.timer != nil {
		h.timer.Stop()
		h.timer = nil
	}
	h.mu.Unlock()
	if h.file == "" {
		return nil
	}
	if err := h.save(); err != nil {
		return fmt.Errorf("retained messages not saved: %w", err)
	}
	return nil
}

// writeAtomic replaces path with data so that a crash leaves the old file
// or the new one, never a part: a temporary file beside it, synced, then
// renamed over it, and the directory synced.
func writeAtomic(path string, data []byte) error {
	dir := filepath.Dir(path)
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return err
	}
	tmp := path + ".tmp"
	f, err := os.OpenFile(tmp, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, 0o600)
	if err != nil {
		return err
	}
	_, err = f.Write(data)
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(tmp, path)
	}
	if err != nil {
		os.Remove(tmp)
		return err
	}
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	err = d.Sync()
	if cerr := d.Close(); err == nil {
		err = cerr
	}
	return err
}

// retainedMessage is one retained message in the file. MQTT 5 properties
// other than the expiry are not kept.
type retainedMessage struct {
	Topic   string
	Payload []byte
	QoS     byte
	V5      bool  // published by an MQTT 5 client: its Expiry applies
	Expiry  int64 // Unix seconds; 0 for none
}

// The file: retainedMagic, then per message a flags byte (QoS in bits 0-1,
// bit 2 for MQTT 5), the topic's length (2 bytes) and the topic, the
// expiry (8 bytes), the payload's length (4 bytes) and the payload, all
// big-endian; at the end the CRC-32C of everything before it.
const retainedMagic = "iogate retained 1\n"

var castagnoli = crc32.MakeTable(crc32.Castagnoli)

// appendRetained appends the file's encoding of msgs to b.
func appendRetained(b []byte, msgs []retainedMessage) []byte {
	start := len(b)
	b = append(b, retainedMagic...)
	for _, m := range msgs {
		flags := m.QoS & 3
		if m.V5 {
			flags |= 4
		}
		b = append(b, flags)
		b = binary.BigEndian.AppendUint16(b, uint16(len(m.Topic)))
		b = append(b, m.Topic...)
		b = binary.BigEndian.AppendUint64(b, uint64(m.Expiry))
		b = binary.BigEndian.AppendUint32(b, uint32(len(m.Payload)))
		b = append(b, m.Payload...)
	}
	return binary.BigEndian.AppendUint32(b, crc32.Checksum(b[start:], castagnoli))
}

var errRetainedFile = errors.New("not a retained messages file of iogate, or damaged")

// decodeRetained reads a file appendRetained wrote. The payloads alias data.
func decodeRetained(data []byte) ([]retainedMessage, error) {
	if len(data) < len(retainedMagic)+4 || string(data[:len(retainedMagic)]) != retainedMagic {
		return nil, errRetainedFile
	}
	body := data[:len(data)-4]
	if crc32.Checksum(body, castagnoli) != binary.BigEndian.Uint32(data[len(body):]) {
		return nil, fmt.Errorf("%w: checksum mismatch", errRetainedFile)
	}
	var msgs []retainedMessage
	seen := map[string]bool{}
	for rest := body[len(retainedMagic):]; len(rest) > 0; {
		if len(rest) < 3 {
			return nil, fmt.Errorf("%w: message %d cut short", errRetainedFile, len(msgs)+1)
		}
		flags, n := rest[0], int(binary.BigEndian.Uint16(rest[1:3]))
		rest = rest[3:]
		if flags&^7 != 0 || flags&3 == 3 || len(rest) < n+12 {
			return nil, fmt.Errorf("%w: message %d malformed", errRetainedFile, len(msgs)+1)
		}
		topic := string(rest[:n])
		expiry := int64(binary.BigEndian.Uint64(rest[n : n+8]))
		size := binary.BigEndian.Uint32(rest[n+8 : n+12])
		rest = rest[n+12:]
		if uint64(size) > uint64(len(rest)) || size == 0 || expiry < 0 {
			return nil, fmt.Errorf("%w: message %d malformed", errRetainedFile, len(msgs)+1)
		}
		if checkTopic(topic) != nil || !utf8.ValidString(topic) || seen[topic] {
			return nil, fmt.Errorf("%w: message %d has a bad topic %q", errRetainedFile, len(msgs)+1, topic)
		}
		seen[topic] = true
		msgs = append(msgs, retainedMessage{Topic: topic, Payload: rest[:size], QoS: flags & 3, V5: flags&4 != 0, Expiry: expiry})
		rest = rest[size:]
	}
	return msgs, nil
}
