package metrics

import "runtime/metrics"

// goSamples are the Go runtime's readings that Process reports.
var goSamples = []struct {
	key, name, typ, help string
}{
	{"/sched/goroutines:goroutines", "go_goroutines", Gauge, "Goroutines that currently exist."},
	{"/gc/heap/allocs:bytes", "go_memstats_alloc_bytes_total", Counter, "Bytes allocated on the heap since the process started."},
	{"/memory/classes/heap/objects:bytes", "go_memstats_heap_alloc_bytes", Gauge, "Bytes of live and not yet swept heap objects."},
	{"/gc/cycles/total:gc-cycles", "go_gc_cycles_total", Counter, "Completed garbage collection cycles."},
}

// Process writes the process's own families: CPU, memory and descriptors
// where the OS tells them, and the Go runtime's allocation and goroutines.
func Process(w *Writer) {
	processOS(w)
	samples := make([]metrics.Sample, len(goSamples))
	for i, g := range goSamples {
		samples[i].Name = g.key
	}
	metrics.Read(samples)
	for i, g := range goSamples {
		var v float64
		switch samples[i].Value.Kind() {
		case metrics.KindUint64:
			v = float64(samples[i].Value.Uint64())
		case metrics.KindFloat64:
			v = samples[i].Value.Float64()
		default:
			continue // not in this Go release
		}
		w.One(g.name, g.typ, g.help, v)
	}
}
