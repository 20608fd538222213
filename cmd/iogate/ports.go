package main

import (
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"text/tabwriter"

	"github.com/iogate/iogate/resources/serial"
)

func portsCommand() command {
	return command{
		name:    "ports",
		summary: "list serial ports: path, /dev/serial/by-id link, USB VID:PID, serial number, product",
		setup: func(fs *flag.FlagSet) func(stdout, stderr io.Writer) error {
			asJSON := fs.Bool("json", false, "print a JSON array instead of a table")
			return func(stdout, stderr io.Writer) error {
				ports, err := serial.Ports()
				if err != nil {
					return err
				}
				if *asJSON {
					if ports == nil {
						ports = []serial.PortInfo{}
					}
					enc := json.NewEncoder(stdout)
					enc.SetIndent("", "  ")
					return enc.Encode(ports)
				}
				if len(ports) == 0 {
					fmt.Fprintln(stderr, "no serial ports found")
					return nil
				}
				return printPorts(stdout, ports)
			}
		},
	}
}

func printPorts(w io.Writer, ports []serial.PortInfo) error {
	tw := tabwriter.NewWriter(w, 0, 8, 2, ' ', 0)
	fmt.Fprintln(tw, "PATH\tBY-ID\tVID:PID\tSERIAL\tPRODUCT")
	for _, p := range ports {
		usb := "-"
		if p.USB {
			usb = p.VID + ":" + p.PID
		}
		product := p.Product
		if p.Manufacturer != "" {
			product = p.Manufacturer + " " + product
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\n", p.Path, dash(p.ByID), usb, dash(p.SerialNumber), dash(product))
	}
	return tw.Flush()
}

func dash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}
