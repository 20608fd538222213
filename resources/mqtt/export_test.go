package mqtt

import "time"

// Buffered is the room a Session holds for a packet not yet whole.
func (s *Session) Buffered() int { return cap(s.in) }

// SetConnectTimeout sets how long a new connection to the embedded broker
// has to send CONNECT, for the listeners started after it.
func SetConnectTimeout(d time.Duration) { connectTimeout = d }
