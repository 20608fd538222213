// Command gobridge is the serial-to-MQTT bridge a Go programmer writes
// without iogate: a goroutine per serial port (go.bug.st/serial) that reads
// lines and publishes each one at QoS 1 with the paho client
// (github.com/eclipse/paho.mqtt.golang). It is the Go peer of iogate in the
// serial-mqtt benchmark (cmd/mqttbench), written plainly, the way the
// libraries' documentation shows, and without tuning for the benchmark.
//
//	gobridge -broker tcp://127.0.0.1:1883 -prefix bench/gobridge d0=/dev/pts/3 d1=/dev/pts/4 ...
//
// Each NAME=PATH argument is a port; its lines go to PREFIX/NAME/rx, the
// line ending stripped. Publishing does not wait for each PUBACK in the
// read loop: the tokens go to a second goroutine per port that waits for
// them in order, through a channel of -inflight slots, so at most that many
// publishes of a port await their PUBACK and a broker that stops answering
// holds the port's reads back. gobridge prints "ready" on stdout once it is
// connected and every port is open, and stops on SIGINT or SIGTERM.
package main

import (
	"bufio"
	"errors"
	"flag"
	"fmt"
	"log"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"

	paho "github.com/eclipse/paho.mqtt.golang"
	"go.bug.st/serial"
)

func main() {
	broker := flag.String("broker", "tcp://127.0.0.1:1883", "MQTT broker `URL`")
	prefix := flag.String("prefix", "gobridge", "topic prefix: a port's lines go to PREFIX/NAME/rx")
	qos := flag.Int("qos", 1, "QoS of the publishes, 0 or 1")
	inflight := flag.Int("inflight", 64, "publishes per port awaiting their PUBACK at most")
	baud := flag.Int("baud", 115200, "baud rate of the ports")
	flag.Usage = func() {
		fmt.Fprintf(flag.CommandLine.Output(), "usage: gobridge [flags] NAME=PATH...\n\nflags:\n")
		flag.PrintDefaults()
	}
	flag.Parse()
	if flag.NArg() == 0 || *inflight < 1 || *qos < 0 || *qos > 1 {
		flag.Usage()
		os.Exit(2)
	}
	log.SetFlags(log.LstdFlags | log.Lmicroseconds)

	opts := paho.NewClientOptions().
		AddBroker(*broker).
		SetClientID(fmt.Sprintf("gobridge-%d", os.Getpid())).
		SetCleanSession(true).
		SetConnectTimeout(10 * time.Second)
	client := paho.NewClient(opts)
	if tok := client.Connect(); tok.Wait() && tok.Error() != nil {
		log.Fatalf("connect to %s: %v", *broker, tok.Error())
	}

	var ports []serial.Port
	for _, arg := range flag.Args() {
		name, path, ok := strings.Cut(arg, "=")
		if !ok || name == "" || path == "" {
			log.Fatalf("%q: want NAME=PATH", arg)
		}
		port, err := serial.Open(path, &serial.Mode{BaudRate: *baud})
		if err != nil {
			log.Fatalf("open %s: %v", path, err)
		}
		ports = append(ports, port)
		acks := make(chan paho.Token, *inflight)
		go bridge(port, client, *prefix+"/"+name+"/rx", byte(*qos), acks)
		go awaitAcks(name, acks)
	}
	fmt.Println("ready")

	stop := make(chan os.Signal, 1)
	signal.Notify(stop, syscall.SIGINT, syscall.SIGTERM)
	<-stop
	for _, p := range ports {
		p.Close()
	}
	client.Disconnect(250)
}

// bridge publishes every line read from port until the port fails or is
// closed.
func bridge(port serial.Port, client paho.Client, topic string, qos byte, acks chan<- paho.Token) {
	defer close(acks)
	sc := bufio.NewScanner(port)
	for sc.Scan() {
		acks <- client.Publish(topic, qos, false, sc.Text())
	}
	var pe *serial.PortError
	if err := sc.Err(); err != nil && !(errors.As(err, &pe) && pe.Code() == serial.PortClosed) {
		log.Printf("read %s: %v", topic, err)
	}
}

// awaitAcks waits for each publish of a port in turn and logs the failed
// ones.
func awaitAcks(name string, acks <-chan paho.Token) {
	for tok := range acks {
		if tok.Wait(); tok.Error() != nil {
			log.Printf("publish %s: %v", name, tok.Error())
		}
	}
}
