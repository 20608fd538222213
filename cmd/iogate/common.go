package main

import (
	"flag"
	"os"

	"github.com/iogate/iogate/config"
)

// defaultConfig is where run and check look without -c or $IOGATE_CONFIG.
const defaultConfig = "/etc/iogate/config.toml"

// configFlag adds -c, whose default is $IOGATE_CONFIG or defaultConfig.
func configFlag(fs *flag.FlagSet) *string {
	def := os.Getenv("IOGATE_CONFIG")
	if def == "" {
		def = defaultConfig
	}
	return fs.String("c", def, "configuration `file` ($IOGATE_CONFIG)")
}

// loadConfig reads the file; a bad file is a usage error (exit 2).
func loadConfig(path string) (*config.Config, error) {
	c, err := config.Load(path)
	if err != nil {
		return nil, usageError{err}
	}
	return c, nil
}
