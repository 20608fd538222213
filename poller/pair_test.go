package poller_test

import (
	"testing"

	"github.com/iogate/iogate/poller"
	"golang.org/x/sys/unix"
)

// pair is two connected descriptors: what is written to w is read from r,
// and closing w (through closeW) hangs up r.
type pair struct {
	r, w   int
	closeW func()
}

// pairKind is a kind of descriptor the engines must handle. A duplex pair
// also carries data from r to w, so r can be watched for writing.
type pairKind struct {
	name   string
	duplex bool
	open   func(*testing.T) pair
}

// pairKinds is extended by system-specific files (ptys on Linux).
var pairKinds = []pairKind{
	{"pipe", false, openPipe},
	{"socketpair", true, openSocketpair},
	{"tcp", true, openTCP},
}

func openPipe(t *testing.T) pair {
	t.Helper()
	var fds [2]int
	if err := unix.Pipe(fds[:]); err != nil {
		t.Fatalf("pipe: %v", err)
	}
	own(t, fds[0])
	return pair{r: fds[0], w: fds[1], closeW: own(t, fds[1])}
}

func openSocketpair(t *testing.T) pair {
	t.Helper()
	fds, err := unix.Socketpair(unix.AF_UNIX, unix.SOCK_STREAM, 0)
	if err != nil {
		t.Fatalf("socketpair: %v", err)
	}
	own(t, fds[0])
	return pair{r: fds[0], w: fds[1], closeW: own(t, fds[1])}
}

// openTCP connects two sockets over loopback with raw system calls, so that
// no descriptor also belongs to the Go runtime's own poller.
func openTCP(t *testing.T) pair {
	t.Helper()
	socket := func() int {
		fd, err := unix.Socket(unix.AF_INET, unix.SOCK_STREAM, 0)
		if err != nil {
			t.Fatalf("socket: %v", err)
		}
		return fd
	}
	ln := socket()
	defer own(t, ln)()
	if err := unix.Bind(ln, &unix.SockaddrInet4{Addr: [4]byte{127, 0, 0, 1}}); err != nil {
		t.Fatalf("bind 127.0.0.1: %v", err)
	}
	if err := unix.Listen(ln, 1); err != nil {
		t.Fatalf("listen: %v", err)
	}
	addr, err := unix.Getsockname(ln)
	if err != nil {
		t.Fatalf("getsockname: %v", err)
	}
	dialled := socket()
	closeDialled := own(t, dialled)
	if err := unix.Connect(dialled, addr); err != nil {
		t.Fatalf("connect: %v", err)
	}
	accepted, _, err := unix.Accept(ln)
	if err != nil {
		t.Fatalf("accept: %v", err)
	}
	own(t, accepted)
	return pair{r: accepted, w: dialled, closeW: closeDialled}
}

func testReadable(t *testing.T, p poller.Poller, k pairKind) {
	c := k.open(t)
	add(t, p, c.r, 1, poller.Read)
	expectQuiet(t, p, "before anything is written")
	write(t, c.w, "x")
	if got := waitFor(t, p, 1, poller.Readable); got != poller.Readable {
		t.Errorf("flags = %s, want Readable alone", flagNames(got))
	}
	if got := read(t, c.r, 1); got != "x" {
		t.Errorf("read %q, want %q", got, "x")
	}
	expectQuiet(t, p, "after the data is read")
}

func testWritable(t *testing.T, p poller.Poller, k pairKind) {
	c := k.open(t)
	add(t, p, c.w, 2, poller.Write)
	if got := waitFor(t, p, 2, poller.Writable); got != poller.Writable {
		t.Errorf("flags = %s, want Writable alone", flagNames(got))
	}
}

func testHangup(t *testing.T, p poller.Poller, k pairKind) {
	c := k.open(t)
	add(t, p, c.r, 1, poller.Read)
	write(t, c.w, "bye")
	c.closeW()
	if got := waitFor(t, p, 1, poller.Hangup); got&poller.Readable == 0 {
		t.Errorf("flags = %s: the data written before the close must be Readable with the Hangup", flagNames(got))
	}
	if got := read(t, c.r, 3); got != "bye" {
		t.Errorf("read %q after the hangup, want %q", got, "bye")
	}
}

func testModify(t *testing.T, p poller.Poller, k pairKind) {
	c := k.open(t)
	add(t, p, c.r, 1, poller.Read)
	write(t, c.w, "x")
	waitFor(t, p, 1, poller.Readable)
	modify(t, p, c.r, 1, 0)
	expectQuiet(t, p, "after dropping read interest")
	modify(t, p, c.r, 2, poller.Read)
	waitFor(t, p, 2, poller.Readable) // and never the old token
	read(t, c.r, 1)

	add(t, p, c.w, 3, 0)
	expectQuiet(t, p, "watching with no interest")
	modify(t, p, c.w, 3, poller.Write)
	waitFor(t, p, 3, poller.Writable)
	if k.duplex {
		modify(t, p, c.w, 3, 0)
		modify(t, p, c.r, 4, poller.Read|poller.Write)
		waitFor(t, p, 4, poller.Writable)
	}
}

func testRemove(t *testing.T, p poller.Poller, k pairKind) {
	c := k.open(t)
	add(t, p, c.r, 1, poller.Read)
	write(t, c.w, "x")
	waitFor(t, p, 1, poller.Readable)
	if err := p.Remove(c.r); err != nil {
		t.Fatalf("Remove: %v", err)
	}
	expectQuiet(t, p, "after Remove of a ready descriptor")
	if err := p.Remove(c.r); err == nil {
		t.Error("a second Remove succeeded")
	}
	if err := p.Modify(c.r, 1, poller.Read); err == nil {
		t.Error("Modify after Remove succeeded")
	}
	add(t, p, c.r, 2, poller.Read)
	waitFor(t, p, 2, poller.Readable)
}

// testReuse gives a removed descriptor's number to a new descriptor, as
// closing and opening does, and checks that only the new token is reported.
func testReuse(t *testing.T, p poller.Poller, k pairKind) {
	old := k.open(t)
	add(t, p, old.r, 1, poller.Read)
	write(t, old.w, "x")
	waitFor(t, p, 1, poller.Readable)
	if err := p.Remove(old.r); err != nil {
		t.Fatalf("Remove: %v", err)
	}
	c := k.open(t)
	// dup2 closes old.r and reuses its number at once, so no other
	// descriptor can take the number in between.
	if err := unix.Dup2(c.r, old.r); err != nil {
		t.Fatalf("dup2: %v", err)
	}
	add(t, p, old.r, 2, poller.Read)
	expectQuiet(t, p, "the new descriptor has no data")
	write(t, c.w, "y")
	waitFor(t, p, 2, poller.Readable)
	if got := read(t, old.r, 1); got != "y" {
		t.Errorf("read %q, want %q", got, "y")
	}
}
