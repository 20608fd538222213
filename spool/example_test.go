package spool_test

import (
	"fmt"
	"log"
	"os"
	"time"

	"github.com/iogate/iogate/spool"
)

// The life of a spool in a gateway: replay what the last run left, then
// append each frame before publishing it and acknowledge it at its PUBACK,
// syncing in the background.
func Example() {
	dir, err := os.MkdirTemp("", "spool-example")
	if err != nil {
		log.Fatal(err)
	}
	defer os.RemoveAll(dir)

	// OnSync runs on the spool's goroutine: a reactor hands the result to
	// its loop through its controller; here a channel does.
	synced := make(chan spool.SyncResult, 1)
	sp, rep, err := spool.Open(dir, spool.Options{
		MaxBytes:  1 << 20,
		Overflow:  spool.DropOldest,
		SyncEvery: 1000,
		OnSync: func(r spool.SyncResult) {
			select {
			case synced <- r:
			default: // the loop has one to read already
			}
		},
	})
	if err != nil {
		log.Fatal(err)
	}
	for _, t := range rep.Truncated {
		log.Print(t) // a torn tail after a power cut: a warning, not a failure
	}

	ts := time.Date(2024, 5, 1, 12, 0, 0, 0, time.UTC)
	for i := range 3 {
		seq, err := sp.Append("gps", fmt.Appendf(nil, "$GPGGA,%d", i), ts)
		if err != nil {
			log.Fatal(err)
		}
		fmt.Println("appended", seq) // publish it with QoS 1 and remember seq by packet id
	}
	sp.Ack(2)      // PUBACKs may come out of order
	sp.SyncAsync() // what a timer does every 100 ms while sp.Dirty()

	// After a reconnect: everything unacknowledged, oldest first.
	for rec, err := range sp.Records(sp.First()) {
		if err != nil {
			log.Print(err)
			continue
		}
		fmt.Printf("resend %d %s %s\n", rec.Seq, rec.Key, rec.Payload)
	}
	if err := sp.Close(); err != nil { // syncs: for shutdown
		log.Fatal(err)
	}
	// Output:
	// appended 1
	// appended 2
	// appended 3
	// resend 1 gps $GPGGA,0
	// resend 3 gps $GPGGA,2
}

// A caller that keeps only a window of the spool in memory reads forward
// in batches bounded by its buffer, and reads more as acknowledgements
// make room.
func ExampleSpool_ReadFrom() {
	dir, err := os.MkdirTemp("", "spool-example")
	if err != nil {
		log.Fatal(err)
	}
	defer os.RemoveAll(dir)
	sp, _, err := spool.Open(dir, spool.Options{})
	if err != nil {
		log.Fatal(err)
	}
	defer sp.Close()
	for i := range 10 {
		sp.Append("sensor", fmt.Appendf(nil, "reading %d", i), time.Time{})
	}

	buf := make([]byte, 130) // the window, three records of 43 bytes here: records alias it
	var recs []spool.Record
	for from := sp.First(); ; {
		var next uint64
		recs, next, err = sp.ReadFrom(from, buf, recs)
		if err != nil {
			log.Fatal(err)
		}
		if len(recs) == 0 {
			break // caught up: from here on, frames go out as they are appended
		}
		fmt.Printf("batch of %d: %d..%d\n", len(recs), recs[0].Seq, recs[len(recs)-1].Seq)
		for _, r := range recs {
			sp.Ack(r.Seq) // in a gateway, at the PUBACK
		}
		from = next
	}
	// Output:
	// batch of 3: 1..3
	// batch of 3: 4..6
	// batch of 3: 7..9
	// batch of 1: 10..10
}
