// Package packaging holds iogate's Debian package: the nfpm configuration,
// the hardened systemd unit, the maintainer scripts, the udev example and
// the copyright file, and the test that builds the package with
// `make package` and checks what an operator installing it gets.
//
// It has no Go API; README.md says how to build, install and remove the
// package.
package packaging
