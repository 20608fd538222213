package main

import (
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"github.com/iogate/iogate/bench/internal/proc"
)

// broker is the mosquitto every bridge publishes to, one for the whole
// run. Its log tells when a client has connected: the pipeline's
// mosquitto_pub says nothing itself.
type broker struct {
	*proc.Process
	port int

	mu      sync.Mutex
	waiters map[string]chan struct{} // closed when a log line contains the key
}

// mosquittoConf: anonymous clients on loopback, nothing on disk, and no cap
// on what is queued for a slow subscriber, so that a lost frame is the
// bridge's doing and not the broker's.
const mosquittoConf = "listener %d 127.0.0.1\nallow_anonymous true\npersistence false\nmax_queued_messages 0\nconnection_messages true\n"

// startBroker starts mosquitto (bin) on a free loopback port and returns once it
// is listening.
func startBroker(dir, bin string) (*broker, error) {
	var last error
	for range 3 { // the free port may be taken before mosquitto binds it
		port, err := freePort()
		if err != nil {
			return nil, err
		}
		conf := filepath.Join(dir, "mosquitto.conf")
		if err := os.WriteFile(conf, fmt.Appendf(nil, mosquittoConf, port), 0o644); err != nil {
			return nil, err
		}
		b := &broker{port: port, waiters: map[string]chan struct{}{}}
		// "mosquitto version 2.0.11 running": the listener is bound.
		running := b.waitLog(" running")
		if b.Process, err = proc.Start("mosquitto", exec.Command(bin, "-c", conf), b.line); err != nil {
			return nil, err
		}
		select {
		case <-running:
			return b, nil
		case <-b.Exited():
			last = b.Failed("did not start")
		case <-time.After(10 * time.Second):
			b.Stop(time.Second)
			return nil, b.Failed("not running after 10s")
		}
	}
	return nil, last
}

// waitLog returns a channel closed when a later line of the log contains
// key.
func (b *broker) waitLog(key string) <-chan struct{} {
	b.mu.Lock()
	defer b.mu.Unlock()
	c := make(chan struct{})
	b.waiters[key] = c
	return c
}

func (b *broker) line(line string) {
	b.mu.Lock()
	defer b.mu.Unlock()
	for k, c := range b.waiters {
		if strings.Contains(line, k) {
			close(c)
			delete(b.waiters, k)
		}
	}
}

func (b *broker) addr() string { return fmt.Sprintf("127.0.0.1:%d", b.port) }

// freePort returns a loopback TCP port that was free a moment ago.
func freePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}
