package packaging

import (
	"crypto/sha256"
	"debug/buildinfo"
	"debug/elf"
	"encoding/hex"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"runtime"
	"slices"
	"strings"
	"testing"
)

// The version the test stamps on its build, and the Debian version that
// make must derive from it.
const (
	testVersion    = "v1.2.3-4-gabc1234-dirty"
	testDebVersion = "1.2.3+git4.gabc1234.dirty"
)

// deb is the amd64 package the test built, unpacked.
type deb struct {
	path    string // the .deb
	dist    string // make's DIST: the .deb, the binary, SHA256SUMS
	root    string // the files, as dpkg-deb -x lays them out
	control string // the control files, as dpkg-deb -e lays them out
}

func (d deb) file(path string) string { return filepath.Join(d.root, path) }

func TestDeb(t *testing.T) {
	needTool(t, "dpkg-deb")
	d := buildDeb(t)

	t.Run("fields", func(t *testing.T) {
		fields := controlFields(run(t, exec.Command("dpkg-deb", "-f", d.path,
			"Package", "Architecture", "Version", "Maintainer", "Depends", "Description")))
		for key, want := range map[string]string{
			"Package": "iogate", "Architecture": "amd64", "Version": testDebVersion, "Depends": "adduser",
		} {
			if fields[key] != want {
				t.Errorf("%s: %q, want %q", key, fields[key], want)
			}
		}
		if !regexp.MustCompile(`^[^<>]+ <[^@<> ]+@[^@<> ]+>$`).MatchString(fields["Maintainer"]) {
			t.Errorf("Maintainer: %q is not `name <address>`", fields["Maintainer"])
		}
		synopsis, long, _ := strings.Cut(fields["Description"], "\n")
		if synopsis == "" || len(synopsis) > 80 || long == "" {
			t.Errorf("Description: want a synopsis of at most 80 characters and a long description; got %q", fields["Description"])
		}
	})

	t.Run("conffiles", func(t *testing.T) {
		got := strings.Fields(readFile(t, filepath.Join(d.control, "conffiles")))
		if !slices.Equal(got, []string{"/etc/iogate/config.toml"}) {
			t.Errorf("conffiles: %q, want only /etc/iogate/config.toml", got)
		}
	})

	t.Run("owners", func(t *testing.T) {
		for line := range strings.Lines(run(t, exec.Command("dpkg-deb", "-c", d.path))) {
			if f := strings.Fields(line); len(f) < 6 || f[1] != "root/root" {
				t.Errorf("not owned by root/root: %s", strings.TrimSpace(line))
			}
		}
	})

	t.Run("binary", func(t *testing.T) {
		bin := d.file("usr/bin/iogate")
		info, err := os.Stat(bin)
		if err != nil {
			t.Fatal(err)
		}
		if info.Mode().Perm() != 0o755 {
			t.Errorf("/usr/bin/iogate: mode %v, want -rwxr-xr-x", info.Mode())
		}
		f, err := elf.Open(bin)
		if err != nil {
			t.Fatal(err)
		}
		defer f.Close()
		if f.Class != elf.ELFCLASS64 || f.Machine != elf.EM_X86_64 {
			t.Errorf("/usr/bin/iogate: %v %v, want an x86-64 ELF64", f.Class, f.Machine)
		}
		for _, p := range f.Progs {
			if p.Type == elf.PT_INTERP {
				t.Error("/usr/bin/iogate has a program interpreter: it is not static")
			}
		}
		if libs, _ := f.ImportedLibraries(); len(libs) > 0 {
			t.Errorf("/usr/bin/iogate needs shared libraries: %v", libs)
		}
		build, err := buildinfo.ReadFile(bin)
		if err != nil {
			t.Fatal(err)
		}
		settings := map[string]string{}
		for _, s := range build.Settings {
			settings[s.Key] = s.Value
		}
		for key, want := range map[string]string{"CGO_ENABLED": "0", "-trimpath": "true", "GOOS": "linux", "GOARCH": "amd64"} {
			if settings[key] != want {
				t.Errorf("built with %s=%q, want %q", key, settings[key], want)
			}
		}
	})

	t.Run("runs", func(t *testing.T) {
		if runtime.GOOS != "linux" || runtime.GOARCH != "amd64" {
			t.Skipf("an amd64 binary does not run on %s/%s", runtime.GOOS, runtime.GOARCH)
		}
		bin := d.file("usr/bin/iogate")
		if out := run(t, exec.Command(bin, "version")); !strings.HasPrefix(out, "iogate "+testVersion+" ") {
			t.Errorf("iogate version: %q, want iogate %s ...", out, testVersion)
		}
		// The shipped configuration must be one that `iogate check` accepts.
		out := run(t, exec.Command(bin, "check", "-c", d.file("etc/iogate/config.toml")))
		if !strings.Contains(out, "state in /var/lib/iogate,") {
			t.Errorf("iogate check: the state is not in /var/lib/iogate:\n%s", out)
		}
	})

	t.Run("unit", func(t *testing.T) {
		unit := parseUnit(t, readFile(t, d.file("lib/systemd/system/iogate.service")))
		service := unit["Service"]
		for key, want := range map[string]string{
			"Type":                    "notify",
			"NotifyAccess":            "main",
			"ExecStart":               "/usr/bin/iogate run -c /etc/iogate/config.toml",
			"ExecReload":              "/bin/kill -HUP $MAINPID",
			"Restart":                 "on-failure",
			"User":                    "iogate",
			"Group":                   "iogate",
			"SupplementaryGroups":     "dialout",
			"StateDirectory":          "iogate",
			"StateDirectoryMode":      "0710", // the group reaches the control socket
			"ConfigurationDirectory":  "iogate",
			"ProtectSystem":           "strict",
			"ProtectHome":             "yes",
			"PrivateTmp":              "yes",
			"NoNewPrivileges":         "yes",
			"DevicePolicy":            "closed",
			"CapabilityBoundingSet":   "",
			"RestrictAddressFamilies": "AF_UNIX AF_INET AF_INET6",
			"LockPersonality":         "yes",
			"MemoryDenyWriteExecute":  "yes",
		} {
			values, ok := service[key]
			if !ok {
				t.Errorf("[Service] %s= is missing; want %s=%s", key, key, want)
			} else if got := values[len(values)-1]; got != want {
				t.Errorf("[Service] %s=%s, want %s", key, got, want)
			}
		}
		for _, key := range []string{"WatchdogSec", "RestartSec"} {
			if values := service[key]; len(values) == 0 || values[len(values)-1] == "" {
				t.Errorf("[Service] %s= is not set", key)
			}
		}
		for _, want := range []string{"char-ttyUSB rw", "char-ttyACM rw", "char-ttyS rw", "char-ttyAMA rw"} {
			if !slices.Contains(service["DeviceAllow"], want) {
				t.Errorf("[Service] DeviceAllow=%s is missing", want)
			}
		}
		if !slices.Contains(service["SystemCallFilter"], "@system-service") {
			t.Errorf("[Service] SystemCallFilter=@system-service is missing")
		}
		// PrivateDevices= would hide /dev/serial/by-id, which iogate reads.
		if values := service["PrivateDevices"]; len(values) > 0 && values[len(values)-1] != "no" {
			t.Errorf("[Service] PrivateDevices=%s hides /dev/serial/by-id", values[len(values)-1])
		}
		// postrm purge deletes the link that enabling the unit made.
		if got := unit["Install"]["WantedBy"]; !slices.Equal(got, []string{"multi-user.target"}) {
			t.Errorf("[Install] WantedBy=%q, want multi-user.target", got)
		}
		if !strings.Contains(readFile(t, filepath.Join(d.control, "postrm")), "/etc/systemd/system/multi-user.target.wants/iogate.service") {
			t.Error("postrm does not delete the multi-user.target.wants link on purge")
		}
	})

	t.Run("systemd-analyze", func(t *testing.T) {
		needTool(t, "systemd-analyze")
		// verify wants ExecStart's program where it names it: point it at the
		// packaged binary, wherever it was unpacked.
		unit := strings.Replace(readFile(t, d.file("lib/systemd/system/iogate.service")),
			"ExecStart=/usr/bin/iogate ", "ExecStart="+d.file("usr/bin/iogate")+" ", 1)
		path := filepath.Join(t.TempDir(), "iogate.service")
		if err := os.WriteFile(path, []byte(unit), 0o644); err != nil {
			t.Fatal(err)
		}
		// verify exits 0 on unknown keys and bad values: any output is a problem.
		if out := run(t, exec.Command("systemd-analyze", "verify", path)); out != "" {
			t.Errorf("systemd-analyze verify:\n%s", out)
		}
	})

	scripts := []string{"postinst", "prerm", "postrm"}
	t.Run("scripts", func(t *testing.T) {
		for _, name := range scripts {
			path := filepath.Join(d.control, name)
			info, err := os.Stat(path)
			if err != nil {
				t.Error(err)
				continue
			}
			if info.Mode().Perm()&0o111 != 0o111 {
				t.Errorf("%s: mode %v, not executable", name, info.Mode())
			}
			if first, _, _ := strings.Cut(readFile(t, path), "\n"); first != "#!/bin/sh" {
				t.Errorf("%s starts with %q, want #!/bin/sh", name, first)
			}
			run(t, exec.Command("sh", "-n", path))
		}
	})

	t.Run("shellcheck", func(t *testing.T) {
		needTool(t, "shellcheck")
		cmd := exec.Command("shellcheck", append([]string{"--shell=sh"}, scripts...)...)
		cmd.Dir = d.control
		run(t, cmd)
	})

	t.Run("docs", func(t *testing.T) {
		for _, path := range []string{"README.md", "README.Debian", "configuration.md", "operations.md", "copyright", "examples/99-iogate.rules"} {
			if info, err := os.Stat(d.file("usr/share/doc/iogate/" + path)); err != nil || info.Size() == 0 {
				t.Errorf("/usr/share/doc/iogate/%s is missing or empty", path)
			}
		}
		for line := range strings.Lines(readFile(t, d.file("usr/share/doc/iogate/examples/99-iogate.rules"))) {
			line = strings.TrimSpace(line)
			if line != "" && !strings.HasPrefix(line, "#") &&
				!(strings.HasPrefix(line, `SUBSYSTEM=="tty", ATTRS{idVendor}==`) && strings.HasSuffix(line, `"`) && strings.Contains(line, `SYMLINK+="iogate-`)) {
				t.Errorf("99-iogate.rules: not a tty rule making an iogate- link: %s", line)
			}
		}
	})

	t.Run("copyright", func(t *testing.T) {
		// Every module compiled into the binary has its licence stated.
		text := readFile(t, d.file("usr/share/doc/iogate/copyright"))
		build, err := buildinfo.ReadFile(d.file("usr/bin/iogate"))
		if err != nil {
			t.Fatal(err)
		}
		for _, m := range build.Deps {
			if !strings.Contains(text, "vendor/"+m.Path+"/*") {
				t.Errorf("copyright: no Files: vendor/%s/* paragraph for a module in the binary", m.Path)
			}
		}
	})

	t.Run("SHA256SUMS", func(t *testing.T) {
		sums := map[string]string{}
		for line := range strings.Lines(readFile(t, filepath.Join(d.dist, "SHA256SUMS"))) {
			if sum, name, ok := strings.Cut(strings.TrimSpace(line), "  "); ok {
				sums[name] = sum
			}
		}
		for _, name := range []string{filepath.Base(d.path), "iogate-" + testVersion + "-linux-amd64"} {
			b, err := os.ReadFile(filepath.Join(d.dist, name))
			if err != nil {
				t.Fatal(err)
			}
			if sum := sha256.Sum256(b); sums[name] != hex.EncodeToString(sum[:]) {
				t.Errorf("SHA256SUMS: %s is %q, want %x", name, sums[name], sum)
			}
		}
	})
}

// TestDebianVersions checks the versions make stamps: each git describe
// form becomes a valid Debian version, and they sort in the order the
// releases come, so that every upgrade is one for apt.
func TestDebianVersions(t *testing.T) {
	needTool(t, "dpkg")
	ordered := []struct{ version, deb string }{
		{"abc1234", "0.0.0~gitabc1234"},
		{"abc1234-dirty", "0.0.0~gitabc1234+dirty"},
		{"v0.9.0-rc1", "0.9.0~rc1"},
		{"v0.9.0-rc1-2-gdef5678", "0.9.0~rc1+git2.gdef5678"},
		{"v0.9.0", "0.9.0"},
		{"v0.9.0-dirty", "0.9.0+dirty"},
		{"v0.9.0-4-gabc1234", "0.9.0+git4.gabc1234"},
		{"v0.9.0-4-gabc1234-dirty", "0.9.0+git4.gabc1234.dirty"},
		{"v0.9.0-12-g0123abc", "0.9.0+git12.g0123abc"},
		{"v0.10.0", "0.10.0"},
	}
	for i, tc := range ordered {
		got := strings.Fields(runMake(t, "-s", "version", "VERSION="+tc.version))
		if !slices.Equal(got, []string{tc.version, tc.deb}) {
			t.Errorf("make version VERSION=%s: %q, want %s %s", tc.version, got, tc.version, tc.deb)
			continue
		}
		run(t, exec.Command("dpkg", "--validate-version", tc.deb))
		if i > 0 {
			prev := ordered[i-1].deb
			if err := exec.Command("dpkg", "--compare-versions", prev, "lt", tc.deb).Run(); err != nil {
				t.Errorf("dpkg: %s does not sort before %s", prev, tc.deb)
			}
		}
	}
	// This checkout's own version, whatever git describes.
	got := strings.Fields(runMake(t, "-s", "version"))
	if len(got) != 2 {
		t.Fatalf("make version: %q", got)
	}
	run(t, exec.Command("dpkg", "--validate-version", got[1]))
}

// buildDeb builds the amd64 package with make, as a release would but into
// a temporary directory, and unpacks it.
func buildDeb(t *testing.T) deb {
	t.Helper()
	dist := t.TempDir()
	runMake(t, "package", "DIST="+dist, "DEB_ARCHS=amd64", "VERSION="+testVersion)
	d := deb{
		path:    filepath.Join(dist, "iogate_"+testDebVersion+"_amd64.deb"),
		dist:    dist,
		root:    filepath.Join(t.TempDir(), "root"),
		control: filepath.Join(t.TempDir(), "DEBIAN"),
	}
	run(t, exec.Command("dpkg-deb", "-x", d.path, d.root))
	run(t, exec.Command("dpkg-deb", "-e", d.path, d.control))
	return d
}

// runMake runs make in the repository root. The make that may be running
// the test passes its flags and variables down through the environment;
// they are not this make's.
func runMake(t *testing.T, args ...string) string {
	t.Helper()
	cmd := exec.Command("make", append([]string{"-C", "..", "--no-print-directory"}, args...)...)
	cmd.Env = slices.DeleteFunc(os.Environ(), func(kv string) bool {
		name, _, _ := strings.Cut(kv, "=")
		return name == "MAKEFLAGS" || name == "MFLAGS" || name == "MAKELEVEL"
	})
	return run(t, cmd)
}

// run runs cmd and returns its output, standard error included; it fails
// the test if cmd fails.
func run(t *testing.T, cmd *exec.Cmd) string {
	t.Helper()
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("%s: %v\n%s", strings.Join(cmd.Args, " "), err, out)
	}
	return string(out)
}

// needTool skips the test when the program it runs is not installed;
// `make deps` installs them.
func needTool(t *testing.T, name string) {
	t.Helper()
	if _, err := exec.LookPath(name); err != nil {
		t.Skipf("%s is not installed (make deps installs it)", name)
	}
}

func readFile(t *testing.T, path string) string {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// controlFields parses "Key: value" lines as dpkg-deb -f prints them; a
// line that starts with a space continues the value, as the long
// description does.
func controlFields(text string) map[string]string {
	fields := map[string]string{}
	var last string
	for line := range strings.Lines(text) {
		line = strings.TrimRight(line, "\n")
		if strings.HasPrefix(line, " ") && last != "" {
			fields[last] += "\n" + strings.TrimPrefix(line, " ")
			continue
		}
		if key, value, ok := strings.Cut(line, ":"); ok {
			last = key
			fields[key] = strings.TrimSpace(value)
		}
	}
	return fields
}

// parseUnit reads a systemd unit file into section -> key -> values, in
// order; an empty value is kept, since it resets a list (CapabilityBoundingSet=).
func parseUnit(t *testing.T, text string) map[string]map[string][]string {
	t.Helper()
	unit := map[string]map[string][]string{}
	var section string
	for line := range strings.Lines(text) {
		line = strings.TrimSpace(line)
		switch {
		case line == "" || strings.HasPrefix(line, "#") || strings.HasPrefix(line, ";"):
		case strings.HasPrefix(line, "[") && strings.HasSuffix(line, "]"):
			section = line[1 : len(line)-1]
			unit[section] = map[string][]string{}
		case section == "":
			t.Fatalf("unit file: %q before any [section]", line)
		default:
			key, value, ok := strings.Cut(line, "=")
			if !ok {
				t.Fatalf("unit file: %q is not key=value", line)
			}
			key = strings.TrimSpace(key)
			unit[section][key] = append(unit[section][key], strings.TrimSpace(value))
		}
	}
	return unit
}
