// Package integration tests iogate the way its users run it: with socat
// pty pairs standing in for serial devices and a real mosquitto broker,
// started by the tests as separate processes.
//
// TestMain builds cmd/iogate once per run (with -race when the tests have
// it) and each test runs it as "iogate run -c FILE --log-format json" on a
// config it writes, next to a mosquitto of its own on a free loopback port
// and socat pairs of its own; the test's MQTT client is paho. Tests wait
// for MQTT messages and log lines, never for time to pass, and stop the
// gateway with SIGTERM, which must end it cleanly.
//
// The tests need socat and mosquitto (Debian: apt-get install socat
// mosquitto), and the go command to build iogate. Without socat or
// mosquitto they skip, except under CI=true, where a missing program is a
// failure: CI must never pass by testing nothing.
package integration
