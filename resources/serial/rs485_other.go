//go:build !linux

package serial

import "fmt"

// SetRS485 is Linux's kernel RS-485 mode; elsewhere it is ErrNotSupported.
func (p *Port) SetRS485(bool) error {
	return fmt.Errorf("set RS-485 mode on %s: %w on this system", p.desc, ErrNotSupported)
}
