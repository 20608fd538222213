package integration

import (
	"bytes"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
)

// checkConfig runs iogate check -c path and returns its exit code and
// output.
func checkConfig(t *testing.T, path string) (code int, stdout, stderr string) {
	t.Helper()
	var out, errOut bytes.Buffer
	cmd := exec.Command(iogateBin, "check", "-c", path)
	cmd.Stdout, cmd.Stderr = &out, &errOut
	err := cmd.Run()
	var exit *exec.ExitError
	switch {
	case err == nil:
	case errors.As(err, &exit):
		code = exit.ExitCode()
	default:
		t.Fatal(err)
	}
	return code, out.String(), errOut.String()
}

// located is a problem that names its file and line: "FILE:LINE: ...".
var located = regexp.MustCompile(`^[^:]+:[0-9]+: `)

const validConfig = `[gateway]
id = "edge-01"
state_dir = "/var/lib/iogate"

[mqtt]
broker = "tcp://127.0.0.1:1883"

[[device]]
name = "gps"
path = "/dev/ttyUSB0"
baud = 9600
encoding = "json"
writable = true
`

func TestCheckValid(t *testing.T) {
	t.Parallel()
	path := filepath.Join(t.TempDir(), "ok.toml")
	if err := os.WriteFile(path, []byte(validConfig), 0o644); err != nil {
		t.Fatal(err)
	}
	for _, file := range []string{path, filepath.Join(moduleRoot, "config.example.toml")} {
		code, stdout, stderr := checkConfig(t, file)
		if code != 0 || !strings.Contains(stdout, file+": ok") {
			t.Errorf("iogate check -c %s: exit %d, want 0 and %q\nstdout:\n%s\nstderr:\n%s", file, code, file+": ok", stdout, stderr)
		}
	}
	// It says what it would open, and where the frames would go.
	_, stdout, _ := checkConfig(t, path)
	for _, want := range []string{"/dev/ttyUSB0", "iogate/edge-01/gps/rx", "iogate/edge-01/gps/tx"} {
		if !strings.Contains(stdout, want) {
			t.Errorf("iogate check does not mention %s:\n%s", want, stdout)
		}
	}
}

// An invalid config exits 2, and every problem names the file, the line and
// the key.
func TestCheckInvalid(t *testing.T) {
	t.Parallel()
	for _, c := range []struct {
		name, config string
		want         []string // lines of stderr, after "FILE:"
		more         bool     // other lines may come too, each naming FILE:LINE
	}{
		{name: "unknown key",
			config: strings.Replace(validConfig, "baud = 9600", "baud = 9600\nbuad = 9600", 1),
			want:   []string{"12: device[0].buad: unknown key"}},
		{name: "unknown table",
			config: validConfig + "\n[mqqt]\nqos = 1\n",
			want:   []string{"15: mqqt: unknown table"}},
		{name: "wrong type",
			config: strings.Replace(validConfig, `broker = "tcp://127.0.0.1:1883"`, `broker = "tcp://127.0.0.1:1883"`+"\nqos = \"1\"", 1),
			want:   []string{"7: mqtt.qos: "}},
		{name: "bad value",
			config: strings.Replace(validConfig, `"json"`, `"morse"`, 1),
			want:   []string{`12: device[0].encoding: "morse" is not one of`}},
		{name: "bad duration",
			config: strings.Replace(validConfig, "[mqtt]\n", "[mqtt]\nkeepalive = \"soon\"\n", 1),
			want:   []string{"6: mqtt.keepalive: "}},
		{name: "syntax error",
			config: strings.Replace(validConfig, "baud = 9600", "baud = 96 00", 1),
			want:   []string{"11: "}},
		{name: "syntax error at the end of a line",
			config: strings.Replace(validConfig, "[[device]]", "[[device]", 1),
			want:   []string{"8: "}},
		{name: "missing id",
			config: strings.Replace(validConfig, "id = \"edge-01\"\n", "", 1),
			want:   []string{"1: gateway.id: required"}},
		{name: "wrong type in a device",
			config: strings.Replace(validConfig, "baud = 9600", `baud = "fast"`, 1),
			want:   []string{"11: device[0].baud: "}},
	} {
		t.Run(c.name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "bad.toml")
			if err := os.WriteFile(path, []byte(c.config), 0o644); err != nil {
				t.Fatal(err)
			}
			code, stdout, stderr := checkConfig(t, path)
			if code != 2 {
				t.Errorf("exit %d, want 2", code)
			}
			if strings.Contains(stdout, ": ok") {
				t.Errorf("stdout says ok:\n%s", stdout)
			}
			lines := strings.Split(strings.TrimSpace(stderr), "\n")
			if !c.more && len(lines) != len(c.want) {
				t.Fatalf("stderr has %d lines, want %d:\n%s", len(lines), len(c.want), stderr)
			}
			for _, w := range c.want {
				if !slices.ContainsFunc(lines, func(l string) bool { return strings.HasPrefix(l, path+":"+w) }) {
					t.Errorf("no line of stderr starts with %q:\n%s", path+":"+w, stderr)
				}
			}
			for _, l := range lines {
				if !located.MatchString(l) || !strings.HasPrefix(l, path+":") {
					t.Errorf("stderr line %q does not name %s:LINE", l, path)
				}
			}
		})
	}

	t.Run("missing file", func(t *testing.T) {
		path := filepath.Join(t.TempDir(), "nope.toml")
		code, _, stderr := checkConfig(t, path)
		if code != 2 || !strings.Contains(stderr, path) {
			t.Errorf("exit %d, stderr %q; want 2 and the file named", code, stderr)
		}
	})
}

// check parses the TLS files: one that is not PEM is an error naming its
// key and line, exit 2.
func TestCheckParsesTLSFiles(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	bad := filepath.Join(dir, "ca.crt")
	if err := os.WriteFile(bad, []byte("not a certificate\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(dir, "tls.toml")
	text := strings.Replace(validConfig, `broker = "tcp://127.0.0.1:1883"`, "broker = \"ssl://127.0.0.1:8883\"\nca_file = \""+bad+"\"", 1)
	if err := os.WriteFile(path, []byte(text), 0o644); err != nil {
		t.Fatal(err)
	}
	code, _, stderr := checkConfig(t, path)
	if want := path + ":7: mqtt.ca_file: " + bad + ": no PEM certificate in it"; code != 2 || !strings.Contains(stderr, want) {
		t.Fatalf("exit %d, stderr %q; want 2 and %q", code, stderr, want)
	}
}
