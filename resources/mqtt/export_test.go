package mqtt

// Buffered is the room a Session holds for a packet not yet whole.
func (s *Session) Buffered() int { return cap(s.in) }

// ServeBroker runs the embedded broker on a listener of the test's, such
// as a TLS one.
var ServeBroker = serveBroker
