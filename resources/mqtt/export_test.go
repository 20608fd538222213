package mqtt

// Buffered is the room a Session holds for a packet not yet whole.
func (s *Session) Buffered() int { return cap(s.in) }
