package main

import (
	"context"
	"log/slog"

	"github.com/sirupsen/logrus"
)

// logrusHandler lets libraries that log through log/slog (the embedded
// broker) write into the process's one logrus log, with its format.
type logrusHandler struct{ e *logrus.Entry }

func slogTo(e *logrus.Entry) *slog.Logger { return slog.New(logrusHandler{e}) }

func logrusLevel(l slog.Level) logrus.Level {
	switch {
	case l >= slog.LevelError:
		return logrus.ErrorLevel
	case l >= slog.LevelWarn:
		return logrus.WarnLevel
	case l >= slog.LevelInfo:
		return logrus.InfoLevel
	}
	return logrus.DebugLevel
}

func (h logrusHandler) Enabled(_ context.Context, l slog.Level) bool {
	return h.e.Logger.IsLevelEnabled(logrusLevel(l))
}

func (h logrusHandler) Handle(_ context.Context, r slog.Record) error {
	fields := make(logrus.Fields, r.NumAttrs())
	r.Attrs(func(a slog.Attr) bool {
		fields[a.Key] = a.Value.Any()
		return true
	})
	h.e.WithFields(fields).Log(logrusLevel(r.Level), r.Message)
	return nil
}

func (h logrusHandler) WithAttrs(attrs []slog.Attr) slog.Handler {
	fields := make(logrus.Fields, len(attrs))
	for _, a := range attrs {
		fields[a.Key] = a.Value.Any()
	}
	return logrusHandler{h.e.WithFields(fields)}
}

// WithGroup flattens groups: logrus fields have no nesting.
func (h logrusHandler) WithGroup(string) slog.Handler { return h }
