package main

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net"
	"os"
	"os/user"
	"path/filepath"
	"strconv"
	"syscall"
	"time"

	"github.com/iogate/iogate/config"
	"github.com/iogate/iogate/control"
)

// answerTimeout bounds the wait for each answer of the gateway but trace
// events: a loop that does not answer in this time is stalled.
const answerTimeout = 10 * time.Second

// gatewayConn is a session with the running gateway over its control
// socket, for `iogate status` and `iogate trace`.
type gatewayConn struct {
	conn net.Conn
	r    *bufio.Reader
	line []byte // a message longer than r's buffer
	out  []byte
}

// dialGateway connects to the gateway whose configuration is c, and
// exchanges the hellos.
func dialGateway(c *config.Config) (*gatewayConn, error) {
	path := control.SocketPath(c.Gateway.StateDir)
	conn, err := net.Dial("unix", path)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		return nil, fmt.Errorf("no gateway is running with state_dir %s (no socket at %s)", c.Gateway.StateDir, path)
	case errors.Is(err, syscall.ECONNREFUSED):
		return nil, fmt.Errorf("no gateway is running with state_dir %s (nothing answers on %s)", c.Gateway.StateDir, path)
	case errors.Is(err, fs.ErrPermission):
		return nil, fmt.Errorf("%s: permission denied: %s", path, permissionAdvice(path))
	case err != nil:
		return nil, err
	}
	g := &gatewayConn{conn: conn, r: bufio.NewReaderSize(conn, 64<<10)}
	g.out = control.AppendHello(g.out[:0], buildVersion())
	m, err := g.ask()
	if err == nil {
		err = control.CheckHello(m, buildVersion())
	}
	if errors.Is(err, control.ErrPermission) {
		err = fmt.Errorf("%w: %s", err, permissionAdvice(path))
	}
	if err != nil {
		conn.Close()
		return nil, err
	}
	return g, nil
}

// permissionAdvice says what lets this user reach the socket at path.
func permissionAdvice(path string) string {
	dir := filepath.Dir(path)
	if fi, err := os.Stat(dir); err == nil && fi.Mode().Perm()&0o010 == 0 {
		return fmt.Sprintf("%s is mode %04o, which lets only its owner reach the socket; "+
			"make it 0710 (StateDirectoryMode=0710 in the systemd unit) so that the gateway's group can", dir, fi.Mode().Perm())
	}
	group := "iogate"
	var st syscall.Stat_t
	// The directory's group is the socket's, and this user may be unable
	// to reach the socket to see.
	if syscall.Stat(path, &st) == nil || syscall.Stat(dir, &st) == nil {
		group = strconv.Itoa(int(st.Gid))
		if g, err := user.LookupGroupId(group); err == nil {
			group = g.Name
		}
	}
	return fmt.Sprintf("run it as root, or as a member of the group %s (sudo adduser $USER %s, then log in again)", group, group)
}

// ask sends g.out and reads the answer, within answerTimeout. An error
// message of the gateway comes back as its *control.Error.
func (g *gatewayConn) ask() (control.Message, error) {
	g.conn.SetDeadline(time.Now().Add(answerTimeout))
	if _, err := g.conn.Write(g.out); err != nil {
		return control.Message{}, g.ioError(err)
	}
	return g.next()
}

// next reads the gateway's next message.
func (g *gatewayConn) next() (control.Message, error) {
	line, err := g.r.ReadSlice('\n')
	if errors.Is(err, bufio.ErrBufferFull) {
		g.line = append(g.line[:0], line...)
		for errors.Is(err, bufio.ErrBufferFull) && len(g.line) <= control.MaxMessage {
			line, err = g.r.ReadSlice('\n')
			g.line = append(g.line, line...)
		}
		line = g.line
		if errors.Is(err, bufio.ErrBufferFull) {
			return control.Message{}, fmt.Errorf("the gateway sent a message longer than %d bytes", control.MaxMessage)
		}
	}
	if err != nil {
		return control.Message{}, g.ioError(err)
	}
	m, err := control.ParseMessage(line)
	if err != nil {
		return control.Message{}, fmt.Errorf("the gateway's answer is not the control protocol: %w", err)
	}
	if m.Kind == control.KindError {
		return m, m.Err
	}
	return m, nil
}

func (g *gatewayConn) ioError(err error) error {
	switch {
	case errors.Is(err, os.ErrDeadlineExceeded):
		return fmt.Errorf("the gateway did not answer within %v", answerTimeout)
	case errors.Is(err, net.ErrClosed):
		return err
	case errors.Is(err, io.EOF), errors.Is(err, syscall.ECONNRESET), errors.Is(err, syscall.EPIPE):
		return errors.New("the gateway closed the connection")
	}
	return err
}

// status asks for the status document.
func (g *gatewayConn) status() (*control.Status, error) {
	g.out = control.AppendStatusRequest(g.out[:0])
	m, err := g.ask()
	if err != nil {
		return nil, err
	}
	if m.Kind != control.KindStatus {
		return nil, fmt.Errorf("the gateway answered a status request with a %s message", m.Kind)
	}
	return m.Status, nil
}

// trace asks for a trace of devices and returns the devices the gateway
// taps; the events follow, for next.
func (g *gatewayConn) trace(devices []string) ([]string, error) {
	g.out = control.AppendTraceRequest(g.out[:0], devices)
	m, err := g.ask()
	if err != nil {
		return nil, err
	}
	if m.Kind != control.KindTracing {
		return nil, fmt.Errorf("the gateway answered a trace request with a %s message", m.Kind)
	}
	g.conn.SetDeadline(time.Time{})
	return m.Devices, nil
}

func (g *gatewayConn) Close() error { return g.conn.Close() }
