package homeassistant_test

import (
	"fmt"
	"os"

	"github.com/iogate/iogate/homeassistant"
)

// The bridge at a connect or a reload: plan, publish every message
// retained, and commit once they are out. After a restart without the
// poll, its sensor is cleared.
func ExampleAnnouncer() {
	stateDir, _ := os.MkdirTemp("", "iogate")
	defer os.RemoveAll(stateDir)
	g := &homeassistant.Gateway{ID: "edge-01", Version: "1.4.0", StatusTopic: "iogate/edge-01/status",
		Devices: []homeassistant.Device{{
			Name: "gps", StatusTopic: "iogate/edge-01/gps/status", Encoding: "text",
			Polls: []homeassistant.Poll{{Name: "fix", StateTopic: "iogate/edge-01/gps/fix"}},
		}}}

	a, err := homeassistant.Open(stateDir) // the first start: no file yet
	fmt.Println("open:", err != nil)
	p, _ := a.Plan("homeassistant", g)
	for _, m := range p.Messages() {
		fmt.Println("publish", m.Topic, len(m.Payload) > 0)
	}
	_ = a.Commit(p)

	g.Devices[0].Polls = nil
	a, _ = homeassistant.Open(stateDir) // a restart
	p, _ = a.Plan("homeassistant", g)
	for _, m := range p.Clear {
		fmt.Println("clear", m.Topic)
	}
	_ = a.Commit(p)
	// Output:
	// open: true
	// publish homeassistant/binary_sensor/iogate_edge-01_gps_status/config true
	// publish homeassistant/sensor/iogate_edge-01_gps_fix/config true
	// clear homeassistant/sensor/iogate_edge-01_gps_fix/config
}
