# iogate's build, test and benchmark entry points. `make test` is what CI runs.
GO          ?= go
STATICCHECK := honnef.co/go/tools/cmd/staticcheck@v0.8.2
# The portable core: these must build on every Unix the reactor supports.
PORTABLE    := ./poller/... ./reactor/... ./resources/... ./spool/... ./framing/... ./config/... ./rfc2217/...
BSDS        := darwin freebsd openbsd netbsd
LINUX_ARCHS := arm arm64 riscv64

.PHONY: all build test deps fmt-check vet lint cross unit bench dist package version

# Release builds. VERSION is what `iogate version` prints: the nearest v* tag
# as git describes it ("v1.2.3", "v1.2.3-4-gabc1234-dirty"), or the commit
# when there is none; DEB_VERSION is its Debian form: v1.2.3-4-gabc1234 ->
# 1.2.3+git4.gabc1234 (after 1.2.3, before 1.2.4), v1.2.3-rc1 -> 1.2.3~rc1,
# abc1234 -> 0.0.0~gitabc1234, and -dirty -> +dirty or .dirty. Only the
# release targets ask git: describe --dirty takes git's index lock a moment.
ifneq ($(filter dist package version,$(MAKECMDGOALS)),)
VERSION     := $(shell git describe --tags --match 'v[0-9]*' --always --dirty 2>/dev/null || echo v0.0.0-dev)
DEB_VERSION := $(shell echo '$(VERSION)' | sed -E -e '/^v[0-9]/!s/^/v0.0.0-git/' -e 's/^v//' \
	-e 's/-([0-9]+)-g([0-9a-f]+)/+git\1.g\2/' -e 's/^([^+]*)-dirty$$/\1+dirty/' -e 's/-dirty$$/.dirty/' -e 's/-/~/g')
endif
DIST        := dist
DIST_ARCHS  := amd64 arm64 armv6 armv7 riscv64
DEB_ARCHS   := amd64 arm64 armhf
# The packages' file dates: the last commit's, so that a build is reproducible.
SOURCE_DATE_EPOCH ?= $(shell git log -1 --format=%ct 2>/dev/null)

all: build

build:
	$(GO) build -o bin/iogate ./cmd/iogate

## test: everything CI checks, in order of cost.
test: deps fmt-check vet lint cross unit

# need_python installs, likewise, the package of each module:package pair
# whose module Debian's python3 cannot import.
define need_python
	@missing=""; \
	for pair in $(1); do \
		mod=$${pair%%:*}; pkg=$${pair#*:}; \
		/usr/bin/python3 -c "import $$mod" 2>/dev/null || missing="$$missing $$pkg"; \
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

## deps: the programs the integration tests start, and those the package test runs.
deps:
	$(call need,socat:socat mosquitto:mosquitto mosquitto_passwd:mosquitto mosquitto_sub:mosquitto-clients ser2net:ser2net mbpoll:mbpoll dpkg-deb:dpkg shellcheck:shellcheck systemd-analyze:systemd chromium:chromium)
	@# The Python peers in Debian's python3: pyserial (the RFC 2217 client) and
	@# pymodbus (the Modbus slaves).
	$(call need_python,serial.rfc2217:python3-serial pymodbus.server:python3-pymodbus)

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
	cd bench && $(GO) run ./cmd/tcpbench -out ../BENCHMARKS.md
	cd bench && $(GO) run ./cmd/soak -out ../BENCHMARKS.md

# release_build builds the static binary for the DIST_ARCHS name in the shell
# variable arch into DIST.
define release_build
	case $$arch in armv6) goarch=arm goarm=6;; armv7) goarch=arm goarm=7;; *) goarch=$$arch goarm=;; esac; \
	echo "build $(DIST)/iogate-$(VERSION)-linux-$$arch"; \
	CGO_ENABLED=0 GOOS=linux GOARCH=$$goarch GOARM=$$goarm $(GO) build -trimpath \
		-ldflags '-s -w -X main.version=$(VERSION)' -o $(DIST)/iogate-$(VERSION)-linux-$$arch ./cmd/iogate
endef

# sums writes DIST/SHA256SUMS for this version's binaries and packages in DIST.
define sums
	cd $(DIST) && sha256sum $$(ls iogate-$(VERSION)-linux-* iogate_$(DEB_VERSION)_*.deb 2>/dev/null) >SHA256SUMS
endef

## dist: static binaries for the Linux boards iogate runs on, and SHA256SUMS.
dist:
	@mkdir -p $(DIST)
	@set -e; for arch in $(DIST_ARCHS); do $(release_build); done
	@$(sums)

## package: a .deb for each of DEB_ARCHS (armhf is ARMv7), made by nfpm from
## the tools module; packaging/README.md says what is in it.
package:
	@mkdir -p $(DIST)
	@set -e; nfpm=$$($(GO) -C tools tool -n nfpm); \
	for deb in $(DEB_ARCHS); do \
		case $$deb in armhf) arch=armv7;; *) arch=$$deb;; esac; \
		$(release_build); \
		echo "package $(DIST)/iogate_$(DEB_VERSION)_$$deb.deb"; \
		SOURCE_DATE_EPOCH=$(SOURCE_DATE_EPOCH) IOGATE_ARCH=$$deb IOGATE_VERSION='$(DEB_VERSION)' \
			IOGATE_BINARY=$(DIST)/iogate-$(VERSION)-linux-$$arch \
			$$nfpm package --config packaging/nfpm.yaml --packager deb --target $(DIST)/iogate_$(DEB_VERSION)_$$deb.deb; \
	done
	@$(sums)

## version: the versions dist and package stamp: VERSION and DEB_VERSION.
version:
	@echo '$(VERSION) $(DEB_VERSION)'
