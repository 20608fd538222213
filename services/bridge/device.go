package bridge

import (
	"time"

	"github.com/sirupsen/logrus"

	"github.com/iogate/iogate/config"
	"github.com/iogate/iogate/framing"
	"github.com/iogate/iogate/reactor"
	"github.com/iogate/iogate/resources/file"
	"github.com/iogate/iogate/resources/serial"
	"github.com/iogate/iogate/rfc2217"
)

// device is the bridge's state for one [[device]]: its resource while
// open, its framing, its topics and its counters.
type device struct {
	cfg config.Device
	log *logrus.Entry

	id      reactor.ID   // 0 while closed
	port    *serial.Port // while open, for kind = "serial"
	openAt  time.Time
	backoff time.Duration // the wait before the next reopen
	reopen  reactor.TimerID
	idle    reactor.TimerID // idle framing: armed while a frame is pending

	listener reactor.ID // raw TCP access, when tcp_listen is set
	clients  []*client  // oldest first
	paused   bool       // the clients are paused: the device's output is congested

	// RFC 2217 access: the line settings in force, and the client that
	// set them.
	mode       serial.Mode
	lines      rfc2217.Lines
	controller *client
	breakTimer reactor.TimerID
	modemTimer reactor.TimerID

	decoder *framing.Decoder
	framing framing.Config
	seq     uint64

	rxTopic, txTopic, statusTopic, errorTopic string

	stats DeviceStats
}

// DeviceStats are a device's counters since the gateway started, and its
// state.
type DeviceStats struct {
	Name         string `json:"-"`
	Frames       uint64 `json:"frames"`     // cut from what it sent
	Bytes        uint64 `json:"bytes"`      // in those frames
	ReadBytes    uint64 `json:"read_bytes"` // every byte read from it, framed or not
	Overlong     uint64 `json:"overlong"`
	Malformed    uint64 `json:"malformed"`
	Drops        uint64 `json:"drops"`
	Reopens      uint64 `json:"reopens"`
	TxFrames     uint64 `json:"tx_frames"`
	TxBytes      uint64 `json:"tx_bytes"` // written to it, from MQTT and TCP clients
	TxRejected   uint64 `json:"tx_rejected"`
	TCPClients   int    `json:"tcp_clients"`
	TCPRefused   uint64 `json:"tcp_refused"`
	TCPDropped   uint64 `json:"tcp_dropped"`
	TCPDiscarded uint64 `json:"tcp_discarded_bytes"`
	Online       bool   `json:"online"`
}

// setTopics names the device's topics under prefix.
func (d *device) setTopics(prefix string) {
	base := prefix + "/" + d.cfg.Name
	d.rxTopic, d.txTopic = base+"/rx", base+"/tx"
	d.statusTopic, d.errorTopic = base+"/status", base+"/error"
}

func framingConfig(d config.Device) (framing.Config, error) {
	kind, err := framing.ParseKind(d.Framing)
	if err != nil {
		return framing.Config{}, err
	}
	// Line framing takes "\r\n" as the ending its commands get; decoding
	// accepts either ending.
	return framing.Config{Kind: kind, Delimiter: d.Delimiter, Size: d.FrameSize, Max: d.MaxFrame}, nil
}

// open opens the device's descriptor.
func (d *device) open() (reactor.Transport, error) {
	if d.cfg.Kind == "file" {
		access := file.ReadOnly
		if d.cfg.Writable {
			access = file.ReadWrite
		}
		return file.Open(d.cfg.Path, access)
	}
	name := d.cfg.Path
	if d.cfg.USB != "" {
		name = d.cfg.USB
		if d.cfg.USBSerial != "" {
			name += ":" + d.cfg.USBSerial
		}
	}
	return serial.Open(name, d.configMode())
}

// configMode is the line settings of the configuration.
func (d *device) configMode() serial.Mode {
	return serial.Mode{
		Baud:     d.cfg.Baud,
		DataBits: d.cfg.DataBits,
		Parity:   serial.Parity(d.cfg.Parity),
		StopBits: d.cfg.StopBits,
		Flow:     serial.Flow(d.cfg.Flow),
	}
}

// nextBackoff returns the wait before the next reopen and doubles it, up
// to reconnect_max. A device that stayed open longer than its current wait
// starts again from reconnect_min.
func (d *device) nextBackoff(now time.Time) time.Duration {
	if d.backoff == 0 || (!d.openAt.IsZero() && now.Sub(d.openAt) > d.backoff) {
		d.backoff = d.cfg.ReconnectMin
	}
	wait := d.backoff
	d.backoff = min(d.backoff*2, d.cfg.ReconnectMax)
	return wait
}
