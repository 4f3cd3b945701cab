# Dynamics in Go: build, test and run the Mobile IPv4 suite.
# `make help` lists the targets.

GO       ?= go
PREFIX   ?= /usr/local
DESTDIR  ?=
FUZZTIME ?= 30s
# BENCHFLAGS are dynbench's, e.g. BENCHFLAGS="-only registration -duration 20s" or "-plot docs/roaming.svg".
BENCHFLAGS ?=
BIN      := bin
VERSION  ?= $(shell git describe --tags --always --dirty 2>/dev/null || echo dev)
LDFLAGS  := -X github.com/dynamics-go/dynamics/libdynamics/version.Version=$(VERSION)

# Every main package under the daemon and tool directories becomes bin/<name>.
CMDS := $(shell $(GO) list -f '{{if eq .Name "main"}}{{.Dir}}{{end}}' ./ha/... ./fa/... ./mn/... ./tools/... 2>/dev/null)

.PHONY: help build test bench fuzz e2e demo lint install clean

help: ## list the targets
	@awk 'BEGIN{FS=":.*## "} /^[a-z][a-z0-9-]*:.*## /{printf "  %-8s %s\n", $$1, $$2}' $(MAKEFILE_LIST)

build: ## build every daemon and tool into bin/
	@mkdir -p $(BIN)
	@for d in $(CMDS); do \
		name=$$(basename $$d); \
		echo "go build -o $(BIN)/$$name $$d"; \
		$(GO) build -trimpath -ldflags "$(LDFLAGS)" -o $(BIN)/$$name $$d || exit 1; \
	done

test: build ## run every test (network namespace tests need root)
	$(GO) vet ./...
	$(GO) test -count=1 -timeout 30m ./...

bench: build ## dynbench (figures against baselines; root for the namespace parts), then the Go benchmarks
	$(BIN)/dynbench -bin $(BIN) $(BENCHFLAGS)
	$(GO) test -run '^$$' -bench . -benchmem -timeout 60m ./...

fuzz: ## run every fuzz target for FUZZTIME (default 30s), one at a time
	@set -e; for pkg in $$($(GO) list ./...); do \
		for f in $$($(GO) test -list '^Fuzz' $$pkg | grep '^Fuzz' || true); do \
			echo "== $$pkg $$f ($(FUZZTIME))"; \
			$(GO) test -run '^$$' -fuzz "^$$f$$" -fuzztime $(FUZZTIME) -fuzzminimizetime 5s $$pkg; \
		done; \
	done

e2e: ## end-to-end roaming test on the namespace testbed (root)
	$(GO) test -count=1 -v ./e2e/

demo: ## the testbed with a mobile node roaming while a ping keeps flowing (root)
	$(MAKE) build
	$(BIN)/dyndemo $(DEMOFLAGS)

lint: ## gofmt check, go vet and staticcheck
	@out=$$(gofmt -l $$(git ls-files '*.go')); if [ -n "$$out" ]; then echo "gofmt would change:"; echo "$$out"; exit 1; fi
	$(GO) vet ./...
	$(GO) run honnef.co/go/tools/cmd/staticcheck@v0.8.2 ./...

install: build ## install binaries and example configs under DESTDIR/PREFIX
	install -d $(DESTDIR)$(PREFIX)/sbin $(DESTDIR)/etc/dynamics
	@for f in $(BIN)/*; do install -m 0755 $$f $(DESTDIR)$(PREFIX)/sbin/; done
	@for f in conf/*.conf; do [ -e "$$f" ] || continue; \
		[ -e $(DESTDIR)/etc/dynamics/$$(basename $$f) ] || install -m 0644 $$f $(DESTDIR)/etc/dynamics/; done

clean: ## remove build output
	rm -rf $(BIN)
