# iogate's build, test and benchmark entry points. `make test` is what CI runs.
GO          ?= go
STATICCHECK := honnef.co/go/tools/cmd/staticcheck@v0.8.2
# The portable core: these must build on every Unix the reactor supports.
PORTABLE    := ./poller/... ./reactor/... ./resources/... ./spool/... ./framing/... ./config/...
BSDS        := darwin freebsd openbsd netbsd
LINUX_ARCHS := arm arm64 riscv64

.PHONY: all build test deps fmt-check vet lint cross unit bench

all: build

build:
	$(GO) build -o bin/iogate ./cmd/iogate

## test: everything CI checks, in order of cost.
test: deps fmt-check vet lint cross unit

# need installs, with apt-get when root on Debian, the package of each
# command:package pair whose command is missing; otherwise it says what to
# install and fails.
define need
	@missing=""; \
	for pair in $(1); do \
		cmd=$${pair%%:*}; pkg=$${pair#*:}; \
		command -v $$cmd >/dev/null 2>&1 || test -x /usr/sbin/$$cmd || missing="$$missing $$pkg"; \
	done; \
	if [ -n "$$missing" ]; then \
		if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then \
			echo "installing:$$missing"; \
			apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $$missing >/dev/null || exit 1; \
		else \
			echo "missing:$$missing; install them first: sudo apt-get install$$missing" >&2; exit 1; \
		fi; \
	fi
endef

## deps: the programs the integration tests start.
deps:
	$(call need,socat:socat mosquitto:mosquitto mosquitto_passwd:mosquitto)

fmt-check:
	@out=$$(gofmt -l $$(git ls-files '*.go' 2>/dev/null || find . -name '*.go')); \
	if [ -n "$$out" ]; then echo "gofmt needed:" $$out >&2; exit 1; fi

vet:
	$(GO) vet ./...
	cd bench && $(GO) vet ./...

lint:
	$(GO) run $(STATICCHECK) ./...
	cd bench && $(GO) run $(STATICCHECK) ./...

## cross: the portable core type-checks (tests included) on the BSDs and darwin,
## and the whole program builds for the ARM and RISC-V boards it is deployed on.
cross:
	@set -e; for os in $(BSDS); do echo "vet GOOS=$$os"; GOOS=$$os GOARCH=amd64 $(GO) vet $(PORTABLE); done
	@set -e; for arch in $(LINUX_ARCHS); do echo "build GOARCH=$$arch"; GOOS=linux GOARCH=$$arch $(GO) build ./...; done

unit:
	$(GO) test -race -count=1 -timeout 15m ./...

## bench: the benchmark suite against its peers; rewrites BENCHMARKS.md.
## The programs the benchmarks start are installed when root on Debian.
bench:
	$(call need,socat:socat mosquitto:mosquitto mosquitto_pub:mosquitto-clients ser2net:ser2net)
	cd bench && $(GO) run ./cmd/benchrun -out ../BENCHMARKS.md
	cd bench && $(GO) run ./cmd/mqttbench -out ../BENCHMARKS.md
	cd bench && $(GO) run ./cmd/soak -out ../BENCHMARKS.md
