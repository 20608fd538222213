package config

import (
	"bytes"
	"errors"
	"regexp"
	"strconv"
	"strings"

	"github.com/BurntSushi/toml"
)

// Error is one problem in a configuration file.
type Error struct {
	File string
	Line int    // 0 when the line is not known
	Key  string // "mqtt.qos", "device[1].baud"; "" for a syntax error
	Err  error
}

func (e *Error) Error() string {
	var b strings.Builder
	b.WriteString(e.File)
	if e.Line > 0 {
		b.WriteString(":" + strconv.Itoa(e.Line))
	}
	if e.Key != "" {
		b.WriteString(": " + e.Key)
	}
	b.WriteString(": " + e.Err.Error())
	return b.String()
}

func (e *Error) Unwrap() error { return e.Err }

// Errors lists every problem Load found, one per line when printed.
type Errors []*Error

func (es Errors) Error() string {
	lines := make([]string, len(es))
	for i, e := range es {
		lines[i] = e.Error()
	}
	return strings.Join(lines, "\n")
}

// Unwrap lets errors.Is and errors.As see each problem.
func (es Errors) Unwrap() []error {
	errs := make([]error, len(es))
	for i, e := range es {
		errs[i] = e
	}
	return errs
}

// typeMismatch matches the decoder's own errors, which carry the line and
// key only in their text: `toml: line 3 (last key "mqtt.qos"): ...`.
var typeMismatch = regexp.MustCompile(`^toml: (?:line (\d+) )?\(last key "([^"]*)"\): (.*)$`)

// syntaxError places a parse error by its byte offset: the decoder's own
// line is one too far for an error at the end of a line.
func syntaxError(path string, data []byte, err error) error {
	var pe toml.ParseError
	if !errors.As(err, &pe) {
		return Errors{{File: path, Err: err}}
	}
	line := pe.Position.Line
	if start := pe.Position.Start; start > 0 && start <= len(data) {
		line = 1 + bytes.Count(data[:start], []byte("\n"))
	}
	return Errors{{File: path, Line: line, Err: errors.New(pe.Message)}}
}

func decodeError(path string, err error) error {
	var pe toml.ParseError
	if errors.As(err, &pe) {
		return Errors{{File: path, Line: pe.Position.Line, Key: pe.LastKey, Err: errors.New(pe.Message)}}
	}
	if m := typeMismatch.FindStringSubmatch(err.Error()); m != nil {
		line, _ := strconv.Atoi(m[1])
		return Errors{{File: path, Line: line, Key: m[2], Err: errors.New(m[3])}}
	}
	return Errors{{File: path, Err: err}}
}

// decodeMessage splits a decoder error into the key it is about (its last
// dotted part, "" if unknown) and the message without a location, so the
// validator can place it itself.
func decodeMessage(err error) (key string, msg error) {
	var pe toml.ParseError
	if errors.As(err, &pe) {
		return lastPart(pe.LastKey), errors.New(pe.Message)
	}
	if m := typeMismatch.FindStringSubmatch(err.Error()); m != nil {
		return lastPart(m[2]), errors.New(m[3])
	}
	return "", err
}

func lastPart(key string) string {
	if i := strings.LastIndexByte(key, '.'); i >= 0 {
		return key[i+1:]
	}
	return key
}
