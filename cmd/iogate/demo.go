package main

import (
	"flag"
	"fmt"
	"io"
	"net"
	"os"
	"os/signal"
	"sync"
	"syscall"
	"time"

	paho "github.com/eclipse/paho.mqtt.golang"
	"golang.org/x/sys/unix"

	"github.com/iogate/iogate/config"
	"github.com/iogate/iogate/resources/mqtt"
	"github.com/iogate/iogate/resources/serial"
	"github.com/iogate/iogate/services/bridge"
)

func demoCommand() command {
	return command{
		name:    "demo",
		summary: "self-contained demo: a simulated sensor on a pty, the embedded broker, the bridge, MQTT traffic live",
		setup: func(fs *flag.FlagSet) func(stdout, stderr io.Writer) error {
			listen := fs.String("listen", "127.0.0.1:0", "embedded broker `address` (port 0: any free port)")
			rate := fs.Float64("rate", 2, "sensor lines per `second`")
			messages := fs.Int("messages", 0, "stop after printing this many MQTT messages (0: run until Ctrl-C)")
			logs := addLogFlags(fs)
			return func(stdout, stderr io.Writer) error {
				if *rate <= 0 || *rate > 10000 {
					return usageError{fmt.Errorf("--rate %g: want more than 0 and at most 10000", *rate)}
				}
				return demo(stdout, stderr, *listen, *rate, *messages, logs)
			}
		},
	}
}

// demoConfig is the gateway's configuration in the demo: one writable GPS
// on a pty, JSON frames, the embedded broker.
const demoConfig = `
[gateway]
id = "demo"
state_dir = %q
[log]
level = "warn"
[mqtt]
broker = "tcp://%s"
keepalive = "10s"
[[device]]
name = "gps"
path = %q
baud = 9600
framing = "line"
encoding = "json"
writable = true
`

func demo(stdout, stderr io.Writer, listen string, rate float64, messages int, logs logFlags) error {
	sensor, err := serial.OpenPTY()
	if err != nil {
		return fmt.Errorf("simulated sensor: %w", err)
	}
	defer sensor.Close()
	log, err := logs.logger(stderr, config.Log{Level: "warn", Format: "text"})
	if err != nil {
		return err
	}
	broker, err := mqtt.StartBroker(listen, slogTo(log.WithField("component", "broker")))
	if err != nil {
		return fmt.Errorf("embedded broker: %w", err)
	}
	defer broker.Close()
	stateDir, err := os.MkdirTemp("", "iogate-demo-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(stateDir)

	text := fmt.Sprintf(demoConfig, stateDir, broker.Addr(), sensor.SlavePath())
	c, err := config.Parse("demo.toml", []byte(text))
	if err != nil {
		return err
	}
	svc, err := bridge.New(c, log)
	if err != nil {
		return err
	}
	svc.SetVersion(buildVersion())

	done := make(chan struct{})
	var stopOnce sync.Once
	stop := func() { stopOnce.Do(func() { svc.Stop(); close(done) }) }
	out := &lockedWriter{w: stdout}
	sub, err := subscribe(broker.Addr(), c.MQTT.TopicPrefix, out, messages, stop)
	if err != nil {
		return err
	}
	defer sub.Disconnect(100)

	// The sensor writes through its own descriptor, with Go's poller: it is
	// the device, not part of the gateway.
	fd, err := unix.Dup(sensor.Fd())
	if err != nil {
		return err
	}
	dev := os.NewFile(uintptr(fd), "sensor")
	defer dev.Close()
	go simulate(dev, rate, done)
	go sendCommands(sub, c.MQTT.TopicPrefix+"/gps/tx", done)

	signals := make(chan os.Signal, 1)
	signal.Notify(signals, syscall.SIGINT, syscall.SIGTERM)
	defer signal.Stop(signals)
	go func() {
		select {
		case <-signals:
			stop()
		case <-done:
		}
	}()

	fmt.Fprintf(stderr, "iogate demo: sensor on %s, broker on %s, topics %s/#\n", sensor.SlavePath(), broker.Addr(), c.MQTT.TopicPrefix)
	fmt.Fprintf(stderr, "  watch:   mosquitto_sub -h %s -p %s -t '%s/#' -v\n", host(broker.Addr()), port(broker.Addr()), c.MQTT.TopicPrefix)
	fmt.Fprintf(stderr, "  command: mosquitto_pub -h %s -p %s -t %s/gps/tx -m '{\"data\":\"PING\"}'\n", host(broker.Addr()), port(broker.Addr()), c.MQTT.TopicPrefix)
	fmt.Fprintf(stderr, "  Ctrl-C stops.\n")
	return svc.Run()
}

// lockedWriter serialises lines from the MQTT client's goroutines.
type lockedWriter struct {
	mu sync.Mutex
	w  io.Writer
}

func (l *lockedWriter) printf(format string, args ...any) {
	l.mu.Lock()
	defer l.mu.Unlock()
	fmt.Fprintf(l.w, format, args...)
}

// subscribe prints every message under prefix as "<topic> <payload>"; after
// limit messages (if not 0) it calls stop.
func subscribe(addr, prefix string, out *lockedWriter, limit int, stop func()) (paho.Client, error) {
	var mu sync.Mutex
	seen := 0
	opts := paho.NewClientOptions().AddBroker("tcp://" + addr).SetClientID("iogate-demo-viewer").SetAutoReconnect(true)
	client := paho.NewClient(opts)
	if t := client.Connect(); !t.WaitTimeout(10*time.Second) || t.Error() != nil {
		return nil, fmt.Errorf("demo subscriber: connect %s: %v", addr, t.Error())
	}
	t := client.Subscribe(prefix+"/#", 1, func(_ paho.Client, m paho.Message) {
		out.printf("%s %s\n", m.Topic(), m.Payload())
		mu.Lock()
		seen++
		n := seen
		mu.Unlock()
		if limit > 0 && n >= limit {
			stop()
		}
	})
	if !t.WaitTimeout(10*time.Second) || t.Error() != nil {
		client.Disconnect(0)
		return nil, fmt.Errorf("demo subscriber: subscribe: %v", t.Error())
	}
	return client, nil
}

// simulate is a GPS receiver: NMEA GGA sentences at rate per second, and an
// answer to each command it reads.
func simulate(dev *os.File, rate float64, done <-chan struct{}) {
	go func() {
		buf := make([]byte, 256)
		for {
			n, err := dev.Read(buf)
			if err != nil {
				return
			}
			fmt.Fprintf(dev, "$PIOG,ACK,%s\r\n", trimLine(buf[:n]))
		}
	}()
	tick := time.NewTicker(time.Duration(float64(time.Second) / rate))
	defer tick.Stop()
	for i := 0; ; i++ {
		select {
		case <-done:
			return
		case now := <-tick.C:
			if _, err := io.WriteString(dev, gga(now, i)); err != nil {
				return
			}
		}
	}
}

// sendCommands sends the sensor a command now and then, so the tx direction
// shows too.
func sendCommands(c paho.Client, topic string, done <-chan struct{}) {
	tick := time.NewTicker(5 * time.Second)
	defer tick.Stop()
	for i := 1; ; i++ {
		select {
		case <-done:
			return
		case <-tick.C:
			c.Publish(topic, 1, false, fmt.Sprintf(`{"data":"PING %d"}`, i))
		}
	}
}

// gga is an NMEA 0183 GGA sentence with a valid checksum, wandering a little.
func gga(now time.Time, i int) string {
	body := fmt.Sprintf("GPGGA,%s,4807.%03d,N,01131.%03d,E,1,08,0.9,545.4,M,46.9,M,,",
		now.UTC().Format("150405.00"), 38+i%50, 324+i%70)
	var sum byte
	for j := 0; j < len(body); j++ {
		sum ^= body[j]
	}
	return fmt.Sprintf("$%s*%02X\r\n", body, sum)
}

func trimLine(b []byte) string {
	for len(b) > 0 && (b[len(b)-1] == '\n' || b[len(b)-1] == '\r') {
		b = b[:len(b)-1]
	}
	return string(b)
}

func host(addr string) string {
	h, _, _ := net.SplitHostPort(addr)
	return h
}

func port(addr string) string {
	_, p, _ := net.SplitHostPort(addr)
	return p
}
