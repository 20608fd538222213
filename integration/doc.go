// Package integration tests iogate the way its users run it: with socat
// pty pairs standing in for serial devices and a real mosquitto broker,
// started by the tests as separate processes.
//
// The tests need socat and mosquitto (Debian: apt-get install socat
// mosquitto). Without them they skip, except under CI=true, where a
// missing program is a failure: CI must never pass by testing nothing.
package integration
