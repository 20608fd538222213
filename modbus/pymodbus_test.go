package modbus

import (
	"bufio"
	"errors"
	"net"
	"os"
	"os/exec"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/iogate/iogate/resources/serial"
	"golang.org/x/sys/unix"
)

// deadline bounds every wait of these tests.
const deadline = 15 * time.Second

// python is Debian's, which python3-pymodbus installs into.
const python = "/usr/bin/python3"

// need skips the test when a program (or Python module) is missing, and
// fails it under CI=true.
func need(t *testing.T, what, pkg string, ok bool) {
	t.Helper()
	if ok {
		return
	}
	if os.Getenv("CI") == "true" {
		t.Fatalf("%s is missing; CI must have it (apt-get install %s)", what, pkg)
	}
	t.Skipf("%s is not installed (apt-get install %s)", what, pkg)
}

func needPymodbus(t *testing.T) {
	t.Helper()
	err := exec.Command(python, "-c", "import pymodbus.server, serial_asyncio").Run()
	need(t, "pymodbus", "python3-pymodbus", err == nil)
}

// slaveData is the data store of the pymodbus slaves: the types and orders
// of typedPoints in holding registers, an Eastron SDM120's measurements
// in input registers, coils and discrete inputs.
const slaveData = `
import asyncio, struct, sys
from pymodbus.datastore import ModbusSequentialDataBlock, ModbusSlaveContext, ModbusServerContext

def regs(fmt, v):
    b = struct.pack(fmt, v)
    return list(struct.unpack(">%dH" % (len(b) // 2), b))

hr = [0] * 100
hr[0:1] = [230]
hr[1:2] = regs(">h", -15)
hr[2:4] = regs(">i", -123456)
hr[4:6] = regs(">I", 305419896)[::-1]                     # CDAB
hr[6:8] = regs(">f", 230.1)
hr[8:10] = regs(">f", -0.15)[::-1]                         # CDAB
hr[10:14] = regs(">q", -1234567890123)
hr[14:18] = regs(">d", 0.1)
hr[18:22] = regs(">8s", b"iogate")
hr[22:24] = regs("<I", 305419896)[::-1]                    # BADC: each register's bytes swapped
hr[24:28] = regs("<Q", 18446744073709551615 - 1)           # DCBA
ir = [0] * 80
ir[0x00:0x02] = regs(">f", 230.1)                          # voltage
ir[0x06:0x08] = regs(">f", 1.25)                           # current
ir[0x0C:0x0E] = regs(">f", 287.5)                          # active power
ir[0x46:0x48] = regs(">f", 50.0)                           # frequency
ir[0x48:0x4A] = regs(">f", 12345.67)                       # import active energy
co = [1, 0, 1, 1, 0, 0, 1, 1, 1, 0] + [0] * 90
di = [0, 1, 1, 0, 1] + [0] * 95
store = ModbusSlaveContext(
    hr=ModbusSequentialDataBlock(0, hr), ir=ModbusSequentialDataBlock(0, ir),
    co=ModbusSequentialDataBlock(0, co), di=ModbusSequentialDataBlock(0, di), zero_mode=True)
context = ModbusServerContext(slaves={1: store, 2: store}, single=False)
`

// rtuSlave runs a pymodbus RTU slave on the serial port given as argv[1].
const rtuSlave = slaveData + `
from pymodbus.server import StartAsyncSerialServer
from pymodbus.transaction import ModbusRtuFramer

async def main():
    server = await StartAsyncSerialServer(context=context, framer=ModbusRtuFramer, port=sys.argv[1],
        baudrate=19200, bytesize=8, parity="N", stopbits=1, defer_start=True)
    await server.start()
    print("ready", flush=True)
    await server.serve_forever()

asyncio.run(main())
`

// tcpServer runs a pymodbus Modbus TCP server on a free loopback port,
// which it prints.
const tcpServer = slaveData + `
from pymodbus.server.async_io import ModbusTcpServer
from pymodbus.transaction import ModbusSocketFramer

async def main():
    server = ModbusTcpServer(context, ModbusSocketFramer, address=("127.0.0.1", 0))
    task = asyncio.create_task(server.serve_forever())
    await server.serving
    print("ready", server.server.sockets[0].getsockname()[1], flush=True)
    await task

asyncio.run(main())
`

// startPython runs script with args until the test ends, and returns the
// words of its "ready" line.
func startPython(t *testing.T, script string, args ...string) []string {
	t.Helper()
	cmd := exec.Command(python, append([]string{"-c", script}, args...)...)
	cmd.SysProcAttr = &unix.SysProcAttr{Setpgid: true}
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	cmd.Stderr = cmd.Stdout
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		unix.Kill(-cmd.Process.Pid, unix.SIGKILL)
		cmd.Wait()
	})
	ready := make(chan []string, 1)
	go func() {
		sc := bufio.NewScanner(out)
		for sc.Scan() {
			line := sc.Text()
			t.Logf("pymodbus: %s", line)
			if strings.HasPrefix(line, "ready") {
				ready <- strings.Fields(line)
			}
		}
		close(ready)
	}()
	select {
	case words, ok := <-ready:
		if !ok {
			t.Fatal("pymodbus exited before it was ready")
		}
		return words
	case <-time.After(deadline):
		t.Fatal("pymodbus did not start")
	}
	return nil
}

// master runs one transaction and returns the values of its reply.
type master func(t *testing.T, r Request) ([]uint16, error)

// rtuMaster talks to an RTU slave on the device side of pty.
func rtuMaster(pty *serial.PTY) master {
	var d RTUReplyDecoder
	var frame []byte
	buf := make([]byte, 512)
	return func(t *testing.T, r Request) ([]uint16, error) {
		t.Helper()
		var err error
		if frame, err = r.AppendRTU(frame[:0]); err != nil {
			t.Fatal(err)
		}
		if err := d.Expect(r); err != nil {
			t.Fatal(err)
		}
		if _, err := pty.Write(frame); err != nil {
			t.Fatal(err)
		}
		end := time.Now().Add(deadline)
		var reply []byte
		for time.Now().Before(end) {
			fds := []unix.PollFd{{Fd: int32(pty.Fd()), Events: unix.POLLIN}}
			if _, err := unix.Poll(fds, int(time.Until(end).Milliseconds())+1); err != nil && !errors.Is(err, unix.EINTR) {
				t.Fatal(err)
			}
			n, err := pty.Read(buf)
			if err != nil {
				continue // EAGAIN
			}
			reply = append(reply, buf[:n]...)
			used, done, err := d.Feed(buf[:n])
			if done {
				if used != n {
					t.Errorf("%d bytes after the reply", n-used)
				}
				t.Logf("% x -> % x", frame, reply)
				return d.AppendValues(nil), err
			}
		}
		t.Fatalf("no reply to % x within %v: % x", frame, deadline, reply)
		return nil, nil
	}
}

// tcpMaster talks to a Modbus TCP server on conn.
func tcpMaster(conn net.Conn) master {
	var d TCPReplyDecoder
	var frame []byte
	tid := uint16(0xFFF0) // and on past 0xFFFF
	buf := make([]byte, 512)
	return func(t *testing.T, r Request) ([]uint16, error) {
		t.Helper()
		tid++
		var err error
		if frame, err = r.AppendTCP(frame[:0], tid); err != nil {
			t.Fatal(err)
		}
		if err := d.Expect(tid, r); err != nil {
			t.Fatal(err)
		}
		if _, err := conn.Write(frame); err != nil {
			t.Fatal(err)
		}
		conn.SetReadDeadline(time.Now().Add(deadline))
		for {
			n, err := conn.Read(buf)
			if err != nil {
				t.Fatalf("no reply to % x: %v", frame, err)
			}
			if used, done, err := d.Feed(buf[:n]); done {
				if used != n {
					t.Errorf("%d bytes after the reply", n-used)
				}
				t.Logf("% x -> % x", frame, buf[:n])
				return d.AppendValues(nil), err
			}
		}
	}
}

// typedPoints are the points of slaveData, and the values they publish.
var typedPoints = []struct {
	p    Point
	want string
}{
	{Point{Table: Holding, Address: 0, Type: Uint16}, "230"},
	{Point{Table: Holding, Address: 0, Type: Uint16, Scale: 0.1}, "23"},
	{Point{Table: Holding, Address: 1, Type: Int16, Scale: 0.01}, "-0.15"},
	{Point{Table: Holding, Address: 2, Type: Int32}, "-123456"},
	{Point{Table: Holding, Address: 4, Type: Uint32, Order: CDAB}, "305419896"},
	{Point{Table: Holding, Address: 6, Type: Float32}, "230.1"},
	{Point{Table: Holding, Address: 8, Type: Float32, Order: CDAB}, "-0.15"},
	{Point{Table: Holding, Address: 10, Type: Int64}, "-1234567890123"},
	{Point{Table: Holding, Address: 14, Type: Float64}, "0.1"},
	{Point{Table: Holding, Address: 18, Type: String, Count: 4}, `"iogate"`},
	{Point{Table: Holding, Address: 22, Type: Uint32, Order: BADC}, "305419896"},
	{Point{Table: Holding, Address: 24, Type: Uint64, Order: DCBA}, "18446744073709551614"},
	{Point{Table: Input, Address: 0x00, Type: Float32}, "230.1"},
	{Point{Table: Input, Address: 0x06, Type: Float32}, "1.25"},
	{Point{Table: Input, Address: 0x0C, Type: Float32, Scale: 0.001}, "0.2875"},
	{Point{Table: Input, Address: 0x46, Type: Float32}, "50"},
	{Point{Table: Input, Address: 0x48, Type: Float32}, "12345.67"},
	{Point{Table: Coil, Address: 0, Type: Bool}, "true"},
	{Point{Table: Coil, Address: 1, Type: Bool}, "false"},
	{Point{Table: Coil, Address: 8, Type: Bool}, "true"},
	{Point{Table: Discrete, Address: 0, Type: Bool}, "false"},
	{Point{Table: Discrete, Address: 4, Type: Bool}, "true"},
}

// readPoints reads points as planned and returns each one's JSON.
func readPoints(t *testing.T, m master, slave uint8, points []Point) []string {
	t.Helper()
	reads, err := Plan(slave, points)
	if err != nil {
		t.Fatal(err)
	}
	got := make([]string, len(points))
	for _, r := range reads {
		values, err := m(t, r.Request)
		if err != nil {
			t.Fatalf("%+v: %v", r.Request, err)
		}
		for _, s := range r.Slots {
			b, err := points[s.Point].AppendValue(nil, values[s.Offset:])
			if err != nil {
				t.Fatalf("point %d: %v", s.Point, err)
			}
			got[s.Point] = string(b)
		}
	}
	return got
}

// exercise reads every table and type of slaveData, writes registers and
// coils with functions 5, 6, 15 and 16, reads them back, and asks for an
// address the slave does not have.
func exercise(t *testing.T, m master) {
	var points []Point
	for _, tp := range typedPoints {
		points = append(points, tp.p)
	}
	got := readPoints(t, m, 1, points)
	for i, tp := range typedPoints {
		if got[i] != tp.want {
			t.Errorf("%+v: %s, want %s", tp.p, got[i], tp.want)
		}
	}

	writes := []struct {
		p       Point
		payload string
		fn      Function
	}{
		{Point{Table: Holding, Address: 40, Type: Uint16}, "99", WriteSingleRegister},
		{Point{Table: Holding, Address: 41, Type: Int16, Scale: 0.1}, "-12.5", WriteSingleRegister},
		{Point{Table: Holding, Address: 42, Type: Float32, Order: CDAB}, "-1.5", WriteMultipleRegisters},
		{Point{Table: Holding, Address: 44, Type: String, Count: 3}, `"ABCDE"`, WriteMultipleRegisters},
		{Point{Table: Coil, Address: 1, Type: Bool}, `"ON"`, WriteSingleCoil},
		{Point{Table: Coil, Address: 0, Type: Bool}, "false", WriteSingleCoil},
	}
	var written []Point
	for _, w := range writes {
		values, err := w.p.Encode(nil, []byte(w.payload))
		if err != nil {
			t.Fatal(err)
		}
		r, err := w.p.WriteRequest(2, values)
		if err != nil || r.Function != w.fn {
			t.Fatalf("%+v: %+v %v", w.p, r, err)
		}
		if _, err := m(t, r); err != nil {
			t.Fatalf("write %s to %+v: %v", w.payload, w.p, err)
		}
		written = append(written, w.p)
	}
	coils := Request{Slave: 1, Function: WriteMultipleCoils, Address: 10, Count: 11, Values: []uint16{1, 1, 0, 1, 0, 0, 0, 0, 1, 0, 1}}
	if _, err := m(t, coils); err != nil {
		t.Fatalf("write coils: %v", err)
	}
	// Slaves 1 and 2 share their data store: what one took, the other reads.
	got = readPoints(t, m, 1, written)
	want := []string{"99", "-12.5", "-1.5", `"ABCDE"`, "true", "false"}
	if !slices.Equal(got, want) {
		t.Errorf("read back %v, want %v", got, want)
	}
	bits, err := m(t, Request{Slave: 2, Function: ReadCoils, Address: 10, Count: 11})
	if err != nil || !slices.Equal(bits, coils.Values) {
		t.Errorf("coils read back %v %v, want %v", bits, err, coils.Values)
	}

	if _, err := m(t, Request{Slave: 1, Function: ReadHoldingRegisters, Address: 99, Count: 2}); !errors.Is(err, IllegalDataAddress) {
		t.Errorf("a read past the data store: %v, want exception 2", err)
	}
	if _, err := m(t, Request{Slave: 1, Function: WriteSingleRegister, Address: 100, Count: 1, Values: []uint16{1}}); !errors.Is(err, IllegalDataAddress) {
		t.Errorf("a write past the data store: %v, want exception 2", err)
	}
}

// pymodbus 3.0.0's RTU slave, on a pty, answers the codec's requests.
func TestPymodbusRTU(t *testing.T) {
	needPymodbus(t)
	pty, err := serial.OpenPTY()
	if err != nil {
		t.Fatal(err)
	}
	defer pty.Close()
	startPython(t, rtuSlave, pty.SlavePath())
	exercise(t, rtuMaster(pty))
}

// pymodbus 3.0.0's Modbus TCP server answers the codec's requests, under
// transaction ids that wrap past 0xFFFF.
func TestPymodbusTCP(t *testing.T) {
	needPymodbus(t)
	ready := startPython(t, tcpServer)
	if len(ready) != 2 {
		t.Fatalf("ready line %v", ready)
	}
	conn, err := net.DialTimeout("tcp", "127.0.0.1:"+ready[1], deadline)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	exercise(t, tcpMaster(conn))
}

// testServer is a Modbus TCP server made of TCPRequestDecoder and the
// reply encoders, with 100 holding registers and 100 coils for unit 1;
// unit 9 is a gateway's slave that does not answer.
type testServer struct {
	ln      net.Listener
	mu      sync.Mutex
	holding [100]uint16
	coils   [100]uint16
	closed  []error // why each connection ended
}

func startTestServer(t *testing.T) *testServer {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	s := &testServer{ln: ln}
	t.Cleanup(func() { ln.Close() })
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go s.serve(c)
		}
	}()
	return s
}

func (s *testServer) port() string {
	_, port, _ := net.SplitHostPort(s.ln.Addr().String())
	return port
}

func (s *testServer) serve(c net.Conn) {
	defer c.Close()
	var d TCPRequestDecoder
	in := make([]byte, 300)
	var out []byte
	for {
		n, err := c.Read(in)
		if err != nil {
			s.mu.Lock()
			s.closed = append(s.closed, err)
			s.mu.Unlock()
			return
		}
		for p := in[:n]; len(p) > 0; {
			used, done, err := d.Feed(p)
			p = p[used:]
			if !done {
				continue
			}
			r := d.Request()
			var exc Exception
			switch {
			case errors.As(err, &exc):
				out = AppendTCPException(out[:0], d.Transaction(), r.Slave, r.Function, exc)
			case err != nil:
				s.mu.Lock()
				s.closed = append(s.closed, err)
				s.mu.Unlock()
				return
			default:
				out = s.answer(out[:0], d.Transaction(), r)
			}
			if _, err := c.Write(out); err != nil {
				return
			}
		}
	}
}

func (s *testServer) answer(dst []byte, tid uint16, r Request) []byte {
	if r.Slave == 9 {
		return AppendTCPException(dst, tid, r.Slave, r.Function, GatewayTargetNoReply)
	}
	if r.Slave != 1 {
		return AppendTCPException(dst, tid, r.Slave, r.Function, GatewayPathUnavailable)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	table := s.holding[:]
	if r.Function.Bits() {
		table = s.coils[:]
	}
	if r.Function == ReadDiscreteInputs || r.Function == ReadInputRegisters {
		return AppendTCPException(dst, tid, r.Slave, r.Function, IllegalFunction)
	}
	if int(r.Address)+int(r.Count) > len(table) {
		return AppendTCPException(dst, tid, r.Slave, r.Function, IllegalDataAddress)
	}
	var values []uint16
	if r.Function.Read() {
		values = table[r.Address : int(r.Address)+int(r.Count)]
	} else {
		copy(table[r.Address:], r.Values)
		values = r.Values
	}
	out, err := AppendTCPReply(dst, tid, r, values)
	if err != nil {
		panic(err)
	}
	return out
}

// mbpoll runs mbpoll 1.x (Debian's) once against the test server.
func (s *testServer) mbpoll(t *testing.T, args ...string) string {
	t.Helper()
	args = append([]string{"-m", "tcp", "-p", s.port(), "-0", "-1", "-o", "10"}, args...)
	out, err := exec.Command("mbpoll", args...).CombinedOutput()
	t.Logf("mbpoll %s:\n%s", strings.Join(args, " "), out)
	if err != nil && !strings.Contains(string(out), "failed") {
		t.Fatalf("mbpoll: %v", err)
	}
	return string(out)
}

// mbpoll, a Modbus TCP master, reads and writes through a server made of
// this package, and reports its exceptions by name.
func TestMbpoll(t *testing.T) {
	_, err := exec.LookPath("mbpoll")
	need(t, "mbpoll", "mbpoll", err == nil)
	s := startTestServer(t)
	s.mu.Lock()
	s.holding[0], s.holding[1], s.holding[2] = 230, 0xFFF1, 7
	s.holding[6], s.holding[7] = 0x4366, 0x199A // 230.1 as a float32
	s.coils[3] = 1
	s.mu.Unlock()

	out := s.mbpoll(t, "-a", "1", "-t", "4", "-r", "0", "-c", "3", "127.0.0.1")
	for _, want := range []string{"[0]: \t230", "[1]: \t65521", "[2]: \t7"} {
		if !strings.Contains(out, want) {
			t.Errorf("read holding registers: no %q", want)
		}
	}
	if out := s.mbpoll(t, "-a", "1", "-t", "4:float", "-B", "-r", "6", "127.0.0.1"); !strings.Contains(out, "[6]: \t230.1") {
		t.Error("read a float: no 230.1")
	}
	if out := s.mbpoll(t, "-a", "1", "-t", "0", "-r", "2", "-c", "3", "127.0.0.1"); !strings.Contains(out, "[2]: \t0\n[3]: \t1\n[4]: \t0") {
		t.Error("read coils: not 0 1 0")
	}
	s.mbpoll(t, "-a", "1", "-t", "4", "-r", "10", "127.0.0.1", "1234", "5678") // function 16
	s.mbpoll(t, "-a", "1", "-t", "4", "-r", "20", "127.0.0.1", "4321")         // function 6
	s.mbpoll(t, "-a", "1", "-t", "0", "-r", "30", "127.0.0.1", "1", "0", "1")  // function 15
	s.mbpoll(t, "-a", "1", "-t", "0", "-r", "40", "127.0.0.1", "1")            // function 5
	s.mu.Lock()
	h, c := s.holding, s.coils
	s.mu.Unlock()
	if h[10] != 1234 || h[11] != 5678 || h[20] != 4321 {
		t.Errorf("holding registers 10, 11, 20: %d %d %d", h[10], h[11], h[20])
	}
	if !slices.Equal(c[30:33], []uint16{1, 0, 1}) || c[40] != 1 {
		t.Errorf("coils 30 to 32 %v, 40 %d", c[30:33], c[40])
	}

	for _, tc := range []struct{ args, want string }{
		{"-a 1 -t 4 -r 99 -c 2", "Illegal data address"},
		{"-a 1 -t 3 -r 0", "Illegal function"},
		{"-a 9 -t 4 -r 0", "Target device failed to respond"},
		{"-a 5 -t 4 -r 0", "Gateway path unavailable"},
	} {
		if out := s.mbpoll(t, append(strings.Fields(tc.args), "127.0.0.1")...); !strings.Contains(strings.ToLower(out), strings.ToLower(tc.want)) {
			t.Errorf("%s: mbpoll does not say %q", tc.args, tc.want)
		}
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, err := range s.closed {
		if errors.Is(err, ErrHeader) {
			t.Errorf("a connection was closed: %v", err)
		}
	}
}
