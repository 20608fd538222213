module github.com/iogate/iogate/bench

go 1.26.0

replace github.com/iogate/iogate => ../

require (
	github.com/iogate/iogate v0.0.0-00010101000000-000000000000
	github.com/panjf2000/gnet/v2 v2.5.7
	golang.org/x/sys v0.49.0
)

require (
	github.com/valyala/bytebufferpool v1.0.0 // indirect
	go.uber.org/atomic v1.7.0 // indirect
	go.uber.org/multierr v1.6.0 // indirect
	go.uber.org/zap v1.21.0 // indirect
	golang.org/x/sync v0.17.0 // indirect
	gopkg.in/natefinch/lumberjack.v2 v2.2.1 // indirect
)
