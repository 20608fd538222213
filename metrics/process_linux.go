package metrics

import (
	"bytes"
	"os"
	"strconv"
	"syscall"
)

// userHZ is the unit of the CPU times in /proc: USER_HZ, 100 on every
// Linux architecture Go supports.
const userHZ = 100

// processOS writes the process_* families from /proc/self, as the
// Prometheus client libraries name them.
func processOS(w *Writer) {
	if stat, err := os.ReadFile("/proc/self/stat"); err == nil {
		// Fields after the command name, which is in parentheses and
		// may hold spaces: state is field 3, utime 14, stime 15,
		// starttime 22, vsize 23, rss 24.
		if i := bytes.LastIndexByte(stat, ')'); i > 0 {
			f := bytes.Fields(stat[i+1:])
			num := func(n int) float64 {
				if n-3 >= len(f) {
					return 0
				}
				v, _ := strconv.ParseFloat(string(f[n-3]), 64)
				return v
			}
			w.One("process_cpu_seconds_total", Counter, "User and system CPU time spent, in seconds.", (num(14)+num(15))/userHZ)
			w.One("process_virtual_memory_bytes", Gauge, "Virtual memory size in bytes.", num(23))
			w.One("process_resident_memory_bytes", Gauge, "Resident memory size in bytes.", num(24)*float64(os.Getpagesize()))
			if boot := bootTime(); boot > 0 {
				w.One("process_start_time_seconds", Gauge, "Start time of the process since the Unix epoch, in seconds.", boot+num(22)/userHZ)
			}
		}
	}
	if fds, err := os.ReadDir("/proc/self/fd"); err == nil {
		w.One("process_open_fds", Gauge, "Open file descriptors.", float64(len(fds)))
	}
	var lim syscall.Rlimit
	if syscall.Getrlimit(syscall.RLIMIT_NOFILE, &lim) == nil {
		w.One("process_max_fds", Gauge, "Maximum number of open file descriptors.", float64(lim.Cur))
	}
}

// bootTime is the system's boot time from /proc/stat, 0 if unknown.
func bootTime() float64 {
	stat, err := os.ReadFile("/proc/stat")
	if err != nil {
		return 0
	}
	for line := range bytes.Lines(stat) {
		if rest, ok := bytes.CutPrefix(line, []byte("btime ")); ok {
			v, _ := strconv.ParseFloat(string(bytes.TrimSpace(rest)), 64)
			return v
		}
	}
	return 0
}
