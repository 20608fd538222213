package main

import (
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"strconv"
	"strings"
	"time"

	"github.com/iogate/iogate/control"
)

func statusCommand() command {
	return command{
		name:    "status",
		summary: "ask the running gateway: broker, spool, devices, Modbus slaves; exit 1 if one is down",
		setup: func(fs *flag.FlagSet) func(stdout, stderr io.Writer) error {
			path := configFlag(fs)
			asJSON := fs.Bool("json", false, "print the status document as JSON")
			return func(stdout, _ io.Writer) error {
				c, err := loadConfig(*path)
				if err != nil {
					return err
				}
				g, err := dialGateway(c)
				if err != nil {
					return err
				}
				defer g.Close()
				st, err := g.status()
				if err != nil {
					return err
				}
				if *asJSON {
					enc := json.NewEncoder(stdout)
					enc.SetIndent("", "  ")
					err = enc.Encode(st)
				} else {
					err = printStatus(stdout, st)
				}
				if err != nil {
					return err
				}
				if p := st.Problems(); len(p) > 0 {
					return errors.New(strings.Join(p, "; "))
				}
				return nil
			}
		},
	}
}

// printStatus writes the status as a table for people, 80 columns wide
// for names of up to 12 characters.
func printStatus(w io.Writer, st *control.Status) error {
	fmt.Fprintf(w, "gateway %s, iogate %s, up %s\n", st.Gateway, st.Version, age(st.Age(st.Started)))
	b := st.Broker
	switch b.State {
	case control.LinkNone:
		fmt.Fprintln(w, "broker  none: devices are served over TCP only")
	case control.LinkConnected:
		fmt.Fprintf(w, "broker  connected to %s for %s\n", b.Address, age(st.Age(b.Since)))
	default:
		fmt.Fprintf(w, "broker  %s, %s, for %s\n", b.State, b.Address, age(st.Age(b.Since)))
	}
	if b.State != control.LinkConnected && b.LastError != "" {
		fmt.Fprintf(w, "        last error: %s\n", b.LastError)
	}
	if sp := st.Spool; sp != nil {
		fmt.Fprintf(w, "spool   %d frames, %s", sp.Frames, sizeIEC(sp.Bytes))
		if !sp.Oldest.IsZero() {
			fmt.Fprintf(w, ", oldest %s", age(st.Age(sp.Oldest)))
		}
		if sp.Drops > 0 {
			fmt.Fprintf(w, ", %d dropped", sp.Drops)
		}
		fmt.Fprintln(w)
	} else {
		fmt.Fprintln(w, "spool   none")
	}
	if len(st.Devices) == 0 {
		fmt.Fprintln(w, "no devices")
		return nil
	}
	tb := table{right: []bool{false, false, false, true, true, true, false, true}}
	tb.add("DEVICE", "STATE", "SINCE", "RX FRAMES", "TX FRAMES", "DROPS", "LAST FRAME", "CLIENTS")
	var notes []string
	for _, d := range st.Devices {
		tb.add(d.Name, string(d.State), age(st.Age(d.Since)), strconv.FormatUint(d.RxFrames, 10), strconv.FormatUint(d.TxFrames, 10),
			strconv.FormatUint(d.Drops+d.Discarded, 10), age(st.Age(d.LastFrame)), strconv.Itoa(d.TCPClients))
		for _, s := range d.Slaves {
			answer := "never answered"
			if !s.LastAnswer.IsZero() {
				answer = "last answer " + age(st.Age(s.LastAnswer))
			}
			tb.add("  "+s.Name, string(s.State), age(st.Age(s.Since)), fmt.Sprintf("slave %d, %s, %d timeouts", s.ID, answer, s.Timeouts))
		}
		if d.State != control.Online && d.Error != "" {
			notes = append(notes, d.Name+": "+d.Error)
		}
	}
	if err := tb.write(w); err != nil {
		return err
	}
	for _, n := range notes {
		fmt.Fprintln(w, n)
	}
	return nil
}

// table lays rows out in columns two spaces apart, for printStatus. A row
// shorter than the first ends with a cell that spans the columns left,
// whose width does not count: a slave's row under its device.
type table struct {
	right []bool // the columns aligned to the right
	rows  [][]string
}

func (tb *table) add(cells ...string) { tb.rows = append(tb.rows, cells) }

func (tb *table) write(w io.Writer) error {
	width := make([]int, len(tb.right))
	for _, row := range tb.rows {
		for j, cell := range row {
			if j < len(row)-1 || len(row) == len(width) {
				width[j] = max(width[j], len(cell))
			}
		}
	}
	var b strings.Builder
	for _, row := range tb.rows {
		for j, cell := range row {
			last := j == len(row)-1
			pad := strings.Repeat(" ", max(width[j]-len(cell), 0))
			switch {
			case last && len(row) < len(width), last && !tb.right[j]:
				b.WriteString(cell)
			case tb.right[j]:
				b.WriteString(pad + cell)
			default:
				b.WriteString(cell + pad)
			}
			if !last {
				b.WriteString("  ")
			}
		}
		b.WriteByte('\n')
	}
	_, err := io.WriteString(w, b.String())
	return err
}

// age writes a duration the way the table shows ages: "0.2s", "12s",
// "3m12s", "1h2m", "3d4h"; "-" for never (a negative duration).
func age(d time.Duration) string {
	switch {
	case d < 0:
		return "-"
	case d < 10*time.Second:
		return fmt.Sprintf("%.1fs", d.Truncate(100*time.Millisecond).Seconds())
	case d < time.Minute:
		return fmt.Sprintf("%ds", int(d/time.Second))
	case d < time.Hour:
		return fmt.Sprintf("%dm%ds", int(d/time.Minute), int(d%time.Minute/time.Second))
	case d < 24*time.Hour:
		return fmt.Sprintf("%dh%dm", int(d/time.Hour), int(d%time.Hour/time.Minute))
	}
	return fmt.Sprintf("%dd%dh", int(d/(24*time.Hour)), int(d%(24*time.Hour)/time.Hour))
}

// sizeIEC writes a byte count for people: "512 B", "3.4 KiB", "64.0 MiB".
func sizeIEC(n int64) string {
	if n < 1024 {
		return fmt.Sprintf("%d B", n)
	}
	v, unit := float64(n)/1024, "KiB"
	for _, u := range []string{"MiB", "GiB", "TiB"} {
		if v < 1024 {
			break
		}
		v, unit = v/1024, u
	}
	return fmt.Sprintf("%.1f %s", v, unit)
}
