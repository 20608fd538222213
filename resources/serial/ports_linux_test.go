package serial

import (
	"os"
	"path/filepath"
	"reflect"
	"testing"
)

// TestScanPorts reads a sysfs tree shaped like the kernel's: a USB serial
// converter (ttyUSB, identity two levels up), a CDC-ACM modem (one level
// up), a UART, an empty serial-core slot, a virtual console and a pty.
func TestScanPorts(t *testing.T) {
	root := t.TempDir()
	sys, dev := filepath.Join(root, "sys"), filepath.Join(root, "dev")
	write := func(path, content string) {
		t.Helper()
		if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	link := func(target, path string) {
		t.Helper()
		if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.Symlink(target, path); err != nil {
			t.Fatal(err)
		}
	}
	usb := filepath.Join(sys, "devices/pci0000:00/0000:00:14.0/usb1")
	write(usb+"/1-1/idVendor", "0403\n")
	write(usb+"/1-1/idProduct", "6001\n")
	write(usb+"/1-1/serial", "A9XYZ12\n")
	write(usb+"/1-1/manufacturer", "FTDI\n")
	write(usb+"/1-1/product", "FT232R USB UART\n")
	write(usb+"/1-1/1-1:1.0/ttyUSB0/uevent", "")
	write(usb+"/1-2/idVendor", "2E8A\n") // upper case, as some tools write it
	write(usb+"/1-2/idProduct", "000a\n")
	write(usb+"/1-2/1-2:1.0/uevent", "")
	write(sys+"/devices/pnp0/00:01/uevent", "")
	write(sys+"/devices/platform/serial8250/uevent", "")

	class := filepath.Join(sys, "class/tty")
	link(usb+"/1-1/1-1:1.0/ttyUSB0", class+"/ttyUSB0/device")
	link(usb+"/1-2/1-2:1.0", class+"/ttyACM0/device")
	link(sys+"/devices/pnp0/00:01", class+"/ttyS0/device")
	write(class+"/ttyS0/type", "4\n")
	link(sys+"/devices/platform/serial8250", class+"/ttyS1/device")
	write(class+"/ttyS1/type", "0\n")
	write(class+"/tty1/dev", "4:1\n")
	write(class+"/ptmx/dev", "5:2\n")
	link(sys+"/devices/pnp0/00:01", class+"/ttyS9/device") // no node in /dev

	for _, name := range []string{"ttyUSB0", "ttyACM0", "ttyS0", "ttyS1", "tty1", "ptmx"} {
		write(filepath.Join(dev, name), "")
	}
	link("../../ttyUSB0", dev+"/serial/by-id/usb-FTDI_FT232R_USB_UART_A9XYZ12-if00-port0")

	got, err := scanPorts(class, dev, dev+"/serial/by-id")
	if err != nil {
		t.Fatal(err)
	}
	want := []PortInfo{
		{Path: dev + "/ttyACM0", USB: true, VID: "2e8a", PID: "000a"},
		{Path: dev + "/ttyS0"},
		{Path: dev + "/ttyUSB0", ByID: dev + "/serial/by-id/usb-FTDI_FT232R_USB_UART_A9XYZ12-if00-port0",
			USB: true, VID: "0403", PID: "6001", SerialNumber: "A9XYZ12", Manufacturer: "FTDI", Product: "FT232R USB UART"},
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("got\n%+v\nwant\n%+v", got, want)
	}

	// Without udev there is no by-id directory, and that is fine.
	if _, err := scanPorts(class, dev, filepath.Join(root, "absent")); err != nil {
		t.Error(err)
	}
	if _, err := scanPorts(filepath.Join(root, "nosys"), dev, dev); err == nil {
		t.Error("no sysfs: no error")
	}
}

// TestPorts lists the ports of this machine, opening none.
func TestPorts(t *testing.T) {
	ports, err := Ports()
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range ports {
		t.Logf("%+v", p)
		if p.Path == "" || p.USB != (p.VID != "") {
			t.Errorf("incomplete: %+v", p)
		}
	}
}
