# tenantproxy — see README.md.
SHELL := /bin/bash
GO ?= go
BIN := bin/tenantproxy
VERSION ?= $(shell git describe --tags --always --dirty 2>/dev/null || echo dev)

.PHONY: build demo test vet fmt bench-pgbench bench-sysbench fuzz clean

# go build -v lists each package as it compiles: the first build compiles
# pg_query's C sources (cgo), which takes minutes on a small machine.
build:
	@echo "==> building $(BIN) (a first build compiles the Postgres parser's C code with cgo: a few minutes)"
	@set -o pipefail; $(GO) build -v -ldflags "-X main.version=$(VERSION)" -o $(BIN) ./cmd/tenantproxy 2>&1 | sed -u 's/^/    /'
	@echo "==> built $(BIN)"

# The demo: build, make sure the local PostgreSQL and MariaDB run (starting
# throwaway instances where they are installed but stopped), seed the demo
# tenants, print how to connect, start the proxy.
demo: build
	@echo "==> seeding the demo tenants"
	@$(GO) build -o bin/demo ./cmd/demo && ./bin/demo seed
	./$(BIN) --config configs/demo.yaml

# The whole test suite (needs the local PostgreSQL, MariaDB and Redis).
# Under the race detector the sockets' reads and writes are ordinary
# system calls (see wire/netio), so the raw calls that production builds
# make are run once more without it: netio's own tests and the relay's.
RELAY_TESTS := TestPgbenchThroughProxy|TestPGRelayNoMixupAcrossClients|TestMySQLRelayNoMixupAcrossClients|TestPGLargeResultBoundedMemory|TestMySQLLargeResultBoundedMemory|TestPGCancel$$|TestPGClientVanishesMidTransaction|TestMySQLClientVanishes|TestPGBackendKillPauseRestart|TestMySQLBackendKillPauseRestart|TestMySQLSysbench|TestPGPipeline|TestPGTLS|TestAdversarialPG|TestAdversarialMySQL|TestPGCopy|TestMySQLKillQuery|TestSIGTERMDrains
test: vet
	$(GO) test -race -count=1 -timeout 25m ./...
	$(GO) test -count=1 ./wire/netio/
	cd test && $(GO) test -count=1 -timeout 10m -run '$(RELAY_TESTS)' .

vet:
	@test -z "$$(gofmt -l $$(git ls-files '*.go'))" || (echo "gofmt needed:"; gofmt -l $$(git ls-files '*.go'); exit 1)
	$(GO) vet ./...

bench-pgbench: build
	bash test/bench/pgbench.sh

bench-sysbench: build
	bash test/bench/sysbench.sh

clean:
	rm -rf bin
