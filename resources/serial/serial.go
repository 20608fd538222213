// Package serial opens serial ports as resources of the reactor.
//
// A *Port is a tty opened non-blocking, in raw mode, with its line settings
// (a Mode) applied and read back, and held exclusively. It is a
// reactor.Transport: register it with reactor.RegisterTransport and its
// bytes reach the service. It also drives the modem lines (DTR, RTS, break)
// and reports their status.
//
// A port is named by its path, a /dev/serial/by-id link included, or by the
// USB identity of its adapter ("0403:6001", "0403:6001:A9XYZ12"), which Open
// looks up again at every open, so an adapter that comes back as ttyUSB1
// instead of ttyUSB0 is still found. Ports lists the serial ports of the
// system and Match picks one from such a list. OpenPTY makes a
// pseudo-terminal pair in-process: a simulated device for demos and tests.
//
// It is not a blocking serial library: Read and Write never wait and there
// are no timeouts, since the reactor decides when to call them. It knows
// nothing of frames or protocols, and it logs nothing: it returns errors.
package serial

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"syscall"

	"github.com/iogate/iogate/reactor"
	"golang.org/x/sys/unix"
)

// Errors that callers tell apart with errors.Is.
var (
	// ErrBusy: another program, or another Port of this one, has the port.
	ErrBusy = errors.New("port busy: opened by another program")
	// ErrUnplugged: the device went away or hung up. Reopen it later.
	ErrUnplugged = errors.New("device unplugged or hung up")
	// ErrNotSupported: the device, its driver or this operating system
	// cannot do what was asked.
	ErrNotSupported = errors.New("not supported")
)

// Port is an open serial port. Like every resource, it belongs to the
// goroutine running the reactor it is registered with.
type Port struct {
	fd   int
	path string
	// desc names the port in errors: the path, and also the device node
	// when the path is a link or the port was found by USB identity.
	desc string
	dev  string // the device node, links resolved
	excl bool   // TIOCEXCL is ours to clear
}

// Open opens the serial port that name designates, applies m and checks
// that the driver kept it. name is a path or a USB identity (see Match);
// an identity is looked up with Ports at each call.
//
// The port is held exclusively: with TIOCEXCL, which keeps out other opens
// except root's, and with an advisory flock, which keeps out a second
// iogate and any program that follows the same convention. A port held
// either way is refused with ErrBusy.
func Open(name string, m Mode) (*Port, error) {
	if err := m.Validate(); err != nil {
		return nil, fmt.Errorf("open %s: %w", name, err)
	}
	path := name
	if _, ok := parseUSB(name); ok {
		ports, err := Ports()
		if err != nil {
			return nil, fmt.Errorf("open %s: %w", name, err)
		}
		if path, err = Match(ports, name); err != nil {
			return nil, fmt.Errorf("open %s: %w", name, err)
		}
	}
	p := &Port{fd: -1, path: path, desc: name, dev: path}
	if dev, err := filepath.EvalSymlinks(path); err == nil {
		p.dev = dev
	}
	if p.dev != name {
		p.desc = name + " (" + p.dev + ")"
	}
	fd, err := unix.Open(path, unix.O_RDWR|unix.O_NOCTTY|unix.O_NONBLOCK|unix.O_CLOEXEC, 0)
	if err == unix.EBUSY {
		return nil, fmt.Errorf("open %s: %w (exclusive mode)", p.desc, ErrBusy)
	}
	if err != nil {
		return nil, fmt.Errorf("open %s: %w", p.desc, err)
	}
	p.fd = fd
	if err := p.setup(m); err != nil {
		p.release()
		return nil, err
	}
	return p, nil
}

func (p *Port) setup(m Mode) error {
	t, err := getTermios(p.fd)
	if err == unix.ENOTTY {
		return fmt.Errorf("open %s: not a serial port", p.desc)
	}
	if err != nil {
		return fmt.Errorf("open %s: read settings: %w", p.desc, err)
	}
	err = unix.Flock(p.fd, unix.LOCK_EX|unix.LOCK_NB)
	switch {
	case err == unix.EWOULDBLOCK:
		return fmt.Errorf("open %s: %w (locked)", p.desc, ErrBusy)
	case err != nil && !noLocks(err):
		return fmt.Errorf("open %s: lock: %w", p.desc, err)
	}
	if err := unix.IoctlSetInt(p.fd, unix.TIOCEXCL, 0); err != nil {
		return fmt.Errorf("open %s: exclusive mode: %w", p.desc, err)
	}
	p.excl = true
	return p.setMode(t, m)
}

// setMode applies m over the settings t and reads them back: drivers
// quietly keep what their hardware cannot do.
func (p *Port) setMode(t *unix.Termios, m Mode) error {
	m = m.withDefaults()
	if err := encode(t, m); err != nil {
		return fmt.Errorf("set mode on %s: %w", p.desc, err)
	}
	if err := setTermios(p.fd, t); err != nil {
		return fmt.Errorf("set mode on %s: %s: %w", p.desc, m, err)
	}
	got, err := getTermios(p.fd)
	if err != nil {
		return fmt.Errorf("set mode on %s: read back: %w", p.desc, err)
	}
	if err := compare(m, decode(got)); err != nil {
		return fmt.Errorf("set mode on %s: %w", p.desc, err)
	}
	return nil
}

// SetMode changes the line settings of the open port to m, such as when a
// remote client asks for another baud rate, and reads them back as Open
// does: a setting the driver does not keep is an ErrNotSupported error,
// "set mode on /dev/ttyUSB0: driver kept 8 data bits, asked 7". On any
// error the port keeps the settings it had. The driver does not wait for
// the bytes it has queued (TCSANOW): those not sent yet go at the new
// settings.
func (p *Port) SetMode(m Mode) error {
	if p.fd < 0 {
		return fmt.Errorf("set mode on %s: %w", p.desc, os.ErrClosed)
	}
	if err := m.Validate(); err != nil {
		return fmt.Errorf("set mode on %s: %w", p.desc, err)
	}
	t, err := getTermios(p.fd)
	if err != nil {
		return p.fail("set mode on", err)
	}
	old := *t
	if err := p.setMode(t, m); err != nil {
		// Undo what the driver took of m. If even that fails, the port
		// is gone, and the caller learns it at its next read.
		setTermios(p.fd, &old)
		return err
	}
	return nil
}

// Path is the path the port was opened by: the caller's path as given, a
// link included, or the device that a USB identity matched.
func (p *Port) Path() string { return p.path }

// Fd is the port's descriptor, in non-blocking mode.
func (p *Port) Fd() int { return p.fd }

// Read reads what the port has received. It returns reactor.ErrWouldBlock
// (EAGAIN) when there is nothing, and an ErrUnplugged error once the device
// hung up or went away; bytes read before that come first, in earlier
// calls. The kernel discards what it had not yet handed over when the
// device hangs up, so those bytes are all there is.
func (p *Port) Read(b []byte) (int, error) {
	n, err := reactor.ReadFd(p.fd, b)
	switch {
	case err == io.EOF:
		// With VMIN 1, a raw tty reads nothing only once hung up.
		return 0, p.unplugged("read", "hangup")
	case err != nil && err != reactor.ErrWouldBlock:
		return 0, p.fail("read", err)
	}
	return n, err
}

// Write queues b for sending. It takes what the driver has room for and
// returns reactor.ErrWouldBlock (EAGAIN) when it has none.
func (p *Port) Write(b []byte) (int, error) {
	n, err := reactor.WriteFd(p.fd, b)
	if err != nil && err != reactor.ErrWouldBlock {
		return 0, p.fail("write", err)
	}
	return n, err
}

// Close releases the port. Output still queued in the driver is discarded:
// otherwise close(2) waits for it to drain, up to the driver's closing_wait
// (30 s by default), which would stall the reactor on a port whose flow
// control holds the output back.
func (p *Port) Close() error {
	if p.fd < 0 {
		return fmt.Errorf("close %s: %w", p.desc, os.ErrClosed)
	}
	// This fails only on a port that hung up, which has nothing to send.
	discard(p.fd, queueOut)
	if err := p.release(); err != nil {
		return fmt.Errorf("close %s: %w", p.desc, err)
	}
	return nil
}

// release clears the exclusive mode, which would otherwise outlive this
// descriptor while another one (a PTY's) keeps the terminal open, and
// closes the descriptor, which drops the lock.
func (p *Port) release() error {
	if p.excl {
		unix.IoctlSetInt(p.fd, unix.TIOCNXCL, 0)
		p.excl = false
	}
	err := unix.Close(p.fd)
	p.fd = -1
	return err
}

// noLocks tells the errors of a file system that keeps no advisory locks,
// where TIOCEXCL alone keeps others out.
func noLocks(err error) bool {
	return err == unix.ENOLCK || err == unix.EINVAL || err == unix.ENOTSUP || err == unix.EOPNOTSUPP
}

// fail wraps the error of an operation on the port, telling a device that
// went away from other failures.
func (p *Port) fail(op string, err error) error {
	switch err {
	case unix.EIO, unix.ENXIO, unix.ENODEV:
		return p.unplugged(op, unix.ErrnoName(err.(syscall.Errno)))
	}
	return fmt.Errorf("%s %s: %w", op, p.desc, err)
}

func (p *Port) unplugged(op, why string) error {
	if _, err := os.Stat(p.dev); errors.Is(err, fs.ErrNotExist) {
		why += ", " + p.dev + " removed"
	}
	return fmt.Errorf("%s %s: %w (%s)", op, p.desc, ErrUnplugged, why)
}
