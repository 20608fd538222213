package integration

import (
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/iogate/iogate/resources/serial"
)

// python is Debian's, into which python3-pymodbus installs.
const python = "/usr/bin/python3"

// pymodbusSlaves runs pymodbus 3.0's RTU server on argv[1], 19200 8N1,
// as slaves 1 and 2 (slave 3 is absent). Slave 1 is an energy meter: an
// SDM120's float32 input registers, and input register 60 counts the reads
// of it, one more at every read. Slave 2 has holding registers and coils to
// write, and holding registers 0-99 only: a read past them is exception 2.
const pymodbusSlaves = `
import asyncio, struct, sys
from pymodbus.datastore import ModbusSequentialDataBlock, ModbusSlaveContext, ModbusServerContext
from pymodbus.server import StartAsyncSerialServer
from pymodbus.transaction import ModbusRtuFramer

def f32(v):
    return list(struct.unpack(">2H", struct.pack(">f", v)))

class Counting(ModbusSequentialDataBlock):
    reads = 0
    def getValues(self, address, count=1):
        if address <= 60 < address + count:
            Counting.reads += 1
            self.values[60] = Counting.reads & 0xffff
        return super().getValues(address, count)

ir = [0] * 100
ir[0x00:0x02] = f32(230.1)
ir[0x06:0x08] = f32(1.25)
ir[0x0C:0x0E] = f32(287.5)
meter = ModbusSlaveContext(ir=Counting(0, ir), hr=ModbusSequentialDataBlock(0, [0] * 10),
    co=ModbusSequentialDataBlock(0, [0] * 10), di=ModbusSequentialDataBlock(0, [0] * 10), zero_mode=True)
io = ModbusSlaveContext(hr=ModbusSequentialDataBlock(0, [0] * 100), co=ModbusSequentialDataBlock(0, [0] * 16),
    ir=ModbusSequentialDataBlock(0, [0] * 10), di=ModbusSequentialDataBlock(0, [1, 0, 1] + [0] * 13), zero_mode=True)
context = ModbusServerContext(slaves={1: meter, 2: io}, single=False)

async def main():
    server = await StartAsyncSerialServer(context=context, framer=ModbusRtuFramer, port=sys.argv[1],
        baudrate=19200, bytesize=8, parity="N", stopbits=1, defer_start=True)
    await server.start()
    print("ready", flush=True)
    await server.serve_forever()

asyncio.run(main())
`

// bus is an RS-485 line between the gateway and the pymodbus slaves: two
// ptys relayed by the test, which can put noise on the line.
type bus struct {
	t               *testing.T
	gateway, slaves *serial.PTY
	mu              sync.Mutex
	noise           []byte // sent to the gateway at the next reply
}

func startBus(t *testing.T) *bus {
	t.Helper()
	if err := exec.Command(python, "-c", "import pymodbus.server, serial_asyncio").Run(); err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatal("pymodbus is missing; CI must have it (apt-get install python3-pymodbus)")
		}
		t.Skip("pymodbus is not installed (apt-get install python3-pymodbus)")
	}
	b := &bus{t: t}
	var err error
	if b.gateway, err = serial.OpenPTY(); err != nil {
		t.Fatal(err)
	}
	if b.slaves, err = serial.OpenPTY(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { b.gateway.Close(); b.slaves.Close() })
	ready := make(chan struct{})
	start(t, func(line string) bool {
		if line == "ready" {
			close(ready)
			return true
		}
		return false
	}, python, "-c", pymodbusSlaves, b.slaves.SlavePath())
	select {
	case <-ready:
	case <-time.After(deadline):
		t.Fatal("pymodbus did not start")
	}
	go b.relay(b.gateway, b.slaves, false)
	go b.relay(b.slaves, b.gateway, true)
	return b
}

// relay copies what one side writes to the other, through non-blocking
// ptys; toGateway puts the noise asked for ahead of a reply.
func (b *bus) relay(from, to *serial.PTY, toGateway bool) {
	fromFile := os.NewFile(uintptr(dup(b.t, from.Fd())), "from")
	toFile := os.NewFile(uintptr(dup(b.t, to.Fd())), "to")
	defer fromFile.Close()
	defer toFile.Close()
	buf := make([]byte, 4096)
	for {
		n, err := fromFile.Read(buf)
		if err != nil {
			return
		}
		if toGateway {
			b.mu.Lock()
			noise := b.noise
			b.noise = nil
			b.mu.Unlock()
			toFile.Write(noise)
		}
		if _, err := toFile.Write(buf[:n]); err != nil {
			return
		}
	}
}

func dup(t *testing.T, fd int) int {
	n, err := syscall.Dup(fd)
	if err != nil {
		t.Fatal(err)
	}
	return n
}

// addNoise puts garbage on the line ahead of the next reply.
func (b *bus) addNoise(garbage string) {
	b.mu.Lock()
	b.noise = append(b.noise, garbage...)
	b.mu.Unlock()
}

const modbusDevice = `[[device]]
name = "bus"
path = %q
baud = 19200
protocol = "modbus-rtu"
writable = true
modbus_timeout = "200ms"
modbus_retries = 1
modbus_tcp_listen = %q
reconnect_min = "50ms"

[[device.slave]]
id = 1
name = "meter"
every = "100ms"

[[device.slave.point]]
name = "voltage"
table = "input"
address = 0x0000
type = "float32"
unit = "V"

[[device.slave.point]]
name = "current"
table = "input"
address = 0x0006
type = "float32"

[[device.slave.point]]
name = "power"
table = "input"
address = 0x000C
type = "float32"

[[device.slave.point]]
name = "reads"
table = "input"
address = 60

[[device.slave]]
id = 2
name = "io"
every = "200ms"

[[device.slave.point]]
name = "setpoint"
table = "holding"
address = 10
type = "int16"
scale = 0.1
writable = true

[[device.slave.point]]
name = "relay"
table = "coil"
address = 3
writable = true

[[device.slave.point]]
name = "door"
table = "discrete"
address = 0

[[device.slave.point]]
name = "beyond"
table = "holding"
address = 150

[[device.slave]]
id = 3
name = "absent"
every = "200ms"

[[device.slave.point]]
name = "x"
table = "holding"
address = 0
`

// The gateway is the master of a bus of pymodbus slaves: their values are
// published retained, the absent slave goes offline without harming the
// others, a point past the slave's registers gets its exception, writes
// from MQTT are read back, raw requests are answered, noise on the line is
// counted and survived, mbpoll reads through the Modbus TCP server while
// the polls go on, and values made during a broker outage all arrive.
func TestModbusMaster(t *testing.T) {
	t.Parallel()
	b := startBus(t)
	mq := startMosquitto(t)
	sub := subscribe(t, mq.url(), prefix+"/#")
	link := startProxy(t, fmt.Sprintf("127.0.0.1:%d", mq.port)) // the network to the broker, to cut
	tcpAddr, metricsAddr := freeAddr(t), freeAddr(t)
	gw := startGatewayWith(t, gatewayOptions{args: []string{"--log-level", "debug"}}, link.url(),
		fmt.Sprintf("[metrics]\nlisten = %q\n\n", metricsAddr)+fmt.Sprintf(modbusDevice, b.gateway.SlavePath(), tcpAddr))
	bus := prefix + "/bus"

	sub.waitFor(bus+"/meter/status", "online")
	sub.waitFor(bus+"/io/status", "online")
	sub.waitFor(bus+"/absent/status", "offline")
	sub.waitFor(bus+"/meter/voltage", "230.1")
	sub.waitFor(bus+"/meter/current", "1.25")
	sub.waitFor(bus+"/meter/power", "287.5")
	sub.waitFor(bus+"/io/door", "true")
	sub.waitFor(bus+"/io/setpoint", "0")
	gw.log.waitFor(t, "the point past slave 2's registers refused", func(e entry) bool {
		return e.is("warning", "modbus: read refused") && strings.Contains(fmt.Sprint(e["error"]), "illegal data address") && e["points"] == "beyond"
	})
	// Retained: a client that comes later gets the values at once.
	late := subscribe(t, mq.url(), bus+"/meter/voltage")
	if m := late.next(bus + "/meter/voltage"); !m.retained || m.payload != "230.1" {
		t.Fatalf("a late subscriber got %+v, want the retained value", m)
	}

	// A write, scaled back and read back; one out of range refused.
	sub.publish(bus+"/io/setpoint/set", "21.5")
	sub.waitFor(bus+"/io/setpoint", "21.5")
	sub.publish(bus+"/io/setpoint/set", "5000")
	if e := sub.next(bus + "/error"); !strings.Contains(e.payload, "out of range") {
		t.Fatalf("out of range write: %s", e.payload)
	}
	sub.publish(bus+"/io/relay/set", `"ON"`)
	sub.waitFor(bus+"/io/relay", "true")

	// A raw request.
	sub.publish(bus+"/request", `{"id":"r1","slave":1,"function":4,"address":0,"count":2}`)
	var reply struct {
		ID        string
		Registers []uint16
		Error     string
	}
	json.Unmarshal([]byte(sub.next(bus+"/reply").payload), &reply)
	if reply.ID != "r1" || len(reply.Registers) != 2 || reply.Registers[0] != 0x4366 {
		t.Fatalf("raw request reply %+v", reply)
	}

	// Noise ahead of a reply: counted, and the bus goes on.
	b.addNoise("\x00\xff\x13garbage")
	after := readsSeen(t, sub, bus+"/meter/reads")
	for readsSeen(t, sub, bus+"/meter/reads") < after+5 {
	}

	// mbpoll, a Modbus TCP master, through the gateway's server while the
	// polls go on: slave 2's setpoint, and the absent slave (0x0B).
	if mbpoll, err := exec.LookPath("mbpoll"); err == nil || os.Getenv("CI") == "true" {
		host, port, _ := net.SplitHostPort(tcpAddr)
		out, err := exec.Command(mbpoll, "-m", "tcp", "-a", "2", "-r", "11", "-t", "4", "-1", "-p", port, host).CombinedOutput()
		if err != nil || !strings.Contains(string(out), "[11]: \t215") {
			t.Fatalf("mbpoll through the gateway: %v\n%s", err, out)
		}
		out, _ = exec.Command(mbpoll, "-m", "tcp", "-a", "3", "-r", "1", "-t", "4", "-1", "-p", port, host).CombinedOutput()
		if !strings.Contains(strings.ToLower(string(out)), "target device failed to respond") {
			t.Fatalf("mbpoll to the absent slave: %s", out)
		}
	}

	// A TCP client that sends what is not Modbus TCP is closed, and counted.
	junk, err := net.Dial("tcp", tcpAddr)
	if err != nil {
		t.Fatal(err)
	}
	junk.Write([]byte("GET / HTTP/1.0\r\n\r\n"))
	junk.SetReadDeadline(time.Now().Add(deadline))
	if n, err := junk.Read(make([]byte, 64)); err != io.EOF {
		t.Fatalf("a client sending HTTP to the Modbus TCP server: read %d, %v; want it closed", n, err)
	}
	junk.Close()

	// An outage of the broker: every value read meanwhile arrives, in
	// order.
	first := readsSeen(t, sub, bus+"/meter/reads")
	link.kill()
	gw.log.waitFor(t, "the broker lost", func(e entry) bool { return e.is("warning", "mqtt: connection lost") })
	gw.log.waitFor(t, "a reconnect refused", func(e entry) bool { return e.is("warning", "mqtt: cannot connect") })
	link.restart()
	last := 0
	for last < first+20 {
		last = readsSeen(t, sub, bus+"/meter/reads")
	}
	var got []int
	for _, p := range sub.seen(bus + "/meter/reads") {
		n, _ := strconv.Atoi(p)
		if n >= first && (len(got) == 0 || n > got[len(got)-1]) {
			got = append(got, n)
		}
	}
	for i := 1; i < len(got); i++ {
		if got[i] != got[i-1]+1 {
			t.Fatalf("reads %v: value %d lost", got, got[i-1]+1)
		}
	}
	if gw.log.count("modbus: bytes on the line") == 0 && gw.log.count("modbus: bad reply") == 0 {
		t.Error("the noise on the line was not noticed")
	}

	// The slaves' counters.
	resp, err := http.Get("http://" + metricsAddr + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	for _, want := range []string{
		`iogate_modbus_slave_up{device="bus",slave="meter"} 1`,
		`iogate_modbus_slave_up{device="bus",slave="absent"} 0`,
		`iogate_modbus_exceptions_total{device="bus",slave="io",code="2",name="illegal data address"}`,
		`iogate_modbus_request_seconds_count{device="bus",slave="meter"}`,
		`iogate_tcp_dropped_total{device="bus"} 1`,
	} {
		if !strings.Contains(string(body), want) {
			t.Errorf("/metrics has no %s", want)
		}
	}
	if !regexp.MustCompile(`iogate_modbus_timeouts_total\{device="bus",slave="absent"\} [1-9]`).Match(body) {
		t.Error("the absent slave's timeouts are not counted")
	}
}

// readsSeen waits for the next value of the meter's read counter.
func readsSeen(t *testing.T, sub *client, topic string) int {
	t.Helper()
	n, err := strconv.Atoi(sub.next(topic).payload)
	if err != nil {
		t.Fatal(err)
	}
	return n
}

// freeAddr is a loopback address nobody listens on.
func freeAddr(t *testing.T) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().String()
}

// pymodbusTCP runs pymodbus 3.0's Modbus TCP server on a free loopback
// port, which it prints, with the meter of slave 1 above as unit 1.
const pymodbusTCP = `
import asyncio, struct
from pymodbus.datastore import ModbusSequentialDataBlock, ModbusSlaveContext, ModbusServerContext
from pymodbus.server.async_io import ModbusTcpServer
from pymodbus.transaction import ModbusSocketFramer

def f32(v):
    return list(struct.unpack(">2H", struct.pack(">f", v)))

ir = [0] * 100
ir[0x00:0x02] = f32(230.1)
hr = [0] * 100
meter = ModbusSlaveContext(ir=ModbusSequentialDataBlock(0, ir), hr=ModbusSequentialDataBlock(0, hr),
    co=ModbusSequentialDataBlock(0, [0] * 10), di=ModbusSequentialDataBlock(0, [0] * 10), zero_mode=True)
context = ModbusServerContext(slaves={1: meter}, single=False)

async def main():
    server = ModbusTcpServer(context, ModbusSocketFramer, address=("127.0.0.1", 0))
    task = asyncio.create_task(server.serve_forever())
    await server.serving
    print("ready", server.server.sockets[0].getsockname()[1], flush=True)
    await task

asyncio.run(main())
`

// A Modbus TCP device (pymodbus's server) is polled over MBAP like a slave
// on a line: its values are published, a write is read back, and a
// restart of the server is a reconnect.
func TestModbusTCPDevice(t *testing.T) {
	t.Parallel()
	if err := exec.Command(python, "-c", "import pymodbus.server").Run(); err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatal("pymodbus is missing; CI must have it (apt-get install python3-pymodbus)")
		}
		t.Skip("pymodbus is not installed")
	}
	port := make(chan string, 1)
	start(t, func(line string) bool {
		if f := strings.Fields(line); len(f) == 2 && f[0] == "ready" {
			port <- f[1]
			return true
		}
		return false
	}, python, "-c", pymodbusTCP)
	var addr string
	select {
	case p := <-port:
		addr = "127.0.0.1:" + p
	case <-time.After(deadline):
		t.Fatal("pymodbus did not start")
	}
	mq := startMosquitto(t)
	sub := subscribe(t, mq.url(), prefix+"/#")
	startGateway(t, mq.url(), fmt.Sprintf(`[[device]]
name = "plc"
kind = "tcp"
address = %q
protocol = "modbus-tcp"
reconnect_min = "50ms"

[[device.slave]]
id = 1
name = "meter"
every = "100ms"

[[device.slave.point]]
name = "voltage"
table = "input"
address = 0
type = "float32"

[[device.slave.point]]
name = "limit"
table = "holding"
address = 5
writable = true
`, addr))
	sub.waitFor(prefix+"/plc/status", "online")
	sub.waitFor(prefix+"/plc/meter/status", "online")
	sub.waitFor(prefix+"/plc/meter/voltage", "230.1")
	sub.publish(prefix+"/plc/meter/limit/set", "42")
	sub.waitFor(prefix+"/plc/meter/limit", "42")
}
