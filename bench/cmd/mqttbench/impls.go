package main

import (
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/iogate/iogate/bench/internal/proc"
)

// The bridges under test.
const (
	implIogate   = "iogate"
	implGobridge = "gobridge"
	implPipeline = "pipeline"
)

var allImpls = []string{implIogate, implGobridge, implPipeline}

// startLimit bounds the time a bridge takes to be ready.
const startLimit = 15 * time.Second

// tools are the programs the benchmark starts.
type tools struct {
	dir       string // for configs
	iogate    string
	gobridge  string
	socat     string
	pub       string
	brokerBin string
	broker    *broker
	inflight  int // gobridge -inflight
}

// bridgeRun is one bridge under test: its processes, all of whose CPU time
// and memory count.
type bridgeRun struct {
	impl  string
	procs []*proc.Process
}

func (b *bridgeRun) pids() []int {
	var p []int
	for _, pr := range b.procs {
		p = append(p, pr.Pid())
	}
	return p
}

// check reports a process of the bridge that has ended.
func (b *bridgeRun) check() error {
	for _, p := range b.procs {
		select {
		case <-p.Exited():
			return p.Failed("ended during the run")
		default:
		}
	}
	return nil
}

// stop stops every process, the pipeline's socats first so that their
// mosquitto_pubs see the end of their input.
func (b *bridgeRun) stop() error {
	var errs []error
	for _, p := range b.procs {
		errs = append(errs, p.Stop(10*time.Second))
	}
	return errors.Join(errs...)
}

// startBridge starts impl on the terminals at paths, publishing to
// prefix/dN/rx, and returns once it is ready to bridge: iogate once the
// status of every device says online (it opens them before it connects),
// gobridge once it prints "ready", the pipeline once every socat has
// opened its terminal and the broker has logged every mosquitto_pub's
// connection.
func startBridge(t tools, impl, prefix string, paths []string, rx *reception) (*bridgeRun, error) {
	b := &bridgeRun{impl: impl}
	var err error
	switch impl {
	case implIogate:
		err = b.startIogate(t, prefix, paths, rx)
	case implGobridge:
		err = b.startGobridge(t, prefix, paths)
	case implPipeline:
		err = b.startPipeline(t, prefix, paths)
	default:
		err = fmt.Errorf("no bridge %q", impl)
	}
	if err != nil {
		for _, p := range b.procs {
			p.Stop(time.Second)
		}
		return nil, err
	}
	return b, nil
}

// iogateConf is the configuration a user writes for iogate run: the broker,
// QoS 1, and one serial device per terminal with line framing and text
// payloads.
func iogateConf(dir, brokerAddr, prefix string, paths []string) string {
	var c strings.Builder
	fmt.Fprintf(&c, "[gateway]\nid = \"bench\"\nstate_dir = %q\n\n", dir)
	fmt.Fprintf(&c, "[mqtt]\nbroker = \"tcp://%s\"\nqos = 1\ntopic_prefix = %q\n", brokerAddr, prefix)
	for i, p := range paths {
		fmt.Fprintf(&c, "\n[[device]]\nname = \"d%d\"\npath = %q\nbaud = 115200\nframing = \"line\"\nencoding = \"text\"\n", i, p)
	}
	return c.String()
}

func (b *bridgeRun) startIogate(t tools, prefix string, paths []string, rx *reception) error {
	conf := filepath.Join(t.dir, "iogate.toml")
	if err := os.WriteFile(conf, []byte(iogateConf(t.dir, t.broker.addr(), prefix, paths)), 0o644); err != nil {
		return err
	}
	p, err := proc.Start("iogate", exec.Command(t.iogate, "run", "-c", conf), nil)
	if err != nil {
		return err
	}
	b.procs = append(b.procs, p)
	select {
	case <-rx.ready:
		return nil
	case <-p.Exited():
		return p.Failed("did not start")
	case <-time.After(startLimit):
		return p.Failed(fmt.Sprintf("did not publish its devices online within %v", startLimit))
	}
}

// gobridgeArgs are gobridge's arguments.
func gobridgeArgs(t tools, prefix string, paths []string) []string {
	args := []string{"-broker", "tcp://" + t.broker.addr(), "-prefix", prefix, "-qos", "1", "-inflight", strconv.Itoa(t.inflight)}
	for i, p := range paths {
		args = append(args, fmt.Sprintf("d%d=%s", i, p))
	}
	return args
}

func (b *bridgeRun) startGobridge(t tools, prefix string, paths []string) error {
	ready := make(chan struct{})
	p, err := proc.Start("gobridge", exec.Command(t.gobridge, gobridgeArgs(t, prefix, paths)...), func(line string) {
		if line == "ready" {
			close(ready)
		}
	})
	if err != nil {
		return err
	}
	b.procs = append(b.procs, p)
	select {
	case <-ready:
		return nil
	case <-p.Exited():
		return p.Failed("did not start")
	case <-time.After(startLimit):
		return p.Failed(fmt.Sprintf("not ready within %v", startLimit))
	}
}

// socatArgs and pubArgs are the two halves of the pipeline a user writes
// per device:
//
//	socat -d -d -u OPEN:PATH,raw,echo=0 STDOUT | mosquitto_pub -h HOST -p PORT -l -t TOPIC -q 1 -i ID
//
// -d -d only makes socat say when it has the terminal open, and -i names
// the client so that the broker's log says when it is connected.
func socatArgs(path string) []string {
	return []string{"-d", "-d", "-u", "OPEN:" + path + ",raw,echo=0", "STDOUT"}
}

func pubArgs(t tools, topic, id string) []string {
	return []string{"-h", "127.0.0.1", "-p", strconv.Itoa(t.broker.port), "-l", "-t", topic, "-q", "1", "-i", id}
}

func (b *bridgeRun) startPipeline(t tools, prefix string, paths []string) error {
	var waits []<-chan struct{}
	var starters []*proc.Process
	for i, path := range paths {
		id := strings.ReplaceAll(fmt.Sprintf("%s-d%d", prefix, i), "/", "-")
		connected := t.broker.waitLog(" as " + id + " ")
		r, w, err := os.Pipe()
		if err != nil {
			return err
		}
		pub := exec.Command(t.pub, pubArgs(t, fmt.Sprintf("%s/d%d/rx", prefix, i), id)...)
		pub.Stdin = r
		pp, err := proc.Start("mosquitto_pub", pub, nil)
		r.Close()
		if err != nil {
			w.Close()
			return err
		}
		b.procs = append(b.procs, pp)
		opened := make(chan struct{})
		soc := exec.Command(t.socat, socatArgs(path)...)
		soc.Stdout = w
		sp, err := proc.Start("socat", soc, func(line string) {
			if strings.Contains(line, "starting data transfer loop") {
				close(opened)
			}
		})
		w.Close()
		if err != nil {
			return err
		}
		// Stopped first: the socats end the pipelines' input.
		b.procs = append([]*proc.Process{sp}, b.procs...)
		waits = append(waits, connected, opened)
		starters = append(starters, pp, sp)
	}
	limit := time.After(startLimit)
	for i, c := range waits {
		p := starters[i]
		select {
		case <-c:
		case <-p.Exited():
			return p.Failed("did not start")
		case <-limit:
			return p.Failed(fmt.Sprintf("not ready within %v", startLimit))
		}
	}
	return nil
}
