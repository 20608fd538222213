package modbus

import (
	"bytes"
	"encoding/hex"
	"errors"
	"strings"
	"testing"
)

func unhex(s string) []byte {
	b, err := hex.DecodeString(strings.ReplaceAll(s, " ", ""))
	if err != nil {
		panic(err)
	}
	return b
}

func TestCRC(t *testing.T) {
	for _, tc := range []struct {
		data string
		crc  uint16
	}{
		{"", 0xFFFF},
		{hex.EncodeToString([]byte("123456789")), 0x4B37}, // the check value of CRC-16/MODBUS
		{"01 03 00 00 00 02", 0x0BC4},                     // sent as C4 0B
		{"11 03 00 6B 00 03", 0x8776},
	} {
		if got := CRC(unhex(tc.data)); got != tc.crc {
			t.Errorf("CRC(%s) = 0x%04x, want 0x%04x", tc.data, got, tc.crc)
		}
	}
}

// golden are the Modbus specification's examples (its PDUs, with slave 1,
// or 17 as in its MBAP examples), as the RTU framer of pymodbus 3.0.0
// (Debian's python3-pymodbus) frames the requests and the replies, and
// the values the replies carry. The reply to slave 1's read of holding
// registers 0 and 1 is 230.2 as a float32.
var golden = []struct {
	req    Request
	rtu    string
	reply  string
	values []uint16
}{
	{Request{Slave: 1, Function: ReadCoils, Address: 0x13, Count: 0x13}, "0101001300138c02",
		"010103cd6b054282", []uint16{1, 0, 1, 1, 0, 0, 1, 1, 1, 1, 0, 1, 0, 1, 1, 0, 1, 0, 1}},
	{Request{Slave: 1, Function: ReadDiscreteInputs, Address: 0xC4, Count: 0x16}, "010200c40016b839",
		"010203acdb352288", []uint16{0, 0, 1, 1, 0, 1, 0, 1, 1, 1, 0, 1, 1, 0, 1, 1, 1, 0, 1, 0, 1, 1}},
	{Request{Slave: 1, Function: ReadHoldingRegisters, Address: 0, Count: 2}, "010300000002c40b",
		"0103044366199a8453", []uint16{0x4366, 0x199A}},
	{Request{Slave: 17, Function: ReadHoldingRegisters, Address: 0x6B, Count: 3}, "1103006b00037687",
		"110306022b00000064c8ba", []uint16{0x022B, 0, 0x64}},
	{Request{Slave: 1, Function: ReadInputRegisters, Address: 8, Count: 1}, "010400080001b008",
		"010402000a3937", []uint16{10}},
	{Request{Slave: 1, Function: WriteSingleCoil, Address: 0xAC, Count: 1, Values: []uint16{1}}, "010500acff004c1b",
		"010500acff004c1b", nil},
	{Request{Slave: 1, Function: WriteSingleRegister, Address: 1, Count: 1, Values: []uint16{3}}, "010600010003980b",
		"010600010003980b", nil},
	{Request{Slave: 1, Function: WriteMultipleCoils, Address: 0x13, Count: 10, Values: []uint16{1, 0, 1, 1, 0, 0, 1, 1, 1, 0}}, "010f0013000a02cd0172cb",
		"010f0013000a2409", nil},
	{Request{Slave: 1, Function: WriteMultipleRegisters, Address: 1, Count: 2, Values: []uint16{0x000A, 0x0102}}, "01100001000204000a01029230",
		"0110000100021008", nil},
	{Request{Slave: 0, Function: WriteSingleCoil, Address: 0xAC, Count: 1, Values: []uint16{0}}, "000500ac00000c3a",
		"", nil},
}

func TestAppendRTU(t *testing.T) {
	for _, g := range golden {
		got, err := g.req.AppendRTU([]byte{0xAA})
		if err != nil {
			t.Errorf("%+v: %v", g.req, err)
			continue
		}
		if want := append([]byte{0xAA}, unhex(g.rtu)...); !bytes.Equal(got, want) {
			t.Errorf("%+v:\n got % x\nwant % x", g.req, got, want)
		}
	}
}

func TestAppendTCP(t *testing.T) {
	r := Request{Slave: 17, Function: ReadHoldingRegisters, Address: 0x6B, Count: 3}
	got, err := r.AppendTCP(nil, 1)
	if want := unhex("0001000000061103006b0003"); err != nil || !bytes.Equal(got, want) {
		t.Errorf("got % x %v, want % x (pymodbus's socket framer)", got, err, want)
	}
	w := Request{Slave: 1, Function: WriteMultipleRegisters, Address: 1, Count: 2, Values: []uint16{0x000A, 0x0102}}
	got, err = w.AppendTCP(nil, 0xBEEF)
	if want := unhex("beef 0000 000b 01 100001000204000a0102"); err != nil || !bytes.Equal(got, want) {
		t.Errorf("got % x %v, want % x", got, err, want)
	}
}

func TestReplyLen(t *testing.T) {
	for _, g := range golden {
		if got, want := g.req.ReplyLen(), len(unhex(g.reply)); got != want {
			t.Errorf("%+v: ReplyLen %d, want %d", g.req, got, want)
		}
	}
	if n := (Request{Slave: 1, Function: ReadHoldingRegisters, Count: 126}).ReplyLen(); n != 0 {
		t.Errorf("an invalid request: ReplyLen %d", n)
	}
}

// Every request the protocol refuses is an error, none a panic, and
// nothing is appended.
func TestValidate(t *testing.T) {
	v := func(n int) []uint16 { return make([]uint16, n) }
	for _, tc := range []struct {
		req  Request
		want string
	}{
		{Request{Slave: 1, Function: ReadHoldingRegisters, Count: 125}, ""},
		{Request{Slave: 1, Function: ReadHoldingRegisters, Count: 126}, "want 1 to 125"},
		{Request{Slave: 1, Function: ReadInputRegisters, Count: 0}, "want 1 to 125"},
		{Request{Slave: 1, Function: ReadCoils, Count: 2000}, ""},
		{Request{Slave: 1, Function: ReadDiscreteInputs, Count: 2001}, "want 1 to 2000"},
		{Request{Slave: 247, Function: WriteMultipleRegisters, Count: 123, Values: v(123)}, ""},
		{Request{Slave: 1, Function: WriteMultipleRegisters, Count: 124, Values: v(124)}, "want 1 to 123"},
		{Request{Slave: 1, Function: WriteMultipleCoils, Count: 1968, Values: v(1968)}, ""},
		{Request{Slave: 1, Function: WriteMultipleCoils, Count: 1969, Values: v(1969)}, "want 1 to 1968"},
		{Request{Slave: 1, Function: WriteMultipleCoils, Count: 3, Values: v(2)}, "count 3 with 2 values"},
		{Request{Slave: 1, Function: WriteSingleRegister, Count: 2, Values: v(2)}, "want 1 to 1"},
		{Request{Slave: 1, Function: WriteSingleCoil, Count: 1}, "count 1 with 0 values"},
		{Request{Slave: 248, Function: ReadCoils, Count: 1}, "slave 248"},
		{Request{Slave: 0, Function: ReadCoils, Count: 1}, "broadcast cannot be read"},
		{Request{Slave: 0, Function: WriteSingleRegister, Count: 1, Values: v(1)}, ""},
		{Request{Slave: 1, Function: 7, Count: 1}, "function 7 is not one of"},
		{Request{Slave: 1, Function: ReadHoldingRegisters, Address: 65535, Count: 1}, ""},
		{Request{Slave: 1, Function: ReadHoldingRegisters, Address: 65535, Count: 2}, "goes past 65535"},
	} {
		err := tc.req.Validate()
		if tc.want == "" {
			if err != nil {
				t.Errorf("%+v: %v", tc.req, err)
			}
			continue
		}
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%+v: error %v, want %q", tc.req, err, tc.want)
		}
		for _, appendFrame := range []func([]byte) ([]byte, error){
			tc.req.AppendRTU, tc.req.AppendPDU,
			func(b []byte) ([]byte, error) { return tc.req.AppendTCP(b, 1) },
		} {
			if b, err := appendFrame([]byte{9}); err == nil || !bytes.Equal(b, []byte{9}) {
				t.Errorf("%+v: appended % x, error %v", tc.req, b, err)
			}
		}
	}
}

func TestException(t *testing.T) {
	for _, tc := range []struct {
		e         Exception
		text      string
		retryable bool
	}{
		{IllegalFunction, "modbus exception 1 (illegal function)", false},
		{IllegalDataAddress, "modbus exception 2 (illegal data address)", false},
		{IllegalDataValue, "modbus exception 3 (illegal data value)", false},
		{ServerDeviceFailure, "modbus exception 4 (server device failure)", false},
		{Acknowledge, "modbus exception 5 (acknowledge)", true},
		{ServerDeviceBusy, "modbus exception 6 (server device busy)", true},
		{NegativeAcknowledge, "modbus exception 7 (negative acknowledge)", false},
		{MemoryParityError, "modbus exception 8 (memory parity error)", false},
		{9, "modbus exception 9 (unknown exception)", false},
		{GatewayPathUnavailable, "modbus exception 10 (gateway path unavailable)", false},
		{GatewayTargetNoReply, "modbus exception 11 (gateway target device failed to respond)", false},
		{0, "modbus exception 0 (unknown exception)", false},
		{200, "modbus exception 200 (unknown exception)", false},
	} {
		if tc.e.Error() != tc.text || tc.e.Retryable() != tc.retryable {
			t.Errorf("%d: %q retryable %v", tc.e, tc.e.Error(), tc.e.Retryable())
		}
	}
	var err error = IllegalDataAddress
	var e Exception
	if !errors.As(err, &e) || e != IllegalDataAddress || !errors.Is(err, IllegalDataAddress) {
		t.Errorf("errors.As/Is on %v", err)
	}
}
