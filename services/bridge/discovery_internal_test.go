package bridge

import "testing"

// A removal is a state with nothing but an empty last value on a topic
// outside the prefix: it is published as a real message, again after a
// reconnect until the broker has it, then forgotten and reported gone; a
// new prefix does not move it.
func TestDeliveryRemovalOnAbsoluteTopic(t *testing.T) {
	f := newFixture(t, 64<<20, "drop-oldest")
	const name = "homeassistant/sensor/x/config"
	tp := f.o.topics.absolute(name, true)
	if !tp.retain || tp.name != name || f.o.topics.absolute(name, true) != tp {
		t.Fatalf("absolute topic %+v", tp)
	}
	st := f.o.newState(tp, "")
	gone := 0
	st.gone = func() { gone++ }
	f.o.remove(st, "")
	if pub := f.take(); len(pub) != 0 {
		t.Fatalf("published while disconnected: %+v", pub)
	}
	f.o.topics.setPrefix("moved")
	f.o.connected()
	pub := f.take()
	if len(pub) != 1 || pub[0].topic != name || pub[0].payload != "" || pub[0].qos != 1 {
		t.Fatalf("published %+v, want an empty payload on %s at QoS 1", pub, name)
	}
	f.o.disconnected() // before its PUBACK: sent again
	f.o.connected()
	pub = f.take()
	if len(pub) != 1 || pub[0].topic != name || gone != 0 {
		t.Fatalf("after a reconnect %+v (gone %d), want the removal again", pub, gone)
	}
	f.ackAll(pub)
	if gone != 1 || len(f.o.states) != 0 {
		t.Fatalf("after its PUBACK: gone %d, %d states left", gone, len(f.o.states))
	}
	f.o.disconnected()
	f.o.connected()
	if pub := f.take(); len(pub) != 0 {
		t.Fatalf("a removal the broker has was published again: %+v", pub)
	}
}

// again publishes a state's value once more on a live connection, and
// nothing for a removed state or without a connection.
func TestDeliveryAgain(t *testing.T) {
	f := newFixture(t, 64<<20, "drop-oldest")
	st := f.o.newState(f.o.topics.absolute("ha/a/config", true), "{}")
	f.o.again(st)
	f.o.connected()
	if pub := f.take(); len(pub) != 1 || pub[0].payload != "{}" {
		t.Fatalf("at the connection %+v, want the state once", pub)
	}
	f.o.again(st)
	pub := f.take()
	if len(pub) != 1 || pub[0].topic != "ha/a/config" || pub[0].payload != "{}" {
		t.Fatalf("again published %+v", pub)
	}
	f.ackAll(pub)
	if len(f.o.states) != 1 {
		t.Fatal("a state published again was forgotten")
	}
	f.o.remove(st, "")
	f.o.again(st)
	if pub := f.take(); len(pub) != 1 || pub[0].payload != "" {
		t.Fatalf("after remove %+v, want only the removal", pub)
	}
}
