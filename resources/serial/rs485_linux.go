package serial

import (
	"unsafe"

	"golang.org/x/sys/unix"
)

// serialRS485 is the kernel's struct serial_rs485 (linux/serial.h).
type serialRS485 struct {
	flags              uint32
	delayRTSBeforeSend uint32
	delayRTSAfterSend  uint32
	padding            [5]uint32
}

// The flags of serial_rs485 that SetRS485 sets.
const (
	rs485Enabled      = 1 << 0
	rs485RTSOnSend    = 1 << 1
	rs485RTSAfterSend = 1 << 2
)

// SetRS485 turns the kernel's RS-485 mode (TIOCSRS485) on or off: the
// driver then drives the transceiver's direction with RTS, high while it
// sends. A driver without it (a USB adapter that switches by itself, a pty)
// refuses with an ErrNotSupported error naming the device.
func (p *Port) SetRS485(on bool) error {
	var conf serialRS485
	if on {
		conf.flags = rs485Enabled | rs485RTSOnSend
	}
	_, _, errno := unix.Syscall(unix.SYS_IOCTL, uintptr(p.fd), unix.TIOCSRS485, uintptr(unsafe.Pointer(&conf)))
	if errno != 0 {
		return p.ioctlErr("set RS-485 mode on", errno)
	}
	return nil
}
