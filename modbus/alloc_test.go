package modbus

import "testing"

// A master's transaction does not allocate: the request framed into a
// reused buffer, the reply decoded, its values and the point's JSON
// appended to reused slices. Nor does a Modbus TCP server's.
func TestSteadyStateDoesNotAllocate(t *testing.T) {
	points := []Point{
		{Table: Input, Type: Float32, Address: 0},
		{Table: Input, Type: Uint16, Address: 2, Scale: 0.1},
		{Table: Input, Type: String, Address: 3, Count: 2},
	}
	reads, err := Plan(1, points)
	if err != nil || len(reads) != 1 {
		t.Fatal(reads, err)
	}
	req := reads[0].Request
	replyValues := []uint16{0x4366, 0x199A, 2301, 0x4142, 0x4300}
	rtuReply, err := AppendRTUReply(nil, req, replyValues)
	if err != nil {
		t.Fatal(err)
	}
	tcpReply, err := AppendTCPReply(nil, 9, req, replyValues)
	if err != nil {
		t.Fatal(err)
	}
	tcpRequest, err := req.AppendTCP(nil, 9)
	if err != nil {
		t.Fatal(err)
	}
	out := make([]byte, 0, MaxTCP)
	values := make([]uint16, 0, MaxReadBits)
	payload := make([]byte, 0, 64)
	var rtu RTUReplyDecoder
	var client TCPReplyDecoder
	var server TCPRequestDecoder
	publish := func() {
		for _, s := range reads[0].Slots {
			payload, _ = points[s.Point].AppendValue(payload[:0], values[s.Offset:])
		}
	}
	master := func() {
		out, _ = req.AppendRTU(out[:0])
		_ = rtu.Expect(req)
		for p := rtuReply; len(p) > 0; {
			n, done, _ := rtu.Feed(p[:min(3, len(p))])
			p = p[n:]
			if done {
				break
			}
		}
		values = rtu.AppendValues(values[:0])
		publish()
	}
	tcpMaster := func() {
		out, _ = req.AppendTCP(out[:0], 9)
		_ = client.Expect(9, req)
		client.Feed(tcpReply)
		values = client.AppendValues(values[:0])
		publish()
	}
	tcpServer := func() {
		server.Feed(tcpRequest)
		out, _ = AppendTCPReply(out[:0], server.Transaction(), server.Request(), replyValues)
	}
	master()
	if string(payload) != `"ABC"` || len(values) != 5 {
		t.Fatalf("the transaction read %v and %s", values, payload)
	}
	for name, f := range map[string]func(){"rtu master": master, "tcp master": tcpMaster, "tcp server": tcpServer} {
		if n := testing.AllocsPerRun(100, f); n != 0 {
			t.Errorf("%s: %v allocations per transaction", name, n)
		}
	}
}
