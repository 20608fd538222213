package file_test

import (
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"golang.org/x/sys/unix"

	"github.com/iogate/iogate/reactor"
	"github.com/iogate/iogate/reactor/reactortest"
	"github.com/iogate/iogate/resources/file"
)

func mkfifo(t *testing.T) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "fifo")
	if err := unix.Mkfifo(path, 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

// A FIFO is read through the reactor; when its writer goes, the bytes it
// wrote arrive first, then the disconnect says the writer went; reopened,
// it serves the next writer.
func TestFIFOWriterGoneAndReopen(t *testing.T) {
	path := mkfifo(t)
	loop := reactortest.Start(t, reactortest.NewRecorder(), reactor.Options{})
	for _, msg := range []string{"first writer\n", "second writer\n"} {
		f, err := file.Open(path, file.ReadOnly)
		if err != nil {
			t.Fatal(err)
		}
		if f.Kind() != file.FIFO {
			t.Fatalf("kind %v", f.Kind())
		}
		id := loop.Register(f)
		w, err := os.OpenFile(path, os.O_WRONLY, 0) // a reader exists: does not block
		if err != nil {
			t.Fatal(err)
		}
		if _, err := w.WriteString(msg); err != nil {
			t.Fatal(err)
		}
		w.Close()
		if got := loop.Receive(id, len(msg)); got != msg {
			t.Fatalf("got %q, want %q", got, msg)
		}
		e := loop.Expect("disconnected", id)
		if !errors.Is(e.Err, file.ErrWriterGone) || !strings.Contains(e.Err.Error(), path) {
			t.Fatalf("cause %v, want ErrWriterGone naming the path", e.Err)
		}
		if e.Res != f {
			t.Fatal("another resource handed back")
		}
		f.Close()
	}
}

func TestFIFOWriteWithoutReader(t *testing.T) {
	path := mkfifo(t)
	_, err := file.Open(path, file.WriteOnly)
	if !errors.Is(err, file.ErrNoReader) {
		t.Fatalf("got %v, want ErrNoReader", err)
	}
	r, err := file.Open(path, file.ReadOnly)
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	w, err := file.Open(path, file.WriteOnly)
	if err != nil {
		t.Fatalf("with a reader: %v", err)
	}
	defer w.Close()
	if n, err := w.Write([]byte("x")); n != 1 || err != nil {
		t.Fatalf("write: %d %v", n, err)
	}
}

func TestRefusesWhatCannotBePolled(t *testing.T) {
	dir := t.TempDir()
	regular := filepath.Join(dir, "plain.txt")
	if err := os.WriteFile(regular, []byte("x"), 0o600); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct{ path, says string }{
		{regular, "regular file"},
		{dir, "directory"},
	} {
		f, err := file.Open(tc.path, file.ReadOnly)
		if err == nil {
			f.Close()
			t.Fatalf("%s opened", tc.path)
		}
		var pe *os.PathError
		if !errors.Is(err, file.ErrNotPollable) || !errors.As(err, &pe) || pe.Path != tc.path || !strings.Contains(err.Error(), tc.says) {
			t.Errorf("%s: %v: want ErrNotPollable naming the path and saying %q", tc.path, err, tc.says)
		}
	}
	if _, err := file.Open(filepath.Join(dir, "missing"), file.ReadOnly); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("missing: %v", err)
	}
	if _, err := file.Open("/dev/null", file.Access(9)); err == nil {
		t.Error("bad access accepted")
	}
}

// A character device is read and written through the reactor like any
// transport.
func TestCharacterDevice(t *testing.T) {
	random, err := file.Open("/dev/random", file.ReadWrite)
	if err != nil {
		t.Fatal(err)
	}
	if random.Kind() != file.CharDevice {
		t.Fatalf("kind %v", random.Kind())
	}
	svc := reactortest.NewRecorder()
	svc.OnReceived = func(r *reactor.Reactor, id reactor.ID, _ []byte) { r.Pause(id) } // one read is enough
	loop := reactortest.Start(t, svc, reactor.Options{})
	id := loop.Register(random)
	e := loop.Expect("received", id)
	if len(e.Data) == 0 {
		t.Fatal("nothing read from /dev/random")
	}
	loop.Do(func(r *reactor.Reactor) {
		if err := r.Send(id, bytes.Repeat([]byte("x"), 1<<16)); err != nil {
			t.Error(err)
		}
		if r.Pending(id) != 0 {
			t.Error("/dev/random did not take everything")
		}
	})
}

func TestCloseTwice(t *testing.T) {
	f, err := file.Open("/dev/null", file.ReadOnly)
	if err != nil {
		t.Fatal(err)
	}
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}
	if err := f.Close(); !errors.Is(err, os.ErrClosed) {
		t.Fatalf("second close: %v", err)
	}
}
