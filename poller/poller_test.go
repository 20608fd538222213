package poller_test

import (
	"errors"
	"runtime"
	"slices"
	"testing"

	"github.com/iogate/iogate/poller"
)

// TestEngines checks which engines each system offers, best first.
func TestEngines(t *testing.T) {
	want := []string{"poll"}
	switch runtime.GOOS {
	case "linux", "android":
		want = []string{"epoll", "poll"}
	case "darwin", "ios", "freebsd", "netbsd", "openbsd":
		want = []string{"kqueue", "poll"}
	}
	if got := poller.Engines(); !slices.Equal(got, want) {
		t.Errorf("Engines() = %v, want %v", got, want)
	}
}

func TestNew(t *testing.T) {
	best := poller.Engines()[0]
	for _, tc := range []struct{ name, want string }{
		{"auto", best},
		{"", best},
		{"poll", "poll"},
		{best, best},
	} {
		p, err := poller.New(tc.name)
		if err != nil {
			t.Errorf("New(%q): %v", tc.name, err)
			continue
		}
		if got := p.Name(); got != tc.want {
			t.Errorf("New(%q).Name() = %q, want %q", tc.name, got, tc.want)
		}
		if err := p.Close(); err != nil {
			t.Errorf("New(%q).Close(): %v", tc.name, err)
		}
	}
}

// TestNewUnknown asks for names that are no engine here: made up ones, and
// the engines of other systems.
func TestNewUnknown(t *testing.T) {
	names := []string{"nope", "EPOLL", "select"}
	for _, name := range []string{"epoll", "kqueue", "poll"} {
		if !slices.Contains(poller.Engines(), name) {
			names = append(names, name)
		}
	}
	for _, name := range names {
		if p, err := poller.New(name); !errors.Is(err, poller.ErrUnknownEngine) {
			t.Errorf("New(%q) = %v, %v; want ErrUnknownEngine", name, p, err)
		}
	}
}
