package main

import (
	"flag"
	"fmt"
	"io"
	"runtime"
	"runtime/debug"
)

// version is set at release builds with -ldflags "-X main.version=v1.2.3";
// otherwise the module version or VCS revision from the build is used.
var version = ""

func versionCommand() command {
	return command{
		name:    "version",
		summary: "print the version",
		setup: func(*flag.FlagSet) func(stdout, stderr io.Writer) error {
			return func(stdout, _ io.Writer) error {
				_, err := fmt.Fprintf(stdout, "iogate %s %s %s/%s\n", buildVersion(), runtime.Version(), runtime.GOOS, runtime.GOARCH)
				return err
			}
		},
	}
}

func buildVersion() string {
	if version != "" {
		return version
	}
	info, ok := debug.ReadBuildInfo()
	if !ok {
		return "(unknown)"
	}
	if v := info.Main.Version; v != "" && v != "(devel)" {
		return v
	}
	for _, s := range info.Settings {
		if s.Key == "vcs.revision" && len(s.Value) >= 12 {
			return "devel-" + s.Value[:12]
		}
	}
	return "devel"
}
