module github.com/iogate/iogate/bench

go 1.26.0

replace github.com/iogate/iogate => ../

require (
	github.com/eclipse/paho.mqtt.golang v1.5.1
	github.com/iogate/iogate v0.0.0-00010101000000-000000000000
	github.com/panjf2000/gnet/v2 v2.5.7
	github.com/tidwall/wal v1.2.1
	go.bug.st/serial v1.8.0
	go.etcd.io/bbolt v1.5.0
	golang.org/x/sys v0.49.0
)

require (
	github.com/gorilla/websocket v1.5.3 // indirect
	github.com/tidwall/gjson v1.10.2 // indirect
	github.com/tidwall/match v1.1.1 // indirect
	github.com/tidwall/pretty v1.2.0 // indirect
	github.com/tidwall/tinylru v1.1.0 // indirect
	github.com/valyala/bytebufferpool v1.0.0 // indirect
	go.uber.org/atomic v1.7.0 // indirect
	go.uber.org/multierr v1.6.0 // indirect
	go.uber.org/zap v1.21.0 // indirect
	golang.org/x/net v0.44.0 // indirect
	golang.org/x/sync v0.20.0 // indirect
	gopkg.in/natefinch/lumberjack.v2 v2.2.1 // indirect
)
