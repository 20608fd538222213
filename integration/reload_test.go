package integration

import (
	"syscall"
	"testing"
)

// SIGHUP rereads the config file: an invalid one is logged and the running
// configuration stays; a valid one adds a device while the first keeps
// running.
func TestReloadOnSIGHUP(t *testing.T) {
	t.Parallel()
	mq := startMosquitto(t)
	a, b := plug(t, "a"), plug(t, "b")
	sub := subscribe(t, mq.url(), prefix+"/#")
	g := startGateway(t, mq.url(), a.toml(""))
	waitOnline(t, sub, a)

	g.configure(a.toml("buad = 9600"))
	syscall.Kill(g.cmd.Process.Pid, syscall.SIGHUP)
	g.log.waitFor(t, "the invalid config refused", func(e entry) bool {
		return e.is("error", "keeping the running one") && e.is("error", "device[0].buad: unknown key")
	})
	a.write("still here\n")
	sub.waitFor(a.topic("rx"), "still here")

	g.configure(a.toml(""), b.toml(""))
	syscall.Kill(g.cmd.Process.Pid, syscall.SIGHUP)
	sub.waitFor(b.topic("status"), "online")
	b.write("new\n")
	sub.waitFor(b.topic("rx"), "new")
	a.write("and still\n")
	sub.waitFor(a.topic("rx"), "and still")
	for _, p := range sub.seen(a.topic("status")) {
		if p == "offline" {
			t.Fatal("the untouched device went offline during the reload")
		}
	}
}
