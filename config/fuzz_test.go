package config_test

import (
	"errors"
	"os"
	"testing"

	"github.com/iogate/iogate/config"
)

// Whatever the file holds, Parse returns a config or *config.Errors: it
// never panics, and never returns both or neither.
func FuzzParse(f *testing.F) {
	example, err := os.ReadFile("../config.example.toml")
	if err != nil {
		f.Fatal(err)
	}
	f.Add(example)
	f.Add([]byte(minimal))
	f.Add([]byte("[gateway]\nid = \"g\"\n[[device]]\nname = \"x\"\nbaud = \"fast\"\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		c, err := config.Parse("fuzz.toml", data)
		if (c == nil) == (err == nil) {
			t.Fatalf("config %v and error %v", c, err)
		}
		var ce *config.Error
		if err != nil && !errors.As(err, &ce) {
			t.Fatalf("error %v is not a *config.Error", err)
		}
	})
}
