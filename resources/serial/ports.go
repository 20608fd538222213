package serial

import (
	"fmt"
	"strconv"
	"strings"
)

// PortInfo describes a serial port of the system, as Ports finds it.
type PortInfo struct {
	Path         string `json:"path"`          // the device node: /dev/ttyUSB0
	ByID         string `json:"by_id"`         // its /dev/serial/by-id link, "" when udev made none
	USB          bool   `json:"usb"`           // a USB adapter: the fields below are known
	VID          string `json:"vid"`           // USB vendor ID, 4 hex digits: "0403"
	PID          string `json:"pid"`           // USB product ID, 4 hex digits: "6001"
	SerialNumber string `json:"serial_number"` // "" when the adapter has none
	Manufacturer string `json:"manufacturer"`
	Product      string `json:"product"`
}

// usbID is a USB identity as a port name gives it.
type usbID struct {
	vid, pid string // 4 lower-case hex digits
	serial   string // "" matches any
}

func (u usbID) String() string {
	if u.serial == "" {
		return "USB " + u.vid + ":" + u.pid
	}
	return "USB " + u.vid + ":" + u.pid + " serial " + strconv.Quote(u.serial)
}

// parseUSB reads a port name of the form VID:PID or VID:PID:SERIAL, with
// VID and PID in hex as lsusb prints them. Anything else is a path.
func parseUSB(name string) (usbID, bool) {
	vid, rest, ok := strings.Cut(name, ":")
	if !ok {
		return usbID{}, false
	}
	pid, serial, _ := strings.Cut(rest, ":")
	v, err1 := strconv.ParseUint(vid, 16, 16)
	p, err2 := strconv.ParseUint(pid, 16, 16)
	if err1 != nil || err2 != nil {
		return usbID{}, false
	}
	return usbID{vid: fmt.Sprintf("%04x", v), pid: fmt.Sprintf("%04x", p), serial: serial}, true
}

// Match returns the path of the port that name designates among ports.
//
// A name of the form VID:PID or VID:PID:SERIAL ("0403:6001",
// "0403:6001:A9XYZ12", hex in any case) is a USB identity: it must match
// exactly one USB port of the list, else the error lists the candidates, or
// what ports there are. Any other name is a path, /dev/serial/by-id links
// included, and comes back unchanged.
func Match(ports []PortInfo, name string) (string, error) {
	id, ok := parseUSB(name)
	if !ok {
		return name, nil
	}
	var found []PortInfo
	for _, p := range ports {
		if p.USB && strings.EqualFold(p.VID, id.vid) && strings.EqualFold(p.PID, id.pid) &&
			(id.serial == "" || p.SerialNumber == id.serial) {
			found = append(found, p)
		}
	}
	switch {
	case len(found) == 1:
		return found[0].Path, nil
	case len(found) == 0 && len(ports) == 0:
		return "", fmt.Errorf("no serial port is %s: there are no serial ports", id)
	case len(found) == 0:
		return "", fmt.Errorf("no serial port is %s; ports: %s", id, describe(ports))
	case id.serial == "":
		return "", fmt.Errorf("%s is %d ports: %s; add the serial number to choose", id, len(found), describe(found))
	default:
		return "", fmt.Errorf("%s is %d ports: %s; name one by its path", id, len(found), describe(found))
	}
}

// describe lists ports for an error message.
func describe(ports []PortInfo) string {
	var b strings.Builder
	for i, p := range ports {
		if i > 0 {
			b.WriteString(", ")
		}
		b.WriteString(p.Path)
		if p.USB {
			fmt.Fprintf(&b, " (USB %s:%s", strings.ToLower(p.VID), strings.ToLower(p.PID))
			if p.SerialNumber != "" {
				fmt.Fprintf(&b, " serial %q", p.SerialNumber)
			}
			if p.Product != "" {
				fmt.Fprintf(&b, " %q", p.Product)
			}
			b.WriteString(")")
		}
	}
	return b.String()
}
