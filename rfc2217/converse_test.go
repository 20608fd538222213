package rfc2217

import (
	"bytes"
	"fmt"
	"testing"

	"github.com/iogate/iogate/resources/serial"
)

// accessServer is the caller of a Server in front of a port: it writes
// what the client sends to the device, takes the modes that takes allows,
// answers with the mode in force, and notifies the modem lines once the
// client agreed, as the bridge does.
type accessServer struct {
	srv      *Server
	mode     serial.Mode
	takes    func(serial.Mode) bool
	notified bool
	toDevice []byte
	out      []byte // to the client
}

func (a *accessServer) received(in []byte) {
	var data []byte
	for len(in) > 0 {
		var n int
		var cmd Command
		data, a.out, n, cmd = a.srv.Decode(data[:0], a.out, in)
		in = in[n:]
		a.toDevice = append(a.toDevice, data...)
		if a.srv.ComPort() && !a.notified {
			a.out = a.srv.NotifyModemState(a.out, ModemCTS|ModemDSR)
			a.notified = true
		}
		if next, ok := ApplyMode(a.mode, cmd); ok {
			if next != a.mode && a.takes(next) {
				a.mode = next
			}
			a.out = a.srv.Reply(a.out, cmd.Op, ModeValue(a.mode, cmd))
		}
	}
}

// gateway is the caller of a Client: it hands on the device's data and
// keeps what the server said.
type gateway struct {
	cl         *Client
	fromDevice []byte
	said       []Command
	out        []byte // to the server
}

func (g *gateway) received(in []byte) {
	var data []byte
	for len(in) > 0 {
		var n int
		var cmd Command
		data, g.out, n, cmd = g.cl.Decode(data[:0], g.out, in)
		in = in[n:]
		g.fromDevice = append(g.fromDevice, data...)
		if cmd.Op != OpNone {
			g.said = append(g.said, cmd)
		}
	}
}

// converse carries what each side has to send to the other, cut into
// reads by cut, until neither has anything more to say. Two sides that
// answered each other forever fail the test.
func converse(t *testing.T, g *gateway, a *accessServer, cut func([]byte) [][]byte) {
	t.Helper()
	for round := 0; len(g.out) > 0 || len(a.out) > 0; round++ {
		if round == 10 {
			t.Fatalf("still talking after %d rounds: client % x, server % x", round, g.out, a.out)
		}
		toServer, toClient := g.out, a.out
		g.out, a.out = nil, nil
		for _, in := range cut(toServer) {
			a.received(in)
		}
		for _, in := range cut(toClient) {
			g.received(in)
		}
	}
}

// cuts are the ways converse cuts what it carries: whole, a byte at a
// time, and at random, for several seeds.
func cuts() map[string]func([]byte) [][]byte {
	ways := map[string]func([]byte) [][]byte{
		"whole":    func(b []byte) [][]byte { return [][]byte{b} },
		"bytewise": bytewise,
	}
	for seed := range uint64(20) {
		ways[fmt.Sprint("seed ", seed)] = func(b []byte) [][]byte { return fuzzChunks(b, seed) }
	}
	return ways
}

// TestClientWithServer connects a Client to a Server in front of a port,
// each greeting the other at once and the client sending data before the
// negotiation is over: the client's mode reaches the port, what the port
// does not take is answered so, the modem lines are notified, and data with 0xFF in it goes both ways
// whole, however the bytes are cut.
func TestClientWithServer(t *testing.T) {
	anything := func(serial.Mode) bool { return true }
	noMark := func(m serial.Mode) bool { return m.Parity != serial.ParityMark }
	initial := serial.Mode{Baud: 9600}
	tests := []struct {
		name      string
		mode      serial.Mode
		takes     func(serial.Mode) bool
		port      serial.Mode // the port's mode after
		confirmed Settings
	}{
		{"19200 7E1", clientMode, anything, clientMode, AllSettings},
		{"115200 8N2 rtscts", serial.Mode{Baud: 115200, DataBits: 8, Parity: serial.ParityNone, StopBits: 2, Flow: serial.FlowRTSCTS}, anything,
			serial.Mode{Baud: 115200, DataBits: 8, Parity: serial.ParityNone, StopBits: 2, Flow: serial.FlowRTSCTS}, AllSettings},
		{"baud with 0xff, xonxoff", serial.Mode{Baud: 0xff00ff, Flow: serial.FlowXONXOFF}, anything,
			serial.Mode{Baud: 0xff00ff, Flow: serial.FlowXONXOFF}, AllSettings},
		{"mark parity refused", serial.Mode{Baud: 1200, DataBits: 8, Parity: serial.ParityMark, StopBits: 1}, noMark,
			serial.Mode{Baud: 1200, DataBits: 8, StopBits: 1}, AllSettings &^ SettingParity},
	}
	toDevice := []byte("AT\xff\r\n\xff\xff")
	fromDevice := []byte("\xffOK\xff\xff\r\n\x00")
	for _, tt := range tests {
		for how, cut := range cuts() {
			t.Run(tt.name+", "+how, func(t *testing.T) {
				g := &gateway{cl: NewClient("iogate test", tt.mode)}
				a := &accessServer{srv: NewServer("iogate server"), mode: initial, takes: tt.takes}
				g.out = Escape(g.cl.Greeting(nil), toDevice)
				a.out = Escape(a.srv.Greeting(nil), fromDevice)
				converse(t, g, a, cut)

				if !g.cl.ComPort() || !a.srv.ComPort() {
					t.Fatalf("COM-PORT-OPTION: client %v, server %v", g.cl.ComPort(), a.srv.ComPort())
				}
				if a.mode.String() != tt.port.String() {
					t.Errorf("port mode %v, want %v", a.mode, tt.port)
				}
				want := Line{Mode: tt.mode, Sent: AllSettings, Answered: AllSettings, Confirmed: tt.confirmed}
				if l := g.cl.Line(); l != want {
					t.Errorf("line %+v, want %+v", l, want)
				}
				if len(g.said) != 7 || g.said[0] != (Command{OpComPort, 1}) || g.said[1].Op != OpNotifyModemState {
					t.Errorf("the server said %v", g.said)
				}
				if !bytes.Equal(a.toDevice, toDevice) || !bytes.Equal(g.fromDevice, fromDevice) {
					t.Errorf("to the device %q, from it %q", a.toDevice, g.fromDevice)
				}
				// The client refuses the server's ECHO, and nothing else.
				if st := g.cl.Stats(); st != (Stats{Commands: 6, Refused: 1}) {
					t.Errorf("client stats %+v", st)
				}
				if st := a.srv.Stats(); st != (Stats{Commands: 5}) {
					t.Errorf("server stats %+v", st)
				}

				// A mode change at run time.
				next := serial.Mode{Baud: 57600, DataBits: 8, Parity: serial.ParityOdd, StopBits: 2}
				g.out = g.cl.SetMode(nil, next)
				converse(t, g, a, cut)
				if a.mode.String() != next.String() || g.cl.Line() != (Line{Mode: next, Sent: AllSettings, Answered: AllSettings, Confirmed: AllSettings}) {
					t.Errorf("after SetMode: port %v, line %+v", a.mode, g.cl.Line())
				}
			})
		}
	}
}
