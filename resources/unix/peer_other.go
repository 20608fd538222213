//go:build dragonfly || netbsd || openbsd

package unix

import "errors"

// peer is not written for these systems: x/sys/unix has no call for their
// peer credentials (LOCAL_PEEREID, SO_PEERCRED's struct sockpeercred).
func peer(int) (Cred, error) { return Cred{}, errors.ErrUnsupported }
