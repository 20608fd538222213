package serial

import (
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
)

// Ports lists the serial ports of the system, sorted by path, with their
// /dev/serial/by-id links and, for USB adapters, their identity.
//
// It reads sysfs and opens no port. (go.bug.st/serial's enumerator opens
// every ttyS port to see whether it is real, and sets it to 9600 8N1 as it
// does, which would upset a port in use by the gateway.)
func Ports() ([]PortInfo, error) {
	return scanPorts("/sys/class/tty", "/dev", "/dev/serial/by-id")
}

// scanPorts is Ports over the given sysfs class directory, device
// directory and by-id directory.
func scanPorts(sysTTY, devDir, byIDDir string) ([]PortInfo, error) {
	entries, err := os.ReadDir(sysTTY)
	if err != nil {
		return nil, fmt.Errorf("list serial ports: %w", err)
	}
	links := byID(byIDDir)
	var ports []PortInfo
	for _, e := range entries {
		dir := filepath.Join(sysTTY, e.Name())
		device, err := filepath.EvalSymlinks(filepath.Join(dir, "device"))
		if err != nil {
			continue // no hardware behind it: a console or a pty
		}
		if attr(dir, "type") == "0" {
			continue // a serial-core slot with no UART found
		}
		path := filepath.Join(devDir, e.Name())
		node, err := filepath.EvalSymlinks(path)
		if err != nil {
			continue // no device node for it here
		}
		p := PortInfo{Path: path, ByID: links[node]}
		readUSB(device, &p)
		ports = append(ports, p)
	}
	slices.SortFunc(ports, func(a, b PortInfo) int { return strings.Compare(a.Path, b.Path) })
	return ports, nil
}

// byID maps device nodes to their links in dir. A missing dir has none.
func byID(dir string) map[string]string {
	links := map[string]string{}
	entries, _ := os.ReadDir(dir)
	for _, e := range entries {
		link := filepath.Join(dir, e.Name())
		if node, err := filepath.EvalSymlinks(link); err == nil {
			links[node] = link
		}
	}
	return links
}

// readUSB fills in the identity of the USB device that device belongs to:
// the first directory above it with an idVendor, which is the interface's
// parent for ttyACM and its grandparent for ttyUSB.
func readUSB(device string, p *PortInfo) {
	for dir := device; dir != filepath.Dir(dir); dir = filepath.Dir(dir) {
		vid := attr(dir, "idVendor")
		if vid == "" {
			continue
		}
		p.USB = true
		p.VID = strings.ToLower(vid)
		p.PID = strings.ToLower(attr(dir, "idProduct"))
		p.SerialNumber = attr(dir, "serial")
		p.Manufacturer = attr(dir, "manufacturer")
		p.Product = attr(dir, "product")
		return
	}
}

// attr reads a sysfs attribute; a missing one is empty.
func attr(dir, name string) string {
	b, _ := os.ReadFile(filepath.Join(dir, name))
	return strings.TrimSpace(string(b))
}
