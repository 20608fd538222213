package serial_test

import (
	"fmt"
	"strings"
	"testing"

	"github.com/iogate/iogate/resources/serial"
)

// ports is a system with two identical adapters, told apart by serial
// number, an Arduino reported in upper-case hex, and a built-in UART.
var ports = []serial.PortInfo{
	{Path: "/dev/ttyS0"},
	{Path: "/dev/ttyUSB0", ByID: "/dev/serial/by-id/usb-FTDI_FT232R_USB_UART_A9XYZ12-if00-port0",
		USB: true, VID: "0403", PID: "6001", SerialNumber: "A9XYZ12", Product: "FT232R USB UART"},
	{Path: "/dev/ttyUSB1", USB: true, VID: "0403", PID: "6001", SerialNumber: "B7QRS34", Product: "FT232R USB UART"},
	{Path: "/dev/ttyACM0", USB: true, VID: "2341", PID: "0043", SerialNumber: "7553"},
	{Path: "/dev/ttyACM1", USB: true, VID: "2E8A", PID: "000A"},
}

func TestMatch(t *testing.T) {
	tests := []struct {
		ports []serial.PortInfo
		name  string
		want  string // the path, or what the error says
		fails bool
	}{
		{ports, "2341:0043", "/dev/ttyACM0", false},
		{ports, "0403:6001:B7QRS34", "/dev/ttyUSB1", false},
		{ports, "0403:6001:A9XYZ12", "/dev/ttyUSB0", false},
		{ports, "2e8a:000a", "/dev/ttyACM1", false},
		{ports, "2E8A:000A", "/dev/ttyACM1", false},
		{ports, "2e8a:a", "/dev/ttyACM1", false},
		{ports, "2341:0043:7553", "/dev/ttyACM0", false},
		{ports, "/dev/serial/by-id/usb-FTDI_FT232R_USB_UART_A9XYZ12-if00-port0",
			"/dev/serial/by-id/usb-FTDI_FT232R_USB_UART_A9XYZ12-if00-port0", false},
		{ports, "/dev/ttyUSB7", "/dev/ttyUSB7", false}, // a path need not be listed
		{nil, "ttyUSB0", "ttyUSB0", false},
		{ports, "0403:6001",
			`USB 0403:6001 is 2 ports: /dev/ttyUSB0 (USB 0403:6001 serial "A9XYZ12" "FT232R USB UART"), ` +
				`/dev/ttyUSB1 (USB 0403:6001 serial "B7QRS34" "FT232R USB UART"); add the serial number to choose`, true},
		{append(ports[:4:4], serial.PortInfo{Path: "/dev/ttyUSB2", USB: true, VID: "0403", PID: "6001", SerialNumber: "A9XYZ12"}),
			"0403:6001:A9XYZ12",
			`USB 0403:6001 serial "A9XYZ12" is 2 ports: /dev/ttyUSB0 (USB 0403:6001 serial "A9XYZ12" "FT232R USB UART"), ` +
				`/dev/ttyUSB2 (USB 0403:6001 serial "A9XYZ12"); name one by its path`, true},
		{ports, "067b:2303",
			`no serial port is USB 067b:2303; ports: /dev/ttyS0, ` +
				`/dev/ttyUSB0 (USB 0403:6001 serial "A9XYZ12" "FT232R USB UART"), ` +
				`/dev/ttyUSB1 (USB 0403:6001 serial "B7QRS34" "FT232R USB UART"), ` +
				`/dev/ttyACM0 (USB 2341:0043 serial "7553"), /dev/ttyACM1 (USB 2e8a:000a)`, true},
		{ports, "0403:6001:NOPE", `no serial port is USB 0403:6001 serial "NOPE"; ports: /dev/ttyS0, `, true},
		{nil, "0403:6001", "no serial port is USB 0403:6001: there are no serial ports", true},
	}
	for _, tt := range tests {
		got, err := serial.Match(tt.ports, tt.name)
		switch {
		case tt.fails && err == nil:
			t.Errorf("%s: got %s, want an error", tt.name, got)
		case tt.fails && !strings.HasPrefix(err.Error(), tt.want):
			t.Errorf("%s:\n got %v\nwant %s", tt.name, err, tt.want)
		case !tt.fails && (err != nil || got != tt.want):
			t.Errorf("%s: got %q, %v; want %q", tt.name, got, err, tt.want)
		}
	}
}

func ExampleMatch() {
	ports := []serial.PortInfo{
		{Path: "/dev/ttyUSB0", USB: true, VID: "0403", PID: "6001", SerialNumber: "A9XYZ12", Product: "FT232R USB UART"},
		{Path: "/dev/ttyACM0", USB: true, VID: "2341", PID: "0043", SerialNumber: "7553"},
	}
	fmt.Println(serial.Match(ports, "2341:0043"))
	fmt.Println(serial.Match(ports, "/dev/ttyS1"))
	_, err := serial.Match(ports, "067b:2303")
	fmt.Println(err)
	// Output:
	// /dev/ttyACM0 <nil>
	// /dev/ttyS1 <nil>
	// no serial port is USB 067b:2303; ports: /dev/ttyUSB0 (USB 0403:6001 serial "A9XYZ12" "FT232R USB UART"), /dev/ttyACM0 (USB 2341:0043 serial "7553")
}

func ExampleMode_String() {
	fmt.Println(serial.Mode{Baud: 9600})
	fmt.Println(serial.Mode{Baud: 19200, DataBits: 7, Parity: serial.ParityEven, StopBits: 2, Flow: serial.FlowRTSCTS})
	// Output:
	// 9600 8N1
	// 19200 7E2 rtscts
}
