package main

import (
	"strings"
	"testing"
)

func TestParsePerfStat(t *testing.T) {
	const out = `# started on Sat Nov 22 05:00:00 2026

1200,,context-switches,5001234,100.00,,
30000,,raw_syscalls:sys_enter,5001234,100.00,,
10000,,syscalls:sys_enter_read,5001234,100.00,,
9000,,syscalls:sys_enter_write,5001234,100.00,,
<not counted>,,syscalls:sys_enter_futex,0,0.00,,
0,,syscalls:sys_enter_ioctl,5001234,100.00,,
`
	c, err := parsePerfStat([]byte(out))
	if err != nil {
		t.Fatal(err)
	}
	if c.total != 30000 || c.switches != 1200 || c.syscalls["read"] != 10000 || c.syscalls["write"] != 9000 || len(c.syscalls) != 3 {
		t.Errorf("%+v", c)
	}
	got := c.perFrame(10000)
	if want := "syscalls 3.00/frame, switches 0.12/frame, read 1.000, write 0.900, other 1.100"; got != want {
		t.Errorf("perFrame: %q, want %q", got, want)
	}
	if _, err := parsePerfStat([]byte("# nothing\n")); err == nil || !strings.Contains(err.Error(), "no system call") {
		t.Errorf("empty: %v", err)
	}
}
